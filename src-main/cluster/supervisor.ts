// The app's headless core: runs a real cluster, one worker thread per node, on loopback ports
// with data dirs in a session folder, and turns what the nodes do into the window's protocol
// (src-shared/protocol.ts). It carries out the window's commands the way an operator would do
// them with etcd: kill -9, restart from the data dir, member add then start, member remove.
//
// Everything the workers report is queued and flushed as one batch at most every ~16 ms, with
// a fresh `cluster` snapshot at the end whenever any node's state changed.

import { freePorts } from '../net/free-ports.js';
import { EventEmitter } from 'node:events';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { Worker } from 'node:worker_threads';
import {
  agreedLeader,
  type AddMemberResult, type ClusterState, type Command, type CommandRequest, type CommandResult, type ForkInfo, type KvResult, type NodeState, type NodeStatus, type ServerEvent,
} from '../../src-shared/protocol.js';
import { clockTime } from '../../src-shared/narrate.js';
import { Checkpoints, type Checkpoint, type CheckpointOptions, type CutHost, type NodeSpec } from './checkpoints.js';
import { memberId } from '../node/ids.js';
import { formatLogLine, type LogLevel } from '../node/log.js';
import type { AddMemberReply, FromWorker, ToWorker, WorkerCall, WorkerInit, WorkerItem, WorkerNodeState } from './worker-protocol.js';
import { StepController } from './step-controller.js';

export interface SupervisorOptions {
  /** Session folder (kept on stop). Default: a new temp folder, removed on stop. */
  dir?: string;
  /** etcd's --heartbeat-interval / --election-timeout; defaults 100 / 1000 ms as in etcd. */
  heartbeatMs?: number;
  electionMs?: number;
  /** Applied entries between snapshots; small by default so that snapshots are seen. */
  snapshotCount?: number;
  snapshotCatchUpEntries?: number;
  /** Coalescing window for event batches (default 16 ms, one frame). */
  flushMs?: number;
  /** Log entries shown per node (default 20). */
  logTail?: number;
  /**
   * The global speed the cluster starts at (default 1: real time; the app opens at
   * LEARNING_SPEED). See the setSpeed command.
   */
  speed?: number;
  /** Checkpoints for resumeFrom (kept in `<dir>/checkpoints`), bounded so; false: none. */
  checkpoints?: CheckpointOptions | false;
}

/** A node as the supervisor runs it: what it takes to start it again (NodeSpec), and its worker. */
interface NodeRecord extends NodeSpec {
  worker?: Worker;
  state?: WorkerNodeState;
  calls: Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>;
  /** Told when the worker answers 'stopped' / 'killed', or exits. */
  downWaiters: (() => void)[];
  /** The message ids of the current worker start above this (see spawn). */
  idBase: number;
}

/** Message ids per worker start: room for 2^32 messages each, 2^21 starts stay safe integers. */
const IDS_PER_SPAWN = 2 ** 32;

type Pending = { resolve: (v: unknown) => void; reject: (e: Error) => void };

export class Supervisor extends EventEmitter {
  readonly dir: string;
  private readonly ownsDir: boolean;
  private readonly opts: Required<Omit<SupervisorOptions, 'dir' | 'speed' | 'checkpoints'>>;
  /** The global speed (setSpeed). */
  private speed: number;
  /** Worker starts so far: each gets its own block of message ids. */
  private spawns = 0;
  /** Consistent cuts of the nodes' durable state, and the branches forked from them. */
  readonly checkpoints: Checkpoints | undefined;
  private resuming = false;
  /** Step commands running: a cut must not slip in between a step and its answer. */
  private stepping = 0;
  private nodes = new Map<string, NodeRecord>();
  /** Cut links as "a|b" with a < b. */
  private cuts = new Set<string>();
  private generation = 0;
  private pending: ServerEvent[] = [];
  private dirty = false;
  private flushTimer?: NodeJS.Timeout;
  private callSeq = 0;
  /** The last Raft events and log lines, for windows that connect late (see greeting). */
  private recent: ServerEvent[] = [];
  private stopped = false;
  /** Workers this supervisor is ending itself (shutdown): their exit is not "unexpected". */
  private readonly endedOnPurpose = new WeakSet<Worker>();
  /** Step mode: the cluster's clock and network while it is on (step-controller.ts). */
  private readonly step = new StepController({
    nodes: () => [...this.nodes.values()].map((r) => ({ name: r.name, id: r.id, status: r.status, running: r.worker !== undefined })),
    call: (name, c) => this.call(this.node(name), c),
    isCut: (a, b) => this.cuts.has([a, b].sort().join('|')),
    nameOf: (id) => this.nameOf(id),
    queue: (e) => this.queue(e),
    changed: () => this.markDirty(),
  });

