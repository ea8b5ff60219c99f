// One raftlab node in a worker thread. The supervisor starts one worker per node so that a node
// can be killed abruptly (Worker.terminate: no shutdown code runs, like kill -9) without
// taking the app down, while sharing the app's process (no extra Node binary to ship).
//
// The worker relays what its node does (raft events, peer messages sent, log lines, its state)
// in batches, and obeys the supervisor: clock, link cuts, membership, leader transfer, kv, and
// step mode (held messages reported whole, ticks and deliveries answered once processed).
//
// The messages exchanged with the supervisor are in worker-protocol.ts.

import https from 'node:https';
import { isMainThread, parentPort, workerData } from 'node:worker_threads';
import type { ElectionTimer, PeerView } from '../../src-shared/cluster-state.js';
import type { KvResult } from '../../src-shared/command-results.js';
import type { Message, RaftEvent } from '../../src-shared/raft-types.js';
import type { MemberInfo } from '../node/client-backend.js';
import type { BootstrapConfig } from '../node/discovery/bootstrap.js';
import { startNode, type RunningNode } from '../node/node-server.js';
import type { RaftNode } from '../node/raft-node.js';
import { SlowNetwork } from '../node/slow-network.js';
import { clientTLSOptions, type TLSInfo } from '../node/tls-info.js';
import { summarizeV3 } from '../v3/command-summary.js';
import { leaseViews } from './v3-views.js';
import type {
  AddMemberReply, CheckpointCall, FromWorker, HeldReport, StepCall, StepReply, ToWorker, WireMessage, WorkerCall, WorkerInit, WorkerItem, WorkerNodeState,
} from './worker-protocol.js';

// ------------------------------------------------------------------ summaries

/** "set /a=1", "no-op", "publish n1", "add 8e9e05c52164694d"... at most ~48 characters. */
export function summarizeEntryData(type: 'normal' | 'conf', data: string): string {
  if (type === 'normal' && data === '') return 'no-op';
  let s: string;
  try {
    const o = JSON.parse(data) as Record<string, unknown>;
    if (type === 'conf') {
      const ctx = typeof o.context === 'string' ? (JSON.parse(o.context) as { member?: MemberInfo }) : undefined;
      s = `${String(o.type)} ${ctx?.member?.name || String(o.id)}`;
    } else if (o.t === 'publish') {
      s = `publish ${String(o.name)}`;
    } else if (o.t === 'v3') {
      s = summarizeV3(o.c);
    } else if (o.t === 'v2') {
      const c = o.c as { op: string; path: string; value?: string; dir?: boolean; space?: string };
      // v2 auth's users and roles: their values (password hashes among them) are not shown.
      if (c.space === 'auth') s = `auth ${c.op} ${c.path}${c.dir ? '/' : ''}`;
      else s = `${c.op} ${c.path}${c.dir ? '/' : c.value !== undefined ? `=${c.value}` : ''}`;
    } else s = data;
  } catch {
    s = data;
  }
  return s.length > 48 ? `${s.slice(0, 47)}…` : s;
}

export function summarizeMessage(m: Message): WireMessage {
  const w: WireMessage = { msgType: m.type, from: m.from, to: m.to, term: m.term };
  if (m.index !== undefined) w.index = m.index;
  if (m.logTerm !== undefined) w.logTerm = m.logTerm;
  if (m.entries !== undefined) w.entries = m.entries.length;
  if (m.commit !== undefined) w.commit = m.commit;
  if (m.reject !== undefined) w.reject = m.reject;
  if (m.snapshot !== undefined) w.snapshot = m.snapshot.meta.index;
  if (m.id !== undefined) w.id = m.id;
  return w;
}

const HELD_ENTRIES_SHOWN = 32;

export function summarizeHeld(m: Message): HeldReport['s'] {
  const s: HeldReport['s'] = summarizeMessage(m);
  if (m.type === 'MsgApp' && m.entries?.length) {
    s.entryDetails = m.entries.slice(0, HELD_ENTRIES_SHOWN).map((e) => ({ index: e.index, term: e.term, type: e.type, data: summarizeEntryData(e.type, e.data) }));
  }
  if (m.type === 'MsgVote' || m.type === 'MsgPreVote') s.candidate = { lastIndex: m.index ?? 0, lastTerm: m.logTerm ?? 0 };
  return s;
}

