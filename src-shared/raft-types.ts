// The vocabulary of Raft shared by the core, storage, the nodes, the window and the trace.
// Member ids are opaque strings (etcd prints them as 16 hex digits; the simulator uses "n1").

export type NodeId = string;

/** The state that must be durable before a node answers a vote or acknowledges entries. */
export interface HardState {
  term: number;
  /** Who this node voted for in `term`, or '' for nobody. */
  vote: NodeId;
  commit: number;
}

export type EntryType = 'normal' | 'conf';

/**
 * One log entry. A `normal` entry carries an application command in `data`; an empty `data`
 * is the no-op a new leader appends to commit entries from earlier terms. A `conf` entry
 * carries a JSON-encoded ConfChange (see encodeConfChange).
 */
export interface Entry {
  index: number;
  term: number;
  type: EntryType;
  data: string;
}

/** Single-server membership change, proposed through the log and effective once applied. */
export interface ConfChange {
  type: 'add' | 'remove' | 'update';
  id: NodeId;
  /** Opaque to the core: the application's member record (name, URLs). */
  context?: string;
}

export function encodeConfChange(cc: ConfChange): string {
  return JSON.stringify(cc);
}

export function decodeConfChange(data: string): ConfChange {
  const cc = JSON.parse(data) as ConfChange;
  if (!cc || (cc.type !== 'add' && cc.type !== 'remove' && cc.type !== 'update') || typeof cc.id !== 'string') {
    throw new Error(`malformed conf change entry: ${data.slice(0, 200)}`);
  }
  return cc;
}

/** The voters of the cluster as of some log index. */
export interface ConfState {
  voters: NodeId[];
}

export interface SnapshotMeta {
  index: number;
  term: number;
  conf: ConfState;
}

/** A snapshot of the application's state machine as of `meta.index`. */
export interface Snapshot {
  meta: SnapshotMeta;
  data: string;
}

export type Role = 'follower' | 'precandidate' | 'candidate' | 'leader';

export type MessageType =
  | 'MsgPreVote' // pre-candidate asks: would you vote for me at term+1? (does not disturb terms)
  | 'MsgPreVoteResp'
  | 'MsgVote' // candidate asks for a vote in its term
  | 'MsgVoteResp'
  | 'MsgApp' // leader appends entries after (index, logTerm); also carries commit
  | 'MsgAppResp' // follower: accepted up to `index`, or rejected with a hint
  | 'MsgHeartbeat' // leader is alive; carries commit and an optional read-index context
  | 'MsgHeartbeatResp'
  | 'MsgSnap' // leader installs a snapshot on a follower too far behind
  | 'MsgProp' // follower forwards a client proposal to the leader
  | 'MsgTimeoutNow' // leader transfer: campaign now, ignoring the election timer and leases
  | 'MsgReadIndex' // follower asks the leader for a linearizable read index
  | 'MsgReadIndexResp';

/**
 * A Raft message on the wire. One flat shape, as in etcd's raftpb.Message; which optional
 * fields are set depends on `type` (see MessageType).
 */
export interface Message {
  type: MessageType;
  from: NodeId;
  to: NodeId;
  term: number;
  /** MsgApp: index of the entry before `entries`; MsgAppResp: last matching index; votes: candidate's last index. */
  index?: number;
  /** MsgApp: term of `index`; votes: candidate's last term; rejected MsgAppResp: term at rejectHint. */
  logTerm?: number;
  entries?: Entry[];
  commit?: number;
  reject?: boolean;
  rejectHint?: number;
  snapshot?: Snapshot;
  /** Read-index request id (MsgHeartbeat, MsgReadIndex); 'transfer' on votes caused by MsgTimeoutNow. */
  context?: string;
  /**
   * The app's message id (src-main/node/slow-network.ts): stamped by the sender's worker so that
   * the receiver can report when it stepped this very message in. Raft ignores it.
   */
  id?: number;
}

/** A confirmed linearizable read point: reads for `context` may be served once applied ≥ index. */
export interface ReadState {
  index: number;
  context: string;
}

/** Why a vote (or pre-vote) was refused, in words a viewer understands. */
export type VoteRefusal =
  | 'already-voted'
  | 'log-behind'
  | 'stale-term'
  | 'leader-lease';

/**
 * Everything a viewer would want to see a node do. Emitted by the core in Ready.events;
 * the window, the trace and the status line are all built from these.
 */
export type RaftEvent =
  | { kind: 'role'; role: Role; term: number; lead: NodeId }
  | { kind: 'term'; from: number; to: number }
  | { kind: 'election-timeout'; term: number; pre: boolean }
  | { kind: 'vote'; candidate: NodeId; term: number; pre: boolean; granted: boolean; reason?: VoteRefusal }
  | { kind: 'vote-result'; term: number; pre: boolean; from: NodeId; granted: boolean; votes: number; needed: number }
  | { kind: 'append'; first: number; last: number; term: number }
  | { kind: 'truncate'; from: number }
  | { kind: 'commit'; index: number; term: number }
  | { kind: 'apply'; index: number }
  | { kind: 'conf'; index: number; change: ConfChange; voters: NodeId[] }
  | { kind: 'snapshot-created'; index: number; term: number }
  | { kind: 'snapshot-sent'; to: NodeId; index: number }
  | { kind: 'snapshot-installed'; index: number; term: number; from: NodeId }
  | { kind: 'check-quorum-lost'; term: number; active: number; needed: number }
  | { kind: 'transfer-start'; to: NodeId; term: number }
  | { kind: 'transfer-abort'; to: NodeId; term: number; reason: string }
  | { kind: 'removed'; index: number };

export type RaftEventKind = RaftEvent['kind'];
