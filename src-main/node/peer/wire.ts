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
  constructor(
    readonly kind: string,
    message: string,
    readonly status?: number,
  ) {
    super(message);
  }
}

export function header(req: IncomingMessage, name: string): string {
  const v = req.headers[name];
  return (Array.isArray(v) ? v[0] : v) ?? '';
}

/** A peer's certificate that did not verify, in Go's words (what etcd logs for it). */
const TLS_VERIFY_TEXT: Record<string, string> = {
  UNABLE_TO_VERIFY_LEAF_SIGNATURE: 'x509: certificate signed by unknown authority',
  UNABLE_TO_GET_ISSUER_CERT_LOCALLY: 'x509: certificate signed by unknown authority',
  UNABLE_TO_GET_ISSUER_CERT: 'x509: certificate signed by unknown authority',
  SELF_SIGNED_CERT_IN_CHAIN: 'x509: certificate signed by unknown authority',
  DEPTH_ZERO_SELF_SIGNED_CERT: 'x509: certificate signed by unknown authority',
  CERT_HAS_EXPIRED: 'x509: certificate has expired or is not yet valid',
  CERT_NOT_YET_VALID: 'x509: certificate has expired or is not yet valid',
  ERR_SSL_SSLV3_ALERT_BAD_CERTIFICATE: 'remote error: tls: bad certificate',
  ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED: 'remote error: tls: certificate required',
  ERR_SSL_TLSV1_ALERT_UNKNOWN_CA: 'remote error: tls: unknown certificate authority',
  ERR_SSL_WRONG_VERSION_NUMBER: 'tls: first record does not look like a TLS handshake',
};

export function errText(err: unknown): string {
  if (err instanceof Error) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code && TLS_VERIFY_TEXT[code]) return TLS_VERIFY_TEXT[code];
    // Node's words for a connection the peer closed before answering; Go's http client says EOF.
    if (code === 'ECONNRESET' && err.message === 'socket hang up') return 'EOF';
    return code && !err.message.includes(code) ? `${err.message} (${code})` : err.message;
  }
  return String(err);
}

export function errKind(err: unknown): string {
  return (err as NodeJS.ErrnoException)?.code ?? 'network';
}

/**
 * Reads a peer's answer to its end: `done(status, body)`, or `broke` when the answer breaks off.
 * Error bodies are short: never more than 64 KiB of a misbehaving peer's endless answer is kept.
 */
export function readAnswer(
  res: IncomingMessage,
  done: (status: number, body: string) => void,
  broke: (err: SendError) => void,
): void {
  const chunks: Buffer[] = [];
  let size = 0;
  res.on('data', (c: Buffer) => {
    if (size < 64 * 1024) chunks.push(c);
    size += c.length;
  });
  res.on('error', (e) => broke(new SendError(errKind(e), errText(e))));
  // 'close' without 'end': the connection died mid-answer ('end' comes first otherwise).
  res.on('close', () => broke(new SendError('network', 'connection closed before the answer was complete')));
  res.on('end', () => done(res.statusCode ?? 0, Buffer.concat(chunks).toString('utf8').trim()));
}
