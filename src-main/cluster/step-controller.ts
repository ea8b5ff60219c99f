// Step mode: the supervisor becomes the cluster's clock and network. Every node runs in manual
// mode (RaftNode.setManual): its clock no longer ticks Raft, and the peer messages its Raft
// emits (after persisting, exactly as they would have gone on the wire) come here instead of
// going out. They wait in one FIFO queue until the user delivers or drops them; delivering steps
// the message into the target's Raft as its transport would, and answers once the target's
// Ready loop is done, so one step is complete when its command is acknowledged.
//
// Determinism: steps run one at a time (a promise chain), every node's election timeouts come
// from a PRNG seeded by (seed, node name, how many times that node was seeded), ticking "all"
// ticks the nodes one after another in the cluster's order, and each step's held answers reach
// the queue before the step ends. So from the same start (a fresh cluster started with step mode
// on) the same commands (kills and restarts included) give the same Raft events and the same
// queue. What the stepper does not control stays nondeterministic: client requests (and their
// real-time retries and timeouts), messages already on the wire when step mode began, and when
// exactly step mode began on a running cluster (each node's elapsed ticks at that moment).

import type { HeldMessage, MessageSummary, NodeStatus, StepState } from '../../src-shared/cluster-state.js';
import type { CommandResult, StepRunResult } from '../../src-shared/command-results.js';
import type { Command, StepUntil } from '../../src-shared/commands.js';
import type { ServerEvent, StepDropReason } from '../../src-shared/protocol.js';
import type { Message, RaftEvent } from '../../src-shared/raft-types.js';
import type { HeldReport, StepCall, StepReply } from './worker-protocol.js';

export interface StepNode {
  name: string;
  /** Member id ('' until known). */
  id: string;
  status: NodeStatus;
  /** A worker whose node has started (it can take calls). */
  running: boolean;
}

/** What the controller needs from the supervisor. */
export interface StepHost {
  /** The cluster's nodes, in the cluster's order. */
  nodes(): StepNode[];
  call(name: string, call: StepCall): Promise<unknown>;
  isCut(a: string, b: string): boolean;
  nameOf(id: string): string;
  queue(e: ServerEvent): void;
  /** The step state changed: the next cluster snapshot must show it. */
  changed(): void;
}

export type StepCommand = Extract<
  Command,
  { type: 'stepMode' | 'stepDeliver' | 'stepDrop' | 'stepDeliverAll' | 'stepTick' | 'stepRunUntil' | 'stepCancel' }
>;

interface Held {
  view: HeldMessage;
  msg: Message;
}

interface NodeEvent {
  node: string;
  event: RaftEvent;
  /** The node's commit index before the step. */
  commitBefore: number;
}

/** `commit` is the node's commit index before the step. */
const UNTIL: Record<StepUntil, (e: RaftEvent, commit: number) => boolean> = {
  'vote-granted': (e) => e.kind === 'vote' && e.granted,
  leader: (e) => e.kind === 'role' && e.role === 'leader',
  // An advance only: the core's first commit event after a (re)start repeats the stored commit.
  commit: (e, commit) => e.kind === 'commit' && e.index > commit,
  'election-timeout': (e) => e.kind === 'election-timeout',
};

export class StepController {
  private on = false;
  private seed?: number;
  /** Held message ids: 1, 2, 3... per cluster. */
  private seq = 0;
  private held: Held[] = [];
  /** How many times each node was given a seed in this cluster (a restart gets a new stream). */
  private seeded = new Map<string, number>();
  /** The mode each node was last put in (at spawn or by a call), to catch nodes that started meanwhile. */
  private told = new Map<string, boolean>();
  private chain: Promise<unknown> = Promise.resolve();
  /** The stepRunUntil going, if any: cancelling it sets the flag it reads before each step. */
  private run?: { cancelled: boolean };

  constructor(private readonly host: StepHost) {}

  view(): StepState {
    return this.seed === undefined
      ? { on: this.on, held: this.held.map((h) => h.view) }
      : { on: this.on, seed: this.seed, held: this.held.map((h) => h.view) };
  }

  /** A fresh cluster: an empty queue, ids from 1 again, seeds from the start again; the mode stays. */
  reset(): void {
    this.cancelRun();
    this.held = [];
    this.seq = 0;
    this.seeded.clear();
    this.told.clear();
    this.host.changed();
  }

