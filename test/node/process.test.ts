// `raftlab node` as separate processes, driven the way a user drives etcd: flags, ETCD_*
// variables, kill -9, and Debian's real etcdctl (ETCDCTL_API=2) for the classic walkthrough.
import { execFile, spawn } from 'node:child_process';
import fs from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { defined, nth } from '../helpers/checked.js';
import { until } from '../helpers/cluster.js';
import { ProcessCluster } from '../helpers/processes.js';

let cluster: ProcessCluster | undefined;
afterEach(async () => {
  await cluster?.destroy();
  cluster = undefined;
});

const ETCDCTL = '/usr/bin/etcdctl';
const haveEtcdctl = fs.existsSync(ETCDCTL);
if (!haveEtcdctl) {
  // CI installs etcd-client; a developer machine without it is told why these tests do not run.
  if (process.env.CI) throw new Error(`${ETCDCTL} is missing: .ci/run must install Debian's etcd-client`);
  console.warn(`SKIPPED: the etcdctl tests need Debian's etcd-client (${ETCDCTL}); apt-get install etcd-client`);
}

function etcdctl(endpoint: string, ...args: string[]): Promise<{ code: number; out: string }> {
  return new Promise((resolve) => {
    execFile(
      ETCDCTL,
      ['--endpoints', endpoint, ...args],
      { env: { ...process.env, ETCDCTL_API: '2' }, timeout: 20_000 },
      (err, stdout, stderr) => {
        const code = err ? ((err as { code?: number }).code ?? 1) : 0;
        resolve({ code: typeof code === 'number' ? code : 1, out: stdout + stderr });
      },
    );
  });
}

/** etcdctl finds its endpoints in the member list: waits until all three members published their client URLs. */
async function untilPublished(ep: string): Promise<void> {
  await until('all members published', async () => {
    const r = await etcdctl(ep, 'member', 'list');
    return (
      r.out
        .trim()
        .split('\n')
        .filter((l) => /clientURLs=http/.test(l)).length === 3
    );
  });
}

async function startThree(c: ProcessCluster): Promise<string> {
  c.startStatic(3);
  return c.leader();
}

