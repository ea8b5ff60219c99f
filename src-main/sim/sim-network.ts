// The simulated network: seeded delays, drops, duplicates, reordering and partitions over ordered per-link streams.

import type { Message, NodeId } from '../../src-shared/raft-types.js';
import type { Rng } from '../util/rng.js';
import type { SimScheduler } from './sim-scheduler.js';
import type { SimStats } from './sim-types.js';

export class SimNetwork {
  /** Pairs "a|b" that cannot talk (both directions are listed). */
  private readonly cut = new Set<string>();
  private dropRate = 0;
  private dupRate = 0;
  /** Chance that a message ignores its link's FIFO order (a reconnect, say). */
  private reorderRate = 0;
  /** Per link "a|b": when its last message arrives. Links are ordered streams, like the real transport. */
  private readonly linkClock = new Map<string, number>();

  constructor(
    private readonly rng: Rng,
    private readonly clock: SimScheduler,
    private readonly stats: SimStats,
    private readonly maxDelayMs: number,
    /** Hands an arrived message to its node. */
    private readonly deliver: (m: Message) => void,
  ) {}

  isCut(from: NodeId, to: NodeId): boolean {
    return this.cut.has(`${from}|${to}`);
  }

  send(m: Message): void {
    this.stats.messages++;
    if (this.isCut(m.from, m.to) || this.rng.chance(this.dropRate)) {
      this.stats.dropped++;
      return;
    }
    const copies = this.rng.chance(this.dupRate) ? 2 : 1;
    const link = `${m.from}|${m.to}`;
    for (let i = 0; i < copies; i++) {
      let arrive = this.clock.now + 1 + this.rng() * this.maxDelayMs;
      if (this.rng.chance(this.reorderRate)) {
        // Very late and out of order, overtaken by newer messages.
        arrive += this.rng.int(20, 120);
      } else {
        arrive = Math.max(arrive, this.linkClock.get(link) ?? 0);
        this.linkClock.set(link, arrive);
      }
      this.clock.at(arrive - this.clock.now, () => this.deliver(m));
    }
  }

  /** Cuts a random side of `ids` off from the rest for a while; returns the side. */
  partition(ids: NodeId[]): Set<NodeId> {
    const side = new Set(ids.filter(() => this.rng.chance(0.4)));
    if (side.size === 0) side.add(this.rng.pick(ids));
    this.stats.partitions++;
    for (const a of ids) for (const b of ids) if (side.has(a) !== side.has(b)) this.cut.add(`${a}|${b}`);
    this.clock.at(this.rng.int(80, 700), () => {
      for (const a of side)
        for (const b of ids) {
          this.cut.delete(`${a}|${b}`);
          this.cut.delete(`${b}|${a}`);
        }
    });
    return side;
  }

  /** New drop, duplicate and reorder rates, each off half the time. */
  randomizeRates(): void {
    this.dropRate = this.rng.chance(0.5) ? 0 : this.rng() * 0.1;
    this.dupRate = this.rng.chance(0.5) ? 0 : this.rng() * 0.05;
    this.reorderRate = this.rng.chance(0.5) ? 0 : this.rng() * 0.05;
    this.stats.networkChanges++;
  }

  /** Every link up, nothing dropped, duplicated or reordered from now on. */
  heal(): void {
    this.cut.clear();
    this.dropRate = 0;
    this.dupRate = 0;
    this.reorderRate = 0;
  }
}
