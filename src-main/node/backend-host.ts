// What a client API's backend needs of its node: the seam between the Raft node and the APIs
// served from its log. The v2 backend (v2-backend.ts) sits on it; a v3 backend (src-main/v3's
// V3Backend) will sit next to it on the same host, its commands applied from the same log.

import type { NodeClock } from './clock.js';
import type { PeerStats } from './peer-transport.js';
import type { RaftBrief, RaftNodeStatus } from './node-status.js';
import type { ApplyOutcome, NodeStateMachine } from './state-machine.js';
import type { Proposal } from './waiters.js';

export interface BackendHost {
  /** Member and cluster id ('' until the node has started). */
  readonly id: string;
  readonly clusterId: string;
  readonly name: string;
  readonly clock: NodeClock;
  /** The applied state (read only: it changes through the log alone). */
  readonly sm: NodeStateMachine;
  /** When the node started, and since when it knows its current leader (none without one). */
  readonly startTime: Date;
  leaderSince(): Date | undefined;
  /** etcd's append counters (/v2/stats/self). */
  appendCounts(): { recvApp: number; sendApp: number };
  status(): RaftNodeStatus;
  /** Role, term, leader, commit and applied index alone: what a request reads (status() copies much more). */
  brief(): RaftBrief;
  /** Propose and resolve with the outcome of applying it here (RaftUnavailable on timeout). */
  proposeAndWait(make: (r: string) => Proposal): Promise<ApplyOutcome>;
  /** A linearizable read point: resolves once this node has applied the cluster's commit index. */
  readBarrier(): Promise<void>;
  peerStats(id: string): PeerStats;
  /** Hand leadership to member `to` (on the leader; Raft's transfer: it may fail silently). */
  transferLeader(to: string): void;
}
