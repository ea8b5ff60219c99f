// What the client API (api-v2.ts) needs from a node. RaftNode implements it; the HTTP layer
// only translates between etcd's wire format and these calls.

import type { V2Command, V2Event, V2ReadRequest, V2StoreStats, V2WatchHandle } from './store-v2/types.js';

/** A member as etcd's /v2/members shows it. Unstarted members have name "" and no client URLs. */
export interface MemberInfo {
  id: string;
  name: string;
  peerURLs: string[];
  clientURLs: string[];
  /** A learner (etcd 3.4): replicates the log, does not vote. Absent for a voting member. */
  isLearner?: boolean;
}

/** A members-API failure, answered as etcd does: `{"message": ...}` with this HTTP status. */
export class MemberError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/**
 * A request the cluster could not serve in time (no leader, lost quorum): etcd answers
 * 500 with errorCode 300 "Raft Internal Error" and this cause ("etcdserver: request timed out").
 */
export class RaftUnavailable extends Error {}

/** Raft's view for the X-Raft-* headers and /v2/stats. */
export interface RaftStatus {
  id: string;
  name: string;
  clusterId: string;
  term: number;
  /** Committed index (X-Raft-Index). */
  commit: number;
  leader: string;
  role: 'follower' | 'precandidate' | 'candidate' | 'leader';
  startTime: Date;
  leaderStartTime?: Date;
}

export interface ClientBackend {
  status(): RaftStatus;
  /** The v2 store's index (X-Etcd-Index). */
  storeIndex(): number;
  /** Propose a write through Raft; resolves with the applied event, rejects with V2Error or RaftUnavailable. */
  write(cmd: Omit<V2Command, 'now'>): Promise<V2Event>;
  /** A read: local unless `quorum`, then linearizable (read-index). */
  read(req: V2ReadRequest): Promise<V2Event>;
  /**
   * A local read, at once: what a request checks before it starts, v2 auth's flag. A missing key
   * is null (counted in the store's stats as a failed get, as etcd counts it); other errors throw V2Error.
   */
  lookupLocal(req: Omit<V2ReadRequest, 'quorum'>): V2Event | null;
  /** A one-shot watch on the local store (V2Store.watch semantics). */
  watch(path: string, opts: { recursive: boolean; waitIndex: number }, onEvent: (e: V2Event) => void): V2WatchHandle;
  members(): MemberInfo[];
  /** etcd member add: rejects with MemberError (409 peerURL exists, 500 unhealthy cluster, …). */
  addMember(peerURLs: string[]): Promise<MemberInfo>;
  removeMember(id: string): Promise<void>;
  updateMember(id: string, peerURLs: string[]): Promise<void>;
  storeStats(): V2StoreStats;
  /** etcd's /v2/stats/self JSON. */
  selfStats(): object;
  /** etcd's /v2/stats/leader JSON, or undefined when this node is not the leader. */
  leaderStats(): object | undefined;
  /** True when the node has a leader and can commit (etcd /health checks a quorum GET). */
  health(): Promise<boolean>;
}
