// The cluster as the window sees it (supervisor → window): every node's state, the links cut,
// step mode's held messages, how the cluster was bootstrapped; and the peer messages drawn.

import type { AttachedView, SecurityView } from './attach.js';
import type { BootstrapMethod } from './commands.js';
import type { EntryType, MessageType, Role } from './raft-types.js';

/**
 * unstarted: added to the cluster (or planned) but no process yet; starting: worker booting;
 * alive: serving; killed: terminated (restartable); removed: out of the cluster for good;
 * unreachable: a member of an attached cluster (attach.ts) whose client endpoint does not answer
 * (refused, TLS rejected, timed out): seen from outside, so whether it crashed, is cut off or only
 * refuses us is unknown, and nothing of ours killed it.
 */
export const NODE_STATUSES = ['unstarted', 'starting', 'alive', 'killed', 'removed', 'unreachable'] as const;
export type NodeStatus = (typeof NODE_STATUSES)[number];

export interface LogEntrySummary {
  index: number;
  term: number;
  type: EntryType;
  /** A short human text: "set /a=1", "no-op", "publish n1", "add n4"... */
  data: string;
}

export interface PeerView {
  /** The peer's member id. */
  id: string;
  /** The peer transport's view: the last exchange succeeded. */
  active: boolean;
  /** Peer's clock minus this node's, ms (positive: the peer is ahead). */
  clockDiffMs?: number;
}

export interface NodeState {
  name: string;
  /** Member id (16 hex digits); '' until known. */
  id: string;
  status: NodeStatus;
  /** Raft's view; as last seen for a node that is not alive. */
  role: Role;
  term: number;
  /** Name of the member voted for in `term` ('' for none; the raw id if the name is unknown). */
  vote: string;
  /** Name of the leader this node follows ('' for none; the raw id if the name is unknown). */
  lead: string;
  commit: number;
  applied: number;
  firstIndex: number;
  lastIndex: number;
  clientURL: string;
  peerURL: string;
  dataDir: string;
  clock: { offsetMs: number; rate: number };
  /**
   * This term's randomized election timeout and the tick length, in the node's own clock ms
   * (what etcd's flags say; the window draws the timer from `timer`, in ticks).
   */
  electionTimeoutMs: number;
  heartbeatMs: number;
  /**
   * The election timer as the node's Raft counts it: `elapsed` of `timeout` ticks at real time
   * `at`, and the real ms a tick takes now (null while the clock is stopped: step mode). A
   * viewer moves the timer only between ticks, at that pace; a stopped clock is a still timer.
   */
  timer?: ElectionTimer;
  /** The last few entries of its log, oldest first. */
  log: LogEntrySummary[];
  peers: PeerView[];
  /**
   * A learner (etcd 3.4 `member add --learner`): replicates the log but does not vote, until
   * promoted. From the Raft configuration the node has applied; absent for a voting member
   * (and in traces older than learners).
   */
  learner?: boolean;
  /** The v3 store's revision (etcd's header revision): every v3 write moves it on. */
  revision?: number;
  /**
   * The v3 leases this member knows (granted through the log). Only the leader counts them down
   * (etcd's primary lessor): there `expiresAt` is when it will expire, in real ms; when it does,
   * the leader proposes its revoke, and the lease is gone once that entry applies.
   */
  leases?: LeaseView[];
}

export interface LeaseView {
  /** As etcdctl prints it: 16 hex digits. */
  id: string;
  /** Granted TTL, seconds. */
  ttl: number;
  /** Real ms (Date.now()) when it expires: on the leader only. */
  expiresAt?: number;
  /** Keys attached. */
  keys: number;
}

export interface ElectionTimer {
  elapsed: number;
  timeout: number;
  tickMs: number | null;
  at: number;
}

export interface CutLink {
  a: string;
  b: string;
}