function stepCall(node: RaftNode, c: StepCall): StepReply | undefined {
  if (c.op === 'setManual') {
    node.setManual(c.on, { seed: c.seed });
    return undefined;
  }
  const commitBefore = node.status().commit;
  const events = c.op === 'deliver' ? node.deliver(c.msgs) : c.op === 'tick' ? node.tickOnce() : node.campaignNow();
  return { events, commitBefore };
}

// ------------------------------------------------------------------ the worker

/** A request to the node's own client port over TLS, presenting the node's own key pair (as etcd's gateway does). */
function httpsText(url: URL, init: { method: string; body?: string; headers?: Record<string, string>; timeoutMs: number }, tlsInfo: TLSInfo | undefined): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = https.request(url, { method: init.method, headers: init.headers, ...(tlsInfo ? clientTLSOptions(tlsInfo) : {}), agent: false });
    const timer = setTimeout(() => req.destroy(new Error(`request to ${url.origin} timed out after ${init.timeoutMs}ms`)), init.timeoutMs);
    req.on('error', (e) => (clearTimeout(timer), reject(e)));
    req.on('response', (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (b: Buffer) => chunks.push(b));
      res.on('error', reject);
      res.on('end', () => (clearTimeout(timer), resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') })));
    });
    req.end(init.body);
  });
}

async function kvRequest(base: string, c: Extract<WorkerCall, { op: 'kv' }>, speed: number, tlsInfo?: TLSInfo): Promise<KvResult> {
  // Each segment encoded: "?", "#", "%" or "\\" in a key are part of the key, not of the URL.
  // ("." and ".." segments are refused by parseCommand; checked again here, where the URL is made.)
  const url = new URL(`/v2/keys${c.key.split('/').map(encodeURIComponent).join('/')}`, base);
  if (url.pathname !== '/v2/keys' && !url.pathname.startsWith('/v2/keys/')) throw new Error(`kv: key ${JSON.stringify(c.key)} leaves /v2/keys`);
  for (const [k, v] of Object.entries(c.query ?? {})) url.searchParams.set(k, v);
  // In slow motion a write takes longer by as much as the cluster is slowed.
  const init: RequestInit = { method: c.method, signal: AbortSignal.timeout(15_000 / speed) };
  if (c.value !== undefined && (c.method === 'PUT' || c.method === 'POST')) {
    init.body = new URLSearchParams({ value: c.value }).toString();
    init.headers = { 'Content-Type': 'application/x-www-form-urlencoded' };
  }
  const { status, text } =
    url.protocol === 'https:'
      ? await httpsText(url, { method: c.method, body: init.body as string | undefined, headers: init.headers as Record<string, string> | undefined, timeoutMs: 15_000 / speed }, tlsInfo)
      : await fetch(url, init).then(async (res) => ({ status: res.status, text: await res.text() }));
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {
    /* not JSON: keep the text */
  }
  return { status, body };
}