  constructor(options: SupervisorOptions = {}) {
    super();
    this.ownsDir = options.dir === undefined;
    this.dir = options.dir ?? fs.mkdtempSync(path.join(os.tmpdir(), 'raftlab-session-'));
    fs.mkdirSync(this.dir, { recursive: true });
    this.opts = {
      heartbeatMs: options.heartbeatMs ?? 100,
      electionMs: options.electionMs ?? 1000,
      snapshotCount: options.snapshotCount ?? 1000,
      snapshotCatchUpEntries: options.snapshotCatchUpEntries ?? 100,
      flushMs: options.flushMs ?? 16,
      logTail: options.logTail ?? 20,
    };
    this.speed = options.speed ?? 1;
    this.checkpoints = options.checkpoints === false ? undefined : new Checkpoints(path.join(this.dir, 'checkpoints'), options.checkpoints);
  }

  // ------------------------------------------------------------------ public API

  /** Start a fresh cluster of `size` nodes (replacing any current one); resolves once all serve. */
  async start(size = 3): Promise<void> {
    await this.execute({ type: 'startCluster', size });
  }

  /** etcd's --heartbeat-interval and --election-timeout of this cluster's nodes, ms. */
  get timing(): { heartbeatMs: number; electionMs: number } {
    return { heartbeatMs: this.opts.heartbeatMs, electionMs: this.opts.electionMs };
  }

