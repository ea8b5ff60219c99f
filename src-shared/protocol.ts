// The one protocol between the supervisor (main process, owns the real nodes) and the window.
// The same JSON-safe shapes travel over Electron IPC and, in browser mode, over the WebSocket
// at /bridge: commands in (each with a request id), batches of events out.
//
// Why batches: a 3-node cluster at a 100 ms heartbeat sends ~60 peer messages a second, a busy
// one thousands. The supervisor coalesces everything it sees and flushes at most every ~16 ms
// (one frame), as one array, with the latest `cluster` snapshot last. The window applies a
// batch per frame and never has to throttle.
//
// This file is the envelope: a CommandRequest in, ServerEvents out. What they carry is in
// commands.ts (the commands and their schema), command-results.ts (what acks carry) and
// cluster-state.ts (the cluster as the window sees it, and the peer messages).

import type { AttachEvent } from './attach.js';
import type { ClusterState, HeldMessage, MessageSummary } from './cluster-state.js';
import type { CommandResult, ForkInfo, WatchLine } from './command-results.js';
import { parseCommand, type Command } from './commands.js';
import type { RaftEvent } from './raft-types.js';

/** A command as sent: `id` comes back in the matching ack or error. */
export interface CommandRequest {
  id: string;
  cmd: Command;
}

/** Why a held message was dropped: by the user, a cut link, or a target not running. */
export type StepDropReason = 'user' | 'cut' | 'down';

/** Why a message in flight never arrived: dropped by the user, or its link was cut meanwhile. */
export type LostReason = 'dropped' | 'cut';

export type ServerEvent =
  /** `at`: real time of the snapshot (the supervisor's flush), so a viewer draws it in order. */
  | { type: 'cluster'; cluster: ClusterState; at?: number }
  /** `at` is real time (Date.now()) when the node produced it; ids inside RaftEvent are member ids. */
  | { type: 'raft'; node: string; at: number; event: RaftEvent }
  /**
   * A message a node sent: `at` when it left, `id` (unique in the app) and `due`, its planned
   * arrival (real ms; later than `at` in slow motion only). A `delivered` with the same id
   * follows when the target really stepped it in, or a `lost`.
   */
  | ({ type: 'message'; at: number; id?: number; due?: number } & MessageSummary)
  | { type: 'delivered'; id: number; from: string; to: string; at: number }
  | { type: 'lost'; id: number; from: string; to: string; at: number; reason: LostReason }
  /** `line` is formatted as etcd prints it, stamped with the node's own (possibly skewed) clock. */
  | { type: 'log'; node: string; at: number; level: string; pkg: string; msg: string; line: string }
  /** A request a node's client port answered (from curl, etcdctl, the window...): `ms` from arrival to answer. */
  | { type: 'client'; node: string; at: number; method: string; path: string; status: number; ms: number }
  /** Something seen on an attached cluster (leader change, member added, key changed...). */
  | { type: 'attach'; at: number; event: AttachEvent }
  /**
   * Step mode: a message was held, delivered or dropped (`at`: real time of that fate). A
   * delivery is also reported as a `message` event, since that is when it goes on the wire.
   */
  | { type: 'step'; fate: 'held' | 'delivered' | 'dropped'; message: HeldMessage; at: number; reason?: StepDropReason }
  /** The session went on from an earlier moment as a new branch (after resumeFrom). */
  | { type: 'fork'; at: number; fork: ForkInfo }
  /** A change (or the end) of a v3 watch the window opened. */
  | ({ type: 'watch'; at: number } & WatchLine)
  | { type: 'ack'; id: string; result?: CommandResult }
  /** A failed command (with its id), or a problem nobody asked about (no id). */
  | { type: 'error'; id?: string; message: string };

export type ServerEventType = ServerEvent['type'];

/** Checks an untrusted { id, cmd } envelope. */
export function parseRequest(raw: unknown): CommandRequest {
  const r = raw as Record<string, unknown> | null;
  if (typeof r !== 'object' || r === null || typeof r.id !== 'string' || r.id.length === 0 || r.id.length > 100) {
    throw new Error('a request is { id: string, cmd: Command }');
  }
  return { id: r.id, cmd: parseCommand(r.cmd) };
}
