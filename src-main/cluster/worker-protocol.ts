// The messages between the supervisor (supervisor.ts) and a node's worker thread (node-worker.ts),
// both ways. What the worker reports is the window's own shapes (src-shared/protocol.ts) with
// member ids where the window has names: the supervisor maps ids to names.

import type { ElectionTimer, HeldMessage, MessageSummary, NodeState } from '../../src-shared/cluster-state.js';
import type { KvResult } from '../../src-shared/command-results.js';
import type { KvMethod } from '../../src-shared/commands.js';
import type { LostReason } from '../../src-shared/protocol.js';
import type { Message, RaftEvent } from '../../src-shared/raft-types.js';
import type { ClientRequestRecord } from '../node/api-v2.js';
import type { MemberInfo } from '../node/client-backend.js';
import type { NodeConfig } from '../node/config/node-config.js';
import type { NodeServerSettings } from '../node/node-server.js';

/**
 * A member bootstrapped by etcd discovery or DNS SRV records instead of an initial cluster: it
 * asks at its first start (as `raftlab node --discovery …` does), and ignores it once its data
 * dir holds a member.
 */
export type WorkerBootstrap = Extract<NodeConfig['bootstrap'], { method: 'discovery' | 'dns' }>;

export interface WorkerInit {
  /** Marks this worker's data, so that merely importing the worker's module never starts anything. */
  raftlabNodeWorker: true;
  /** With clientTLS/peerTLS the node serves https:// URLs (and the worker's own KV requests present the node's key pair). */
  settings: NodeServerSettings & { bootstrap?: WorkerBootstrap };
  clock: { offsetMs: number; rate: number };
  /** Member ids this node must not exchange messages with. */
  cuts: string[];
  logTail: number;
  /** How often to look for state changes when nothing else happens. */
  stateEveryMs: number;
  /** Coalescing window for the batches sent to the supervisor. */
  batchMs: number;
  /** Start in step mode (RaftNode.setManual). */
  manual?: { seed?: number };
  /** The global speed (slow motion; 1 = real time). */
  speed: number;
  /** This worker's message ids are idBase + 1, idBase + 2... (unique across the app). */
  idBase: number;
}

/** A Message reduced to what the window draws; `from`/`to` are member ids (not names yet). */
export type WireMessage = MessageSummary & {
  /** The app's message id (slow-network.ts). */
  id?: number;
};

/** A message Raft emitted in step mode, held for the supervisor (see RaftNode.setManual). */
export interface HeldReport {
  /** Real time when the node emitted it. */
  at: number;
  /** The whole message: delivering it steps exactly this into the target. */
  m: Message;
  /** What the step view shows of it (member ids; the supervisor gives it its held id). */
  s: WireMessage & Pick<HeldMessage, 'entryDetails' | 'candidate'>;
}

/** The answer to a step call: the Raft events of the Readies it caused on that node. */
export interface StepReply {
  events: RaftEvent[];
  /** The node's commit index before the step (to tell a commit that advanced). */
  commitBefore: number;
}

/**
 * A node's state as its worker sees it: the window's NodeState for what the node itself knows
 * (`vote` and `lead` as member ids), with its timer always set and the member list it applied.
 */
export type WorkerNodeState = Pick<
  NodeState,
  | 'id'
  | 'role'
  | 'term'
  | 'vote'
  | 'lead'
  | 'commit'
  | 'applied'
  | 'firstIndex'
  | 'lastIndex'
  | 'clock'
  | 'electionTimeoutMs'
  | 'log'
  | 'peers'
  | 'learner'
  | 'revision'
  | 'leases'
> & {
  timer: ElectionTimer;
  members: MemberInfo[];
};

export type WorkerItem =
  | { k: 'raft'; at: number; e: RaftEvent }
  /** Sent: left at `at`, due to arrive at `due` (real ms). */
  | { k: 'msg'; at: number; due: number; m: WireMessage }
  /** A peer message (by its id) this node just stepped into its Raft. */
  | { k: 'delivered'; at: number; id: number; from: string }
  /** A message of ours that will never arrive. */
  | { k: 'lost'; at: number; id: number; to: string; reason: LostReason }
  /** nodeTime: the node's own clock when it logged (what its log line shows). */
  | { k: 'log'; at: number; nodeTime: number; level: string; pkg: string; msg: string }
  | { k: 'state'; s: WorkerNodeState }
  /** A request to the node's client port, answered (curl, etcdctl, the window's console...). */
  | { k: 'client'; at: number; r: ClientRequestRecord };

export type WorkerCall =
  | { op: 'addMember'; peerURL: string; learner?: boolean }
  | { op: 'removeMember'; id: string }
  /** On the leader (only it knows whether the learner has caught up). */
  | { op: 'promoteMember'; id: string }
  | { op: 'transferLeader'; to: string }
  | { op: 'kv'; method: KvMethod; key: string; value?: string; query?: Record<string, string> }
  /** Drop a message still waiting in this node's slow network; answered whether it was there. */
  | { op: 'dropMessage'; id: number }
  | StepCall
  | CheckpointCall;

/**
 * A consistent cut (src-main/cluster/checkpoints.ts): 'freeze' stops the node's Ready loop and
 * answers with its SQLite file's bytes, taken synchronously; 'thaw' lets it run again.
 */
export type CheckpointCall = { op: 'freeze' } | { op: 'thaw' };

/**
 * Step mode. Answered synchronously, after the node's Ready loop has run and everything it
 * caused (batch of events and state, then any held messages) has been posted.
 */
export type StepCall =
  | { op: 'setManual'; on: boolean; seed?: number }
  | { op: 'deliver'; msgs: Message[] }
  | { op: 'tick' }
  /** The election timer fires now (RaftNode.campaignNow); in real time and in step mode alike. */
  | { op: 'campaign' };

export type ToWorker =
  | { t: 'setClock'; offsetMs?: number; rate?: number }
  | { t: 'speed'; speed: number }
  | { t: 'cuts'; ids: string[] }
  | { t: 'call'; id: number; call: WorkerCall }
  /** Graceful: the node shuts down as on SIGTERM; answered with 'stopped'. */
  | { t: 'stop' }
  /** Abrupt (kill -9): answered with 'killed', after which terminate() is safe. */
  | { t: 'kill' };

export type FromWorker =
  | { t: 'started'; id: string; clusterId: string; clientURLs: string[]; peerURLs: string[] }
  | { t: 'start-failed'; error: string }
  | { t: 'batch'; items: WorkerItem[] }
  /** Step mode: messages the node's Raft emitted, in order, instead of sending them. */
  | { t: 'held'; held: HeldReport[] }
  | { t: 'reply'; id: number; ok: true; result: CallResult }
  | { t: 'reply'; id: number; ok: false; error: string }
  /** The node learned it was removed from the cluster and shut itself down. */
  | { t: 'removed' }
  /** The node stopped on a fatal error (disk full...), after logging etcd's `C` line; then 'killed'. */
  | { t: 'fatal'; error: string }
  | { t: 'stopped' }
  | { t: 'killed' };

/** What a call is answered with (freeze: the database's bytes; dropMessage: whether it was in flight). */
export type CallResult = AddMemberReply | KvResult | StepReply | boolean | Uint8Array | undefined;

export interface AddMemberReply {
  member: MemberInfo;
  /** The members after the add (the new one unstarted: name ''). */
  members: MemberInfo[];
}
