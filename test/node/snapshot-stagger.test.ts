// Members started together take their first snapshot one at a time: a snapshot stops a member
// for a while, and all three at once would leave no majority to commit (ready-loop.ts).
import { afterEach, describe, expect, it } from 'vitest';
import { staggerOf } from '../../src-main/node/ready-loop.js';
import { TestCluster } from '../helpers/cluster.js';
import { putV2 } from '../helpers/v2-keys.js';

let cluster: TestCluster | undefined;
afterEach(async () => {
  await cluster?.destroy();
  cluster = undefined;
});

describe('staggered snapshots', () => {
  it('a member waits its rank among the voters (by id) times count / (4 × voters) past the count', () => {
    const voters = ['c3', 'a1', 'b2'];
    expect(['a1', 'b2', 'c3'].map((id) => staggerOf(id, voters, 100_000))).toEqual([0, 8333, 16666]);
    // A learner (or a member not yet in the configuration) ranks last; a lone member waits not at all.
    expect(staggerOf('d4', voters, 100_000)).toBe(24_999);
    expect(staggerOf('a1', ['a1'], 100_000)).toBe(0);
    expect(staggerOf('a1', [], 100_000)).toBe(0);
  });

  it('on a real cluster, the three first snapshots fall on different entries, in the order of rank', async () => {
    // Steps of 60 / 12 = 5 entries: ranks 0, 1, 2 snapshot after 60, 65 and 70 applied entries.
    cluster = await TestCluster.create(3, { settings: { snapshotCount: 60, snapshotCatchUpEntries: 5 } });
    const leader = await cluster.leader();
    // One write at a time: no member applies more than a couple of entries per Ready.
    for (let i = 0; i < 90; i++) expect(await putV2(cluster.url(leader), `/s/${i}`, `v${i}`)).toBe(201);
    const members = (await (await fetch(`${cluster.url(leader)}/v2/members`)).json()) as {
      members: { id: string; name: string }[];
    };
    const byRank = [...members.members].sort((a, b) => (a.id < b.id ? -1 : 1));
    const firstSnapshot = (name: string) => {
      for (const line of cluster!.logs.get(name) ?? []) {
        const m = /saved snapshot at index (\d+)/.exec(line);
        if (m) return Number(m[1]);
      }
      return undefined;
    };
    const at = byRank.map((m) => firstSnapshot(m.name));
    console.log(`first snapshots by rank (ids ${byRank.map((m) => m.id).join(', ')}): ${at.join(', ')}`);
    // Never before count + stagger (every entry counts, from the first, so the index is the
    // count of applied entries); the lowest rank before the highest. Unstaggered: 60, 60, 60.
    for (const [rank, index] of at.entries()) expect(index).toBeGreaterThanOrEqual(60 + 5 * rank);
    expect(at[0]!).toBeLessThan(at[2]!);
    expect(new Set(at).size).toBe(3);
  });
});
