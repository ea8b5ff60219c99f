// The faults a chaos run fires at a real cluster, through the supervisor's public commands
// (the same ones the window sends): kill -9 and restart, partitions (cut link sets), isolating
// the leader, clock offset and rate skew, leader transfer, member remove then add.
//
// Two tracks run side by side: a main one, one fault at a time (so that a majority can always
// be restored by healing the current fault), and a clock one (skew never costs availability
// by itself). The kinds come in a seeded, shuffled rotation, so even a short run sees each
// kind; targets are picked with the seeded generator from the cluster as it is at that moment.

import type { Supervisor } from '../cluster/supervisor.js';
import type { FaultRecord } from '../../src-shared/history.js';
import type { NodeState } from '../../src-shared/cluster-state.js';
import type { Rng } from '../util/rng.js';

export const MAIN_FAULTS = ['kill', 'partition', 'isolate-leader', 'transfer-leader', 'remove-readd'] as const;
export const CLOCK_FAULTS = ['clock-offset', 'clock-rate'] as const;
export type FaultKind = (typeof MAIN_FAULTS)[number] | (typeof CLOCK_FAULTS)[number];
export const ALL_FAULTS: readonly FaultKind[] = [...MAIN_FAULTS, ...CLOCK_FAULTS];

export interface FaultTrackOptions {
  kinds: readonly FaultKind[];
  /** A fault lasts this long (ms), then is healed. */
  durationMs: [number, number];
  /** Pause between two faults (ms). */
  gapMs: [number, number];
}

export class FaultInjector {
  readonly faults: FaultRecord[] = [];
  /** Faults that could not be fired or healed, and why. */
  readonly problems: string[] = [];
  /** Nodes currently cut off from the majority (what a "breaks on purpose" read goes to). */
  private cutOff = new Set<string>();

  constructor(
    private readonly sup: Supervisor,
    private readonly now: () => number,
    /** ms since the history's start when the run ends: waits never go past it. */
    private readonly endAt: number,
  ) {}

  /** The current cluster as the window sees it. */
  members(): NodeState[] {
    return this.sup.snapshot().nodes.filter((n) => n.status !== 'removed');
  }

  alive(): NodeState[] {
    return this.members().filter((n) => n.status === 'alive');
  }

  isolated(): string[] {
    return [...this.cutOff];
  }

  /** Runs one track until the run's end: fault, wait, heal, pause, next. */
  async track(rng: Rng, o: FaultTrackOptions, firstAfterMs: number): Promise<void> {
    const order = shuffle(rng, [...o.kinds]);
    if (order.length === 0) throw new Error('a fault track needs at least one fault kind');
    await this.waitUntil(this.now() + firstAfterMs);
    for (let i = 0; this.now() < this.endAt - 300; i++) {
      const kind = order[i % order.length]!;
      await this.fire(kind, rng, rng.int(o.durationMs[0], o.durationMs[1]));
      await this.waitUntil(this.now() + rng.int(o.gapMs[0], o.gapMs[1]));
    }
  }

  /** Fires one fault, keeps it for `durationMs` (or until the run's end), then heals it. */
  async fire(kind: FaultKind, rng: Rng, durationMs: number): Promise<void> {
    try {
      switch (kind) {
        case 'kill': {
          const victim = this.pickTarget(rng, 0.5);
          if (!victim) return this.skip(kind, 'no running node');
          await this.sup.execute({ type: 'killNode', name: victim.name });
          return await this.hold(
            kind,
            `killed ${victim.name}${victim.role === 'leader' ? ' (the leader)' : ''}`,
            durationMs,
            () => retry(() => this.sup.execute({ type: 'restartNode', name: victim.name })),
          );
        }
        case 'partition': {
          const members = this.members();
          const size = rng.int(1, Math.max(1, Math.floor((members.length - 1) / 2)));
          const minority = shuffle(
            rng,
            members.map((n) => n.name),
          ).slice(0, size);
          const rest = members.map((n) => n.name).filter((n) => !minority.includes(n));
          if (rest.length === 0) return this.skip(kind, 'a single member');
          await this.cut(minority, rest);
          return await this.hold(
            kind,
            `partitioned {${minority.join(', ')}} from {${rest.join(', ')}}`,
            durationMs,
            () => this.healCuts(),
          );
        }
        case 'isolate-leader': {
          const leader = this.alive().find((n) => n.role === 'leader');
          if (!leader) return this.skip(kind, 'no leader right now');
          const rest = this.members()
            .map((n) => n.name)
            .filter((n) => n !== leader.name);
          if (rest.length === 0) return this.skip(kind, 'a single member');
          await this.cut([leader.name], rest);
          return await this.hold(kind, `isolated the leader ${leader.name} (term ${leader.term})`, durationMs, () =>
            this.healCuts(),
          );
        }
        case 'transfer-leader': {
          const leader = this.alive().find((n) => n.role === 'leader');
          const followers = this.alive().filter((n) => n.name !== leader?.name);
          if (!leader || followers.length === 0) return this.skip(kind, 'no leader, or no one to hand over to');
          const target = rng.pick(followers);
          await this.sup.execute({ type: 'transferLeader', to: target.name });
          this.record(kind, `leadership transfer ${leader.name} → ${target.name}`);
          return;
        }
        case 'remove-readd': {
          if (this.members().length < 3) return this.skip(kind, 'fewer than 3 members');
          const victim = this.pickTarget(rng, 0.3);
          if (!victim) return this.skip(kind, 'no running node');
          await this.sup.execute({ type: 'removeMember', name: victim.name });
          const removed = `removed member ${victim.name}${victim.role === 'leader' ? ' (the leader)' : ''}`;
          return await this.hold(kind, removed, durationMs, async (f) => {
            const added = (await this.sup.execute({ type: 'addMember' })) as { name: string };
            f.description += `, then added ${added.name}`;
          });
        }
        case 'clock-offset': {
          const victim = this.pickTarget(rng, 0.3);
          if (!victim) return this.skip(kind, 'no running node');
          const offsetMs = (rng.chance(0.5) ? 1 : -1) * rng.int(1000, 8000);
          await this.sup.execute({ type: 'setClock', name: victim.name, offsetMs });
          return await this.hold(
            kind,
            `${victim.name}'s clock ${offsetMs > 0 ? '+' : ''}${(offsetMs / 1000).toFixed(1)} s`,
            durationMs,
            () => this.setClockIfThere(victim.name, { offsetMs: 0 }),
          );
        }
        case 'clock-rate': {
          const victim = this.pickTarget(rng, 0.5);
          if (!victim) return this.skip(kind, 'no running node');
          const rate = rng.pick([0.5, 0.75, 1.5, 2, 3]);
          await this.sup.execute({ type: 'setClock', name: victim.name, rate });
          return await this.hold(
            kind,
            `${victim.name}'s clock runs at ×${rate}${victim.role === 'leader' ? ' (the leader)' : ''}`,
            durationMs,
            () => this.setClockIfThere(victim.name, { rate: 1 }),
          );
        }
      }
    } catch (err) {
      this.problems.push(
        `${(this.now() / 1000).toFixed(2)} s ${kind}: ${err instanceof Error ? err.message : String(err)}`,
      );
    }
  }

