// Simulated clients on a simulated cluster: each runs one operation at a time (read, write,
// compare-and-swap on a few keys) against one node, the way a client talks to a real node,
// and records what it could prove in an operation history (src-shared/history.ts) on the
// simulator's clock. The history then goes to the linearizability checker.
//
// What a client learns, and when:
// - write, cas: the node proposes a command entry (appended if it leads, forwarded to its
//   leader if not). ok when that entry is applied on the node the client talked to, with the
//   cas verdict of that node's register (sim-register.ts); fail only when Raft refused it
//   before appending (ProposalDropped); unknown when the node goes down, or on timeout (a
//   forwarded proposal may have been dropped on the way, or appended and lost, or be applied
//   later still).
// - read: read-index (Raft §6.4). ok when the read point comes back and the node has applied
//   up to it, with the node's local value; asked again while no read point came (Raft does not
//   retry a lost MsgReadIndex); unknown on timeout or when the node goes down.
// After the cluster heals and settles, every member reads every key the same way: those final
// reads are part of the history (a lost acknowledged write shows as a violation), must agree,
// and every acknowledged write or cas must be in every member's final state machine.
//
// `mutation` breaks one rule on purpose, to show the checks catch it.

import { checkLinearizability, type CheckOptions, type CheckResult } from '../check/linearizability.js';
import { formatOp, type Op, type OpOutcome } from '../../src-shared/history.js';
import type { Entry, NodeId, ReadState } from '../../src-shared/raft-types.js';
import { ProposalDropped } from '../raft/raft.js';
import { SimCluster, type SimApp, type SimOptions, type SimStats } from './sim-cluster.js';
import { encodeCommand, RegisterMachine, type RegisterCommand } from './sim-register.js';

/**
 * - 'local-reads': a node answers reads from its own register at once, with no read-index
 *   (a deposed leader or a lagging follower serves stale values);
 * - 'ack-on-append': a leader acknowledges a write as soon as it is appended to its own log,
 *   before any quorum holds it (a crash or a partition then loses it).
 */
export type Mutation = 'none' | 'local-reads' | 'ack-on-append';

export interface ClientOptions {
  clients?: number;
  keys?: string[];
  /** Simulated ms after which a client gives up on an operation (outcome unknown). */
  timeoutMs?: number;
  /** Mean simulated ms a client waits between two operations. */
  thinkMs?: number;
  /** Ask again for a read point after this many ms without one. */
  readRetryMs?: number;
  /** No new operation starts after this simulated time (default: a third into the settle phase). */
  stopAt?: number;
  mutation?: Mutation;
}

export interface ClientCounts {
  /** Client operations (final reads excluded), by outcome and type. */
  ops: number;
  ok: number;
  fail: number;
  unknown: number;
  reads: number;
  readsOk: number;
  writes: number;
  writesOk: number;
  cas: number;
  casSwapped: number;
  casCompareFailed: number;
  finalReads: number;
}

export interface ClientRun {
  seed: number;
  stats: SimStats;
  /** Every operation, final reads included (client 'final'). */
  ops: Op[];
  check: CheckResult;
  /** Acknowledged writes and cas missing from some member's final state machine. */
  lostWrites: Op[];
  /** Keys the final reads disagree on. */
  divergent: string[];
  counts: ClientCounts;
  /** Linearizable, nothing lost, final reads agree. */
  ok: boolean;
}

interface Client {
  name: string;
  seq: number;
  /** The last value this client saw per key: what its cas usually expects. */
  seen: Map<string, string>;
  final: boolean;
}

interface Pending {
  op: Op;
  client: Client;
  node: NodeId;
  seq: number;
  /** Reads: the read point once it came back. */
  readIndex?: number;
  done: boolean;
}

const DEFAULTS: Required<Omit<ClientOptions, 'stopAt'>> = {
  clients: 5,
  keys: ['x', 'y', 'z'],
  timeoutMs: 500,
  thinkMs: 10,
  readRetryMs: 50,
  mutation: 'none',
};

