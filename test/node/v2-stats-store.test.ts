// /v2/stats/store's counters on a `raftlab node` and on Debian's etcd 3.4, both one member, moved
// by the same keys requests: every keys request reads v2 auth's flag first (etcd's detectAuth, a
// get of /2/enabled that fails until auth is set up), and both must count that read alike.
import { describe, expect, it } from 'vitest';
import { nth } from '../helpers/checked.js';
import { ETCD_BIN, bothClustersForSuite } from '../helpers/etcd-processes.js';
import { needTools } from '../helpers/window.js';

const haveEtcd = needTools('store stats compared with real etcd', [ETCD_BIN]);

/** Keys requests of every kind a client makes: hits, misses, writes that succeed and fail. */
const REQUESTS: [method: string, path: string, form?: string][] = [
  ['PUT', '/v2/keys/s/a?prevExist=false', 'value=1'],
  ['PUT', '/v2/keys/s/a?prevExist=false', 'value=1'],
  ['PUT', '/v2/keys/s/a?prevExist=true', 'value=2'],
  ['PUT', '/v2/keys/s/missing?prevExist=true', 'value=2'],
  ['PUT', '/v2/keys/s/a?prevValue=2', 'value=3'],
  ['PUT', '/v2/keys/s/a?prevValue=nope', 'value=4'],
  ['GET', '/v2/keys/s/a'],
  ['GET', '/v2/keys/s/missing'],
  ['GET', '/v2/keys/s?recursive=true'],
  ['GET', '/v2/keys/s/a?quorum=true'],
  ['HEAD', '/v2/keys/s/a'],
  ['GET', '/v2/keys/s/a/under'],
  ['PUT', '/v2/keys/s/b?ttl=bad', 'value=1'],
  ['DELETE', '/v2/keys/s/missing'],
  ['DELETE', '/v2/keys/s/a?prevValue=3'],
];

/**
 * Counters the requests above move. setsSuccess is left out: etcd 3.4 also records its cluster
 * version in the v2 store a few seconds after it starts, whenever that falls.
 */
const COMPARED = [
  'getsSuccess',
  'getsFail',
  'setsFail',
  'deleteSuccess',
  'deleteFail',
  'updateSuccess',
  'updateFail',
  'createSuccess',
  'createFail',
  'compareAndSwapSuccess',
  'compareAndSwapFail',
  'compareAndDeleteSuccess',
  'compareAndDeleteFail',
];

async function stats(base: string): Promise<Record<string, number>> {
  const r = await fetch(`${base}/v2/stats/store`);
  expect(r.status).toBe(200);
  return (await r.json()) as Record<string, number>;
}

/** How much each compared counter moved over the requests, and the statuses they got. */
async function moved(base: string): Promise<{ statuses: number[]; delta: Record<string, number> }> {
  const before = await stats(base);
  const statuses: number[] = [];
  for (const [method, path, form] of REQUESTS) {
    const r = await fetch(`${base}${path}`, {
      method,
      ...(form === undefined ? {} : { body: form, headers: { 'Content-Type': 'application/x-www-form-urlencoded' } }),
    });
    await r.arrayBuffer();
    statuses.push(r.status);
  }
  const after = await stats(base);
  return { statuses, delta: Object.fromEntries(COMPARED.map((k) => [k, (after[k] ?? NaN) - (before[k] ?? NaN)])) };
}

describe.runIf(haveEtcd)('/v2/stats/store, compared with etcd 3.4', () => {
  const both = bothClustersForSuite(1);

  it('moves alike for the same keys requests, v2 auth’s read of its flag included', async () => {
    const ours = both.ours.spec(nth(both.ourNames, 0, 'our member')).clientURL;
    const etcd = both.etcd.spec(nth(both.etcdNames, 0, 'the etcd member')).clientURL;
    await Promise.all([
      both.ours.serving(nth(both.ourNames, 0, 'our member'), 30_000),
      both.etcd.serving(nth(both.etcdNames, 0, 'the etcd member'), 30_000),
    ]);
    const [a, b] = [await moved(ours), await moved(etcd)];
    expect(a).toEqual(b);
    // Not vacuous: each keys request failed a get of the flag (auth was never set up).
    expect(a.delta.getsFail).toBeGreaterThanOrEqual(REQUESTS.length);
  }, 60_000);
});
