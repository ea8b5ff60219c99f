// A deterministic simulated cluster: real Raft cores, an in-memory "network" with seeded
// delays, drops, duplicates, reordering and partitions, crashes that keep only durable state,
// skewed clocks, membership changes, leader transfers, snapshots and client traffic.
// The same seed replays the same schedule exactly. Every step is checked by SafetyChecker.
// This file drives the nodes (start, crash, the Ready loop, clients, healing, convergence);
// the network is sim-network.ts, simulated time sim-scheduler.ts, the faults sim-faults.ts
// (which is why the node lifecycle methods below are public).

import {
  decodeConfChange,
  type Entry,
  type Message,
  type NodeId,
  type RaftEvent,
} from '../../src-shared/raft-types.js';
import { bootstrapState, ProposalDropped, Raft, type Ready } from '../raft/raft.js';
import { MemoryStorage } from './memory-storage.js';
import { seededRandom, type Rng } from '../util/rng.js';
import { SafetyChecker } from './safety-checker.js';
import { randomFault, type FaultTarget } from './sim-faults.js';
import { SimNetwork } from './sim-network.js';
import { SimScheduler } from './sim-scheduler.js';
import {
  emptyStats,
  SimulationFailure,
  withDefaults,
  type SimApp,
  type SimNode,
  type SimOptions,
  type SimStats,
} from './sim-types.js';

export { SimulationFailure, type SimApp, type SimOptions, type SimStats } from './sim-types.js';

export class SimCluster implements FaultTarget {
  readonly rng: Rng;
  readonly opts: Required<SimOptions>;
  readonly nodes = new Map<NodeId, SimNode>();
  readonly checker: SafetyChecker;
  readonly stats: SimStats;
  private readonly clock: SimScheduler;
  readonly network: SimNetwork;
  private nextId = 1;
  private chaos = true;
  private proposalSeq = 0;
  private pendingProposals = new Map<string, NodeId>();
  private trace: string[] = [];

  constructor(
    options: SimOptions,
    private readonly app?: SimApp,
  ) {
    this.opts = withDefaults(options);
    this.rng = seededRandom(this.opts.seed);
    this.clock = new SimScheduler(this.rng);
    this.checker = new SafetyChecker((msg) => this.fail(msg));
    this.stats = emptyStats(this.opts.seed);
    this.network = new SimNetwork(this.rng, this.clock, this.stats, this.opts.maxDelayMs, (m) => this.deliver(m));
    const ids = Array.from({ length: this.opts.nodes }, () => this.newId());
    for (const id of ids) this.addNode(id, new MemoryStorage(bootstrapState(ids)));
  }

  /** Runs the whole schedule: chaos, then heal and settle, then the convergence check. */
  run(): SimStats {
    if (this.opts.proposalEveryMs > 0)
      this.every(
        this.opts.proposalEveryMs,
        () => this.chaos,
        () => this.proposeRandom(),
      );
    if (this.opts.faults)
      this.every(
        120,
        () => this.chaos,
        () => randomFault(this, this.opts.membership),
      );
    this.runUntil(this.opts.chaosMs);
    this.heal();
    this.runUntil(this.opts.chaosMs + this.opts.settleMs);
    this.checkConverged();
    this.stats.simulatedMs = this.now;
    return this.stats;
  }

  runUntil(t: number): void {
    this.clock.runUntil(t);
  }

  /** Simulated ms. */
  get now(): number {
    return this.clock.now;
  }

  // ------------------------------------------------------------ nodes

  newId(): NodeId {
    return `n${this.nextId++}`;
  }

  addNode(id: NodeId, storage: MemoryStorage): SimNode {
    const node: SimNode = {
      id,
      storage,
      raft: null,
      removed: false,
      rate: 0.8 + this.rng() * 0.45,
      applied: 0,
      digest: 0,
      sinceSnapshot: 0,
    };
    this.nodes.set(id, node);
    this.start(node);
    const tick = () => {
      if (node.removed) return;
      if (node.raft) {
        node.raft.tick();
        this.drain(node);
      }
      this.at(this.opts.tickMs / node.rate, tick);
    };
    this.at(this.rng() * this.opts.tickMs, tick);
    return node;
  }

  /** (Re)start a node from its durable state only. */
  start(node: SimNode): void {
    const boot = node.storage.boot();
    node.raft = new Raft(
      {
        id: node.id,
        electionTick: this.opts.electionTick,
        heartbeatTick: this.opts.heartbeatTick,
        random: this.rng,
        maxEntriesPerMsg: 16,
        maxInflight: 8,
      },
      boot,
    );
    const snap = boot.snapshot ? (JSON.parse(boot.snapshot.data) as SnapData) : { index: 0, digest: 0 };
    node.applied = snap.index;
    node.digest = snap.digest;
    node.sinceSnapshot = 0;
    this.app?.restore(node.id, snap.app, snap.index);
    this.drain(node);
  }

