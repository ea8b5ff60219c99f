// A member whose disk fills up stops the way etcd stops (one fatal line, a non-zero exit, no
// stack trace), the rest of the cluster carries on, and once there is room again the member
// restarts from its data dir and catches up. The full disk is a real one where the machine lets
// the test mount a 2 MiB tmpfs on the member's data dir (root); elsewhere SQLite's own page
// limit fills it (RAFTLAB_SQLITE_MAX_PAGES), which fails writes with the same SQLITE_FULL.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { until } from '../helpers/cluster.js';
import { ProcessCluster } from '../helpers/processes.js';
import { putV2 } from '../helpers/v2-keys.js';

let cluster: ProcessCluster | undefined;
let mounted: string | undefined;

afterEach(async () => {
  await cluster?.destroy().catch(() => {});
  if (mounted) execFileSync('umount', [mounted]);
  mounted = undefined;
  if (cluster) fs.rmSync(cluster.dir, { recursive: true, force: true });
  cluster = undefined;
});

/** Mounts a tmpfs of `size` on `dir`; false (and why) where this machine does not allow it. */
function mountTmpfs(dir: string, size: string): boolean {
  fs.mkdirSync(dir, { recursive: true });
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${size}`, 'tmpfs', dir], { stdio: 'pipe' });
    mounted = dir;
    return true;
  } catch (err) {
    console.warn(
      `disk full: no tmpfs can be mounted here (${(err as Error).message.split('\n')[0]}); SQLite's page limit fills the disk instead`,
    );
    return false;
  }
}

/** The PUT's status, 0 when it got no answer within 5 s. */
const put = (url: string, key: string, value: string) => putV2(url, key, value, 5000).catch(() => 0);

async function get(url: string, key: string): Promise<string | undefined> {
  try {
    const res = await fetch(`${url}/v2/keys${key}`, { signal: AbortSignal.timeout(5000) });
    const body = (await res.json()) as { node?: { value?: string } };
    return body.node?.value;
  } catch {
    return undefined;
  }
}

describe('disk full', () => {
  it.each(['a real 2 MiB tmpfs', "SQLite's page limit"] as const)(
    '(%s) stops one member with one fatal line; the others go on; with room again it restarts and catches up',
    async (how) => {
      cluster = await ProcessCluster.create(3);
      const n3dir = path.join(cluster.dir, 'n3.etcd');
      const realDisk = how === 'a real 2 MiB tmpfs' && mountTmpfs(n3dir, '2m');
      if (how === 'a real 2 MiB tmpfs' && !realDisk) return; // said why above; the page-limit case runs everywhere
      // 2 MiB of 4 KiB pages, as the tmpfs.
      const fullEnv: Record<string, string> = realDisk ? {} : { RAFTLAB_SQLITE_MAX_PAGES: '512' };
      const ic = cluster.initialCluster(3);
      for (const n of ['n1', 'n2', 'n3'])
        cluster.start(n, n === 'n3' ? fullEnv : {}, [
          '--name',
          n,
          '--initial-cluster',
          ic,
          '--initial-cluster-state',
          'new',
        ]);
      await cluster.leader();

      // Fill n3's disk with writes the cluster commits (values of 64 KiB, under etcd's limit).
      const big = 'x'.repeat(64 * 1024);
      const [url1, url2] = ['n1', 'n2'].map((n) => cluster!.spec(n).clientURL) as [string, string];
      let i = 0;
      await until(
        'n3 to stop on a full disk',
        async () => {
          await put(i % 2 ? url2 : url1, `/fill/${i++}`, big);
          return !cluster!.alive('n3');
        },
        60_000,
      );
      expect(await cluster.exited('n3')).toBe(1);
      const out = cluster.output('n3');
      const fatal = out.filter((l) => / C \| /.test(l));
      expect(fatal, out.slice(-20).join('\n')).toHaveLength(1);
      expect(fatal[0]).toMatch(
        / C \| etcdserver: (failed to save state and entries error:|save snapshot error:) database or disk is full$/,
      );
      expect(out.filter((l) => /^\s+at |Error:/.test(l))).toEqual([]);

      // The other two still elect and commit.
      await cluster.leader();
      await until(
        'a write after n3 stopped',
        async () => (await put(url1, '/after', 'v1')) === 200 || (await put(url1, '/after', 'v1')) === 201,
      );
      expect(await put(url2, '/after', 'v2')).toBe(200);

      // Room again: n3 restarts from its data dir and catches up.
      if (realDisk) execFileSync('mount', ['-o', 'remount,size=64m', n3dir]);
      cluster.start('n3', {}, ['--name', 'n3', '--initial-cluster', ic, '--initial-cluster-state', 'new']);
      const n3 = cluster.spec('n3').clientURL;
      await until('n3 to catch up', async () => (await get(n3, '/after')) === 'v2', 30_000);
      expect(await get(n3, `/fill/${i - 1}`)).toBe(big);
      expect(cluster.alive('n3')).toBe(true);
    },
    120_000,
  );
});
