// The one protocol between the supervisor (main process, owns the real nodes) and the window.
// The same JSON-safe shapes travel over Electron IPC and, in browser mode, over the WebSocket
// at /bridge: commands in (each with a request id), batches of events out.
//
// Why batches: a 3-node cluster at a 100 ms heartbeat sends ~60 peer messages a second, a busy
// one thousands. The supervisor coalesces everything it sees and flushes at most every ~16 ms
// (one frame), as one array, with the latest `cluster` snapshot last. The window applies a
// batch per frame and never has to throttle.

import type { AttachedView, AttachEvent, SecurityView } from './attach.js';
import { CHAOS_WORKLOADS, type ChaosReport } from './history.js';
import * as v from 'valibot';
import { Kv3RequestSchema } from './kv3.js';
import type { EntryType, MessageType, RaftEvent, Role } from './raft-types.js';
import { object } from './schema.js';

// ------------------------------------------------------------------ commands (window → supervisor)

export const KV_METHODS = ['GET', 'PUT', 'POST', 'DELETE'] as const;
export type KvMethod = (typeof KV_METHODS)[number];

/**
 * What stepRunUntil stops at: a vote (or pre-vote) granted, a node becoming leader, a commit
 * index advancing on any node, an election timeout (a pre-campaign or campaign starting).
 */
export const STEP_UNTIL = ['vote-granted', 'leader', 'commit', 'election-timeout'] as const;
export type StepUntil = (typeof STEP_UNTIL)[number];

export const TRACE_EXPORT_FORMATS = ['jsonl', 'chrome'] as const;
export type TraceExportFormat = (typeof TRACE_EXPORT_FORMATS)[number];

/** etcd's three ways to bootstrap a cluster (the clustering guide's): the window offers each. */
export const BOOTSTRAP_METHODS = ['static', 'discovery', 'dns'] as const;
export type BootstrapMethod = (typeof BOOTSTRAP_METHODS)[number];
const SERVICE_TEXT = 'startCluster: discoveryService must be an http(s) URL of a v2 keys API, like http://127.0.0.1:2379';

// Field schemas whose error text names the command and the field, fit for the window.
const NAME = /^[A-Za-z0-9_.-]{1,64}$/;
const nodeName = (cmd: string, key: string) => {
  const text = `${cmd}: "${key}" must be a node name`;
  return v.pipe(v.string(text), v.regex(NAME, text));
};
/** A whole number lo..hi (`safe`: and exact as a JS number). */
const whole = (lo: number, hi: number, text: string, safe = false) =>
  v.pipe(v.number(text), safe ? v.safeInteger(text) : v.integer(text), v.minValue(lo, text), v.maxValue(hi, text));
const range = (lo: number, hi: number, text: string) => v.pipe(v.number(text), v.minValue(lo, text), v.maxValue(hi, text));
const bool = (text: string) => v.boolean(text);
const cmd = <T extends string, E extends v.ObjectEntries>(type: T, entries: E) => object({ type: v.literal(type), ...entries }, 'command must be an object');
const named = <T extends string>(type: T) => cmd(type, { name: nodeName(type, 'name') });
const link = <T extends string>(type: T) =>
  v.pipe(
    cmd(type, { a: nodeName(type, 'a'), b: nodeName(type, 'b') }),
    v.check((c) => c.a !== c.b, `${type}: a link joins two different nodes`),
  );

/**
 * A kv key names a key under /v2/keys and nothing else: each segment is sent percent-encoded
 * (so "?", "#", "%", "\\" and spaces are parts of the key), but "." and ".." segments would
 * still be resolved by any URL parser on the way, out of the keys API (/v2/keys/../members).
 */