  /** For a worker about to start: its manual settings, or undefined in real time. */
  spawnManual(name: string): { seed: number } | undefined {
    this.told.set(name, this.on);
    return this.on ? { seed: this.seedFor(name) } : undefined;
  }

  /** A node began serving: if the mode changed while it was starting, put it right. */
  onStarted(name: string): void {
    if (this.told.get(name) === this.on) return;
    void this.serial(async () => {
      if (this.told.get(name) !== this.on)
        await this.setNode(name, this.on).catch((err: unknown) => this.cannotSwitch(name, this.on, err));
    });
  }

  /** Messages a node's Raft emitted in manual mode, in order. */
  onHeld(reports: HeldReport[]): void {
    for (const r of reports) {
      const { from, to, ...rest } = r.s;
      const view: HeldMessage = { id: ++this.seq, from: this.host.nameOf(from), to: this.host.nameOf(to), ...rest };
      const h: Held = { view, msg: r.m };
      this.held.push(h);
      this.host.queue({ type: 'step', fate: 'held', message: view, at: r.at });
    }
    this.host.changed();
    // Emitted by a node just before it left manual mode: on its way, like the rest.
    if (!this.on) void this.serial(() => this.deliverAll()).catch(() => {});
  }

  /**
   * Stops the stepRunUntil that is going (if any) before its next step. Not queued behind it,
   * as other step commands are: that would wait for the very run it is meant to stop.
   */
  cancelRun(): void {
    if (this.run) this.run.cancelled = true;
  }

  async execute(cmd: StepCommand): Promise<CommandResult> {
    if (cmd.type === 'stepCancel') {
      this.cancelRun();
      return undefined;
    }
    // Real time again: a run going would hold the switch back until it ends, so it stops first.
    if (cmd.type === 'stepMode' && !cmd.on) this.cancelRun();
    return this.serial(async (): Promise<CommandResult> => {
      if (cmd.type === 'stepMode') {
        await this.setMode(cmd.on, cmd.seed);
        return undefined;
      }
      if (!this.on) throw new Error('step mode is off');
      switch (cmd.type) {
        case 'stepDeliver':
          await this.deliver(this.find(cmd.id));
          return undefined;
        case 'stepDrop': {
          const h = this.find(cmd.id);
          this.remove(h);
          this.fate(h, 'dropped', 'user');
          return undefined;
        }
        case 'stepDeliverAll':
          await this.deliverAll();
          return undefined;
        case 'stepTick':
          await this.tick(cmd.name);
          return undefined;
        case 'stepRunUntil':
          return this.runUntil(cmd.until, cmd.maxSteps ?? 1000);
      }
    });
  }

  // ------------------------------------------------------------------ steps

  private async setMode(on: boolean, seed?: number): Promise<void> {
    // Already so: nothing to do (a new seed while on reseeds every node, below).
    if (on === this.on && (!on || seed === undefined || seed === this.seed)) return;
    if (on) {
      const next = seed ?? Math.floor(Math.random() * 0x1_0000_0000);
      if (next !== this.seed) this.seeded.clear();
      this.seed = next;
    }
    this.on = on;
    this.host.changed();
    for (const n of this.host.nodes()) {
      if (n.status === 'alive' && n.running)
        await this.setNode(n.name, on).catch((err: unknown) => this.cannotSwitch(n.name, on, err));
    }
    // Real time again: what was held goes on its way now (answers go on the wire).
    if (!on) await this.deliverAll();
  }

  /** Said out loud: a node left in real time during step mode would send behind the user's back. */
  private cannotSwitch(name: string, on: boolean, err: unknown): void {
    this.told.delete(name);
    this.host.queue({
      type: 'error',
      message: `${name} could not be switched ${on ? 'into' : 'out of'} step mode: ${err instanceof Error ? err.message : String(err)}`,
    });
  }

  private async setNode(name: string, on: boolean): Promise<void> {
    this.told.set(name, on);
    await this.host.call(name, on ? { op: 'setManual', on, seed: this.seedFor(name) } : { op: 'setManual', on });
  }

  private async deliverAll(): Promise<NodeEvent[]> {
    const events: NodeEvent[] = [];
    // Those held now: the answers they cause wait for the next step.
    for (const h of [...this.held]) if (this.held.includes(h)) events.push(...(await this.deliver(h)));
    return events;
  }