export class SimClients implements SimApp {
  readonly cluster: SimCluster;
  readonly opts: Required<ClientOptions>;
  readonly ops: Op[] = [];
  private registers = new Map<NodeId, RegisterMachine>();
  private clients: Client[] = [];
  /** The one command each client has in flight, by client name. */
  private commands = new Map<string, Pending>();
  /** Reads waiting for their read point, by context. */
  private reads = new Map<string, Pending>();
  /** Everything in flight at a node (answered or lost with it). */
  private atNode = new Map<NodeId, Set<Pending>>();
  /** The latest value proposed per key: a cas with no better guess expects it. */
  private lastProposed = new Map<string, string>();
  /** Each operation's sequence number within its client (the command's session number). */
  private seqOf = new Map<Op, number>();
  private nextOpId = 1;

  constructor(sim: SimOptions, options: ClientOptions = {}) {
    this.cluster = new SimCluster(sim, this);
    const c = this.cluster.opts;
    this.opts = { ...DEFAULTS, stopAt: c.chaosMs + c.settleMs / 3, ...options };
  }

  /** The whole run: clients through chaos and part of the settle phase, convergence, final reads, checks. */
  run(checkOptions: CheckOptions = {}): ClientRun {
    const rng = this.cluster.rng;
    for (let i = 1; i <= this.opts.clients; i++) {
      const c: Client = { name: `c${i}`, seq: 0, seen: new Map(), final: false };
      this.clients.push(c);
      this.cluster.schedule(rng() * this.opts.thinkMs, () => this.issue(c));
    }
    const stats = this.cluster.run();

    // Final reads: every member, every key, on the healed cluster.
    const finalClient: Client = { name: 'final', seq: 0, seen: new Map(), final: true };
    const finals: Pending[] = [];
    // (A node added by a membership change that never committed runs on, outside the cluster: not a member.)
    for (const node of this.cluster.members()) {
      for (const key of this.opts.keys) finals.push(this.read(finalClient, node, key));
    }
    const limit = this.cluster.now + 2 * this.opts.timeoutMs;
    while (finals.some((p) => !p.done) && this.cluster.now < limit) this.cluster.runUntil(this.cluster.now + 10);
    for (const p of finals) {
      if (p.op.outcome !== 'ok')
        this.cluster.failRun(
          `final read of ${p.op.key} on ${p.node} did not complete on the healed cluster (${p.op.note ?? 'no answer'})`,
        );
    }
    const divergent = this.opts.keys.filter(
      (k) =>
        new Set(finals.filter((p) => p.op.key === k).map((p) => (p.op as { value?: string | null }).value)).size > 1,
    );

    // Every acknowledged command must be in every member's final state machine.
    const members = this.cluster.members().map((id) => this.registers.get(id)!);
    const lostWrites = this.ops.filter(
      (op) =>
        op.outcome === 'ok' && op.type !== 'read' && members.some((reg) => !reg.has(op.client, this.seqOf.get(op)!)),
    );
    const check = checkLinearizability(this.ops, checkOptions);
    const counts = this.count();
    stats.simulatedMs = this.cluster.now;
    return {
      seed: this.cluster.opts.seed,
      stats,
      ops: this.ops,
      check,
      lostWrites,
      divergent,
      counts,
      ok: check.verdict === 'ok' && lostWrites.length === 0 && divergent.length === 0,
    };
  }

  // ------------------------------------------------------------ SimApp: the nodes' apply loop

  restore(node: NodeId, state: string | undefined, index: number): void {
    const reg = RegisterMachine.fromJSON(state, index);
    this.registers.set(node, reg);
    // A snapshot may cover a command or a read point something here waits for.
    for (const p of [...(this.atNode.get(node) ?? [])]) {
      if (p.op.type === 'read') this.maybeServe(p, reg);
      else {
        const wrote = reg.verdict(p.client.name, p.seq);
        if (wrote !== undefined) this.answered(p, wrote);
      }
    }
  }

