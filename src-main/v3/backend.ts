// What the v3 gRPC services need from a member, so the same services run on a Raft node (next:
// proposals through the node's log) and on the in-memory single member the tests use.
import type { V3Command } from './command.js';
import type { BackendContext } from './snapshot/etcd-backend.js';
import type { LeaseTimeToLive } from './lease/lessor.js';
import type { LeaseId } from './mvcc/types.js';
import type { V3Result, V3StateMachine } from './state-machine.js';

export interface V3Header {
  cluster_id: string;
  member_id: string;
  raft_term: string;
}

/** Maintenance.Status's answer, less the header. */
export interface V3Status {
  version: string;
  dbSize: number;
  dbSizeInUse: number;
  /** Member id (uint64 as decimal) of the leader, '0' if none. */
  leader: string;
  raftIndex: number;
  raftTerm: number;
  raftAppliedIndex: number;
  isLearner: boolean;
  errors: string[];
}

/** One member as Cluster.MemberList answers (ids as uint64 decimals). */
export interface V3Member {
  ID: string;
  name: string;
  peerURLs: string[];
  clientURLs: string[];
  isLearner: boolean;
}

export interface V3Backend {
  /** The member's applied v3 state: local reads, watches. */
  readonly state: V3StateMachine;
  /** Proposes a command through the log; resolves with its result once applied here. */
  propose(cmd: V3Command): Promise<V3Result>;
  /**
   * Waits until a read here is linearizable (etcd's read index), or returns at once for a
   * serializable read. Throws a V3Error (no leader, timeout) when it cannot.
   */
  readBarrier(serializable: boolean): Promise<void>;
  /** The leader's keep-alive (a member that does not lead forwards it). Not found throws. */
  leaseRenew(id: LeaseId): Promise<number>;
  /** The leader's view of a lease (forwarded likewise). Not found throws. */
  leaseTimeToLive(id: LeaseId, keys: boolean): Promise<LeaseTimeToLive>;
  /**
   * A fresh positive 63-bit id for a grant that gave 0, chosen by the proposer and carried in
   * the command (etcd's IdGenerator of the member: lease/lessor.ts).
   */
  newLeaseId(): LeaseId;
  header(): V3Header;
  status(): V3Status;
  members(): V3Member[];
  /**
   * Cluster changes through the log (ids as uint64 decimals). They throw V3Errors with etcd's
   * texts; a backend without members (the in-memory one) throws Unimplemented.
   */
  memberAdd(peerURLs: string[], isLearner: boolean): Promise<V3Member>;
  memberRemove(id: string): Promise<void>;
  memberUpdate(id: string, peerURLs: string[]): Promise<void>;
  /** etcd's MemberPromote: a learner in sync with the leader becomes a voting member. */
  memberPromote(id: string): Promise<void>;
  /** This member is a learner: etcd serves it only Status and serializable ranges. */
  isLearner(): boolean;
  /**
   * etcd's MoveLeader, on the leader (else "not leader"): leadership goes to member `target`
   * (uint64 decimal), and this resolves once it leads.
   */
  moveLeader(target: string): Promise<void>;
  /** What the backend file holds besides the v3 state (members, the applied index): see snapshot/. */
  backendContext(): BackendContext;
  /** etcd's --quota-backend-bytes, resolved (Infinity: no quota). */
  readonly quotaBytes: number;
}
