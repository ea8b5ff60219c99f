// The peer transport's public shapes: what it is given (options) and what it reports (stats).

import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Message } from '../../../src-shared/raft-types.js';
import type { TLSInfo } from '../tls-info.js';

export type LogLevel = 'I' | 'W' | 'E' | 'N';

export interface PeerTransportOptions {
  /** This node's etcd member id (16 hex digits). */
  memberId: string;
  /** The cluster id (hex). '' while a joining node does not know it yet: then nothing is checked. */
  clusterId: string;
  /** e.g. ["http://127.0.0.1:2380"]; port 0 binds an ephemeral port (see boundURLs). https:// needs `tls`. */
  listenURLs: string[];
  /**
   * etcd's PeerTLSInfo: serves the https:// listen URLs, and is presented to peers dialled at
   * https:// URLs (checking theirs). Without it peers are plain HTTP only.
   */
  tls?: TLSInfo;
  /** This node's own clock, ms since the epoch (may be skewed on purpose). */
  clock: () => number;
  log: (level: LogLevel, pkg: string, msg: string) => void;
  /** Messages accepted from peers, in arrival order (per peer: in the order the peer sent them). */
  onMessages: (msgs: Message[]) => void;
  /** Where to reach member `id`; consulted on every request, so membership may change at runtime. */
  peerURLs: (id: string) => string[] | undefined;
  /** Members removed from the cluster: their requests get 410, and we stop talking to them. */
  isRemoved: (id: string) => boolean;
  /**
   * Whether `id` may talk to us: a member, or one being added (in the log, not yet applied).
   * Anyone else gets 404 and nothing of theirs reaches Raft. Default: whoever peerURLs knows.
   */
  isMember?: (id: string) => boolean;
  /** A peer answered 410: WE were removed. Called once. */
  onRemovedFromCluster: () => void;
  /** Serve other paths on the peer port (e.g. GET /members); return true if handled. */
  extraRoutes?: (req: IncomingMessage, res: ServerResponse) => boolean;
  /**
   * The other members, so that idle links are probed too (clock check, active/inactive).
   * Without it only peers we have sent to are probed.
   */
  peerIds?: () => string[];
  /**
   * A link the app has cut on purpose: nothing goes to that peer (messages or probes) and
   * nothing from it is delivered, as if the network between us failed.
   */
  isLinkCut?: (peer: string) => boolean;
  /**
   * The app's slow network (slow-network.ts): every message not cut goes through it, and comes
   * back through `send` when it is due (at once at ×1). Without it messages go out at once.
   */
  outbound?: { submit(msgs: Message[], send: (msgs: Message[]) => void): void };
  /** Told when a batch could not be delivered (e.g. to report a failed MsgSnap). */
  onSendFailed?: (peer: string, msgs: Message[], err: string) => void;
  /** The highest term a message may carry now (raft.ts maxAcceptableTerm of our term). */
  maxTerm?: () => number;
  /** Defaults: 4096 queued messages per peer, probe every 1000 ms, 64 MiB per request body or stream batch (MAX_BATCH_BYTES). */
  maxQueue?: number;
  probeIntervalMs?: number;
  maxBodyBytes?: number;
}

/** etcd's v2 follower latency figures, in milliseconds. */
export interface LatencyStats {
  current: number;
  average: number;
  standardDeviation: number;
  minimum: number;
  maximum: number;
}

export interface PeerStats {
  /** Batches written to the peer's stream / streams that failed to open or broke (etcd's follower counts). */
  success: number;
  fail: number;
  /** Round trips of stream handshakes and probes. */
  latency: LatencyStats;
  sentMsgs: number;
  sentBytes: number;
  recvMsgs: number;
  recvBytes: number;
  /** Messages dropped: queue overflow, failed batches, unknown or removed peer. */
  droppedMsgs: number;
  queued: number;
  active: boolean;
  lastError?: string;
  /** Real time (Date.now) of lastError. */
  lastErrorAt?: number;
  /** Peer's clock minus ours, ms (positive: the peer is ahead). */
  clockDiffMs?: number;
}

/** How PeerTransport.send hands messages on: see there. */
export interface SendOptions {
  flush?: boolean;
  later?: boolean;
}
