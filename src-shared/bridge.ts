// The window's one door onto the supervisor. Electron's preload exposes exactly this object as
// `window.raftlab` (contextBridge, nothing else); browser mode implements it over the WebSocket.
// Everything crossing it is a protocol.ts shape, checked again on the main side (parseRequest).

import type { CommandRequest, ServerEvent } from './protocol.js';

export interface RaftlabBridge {
  /** Sends one command; its ack or error comes back among the events, with the same id. */
  send(request: CommandRequest): void;
  /** Event batches as the supervisor flushes them; returns an unsubscribe function. */
  onEvents(listener: (batch: ServerEvent[]) => void): () => void;
  /** 'electron' or 'browser': the window says which it runs in. */
  readonly kind: 'electron' | 'browser';
}

/** IPC channel names, shared by main and preload. */
export const IPC = {
  command: 'raftlab:command',
  events: 'raftlab:events',
} as const;
