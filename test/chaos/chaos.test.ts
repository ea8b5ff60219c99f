// Chaos on real nodes (worker threads, loopback ports, SQLite): short seeded runs must end with
// no linearizability violation, no lost acknowledged write, and every member agreeing, with the
// clients on etcd's v2 keys API or on its v3 API (Put, linearizable Range, Txn compare-and-swap
// through the /v3 gateway); and a run that breaks on purpose (reads without quorum from a cut-off
// follower) must be caught, on either API.
// runChaos stops its cluster itself, whatever happens.
import { describe, expect, it } from 'vitest';
import { runChaos, STALE_KEY, type ChaosResult } from '../../src-main/chaos/chaos-runner.js';
import { summarize } from '../../src-main/chaos/cli.js';
import { defined, nth } from '../helpers/checked.js';

/** The CLI's summary, shown when an assertion fails: faults, ops and violations in one place. */
const why = (r: ChaosResult) => `seed ${r.seed}\n${summarize(r)}`;

/** The faults of a run, for its one line in the CI log: "kill ×2, partition ×1". */
const faultCounts = (r: ChaosResult) =>
  Object.entries(r.counts.faults)
    .map(([k, n]) => `${k} ×${n}`)
    .join(', ');

/** What every sound run ends with: linearizable, nothing acknowledged lost, every member agreeing. */
function expectSound(r: ChaosResult): void {
  expect(r.check.verdict, why(r)).toBe('ok');
  expect(r.check.violations, why(r)).toEqual([]);
  expect(r.lostWrites, why(r)).toEqual([]);
  expect(r.converged, why(r)).toBe(true);
  expect(r.divergentKeys, why(r)).toEqual([]);
  expect(r.ok).toBe(true);
}

