// The commands the window sends the supervisor (window → supervisor): one valibot schema per
// command, the Command type inferred from it, and the check every transport makes on arrival.

import * as v from 'valibot';
import { CHAOS_WORKLOADS } from './history.js';
import { Kv3RequestSchema } from './kv3.js';
import { object } from './schema.js';

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
const SERVICE_TEXT =
  'startCluster: discoveryService must be an http(s) URL of a v2 keys API, like http://127.0.0.1:2379';

// Field schemas whose error text names the command and the field, fit for the window.
const NAME = /^[A-Za-z0-9_.-]{1,64}$/;
const nodeName = (cmd: string, key: string) => {
  const text = `${cmd}: "${key}" must be a node name`;
  return v.pipe(v.string(text), v.regex(NAME, text));
};
/** A whole number lo..hi (`safe`: and exact as a JS number). */
const whole = (lo: number, hi: number, text: string, safe = false) =>
  v.pipe(v.number(text), safe ? v.safeInteger(text) : v.integer(text), v.minValue(lo, text), v.maxValue(hi, text));
const range = (lo: number, hi: number, text: string) =>
  v.pipe(v.number(text), v.minValue(lo, text), v.maxValue(hi, text));
const bool = (text: string) => v.boolean(text);
const cmd = <T extends string, E extends v.ObjectEntries>(type: T, entries: E) =>
  object({ type: v.literal(type), ...entries }, 'command must be an object');
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
    (issue) =>
      `kv: key must not have a "${dotSegment(issue.input)}" segment (it would leave /v2/keys): ${JSON.stringify(issue.input).slice(0, 80)}`,
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
          v.check((u) => {
            try {
              return ['http:', 'https:'].includes(new URL(u).protocol);
            } catch {
              return false;
            }
          }, SERVICE_TEXT),
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
            rootPassword: v.optional(
              v.pipe(password('startCluster'), v.minLength(1, 'startCluster: the root password must not be empty')),
            ),
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
    cmd('bootstrapExtra', {
      fallback: v.optional(v.picklist(['exit', 'proxy'] as const, 'bootstrapExtra: fallback must be exit or proxy')),
    }),
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
      query: v.optional(
        v.record(v.string(), v.string('kv: query must map names to strings'), 'kv: query must map names to strings'),
      ),
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
      prefix: v.optional(
        v.pipe(
          v.string('attach: prefix must start with "/"'),
          v.startsWith('/', 'attach: prefix must start with "/"'),
          v.maxLength(300, 'attach: prefix must start with "/"'),
        ),
      ),
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

/**
 * Checks an untrusted command (from a WebSocket or IPC) and returns it typed, or throws with
 * a message fit for the window (the first problem found).
 */
export function parseCommand(raw: unknown): Command {
  const parsed = v.safeParse(CommandSchema, raw, { abortEarly: true });
  if (!parsed.success) throw new Error(parsed.issues[0].message);
  return parsed.output;
}
