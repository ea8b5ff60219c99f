// What both ends of a peer link agree on: the HTTP paths, headers and bodies of etcd 3.4's
// rafthttp as seen from outside, the stream's Upgrade token, and how failures are named.

import type { IncomingMessage } from 'node:http';

export const PKG = 'rafthttp';
export const VERSION = '3.4.0-raftlab';
export const REQUEST_TIMEOUT_MS = 2_000;
export const REMOVED_BODY = 'the member has been permanently removed from the cluster';
export const CLUSTER_MISMATCH_BODY = 'cluster ID mismatch';
/** The Upgrade token of the message stream. */
export const STREAM_PROTOCOL = 'raftlab-raft-stream';
export const STREAM_PATH = '/raft/stream';

/** Why a request failed; the kind decides whether a new log line is worth it. */
export class SendError extends Error {
  constructor(readonly kind: string, message: string, readonly status?: number) {
    super(message);
  }
}

export function header(req: IncomingMessage, name: string): string {
  const v = req.headers[name];
  return (Array.isArray(v) ? v[0] : v) ?? '';
}

export function errText(err: unknown): string {
  if (err instanceof Error) {
    const code = (err as NodeJS.ErrnoException).code;
    return code && !err.message.includes(code) ? `${err.message} (${code})` : err.message;
  }
  return String(err);
}

export function errKind(err: unknown): string {
  return (err as NodeJS.ErrnoException)?.code ?? 'network';
}
