// Real 3-node clusters in this process: loopback ports, SQLite files, the etcd v2 API over HTTP.
import { afterEach, describe, expect, it } from 'vitest';
import { defined, one } from '../helpers/checked.js';
import { TestCluster, until } from '../helpers/cluster.js';

let cluster: TestCluster | undefined;
afterEach(async () => {
  await cluster?.destroy();
  cluster = undefined;
});

async function put(url: string, key: string, value: string): Promise<{ status: number; body: any; headers: Headers }> {
  const res = await fetch(`${url}/v2/keys${key}`, {
    method: 'PUT',
    body: new URLSearchParams({ value }),
    signal: AbortSignal.timeout(15_000),
  });
  return { status: res.status, body: await res.json(), headers: res.headers };
}

async function get(url: string, key: string, query = ''): Promise<{ status: number; body: any }> {
  const res = await fetch(`${url}/v2/keys${key}${query}`, { signal: AbortSignal.timeout(15_000) });
  return { status: res.status, body: await res.json() };
}

async function members(url: string): Promise<any[]> {
  const res = await fetch(`${url}/v2/members`);
  return ((await res.json()) as { members: any[] }).members;
}

describe('a real 3-node cluster', () => {
  it('elects a leader, publishes members, and replicates a write to every node', async () => {
    cluster = await TestCluster.create(3);
    const leader = await cluster.leader();
    const w = await put(cluster.url(leader), '/greeting', 'hello');
    expect(w.status).toBe(201);
    expect(w.body).toMatchObject({ action: 'set', node: { key: '/greeting', value: 'hello' } });
    expect(Number(w.headers.get('x-raft-term'))).toBeGreaterThanOrEqual(2);
    for (const s of cluster.specs) {
      const r = await until(`the write on ${s.name}`, async () => {
        const g = await get(s.clientURL, '/greeting');
        return g.status === 200 && g.body;
      });
      expect(r.node.value).toBe('hello');
    }
    const list = await until('all members published', async () => {
      const m = await members(cluster!.url('n1'));
      return m.every((x) => x.clientURLs.length > 0) && m;
    });
    expect(list.map((m: any) => m.name).sort()).toEqual(['n1', 'n2', 'n3']);
    expect(list.find((m: any) => m.name === 'n2').clientURLs).toEqual([cluster.url('n2')]);
  });

  it('forwards a write sent to a follower, and serves a quorum read there', async () => {
    cluster = await TestCluster.create(3);
    const leader = await cluster.leader();
    const follower = cluster.specs.find((s) => s.name !== leader)!.name;
    const w = await put(cluster.url(follower), '/via', 'follower');
    expect(w.status).toBe(201);
    const r = await get(cluster.url(follower), '/via', '?quorum=true');
    expect(r.body.node.value).toBe('follower');
  });

  it('survives the loss of its leader, and the old leader catches up after restarting from its data dir', async () => {
    cluster = await TestCluster.create(3);
    const first = await cluster.leader();
    await put(cluster.url(first), '/before', '1');
    await cluster.stop(first);
    const second = await cluster.leader();
    expect(second).not.toBe(first);
    const w = await put(cluster.url(second), '/after', '2');
    expect(w.status).toBe(201);
    await cluster.start(first);
    await until('the restarted node catches up', async () => (await get(cluster!.url(first), '/after')).status === 200);
    expect((await get(cluster.url(first), '/before')).body.node.value).toBe('1');
  });

  it('removes the leader: it commits its removal, says so, and the rest elect a new leader', async () => {
    cluster = await TestCluster.create(3);
    const leader = await cluster.leader();
    const id = cluster.running.get(leader)!.node.id;
    const other = cluster.specs.find((s) => s.name !== leader)!.name;
    await until('all started', async () => (await members(cluster!.url(other))).every((m) => m.clientURLs.length > 0));
    const res = await fetch(`${cluster.url(other)}/v2/members/${id}`, { method: 'DELETE' });
    expect(res.status).toBe(204);
    await until(
      'the removed node stops',
      () =>
        !cluster!.running.get(leader)!.node.status ||
        cluster!.logs.get(leader)!.some((l) => l.includes('permanently removed')),
    );
    expect(cluster.logs.get(leader)).toContain('I | etcdserver: the data-dir used by this member must be removed.');
    cluster.running.delete(leader);
    const next = await cluster.leader();
    expect(next).not.toBe(leader);
    expect((await members(cluster.url(next))).map((m) => m.id)).not.toContain(id);
    expect((await put(cluster.url(next), '/still', 'works')).status).toBe(201);
  });

  it('adds a member the etcd way: unstarted, then it joins with state "existing" and catches up', async () => {
    cluster = await TestCluster.create(3);
    const leader = await cluster.leader();
    await put(cluster.url(leader), '/old', 'data');
    const extra = one(await TestCluster.spareSpecs(1), 'a spare spec');
    const spec = { ...extra, name: 'n4' };
    await until('all started', async () => (await members(cluster!.url(leader))).every((m) => m.clientURLs.length > 0));
    const res = await fetch(`${cluster.url(leader)}/v2/members`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ peerURLs: [spec.peerURL] }),
    });
    expect(res.status).toBe(201);
    const added = (await res.json()) as any;
    expect(added).toMatchObject({ name: '', peerURLs: [spec.peerURL], clientURLs: [] });
    const unstarted = (await members(cluster.url(leader))).find((m) => m.id === added.id);
    expect(unstarted.name).toBe('');

    const specs = [...cluster.specs, spec];
    await cluster.start('n4', cluster.settings('n4', 'existing', specs));
    await until('n4 caught up', async () => (await get(spec.clientURL, '/old')).status === 200);
    await until(
      'n4 published',
      async () => (await members(cluster!.url(leader))).find((m) => m.id === added.id)?.name === 'n4',
    );
    expect(cluster.running.get('n4')!.node.id).toBe(added.id);
  });

  it('refuses a data dir that belongs to another cluster', async () => {
    cluster = await TestCluster.create(3);
    await cluster.leader();
    await cluster.stop('n1');
    const foreign = { ...cluster.settings('n1'), initialClusterToken: 'some-other-cluster' };
    await expect(cluster.start('n1', foreign)).rejects.toThrow(/belongs to cluster [0-9a-f]+, but/);
  });

  it("warns, as etcd does, when a peer's clock is more than 1 s off", async () => {
    cluster = await TestCluster.create(3);
    await cluster.leader();
    cluster.running.get('n3')!.node.clock.setOffset(3_000);
    const n3id = cluster.running.get('n3')!.node.id;
    await until('the clock warning', () =>
      cluster!.logs
        .get('n1')!
        .find((l) => new RegExp(`the clock difference against peer ${n3id} is too high \\[[0-9.]+s > 1s\\]`).test(l)),
    );
  });

  it('refuses reconfigurations that would cost the quorum (etcd strict reconfig check)', async () => {
    cluster = await TestCluster.create(3);
    const leader = await cluster.leader();
    const url = cluster.url(leader);
    await until('all started', async () => (await members(url)).every((m) => m.clientURLs.length > 0));
    const add = (port: number) =>
      fetch(`${url}/v2/members`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ peerURLs: [`http://127.0.0.1:${port}`] }),
      });
    expect((await add(1)).status).toBe(201); // 3 started of 4, every member reachable
    // As etcd: a member added but not started is not reachable, so the next add is refused.
    const second = await add(2);
    expect(second.status).toBe(500);
    expect(await second.json()).toEqual({ message: 'etcdserver: unhealthy cluster' });

    // With one member down, removing a live one would leave no reachable quorum.
    const fresh = await TestCluster.create(3);
    try {
      const l = await fresh.leader();
      const [down, live] = fresh.specs.map((s) => s.name).filter((n) => n !== l);
      const liveId = fresh.running.get(defined(live, 'a second follower'))!.node.id;
      await fresh.stop(defined(down, 'a follower'));
      const lead = fresh.running.get(l)!.node;
      const downId = lead.members.list().find((m) => m.name === down)!.id;
      await until('the leader notices', () => !lead.peerStats(downId).active, 10_000);
      const rm = await fetch(`${fresh.url(l)}/v2/members/${liveId}`, { method: 'DELETE' });
      expect(rm.status).toBe(500);
      expect(await rm.json()).toEqual({ message: 'etcdserver: unhealthy cluster' });
    } finally {
      await fresh.destroy();
    }
  });
});