async function runWorker(): Promise<void> {
  const port = parentPort!;
  const init = workerData as WorkerInit;
  const post = (m: FromWorker) => port.postMessage(m);
  const cuts = new Set(init.cuts);
  // Every message this node sends goes through it: stamped, delayed in slow motion, reported.
  const network = new SlowNetwork({
    idBase: init.idBase,
    speed: init.speed,
    isCut: (peer) => cuts.has(peer),
    onSent: (m, at, due) => queue({ k: 'msg', at, due, m: summarizeMessage(m) }),
    onLost: (m, reason) => queue({ k: 'lost', at: Date.now(), id: m.id!, to: m.to, reason }),
  });
  const timer = new TimerAnchor();
  let items: WorkerItem[] = [];
  let flushTimer: NodeJS.Timeout | undefined;
  let stateTimer: NodeJS.Timeout | undefined;
  let running: RunningNode | undefined;
  let lastState = '';
  let killed = false;
  /** A kill while the member still asks the discovery service (or DNS) ends the asking. */
  const stopAsking = new AbortController();
  // Step mode: messages held by the node, posted after the batch of the same Readies.
  let held: HeldReport[] = [];
  let stepping = false;

  const flush = () => {
    clearTimeout(flushTimer);
    flushTimer = undefined;
    if (running && !killed) {
      const s = nodeState(running, init, timer);
      const json = JSON.stringify(s);
      if (json !== lastState) {
        lastState = json;
        items.push({ k: 'state', s });
      }
    }
    if (items.length === 0) return;
    const batch = items;
    items = [];
    post({ t: 'batch', items: batch });
  };
  const queue = (item?: WorkerItem) => {
    if (killed) return;
    if (item) items.push(item);
    flushTimer ??= setTimeout(flush, init.batchMs);
  };
  const log = (level: string, pkg: string, msg: string) => {
    const nodeTime = running ? running.node.clock.now() : Date.now() + init.clock.offsetMs;
    queue({ k: 'log', at: Date.now(), nodeTime, level, pkg, msg });
  };
  /**
   * Abrupt, like kill -9: every port closes at once, with no Raft or SQLite shutdown. I/O goes
   * first because terminating a worker while its HTTP parser is handing a message to JS can
   * abort the whole process in Node 20 ("v8::ToLocalChecked Empty MaybeLocal"); the supervisor
   * terminates only after 'killed'.
   */
  const kill = () => {
    killed = true;
    stopAsking.abort();
    clearTimeout(flushTimer);
    clearInterval(stateTimer);
    network.stop();
    void Promise.resolve(running?.abort()).finally(() => post({ t: 'killed' }));
  };
  const postHeld = () => {
    if (killed || held.length === 0) return;
    // The Raft events and state of the Readies that emitted them go first.
    flush();
    post({ t: 'held', held });
    held = [];
  };
  const onHeld = (msgs: Message[]) => {
    const at = Date.now();
    for (const m of msgs) held.push({ at, m, s: summarizeHeld(m) });
    // Outside a step call (a client request, a message from the wire): report on the next turn.
    if (!stepping) setImmediate(postHeld);
  };
  const answerStep = (node: RaftNode, id: number, c: StepCall) => {
    let reply: FromWorker;
    stepping = true;
    try {
      reply = { t: 'reply', id, ok: true, result: stepCall(node, c) };
    } catch (err) {
      reply = { t: 'reply', id, ok: false, error: err instanceof Error ? err.message : String(err) };
    } finally {
      stepping = false;
    }
    // Everything the step caused reaches the supervisor before the answer that it is done.
    flush();
    postHeld();
    post(reply);
  };

  /** Synchronous, right in the message's turn: the cut is taken before anything else runs here. */
  const answerCheckpoint = (node: RaftNode, id: number, c: CheckpointCall) => {
    try {
      if (c.op === 'thaw') {
        node.thaw();
        post({ t: 'reply', id, ok: true, result: undefined });
        return;
      }
      const data = node.freezeAndCheckpoint();
      // Handed over, not copied, when the buffer is its own memory.
      const own = data.byteOffset === 0 && data.byteLength === data.buffer.byteLength;
      const bytes = own ? new Uint8Array(data.buffer) : new Uint8Array(data);
      port.postMessage({ t: 'reply', id, ok: true, result: bytes } satisfies FromWorker, [bytes.buffer as ArrayBuffer]);
    } catch (err) {
      post({ t: 'reply', id, ok: false, error: err instanceof Error ? err.message : String(err) });
    }
  };

  // Listen first: a kill may come while the node is still starting.
  port.on('message', (m: ToWorker) => {
    if (killed) return;
    const r = running;
    switch (m.t) {
      case 'kill':
        kill();
        break;
      case 'stop':
        if (!r) {
          kill();
          break;
        }
        clearInterval(stateTimer);
        void r.stop().finally(() => {
          flush();
          post({ t: 'stopped' });
        });
        break;
      case 'setClock':
        if (r) applyClock(r, m);
        queue();
        break;
      case 'speed':
        init.speed = m.speed;
        network.setSpeed(m.speed);
        r?.node.clock.setSpeed(m.speed);
        queue();
        break;
      case 'cuts':
        cuts.clear();
        for (const id of m.ids) cuts.add(id);
        break;
      case 'call': {
        if (r && (m.call.op === 'setManual' || m.call.op === 'deliver' || m.call.op === 'tick' || m.call.op === 'campaign')) {
          answerStep(r.node, m.id, m.call);
          break;
        }
        if (m.call.op === 'dropMessage') {
          post({ t: 'reply', id: m.id, ok: true, result: network.drop(m.call.id) });
          break;
        }
        if (r && (m.call.op === 'freeze' || m.call.op === 'thaw')) {
          answerCheckpoint(r.node, m.id, m.call);
          break;
        }
        const answer = r ? call(r, m.call, init.speed, init.settings.clientTLS) : Promise.reject(new Error('the node is not running yet'));
        answer.then(
          (result) => killed || post({ t: 'reply', id: m.id, ok: true, result }),
          (err: unknown) => killed || post({ t: 'reply', id: m.id, ok: false, error: err instanceof Error ? err.message : String(err) }),
        );
        break;
      }
    }
  });

  // Discovery or DNS: the initial cluster is asked for first (the member may wait a while there).
  if (init.settings.bootstrap) {
    let failure: string | undefined;
    try {
      const found = await discoverCluster(init.settings, log, stopAsking.signal);
      init.settings.initialCluster = found.initialCluster;
      init.settings.initialClusterToken = found.initialClusterToken;
    } catch (err) {
      failure = err instanceof Error ? err.message : String(err);
    }
    if (killed) return;
    if (failure !== undefined) {
      flush();
      post({ t: 'start-failed', error: failure });
      return;
    }
  }

  let r: RunningNode;
  try {
    r = await startNode(
      {
        ...init.settings,
        isLinkCut: (peer) => cuts.has(peer),
        manual: init.manual,
        onHeld,
        outbound: network,
        onStepped: (msgs) => {
          const at = Date.now();
          for (const m of msgs) if (m.id !== undefined) queue({ k: 'delivered', at, id: m.id, from: m.from });
        },
      },
      log,
      (req) => queue({ k: 'client', at: Date.now(), r: req }),
    );
  } catch (err) {
    if (killed) return;
    // Lines logged while failing explain why; send them before the verdict.
    flush();
    post({ t: 'start-failed', error: err instanceof Error ? err.message : String(err) });
    return;
  }
  running = r;
  if (killed) {
    void r.abort();
    return;
  }
  applyClock(r, init.clock);
  r.node.clock.setSpeed(init.speed);
  // Every message the node really sends is reported by the network (onSent); held ones in
  // step mode are reported by the supervisor when it delivers them.
  r.node.on('raft-event', (e: RaftEvent) => queue({ k: 'raft', at: Date.now(), e }));
  // Clock drift, peer activity and the like change without any event: look now and then.
  stateTimer = setInterval(() => queue(), init.stateEveryMs);
  r.node.once('removed', () => {
    clearInterval(stateTimer);
    // startNode stops the node on 'removed'; report once its ports are closed, so that the
    // supervisor's terminate() finds no socket busy (see kill).
    void r.stop().finally(() => {
      if (killed) return;
      flush();
      post({ t: 'removed' });
    });
  });
  // Disk full and the like: the node has said why (its `C` line) and writes nothing more. It
  // goes down like a killed process, and the supervisor is told why.
  r.node.once('fatal', (text: string) => {
    if (killed) return;
    flush();
    post({ t: 'fatal', error: text });
    kill();
  });
  post({ t: 'started', id: r.node.id, clusterId: r.node.clusterId, clientURLs: r.clientURLs, peerURLs: r.node.peerURLs() });
  queue();
}

