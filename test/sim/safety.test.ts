// Thousands of seeded schedules of the real Raft core in a faulty simulated network.
// A failure names its seed; replay one with SIM_SEED=<seed> npx vitest run test/sim.
import { describe, expect, it } from 'vitest';
import { SimCluster, type SimOptions, type SimStats } from '../../src-main/sim/sim-cluster.js';

const only = process.env.SIM_SEED ? Number(process.env.SIM_SEED) : undefined;
const scale = Number(process.env.SIM_SCALE ?? 1);

function runMany(base: number, count: number, opts: Omit<SimOptions, 'seed'>): SimStats[] {
  const seeds = only !== undefined ? [only] : Array.from({ length: Math.round(count * scale) }, (_, i) => base + i);
  return seeds.map((seed) => new SimCluster({ seed, ...opts }).run());
}

function summary(name: string, all: SimStats[]): void {
  const sum = (k: keyof SimStats) => all.reduce((a, s) => a + s[k], 0);
  console.log(
    `${name}: ${all.length} schedules, ${sum('simulatedMs') / 1000}s simulated, ${sum('messages')} messages (${sum('dropped')} dropped), ` +
      `${sum('acknowledged')}/${sum('proposals')} proposals acknowledged, ${sum('leaderChanges')} leaders, ${sum('crashes')} crashes, ` +
      `${sum('partitions')} partitions, ${sum('confChanges')} membership changes (${sum('learnerChanges')} of learners), ${sum('snapshotsInstalled')} snapshots installed, ${sum('reads')} reads`,
  );
}

describe('Raft safety under seeded chaos', () => {
  it('3 nodes: crashes, partitions, drops, duplicates, skewed clocks, transfers, snapshots', () => {
    const all = runMany(1_000, 1000, { nodes: 3, chaosMs: 2000, settleMs: 2000 });
    summary('3 nodes', all);
    expect(all.every((s) => s.acknowledged > 0)).toBe(true);
  });

  it('5 nodes with the same faults', () => {
    const all = runMany(2_000, 600, { nodes: 5, chaosMs: 2000, settleMs: 2000 });
    summary('5 nodes', all);
    expect(all.every((s) => s.acknowledged > 0)).toBe(true);
  });

  it('membership changes (add and remove, the leader included; learners added, promoted, removed) under faults', () => {
    const all = runMany(3_000, 900, { nodes: 3, chaosMs: 3000, settleMs: 2500, membership: true });
    summary('membership', all);
    expect(all.reduce((a, s) => a + s.confChanges, 0)).toBeGreaterThan(0);
    if (only === undefined) expect(all.reduce((a, s) => a + s.learnerChanges, 0)).toBeGreaterThan(0);
  });
});