const URLS_TEXT = 'attach: urls must be 1 to 16 client URLs';
/** A file on the machine raftlab runs on (a CA, a client certificate or key), by path. */
const filePath = (cmd: string, key: string) => {
  const text = `${cmd}: ${key} must be a file path (1 to 1024 characters)`;
  return v.optional(v.pipe(v.string(text), v.minLength(1, text), v.maxLength(1024, text)));
};
const userName = (cmd: string) => {
  const text = `${cmd}: user must be 1 to 128 characters`;
  return v.pipe(v.string(text), v.minLength(1, text), v.maxLength(128, text));
};
const password = (cmd: string) => {
  const text = `${cmd}: password must be a string of at most 1024 characters`;
  return v.pipe(v.string(text), v.maxLength(1024, text));
};
const dotSegment = (key: string) => key.split('/').find((s) => s === '.' || s === '..');
const KEY_TEXT = 'kv: key must be a path starting with "/"';
const kvKey = v.pipe(
  v.string(KEY_TEXT),
  v.startsWith('/', KEY_TEXT),
  v.maxLength(1024, KEY_TEXT),
  v.check(
    (key) => dotSegment(key) === undefined,
    (issue) => `kv: key must not have a "${dotSegment(issue.input)}" segment (it would leave /v2/keys): ${JSON.stringify(issue.input).slice(0, 80)}`,
  ),
);

/**
 * Every command the window sends (window → supervisor), checked where it arrives: the type
 * below is inferred from this schema, so what the supervisor is promised is what was checked.
 * Ranges are enforced here so every transport (IPC, WebSocket, a trace's actions) gets them.
 */