  /** Steps one held message into its target, as the target's transport would. */
  private async deliver(h: Held): Promise<NodeEvent[]> {
    this.remove(h);
    const to = this.host.nodes().find((n) => n.id === h.msg.to);
    // A member being removed still gets what is addressed to it (that is how it learns).
    if (!to || !to.running || (to.status !== 'alive' && to.status !== 'removed')) {
      this.fate(h, 'dropped', 'down');
      return [];
    }
    if (this.host.isCut(h.view.from, to.name)) {
      this.fate(h, 'dropped', 'cut');
      return [];
    }
    const at = this.fate(h, 'delivered');
    this.host.queue({ type: 'message', at, ...summaryOf(h.view) });
    try {
      return nodeEvents(to.name, (await this.host.call(to.name, { op: 'deliver', msgs: [h.msg] })) as StepReply);
    } catch {
      // The target went down while taking it: lost, as on the wire.
      return [];
    }
  }

  /** One tick of one node's clock, or of every running node's, one after another. */
  private async tick(name?: string): Promise<NodeEvent[]> {
    const nodes = this.host.nodes();
    if (name !== undefined) {
      const n = nodes.find((x) => x.name === name);
      if (!n) throw new Error(`no node named ${name}`);
      if (n.status !== 'alive' || !n.running) throw new Error(`${name} is not running`);
      return nodeEvents(name, (await this.host.call(name, { op: 'tick' })) as StepReply);
    }
    const events: NodeEvent[] = [];
    for (const n of nodes) {
      if (n.status !== 'alive' || !n.running) continue;
      try {
        events.push(...nodeEvents(n.name, (await this.host.call(n.name, { op: 'tick' })) as StepReply));
      } catch {
        /* it went down meanwhile: a dead node does not tick */
      }
    }
    return events;
  }

  private async runUntil(until: StepUntil, maxSteps: number): Promise<StepRunResult> {
    if (this.held.length === 0 && !this.host.nodes().some((n) => n.status === 'alive' && n.running)) {
      throw new Error('no running node to step');
    }
    const match = UNTIL[until];
    const run = { cancelled: false };
    this.run = run;
    try {
      for (let steps = 0; steps < maxSteps;) {
        // Checked between steps: the step under way completes (a half-delivered step is no state).
        if (run.cancelled || !this.on) return { reached: false, steps, cancelled: true };
        const [next] = this.held;
        const events = next ? await this.deliver(next) : await this.tick();
        steps++;
        const hit = events.find((e) => match(e.event, e.commitBefore));
        if (hit) return { reached: true, steps, node: hit.node, event: hit.event };
      }
      return { reached: false, steps: maxSteps };
    } finally {
      if (this.run === run) this.run = undefined;
    }
  }

  // ------------------------------------------------------------------ helpers

  private find(id: number): Held {
    const h = this.held.find((x) => x.view.id === id);
    if (!h) throw new Error(`no held message ${id}`);
    return h;
  }

  private remove(h: Held): void {
    const i = this.held.indexOf(h);
    if (i >= 0) this.held.splice(i, 1);
    this.host.changed();
  }

  private fate(h: Held, fate: 'delivered' | 'dropped', reason?: StepDropReason): number {
    const at = Date.now();
    this.host.queue(
      reason ? { type: 'step', fate, message: h.view, at, reason } : { type: 'step', fate, message: h.view, at },
    );
    return at;
  }

  private seedFor(name: string): number {
    const n = (this.seeded.get(name) ?? 0) + 1;
    this.seeded.set(name, n);
    return fnv1a(`${this.seed ?? 0}:${name}:${n}`);
  }

  /** One step at a time, in order: concurrent commands would interleave deliveries. */
  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const p = this.chain.then(fn);
    this.chain = p.catch(() => {});
    return p;
  }
}

function nodeEvents(node: string, r: StepReply): NodeEvent[] {
  return r.events.map((event) => ({ node, event, commitBefore: r.commitBefore }));
}

function summaryOf(v: HeldMessage): MessageSummary {
  const s: MessageSummary = { from: v.from, to: v.to, msgType: v.msgType, term: v.term };
  for (const k of ['index', 'logTerm', 'entries', 'commit', 'reject', 'snapshot'] as const) {
    if (v[k] !== undefined) (s as unknown as Record<string, unknown>)[k] = v[k];
  }
  return s;
}

/** 32-bit FNV-1a: a stable per-node seed from the session seed and the node's name. */
function fnv1a(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}
