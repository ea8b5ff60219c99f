// The vocabulary of Raft shared by the core, storage, the nodes, the window and the trace.
// Member ids are opaque strings (etcd prints them as 16 hex digits; the simulator uses "n1").
//
// What crosses a trust boundary (a peer's message, a snapshot, what storage reads back) is
// declared once, as a valibot schema, and its TypeScript type is inferred from it: the check
// and the type cannot drift apart. The schemas check shape and the static bounds; what depends
// on the receiver (its term, who is on the link) is checked where it is known
// (src-main/node/peer/codec.ts).

import * as v from 'valibot';
import { object } from './schema.js';

export type NodeId = string;

/**
 * The highest index (and term, but see raft.ts maxAcceptableTerm) a message may carry: 2^52,
 * far beyond any honest cluster, and still exact (with room to count) as a JS number.
 */
export const MAX_TERM_OR_INDEX = 2 ** 52;

/** A whole number ≥ 0 that a JS number holds exactly; `message` is what a bad one is called. */
export function countSchema(message: string) {
  return v.pipe(v.number(message), v.safeInteger(message), v.minValue(0, message));
}

/** A log index (or commit, hint) as a peer may send it: a count up to MAX_TERM_OR_INDEX. */
export function indexSchema(message: string) {
  return v.pipe(
    v.number(message),
    v.safeInteger(message),
    v.minValue(0, message),
    v.maxValue(MAX_TERM_OR_INDEX, message),
  );
}

/** The state that must be durable before a node answers a vote or acknowledges entries. */
export interface HardState {
  term: number;
  /** Who this node voted for in `term`, or '' for nobody. */
  vote: NodeId;
  commit: number;
}

export const ENTRY_TYPES = ['normal', 'conf'] as const;
export type EntryType = (typeof ENTRY_TYPES)[number];

/**
 * One log entry. A `normal` entry carries an application command in `data`; an empty `data`
 * is the no-op a new leader appends to commit entries from earlier terms. A `conf` entry
 * carries a JSON-encoded ConfChange (see encodeConfChange).
 */
export const EntrySchema = object(
  {
    index: indexSchema('bad entry'),
    term: countSchema('bad entry'),
    type: v.picklist(ENTRY_TYPES, 'bad entry'),
    data: v.string('bad entry'),
  },
  'bad entry',
);
export type Entry = v.InferOutput<typeof EntrySchema>;

/**
 * Single-server membership change, proposed through the log and effective once appended.
 * 'add-learner' adds a learner (etcd-io/raft's ConfChangeAddLearnerNode): it replicates the log
 * but does not vote or count for quorum; an 'add' of a learner promotes it to a voter.
 */
export interface ConfChange {
  type: 'add' | 'add-learner' | 'remove' | 'update';
  id: NodeId;
  /** Opaque to the core: the application's member record (name, URLs). */
  context?: string;
}

export function encodeConfChange(cc: ConfChange): string {
  return JSON.stringify(cc);
}

export function decodeConfChange(data: string): ConfChange {
  const cc = JSON.parse(data) as ConfChange;
  if (!cc || !['add', 'add-learner', 'remove', 'update'].includes(cc.type) || typeof cc.id !== 'string') {
    throw new Error(`malformed conf change entry: ${data.slice(0, 200)}`);
  }
  return cc;
}

/** The voters (and learners, if any) of the cluster as of some log index. */
export const ConfStateSchema = object(
  {
    voters: v.array(v.string('bad snapshot'), 'bad snapshot'),
    learners: v.optional(v.array(v.string('bad snapshot'), 'bad snapshot')),
  },
  'bad snapshot',
);
export type ConfState = v.InferOutput<typeof ConfStateSchema>;

export const SnapshotMetaSchema = object(
  { index: indexSchema('bad snapshot'), term: countSchema('bad snapshot'), conf: ConfStateSchema },
  'bad snapshot',
);
export type SnapshotMeta = v.InferOutput<typeof SnapshotMetaSchema>;

/** A snapshot of the application's state machine as of `meta.index`. */
export const SnapshotSchema = object({ meta: SnapshotMetaSchema, data: v.string('bad snapshot') }, 'bad snapshot');
export type Snapshot = v.InferOutput<typeof SnapshotSchema>;