export const CommandSchema = v.variant(
  'type',
  [
    /**
     * Throw the current cluster away and start a fresh one of `size` (1..7) members, bootstrapped
     * one of etcd's three ways (BOOTSTRAP_METHODS; static by default). `discovery`: a token of that
     * size in a discovery service: one the app starts (a single raftlab node), or the v2 keys API
     * at `discoveryService` (a real etcd, say). `dns`: SRV records served by dnsmasq on loopback.
     * `oneByOne`: the members are left unstarted, for the user to start one at a time (restartNode).
     */
    cmd('startCluster', {
      size: whole(1, 7, 'startCluster: size must be 1..7'),
      bootstrap: v.optional(v.picklist(BOOTSTRAP_METHODS, 'startCluster: bootstrap must be static, discovery or dns')),
      discoveryService: v.optional(
        v.pipe(
          v.string(SERVICE_TEXT),
          v.maxLength(300, SERVICE_TEXT),
          v.check((u) => { try { return ['http:', 'https:'].includes(new URL(u).protocol); } catch { return false; } }, SERVICE_TEXT),
        ),
      ),
      oneByOne: v.optional(bool('startCluster: oneByOne must be a boolean')),
      /**
       * A secured cluster: the app makes a CA and each member's certificate; client and peer
       * ports serve TLS (https:// URLs). `clientCertAuth`: clients must present a certificate of
       * that CA (--client-cert-auth). `rootPassword`: v3 auth is enabled once the cluster has a
       * leader, with user root (role root) and this password.
       */
      secure: v.optional(
        object(
          {
            clientCertAuth: v.optional(bool('startCluster: secure.clientCertAuth must be a boolean')),
            rootPassword: v.optional(v.pipe(password('startCluster'), v.minLength(1, 'startCluster: the root password must not be empty'))),
          },
          'startCluster: secure must be an object',
        ),
      ),
    }),
    /**
     * A member beyond the discovery size (or, with DNS, one not in the SRV records) tries to
     * bootstrap with the same flags: etcd finds the cluster full and exits, or (`fallback: 'proxy'`,
     * etcd 3.4's default) runs as a v2 proxy in front of the cluster. Answered with an ExtraMember.
     */
    cmd('bootstrapExtra', { fallback: v.optional(v.picklist(['exit', 'proxy'] as const, 'bootstrapExtra: fallback must be exit or proxy')) }),
    /** Abrupt: the node's worker thread is terminated, no shutdown (like kill -9). */
    named('killNode'),
    /** Start a killed (or unstarted) node again, from its data dir. */
    named('restartNode'),
    /** The node's clock: offset from real time (±10 s) and rate (0.25..4, scales its Raft timers). */
    cmd('setClock', {
      name: nodeName('setClock', 'name'),
      offsetMs: v.optional(range(-10_000, 10_000, 'setClock: offsetMs must be within ±10000')),
      rate: v.optional(range(0.25, 4, 'setClock: rate must be 0.25..4')),
    }),
    /**
     * Slow motion: the whole cluster runs `speed` times as fast as real time (1 down to 1/50):
     * every node's timers (× its own clock rate), and every peer message waits in its sender
     * for the flight the window draws. 1 is true real time. See SPEEDS.
     */
    cmd('setSpeed', { speed: range(1 / 50 - 1e-9, 1, 'setSpeed: speed must be 1/50..1') }),
    /** Drop a message in flight (its sender still holds it in slow motion): it never arrives. */
    cmd('dropMessage', { id: whole(1, Number.MAX_SAFE_INTEGER, 'dropMessage: id must be a message id', true) }),
    /** The node's election timer fires now: it campaigns (pre-vote first), as if it timed out. */
    named('timeoutNode'),
    /** Drop every Raft message between a and b, both ways. */
    link('cutLink'),
    link('healLink'),
    cmd('healAll', {}),
    /**
     * etcd's way: `member add` on the cluster (the new member appears unstarted), then start the
     * new node with --initial-cluster-state existing. `start: false` stops after the first step
     * (restartNode starts it later).
     */
    cmd('addMember', {
      start: v.optional(bool('addMember: start must be a boolean')),
      /** etcdctl member add --learner: a member that replicates but does not vote until promoted. */
      learner: v.optional(bool('addMember: learner must be a boolean')),
      peerURL: v.optional(
        v.pipe(
          v.string('addMember: peerURL must be like http://host:port'),
          v.regex(/^https?:\/\/[^\s/]+(:\d+)?\/?$/, 'addMember: peerURL must be like http://host:port'),
        ),
      ),
    }),
    named('removeMember'),
    /** etcdctl member promote: a learner becomes a voting member (asked of the leader). */
    named('promoteMember'),
    cmd('transferLeader', { to: nodeName('transferLeader', 'to') }),
    /** A request to that node's etcd v2 keys API (`/v2/keys<key>`), answered with status + body. */
    cmd('kv', {
      method: v.picklist(KV_METHODS, 'kv: method must be GET, PUT, POST or DELETE'),
      key: kvKey,
      name: nodeName('kv', 'name'),
      value: v.optional(v.string('kv: value must be a string')),
      query: v.optional(v.record(v.string(), v.string('kv: query must map names to strings'), 'kv: query must map names to strings')),
    }),
    /**
     * A request to that node's etcd v3 API, through its /v3 JSON gateway (src-shared/kv3.ts):
     * answered with a KvResult whose body is the gateway's JSON, as `curl` prints it. A watch is
     * answered once created; its changes follow as `watch` events until `unwatch`.
     */
    cmd('kv3', { name: nodeName('kv3', 'name'), request: Kv3RequestSchema }),
    /**
     * Show a cluster raftlab did not start (etcd, or raftlab nodes), watched through its client
     * URLs only; key changes under `prefix` are watched. `detach` returns to the local cluster.
     */
    cmd('attach', {
      urls: v.pipe(
        v.array(v.pipe(v.string(URLS_TEXT), v.maxLength(300, URLS_TEXT)), URLS_TEXT),
        v.minLength(1, URLS_TEXT),
        v.maxLength(16, URLS_TEXT),
      ),
      prefix: v.optional(v.pipe(v.string('attach: prefix must start with "/"'), v.startsWith('/', 'attach: prefix must start with "/"'), v.maxLength(300, 'attach: prefix must start with "/"'))),
      /** For a secured cluster (AttachCredentials): PEM files by path, and a login. */
      caFile: filePath('attach', 'caFile'),
      certFile: filePath('attach', 'certFile'),
      keyFile: filePath('attach', 'keyFile'),
      user: v.optional(userName('attach')),
      password: v.optional(password('attach')),
    }),
    /**
     * The KV console speaks as `user` from now on (etcd's Authenticate, checked at once), on the
     * local or the attached cluster; `logout` ends it.
     */
    cmd('login', { user: userName('login'), password: password('login') }),
    cmd('logout', {}),
    cmd('detach', {}),
    /**
     * Jepsen-style, on the window's own cluster: a fresh cluster of `nodes`, clients doing reads,
     * writes and compare-and-swaps while seeded faults fire for `seconds`, then heal and check
     * (answered with a ChaosReport). `breakOnPurpose`: reads without quorum, to see the checker bite.
     * `workload`: the clients' API (v2 by default, v3, or mixed).
     */
    cmd('chaos', {
      seconds: v.pipe(
        v.unknown(),
        v.check((s) => s !== undefined, 'chaos: seconds is required'),
        whole(1, 600, 'chaos: seconds must be a whole number 1..600'),
      ),
      nodes: v.optional(whole(3, 7, 'chaos: nodes must be a whole number 3..7')),
      seed: v.optional(whole(0, 2 ** 31 - 1, `chaos: seed must be a whole number 0..${2 ** 31 - 1}`)),
      breakOnPurpose: v.optional(bool('chaos: breakOnPurpose must be a boolean')),
      workload: v.optional(v.picklist(CHAOS_WORKLOADS, `chaos: workload must be ${CHAOS_WORKLOADS.join(', ')}`)),
    }),
    /** Write the session trace so far as a file: raftlab's JSONL, or Chrome's trace format (Perfetto). */
    cmd('exportTrace', { format: v.picklist(TRACE_EXPORT_FORMATS, 'exportTrace: format must be "jsonl" or "chrome"') }),
    /**
     * Step mode. On: every node's clock stops (time moves only by stepTick / stepRunUntil) and
     * every peer message a node's Raft emits is held in a queue (ClusterState.step.held) until
     * delivered or dropped. `seed` seeds each node's randomized election timeouts (default: a
     * random seed, shown in ClusterState.step.seed). Nodes restarted or added meanwhile start in
     * step mode. Off: real time again, then the held messages are delivered, oldest first.
     */
    cmd('stepMode', {
      on: bool('stepMode: on must be a boolean'),
      seed: v.optional(whole(0, 0xffffffff, 'stepMode: seed must be an integer 0..4294967295')),
    }),
    /** Deliver one held message (dropped instead if its link is cut or its target is not running). */
    cmd('stepDeliver', { id: whole(1, Infinity, "stepDeliver: id must be a held message's id") }),
    cmd('stepDrop', { id: whole(1, Infinity, "stepDrop: id must be a held message's id") }),
    /** Deliver every message held now, oldest first (the answers they cause are held in turn). */
    cmd('stepDeliverAll', {}),
    /** One tick of that node's clock, or of every running node's (in the cluster's order). */
    cmd('stepTick', { name: v.optional(nodeName('stepTick', 'name')) }),
    /**
     * Step until some node reports an event of that kind, or `maxSteps` (default 1000): each step
     * delivers the oldest held message if there is one, else ticks every running node.
     * Answered with a StepRunResult.
     */
    cmd('stepRunUntil', {
      until: v.picklist(STEP_UNTIL, 'stepRunUntil: until must be vote-granted, leader, commit or election-timeout'),
      maxSteps: v.optional(whole(1, 100_000, 'stepRunUntil: maxSteps must be 1..100000')),
    }),
    /**
     * Stops the stepRunUntil that is going, before its next step (it then answers reached: false,
     * cancelled: true, with the steps it took). Nothing to stop: nothing happens. Turning step
     * mode off and starting a new cluster stop a run too.
     */
    cmd('stepCancel', {}),
    /**
     * Fork: restore every node's durable state from the last checkpoint at or before `at` (wall
     * ms, as trace records' `at`), restart the cluster from it and go on live as a new branch.
     */
    cmd('resumeFrom', { at: range(0, Number.MAX_VALUE, 'resumeFrom: at must be a moment (wall-clock ms)') }),
    /** A consistent checkpoint of every node now (one is also taken before each action). */
    cmd('checkpoint', {}),
    /** The branch tree and the moments one can resume from (a BranchesResult). */
    cmd('branches', {}),
  ],
  (issue) =>
    issue.path ? `unknown command ${JSON.stringify(String(issue.input)).slice(0, 60)}` : 'command must be an object',
);
export type Command = v.InferOutput<typeof CommandSchema>;

