// One raftlab node in a worker thread. The supervisor starts one worker per node so that a node
// can be killed abruptly (Worker.terminate: no shutdown code runs, like kill -9) without
// taking the app down, while sharing the app's process (no extra Node binary to ship).
//
// The worker relays what its node does (raft events, peer messages sent, log lines, its state)
// in batches, and obeys the supervisor: clock, link cuts, membership, leader transfer, kv, and
// step mode (held messages reported whole, ticks and deliveries answered once processed).
//
// The messages exchanged with the supervisor are in worker-protocol.ts; this file starts the node
// and handles those messages; worker-calls.ts answers the calls, worker-state.ts and
// worker-summaries.ts make what is reported.

import { isMainThread, parentPort, workerData } from 'node:worker_threads';
import type { Message, RaftEvent } from '../../src-shared/raft-types.js';
import type { BootstrapConfig } from '../node/discovery/bootstrap.js';
import { loadV3Modules, startNode, type RunningNode } from '../node/node-server.js';
import type { RaftNode } from '../node/raft-node.js';
import { SlowNetwork } from '../node/slow-network.js';
import { answerCall, applyClock, stepCall } from './worker-calls.js';
import type {
  CheckpointCall,
  FromWorker,
  HeldReport,
  StepCall,
  ToWorker,
  WorkerInit,
  WorkerItem,
} from './worker-protocol.js';
import { nodeState, TimerAnchor } from './worker-state.js';
import { summarizeHeld, summarizeMessage } from './worker-summaries.js';

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
        if (
          r &&
          (m.call.op === 'setManual' || m.call.op === 'deliver' || m.call.op === 'tick' || m.call.op === 'campaign')
        ) {
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
        const answer = r
          ? answerCall(r, m.call, init.speed, init.settings.clientTLS)
          : Promise.reject(new Error('the node is not running yet'));
        answer.then(
          (result) => killed || post({ t: 'reply', id: m.id, ok: true, result }),
          (err: unknown) =>
            killed ||
            post({ t: 'reply', id: m.id, ok: false, error: err instanceof Error ? err.message : String(err) }),
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
    // Loaded before the node starts, as a node in the window always was: a worker busy loading
    // them just after would answer the window's commands late (raftlab node loads them after
    // its port opens instead: there the start is what is waited for).
    await loadV3Modules();
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
  post({
    t: 'started',
    id: r.node.id,
    clusterId: r.node.clusterId,
    clientURLs: r.clientURLs,
    peerURLs: r.node.peerURLs(),
  });
  queue();
}

/**
 * etcd's bootstrap by discovery or DNS for a member of the app (bootstrap.ts, as `raftlab node`
 * runs it): its lines go to the node's log; a failure is thrown in etcd's words. A member of the
 * app never falls back to a proxy (the app runs extra members itself: cluster-bootstrap.ts).
 */
async function discoverCluster(
  s: WorkerInit['settings'],
  log: (level: string, pkg: string, msg: string) => void,
  signal: AbortSignal,
): Promise<Pick<BootstrapConfig, 'initialCluster' | 'initialClusterToken'>> {
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

if (!isMainThread && parentPort && (workerData as Partial<WorkerInit> | undefined)?.raftlabNodeWorker === true) {
  runWorker().catch((err: unknown) => {
    parentPort!.postMessage({
      t: 'start-failed',
      error: err instanceof Error ? err.message : String(err),
    } satisfies FromWorker);
  });
}