/**
 * etcd's bootstrap by discovery or DNS for a member of the app (bootstrap.ts, as `raftlab node`
 * runs it): its lines go to the node's log; a failure is thrown in etcd's words. A member of the
 * app never falls back to a proxy (the app runs extra members itself: cluster-bootstrap.ts).
 */
async function discoverCluster(s: WorkerInit['settings'], log: (level: string, pkg: string, msg: string) => void, signal: AbortSignal): Promise<Pick<BootstrapConfig, 'initialCluster' | 'initialClusterToken'>> {
  // Loaded only here: a statically bootstrapped member's worker starts as fast as before.
  const { BootstrapFailed, resolveBootstrap } = await import('../node/discovery/bootstrap.js');
  const { PROXY_DEFAULTS } = await import('../node/proxy/start-proxy.js');
  const cfg: BootstrapConfig = {
    name: s.name,
    dataDir: s.dataDir,
    bootstrap: s.bootstrap!,
    proxy: { mode: 'off', ...PROXY_DEFAULTS },
    initialAdvertisePeerURLs: s.advertisePeerURLs,
    initialClusterToken: s.initialClusterToken,
    initialClusterString: '',
    initialCluster: s.initialCluster,
  };
  let role: 'member' | 'proxy';
  try {
    role = await resolveBootstrap(cfg, log, { signal });
  } catch (err) {
    if (!(err instanceof BootstrapFailed)) throw err;
    for (const [level, pkg, msg] of err.lines) log(level, pkg, msg);
    throw new Error(err.lines.find(([level]) => level === 'C' || level === 'E')?.[2] ?? err.message, { cause: err });
  }
  if (role === 'proxy') throw new Error('discovery: cluster is full');
  return { initialCluster: cfg.initialCluster, initialClusterToken: cfg.initialClusterToken };
}