export type CommandType = Command['type'];

/** The speeds the window offers: real time, then slow motion. */
export const SPEEDS: readonly number[] = [1, 1 / 2, 1 / 5, 1 / 10, 1 / 20, 1 / 50];
/** Where the app opens: an election takes a few seconds to watch. */
export const LEARNING_SPEED = 1 / 10;
/** "×1/10" */
export function speedText(s: number): string {
  return s >= 1 ? '×1' : `×1/${Math.round(1 / s)}`;
}

/** A command as sent: `id` comes back in the matching ack or error. */
export interface CommandRequest {
  id: string;
  cmd: Command;
}

export interface KvResult {
  status: number;
  /** Parsed JSON when the answer was JSON, else the text. */
  body: unknown;
}

/**
 * One line of a v3 watch the window opened (the `kv3` command's `watch` request), as the
 * gateway streams it: `result` is a WatchResponse in the gateway's JSON (what `curl` prints under
 * "result"); `ended` says why the stream ended (the node went down, the cluster was replaced…).
 */
export interface WatchLine {
  watch: string;
  node: string;
  result?: unknown;
  ended?: string;
}

export interface ExportTraceResult {
  /** Where the file was written (Electron: the Downloads folder). */
  path: string;
  bytes: number;
}

export interface AddMemberResult {
  name: string;
  id: string;
}

