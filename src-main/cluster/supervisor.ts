// The app's headless core: runs a real cluster, one worker thread per node, on loopback ports
// with data dirs in a session folder, and turns what the nodes do into the window's protocol
// (src-shared/protocol.ts). It carries out the window's commands the way an operator would do
// them with etcd: kill -9, restart from the data dir, member add then start, member remove.
//
// Its parts: node-records.ts (the nodes, cut links and generation), workers.ts (a worker per
// node: spawn, calls, shutdown), event-queue.ts (what the windows are told, in batches),
// cluster-launch.ts (a fresh cluster: static, discovery or DNS, secured), membership.ts (member
// add, remove, promote), forks.ts (checkpoints and resumeFrom), step-controller.ts (step mode).
// This file dispatches the commands.

import { EventEmitter } from 'node:events';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { agreedLeader, type ClusterState } from '../../src-shared/cluster-state.js';
import type { CommandResult, KvResult } from '../../src-shared/command-results.js';
import type { Command } from '../../src-shared/commands.js';
import type { CommandRequest, ServerEvent } from '../../src-shared/protocol.js';
import { kv3Writes } from '../../src-shared/kv3.js';
import { V3Console } from '../attach/v3-console.js';
import { Checkpoints, type Checkpoint, type CheckpointOptions } from './checkpoints.js';
import { ClusterLauncher } from './cluster-launch.js';
import { EventQueue } from './event-queue.js';
import { Forks } from './forks.js';
import { Membership } from './membership.js';
import { ClusterNodes, type NodeDefaults } from './node-records.js';
import { StepController } from './step-controller.js';
import { sleep, Workers } from './workers.js';

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

export class Supervisor extends EventEmitter<{ events: [batch: ServerEvent[]] }> {
  readonly dir: string;
  private readonly ownsDir: boolean;
  private readonly defaults: NodeDefaults;
  private readonly timingMs: { heartbeatMs: number; electionMs: number };
  /** The global speed (setSpeed). */
  private speed: number;
  /** Step commands running: a cut must not slip in between a step and its answer. */
  private stepping = 0;
  private stopped = false;
  private readonly cluster = new ClusterNodes();
  private readonly events: EventQueue;
  private readonly workers: Workers;
  private readonly forks: Forks;
  /** Step mode: the cluster's clock and network while it is on (step-controller.ts). */
  private readonly step: StepController;
  /** The KV console's v3 requests and watches, over each node's JSON gateway. */
  private readonly v3: V3Console;
  /** startCluster, and what comes with the cluster it started: its bootstrap, its CA (cluster-launch.ts). */
  private readonly launcher: ClusterLauncher;
  /** Member add, remove and promote (membership.ts). */
  private readonly membership: Membership;

  constructor(options: SupervisorOptions = {}) {
    super();
    this.ownsDir = options.dir === undefined;
    this.dir = options.dir ?? fs.mkdtempSync(path.join(os.tmpdir(), 'raftlab-session-'));
    fs.mkdirSync(this.dir, { recursive: true });
    this.defaults = {
      heartbeatMs: options.heartbeatMs ?? 100,
      electionMs: options.electionMs ?? 1000,
      snapshotCount: options.snapshotCount ?? 1000,
      snapshotCatchUpEntries: options.snapshotCatchUpEntries ?? 100,
    };
    this.timingMs = { heartbeatMs: this.defaults.heartbeatMs, electionMs: this.defaults.electionMs };
    this.speed = options.speed ?? 1;
    const cluster = this.cluster;
    this.events = new EventQueue(
      options.flushMs ?? 16,
      () => this.snapshot(),
      (batch) => this.emit('events', batch),
      () => this.stopped,
    );
    this.step = new StepController({
      nodes: () =>
        cluster.all().map((r) => ({ name: r.name, id: r.id, status: r.status, running: r.worker !== undefined })),
      call: (name, c) => this.workers.call(cluster.node(name), c),
      isCut: (a, b) => cluster.isCut(a, b),
      nameOf: (id) => cluster.nameOf(id),
      queue: (e) => this.events.queue(e),
      changed: () => this.events.markDirty(),
    });
    this.workers = new Workers({
      cluster,
      logTail: options.logTail ?? 20,
      batchMs: options.flushMs ?? 16,
      speed: () => this.speed,
      spawnManual: (name) => this.step.spawnManual(name),
      stopped: () => this.stopped,
      queue: (e) => this.events.queue(e),
      markDirty: () => this.events.markDirty(),
      started: (rec) => this.step.onStarted(rec.name),
      items: (rec, items) => this.events.fromWorker(rec, items, (id) => cluster.nameOf(id)),
      held: (held) => this.step.onHeld(held),
    });
    this.v3 = new V3Console((line) => this.events.queue({ type: 'watch', at: Date.now(), ...line }));
    const checkpoints =
      options.checkpoints === false
        ? undefined
        : new Checkpoints(path.join(this.dir, 'checkpoints'), options.checkpoints);
    this.forks = new Forks(checkpoints, {
      cluster,
      workers: this.workers,
      events: this.events,
      step: this.step,
      stopped: () => this.stopped,
      stepping: () => this.stepping,
    });
    const stopped = () => this.stopped;
    const parts = {
      dir: this.dir,
      defaults: this.defaults,
      cluster,
      workers: this.workers,
      events: this.events,
      step: this.step,
      v3: this.v3,
    };
    this.launcher = new ClusterLauncher({
      ...parts,
      stopped,
      speed: () => this.speed,
      waitForLeader: (ms) => this.waitForLeader(ms),
      checkpoint: (reason) => this.checkpoint(reason),
    });
    this.membership = new Membership({ ...parts, launcher: this.launcher, stopped });
  }