describe('chaos on a real 3-node cluster', () => {
  it.each([
    { seed: 1, seconds: 20 },
    { seed: 2, seconds: 20 },
  ])(
    'seed $seed, $seconds s: linearizable, nothing lost, converged',
    async ({ seed, seconds }) => {
      const r = await runChaos({ nodes: 3, seconds, seed });
      // One line for the CI log: what this run checked.
      const o = r.counts.outcomes;
      console.log(
        `chaos seed ${seed}, ${seconds} s, 3 nodes: ${r.history.ops.length} operations (${o.ok} ok, ${o.fail} fail, ${o.unknown} unknown) and ${r.history.faults.length} faults (${faultCounts(r)}); ${r.check.violations.length} violations, ${r.lostWrites.length} lost writes, converged: ${r.converged}`,
      );
      expectSound(r);
      // Faults did fire, of several kinds, and were healed.
      expect(r.history.faults.length, why(r)).toBeGreaterThanOrEqual(4);
      expect(Object.keys(r.counts.faults).length, why(r)).toBeGreaterThanOrEqual(3);
      // Operations did complete, of every type, through the faults.
      expect(r.counts.ops.read.ok, why(r)).toBeGreaterThan(20);
      expect(r.counts.ops.write.ok, why(r)).toBeGreaterThan(10);
      expect(r.counts.casSwapped + r.counts.casCompareFailed, why(r)).toBeGreaterThan(0);
      // Every member's local state was read back, and it is in the history the checker judged.
      const members = Object.keys(defined(r.finalValues['/k0'], 'the final values of /k0'));
      expect(members.length).toBeGreaterThanOrEqual(3);
      expect(r.counts.finalReads).toBe(3 * members.length);
      expect(r.history.ops.filter((op) => op.client === 'final')).toHaveLength(r.counts.finalReads);
    },
    120_000,
  );

  it('v3 workload (Put, linearizable Range, Txn compare-and-swap through the /v3 gateway), seed 4, 10 s: linearizable, nothing lost, converged', async () => {
    const seed = 4;
    const seconds = 10;
    const r = await runChaos({ nodes: 3, seconds, seed, workload: 'v3' });
    const o = r.counts.outcomes;
    console.log(
      `chaos v3 seed ${seed}, ${seconds} s, 3 nodes: ${r.history.ops.length} operations (${r.counts.ops.read.ok} Range ok, ${r.counts.ops.write.ok} Put ok, ${r.counts.casSwapped} Txn swapped, ${r.counts.casCompareFailed} Txn compare failed; ${o.ok} ok, ${o.fail} fail, ${o.unknown} unknown) and ${r.history.faults.length} faults (${faultCounts(r)}); ${r.check.violations.length} violations, ${r.lostWrites.length} lost writes, converged: ${r.converged}`,
    );
    expect(r.workload).toBe('v3');
    expectSound(r);
    expect(r.history.faults.length, why(r)).toBeGreaterThanOrEqual(2);
    // The v3 keyspace ("k0".., no v2 key touched), every operation type answered through the gateway.
    expect(Object.keys(r.finalValues).sort()).toEqual(['k0', 'k1', 'k2']);
    expect(new Set(r.history.ops.map((op) => op.key))).toEqual(new Set(['k0', 'k1', 'k2']));
    expect(
      r.history.ops
        .filter((op) => op.outcome === 'ok' && op.client !== 'final')
        .every((op) => op.note?.startsWith('HTTP 200')),
    ).toBe(true);
    expect(r.counts.ops.read.ok, why(r)).toBeGreaterThan(10);
    expect(r.counts.ops.write.ok, why(r)).toBeGreaterThan(5);
    expect(r.counts.casSwapped, why(r)).toBeGreaterThan(0);
    // Each key's final value is one some client put (a v3 Range read it back from every member).
    const written = new Set(r.history.ops.filter((op) => op.type !== 'read').map((op) => op.value));
    for (const byNode of Object.values(r.finalValues))
      for (const v of Object.values(byNode)) if (v !== null) expect(written.has(v)).toBe(true);
    expect(r.counts.finalReads).toBe(3 * Object.keys(defined(r.finalValues.k0, 'the final values of k0')).length);
  }, 120_000);

  it('v3 breaking on purpose: a serializable Range from a cut-off follower is caught', async () => {
    const r = await runChaos({ nodes: 3, seconds: 2, seed: 3, breakOnPurpose: true, workload: 'v3' });
    expect(r.check.verdict, why(r)).toBe('violation');
    const v = r.check.violations.find((x) => x.key === STALE_KEY);
    expect(
      v!.ops.map((op) => `${op.type} ${op.value}`),
      why(r),
    ).toEqual(['write v0', 'write v1', 'read v0']);
    expect(nth(defined(v, 'a violation on the stale key').ops, 2).note).toBe('HTTP 200, serializable');
    expect(r.converged, why(r)).toBe(true);
    expect(new Set(Object.values(defined(r.finalValues[STALE_KEY], 'the final values of the stale key')))).toEqual(
      new Set(['v1']),
    );
  }, 120_000);

  it('breaking on purpose: reads without quorum from a cut-off follower are caught', async () => {
    const r = await runChaos({ nodes: 3, seconds: 2, seed: 3, breakOnPurpose: true });
    expect(r.ok).toBe(false);
    expect(r.check.verdict, why(r)).toBe('violation');
    // The scripted one, always: v0 written and seen by the follower, follower cut off, v1
    // acknowledged through the majority, then the follower answers v0.
    const v = r.check.violations.find((x) => x.key === STALE_KEY);
    expect(v, why(r)).toBeDefined();
    expect(
      v!.ops.map((op) => `${op.type} ${op.type === 'read' ? op.value : op.value}`),
      why(r),
    ).toEqual(['write v0', 'write v1', 'read v0']);
    expect(v!.explanation).toMatch(
      /^read of \/stale by demo at [\d.]+ s returned v0, but write \/stale=v1 by demo completed at [\d.]+ s before it began and nothing wrote v0 after$/,
    );
    expect(r.history.faults[0]).toMatchObject({
      kind: 'partition',
      description: expect.stringMatching(/^isolated follower n\d/),
    });
    // Healed, the follower caught up: the cluster itself is fine.
    expect(r.converged, why(r)).toBe(true);
    expect(new Set(Object.values(defined(r.finalValues[STALE_KEY], 'the final values of the stale key')))).toEqual(
      new Set(['v1']),
    );
  }, 120_000);
});