  crash(node: SimNode): void {
    if (!node.raft) return;
    node.raft = null;
    this.stats.crashes++;
    this.log(`${node.id} crashed`);
    this.app?.down(node.id);
  }

  alive(): SimNode[] {
    return [...this.nodes.values()].filter((n) => n.raft !== null);
  }

  leader(): SimNode | undefined {
    let best: SimNode | undefined;
    for (const n of this.alive()) {
      if (n.raft!.role === 'leader' && (!best || n.raft!.term > best.raft!.term)) best = n;
    }
    return best;
  }

  // ------------------------------------------------------------ the node loop: persist, send, apply

  drain(node: SimNode): void {
    while (node.raft && node.raft.hasReady()) {
      const raft = node.raft;
      const rd = raft.ready();
      // A crash before the write completes loses this Ready entirely.
      if (this.chaos && this.opts.faults && this.rng.chance(0.0005)) return this.crash(node);
      node.storage.persist(rd);
      for (const e of rd.events) this.onEvent(node, e);
      // Crashing after the write but before sending: durable, yet nobody heard.
      if (this.chaos && this.opts.faults && this.rng.chance(0.0005)) return this.crash(node);
      for (const m of rd.messages) this.network.send(m);
      this.apply(node, rd);
      for (const r of rd.readStates) {
        this.checker.readConfirmed(node.id, r, node.applied);
        this.app?.readState(node.id, r);
      }
      raft.advance(rd);
      this.maybeSnapshot(node);
    }
  }

  private apply(node: SimNode, rd: Ready): void {
    if (rd.snapshot) {
      const snap = JSON.parse(rd.snapshot.data) as SnapData;
      this.checker.snapshotInstalled(node.id, snap.index, snap.digest);
      node.applied = snap.index;
      node.digest = snap.digest;
      this.stats.snapshotsInstalled++;
      this.app?.restore(node.id, snap.app, snap.index);
    }
    for (const e of rd.committedEntries) {
      if (e.index !== node.applied + 1)
        this.fail(`${node.id} applied ${e.index} after ${node.applied}: entries must apply in order`);
      node.digest = mix(node.digest, e);
      node.applied = e.index;
      node.sinceSnapshot++;
      this.checker.applied(node.id, e, node.digest);
      this.app?.apply(node.id, e);
      this.stats.committed = Math.max(this.stats.committed, e.index);
      if (this.pendingProposals.get(e.data) === node.id) {
        this.pendingProposals.delete(e.data);
        this.stats.acknowledged++;
      }
      if (e.type === 'conf') this.onConfApplied(decodeConfChange(e.data).type, decodeConfChange(e.data).id);
    }
  }

  private maybeSnapshot(node: SimNode): void {
    const every = this.opts.snapshotEvery;
    if (!node.raft || every === 0 || node.sinceSnapshot < every) return;
    node.sinceSnapshot = 0;
    const snapData: SnapData = { index: node.applied, digest: node.digest };
    if (this.app) snapData.app = this.app.snapshot(node.id);
    const data = JSON.stringify(snapData);
    // Keep a few entries behind the snapshot so slightly lagging followers catch up from the log.
    const compactTo = Math.max(0, node.applied - 5);
    const snap = node.raft.createSnapshot(node.applied, data, compactTo);
    node.storage.saveSnapshot(snap, compactTo);
  }

  private onEvent(node: SimNode, e: RaftEvent): void {
    if (e.kind === 'role' && e.role === 'leader') {
      this.stats.leaderChanges++;
      this.checker.leaderElected(node.id, e.term, node.raft!.log);
      this.log(`${node.id} became leader at term ${e.term}`);
    }
  }

  private onConfApplied(type: string, id: NodeId): void {
    if (type !== 'remove') return;
    const node = this.nodes.get(id);
    // Like etcd, a removed member shuts down for good.
    if (node && !node.removed) {
      node.removed = true;
      node.raft = null;
      this.log(`${id} removed`);
      this.app?.down(id);
    }
  }

  // ------------------------------------------------------------ network

  private deliver(m: Message): void {
    const node = this.nodes.get(m.to);
    if (!node?.raft || this.network.isCut(m.from, m.to)) return;
    node.raft.step(m);
    this.drain(node);
    this.checker.maybeCheckLogs(this.alive().map((n) => ({ id: n.id, log: n.raft!.log })));
  }

  // ------------------------------------------------------------ clients

