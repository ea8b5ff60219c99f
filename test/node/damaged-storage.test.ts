// Damaged storage is refused, as etcd refuses a damaged WAL ("walpb: crc mismatch") or a
// wiped member ("has already been bootstrapped"): real `raftlab node` processes write keys,
// are killed with kill -9, their files are damaged the way issue 12 measured, and the restart
// must end with ONE `C |` line saying what is wrong and what to do, exit code 1, no stack
// trace; in a cluster the other members keep serving and the damaged one never comes back empty.
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { seededRandom } from '../../src-main/util/rng.js';
import { StorageDamagedError } from '../../src-main/storage/raft-storage.js';
import { auditWal } from '../../src-main/storage/wal-audit.js';
import { group } from '../helpers/checked.js';
import { TestCluster, until } from '../helpers/cluster.js';
import { ETCD_BIN, EtcdCluster } from '../helpers/etcd-processes.js';
import { ProcessCluster } from '../helpers/processes.js';

const KEYS = 200;
/** Frames the current WAL generation has when n1 is killed: its middle is damaged with many commits after it. */
const MIN_WAL_FRAMES = 60;

interface Damage {
  name: string;
  apply(db: string): void;
  /** The problem part of the fatal line. */
  says: RegExp;
}

function sql(db: string, statement: string): void {
  const c = new Database(db);
  try {
    c.exec(statement);
  } finally {
    c.close(); // checkpoints the WAL into the database: only the edited row is wrong
  }
}

const DAMAGES: Damage[] = [
  {
    name: 'the database truncated to 0 bytes',
    apply: (db) => fs.truncateSync(db, 0),
    says: /the database is empty \(0 bytes\), but the data dir was initialised as member [0-9a-f]{1,16} \(n1\) of cluster [0-9a-f]{1,16}/,
  },
  {
    name: 'random bytes written into the WAL',
    apply: (db) => {
      // Into the middle of the frames SQLite would use, as a bad disk or a stray write would.
      const wal = `${db}-wal`;
      const audit = auditWal(wal)!;
      expect(audit.usedFrames).toBeGreaterThanOrEqual(MIN_WAL_FRAMES);
      const pageSize = fs.readFileSync(wal).readUInt32BE(8);
      const rnd = seededRandom(7);
      const garbage = Buffer.from(Array.from({ length: 4096 }, () => rnd.int(0, 255)));
      const fd = fs.openSync(wal, 'r+');
      fs.writeSync(fd, garbage, 0, garbage.length, 32 + Math.floor(audit.usedFrames / 2) * (24 + pageSize) + 100);
      fs.closeSync(fd);
    },
    says: /its WAL (fails its checksum at frame \d+ of \d+, followed by a later transaction|has foreign bytes at frame \d+)/,
  },
  {
    name: 'the WAL deleted',
    apply: (db) => fs.rmSync(`${db}-wal`),
    says: /(the database holds no member identity, but the data dir was initialised as member [0-9a-f]{1,16} \(n1\).*its WAL was probably lost|the database is older than what this member had made durable .*its WAL raftlab\.db-wal was lost or cut short)/,
  },
  {
    name: 'the database deleted, its WAL present',
    apply: (db) => fs.rmSync(db),
    says: /the database is missing \(its WAL raftlab\.db-wal is still there\), but the data dir was initialised as member [0-9a-f]{1,16} \(n1\)/,
  },
  {
    name: 'the hard state row corrupted',
    apply: (db) => sql(db, 'UPDATE hard_state SET commit_index = commit_index - 1'),
    says: /the hard state \(term \d+, vote \w+, commit \d+\) fails its checksum/,
  },
  {
    name: "an entry's data flipped",
    apply: (db) =>
      sql(
        db,
        `UPDATE entries SET data = substr(data, 1, 20) || (CASE substr(data, 21, 1) WHEN 'a' THEN 'b' ELSE 'a' END) || substr(data, 22)
         WHERE idx = (SELECT max(idx) - 3 FROM entries)`,
      ),
    says: /log entry \d+ \(term \d+\) fails its checksum/,
  },
];

