// A second real v3 client: the `etcd3` npm package (gRPC, its own copy of etcd's protos, its own
// load balancing across hosts) against three `raftlab node` processes, started as a user starts
// etcd. KV (prefix, limit, sort, count, past revisions, previous values), watch (live, from a
// past revision, with previous values), leases (grant, keep-alive, revoke, expiry when the
// keep-alives stop, time-to-live with keys; a lease kept alive across a leader's kill -9), a
// compare-and-swap (`if(...).then(...).else(...)`) and STM transactions racing on a counter.
import { Etcd3, type IKeyValue, type Lease } from 'etcd3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { nth, one } from '../helpers/checked.js';
import { until } from '../helpers/cluster.js';
import { ProcessCluster } from '../helpers/processes.js';

let cluster: ProcessCluster;
let client: Etcd3;
const urls: string[] = [];
const others: Etcd3[] = [];

/** A client of one member only (the requests of `client` are spread over all three). */
function clientOf(url: string): Etcd3 {
  const c = new Etcd3({ hosts: url, dialTimeout: 5000 });
  others.push(c);
  return c;
}

beforeAll(async () => {
  cluster = await ProcessCluster.create(3);
  for (const n of cluster.startStatic(3)) urls.push(cluster.spec(n).clientURL);
  await cluster.leader(30_000);
  client = new Etcd3({ hosts: urls, dialTimeout: 5000 });
}, 60_000);

afterAll(async () => {
  client?.close();
  for (const c of others) c.close();
  await cluster?.destroy();
});

const str = (b: Buffer | Uint8Array | undefined) => Buffer.from(b ?? []).toString();

