// The state every part of the Raft core reads and writes, plus its two outputs (send, emit).

import type {
  Entry,
  HardState,
  Message,
  NodeId,
  RaftEvent,
  ReadState,
  Role,
  Snapshot,
} from '../../src-shared/raft-types.js';
import type { RaftLog } from './log.js';
import type { Progress } from './progress.js';

export interface RaftConfig {
  id: NodeId;
  /** Ticks without hearing from a leader before an election (randomized in [e, 2e)). */
  electionTick: number;
  /** Ticks between a leader's heartbeats. */
  heartbeatTick: number;
  /** A seeded source in [0, 1): the only randomness the core uses. */
  random: () => number;
  preVote?: boolean;
  checkQuorum?: boolean;
  /** Most entries in one MsgApp. */
  maxEntriesPerMsg?: number;
  /**
   * Most entry data in one MsgApp (etcd's MaxSizePerMsg, 1 MiB), but always at least one
   * entry: what a peer must buffer per message stays bounded whatever clients write.
   */
  maxBytesPerMsg?: number;
  /** Most unacknowledged appends in flight to one follower. */
  maxInflight?: number;
}

/** What a node restarts from: its durable state. */
export interface RaftBootState {
  hardState: HardState;
  snapshot: Snapshot | null;
  entries: Entry[];
}

/** A proposal could not be accepted; the reason is for the client. */
export class ProposalDropped extends Error {}

/** Who votes, and who only replicates. */
export interface Config {
  voters: NodeId[];
  learners: NodeId[];
}

/** The configuration in force from a conf entry's index on. */
export interface ConfPoint {
  index: number;
  conf: Config;
}

/** A read-index request waiting for a quorum of heartbeat answers. */
export interface PendingRead {
  context: string;
  index: number;
  from: NodeId;
  acks: Set<NodeId>;
}

/** The context of a MsgVote forced by MsgTimeoutNow: it overrides the leader lease. */
export const TRANSFER = 'transfer';

export interface RaftState {
  readonly id: NodeId;
  term: number;
  vote: NodeId;
  role: Role;
  lead: NodeId;
  readonly log: RaftLog;
  readonly cfg: Required<RaftConfig>;

  electionElapsed: number;
  heartbeatElapsed: number;
  randomizedElectionTimeout: number;
  /** Monotonic tick count, for pacing (never for safety). */
  ticks: number;
  votes: Map<NodeId, boolean>;
  progress: Map<NodeId, Progress>;
  leadTransferee: NodeId;
  transferElapsed: number;

  /** The configuration as of the compaction point, then one point per conf entry in the log. */
  baseConf: Config;
  confPoints: ConfPoint[];

  pendingReads: PendingRead[];
  /** Read requests that arrived before this leader committed an entry of its term. */
  deferredReads: { context: string; from: NodeId }[];

  /** What the next Ready hands out. */
  msgs: Message[];
  events: RaftEvent[];
  readStates: ReadState[];
  /** The hard state the last Ready handed out (to tell whether it changed). */
  prevHard: HardState;
  lastEmittedCommit: number;
}

/** Queues `m` from this node. Callers pass a fresh literal: it is stamped in place, not copied (every message passes here). */
export function send(s: RaftState, m: Omit<Message, 'from'>): void {
  const msg = m as Message;
  msg.from = s.id;
  s.msgs.push(msg);
}

export function emit(s: RaftState, e: RaftEvent): void {
  s.events.push(e);
}

/** A 'commit' event, once per advance of the commit index. */
export function emitCommit(s: RaftState): void {
  if (s.log.committed > s.lastEmittedCommit) {
    s.lastEmittedCommit = s.log.committed;
    emit(s, { kind: 'commit', index: s.log.committed, term: s.log.term(s.log.committed) ?? 0 });
  }
}

export function hardState(s: RaftState): HardState {
  return { term: s.term, vote: s.vote, commit: s.log.committed };
}

export function quorum(n: number): number {
  return Math.floor(n / 2) + 1;
}