export const ROLES = ['follower', 'precandidate', 'candidate', 'leader'] as const;
export type Role = (typeof ROLES)[number];

/** Every message type, once: MessageType is derived from this list, and peers are checked against it. */
export const MESSAGE_TYPES = [
  'MsgPreVote', // pre-candidate asks: would you vote for me at term+1? (does not disturb terms)
  'MsgPreVoteResp',
  'MsgVote', // candidate asks for a vote in its term
  'MsgVoteResp',
  'MsgApp', // leader appends entries after (index, logTerm); also carries commit
  'MsgAppResp', // follower: accepted up to `index`, or rejected with a hint
  'MsgHeartbeat', // leader is alive; carries commit and an optional read-index context
  'MsgHeartbeatResp',
  'MsgSnap', // leader installs a snapshot on a follower too far behind
  'MsgProp', // follower forwards a client proposal to the leader
  'MsgTimeoutNow', // leader transfer: campaign now, ignoring the election timer and leases
  'MsgReadIndex', // follower asks the leader for a linearizable read index
  'MsgReadIndexResp',
] as const;
export type MessageType = (typeof MESSAGE_TYPES)[number];

/**
 * A Raft message on the wire. One flat shape, as in etcd's raftpb.Message; which optional
 * fields are set depends on `type` (see MESSAGE_TYPES). Each field's error text is what a
 * refused peer batch is answered with (400 "error reading raft message (…)").
 */
export const MessageSchema = object(
  {
    type: v.picklist(MESSAGE_TYPES, (issue) => `unknown message type ${String(issue.input).slice(0, 40)}`),
    from: v.pipe(v.string('message without from'), v.minLength(1, 'message without from')),
    to: v.string('message without to'),
    term: countSchema('bad term'),
    /** MsgApp: index of the entry before `entries`; MsgAppResp: last matching index; votes: candidate's last index. */
    index: v.optional(indexSchema('bad index')),
    /** MsgApp: term of `index`; votes: candidate's last term; rejected MsgAppResp: term at rejectHint. */
    logTerm: v.optional(countSchema('bad logTerm')),
    entries: v.optional(v.array(EntrySchema, 'bad entries')),
    commit: v.optional(indexSchema('bad commit')),
    reject: v.optional(v.boolean('bad reject')),
    rejectHint: v.optional(indexSchema('bad rejectHint')),
    snapshot: v.optional(SnapshotSchema),
    /** Read-index request id (MsgHeartbeat, MsgReadIndex); 'transfer' on votes caused by MsgTimeoutNow. */
    context: v.optional(v.string('bad context')),
    /**
     * The app's message id (src-main/node/slow-network.ts): stamped by the sender's worker so that
     * the receiver can report when it stepped this very message in. Raft ignores it.
     */
    id: v.optional(countSchema('bad id')),
  },
  'message is not an object',
);
export type Message = v.InferOutput<typeof MessageSchema>;

/** A confirmed linearizable read point: reads for `context` may be served once applied ≥ index. */
export interface ReadState {
  index: number;
  context: string;
}

/** Why a vote (or pre-vote) was refused, in words a viewer understands. */
export type VoteRefusal = 'already-voted' | 'log-behind' | 'stale-term' | 'leader-lease';

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
  /**
   * `learners`: absent when there are none. `promoted`: the change is an 'add' of a member that
   * was a learner (etcd's promote), absent otherwise.
   */
  | { kind: 'conf'; index: number; change: ConfChange; voters: NodeId[]; learners?: NodeId[]; promoted?: true }
  | { kind: 'snapshot-created'; index: number; term: number }
  | { kind: 'snapshot-sent'; to: NodeId; index: number }
  | { kind: 'snapshot-installed'; index: number; term: number; from: NodeId }
  | { kind: 'check-quorum-lost'; term: number; active: number; needed: number }
  | { kind: 'transfer-start'; to: NodeId; term: number }
  | { kind: 'transfer-abort'; to: NodeId; term: number; reason: string }
  | { kind: 'removed'; index: number };

export type RaftEventKind = RaftEvent['kind'];
