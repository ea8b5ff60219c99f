// The v2 API on real clusters: watches, TTLs expiring through the log, bad requests, stats,
// a 5-node cluster losing members, and a new member caught up by snapshot.
import { afterEach, describe, expect, it } from 'vitest';
import { nth, one } from '../helpers/checked.js';
import { TestCluster, until } from '../helpers/cluster.js';

let cluster: TestCluster | undefined;
afterEach(async () => {
  await cluster?.destroy();
  cluster = undefined;
});

async function req(url: string, init?: RequestInit): Promise<{ status: number; body: any; text: string }> {
  const res = await fetch(url, { signal: AbortSignal.timeout(15_000), ...init });
  const text = await res.text();
  let body: any;
  try {
    body = JSON.parse(text);
  } catch {
    body = undefined;
  }
  return { status: res.status, body, text };
}

const put = (url: string, key: string, params: Record<string, string>) =>
  req(`${url}/v2/keys${key}`, { method: 'PUT', body: new URLSearchParams(params) });

describe('the v2 API on a real cluster', () => {
  it('a watch on a follower sees a write made on the leader, recursively too', async () => {
    cluster = await TestCluster.create(3);
    const leader = await cluster.leader();
    const follower = cluster.specs.find((s) => s.name !== leader)!.clientURL;
    const plain = req(`${follower}/v2/keys/w/key?wait=true`);
    const recursive = req(`${follower}/v2/keys/w?wait=true&recursive=true`);
    await new Promise((r) => setTimeout(r, 200));
    await put(cluster.url(leader), '/w/key', { value: 'v1' });
    for (const w of await Promise.all([plain, recursive])) {
      expect(w.status).toBe(200);
      expect(w.body).toMatchObject({ action: 'set', node: { key: '/w/key', value: 'v1' } });
    }
  });

  it('a TTL expires through the log: every node drops the key and a watch sees "expire"', async () => {
    cluster = await TestCluster.create(3);
    const leader = await cluster.leader();
    const created = await put(cluster.url(leader), '/ephemeral', { value: 'x', ttl: '1' });
    expect(created.status).toBe(201);
    expect(created.body.node.ttl).toBe(1);
    const watch = req(`${cluster.url('n2')}/v2/keys/ephemeral?wait=true`);
    expect((await watch).body).toMatchObject({ action: 'expire', node: { key: '/ephemeral' } });
    for (const s of cluster.specs) {
      const g = await until(`expiry on ${s.name}`, async () => {
        const r = await req(`${s.clientURL}/v2/keys/ephemeral`);
        return r.status === 404 && r;
      });
      expect(g.body.errorCode).toBe(100);
    }
  });

  it('bad requests get etcd errors and the node keeps serving', async () => {
    cluster = await TestCluster.create(3);
    const leader = cluster.url(await cluster.leader());
    const badTtl = await put(leader, '/k', { value: 'v', ttl: 'soon' });
    expect(badTtl).toMatchObject({
      status: 400,
      body: { errorCode: 202, message: 'The given TTL in POST form is not a number' },
    });
    const badForm = await req(`${leader}/v2/keys/k`, {
      method: 'PUT',
      body: 'value=%zz',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
    });
    expect(badForm.status).toBe(400);
    expect(badForm.body.errorCode).toBe(210);
    // Over the 10 MiB form body real etcd 3.4 takes (test/node/limits.test.ts).
    const huge = await put(leader, '/huge', { value: 'x'.repeat(10 * 1024 * 1024 + 1) });
    expect(huge.status).toBe(400);
    const members = await req(`${leader}/v2/members`, {
      method: 'POST',
      body: '{not json',
      headers: { 'Content-Type': 'application/json' },
    });
    expect(members.status).toBe(400);
    const missing = await req(`${leader}/v2/keys/nope`);
    expect(missing.body).toMatchObject({ errorCode: 100, message: 'Key not found', cause: '/nope' });
    expect((await put(leader, '/after', { value: 'fine' })).status).toBe(201);
  });

  it('stats, version and health answer like etcd', async () => {
    cluster = await TestCluster.create(3);
    const leaderName = await cluster.leader();
    const leader = cluster.url(leaderName);
    const follower = cluster.url(cluster.specs.find((s) => s.name !== leaderName)!.name);
    const self = await req(`${leader}/v2/stats/self`);
    expect(self.body).toMatchObject({ name: leaderName, state: 'StateLeader' });
    const leaderStats = await req(`${leader}/v2/stats/leader`);
    expect(Object.keys(leaderStats.body.followers)).toHaveLength(2);
    expect(await req(`${follower}/v2/stats/leader`)).toMatchObject({
      status: 403,
      body: { message: 'not current leader' },
    });
    expect((await req(`${leader}/version`)).body).toHaveProperty('etcdserver');
    expect(await req(`${follower}/health`)).toMatchObject({ status: 200, body: { health: 'true' } });
    expect((await req(`${leader}/v2/stats/store`)).body).toHaveProperty('setsSuccess');
  });
});

describe('bigger and longer-lived clusters', () => {
  it('5 nodes keep committing with two members down, and elect a new leader after losing theirs', async () => {
    cluster = await TestCluster.create(5);
    const leader = await cluster.leader();
    const others = cluster.specs.map((s) => s.name).filter((n) => n !== leader);
    const [first, second] = [nth(others, 0, 'a follower'), nth(others, 1, 'a second follower')];
    await cluster.stop(first);
    await cluster.stop(second);
    expect((await put(cluster.url(leader), '/five', { value: 'still' })).status).toBe(201);
    await cluster.start(first);
    await cluster.stop(leader); // 3 of 5 left: still a quorum
    const next = await cluster.leader(15_000);
    expect((await put(cluster.url(next), '/five', { value: 'again' })).status).toBe(200);
  });

  it('a new member far behind is caught up with a snapshot', async () => {
    cluster = await TestCluster.create(3, { settings: { snapshotCount: 20, snapshotCatchUpEntries: 5 } });
    const leader = await cluster.leader();
    for (let i = 0; i < 60; i++)
      expect((await put(cluster.url(leader), `/bulk/${i}`, { value: `v${i}` })).status).toBe(201);
    await until('all members published', async () => {
      const m = (await req(`${cluster!.url(leader)}/v2/members`)).body.members;
      return m.every((x: any) => x.clientURLs.length > 0);
    });
    const extra = one(await TestCluster.spareSpecs(1), 'a spare spec');
    const spec = { ...extra, name: 'n4' };
    const add = await req(`${cluster.url(leader)}/v2/members`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ peerURLs: [spec.peerURL] }),
    });
    expect(add.status).toBe(201);
    await cluster.start('n4', cluster.settings('n4', 'existing', [...cluster.specs, spec]));
    const last = await until('n4 has the data', async () => {
      const r = await req(`${spec.clientURL}/v2/keys/bulk/59`);
      return r.status === 200 && r;
    });
    expect(last.body.node.value).toBe('v59');
    expect(cluster.logs.get('n4')!.some((l) => l.includes('applied incoming snapshot'))).toBe(true);
    // And it restarts from its own snapshot and log.
    await cluster.stop('n4');
    await cluster.start('n4', cluster.settings('n4', 'existing', [...cluster.specs, spec]));
    // (fetch may first hit its pooled connection to the old server on this port: retry.)
    const first = await until('n4 serves after restart', async () => {
      try {
        const r = await req(`${spec.clientURL}/v2/keys/bulk/0`);
        return r.status === 200 && r;
      } catch {
        return undefined;
      }
    });
    expect(first.body.node.value).toBe('v0');
  });
});