  apply(node: NodeId, e: Entry): void {
    const reg = this.registers.get(node)!;
    const res = reg.apply(e);
    if (res) {
      const p = this.commands.get(res.cmd.client);
      const wrote = p && p.node === node && p.seq === res.cmd.seq ? reg.verdict(p.client.name, p.seq) : undefined;
      if (wrote !== undefined) this.answered(p!, wrote);
    }
    const waiting = this.atNode.get(node);
    if (waiting) for (const p of [...waiting]) if (p.readIndex !== undefined) this.maybeServe(p, reg);
  }

  snapshot(node: NodeId): string {
    return this.registers.get(node)!.toJSON();
  }

  readState(node: NodeId, r: ReadState): void {
    const p = this.reads.get(r.context);
    if (!p || p.done || p.node !== node || p.readIndex !== undefined) return;
    p.readIndex = r.index;
    this.maybeServe(p, this.registers.get(node)!);
  }

  down(node: NodeId): void {
    for (const p of [...(this.atNode.get(node) ?? [])]) this.finish(p, 'unknown', `${node} went down`);
  }

  // ------------------------------------------------------------ clients

  private issue(c: Client): void {
    if (this.cluster.now >= this.opts.stopAt) return;
    const rng = this.cluster.rng;
    const up = this.cluster.upNodes();
    if (up.length === 0) return this.cluster.schedule(this.opts.thinkMs, () => this.issue(c));
    const node = rng.pick(up);
    const key = rng.pick(this.opts.keys);
    const r = rng();
    if (r < 0.4) this.read(c, node, key);
    else if (r < 0.75) this.command(c, node, key, false);
    else this.command(c, node, key, true);
  }

  private read(c: Client, node: NodeId, key: string): Pending {
    const seq = ++c.seq;
    const op: Op = {
      id: this.nextOpId++,
      client: c.name,
      node,
      key,
      invoke: this.cluster.now,
      outcome: 'unknown',
      type: 'read',
    };
    const p = this.track(op, c, node, seq);
    if (this.opts.mutation === 'local-reads' && !c.final) {
      this.serve(p, this.registers.get(node)!);
      return p;
    }
    const context = `${c.name}:${seq}`;
    this.reads.set(context, p);
    const ask = () => {
      if (p.done || p.readIndex !== undefined) return;
      try {
        this.cluster.clientReadIndex(node, context);
      } catch (err) {
        if (!(err instanceof ProposalDropped)) throw err; // no leader yet: ask again
      }
      this.cluster.schedule(this.opts.readRetryMs, ask);
    };
    ask();
    this.timeout(p);
    return p;
  }

  private command(c: Client, node: NodeId, key: string, cas: boolean): void {
    const seq = ++c.seq;
    const value = `${c.name}.${seq}`;
    const cmd: RegisterCommand = { client: c.name, seq, key, value };
    const base = {
      id: this.nextOpId++,
      client: c.name,
      node,
      key,
      invoke: this.cluster.now,
      outcome: 'unknown' as const,
    };
    let op: Op;
    if (cas) {
      // Usually the value this client last saw, else the latest one anyone proposed.
      cmd.expected = c.seen.get(key) ?? this.lastProposed.get(key) ?? `${c.name}.0`;
      op = { ...base, type: 'cas', expected: cmd.expected, value };
    } else op = { ...base, type: 'write', value };
    this.lastProposed.set(key, value);
    const p = this.track(op, c, node, seq);
    this.commands.set(c.name, p);
    const leading = this.cluster.isLeader(node);
    try {
      this.cluster.clientPropose(node, encodeCommand(cmd));
    } catch (err) {
      if (!(err instanceof ProposalDropped)) throw err;
      // Refused before anything was appended: it can never take effect.
      return this.finish(p, 'fail', err.message);
    }
    if (this.opts.mutation === 'ack-on-append' && leading && op.type === 'write' && !p.done)
      return this.answered(p, true);
    this.timeout(p);
  }

