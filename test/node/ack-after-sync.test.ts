// A member's fdatasync runs on libuv's thread pool while its event loop goes on, for a Ready of
// several entries (ready-loop.ts); a lone write is synced on the loop. What waits for the disk
// must still wait. Real 3-node clusters in this process; the syncs of chosen members are held
// back (their SQLite writes are real), to see that no acknowledgement and no answer leaves
// before them.
import { afterEach, describe, expect, it } from 'vitest';
import type { ReadyLoop } from '../../src-main/node/ready-loop.js';
import type { RaftStorage } from '../../src-main/storage/raft-storage.js';
import { defined } from '../helpers/checked.js';
import { TestCluster, until } from '../helpers/cluster.js';
import { putV2 } from '../helpers/v2-keys.js';

let cluster: TestCluster | undefined;
afterEach(async () => {
  await cluster?.destroy();
  cluster = undefined;
});

/** Holds every background sync of a member's storage until release(). */
function holdSyncs(storage: RaftStorage): { held: () => number; release: () => void } {
  const waiting: (() => void)[] = [];
  let holding = true;
  const real = storage.syncInBackground.bind(storage);
  storage.syncInBackground = (done) => {
    if (!holding) return real(done);
    waiting.push(() => real(done));
  };
  return {
    held: () => waiting.length,
    release: () => {
      holding = false;
      for (const go of waiting.splice(0)) go();
    },
  };
}

function storageOf(c: TestCluster, name: string): RaftStorage {
  return (defined(c.running.get(name), name).node as unknown as { storage: RaftStorage }).storage;
}

function loopOf(c: TestCluster, name: string): ReadyLoop {
  return (defined(c.running.get(name), name).node as unknown as { loop: ReadyLoop }).loop;
}

/** Counts a member's syncs on the event loop (sync) and on the thread pool (syncInBackground). */
function countSyncs(storage: RaftStorage): { onLoop: number; inBackground: number } {
  const counts = { onLoop: 0, inBackground: 0 };
  const sync = storage.sync.bind(storage);
  const inBackground = storage.syncInBackground.bind(storage);
  storage.sync = () => {
    counts.onLoop++;
    sync();
  };
  storage.syncInBackground = (done) => {
    counts.inBackground++;
    inBackground(done);
  };
  return counts;
}

async function everyMemberServes(c: TestCluster): Promise<void> {
  // Every member published and serves (a request waits for that), so that nothing else is in flight.
  for (const s of c.specs)
    await until(`${s.name} serves`, async () => {
      const r = await fetch(`${s.clientURL}/v2/stats/self`, { signal: AbortSignal.timeout(2000) }).catch(() => null);
      return r?.status === 200;
    });
}

describe('durable before acknowledged, with the fsync off the event loop', () => {
  it('a write commits only once a quorum synced it: the leader answers after the followers’ fdatasync ends', async () => {
    cluster = await TestCluster.create(3);
    const c = cluster;
    const leader = await c.leader();
    await everyMemberServes(c);
    const followers = c.specs.map((s) => s.name).filter((n) => n !== leader);
    // Every Ready of theirs is synced on the thread pool (as under load), where it can be held.
    for (const f of followers) loopOf(c, f).syncOnLoopUpTo = 0;
    const holds = followers.map((n) => holdSyncs(storageOf(c, n)));
    let answered = false;
    const write = fetch(`${c.url(leader)}/v2/keys/held`, {
      method: 'PUT',
      body: new URLSearchParams({ value: 'x' }),
      signal: AbortSignal.timeout(20_000),
    }).then(async (r) => {
      answered = true;
      return { status: r.status, body: (await r.json()) as { node?: { value?: string } } };
    });
    // Both followers wrote the entry and wait for their disk: the leader's own copy is one vote of three.
    await until('both followers hold a sync', () => holds.every((h) => h.held() > 0));
    // Meanwhile the followers' event loops still serve (the fsync is not on them)...
    for (const f of followers) {
      const r = await fetch(`${c.url(f)}/v2/stats/self`, { signal: AbortSignal.timeout(5000) });
      expect(r.status).toBe(200);
    }
    // ...and nothing was acknowledged: the write has no quorum, so no answer.
    expect(answered).toBe(false);
    expect(c.running.get(leader)!.node.status().commit).toBeLessThan(c.running.get(leader)!.node.status().lastIndex);
    defined(holds[0], 'first hold').release();
    const w = await write;
    expect(w.status).toBe(201);
    expect(w.body.node?.value).toBe('x');
    defined(holds[1], 'second hold').release();
  });

  it('a lone write is synced on the event loop of every member, not on the thread pool', async () => {
    cluster = await TestCluster.create(3);
    const c = cluster;
    const leader = await c.leader();
    await everyMemberServes(c);
    const counts = new Map(c.specs.map((s) => [s.name, countSyncs(storageOf(c, s.name))]));
    expect(await putV2(c.url(leader), '/lone', 'x')).toBe(201);
    // The leader synced its entry; a follower may still be syncing when the answer comes (one ack is a quorum).
    await until('every member synced the write', () => [...counts.values()].every((n) => n.onLoop >= 1));
    for (const [name, n] of counts) expect({ name, inBackground: n.inBackground }).toEqual({ name, inBackground: 0 });
  });
});