function applyClock(r: RunningNode, c: { offsetMs?: number; rate?: number }): void {
  if (c.rate !== undefined) r.node.clock.setRate(c.rate);
  if (c.offsetMs !== undefined) r.node.clock.setOffset(c.offsetMs);
}

async function call(r: RunningNode, c: WorkerCall, speed: number, clientTLS?: TLSInfo): Promise<AddMemberReply | KvResult | StepReply | boolean | undefined> {
  switch (c.op) {
    case 'addMember': {
      const member = await r.node.members.add([c.peerURL], { learner: c.learner === true });
      return { member, members: r.node.members.list() };
    }
    case 'removeMember':
      await r.node.members.remove(c.id);
      return undefined;
    case 'promoteMember':
      await r.node.members.promote(c.id);
      return undefined;
    case 'transferLeader':
      r.node.transferLeader(c.to);
      return undefined;
    case 'kv': {
      const [url] = r.clientURLs;
      if (url === undefined) throw new Error('this node listens on no client URL');
      return kvRequest(url, c, speed, clientTLS);
    }
    case 'dropMessage':
      return false;
    case 'setManual':
    case 'deliver':
    case 'tick':
    case 'campaign':
      return stepCall(r.node, c);
    case 'freeze':
    case 'thaw':
      throw new Error(`${c.op} is answered synchronously`);
  }
}

/**
 * The election timer as reported: re-anchored only when the node's own count departs from what
 * a viewer extrapolates from the last report (a reset, a new timeout, a tick of a stopped clock,
 * a different pace, or a drift of a tick), so a running timer costs no state change per tick.
 */
export class TimerAnchor {
  private last: ElectionTimer | undefined;

  read(elapsedTicks: number, timeout: number, tickMs: number | null, now: number): ElectionTimer {
    // A node that may not campaign (not a voter yet) counts on past its timeout: an empty ring all the same.
    const elapsed = Math.min(elapsedTicks, timeout);
    const a = this.last;
    if (a && a.timeout === timeout && a.tickMs === tickMs) {
      const predicted = Math.min(timeout, a.elapsed + (tickMs === null ? 0 : (now - a.at) / tickMs));
      if (Math.abs(elapsed - predicted) < 1 && elapsed >= a.elapsed) return a;
    }
    this.last = { elapsed, timeout, tickMs, at: now };
    return this.last;
  }
}

function nodeState(r: RunningNode, init: WorkerInit, anchor: TimerAnchor): WorkerNodeState {
  const st = r.node.status({ logTail: init.logTail });
  const members = r.node.members.list();
  const peers: PeerView[] = members
    .filter((m) => m.id !== r.node.id)
    .map((m) => {
      const ps = r.node.peerStats(m.id);
      const p: PeerView = { id: m.id, active: ps.active };
      // Rounded so that jitter of a millisecond or two does not count as a change.
      if (ps.clockDiffMs !== undefined) p.clockDiffMs = Math.round(ps.clockDiffMs / 10) * 10;
      return p;
    });
  const leading = st.role === 'leader';
  return {
    id: r.node.id,
    role: st.role,
    term: st.term,
    vote: st.vote,
    lead: st.lead,
    commit: st.commit,
    applied: st.applied,
    firstIndex: st.firstIndex,
    lastIndex: st.lastIndex,
    clock: { offsetMs: Math.round(r.node.clock.offsetMs), rate: r.node.clock.rate },
    electionTimeoutMs: st.timer.timeout * init.settings.heartbeatMs,
    // A leader's election timer is not drawn: reported still, so that it costs no updates.
    timer: anchor.read(
      leading ? 0 : st.timer.elapsed,
      st.timer.timeout,
      r.node.isManual || leading ? null : Math.round((init.settings.heartbeatMs / r.node.clock.timerRate) * 100) / 100,
      Date.now(),
    ),
    log: st.log.map((e) => ({ index: e.index, term: e.term, type: e.type, data: summarizeEntryData(e.type, e.data) })),
    members,
    peers,
    // Its own entry in the member list it applied: a learner until the promotion is applied.
    ...(members.find((m) => m.id === r.node.id)?.isLearner ? { learner: true } : {}),
    revision: r.node.v3.state.rev(),
    leases: leaseViews(r.node.v3.state, r.node.clock),
  };
}

if (!isMainThread && parentPort && (workerData as Partial<WorkerInit> | undefined)?.raftlabNodeWorker === true) {
  runWorker().catch((err: unknown) => {
    parentPort!.postMessage({ t: 'start-failed', error: err instanceof Error ? err.message : String(err) } satisfies FromWorker);
  });
}