export interface ClusterState {
  /** The session folder holding every node's data dir. */
  dir: string;
  /** Changes whenever startCluster starts a fresh cluster; negative (and new per attach) for an attached one. */
  generation: number;
  nodes: NodeState[];
  cuts: CutLink[];
  /**
   * Set when the window shows an attached cluster: what the observer sees from outside. Fields
   * of NodeState that cannot be seen from outside (votes, logs, timers, clocks) stay neutral.
   */
  attached?: AttachedView;
  /** Step mode, from the supervisor (always set there). */
  step?: StepState;
  /** The global speed (1 = real time; see the setSpeed command). */
  speed?: number;
  /** How this cluster was bootstrapped, when not statically: the discovery directory or the SRV records. */
  bootstrap?: BootstrapView;
  /** TLS, client certificates, auth and the KV console's login, when any (never a secret). */
  security?: SecurityView;
}

/**
 * A cluster bootstrapped by etcd discovery or DNS SRV records, as the window shows it: what each
 * member was told (`flags`), and what it found there.
 */
export interface BootstrapView {
  method: Exclude<BootstrapMethod, 'static'>;
  /** The etcd flags every member got instead of --initial-cluster, as typed on a command line. */
  flags: string;
  /** discovery: the token's directory (the --discovery URL). */
  url?: string;
  /** discovery: who serves it ("a raftlab node the app started", or the user's URL). */
  service?: string;
  /** discovery: the token's _config/size. */
  size?: number;
  /** discovery: the registrations in the directory, in creation order (the first `size` form the cluster). */
  registrations?: Registration[];
  /** dns: the domain (--discovery-srv), the DNS server on loopback, and its SRV records. */
  domain?: string;
  dnsServer?: string;
  records?: SrvRecordView[];
  /** Members that came after the cluster was full (or are not in the records), and what became of them. */
  extras: ExtraMember[];
}

export interface Registration {
  /** The member id the key is named after (16 hex digits). */
  id: string;
  /** `name=peerURL`, as the member wrote it. */
  value: string;
  createdIndex: number;
}

export interface SrvRecordView {
  /** `_etcd-server._tcp.<domain>` */
  service: string;
  target: string;
  port: number;
}

/** A member that bootstrapped after the cluster was formed: etcd's outcome for it. */
export interface ExtraMember {
  name: string;
  /** trying: still asking; exited: refused (etcd's message in `reason`); proxy: serving as a v2 proxy at clientURL. */
  outcome: 'trying' | 'exited' | 'proxy';
  reason?: string;
  clientURL?: string;
}

export interface StepState {
  on: boolean;
  /** The seed of this step-mode session (each node's source derives from it and its name). */
  seed?: number;
  /** Messages emitted but not yet delivered, oldest first. */
  held: HeldMessage[];
}

/** One real peer message, as the sender handed it to its transport (cut links excluded). */
export interface MessageSummary {
  /** Member names (raw ids if unknown). */
  from: string;
  to: string;
  msgType: MessageType;
  term: number;
  index?: number;
  logTerm?: number;
  /** Number of entries carried (MsgApp, MsgProp). */
  entries?: number;
  commit?: number;
  reject?: boolean;
  /** MsgSnap: the snapshot's index. */
  snapshot?: number;
}

/** A message held in step mode: what its sender's Raft really emitted, with ids stable per cluster. */
export interface HeldMessage extends MessageSummary {
  /** 1, 2, 3... within a cluster (a fresh startCluster starts again at 1). */
  id: number;
  /** MsgApp: the entries carried (at most the first 32; `entries` counts them all). */
  entryDetails?: LogEntrySummary[];
  /** MsgVote / MsgPreVote: the candidate's last log index and term (what voters compare). */
  candidate?: { lastIndex: number; lastTerm: number };
}

/** The leader every alive node agrees on, or undefined (none, or a split view). */
export function agreedLeader(state: ClusterState): NodeState | undefined {
  const alive = state.nodes.filter((n) => n.status === 'alive');
  const [l, ...otherLeaders] = alive.filter((n) => n.role === 'leader');
  if (l === undefined || otherLeaders.length > 0) return undefined;
  return alive.every((n) => n.lead === l.name) ? l : undefined;
}