export interface StepRunResult {
  reached: boolean;
  /** Steps taken (deliveries and all-node ticks), the last one included. */
  steps: number;
  /** When reached: the node that reported it, and the event (ids inside are member ids). */
  node?: string;
  event?: RaftEvent;
  /** Stopped by stepCancel, step mode going off or a new cluster, before `until` or maxSteps. */
  cancelled?: boolean;
}

/** A fork: the session went on from an earlier moment, on real nodes (a `fork` event and trace record). */
export interface ForkInfo {
  /** The new branch (branches are numbered 1, 2, 3… in a session; 1 is the first). */
  branch: number;
  /** The branch it forked from. */
  parent: number;
  /** The moment resumed from (wall ms): the checkpoint restored, on the parent branch. */
  from: number;
  /** The moment the user asked for (the checkpoint is the last one at or before it). */
  asked: number;
  /** Where the branch that was running when the fork came ends (wall ms, its last checkpoint). */
  leftAt: number;
  /** The branch that was running when the fork came (it ends at `leftAt`). */
  left: number;
}

/** One branch of the session: from its fork point on its parent to its end. */
export interface BranchInfo {
  id: number;
  /** 0 for the first branch. */
  parent: number;
  /** The moment on the parent it starts from (wall ms; the session's start for branch 1). */
  from: number;
  /** When it began running (wall ms). */
  startAt: number;
  /** When it stopped running (wall ms): its last moment; absent for the branch running now. */
  endAt?: number;
}

/** A moment the cluster can be resumed from. */
export interface CheckpointMark {
  at: number;
  branch: number;
}

export interface BranchesResult {
  branches: BranchInfo[];
  checkpoints: CheckpointMark[];
  /** The branch running now. */
  current: number;
}

/** What resumeFrom answers: the fork made. */
export type ResumeResult = ForkInfo;

/** What `checkpoint` answers: its moment, or why none was taken. */
export interface CheckpointResult {
  at?: number;
  skipped?: string;
}

export type CommandResult =
  | KvResult | AddMemberResult | ExtraMember | StepRunResult | ExportTraceResult | ChaosReport | BranchesResult | ResumeResult | CheckpointResult | undefined;

// ------------------------------------------------------------------ state (supervisor → window)