/** The refusal, exactly: one C line naming the file, the problem and what to do; exit 1; no stack. */
function expectRefused(output: string[], code: number | null, dataDir: string, says: RegExp): void {
  const text = output.join('\n');
  expect(code, text).toBe(1);
  const fatal = output.filter((l) => / C \| /.test(l));
  expect(fatal, text).toHaveLength(1);
  expect(fatal[0]).toMatch(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{6} C \| etcdmain: Raft storage /);
  expect(fatal[0]).toContain(path.join(dataDir, 'member', 'raftlab.db'));
  expect(fatal[0], fatal[0]).toMatch(says);
  expect(fatal[0], fatal[0]).toMatch(
    /the data dir is damaged and this member cannot restart from it: remove the data dir, run `etcdctl member remove [0-9a-f]{1,16}` and `etcdctl member add n1 --peer-urls=<its peer URLs>` on the cluster, then start the member with --initial-cluster-state existing/,
  );
  expect(text).not.toMatch(/^\s+at /m);
  expect(text).not.toMatch(/Error:/);
}

async function putKeys(clientURL: string, n: number, prefix = 'k'): Promise<void> {
  for (let i = 0; i < n; i += 20) {
    await Promise.all(
      Array.from({ length: Math.min(20, n - i) }, async (_, j) => {
        const r = await fetch(`${clientURL}/v2/keys/${prefix}${i + j}`, {
          method: 'PUT',
          body: new URLSearchParams({ value: `value-${i + j}` }),
        });
        expect(r.status).toBe(201);
      }),
    );
  }
}

/**
 * Writes `n` keys, then more until n1's current WAL generation holds MIN_WAL_FRAMES (SQLite
 * restarts its WAL after each checkpoint, so the count of frames depends on when that was).
 */
async function putKeysFillingWal(c: ProcessCluster, clientURL: string, n: number): Promise<number> {
  await putKeys(clientURL, n);
  let written = n;
  while ((auditWal(`${dbOf(c, 'n1')}-wal`)?.usedFrames ?? 0) < MIN_WAL_FRAMES && written < 20 * n) {
    await putKeys(clientURL, 20, `k${written}-`);
    written += 20;
  }
  return written;
}

async function countKeys(clientURL: string, prefix = 'k'): Promise<number> {
  const r = await fetch(`${clientURL}/v2/keys/?quorum=true`);
  const body = (await r.json()) as { node: { nodes?: { key: string }[] } };
  return (body.node.nodes ?? []).filter((n) => n.key.startsWith(`/${prefix}`)).length;
}

let procs: ProcessCluster | undefined;
afterEach(async () => {
  await procs?.destroy();
  procs = undefined;
});

function startMember(c: ProcessCluster, name: string, members: number): void {
  c.start(name, {}, ['--name', name, '--initial-cluster', c.initialCluster(members), '--initial-cluster-state', 'new']);
}

function dbOf(c: ProcessCluster, name: string): string {
  return path.join(c.dir, `${name}.etcd`, 'member', 'raftlab.db');
}

describe('a single `raftlab node` refuses its damaged data dir after kill -9', () => {
  for (const d of DAMAGES) {
    it(
      d.name,
      async () => {
        procs = await ProcessCluster.create(1);
        startMember(procs, 'n1', 1);
        await procs.leader();
        await putKeysFillingWal(procs, procs.spec('n1').clientURL, KEYS);
        await procs.kill9('n1');
        d.apply(dbOf(procs, 'n1'));
        startMember(procs, 'n1', 1);
        expectRefused(procs.output('n1'), await procs.exited('n1', 20_000), path.join(procs.dir, 'n1.etcd'), d.says);
      },
      60_000,
    );
  }
});

describe('in a 3-member cluster, the damaged member is refused and the others keep serving', () => {
  for (const d of DAMAGES) {
    it(
      d.name,
      async () => {
        procs = await ProcessCluster.create(3);
        for (const n of ['n1', 'n2', 'n3']) startMember(procs, n, 3);
        const leader = await procs.leader();
        const keys = await putKeysFillingWal(procs, procs.spec(leader).clientURL, KEYS);
        // Every member has applied them (n1 included) before it is killed.
        for (const n of ['n1', 'n2', 'n3'])
          await until(`${n} has every key`, async () => (await countKeys(procs!.spec(n).clientURL)) === keys, 20_000);
        await procs.kill9('n1');
        d.apply(dbOf(procs, 'n1'));
        startMember(procs, 'n1', 3);
        expectRefused(procs.output('n1'), await procs.exited('n1', 20_000), path.join(procs.dir, 'n1.etcd'), d.says);
        // n1 never came back (empty or otherwise); n2 and n3 elect, write and read as before.
        expect(procs.alive('n1')).toBe(false);
        const now = await procs.leader();
        expect(now).not.toBe('n1');
        await putKeys(procs.spec(now).clientURL, 10, 'after');
        for (const n of ['n2', 'n3']) {
          expect(await countKeys(procs.spec(n).clientURL)).toBe(keys);
          expect(await countKeys(procs.spec(n).clientURL, 'after')).toBe(10);
        }
      },
      90_000,
    );
  }
});

