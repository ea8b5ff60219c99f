// The app's headless core: runs a real cluster, one worker thread per node, on loopback ports
// with data dirs in a session folder, and turns what the nodes do into the window's protocol
// (src-shared/protocol.ts). It carries out the window's commands the way an operator would do
// them with etcd: kill -9, restart from the data dir, member add then start, member remove.
//
// Its parts: node-records.ts (the nodes, cut links and generation), workers.ts (a worker per
// node: spawn, calls, shutdown), event-queue.ts (what the windows are told, in batches),
// forks.ts (checkpoints and resumeFrom), step-controller.ts (step mode). This file dispatches
// the commands.

import { EventEmitter } from 'node:events';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { agreedLeader, type ClusterState, type ExtraMember } from '../../src-shared/cluster-state.js';
import type { AddMemberResult, CommandResult, KvResult } from '../../src-shared/command-results.js';
import type { BootstrapMethod, Command } from '../../src-shared/commands.js';
import type { CommandRequest, ServerEvent } from '../../src-shared/protocol.js';
import { kv3Writes } from '../../src-shared/kv3.js';
import { V3Console } from '../attach/v3-console.js';
import { freePorts } from '../net/free-ports.js';
import { memberId } from '../node/ids.js';
import { Checkpoints, type Checkpoint, type CheckpointOptions } from './checkpoints.js';
import { dnsmasqMissing } from '../net/dnsmasq.js';
import { checkDiscoveryService, ClusterBootstrap } from './cluster-bootstrap.js';
import { EventQueue } from './event-queue.js';
import { SecureCluster, type SecureOptions } from './secure-cluster.js';
import { Forks } from './forks.js';
import { ClusterNodes, newRecord, type NodeDefaults, type NodeRecord } from './node-records.js';
import { StepController } from './step-controller.js';
import type { AddMemberReply } from './worker-protocol.js';
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
  /** The current cluster's discovery token or SRV records, when it was not bootstrapped statically. */
  private boot?: ClusterBootstrap;
  /** The current cluster's CA and TLS files, when it was started secured. */
  private secure?: SecureCluster;

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
    this.events = new EventQueue(options.flushMs ?? 16, () => this.snapshot(), (batch) => this.emit('events', batch), () => this.stopped);
    this.step = new StepController({
      nodes: () => cluster.all().map((r) => ({ name: r.name, id: r.id, status: r.status, running: r.worker !== undefined })),
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
    const checkpoints = options.checkpoints === false ? undefined : new Checkpoints(path.join(this.dir, 'checkpoints'), options.checkpoints);
    this.forks = new Forks(checkpoints, {
      cluster,
      workers: this.workers,
      events: this.events,
      step: this.step,
      stopped: () => this.stopped,
      stepping: () => this.stepping,
    });
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
    if (BEFORE_ACTION.has(cmd.type) && !(cmd.type === 'kv' && cmd.method === 'GET') && !(cmd.type === 'kv3' && !kv3Writes(cmd.request)) && this.stepping === 0) {
      await this.checkpoint(`before ${cmd.type}`).catch(() => undefined);
    }
    const { cluster, workers, events } = this;
    switch (cmd.type) {
      case 'startCluster':
        return this.startCluster(cmd.size, cmd.bootstrap ?? 'static', { service: cmd.discoveryService, oneByOne: cmd.oneByOne === true, secure: cmd.secure });
      case 'bootstrapExtra':
        return this.bootstrapExtra(cmd.fallback ?? 'exit');
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
        if (rec.status !== 'killed' && rec.status !== 'unstarted') throw new Error(`${rec.name} is ${rec.status}, not killed`);
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
        if (rec.state?.role === 'leader') throw new Error(`${rec.name} is the leader: it has no election timer to run out`);
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
        return this.addMember(cmd.start !== false, cmd.learner === true);
      case 'removeMember':
        return this.removeMember(cmd.name);
      case 'promoteMember':
        return this.promoteMember(cmd.name);
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
        await this.v3.login(url, cmd.type === 'login' ? cmd.user : undefined, cmd.type === 'login' ? cmd.password : '', 15_000 / this.speed);
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
      ...(this.boot && c.all().some((r) => r.settings.bootstrap?.method === this.boot!.memberBootstrap.method && r.settings.initialClusterToken === this.boot!.token)
        ? { bootstrap: this.boot.view() }
        : {}),
      ...(this.secure && c.all().some((r) => r.settings.clientTLS?.trustedCAFile === this.secure!.caFile) ? { security: this.secure.view(this.v3.user) } : {}),
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
    await this.boot?.stop();
    this.secure?.close();
    this.events.close();
    if (this.ownsDir) fs.rmSync(this.dir, { recursive: true, force: true });
  }

  // ------------------------------------------------------------------ membership commands

  private async startCluster(size: number, method: BootstrapMethod, how: { service?: string; oneByOne: boolean; secure?: SecureOptions }): Promise<undefined> {
    if (!Number.isInteger(size) || size < 1 || size > 7) throw new Error('a cluster has 1 to 7 members');
    if (method === 'static' && (how.service !== undefined || how.oneByOne)) throw new Error('a discovery service and one-by-one starts are for a cluster bootstrapped by discovery or DNS');
    if (method === 'dns' && how.service !== undefined) throw new Error('a discovery service is for etcd discovery, not DNS');
    if (method !== 'static' && how.secure) throw new Error('a secured cluster is bootstrapped statically here (its members are given their certificates and the initial cluster)');
    // Said before the current cluster is thrown away.
    const noDns = method === 'dns' ? dnsmasqMissing() : undefined;
    if (noDns) throw new Error(noDns);
    if (method === 'discovery' && how.service !== undefined) await checkDiscoveryService(how.service);
    this.step.cancelRun(); // before the old nodes go: a run must not step on into the new cluster
    this.v3.closeAll();
    await this.workers.stopAll();
    const oldBoot = this.boot;
    this.boot = undefined;
    await oldBoot?.stop();
    const c = this.cluster;
    c.nodes = new Map();
    c.cuts.clear();
    this.step.reset();
    this.events.forgetRecent();
    const gen = ++c.generation;
    const dir = path.join(this.dir, `cluster-${gen}`);
    const token = `raftlab-${gen}-${randomBytes(4).toString('hex')}`;
    this.secure?.close();
    this.secure = how.secure ? await SecureCluster.create(dir, how.secure) : undefined;
    this.v3.setAccess(this.secure?.access);
    const scheme = this.secure ? 'https' : 'http';
    const ports = await freePorts(2 * size);
    const specs = Array.from({ length: size }, (_, i) => ({
      name: `n${i + 1}`,
      peerURL: `${scheme}://127.0.0.1:${ports[2 * i]}`,
      clientURL: `${scheme}://127.0.0.1:${ports[2 * i + 1]}`,
    }));
    if (method !== 'static') return this.startBootstrapped(specs, method, dir, token, how);
    const initialCluster = specs.map((s) => ({ name: s.name, peerURLs: [s.peerURL] }));
    for (const s of specs) {
      // The ids are known up front (as etcd derives them), so cuts work before a node starts.
      const rec = newRecord(this.defaults, s.name, s.peerURL, s.clientURL, path.join(dir, `${s.name}.etcd`), initialCluster, 'new', token);
      rec.id = memberId([s.peerURL], token);
      if (this.secure) Object.assign(rec.settings, await this.secure.forMember(s.name));
      c.nodes.set(s.name, rec);
    }
    this.events.markDirty();
    await Promise.all(c.all().map((r) => this.workers.spawn(r)));
    if (this.secure?.options.rootPassword !== undefined) await this.enableAuth(gen);
    // Its first moment that can be resumed from: every member up, nothing written yet.
    void this.checkpoint('cluster started').catch(() => {});
    return undefined;
  }

  /**
   * The other two ways: every member is told where to ask (a discovery token, or SRV records)
   * instead of the initial cluster. With discovery the members start one after another, each
   * once the one before has registered, so the directory is seen to fill; `oneByOne` leaves them
   * for the user to start.
   */
  private async startBootstrapped(
    specs: { name: string; peerURL: string; clientURL: string }[], method: 'discovery' | 'dns', dir: string, token: string, how: { service?: string; oneByOne: boolean },
  ): Promise<undefined> {
    const c = this.cluster;
    const gen = c.generation;
    const changed = () => this.events.markDirty();
    const log = (node: string, level: Parameters<EventQueue['log']>[1], pkg: string, msg: string) => this.events.log(node, level, pkg, msg);
    const boot = method === 'discovery'
      ? await ClusterBootstrap.discovery({ dir, size: specs.length, serviceURL: how.service, tokenName: token, changed, log })
      : await ClusterBootstrap.dns({ members: specs, token, changed, log });
    if (gen !== c.generation || this.stopped) {
      await boot.stop();
      throw new Error('the cluster was replaced meanwhile');
    }
    this.boot = boot;
    for (const s of specs) {
      const rec = newRecord(this.defaults, s.name, s.peerURL, s.clientURL, path.join(dir, `${s.name}.etcd`), [], 'new', boot.token);
      rec.settings.bootstrap = boot.memberBootstrap;
      rec.id = memberId([s.peerURL], boot.token);
      c.nodes.set(s.name, rec);
    }
    this.events.markDirty();
    if (how.oneByOne) return undefined;
    const starts: Promise<void>[] = [];
    for (const rec of c.all()) {
      if (gen !== c.generation || this.stopped) break;
      const started = this.workers.spawn(rec);
      started.catch(() => {}); // awaited below; a failure is reported there
      starts.push(started);
      if (method !== 'discovery') continue;
      // Its registration seen (or it failed), then a moment for the eye before the next one.
      const deadline = Date.now() + 15_000;
      let settled = false;
      void started.finally(() => (settled = true));
      while (!boot.registered(rec.id) && !settled && Date.now() < deadline && gen === c.generation) await sleep(50);
      await sleep(DISCOVERY_STAGGER_MS);
    }
    try {
      await Promise.all(starts);
    } catch (err) {
      // A newer cluster took this one's place meanwhile: its members were ended on purpose.
      if (gen !== c.generation) return undefined;
      throw err;
    }
    void this.checkpoint('cluster started').catch(() => {});
    return undefined;
  }

  /**
   * A secured cluster with a root password: auth is enabled as soon as it has a leader (the
   * window is told only once it is on; in slow motion that takes as long as the election).
   */
  private async enableAuth(gen: number): Promise<void> {
    const secure = this.secure!;
    if (!(await this.waitForLeader(60_000 / this.speed)) || gen !== this.cluster.generation) {
      if (gen !== this.cluster.generation) return;
      throw new Error('auth was not enabled: the cluster elected no leader in time');
    }
    const leader = this.cluster.pickVia();
    await secure.enableAuth(leader.clientURL, 15_000 / this.speed);
    this.events.markDirty();
  }

  /** A member beyond the discovery size (or not in the SRV records): what etcd does with it. */
  private async bootstrapExtra(fallback: 'exit' | 'proxy'): Promise<ExtraMember> {
    const boot = this.boot;
    if (!boot || !this.snapshot().bootstrap) throw new Error('this cluster was bootstrapped statically: there is no discovery token or SRV record to find it full');
    const c = this.cluster;
    const name = this.nextName();
    const dir = path.dirname(c.all()[0]!.dataDir);
    return boot.extra(name, path.join(dir, `${name}.etcd`), fallback);
  }

  /** `learner`: etcdctl member add --learner (it replicates, does not vote until promoted). */
  private async addMember(start: boolean, learner = false): Promise<AddMemberResult> {
    const c = this.cluster;
    const via = c.pickVia();
    const gen = c.generation;
    const name = this.nextName();
    const [peerPort, clientPort] = await c.unusedPorts();
    // A member of a secured cluster gets its certificate from the cluster's CA, and https URLs.
    const secure = this.secure && via.settings.clientTLS?.trustedCAFile === this.secure.caFile ? this.secure : undefined;
    const scheme = secure ? 'https' : 'http';
    const peerURL = `${scheme}://127.0.0.1:${peerPort}`;
    // Step 1, `etcdctl member add`: the cluster now counts a member that does not run yet.
    const reply = (await this.workers.call(via, { op: 'addMember', peerURL, ...(learner ? { learner } : {}) })) as AddMemberReply;
    if (gen !== c.generation) throw new Error('the cluster was replaced meanwhile');
    // etcd prints ETCD_INITIAL_CLUSTER as the started members plus the new one.
    const initialCluster = reply.members
      .filter((m) => m.name !== '')
      .map((m) => ({ name: m.name, peerURLs: m.peerURLs }))
      .concat([{ name, peerURLs: [peerURL] }]);
    const dir = path.dirname(via.dataDir);
    const rec = newRecord(this.defaults, name, peerURL, `${scheme}://127.0.0.1:${clientPort}`, path.join(dir, `${name}.etcd`), initialCluster, 'existing', via.settings.initialClusterToken);
    if (secure) Object.assign(rec.settings, await secure.forMember(name));
    rec.id = reply.member.id;
    rec.status = 'unstarted';
    c.nodes.set(name, rec);
    this.events.markDirty();
    // Step 2: start it with --initial-cluster-state existing, once the window has been told
    // it is unstarted (spawning marks it starting at once; the state would never be seen).
    if (start) {
      await this.events.flushed();
      if (gen === c.generation && !this.stopped) await this.workers.spawn(rec);
    }
    return { name, id: rec.id };
  }

  /** n1, n2…: the next name no node (nor an extra member that came to the discovery token) has had. */
  private nextName(): string {
    const taken = [...this.cluster.nodes.keys(), ...(this.boot?.view().extras.map((e) => e.name) ?? [])];
    return `n${Math.max(0, ...taken.map((n) => Number(/^n(\d+)$/.exec(n)?.[1] ?? 0))) + 1}`;
  }

  private async removeMember(name: string): Promise<undefined> {
    const rec = this.cluster.node(name);
    if (rec.status === 'removed') throw new Error(`${name} was already removed`);
    if (!rec.id) throw new Error(`${name} has no member id yet`);
    const via = this.cluster.pickVia(rec);
    await this.workers.call(via, { op: 'removeMember', id: rec.id });
    rec.status = 'removed';
    this.events.markDirty();
    // A running member learns of its removal, says so and exits about a second later; one cut
    // off from the cluster may never learn, so do not wait for it forever.
    this.killLater(rec, 3000);
    return undefined;
  }

  /**
   * `etcdctl member promote`: asked of the leader, as etcd forwards it there. Refused, in etcd's
   * words, while the learner's log is behind the leader's or when it is not a learner.
   */
  private async promoteMember(name: string): Promise<undefined> {
    const rec = this.cluster.node(name);
    if (rec.status === 'removed') throw new Error(`${name} was removed`);
    if (!rec.id) throw new Error(`${name} has no member id yet`);
    const leader = this.cluster.all().find((n) => n.status === 'alive' && n.state?.role === 'leader');
    if (!leader) throw new Error('there is no leader to ask: a promotion is decided by the leader');
    await this.workers.call(leader, { op: 'promoteMember', id: rec.id });
    this.events.markDirty();
    return undefined;
  }

  /** Kills `rec`'s current worker after `ms`, unless it is gone by then. */
  private killLater(rec: NodeRecord, ms: number): void {
    const w = rec.worker;
    if (!w) return;
    setTimeout(() => {
      if (rec.worker === w) void this.workers.shutdown(rec, 'kill');
    }, ms).unref();
  }
}

/** With discovery, the pause after a member registered before the next one starts: time to see it wait. */
const DISCOVERY_STAGGER_MS = 700;

/** Commands that change the cluster: a checkpoint is taken just before each. */
const BEFORE_ACTION: ReadonlySet<Command['type']> = new Set<Command['type']>([
  'startCluster', 'killNode', 'restartNode', 'setClock', 'cutLink', 'healLink', 'healAll', 'addMember', 'removeMember',
  'promoteMember', 'transferLeader', 'kv', 'kv3', 'stepMode', 'stepDeliver', 'stepDrop', 'stepDeliverAll', 'stepTick', 'stepRunUntil',
]);

function errText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