/**
 * unstarted: added to the cluster (or planned) but no process yet; starting: worker booting;
 * alive: serving; killed: terminated (restartable); removed: out of the cluster for good.
 */
export const NODE_STATUSES = ['unstarted', 'starting', 'alive', 'killed', 'removed'] as const;
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

// ------------------------------------------------------------------ events (supervisor → window)

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

/** Why a held message was dropped: by the user, a cut link, or a target not running. */
export type StepDropReason = 'user' | 'cut' | 'down';

/** Why a message in flight never arrived: dropped by the user, or its link was cut meanwhile. */
export type LostReason = 'dropped' | 'cut';

export type ServerEvent =
  /** `at`: real time of the snapshot (the supervisor's flush), so a viewer draws it in order. */
  | { type: 'cluster'; cluster: ClusterState; at?: number }
  /** `at` is real time (Date.now()) when the node produced it; ids inside RaftEvent are member ids. */
  | { type: 'raft'; node: string; at: number; event: RaftEvent }
  /**
   * A message a node sent: `at` when it left, `id` (unique in the app) and `due`, its planned
   * arrival (real ms; later than `at` in slow motion only). A `delivered` with the same id
   * follows when the target really stepped it in, or a `lost`.
   */
  | ({ type: 'message'; at: number; id?: number; due?: number } & MessageSummary)
  | { type: 'delivered'; id: number; from: string; to: string; at: number }
  | { type: 'lost'; id: number; from: string; to: string; at: number; reason: LostReason }
  /** `line` is formatted as etcd prints it, stamped with the node's own (possibly skewed) clock. */
  | { type: 'log'; node: string; at: number; level: string; pkg: string; msg: string; line: string }
  /** A request a node's client port answered (from curl, etcdctl, the window...): `ms` from arrival to answer. */
  | { type: 'client'; node: string; at: number; method: string; path: string; status: number; ms: number }
  /** Something seen on an attached cluster (leader change, member added, key changed...). */
  | { type: 'attach'; at: number; event: AttachEvent }
  /**
   * Step mode: a message was held, delivered or dropped (`at`: real time of that fate). A
   * delivery is also reported as a `message` event, since that is when it goes on the wire.
   */
  | { type: 'step'; fate: 'held' | 'delivered' | 'dropped'; message: HeldMessage; at: number; reason?: StepDropReason }
  /** The session went on from an earlier moment as a new branch (after resumeFrom). */
  | { type: 'fork'; at: number; fork: ForkInfo }
  /** A change (or the end) of a v3 watch the window opened. */
  | ({ type: 'watch'; at: number } & WatchLine)
  | { type: 'ack'; id: string; result?: CommandResult }
  /** A failed command (with its id), or a problem nobody asked about (no id). */
  | { type: 'error'; id?: string; message: string };

export type ServerEventType = ServerEvent['type'];

// ------------------------------------------------------------------ helpers both sides use

/**
 * Checks an untrusted command (from a WebSocket or IPC) and returns it typed, or throws with
 * a message fit for the window (the first problem found).
 */
export function parseCommand(raw: unknown): Command {
  const parsed = v.safeParse(CommandSchema, raw, { abortEarly: true });
  if (!parsed.success) throw new Error(parsed.issues[0].message);
  return parsed.output;
}

/** Checks an untrusted { id, cmd } envelope. */
export function parseRequest(raw: unknown): CommandRequest {
  const r = raw as Record<string, unknown> | null;
  if (typeof r !== 'object' || r === null || typeof r.id !== 'string' || r.id.length === 0 || r.id.length > 100) {
    throw new Error('a request is { id: string, cmd: Command }');
  }
  return { id: r.id, cmd: parseCommand(r.cmd) };
}

/** The leader every alive node agrees on, or undefined (none, or a split view). */
export function agreedLeader(state: ClusterState): NodeState | undefined {
  const alive = state.nodes.filter((n) => n.status === 'alive');
  const [l, ...others] = alive.filter((n) => n.role === 'leader');
  if (!l || others.length > 0) return undefined;
  return alive.every((n) => n.lead === l.name) ? l : undefined;
}