const ETCDCTL = '/usr/bin/etcdctl';
const haveEtcdctl = fs.existsSync(ETCDCTL);
if (!haveEtcdctl) {
  if (process.env.CI) throw new Error(`${ETCDCTL} is missing: .ci/run must install Debian's etcd-client`);
  console.warn(
    `SKIPPED: following the fatal line's advice needs Debian's etcdctl (${ETCDCTL}); apt-get install etcd-client`,
  );
}

function etcdctl(endpoint: string, ...args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(
      ETCDCTL,
      ['--endpoints', endpoint, ...args],
      { env: { ...process.env, ETCDCTL_API: '2' }, timeout: 20_000 },
      (err, stdout, stderr) =>
        err ? reject(new Error(`etcdctl ${args.join(' ')}: ${stdout}${stderr}`)) : resolve(stdout),
    );
  });
}

describe.skipIf(!haveEtcdctl)('following the advice of the fatal line', () => {
  it('remove the data dir, etcdctl member remove + member add, start with existing: the member is back with every key', async () => {
    procs = await ProcessCluster.create(3);
    for (const n of ['n1', 'n2', 'n3']) startMember(procs, n, 3);
    const leader = await procs.leader();
    await putKeys(procs.spec(leader).clientURL, 50);
    await until('n1 has every key', async () => (await countKeys(procs!.spec('n1').clientURL)) === 50, 20_000);
    await procs.kill9('n1');
    fs.truncateSync(dbOf(procs, 'n1'), 0);
    startMember(procs, 'n1', 3);
    expect(await procs.exited('n1', 20_000)).toBe(1);
    const line = procs.output('n1').find((l) => / C \| /.test(l))!;
    const id = group(/etcdctl member remove ([0-9a-f]{1,16})/, line);

    const endpoint = procs.spec((await procs.leader()) as string).clientURL;
    fs.rmSync(path.join(procs.dir, 'n1.etcd'), { recursive: true });
    expect(await etcdctl(endpoint, 'member', 'remove', id)).toContain(`Removed member ${id}`);
    const added = await etcdctl(endpoint, 'member', 'add', 'n1', procs.spec('n1').peerURL);
    const cluster = group(/ETCD_INITIAL_CLUSTER="([^"]+)"/, added);
    procs.start('n1', {}, ['--name', 'n1', '--initial-cluster', cluster, '--initial-cluster-state', 'existing']);
    await until(
      'the re-added n1 has every key',
      async () => {
        try {
          return (await countKeys(procs!.spec('n1').clientURL)) === 50;
        } catch {
          return false;
        }
      },
      30_000,
    );
    const members = (await (await fetch(`${endpoint}/v2/members`)).json()) as {
      members: { id: string; name: string }[];
    };
    expect(members.members.map((m) => m.name).sort()).toEqual(['n1', 'n2', 'n3']);
    expect(members.members.map((m) => m.id)).not.toContain(id); // a new id, as etcd gives
  }, 120_000);
});

const haveEtcd = fs.existsSync(ETCD_BIN);
if (!haveEtcd) {
  if (process.env.CI) throw new Error(`${ETCD_BIN} is missing: .ci/run must install Debian's etcd-server`);
  console.warn(
    `SKIPPED: the comparison with etcd needs Debian's etcd-server (${ETCD_BIN}); apt-get install etcd-server`,
  );
}