  proposeRandom(): void {
    const live = this.alive();
    if (live.length === 0) return;
    const node = this.rng.pick(live);
    const data = `w${++this.proposalSeq}`;
    try {
      node.raft!.propose(data);
      this.stats.proposals++;
      this.pendingProposals.set(data, node.id);
    } catch (err) {
      if (!(err instanceof ProposalDropped)) throw err;
    }
    if (this.rng.chance(0.1)) {
      try {
        const ctx = `r${this.proposalSeq}`;
        this.checker.readIssued(ctx);
        node.raft!.readIndex(ctx);
        this.stats.reads++;
      } catch (err) {
        if (!(err instanceof ProposalDropped)) throw err;
      }
    }
    this.drain(node);
  }

  // ------------------------------------------------------------ hooks for clients (sim-clients.ts)

  /** A client's command at node `id`: appended if it leads, forwarded to its leader if not. Throws ProposalDropped. */
  clientPropose(id: NodeId, data: string): void {
    const node = this.nodes.get(id);
    if (!node?.raft) throw new ProposalDropped(`${id} is down`);
    node.raft.propose(data);
    this.drain(node);
  }

  /** A client's linearizable read at node `id`: the answer is a readState to the app. Throws ProposalDropped. */
  clientReadIndex(id: NodeId, context: string): void {
    const node = this.nodes.get(id);
    if (!node?.raft) throw new ProposalDropped(`${id} is down`);
    node.raft.readIndex(context);
    this.drain(node);
  }

  /** Running members (not crashed, not removed). */
  upNodes(): NodeId[] {
    return this.alive().map((n) => n.id);
  }

  /** The leader's voters (none without a leader): after healing, the members that must agree. */
  members(): NodeId[] {
    return this.leader()?.raft!.voters() ?? [];
  }

  isLeader(id: NodeId): boolean {
    return this.nodes.get(id)?.raft?.role === 'leader';
  }

  /** Run `fn` after `delay` simulated ms. */
  schedule(delay: number, fn: () => void): void {
    this.at(delay, fn);
  }

  /** Fails the run with the seed and the recent events. */
  failRun(msg: string): never {
    return this.fail(msg);
  }

  private heal(): void {
    this.chaos = false;
    this.network.heal();
    for (const n of this.nodes.values()) {
      n.rate = 1;
      if (!n.raft && !n.removed) this.start(n);
    }
    // Writes after healing until one is acknowledged: that proves the cluster is live again.
    const ackedBefore = this.stats.acknowledged;
    this.every(
      50,
      () => this.stats.acknowledged === ackedBefore,
      () => this.proposeRandom(),
    );
  }

  /** After healing, one leader, and every member holds and has applied what it committed. */
  private checkConverged(): void {
    const lead = this.leader();
    if (!lead) return this.fail('no leader after healing');
    const raft = lead.raft!;
    for (const n of this.alive()) {
      if (n !== lead && n.raft!.role === 'leader' && n.raft!.term === raft.term)
        this.fail(`two leaders in term ${raft.term}`);
    }
    if (raft.log.term(raft.log.committed) !== raft.term)
      this.fail(`leader ${lead.id} has not committed in its term ${raft.term}`);
    // Learners too: they are sent everything the voters are.
    for (const id of [...raft.voters(), ...raft.learners()]) {
      const n = this.nodes.get(id)!;
      if (!n.raft) this.fail(`member ${id} is down after healing`);
      if (n.applied !== raft.log.committed) {
        this.fail(`member ${id} applied ${n.applied}, leader ${lead.id} committed ${raft.log.committed}`);
      }
    }
    this.checker.checkLogs(this.alive().map((n) => ({ id: n.id, log: n.raft!.log })));
  }

  // ------------------------------------------------------------ scheduling and reporting

  private at(delay: number, run: () => void): void {
    this.clock.at(delay, run);
  }

  private every(ms: number, whileTrue: () => boolean, run: () => void): void {
    this.clock.every(ms, whileTrue, run);
  }

  log(line: string): void {
    this.trace.push(`${this.now.toFixed(1)}ms ${line}`);
    if (this.trace.length > 60) this.trace.shift();
  }

  private fail(msg: string): never {
    throw new SimulationFailure(
      `seed ${this.opts.seed}: ${msg}\n  replay: SIM_SEED=${this.opts.seed} npx vitest run test/sim\n  last events:\n    ${this.trace.join('\n    ')}`,
    );
  }
}

/** A snapshot's data: the digest the safety checker compares, and the app's state machine if any. */
interface SnapData {
  index: number;
  digest: number;
  app?: string;
}

/** A running digest of the applied sequence: equal digests at an index mean equal histories. */
function mix(digest: number, e: Entry): number {
  let h = digest ^ Math.imul(e.term, 0x9e3779b1);
  const s = `${e.type}:${e.data}`;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 16777619);
  return h >>> 0;
}