  private track(op: Op, c: Client, node: NodeId, seq: number): Pending {
    this.ops.push(op);
    this.seqOf.set(op, seq);
    const p: Pending = { op, client: c, node, seq, done: false };
    let set = this.atNode.get(node);
    if (!set) this.atNode.set(node, (set = new Set()));
    set.add(p);
    return p;
  }

  private timeout(p: Pending): void {
    this.cluster.schedule(this.opts.timeoutMs, () => {
      if (!p.done) this.finish(p, 'unknown', `timeout after ${this.opts.timeoutMs} ms`);
    });
  }

  private maybeServe(p: Pending, reg: RegisterMachine): void {
    if (!p.done && p.readIndex !== undefined && reg.index >= p.readIndex) this.serve(p, reg);
  }

  private serve(p: Pending, reg: RegisterMachine): void {
    const value = reg.get(p.op.key);
    if (p.op.type === 'read') p.op.value = value;
    if (value !== null) p.client.seen.set(p.op.key, value);
    this.finish(p, 'ok');
  }

  /** A command's entry was applied on the client's node: ok, with whether it wrote. */
  private answered(p: Pending, wrote: boolean): void {
    if (p.done) return;
    if (p.op.type === 'cas') p.op.succeeded = wrote;
    if (wrote && p.op.type !== 'read') p.client.seen.set(p.op.key, p.op.value);
    this.finish(p, 'ok');
  }

  private finish(p: Pending, outcome: OpOutcome, note?: string): void {
    if (p.done) return;
    p.done = true;
    p.op.outcome = outcome;
    p.op.complete = this.cluster.now;
    if (note) p.op.note = note;
    this.atNode.get(p.node)?.delete(p);
    if (p.op.type === 'read') this.reads.delete(`${p.client.name}:${p.seq}`);
    else if (this.commands.get(p.client.name) === p) this.commands.delete(p.client.name);
    if (!p.client.final) {
      const c = p.client;
      this.cluster.schedule(this.cluster.rng() * 2 * this.opts.thinkMs, () => this.issue(c));
    }
  }

  private count(): ClientCounts {
    const k: ClientCounts = {
      ops: 0,
      ok: 0,
      fail: 0,
      unknown: 0,
      reads: 0,
      readsOk: 0,
      writes: 0,
      writesOk: 0,
      cas: 0,
      casSwapped: 0,
      casCompareFailed: 0,
      finalReads: 0,
    };
    for (const op of this.ops) {
      if (op.client === 'final') {
        k.finalReads++;
        continue;
      }
      k.ops++;
      k[op.outcome]++;
      if (op.type === 'read') {
        k.reads++;
        if (op.outcome === 'ok') k.readsOk++;
      } else if (op.type === 'write') {
        k.writes++;
        if (op.outcome === 'ok') k.writesOk++;
      } else {
        k.cas++;
        if (op.outcome === 'ok') {
          if (op.succeeded) k.casSwapped++;
          else k.casCompareFailed++;
        }
      }
    }
    return k;
  }
}

/** Runs one seeded schedule with clients and checks it. */
export function runLinearizable(sim: SimOptions, clients: ClientOptions = {}, check: CheckOptions = {}): ClientRun {
  return new SimClients(sim, clients).run(check);
}

/** What went wrong in a run, with its seed and how to replay it. */
export function describeFailure(run: ClientRun): string {
  const lines = [
    `seed ${run.seed}: linearizability ${run.check.verdict}, ${run.lostWrites.length} lost acknowledged writes, final reads disagree on [${run.divergent.join(', ')}]`,
  ];
  for (const v of run.check.violations) {
    lines.push(`  ${v.key}: ${v.explanation}`);
    for (const op of v.ops) lines.push(`    ${formatOp(op)}`);
  }
  for (const k of run.check.keys) if (k.verdict === 'unknown') lines.push(`  ${k.key}: checker gave up (${k.reason})`);
  for (const op of run.lostWrites.slice(0, 10)) lines.push(`  lost: ${formatOp(op)}`);
  lines.push(`  replay: SIM_SEED=${run.seed} npx vitest run test/sim/linearizable.test.ts`);
  return lines.join('\n');
}
