// The MVCC store, lessor and txn logic against a real etcd 3.4.23: the same requests to both, the
// answers compared field by field (revisions, versions, counts, `more`, prev_kvs, txn results,
// error codes and texts). First a scripted sequence of etcd's corner cases, then seeded random
// sequences (V3_SEED=<n> replays one; V3_OPS=<n> sets their length).
import { afterAll, describe, expect, it } from 'vitest';
import { needTools } from '../helpers/window.js';
import { ETCD_BIN } from '../helpers/etcd-processes.js';
import { seededRandom } from '../../src-main/util/rng.js';
import { OurStore, RealEtcd, describe as show, type Op } from './v3-harness.js';
import { RandomOps } from './random-ops.js';
import { SCRIPTED_OPS } from './scripted-ops.js';

const have = needTools('comparing the v3 store with a real etcd', [ETCD_BIN]);
const b = (s: string) => Buffer.from(s, 'latin1');

/** Runs `ops` on a fresh etcd and a fresh store; returns how many answers matched (all, or throws). */
async function compareRun(
  etcd: RealEtcd,
  ops: Op[] | ((i: number, rev: number) => Op | undefined),
  label: string,
): Promise<number> {
  const ours = new OurStore();
  let n = 0;
  for (let i = 0; ; i++) {
    const op = Array.isArray(ops) ? ops[i] : ops(i, ours.sm.rev());
    if (!op) break;
    const want = await etcd.call(op);
    const got = ours.call(op);
    expect(got, `${label}: op #${i} ${show(op)}`).toEqual(want);
    n++;
  }
  // Both sides end in the same state: every key at the end, compared too.
  const all: Op = { range: { key: b('\0'), range_end: b('\0') } };
  expect(ours.call(all), `${label}: final state`).toEqual(await etcd.call(all));
  return n;
}

describe.runIf(have)('v3 KV against a real etcd 3.4', () => {
  let etcd: RealEtcd;
  // Each test starts its own etcd: a store's revisions start at 1.
  const fresh = async () => {
    await etcd?.stop();
    etcd = await RealEtcd.start();
  };
  afterAll(async () => {
    await etcd?.stop();
  });

  it('answers etcd corner cases as etcd does', async () => {
    await fresh();
    const ops = SCRIPTED_OPS;
    const n = await compareRun(etcd, ops, 'scripted');
    expect(n).toBe(ops.length);
  });

  const seeds = process.env.V3_SEED ? [Number(process.env.V3_SEED)] : [1, 2, 3];
  const length = Number(process.env.V3_OPS ?? 250);
  for (const seed of seeds) {
    it(`answers a random sequence as etcd does (seed ${seed}, ${length} ops)`, async () => {
      await fresh();
      const gen = new RandomOps(seededRandom(seed));
      console.log(`v3 random comparison: seed ${seed} (V3_SEED=${seed} replays it)`);
      const n = await compareRun(
        etcd,
        (i, rev) => {
          gen.rev = rev;
          return i < length ? gen.next() : undefined;
        },
        `seed ${seed}`,
      );
      expect(n).toBe(length);
    });
  }
});