  /** Consistent cuts of the nodes' durable state, and the branches forked from them. */
  get checkpoints(): Checkpoints | undefined {
    return this.forks.checkpoints;
  }

  // ------------------------------------------------------------------ public API

  /** Start a fresh cluster of `size` nodes (replacing any current one); resolves once all serve. */
  async start(size = 3, how: Omit<Extract<Command, { type: 'startCluster' }>, 'type' | 'size'> = {}): Promise<void> {
    await this.execute({ type: 'startCluster', size, ...how });
  }

  /** etcd's --heartbeat-interval and --election-timeout of this cluster's nodes, ms. */
  get timing(): { heartbeatMs: number; electionMs: number } {
    return { ...this.timingMs };
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
      this.events.queue(result === undefined ? { type: 'ack', id: req.id } : { type: 'ack', id: req.id, result });
    } catch (err) {
      this.events.queue({ type: 'error', id: req.id, message: errText(err) });
    }
  }

  /** Run a command; rejects with a message fit for the window. */
  async execute(cmd: Command): Promise<CommandResult> {
    if (this.stopped) throw new Error('the supervisor is stopped');
    // Before each action, the moment it changes: the user can come back to just before it.
    if (
      BEFORE_ACTION.has(cmd.type) &&
      !(cmd.type === 'kv' && cmd.method === 'GET') &&
      !(cmd.type === 'kv3' && !kv3Writes(cmd.request)) &&
      this.stepping === 0
    ) {
      await this.checkpoint(`before ${cmd.type}`).catch(() => undefined);
    }
    const { cluster, workers, events } = this;
    switch (cmd.type) {
      case 'startCluster':
        return this.launcher.start(cmd.size, cmd.bootstrap ?? 'static', {
          service: cmd.discoveryService,
          oneByOne: cmd.oneByOne === true,
          secure: cmd.secure,
        });
      case 'bootstrapExtra':
        return this.launcher.bootstrapExtra(cmd.fallback ?? 'exit');
      case 'killNode': {
        const rec = cluster.node(cmd.name);
        if (!rec.worker || rec.status === 'removed') throw new Error(`${rec.name} is not running`);
        rec.status = 'killed';
        events.markDirty();
        await workers.shutdown(rec, 'kill');
        return undefined;
      }
      case 'restartNode': {
        const rec = cluster.node(cmd.name);
        if (rec.status !== 'killed' && rec.status !== 'unstarted')
          throw new Error(`${rec.name} is ${rec.status}, not killed`);
        if (rec.worker) throw new Error(`${rec.name} is still shutting down`);
        await workers.spawn(rec);
        return undefined;
      }
      case 'setClock': {
        const rec = cluster.node(cmd.name);
        if (rec.status === 'removed') throw new Error(`${rec.name} was removed`);
        if (cmd.offsetMs !== undefined) rec.clock.offsetMs = cmd.offsetMs;
        if (cmd.rate !== undefined) rec.clock.rate = cmd.rate;
        workers.post(rec, { t: 'setClock', offsetMs: cmd.offsetMs, rate: cmd.rate });
        events.markDirty();
        return undefined;
      }
      case 'setSpeed':
        this.speed = cmd.speed;
        for (const rec of cluster.all()) workers.post(rec, { t: 'speed', speed: cmd.speed });
        events.markDirty();
        return undefined;
      case 'dropMessage': {
        const rec = workers.senderOf(cmd.id);
        if (!rec || !(await workers.call(rec, { op: 'dropMessage', id: cmd.id }))) {
          throw new Error(`message ${cmd.id} is no longer in flight`);
        }
        return undefined;
      }
      case 'timeoutNode': {
        const rec = cluster.node(cmd.name);
        if (rec.status !== 'alive') throw new Error(`${rec.name} is not running`);
        if (rec.state?.role === 'leader')
          throw new Error(`${rec.name} is the leader: it has no election timer to run out`);
        await workers.call(rec, { op: 'campaign' });
        return undefined;
      }
      case 'cutLink':
      case 'healLink':
        cluster.node(cmd.a);
        cluster.node(cmd.b);
        cluster.setCut(cmd.a, cmd.b, cmd.type === 'cutLink');
        workers.syncCuts();
        return undefined;
      case 'healAll':
        cluster.cuts.clear();
        workers.syncCuts();
        return undefined;
      case 'addMember':
        return this.membership.add(cmd.start !== false, cmd.learner === true);
      case 'removeMember':
        return this.membership.remove(cmd.name);
      case 'promoteMember':
        return this.membership.promote(cmd.name);
      case 'transferLeader': {
        const to = cluster.node(cmd.to);
        if (to.status !== 'alive') throw new Error(`${to.name} is not running`);
        const leader = cluster.all().find((n) => n.status === 'alive' && n.state?.role === 'leader');
        if (!leader) throw new Error('there is no leader to transfer from');
        if (leader === to) return undefined;
        await workers.call(leader, { op: 'transferLeader', to: to.id });
        return undefined;
      }
      case 'kv': {
        const rec = cluster.node(cmd.name);
        if (rec.status !== 'alive') throw new Error(`${rec.name} is not running`);
        const { method, key, value, query } = cmd;
        return (await workers.call(rec, { op: 'kv', method, key, value, query })) as KvResult;
      }
      case 'login':
      case 'logout': {
        const url = cmd.type === 'login' ? cluster.pickVia().clientURL : undefined;
        await this.v3.login(
          url,
          cmd.type === 'login' ? cmd.user : undefined,
          cmd.type === 'login' ? cmd.password : '',
          15_000 / this.speed,
        );
        events.markDirty();
        return undefined;
      }
      case 'kv3': {
        const rec = cluster.node(cmd.name);
        if (rec.status !== 'alive' && cmd.request.op !== 'unwatch') throw new Error(`${rec.name} is not running`);
        // In slow motion a write takes longer by as much as the cluster is slowed.
        return this.v3.execute(rec.name, rec.clientURL, cmd.request, 15_000 / this.speed);
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
        return this.forks.resumeFrom(cmd.at);
      case 'checkpoint': {
        if (this.stepping > 0) return { skipped: 'a step is running' };
        const cp = await this.checkpoint('asked');
        return cp ? { at: cp.at } : { skipped: 'a node is starting or going down' };
      }
      case 'branches':
        return this.forks.need().branches();
      default:
        throw new Error(`${cmd.type}: not a command for the local cluster`);
    }
  }

  /** The cluster as the window draws it. */
  snapshot(): ClusterState {
    const c = this.cluster;
    return {
      dir: this.dir,
      generation: c.generation,
      nodes: c.all().map((r) => c.view(r, this.timingMs)),
      cuts: c.cutLinks(),
      step: this.step.view(),
      speed: this.speed,
      // Only while its members are the ones shown (a fork may go back to another cluster).
      ...this.launcher.view(this.v3.user),
    };
  }

  /**
   * What a window that opens now should see first: the latest Raft events and log lines, then
   * the cluster itself (event-queue.ts).
   */
  greeting(): ServerEvent[] {
    return this.events.greeting();
  }

  /**
   * A consistent checkpoint of every node now (forks.ts); undefined when none can be taken at
   * this moment. `ifChanged`: only if some node's durable state moved since the last one.
   */
  checkpoint(reason: string, opts: { ifChanged?: boolean; pinned?: boolean } = {}): Promise<Checkpoint | undefined> {
    return this.forks.checkpoint(reason, opts);
  }

  /** Stop every worker this supervisor started, and wait for them. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.v3.closeAll();
    await this.workers.stopAll();
    await this.launcher.stop();
    this.events.close();
    if (this.ownsDir) fs.rmSync(this.dir, { recursive: true, force: true });
  }
}

/** Commands that change the cluster: a checkpoint is taken just before each. */
const BEFORE_ACTION: ReadonlySet<Command['type']> = new Set<Command['type']>([
  'startCluster',
  'killNode',
  'restartNode',
  'setClock',
  'cutLink',
  'healLink',
  'healAll',
  'addMember',
  'removeMember',
  'promoteMember',
  'transferLeader',
  'kv',
  'kv3',
  'stepMode',
  'stepDeliver',
  'stepDrop',
  'stepDeliverAll',
  'stepTick',
  'stepRunUntil',
]);

function errText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
