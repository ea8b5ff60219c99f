// The window's one door onto the supervisor. Electron's preload exposes exactly this object as
// `window.raftlab` (contextBridge, nothing else); browser mode implements it over the WebSocket.
// Everything crossing it is a protocol.ts shape, checked again on the main side (parseRequest).

import type { CommandRequest, ServerEvent } from './protocol.js';

export interface RaftlabBridge {
  /** Sends one command; its ack or error comes back among the events, with the same id. */
  send(request: CommandRequest): void;
  /** Event batches as the supervisor flushes them; returns an unsubscribe function. */
  onEvents(listener: (batch: ServerEvent[]) => void): () => void;
  /**
   * The session trace as recorded so far (docs/trace-format.md), from byte `from` on: at most
   * about `max` bytes of whole lines (more only when one line is longer). The window reads the
   * live session back this way to rewind it, asking each time only for what came since.
   */
  readTrace(from: number, max: number): Promise<TraceChunk>;
  /** 'electron' or 'browser': the window says which it runs in. */
  readonly kind: 'electron' | 'browser';
}

/** A piece of the session trace: whole lines from a byte offset. */
export interface TraceChunk {
  /** Whole lines (each ending in \n), UTF-8 decoded; '' when there is nothing new. */
  text: string;
  /** The byte offset to ask from next time. */
  next: number;
  /** The trace's size in bytes when read (next < size: more to read). */
  size: number;
}

/** Most bytes one readTrace answer carries. */
export const TRACE_CHUNK_MAX = 8 * 1024 * 1024;

/** IPC channel names, shared by main and preload. */
export const IPC = {
  command: 'raftlab:command',
  events: 'raftlab:events',
  readTrace: 'raftlab:read-trace',
} as const;