  /** Resolves true once the running nodes agree on a leader, false after `timeoutMs`. */
  async waitForLeader(timeoutMs: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline && !this.stopped) {
      if (agreedLeader(this.snapshot())) return true;
      await sleep(50);
    }
    return false;
  }

  /** Run a command and report the outcome as an `ack` or `error` event with the request's id. */
  async handle(req: CommandRequest): Promise<void> {
    try {
      const result = await this.execute(req.cmd);
      this.queue(result === undefined ? { type: 'ack', id: req.id } : { type: 'ack', id: req.id, result });
    } catch (err) {
      this.queue({ type: 'error', id: req.id, message: errText(err) });
    }
  }

  /** Run a command; rejects with a message fit for the window. */
  async execute(cmd: Command): Promise<CommandResult> {
    if (this.stopped) throw new Error('the supervisor is stopped');
    // Before each action, the moment it changes: the user can come back to just before it.
    if (BEFORE_ACTION.has(cmd.type) && !(cmd.type === 'kv' && cmd.method === 'GET') && this.stepping === 0) {
      await this.checkpoint(`before ${cmd.type}`).catch(() => undefined);
    }
    switch (cmd.type) {
      case 'startCluster':
        return this.startCluster(cmd.size);
      case 'killNode': {
        const rec = this.node(cmd.name);
        if (!rec.worker || rec.status === 'removed') throw new Error(`${rec.name} is not running`);
        rec.status = 'killed';
        this.markDirty();
        await this.shutdown(rec, 'kill');
        return undefined;
      }
      case 'restartNode': {
        const rec = this.node(cmd.name);
        if (rec.status !== 'killed' && rec.status !== 'unstarted') throw new Error(`${rec.name} is ${rec.status}, not killed`);
        if (rec.worker) throw new Error(`${rec.name} is still shutting down`);
        await this.spawn(rec);
        return undefined;
      }
      case 'setClock': {
        const rec = this.node(cmd.name);
        if (rec.status === 'removed') throw new Error(`${rec.name} was removed`);
        if (cmd.offsetMs !== undefined) rec.clock.offsetMs = cmd.offsetMs;
        if (cmd.rate !== undefined) rec.clock.rate = cmd.rate;
        this.post(rec, { t: 'setClock', offsetMs: cmd.offsetMs, rate: cmd.rate });
        this.markDirty();
        return undefined;
      }
      case 'setSpeed':
        this.speed = cmd.speed;
        for (const rec of this.nodes.values()) this.post(rec, { t: 'speed', speed: cmd.speed });
        this.markDirty();
        return undefined;
      case 'dropMessage': {
        // The sender is the worker whose block of ids holds this one.
        const rec = [...this.nodes.values()].find((r) => r.worker && cmd.id > r.idBase && cmd.id <= r.idBase + IDS_PER_SPAWN);
        if (!rec || !(await this.call(rec, { op: 'dropMessage', id: cmd.id }))) {
          throw new Error(`message ${cmd.id} is no longer in flight`);
        }
        return undefined;
      }
      case 'timeoutNode': {
        const rec = this.node(cmd.name);
        if (rec.status !== 'alive') throw new Error(`${rec.name} is not running`);
        if (rec.state?.role === 'leader') throw new Error(`${rec.name} is the leader: it has no election timer to run out`);
        await this.call(rec, { op: 'campaign' });
        return undefined;
      }
      case 'cutLink':
      case 'healLink': {
        this.node(cmd.a);
        this.node(cmd.b);
        const key = [cmd.a, cmd.b].sort().join('|');
        if (cmd.type === 'cutLink') this.cuts.add(key);
        else this.cuts.delete(key);
        this.syncCuts();
        return undefined;
      }
      case 'healAll':
        this.cuts.clear();
        this.syncCuts();
        return undefined;
      case 'addMember':
        return this.addMember(cmd.start !== false);
      case 'removeMember':
        return this.removeMember(cmd.name);
      case 'transferLeader': {
        const to = this.node(cmd.to);
        if (to.status !== 'alive') throw new Error(`${to.name} is not running`);
        const leader = [...this.nodes.values()].find((n) => n.status === 'alive' && n.state?.role === 'leader');
        if (!leader) throw new Error('there is no leader to transfer from');
        if (leader === to) return undefined;
        await this.call(leader, { op: 'transferLeader', to: to.id });
        return undefined;
      }
      case 'kv': {
        const rec = this.node(cmd.name);
        if (rec.status !== 'alive') throw new Error(`${rec.name} is not running`);
        const { method, key, value, query } = cmd;
        return (await this.call(rec, { op: 'kv', method, key, value, query })) as KvResult;
      }
      case 'stepMode':
      case 'stepDeliver':
      case 'stepDrop':
      case 'stepDeliverAll':
      case 'stepTick':
      case 'stepRunUntil':
      case 'stepCancel':
        this.stepping++;
        try {
          return await this.step.execute(cmd);
        } finally {
          this.stepping--;
        }
      case 'resumeFrom':
        return this.resumeFrom(cmd.at);
      case 'checkpoint': {
        if (this.stepping > 0) return { skipped: 'a step is running' };
        const cp = await this.checkpoint('asked');
        return cp ? { at: cp.at } : { skipped: 'a node is starting or going down' };
      }
      case 'branches':
        return this.needCheckpoints().branches();
      default:
        throw new Error(`${cmd.type}: not a command for the local cluster`);
    }
  }

  /** The cluster as the window draws it. */
  snapshot(): ClusterState {
    return {
      dir: this.dir,
      generation: this.generation,
      nodes: [...this.nodes.values()].map((r) => this.nodeView(r)),
      cuts: [...this.cuts].map((k) => {
        const [a, b] = k.split('|');
        return { a, b };
      }),
      step: this.step.view(),
      speed: this.speed,
    };
  }

  /** Stop every worker this supervisor started, and wait for them. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    await this.stopNodes();
    clearTimeout(this.flushTimer);
    this.flushTimer = undefined;
    this.pending = [];
    for (const r of this.afterFlush.splice(0)) r();
    if (this.ownsDir) fs.rmSync(this.dir, { recursive: true, force: true });
  }

  // ------------------------------------------------------------------ checkpoints and forks

  /**
   * A consistent checkpoint of every node now (checkpoints.ts); undefined when none can be
   * taken at this moment (a node starting or going down, or checkpoints off). `ifChanged`:
   * only if some node's durable state (as last reported) moved since the last one.
   */
  async checkpoint(reason: string, opts: { ifChanged?: boolean; pinned?: boolean } = {}): Promise<Checkpoint | undefined> {
    if (!this.checkpoints || this.stopped || this.resuming) return undefined;
    if (opts.ifChanged && (this.stepping > 0 || this.step.view().on)) return undefined;
    const fingerprint = JSON.stringify([this.generation, [...this.nodes.values()].map((r) => [
      r.name, r.status, r.state?.term, r.state?.vote, r.state?.commit, r.state?.firstIndex, r.state?.lastIndex,
    ])]);
    return this.checkpoints.take(this.cutHost, reason, { ifChanged: opts.ifChanged ? fingerprint : undefined, pinned: opts.pinned });
  }

  private readonly cutHost: CutHost = {
    nodes: () => [...this.nodes.values()].map((r) => ({
      spec: { name: r.name, id: r.id, status: r.status, peerURL: r.peerURL, clientURL: r.clientURL, dataDir: r.dataDir, settings: r.settings, clock: { ...r.clock } },
      running: r.worker !== undefined && r.status === 'alive',
      moving: r.status === 'starting' || (r.worker !== undefined) !== (r.status === 'alive'),
    })),
    cuts: () => [...this.cuts],
    generation: () => this.generation,
    freeze: async (name) => (await this.call(this.node(name), { op: 'freeze' }, 5000)) as Uint8Array,
    thaw: async (name) => void (await this.call(this.node(name), { op: 'thaw' }, 5000)),
  };

  private needCheckpoints(): Checkpoints {
    if (!this.checkpoints) throw new Error('this cluster keeps no checkpoints');
    return this.checkpoints;
  }

  /**
   * "Resume from here": restores every node's durable state from the last checkpoint at or
   * before `at`, restarts the cluster from it (same member ids, ports, data dirs; each node
   * killed, removed or running as it was then) and goes on live as a new branch.
   */
  private async resumeFrom(at: number): Promise<ForkInfo> {
    const cps = this.needCheckpoints();
    if (this.resuming) throw new Error('a resume is already under way');
    const cp = cps.nearest(at);
    if (!cp) throw new Error(`there is no checkpoint at or before ${clockTime(at)}`);
    this.resuming = true;
    try {
      // The branch being left ends here, and stays resumable (at its last checkpoint, if no
      // cut can be taken right now).
      const end = (await cps.take(this.cutHost, `end of branch ${cps.current}`, { pinned: true })) ?? cps.pinLast();
      const leftAt = end?.at ?? Date.now();
      // Stop the nodes (gracefully: their databases closed before the files are replaced).
      const old = [...this.nodes.values()];
      const wasAlive = new Set(old.filter((r) => r.status === 'alive').map((r) => r.name));
      for (const r of old) if (r.status === 'alive' || r.status === 'starting') r.status = 'killed';
      this.markDirty();
      await Promise.all(old.map((r) => this.shutdown(r, wasAlive.has(r.name) ? 'stop' : 'kill')));
      const keep = new Set(cp.nodes.map((n) => n.spec.dataDir));
      await cps.restoreFiles(cp, old.map((r) => r.dataDir).filter((d) => !keep.has(d)));
      // The cluster as the checkpoint saw it: its members, links and clocks.
      this.nodes = new Map(cp.nodes.map(({ spec }) => {
        const rec: NodeRecord = {
          ...structuredClone(spec), status: spec.status === 'alive' ? 'starting' : spec.status, calls: new Map(), downWaiters: [],
          // Message ids are handed out per worker start (spawn sets it).
          idBase: 0,
        };
        return [spec.name, rec];
      }));
      this.cuts = new Set(cp.cuts);
      this.generation++;
      this.step.reset();
      this.recent = [];
      const { at: forkAt, ...fork } = cps.fork(cp, at, leftAt);
      this.queue({ type: 'fork', at: forkAt, fork });
      this.markDirty();
      const starting = [...this.nodes.values()].filter((r) => r.status === 'starting');
      await Promise.all(starting.map((r) => this.spawn(r)));
      return fork;
    } finally {
      this.resuming = false;
    }
  }

  // ------------------------------------------------------------------ commands

  private async startCluster(size: number): Promise<undefined> {
    if (!Number.isInteger(size) || size < 1 || size > 7) throw new Error('a cluster has 1 to 7 members');
    this.step.cancelRun(); // before the old nodes go: a run must not step on into the new cluster
    await this.stopNodes();
    this.nodes = new Map();
    this.cuts.clear();
    this.step.reset();
    this.recent = [];
    const gen = ++this.generation;
    const dir = path.join(this.dir, `cluster-${gen}`);
    const token = `raftlab-${gen}-${randomBytes(4).toString('hex')}`;
    const ports = await freePorts(2 * size);
    const specs = Array.from({ length: size }, (_, i) => ({
      name: `n${i + 1}`,
      peerURL: `http://127.0.0.1:${ports[2 * i]}`,
      clientURL: `http://127.0.0.1:${ports[2 * i + 1]}`,
    }));
    const initialCluster = specs.map((s) => ({ name: s.name, peerURLs: [s.peerURL] }));
    for (const s of specs) {
      // The ids are known up front (as etcd derives them), so cuts work before a node starts.
      const rec = this.newRecord(s.name, s.peerURL, s.clientURL, path.join(dir, `${s.name}.etcd`), initialCluster, 'new', token);
      rec.id = memberId([s.peerURL], token);
      this.nodes.set(s.name, rec);
    }
    this.markDirty();
    await Promise.all([...this.nodes.values()].map((r) => this.spawn(r)));
    // Its first moment that can be resumed from: every member up, nothing written yet.
    void this.checkpoint('cluster started').catch(() => {});
    return undefined;
  }

  private async addMember(start: boolean): Promise<AddMemberResult> {
    const via = this.pickVia();
    const gen = this.generation;
    const max = Math.max(0, ...[...this.nodes.keys()].map((n) => Number(/^n(\d+)$/.exec(n)?.[1] ?? 0)));
    const name = `n${max + 1}`;
    const [peerPort, clientPort] = await this.unusedPorts();
    const peerURL = `http://127.0.0.1:${peerPort}`;
    // Step 1, `etcdctl member add`: the cluster now counts a member that does not run yet.
    const reply = (await this.call(via, { op: 'addMember', peerURL })) as AddMemberReply;
    if (gen !== this.generation) throw new Error('the cluster was replaced meanwhile');
    // etcd prints ETCD_INITIAL_CLUSTER as the started members plus the new one.
    const initialCluster = reply.members
      .filter((m) => m.name !== '')
      .map((m) => ({ name: m.name, peerURLs: m.peerURLs }))
      .concat([{ name, peerURLs: [peerURL] }]);
    const dir = path.dirname(via.dataDir);
    const rec = this.newRecord(name, peerURL, `http://127.0.0.1:${clientPort}`, path.join(dir, `${name}.etcd`), initialCluster, 'existing', via.settings.initialClusterToken);
    rec.id = reply.member.id;
    rec.status = 'unstarted';
    this.nodes.set(name, rec);
    this.markDirty();
    // Step 2: start it with --initial-cluster-state existing, once the window has been told
    // it is unstarted (spawning marks it starting at once; the state would never be seen).
    if (start) {
      await this.flushed();
      if (gen === this.generation && !this.stopped) await this.spawn(rec);
    }
    return { name, id: rec.id };
  }

  private async removeMember(name: string): Promise<undefined> {
    const rec = this.node(name);
    if (rec.status === 'removed') throw new Error(`${name} was already removed`);
    if (!rec.id) throw new Error(`${name} has no member id yet`);
    const via = this.pickVia(rec);
    await this.call(via, { op: 'removeMember', id: rec.id });
    rec.status = 'removed';
    this.markDirty();
    // A running member learns of its removal, says so and exits about a second later; one cut
    // off from the cluster may never learn, so do not wait for it forever.
    const w = rec.worker;
    if (w) {
      setTimeout(() => {
        if (rec.worker === w) void this.shutdown(rec, 'kill');
      }, 3000).unref();
    }
    return undefined;
  }

  /** Two free ports that no node of this cluster uses (a killed node gets its ports back). */
  private async unusedPorts(): Promise<[number, number]> {
    const taken = new Set([...this.nodes.values()].flatMap((n) => [n.peerURL, n.clientURL]).map((u) => Number(new URL(u).port)));
    for (;;) {
      const [a, b] = await freePorts(2);
      if (!taken.has(a) && !taken.has(b)) return [a, b];
    }
  }

  /** A running member to ask: the leader if there is one, else any, preferably not `avoid`. */
  private pickVia(avoid?: NodeRecord): NodeRecord {
    const alive = [...this.nodes.values()].filter((n) => n.status === 'alive');
    const ordered = [
      ...alive.filter((n) => n !== avoid && n.state?.role === 'leader'),
      ...alive.filter((n) => n !== avoid),
      ...alive,
    ];
    if (ordered.length === 0) throw new Error('no running member to ask');
    return ordered[0];
  }

  // ------------------------------------------------------------------ workers

  private newRecord(
    name: string, peerURL: string, clientURL: string, dataDir: string,
    initialCluster: { name: string; peerURLs: string[] }[], state: 'new' | 'existing', token: string,
  ): NodeRecord {
    return {
      name, id: '', status: 'unstarted', peerURL, clientURL, dataDir,
      settings: {
        name, dataDir, initialCluster, initialClusterState: state, initialClusterToken: token,
        listenPeerURLs: [peerURL], advertisePeerURLs: [peerURL],
        listenClientURLs: [clientURL], advertiseClientURLs: [clientURL],
        heartbeatMs: this.opts.heartbeatMs, electionMs: this.opts.electionMs,
        snapshotCount: this.opts.snapshotCount, snapshotCatchUpEntries: this.opts.snapshotCatchUpEntries,
      },
      clock: { offsetMs: 0, rate: 1 },
      calls: new Map(),
      downWaiters: [],
      idBase: 0,
    };
  }

  /** Start the node's worker; resolves when it serves clients, rejects if it cannot start. */
  private spawn(rec: NodeRecord): Promise<void> {
    const init: WorkerInit = {
      raftlabNodeWorker: true,
      settings: rec.settings,
      clock: { ...rec.clock },
      cuts: this.cutIds(rec),
      logTail: this.opts.logTail,
      stateEveryMs: 100,
      batchMs: this.opts.flushMs,
      manual: this.step.spawnManual(rec.name),
      speed: this.speed,
      idBase: ++this.spawns * IDS_PER_SPAWN,
    };
    rec.idBase = init.idBase;
    // execArgv [] : not the parent's flags (tsx's, vitest's); the entry registers tsx itself.
    const w = new Worker(workerEntry(), { workerData: init, execArgv: [] });
    rec.worker = w;
    rec.status = 'starting';
    this.markDirty();
    return new Promise<void>((resolve, reject) => {
      let settled = false;
      const settle = (err?: Error) => {
        if (settled) return;
        settled = true;
        if (err) reject(err);
        else resolve();
      };
      w.on('message', (m: FromWorker) => {
        if (this.nodes.get(rec.name) !== rec) return; // a worker of a replaced cluster
        switch (m.t) {
          case 'started':
            rec.id = m.id;
            rec.status = 'alive';
            this.syncCuts();
            this.markDirty();
            this.step.onStarted(rec.name);
            settle();
            break;
          case 'start-failed':
            rec.status = 'killed';
            this.markDirty();
            settle(new Error(`${rec.name} could not start: ${m.error}`));
            void this.shutdown(rec, 'kill');
            break;
          case 'batch':
            this.onItems(rec, m.items);
            break;
          case 'held':
            this.step.onHeld(m.held);
            break;
          case 'reply': {
            const c = rec.calls.get(m.id);
            rec.calls.delete(m.id);
            if (m.ok) c?.resolve(m.result);
            else c?.reject(new Error(m.error));
            break;
          }
          case 'fatal':
            rec.status = 'killed';
            this.queue({ type: 'error', message: `${rec.name} stopped: ${m.error}` });
            this.markDirty();
            void this.shutdown(rec, 'kill');
            break;
          case 'removed':
            // The node has closed its ports already: nothing left to shut down.
            rec.status = 'removed';
            this.markDirty();
            void w.terminate();
            break;
          case 'stopped':
          case 'killed':
            for (const r of rec.downWaiters.splice(0)) r();
            break;
        }
      });
      w.on('error', (err) => {
        this.queue({ type: 'error', message: `${rec.name}: ${err.message}` });
      });
      w.on('exit', () => {
        settle(new Error(`${rec.name} exited before it could serve`));
        if (rec.worker !== w) return;
        rec.worker = undefined;
        for (const r of rec.downWaiters.splice(0)) r();
        for (const c of rec.calls.values()) c.reject(new Error(`${rec.name} stopped`));
        rec.calls.clear();
        if (rec.status === 'alive' || rec.status === 'starting') {
          rec.status = 'killed';
          // Only an exit nobody asked for is news: a kill, a restart or a new cluster ends workers on purpose.
          const deliberate = this.endedOnPurpose.has(w);
          if (!deliberate && !this.stopped && this.nodes.get(rec.name) === rec) this.queue({ type: 'error', message: `${rec.name} exited unexpectedly` });
        }
        this.markDirty();
      });
    });
  }

  private onItems(rec: NodeRecord, items: WorkerItem[]): void {
    for (const it of items) {
      switch (it.k) {
        case 'raft':
          this.queue({ type: 'raft', node: rec.name, at: it.at, event: it.e });
          break;
        case 'msg': {
          const { from, to, ...rest } = it.m;
          this.queue({ type: 'message', at: it.at, due: it.due, from: this.nameOf(from), to: this.nameOf(to), ...rest });
          break;
        }
        case 'delivered':
          this.queue({ type: 'delivered', id: it.id, from: this.nameOf(it.from), to: rec.name, at: it.at });
          break;
        case 'lost':
          this.queue({ type: 'lost', id: it.id, from: rec.name, to: this.nameOf(it.to), at: it.at, reason: it.reason });
          break;
        case 'log': {
          const line = formatLogLine(new Date(it.nodeTime), it.level as LogLevel, it.pkg, it.msg);
          this.queue({ type: 'log', node: rec.name, at: it.at, level: it.level, pkg: it.pkg, msg: it.msg, line });
          break;
        }
        case 'state':
          rec.state = it.s;
          this.markDirty();
          break;
        case 'client':
          this.queue({ type: 'client', node: rec.name, at: it.at, ...it.r });
          break;
      }
    }
  }

  private call(rec: NodeRecord, call: WorkerCall, timeoutMs = 20_000): Promise<unknown> {
    const w = rec.worker;
    if (!w) return Promise.reject(new Error(`${rec.name} is not running`));
    const id = ++this.callSeq;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        rec.calls.delete(id);
        reject(new Error(`${rec.name} did not answer ${call.op} within ${timeoutMs} ms`));
      }, timeoutMs);
      const done: Pending = {
        resolve: (v) => (clearTimeout(timer), resolve(v)),
        reject: (e) => (clearTimeout(timer), reject(e)),
      };
      rec.calls.set(id, done);
      w.postMessage({ t: 'call', id, call } satisfies ToWorker);
    });
  }

  private post(rec: NodeRecord, m: ToWorker): void {
    rec.worker?.postMessage(m);
  }

  private cutIds(rec: NodeRecord): string[] {
    const ids: string[] = [];
    for (const k of this.cuts) {
      const [a, b] = k.split('|');
      const other = a === rec.name ? b : b === rec.name ? a : undefined;
      const id = other !== undefined ? this.nodes.get(other)?.id : undefined;
      if (id) ids.push(id);
    }
    return ids;
  }

  /** Both ends of a cut drop the link's messages, so each node's view is consistent. */
  private syncCuts(): void {
    for (const rec of this.nodes.values()) this.post(rec, { t: 'cuts', ids: this.cutIds(rec) });
    this.markDirty();
  }

  /** Graceful where possible (the node closes its ports), then terminate regardless. */
  private async stopNodes(): Promise<void> {
    await Promise.all([...this.nodes.values()].map((rec) => this.shutdown(rec, rec.status === 'alive' ? 'stop' : 'kill')));
  }

  /**
   * Ends a node's worker. 'kill' is abrupt (kill -9), 'stop' graceful (SIGTERM). Either way the
   * worker first closes every socket and says so; only then is it terminated, because
   * terminating a worker whose HTTP parser is busy can abort the whole process (node-worker.ts,
   * dropAllIO). A worker that does not answer in time is terminated anyway.
   */
  private async shutdown(rec: NodeRecord, mode: 'stop' | 'kill'): Promise<void> {
    const w = rec.worker;
    if (!w) return;
    this.endedOnPurpose.add(w);
    const down = new Promise<void>((r) => rec.downWaiters.push(r));
    w.postMessage({ t: mode } satisfies ToWorker);
    await Promise.race([down, sleep(mode === 'stop' ? 2000 : 1000)]);
    await w.terminate();
  }

  // ------------------------------------------------------------------ views and events

  private node(name: string): NodeRecord {
    const rec = this.nodes.get(name);
    if (!rec) throw new Error(`no node named ${name}`);
    return rec;
  }

  private nameOf(id: string): string {
    if (!id) return '';
    for (const r of this.nodes.values()) if (r.id === id) return r.name;
    return id;
  }

  private nodeView(r: NodeRecord): NodeState {
    const s = r.state;
    return {
      name: r.name,
      id: r.id,
      status: r.status,
      role: s?.role ?? 'follower',
      term: s?.term ?? 0,
      vote: this.nameOf(s?.vote ?? ''),
      lead: r.status === 'alive' ? this.nameOf(s?.lead ?? '') : '',
      commit: s?.commit ?? 0,
      applied: s?.applied ?? 0,
      firstIndex: s?.firstIndex ?? 1,
      lastIndex: s?.lastIndex ?? 0,
      clientURL: r.clientURL,
      peerURL: r.peerURL,
      dataDir: r.dataDir,
      clock: r.status === 'alive' && s ? { ...s.clock } : { ...r.clock },
      electionTimeoutMs: s?.electionTimeoutMs ?? this.opts.electionMs,
      heartbeatMs: this.opts.heartbeatMs,
      ...(r.status === 'alive' && s ? { timer: s.timer } : {}),
      log: s?.log ?? [],
      peers: s?.peers ?? [],
    };
  }

  private markDirty(): void {
    this.dirty = true;
    this.queue();
  }

  private queue(e?: ServerEvent): void {
    if (this.stopped) return;
    if (e) this.pending.push(e);
    this.flushTimer ??= setTimeout(() => this.flush(), this.opts.flushMs);
  }

  /** Resolves right after the next batch went out. */
  private flushed(): Promise<void> {
    if (this.stopped) return Promise.resolve();
    this.queue();
    return new Promise((r) => this.afterFlush.push(r));
  }

  private afterFlush: (() => void)[] = [];

  private flush(): void {
    this.flushTimer = undefined;
    const waiting = this.afterFlush;
    this.afterFlush = [];
    for (const r of waiting) queueMicrotask(r);
    if (this.dirty) {
      this.dirty = false;
      this.pending.push({ type: 'cluster', cluster: this.snapshot(), at: Date.now() });
    }
    if (this.pending.length === 0) return;
    const batch = this.pending;
    this.pending = [];
    for (const e of batch) if (e.type === 'raft' || e.type === 'log') this.recent.push(e);
    if (this.recent.length > RECENT_MAX) this.recent.splice(0, this.recent.length - RECENT_MAX);
    this.emit('events', batch);
  }

  /**
   * What a window that opens now should see first: the latest Raft events and log lines (so the
   * election that happened before it connected is on its timeline), then the cluster itself.
   */
  greeting(): ServerEvent[] {
    // The snapshot first: it names the member ids the events carry.
    // Workers flush on their own timers, so batches interleave nodes: put the story in order.
    const story = [...this.recent].sort((a, b) => ('at' in a && 'at' in b ? (a.at ?? 0) - (b.at ?? 0) : 0));
    return [{ type: 'cluster', cluster: this.snapshot() }, ...story];
  }
}