describe('raftlab node processes', () => {
  it('kill -9 of the leader: a new leader takes over, and the killed node restarts from its data dir', async () => {
    cluster = await ProcessCluster.create(3);
    const first = await startThree(cluster);
    const put = await fetch(`${cluster.spec(first).clientURL}/v2/keys/durable`, {
      method: 'PUT',
      body: new URLSearchParams({ value: 'yes' }),
    });
    expect(put.status).toBe(201);
    await cluster.kill9(first);
    const second = await cluster.leader();
    expect(second).not.toBe(first);
    await fetch(`${cluster.spec(second).clientURL}/v2/keys/later`, {
      method: 'PUT',
      body: new URLSearchParams({ value: 'too' }),
    });
    cluster.start(first, {}, [
      '--name',
      first,
      '--initial-cluster',
      cluster.initialCluster(3),
      '--initial-cluster-state',
      'new',
    ]);
    const later = await until(
      'the restarted node catches up',
      async () => {
        try {
          const r = await fetch(`${cluster!.spec(first).clientURL}/v2/keys/later`);
          return r.status === 200 && ((await r.json()) as any);
        } catch {
          return undefined;
        }
      },
      20_000,
    );
    expect(later.node.value).toBe('too');
    const durable = (await (await fetch(`${cluster.spec(first).clientURL}/v2/keys/durable`)).json()) as any;
    expect(durable.node.value).toBe('yes');
    const out = cluster.output(first);
    expect(out.join('\n')).toMatch(/the server is already initialized as member before/);
    // etcd says `published` when its own publish request is answered, once per start: not also
    // for the old publish entry the restarted member replays from its log.
    expect(out.filter((l) => /etcdserver: published \{Name:/.test(l))).toHaveLength(1);
  }, 60_000);

  it('takes its configuration from ETCD_* variables (a variable also given as a flag is refused: test/node/fatal-errors)', async () => {
    cluster = await ProcessCluster.create(1);
    const s = cluster.spec('n1');
    cluster.start('n1', { ETCD_NAME: 'n1', ETCD_INITIAL_CLUSTER: `n1=${s.peerURL}` });
    await cluster.leader();
    const self = (await (await fetch(`${s.clientURL}/v2/stats/self`)).json()) as any;
    expect(self.name).toBe('n1');
    expect(cluster.output('n1').join('\n')).toMatch(
      /I \| pkg\/flags: recognized and used environment variable ETCD_INITIAL_CLUSTER=/,
    );
  }, 30_000);

  it('refuses bad flags with a clear error and a non-zero exit', async () => {
    cluster = await ProcessCluster.create(1);
    cluster.start('n1', {}, ['--name', 'n1', '--initial-cluster', 'n1=http://127.0.0.1:1', '--election-timeout', '10']);
    expect(await cluster.exited('n1')).not.toBe(0);
    expect(cluster.output('n1').join('\n')).toMatch(/election-timeout/);
  }, 30_000);
});

describe.skipIf(!haveEtcdctl)("Debian's etcdctl (ETCDCTL_API=2) against raftlab nodes", () => {
  it('member list, set, get, mk, ls --recursive, rm and watch print what etcd prints', async () => {
    cluster = await ProcessCluster.create(3);
    const leader = await startThree(cluster);
    const ep = cluster.spec('n1').clientURL;
    await untilPublished(ep);

    const list = await etcdctl(ep, 'member', 'list');
    expect(list.code).toBe(0);
    const lines = list.out.trim().split('\n');
    expect(lines).toHaveLength(3);
    for (const l of lines)
      expect(l).toMatch(
        /^[0-9a-f]+: name=n\d peerURLs=http:\/\/127\.0\.0\.1:\d+ clientURLs=http:\/\/127\.0\.0\.1:\d+ isLeader=(true|false)$/,
      );
    expect(lines.filter((l) => l.endsWith('isLeader=true'))).toHaveLength(1);
    expect(lines.find((l) => l.endsWith('isLeader=true'))).toContain(`name=${leader} `);
    const ids = lines.map((l) => BigInt('0x' + l.split(':')[0]));
    expect([...ids].sort((a, b) => (a < b ? -1 : 1))).toEqual(ids);

    expect(await etcdctl(ep, 'set', '/dir/ctl', 'hello')).toEqual({ code: 0, out: 'hello\n' });
    expect(await etcdctl(cluster.spec('n2').clientURL, 'get', '/dir/ctl')).toEqual({ code: 0, out: 'hello\n' });
    const missing = await etcdctl(ep, 'get', '/dir/nope');
    expect(missing.code).toBe(4);
    expect(missing.out).toMatch(/^Error: {2}100: Key not found \(\/dir\/nope\) \[\d+\]\n$/);
    const mk = await etcdctl(ep, 'mk', '/dir/ctl', 'again');
    expect(mk.code).toBe(4);
    expect(mk.out).toMatch(/^Error: {2}105: Key already exists \(\/dir\/ctl\) \[\d+\]\n$/);
    await etcdctl(ep, 'mkdir', '/dir/sub');
    await etcdctl(ep, 'set', '/dir/sub/leaf', 'x');
    const ls = await etcdctl(ep, 'ls', '--recursive', '/dir');
    expect(ls.out.trim().split('\n').sort()).toEqual(['/dir/ctl', '/dir/sub', '/dir/sub/leaf']);
    expect(await etcdctl(ep, 'rm', '/dir/ctl')).toEqual({ code: 0, out: 'PrevNode.Value: hello\n' });

    const watcher = spawn(ETCDCTL, ['--endpoints', cluster.spec('n3').clientURL, 'watch', '/watched'], {
      env: { ...process.env, ETCDCTL_API: '2' },
    });
    let watched = '';
    watcher.stdout.on('data', (b) => (watched += b));
    const done = new Promise((r) => watcher.once('exit', r));
    await new Promise((r) => setTimeout(r, 500));
    await etcdctl(ep, 'set', '/watched', 'changed');
    await Promise.race([done, new Promise((r) => setTimeout(r, 10_000))]);
    watcher.kill();
    expect(watched).toBe('changed\n');
  }, 90_000);

  it('the classic walkthrough: member remove, member add, start with the printed ETCD_* variables', async () => {
    cluster = await ProcessCluster.create(3);
    await startThree(cluster);
    const ep = cluster.spec('n1').clientURL;
    await untilPublished(ep);
    expect(await etcdctl(ep, 'set', '/walk', 'through')).toEqual({ code: 0, out: 'through\n' });

    // Remove n3: it says so, in etcd's words, and exits.
    const list = (await etcdctl(ep, 'member', 'list')).out.trim().split('\n');
    const n3id = nth(
      defined(
        list.find((l) => l.includes('name=n3 ')),
        'n3 in the member list',
      ).split(':'),
      0,
    );
    const rm = await etcdctl(ep, 'member', 'remove', n3id);
    if (rm.code !== 0)
      for (const n of ['n1', 'n2', 'n3'])
        console.log(
          'DEBUG',
          n,
          cluster
            .output(n)
            .filter((l) => /DEBUG|removed|leader/.test(l))
            .join('\n'),
        );
    expect(rm).toEqual({ code: 0, out: `Removed member ${n3id} from cluster\n` });
    expect(await cluster.exited('n3')).toBe(0);
    const n3log = cluster.output('n3').join('\n');
    expect(n3log).toMatch(/E \| etcdserver: the member has been permanently removed from the cluster/);
    expect(n3log).toMatch(/I \| etcdserver: the data-dir used by this member must be removed\./);

    // Add n4: etcdctl prints what the new member needs; it shows as unstarted until it runs.
    const n4 = cluster.spec('n4');
    const add = await etcdctl(ep, 'member', 'add', 'n4', n4.peerURL);
    expect(add.code).toBe(0);
    expect(add.out).toMatch(
      /^Added member named n4 with ID [0-9a-f]+ to cluster\n\nETCD_NAME="n4"\nETCD_INITIAL_CLUSTER=".*"\nETCD_INITIAL_CLUSTER_STATE="existing"\n$/,
    );
    const env = Object.fromEntries([...add.out.matchAll(/^(ETCD_\w+)="(.*)"$/gm)].map((m) => [m[1], m[2]]));
    expect(env.ETCD_INITIAL_CLUSTER).toContain(`n4=${n4.peerURL}`);
    const unstarted = await etcdctl(ep, 'member', 'list');
    expect(unstarted.out).toMatch(new RegExp(`^[0-9a-f]+\\[unstarted\\]: peerURLs=${n4.peerURL}$`, 'm'));

    cluster.start('n4', env);
    let last = '';
    await until(
      'n4 serves the old data',
      async () => (last = (await etcdctl(n4.clientURL, 'get', '/walk')).out) === 'through\n',
      30_000,
    ).catch((err) => {
      throw new Error(`${err.message}: etcdctl printed ${JSON.stringify(last)}`);
    });
    await until('n4 started', async () => (await etcdctl(ep, 'member', 'list')).out.includes('name=n4 '));
    const health = await etcdctl(ep, 'cluster-health');
    expect(health.out).toMatch(/cluster is healthy/);
  }, 120_000);
});