describe('the etcd3 npm client against raftlab nodes', () => {
  it('KV: put, get, prefix with limit and sort, count, a past revision, previous values, delete', async () => {
    const first = await client.put('/etcd3/a').value('one');
    const rev1 = Number(first.header.revision);
    expect(rev1).toBeGreaterThan(0);
    const prev = await client.put('/etcd3/a').value('two').getPrevious();
    expect(prev && str(prev.value)).toBe('one');
    // Read through each member: all three answer the same (linearizable reads by default).
    for (const url of urls) expect(await clientOf(url).get('/etcd3/a').string()).toBe('two');
    expect(await client.get('/etcd3/a').revision(rev1).string()).toBe('one');
    await expect(
      client
        .get('/etcd3/a')
        .revision(rev1 + 10_000)
        .string(),
    ).rejects.toThrow(/required revision is a future revision/);

    for (const k of ['c', 'a', 'b', 'd']) await client.put(`/etcd3/p/${k}`).value(k.toUpperCase());
    expect(await client.getAll().prefix('/etcd3/p/').sort('Key', 'Ascend').limit(2).strings()).toEqual({
      '/etcd3/p/a': 'A',
      '/etcd3/p/b': 'B',
    });
    expect(await client.getAll().prefix('/etcd3/p/').sort('Key', 'Descend').limit(1).keys()).toEqual(['/etcd3/p/d']);
    expect(await client.getAll().prefix('/etcd3/p/').count()).toBe(4);
    const kv = one((await client.get('/etcd3/a').exec()).kvs);
    expect({ create: Number(kv.create_revision), version: Number(kv.version) }).toEqual({ create: rev1, version: 2 });

    const del = await client.delete().prefix('/etcd3/p/').getPrevious();
    expect(del.map((x) => str(x.key)).sort()).toEqual(['/etcd3/p/a', '/etcd3/p/b', '/etcd3/p/c', '/etcd3/p/d']);
    expect(await client.getAll().prefix('/etcd3/p/').count()).toBe(0);
    expect(await client.get('/etcd3/p/a').string()).toBeNull();
  });

  it('watch: changes made through another member arrive with their previous values; a watch from a past revision replays history', async () => {
    const writer = clientOf(nth(urls, 2, 'a third member'));
    const start = Number((await writer.put('/etcd3/w/k').value('v0')).header.revision);
    const seen: string[] = [];
    const watcher = await client.watch().prefix('/etcd3/w/').withPreviousKV().create();
    const record = (type: string) => (kv: IKeyValue, previous?: IKeyValue) =>
      seen.push(
        `${type} ${str(kv.key)}=${str(kv.value)} (was ${previous ? str(previous.value) : '-'}) @${kv.mod_revision}`,
      );
    watcher.on('put', record('put')).on('delete', record('delete'));
    const r1 = Number((await writer.put('/etcd3/w/k').value('v1')).header.revision);
    const r2 = Number((await writer.delete().key('/etcd3/w/k')).header.revision);
    await until('both changes seen', () => seen.length >= 2, 20_000);
    expect(seen).toEqual([`put /etcd3/w/k=v1 (was v0) @${r1}`, `delete /etcd3/w/k= (was v1) @${r2}`]);
    await watcher.cancel();

    // From the first put on: the history since, in order.
    const replayed: string[] = [];
    const history = await client.watch().key('/etcd3/w/k').startRevision(String(start)).create();
    history.on('put', (kv) => replayed.push(`put ${str(kv.value)}`)).on('delete', () => replayed.push('delete'));
    await until('the history replayed', () => replayed.length >= 3, 20_000);
    expect(replayed).toEqual(['put v0', 'put v1', 'delete']);
    await history.cancel();
  });

  it('leases: keep-alives hold a key past its TTL; revoke takes it at once; without keep-alives it expires', async () => {
    const kept = client.lease(2);
    let keepalives = 0;
    kept.on('keepaliveSucceeded', () => keepalives++);
    await kept.put('/etcd3/leased/kept').value('held');
    const id = await kept.grant();
    const ttl = await client.leaseClient.leaseTimeToLive({ ID: id, keys: true });
    expect({ granted: Number(ttl.grantedTTL), keys: ttl.keys.map((k) => str(k)) }).toEqual({
      granted: 2,
      keys: ['/etcd3/leased/kept'],
    });
    const once = await kept.keepaliveOnce();
    expect(Number(once.TTL)).toBe(2);
    // Held past twice its TTL by the client's own keep-alives (it sends one every TTL/3).
    const since = Date.now();
    await until('keep-alives for over 4 s', () => Date.now() - since > 4000 && keepalives >= 3, 20_000);
    expect(await client.get('/etcd3/leased/kept').string()).toBe('held');
    await kept.revoke();
    expect(await client.get('/etcd3/leased/kept').string()).toBeNull();
    const after = await client.leaseClient.leaseTimeToLive({ ID: id });
    expect(Number(after.TTL)).toBe(-1);

    // Released: no more keep-alives; the leader expires it and revokes it through the log.
    const dropped: Lease = client.lease(2);
    await dropped.put('/etcd3/leased/dropped').value('brief');
    const droppedId = await dropped.grant();
    dropped.release();
    expect(await client.get('/etcd3/leased/dropped').string()).toBe('brief');
    await until(
      'the key gone with its lease',
      async () => (await client.get('/etcd3/leased/dropped').string()) === null,
      20_000,
    );
    const leases = await client.leaseClient.leaseLeases();
    expect(leases.leases.map((l) => String(l.ID))).not.toContain(String(droppedId));
  });

  it('a compare-and-swap with if/then/else, and STM transactions racing on a counter', async () => {
    await client.put('/etcd3/cas').value('old');
    const swapped = await client
      .if('/etcd3/cas', 'Value', '==', 'old')
      .then(client.put('/etcd3/cas').value('new'))
      .else(client.get('/etcd3/cas'))
      .commit();
    expect(swapped.succeeded).toBe(true);
    const refused = await client
      .if('/etcd3/cas', 'Value', '==', 'old')
      .then(client.put('/etcd3/cas').value('newer'))
      .else(client.get('/etcd3/cas'))
      .commit();
    expect(refused.succeeded).toBe(false);
    expect(str(one(nth(refused.responses, 0).response_range!.kvs).value)).toBe('new');
    const v = Number(one((await client.get('/etcd3/cas').exec()).kvs).version);
    const byVersion = await client
      .if('/etcd3/cas', 'Version', '==', v)
      .then(client.delete().key('/etcd3/cas'))
      .commit();
    expect(byVersion.succeeded).toBe(true);
    expect(await client.get('/etcd3/cas').string()).toBeNull();

    // Two clients (through different members) increment one counter, 10 times each, at once:
    // the STM retries a transaction whose reads changed, so no increment is lost.
    await client.put('/etcd3/counter').value('0');
    const increment = (c: Etcd3) =>
      c.stm({ retries: 50 }).transact(async (tx) => {
        const n = Number(await tx.get('/etcd3/counter').string());
        return tx.put('/etcd3/counter').value(String(n + 1));
      });
    const run = async (c: Etcd3) => {
      for (let i = 0; i < 10; i++) await increment(c);
    };
    await Promise.all([run(clientOf(nth(urls, 0))), run(clientOf(nth(urls, 1)))]);
    expect(await client.get('/etcd3/counter').string()).toBe('20');
  });

  it('a lease kept alive across the leader being killed -9: the new leader counts it on', async () => {
    const lease = client.lease(3);
    await lease.put('/etcd3/survivor').value('still here');
    const id = await lease.grant();
    const leader = await cluster.leader();
    await cluster.kill9(leader);
    const alive = ['n1', 'n2', 'n3'].filter((n) => n !== leader);
    const next = await cluster.leader(30_000);
    expect(alive).toContain(next);
    // The client's keep-alives find the new leader; past the TTL, the key is still there.
    const survivor = clientOf(cluster.spec(next).clientURL);
    const since = Date.now();
    await until('over 2 TTLs under the new leader', () => Date.now() - since > 6000, 20_000);
    expect(await survivor.get('/etcd3/survivor').string()).toBe('still here');
    const ttl = await survivor.leaseClient.leaseTimeToLive({ ID: id });
    expect(Number(ttl.TTL)).toBeGreaterThan(0);
    await lease.revoke();
    expect(await survivor.get('/etcd3/survivor').string()).toBeNull();
  }, 60_000);
});