export interface Supervisor {
  on(event: 'events', listener: (batch: ServerEvent[]) => void): this;
  off(event: 'events', listener: (batch: ServerEvent[]) => void): this;
  emit(event: 'events', batch: ServerEvent[]): boolean;
}

// ------------------------------------------------------------------ helpers

const RECENT_MAX = 300;

/** Commands that change the cluster: a checkpoint is taken just before each. */
const BEFORE_ACTION: ReadonlySet<Command['type']> = new Set<Command['type']>([
  'startCluster', 'killNode', 'restartNode', 'setClock', 'cutLink', 'healLink', 'healAll', 'addMember', 'removeMember',
  'transferLeader', 'kv', 'stepMode', 'stepDeliver', 'stepDrop', 'stepDeliverAll', 'stepTick', 'stepRunUntil',
]);

/**
 * The worker's entry. From TypeScript sources (tests, `tsx`, dev) the worker must load tsx
 * itself: Node 20 does not apply `--import tsx` from a Worker's execArgv to the worker's entry
 * module (it fails with ERR_UNKNOWN_FILE_EXTENSION), so the entry is a small data: module that
 * registers tsx, then imports node-worker.ts. Compiled to .js, the worker file runs as is.
 */
function workerEntry(): URL {
  const self = import.meta.url;
  if (!self.endsWith('.ts')) return new URL('./node-worker.js', self);
  const entry = new URL('./node-worker.ts', self).href;
  const tsx = import.meta.resolve('tsx/esm/api');
  const code = `import { register } from ${JSON.stringify(tsx)};\nregister();\nawait import(${JSON.stringify(entry)});\n`;
  return new URL(`data:text/javascript,${encodeURIComponent(code)}`);
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms).unref());
}

function errText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