describe.skipIf(!haveEtcd)(
  'a member whose whole data dir is gone, restarted as new, is refused as etcd refuses it',
  () => {
    let etcd: EtcdCluster | undefined;
    afterEach(async () => {
      await etcd?.destroy();
      etcd = undefined;
    });

    async function etcdHealthy(c: EtcdCluster, names: string[]): Promise<void> {
      await until(
        'etcd is healthy',
        async () => {
          const ok = await Promise.all(
            names.map(async (n) => {
              try {
                return (
                  ((await (await fetch(`${c.spec(n).clientURL}/health`)).json()) as { health: string }).health ===
                  'true'
                );
              } catch {
                return false;
              }
            }),
          );
          return ok.every(Boolean);
        },
        30_000,
      );
    }

    it('"member … has already been bootstrapped", exit 1, the others keep serving', async () => {
      // etcd 3.4 first.
      etcd = await EtcdCluster.create(3);
      for (const n of ['e1', 'e2', 'e3']) etcd.start(n);
      await etcdHealthy(etcd, ['e1', 'e2', 'e3']);
      await etcd.kill9('e1');
      fs.rmSync(path.join(etcd.dir, 'e1.etcd'), { recursive: true });
      etcd.start('e1');
      const etcdChild = etcd.procs.get('e1')!.child;
      const etcdCode = await new Promise<number | null>((r) =>
        etcdChild.exitCode !== null ? r(etcdChild.exitCode) : etcdChild.once('exit', (c) => r(c)),
      );
      const etcdSays = /member ([0-9a-f]+) has already been bootstrapped/.exec(etcd.output('e1').join('\n'));
      expect(etcdSays, etcd.output('e1').join('\n')).not.toBeNull();
      expect(etcdCode).not.toBe(0);

      // Then raftlab, the same steps.
      procs = await ProcessCluster.create(3);
      for (const n of ['n1', 'n2', 'n3']) startMember(procs, n, 3);
      await procs.leader();
      await putKeys(procs.spec('n2').clientURL, 20);
      await until('n1 has published itself', async () => {
        const r = (await (await fetch(`${procs!.spec('n2').clientURL}/v2/members`)).json()) as {
          members: { name: string; clientURLs: string[] }[];
        };
        return r.members.find((m) => m.name === 'n1')?.clientURLs.length === 1;
      });
      await procs.kill9('n1');
      fs.rmSync(path.join(procs.dir, 'n1.etcd'), { recursive: true });
      startMember(procs, 'n1', 3);
      const code = await procs.exited('n1', 20_000);
      const out = procs.output('n1');
      const fatal = out.filter((l) => / C \| /.test(l));
      expect(fatal, out.join('\n')).toHaveLength(1);
      const ours = / C \| etcdmain: member ([0-9a-f]+) has already been bootstrapped$/.exec(fatal[0]!); // one, just checked
      expect(ours, fatal[0]).not.toBeNull();
      // The same words as etcd's, for this member's own id.
      expect(ours![0].replace(ours![1]!, 'ID')).toContain(etcdSays![0].replace(etcdSays![1]!, 'ID')); // matched, just checked
      expect(code).toBe(1);
      expect(fs.existsSync(path.join(procs.dir, 'n1.etcd', 'member', 'raftlab.db'))).toBe(false); // nothing written
      const now = await procs.leader();
      await putKeys(procs.spec(now).clientURL, 5, 'after');
      expect(await countKeys(procs.spec('n3').clientURL)).toBe(20);
    }, 120_000);
  },
);

describe('in-process nodes (the app) refuse too', () => {
  it('a member whose database was emptied is refused with StorageDamagedError; the others keep serving', async () => {
    const c = await TestCluster.create(3);
    try {
      const leader = await c.leader();
      const put = await fetch(`${c.url(leader)}/v2/keys/x`, {
        method: 'PUT',
        body: new URLSearchParams({ value: '1' }),
      });
      expect(put.status).toBe(201);
      const victim = ['n1', 'n2', 'n3'].find((n) => n !== leader)!;
      await until(`${victim} has x`, async () => (await fetch(`${c.url(victim)}/v2/keys/x`)).status === 200);
      await c.stop(victim);
      fs.truncateSync(path.join(c.dir, victim, 'member', 'raftlab.db'), 0);
      await expect(c.start(victim)).rejects.toThrow(StorageDamagedError);
      await expect(c.start(victim)).rejects.toThrow(
        /the database is empty \(0 bytes\), but the data dir was initialised as member/,
      );
      expect(fs.statSync(path.join(c.dir, victim, 'member', 'raftlab.db')).size).toBe(0);
      const r = await fetch(`${c.url(leader)}/v2/keys/y`, { method: 'PUT', body: new URLSearchParams({ value: '2' }) });
      expect(r.status).toBe(201);
    } finally {
      await c.destroy();
    }
  }, 60_000);
});
