// The MVCC store, lessor and txn logic against a real etcd 3.4.23: the same requests to both, the
// answers compared field by field (revisions, versions, counts, `more`, prev_kvs, txn results,
// error codes and texts). First a scripted sequence of etcd's corner cases, then seeded random
// sequences (V3_SEED=<n> replays one; V3_OPS=<n> sets their length).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { needTools } from '../helpers/window.js';
import { ETCD_BIN } from '../helpers/etcd-processes.js';
import { seededRandom } from '../../src-main/sim/rng.js';
import { prefixRangeEnd } from '../../src-main/v3/mvcc/range-end.js';
import { OurStore, RealEtcd, describe as show, type Op } from './v3-harness.js';
import { RandomOps } from './random-ops.js';

const have = needTools('comparing the v3 store with a real etcd', [ETCD_BIN]);
const b = (s: string) => Buffer.from(s, 'latin1');

/** Runs `ops` on a fresh etcd and a fresh store; returns how many answers matched (all, or throws). */
async function compareRun(etcd: RealEtcd, ops: Op[] | ((i: number, rev: number) => Op | undefined), label: string): Promise<number> {
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
  beforeAll(async () => {});
  afterAll(async () => {
    await etcd?.stop();
  });

  it('answers etcd corner cases as etcd does', async () => {
    await fresh();
    const ops: Op[] = [
      { range: { key: b('a') } },
      { range: { key: b('') } },
      { put: { key: b('a'), value: b('1'), prev_kv: true } },
      { put: { key: b('a'), value: b('2'), prev_kv: true } },
      { put: { key: b('a/x'), value: b('3') } },
      { put: { key: b('a/y'), value: b('4') } },
      { put: { key: b('b'), value: b('5') } },
      { range: { key: b('a'), range_end: prefixRangeEnd(b('a')) } },
      { range: { key: b('a'), range_end: prefixRangeEnd(b('a')), limit: 2 } },
      { range: { key: b('a'), range_end: prefixRangeEnd(b('a')), limit: 3 } },
      { range: { key: b('a'), range_end: b('\0'), count_only: true, limit: 1 } },
      { range: { key: b('a'), range_end: b('\0'), keys_only: true } },
      { range: { key: b('a'), range_end: b('\0'), sort_order: 'DESCEND', sort_target: 'MOD', limit: 2 } },
      { range: { key: b('a'), range_end: b('\0'), sort_target: 'VALUE' } },
      { range: { key: b('a'), range_end: b('\0'), min_mod_revision: 4, limit: 1 } },
      { range: { key: b('a'), range_end: b('\0'), max_create_revision: 3 } },
      { range: { key: b('a'), revision: 2 } },
      { range: { key: b('a'), revision: 99 } },
      { range: { key: b('b'), range_end: b('a') } },
      { put: { key: b('zz'), ignore_value: true } },
      { put: { key: b('a'), value: b('v'), ignore_value: true } },
      { put: { key: b('a'), ignore_value: true, prev_kv: true } },
      { put: { key: b('a'), lease: 7n } },
      { put: { key: b('a'), lease: 7n, ignore_lease: true } },
      { lease_grant: { ID: 7n, TTL: 900 } },
      { lease_grant: { ID: 7n, TTL: 900 } },
      { lease_grant: { ID: 8n, TTL: 9_000_000_001 } },
      { put: { key: b('l1'), value: b('x'), lease: 7n } },
      { put: { key: b('l2'), value: b('x'), lease: 7n } },
      { put: { key: b('l2'), value: b('y'), ignore_lease: true, prev_kv: true } },
      { put: { key: b('l2'), value: b('z') } },
      { lease_revoke: { ID: 7n } },
      { lease_revoke: { ID: 7n } },
      { range: { key: b('l'), range_end: prefixRangeEnd(b('l')) } },
      { delete_range: { key: b('nothing') } },
      { delete_range: { key: b('a/'), range_end: prefixRangeEnd(b('a/')), prev_kv: true } },
      // Txns: compares on every target, a missing key, nested txns, the duplicate-key rule.
      { txn: { compare: [{ key: b('a'), target: 'VALUE', result: 'EQUAL', value: b('2') }], success: [{ request_put: { key: b('c'), value: b('1') } }, { request_range: { key: b('c') } }], failure: [{ request_range: { key: b('a') } }] } },
      { txn: { compare: [{ key: b('missing'), target: 'VALUE', result: 'NOT_EQUAL', value: b('2') }], success: [{ request_put: { key: b('c'), value: b('2') } }], failure: [{ request_delete_range: { key: b('nope') } }] } },
      { txn: { compare: [{ key: b('missing'), target: 'VERSION', result: 'EQUAL', version: 0 }, { key: b('a'), target: 'CREATE', result: 'LESS', create_revision: 3 }], success: [{ request_txn: { compare: [{ key: b('c'), target: 'MOD', result: 'GREATER', mod_revision: 1 }], success: [{ request_put: { key: b('d'), value: b('n') } }] } }, { request_range: { key: b('d') } }] } },
      { txn: { compare: [{ key: b('a'), range_end: b('\0'), target: 'LEASE', result: 'EQUAL', lease: 0n }], success: [{ request_delete_range: { key: b('c') } }, { request_delete_range: { key: b('c') } }] } },
      { txn: { success: [{ request_put: { key: b('e'), value: b('1') } }, { request_put: { key: b('e'), value: b('2') } }] } },
      { txn: { success: [{ request_put: { key: b('e'), value: b('1') } }, { request_delete_range: { key: b('a'), range_end: b('f') } }] } },
      { txn: { success: [{ request_put: { key: b('e'), value: b('1') } }, { request_delete_range: { key: b('a'), range_end: b('\0') } }] } },
      { txn: { success: [{ request_txn: { success: [{ request_put: { key: b('f'), value: b('1') } }], failure: [{ request_put: { key: b('f'), value: b('2') } }] } }] } },
      { txn: { success: [{ request_put: { key: b('f'), value: b('1') } }, { request_txn: { success: [{ request_put: { key: b('f'), value: b('2') } }] } }] } },
      { txn: { success: [{}] } },
      { txn: { success: [{ request_range: { key: b('f'), revision: 99 } }] } },
      { txn: { success: [{ request_put: { key: b('f'), value: b('3'), ignore_value: true } }] } },
      { txn: { success: [{ request_put: { key: b('f'), value: b('3'), lease: 12345n } }] } },
      { txn: { compare: [{ key: b(''), target: 'VERSION', result: 'EQUAL', version: 0 }] } },
      { txn: {} },
      { compaction: { revision: 99 } },
      { compaction: { revision: 4 } },
      { compaction: { revision: 4 } },
      { compaction: { revision: 3 } },
      { range: { key: b('a'), revision: 3 } },
      { range: { key: b('a'), revision: 4 } },
      { txn: { success: [{ request_range: { key: b('a'), revision: 3 } }] } },
      { put: { key: b('a'), value: b('after') } },
      { lease_grant: { ID: 9n, TTL: 0 } },
    ];
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
      const n = await compareRun(etcd, (i, rev) => {
        gen.rev = rev;
        return i < length ? gen.next() : undefined;
      }, `seed ${seed}`);
      expect(n).toBe(length);
    });
  }
});