  /**
   * The end of a run: every link healed, every clock true, every killed or unstarted member
   * started again, and as many members as asked for. Returns what could not be done.
   */
  async healAll(members: number): Promise<void> {
    const attempt = async (what: string, f: () => Promise<unknown>) => {
      try {
        await f();
      } catch (err) {
        this.problems.push(`heal: ${what}: ${err instanceof Error ? err.message : String(err)}`);
      }
    };
    await attempt('links', () => this.healCuts());
    for (const n of this.members()) {
      if (n.clock.offsetMs !== 0 || n.clock.rate !== 1)
        await attempt(`${n.name}'s clock`, () =>
          this.sup.execute({ type: 'setClock', name: n.name, offsetMs: 0, rate: 1 }),
        );
    }
    // A node may be still shutting down right after its kill: give it a moment.
    for (const n of this.members()) {
      if (n.status === 'killed' || n.status === 'unstarted')
        await attempt(`restart ${n.name}`, () => retry(() => this.sup.execute({ type: 'restartNode', name: n.name })));
    }
    for (let i = this.members().length; i < members; i++)
      await attempt('add a member', () => this.sup.execute({ type: 'addMember' }));
  }

  // ------------------------------------------------------------------ helpers

  /** A fault just made: recorded as `description`, kept for `durationMs` (or until the run's end), then healed. */
  private async hold(
    kind: FaultKind,
    description: string,
    durationMs: number,
    heal: (f: FaultRecord) => Promise<unknown>,
  ): Promise<void> {
    const f = this.record(kind, description);
    await this.waitUntil(this.now() + durationMs);
    await heal(f);
    f.until = this.now();
  }

  /** A running node; the leader with probability `leaderBias`. */
  private pickTarget(rng: Rng, leaderBias: number): NodeState | undefined {
    const alive = this.alive();
    const leader = alive.find((n) => n.role === 'leader');
    if (leader && rng.chance(leaderBias)) return leader;
    return alive.length > 0 ? rng.pick(alive) : undefined;
  }

  private async cut(side: string[], rest: string[]): Promise<void> {
    for (const a of side) for (const b of rest) await this.sup.execute({ type: 'cutLink', a, b });
    for (const a of side) this.cutOff.add(a);
  }

  private async healCuts(): Promise<void> {
    this.cutOff.clear();
    await this.sup.execute({ type: 'healAll' });
  }

  private async setClockIfThere(name: string, clock: { offsetMs?: number; rate?: number }): Promise<void> {
    if (!this.members().some((n) => n.name === name)) return; // removed meanwhile: its clock went with it
    await this.sup.execute({ type: 'setClock', name, ...clock });
  }

  private record(kind: FaultKind, description: string): FaultRecord {
    const f: FaultRecord = { at: this.now(), kind, description };
    this.faults.push(f);
    return f;
  }

  private skip(kind: FaultKind, why: string): void {
    this.problems.push(`${(this.now() / 1000).toFixed(2)} s ${kind} skipped: ${why}`);
  }

  private async waitUntil(t: number): Promise<void> {
    const until = Math.min(t, this.endAt);
    while (this.now() < until) await new Promise((r) => setTimeout(r, Math.min(100, until - this.now())));
  }
}

function shuffle<T>(rng: Rng, xs: T[]): T[] {
  for (let i = xs.length - 1; i > 0; i--) {
    const j = rng.int(0, i);
    [xs[i], xs[j]] = [xs[j]!, xs[i]!]; // j ≤ i < xs.length
  }
  return xs;
}

/** Retries a supervisor command that may fail for a moment (a node still shutting down). */
async function retry<T>(f: () => Promise<T>, tries = 20): Promise<T> {
  for (let i = 1; ; i++) {
    try {
      return await f();
    } catch (err) {
      if (i >= tries || !/still shutting down/.test(err instanceof Error ? err.message : '')) throw err;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}
