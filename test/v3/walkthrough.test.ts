// The README's clustering walkthrough in v3, as written there: Debian's etcdctl with its default
// API (and curl to the /v3 gateway) against three `raftlab node` processes. Its v2 twin is
// test/node/process.test.ts.
import { execFile, spawn } from 'node:child_process';
import { afterAll, describe, expect, it } from 'vitest';
import { until } from '../helpers/cluster.js';
import { ProcessCluster } from '../helpers/processes.js';
import { needTools } from '../helpers/window.js';

const have = needTools('the v3 walkthrough', ['/usr/bin/etcdctl', '/usr/bin/curl']);
// etcdctl as a user has it: v3 unless told otherwise.
const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('ETCD')));

/** One walkthrough line, through sh, as a user pastes it. */
function sh(line: string): Promise<{ code: number; out: string; err: string }> {
  return new Promise((resolve) => {
    execFile('/bin/sh', ['-c', line], { env, timeout: 20_000 }, (err, out, errOut) =>
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, out, err: errOut }),
    );
  });
}

let cluster: ProcessCluster | undefined;
afterAll(async () => {
  await cluster?.destroy();
});

describe.runIf(have)('the README walkthrough, v3', () => {
  it('put and get on different members, revisions, a watch, a lease, a txn, member remove and add, and the new member started from the printed variables', async () => {
    cluster = await ProcessCluster.create(3);
    cluster.startStatic(3);
    await cluster.leader();
    const [a, , c] = ['n1', 'n2', 'n3'].map((n) => `etcdctl --endpoints ${cluster!.spec(n).clientURL}`);
    const n1 = cluster.spec('n1').clientURL;

    // 2. write on one member, read on another
    expect(await sh(`${a} put /hello world`)).toEqual({ code: 0, out: 'OK\n', err: '' });
    expect(await sh(`${c} get /hello`)).toEqual({ code: 0, out: '/hello\nworld\n', err: '' });
    const members = await until(
      'every member published',
      async () => {
        const out = (await sh(`${a} member list`)).out;
        return (
          out.split('\n').filter((l) => /, started, n\d, http:\/\/\S+, http:\/\/\S+, false$/.test(l)).length === 3 &&
          out
        );
      },
      20_000,
    );
    const status = await sh(`${a} endpoint status --cluster -w table`);
    expect(status.code).toBe(0);
    expect(status.out.split('\n').filter((l) => /^\| http:\/\/127\.0\.0\.1:\d+ \|/.test(l))).toHaveLength(3);
    expect(status.out.split('\n').filter((l) => /\|\s+true\s+\|\s+false\s+\|/.test(l))).toHaveLength(1); // one leader, no learner
    const range = JSON.parse((await sh(`curl -s -X POST ${n1}/v3/kv/range -d '{"key":"L2hlbGxv"}'`)).out);
    expect(range.kvs[0]).toMatchObject({ key: 'L2hlbGxv', value: Buffer.from('world').toString('base64') });

    // 2b. revisions, a watch, a lease, a txn
    const before = Number(JSON.parse((await sh(`${a} get /hello -w json`)).out).header.revision);
    const watch = spawn('/bin/sh', ['-c', `exec ${c} watch /hello`], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let watched = '';
    watch.stdout.on('data', (b) => (watched += b));
    try {
      // The watcher is live once it prints a change: touch the key until it does.
      await until(
        'the watch is live',
        async () => {
          await sh(`${a} put /hello world`);
          return watched.includes('PUT\n/hello\nworld\n');
        },
        20_000,
      );
      const rev = Number(JSON.parse((await sh(`${a} get /hello -w json`)).out).header.revision);
      expect(await sh(`${a} put /hello raft`)).toMatchObject({ code: 0, out: 'OK\n' });
      expect((await sh(`${a} get /hello --rev=${before}`)).out).toBe('/hello\nworld\n');
      expect((await sh(`${a} get /hello --rev=${rev}`)).out).toBe('/hello\nworld\n');
      expect((await sh(`${a} get /hello`)).out).toBe('/hello\nraft\n');
      await until('the watch saw the put', () => watched.endsWith('PUT\n/hello\nraft\n'), 20_000);
    } finally {
      watch.kill('SIGTERM');
    }
    const grant = await sh(`${a} lease grant 10`);
    const id = /^lease ([0-9a-f]{16}) granted with TTL\(10s\)\n$/.exec(grant.out)?.[1];
    expect(id, grant.out + grant.err).toBeDefined();
    expect((await sh(`${a} put /session up --lease=${id}`)).out).toBe('OK\n');
    expect((await sh(`${a} lease keep-alive --once ${id}`)).out).toBe(`lease ${id} keepalived with TTL(10)\n`);
    expect((await sh(`${c} lease timetolive --keys ${id}`)).out).toMatch(
      new RegExp(`^lease ${id} granted with TTL\\(10s\\), remaining\\(\\d+s\\), attached keys\\(\\[/session\\]\\)\\n$`),
    );
    const txn = await sh(
      `printf '%s\\n' 'value("/hello") = "raft"' '' 'put "/hello" "swapped"' '' 'get "/hello"' '' | ${a} txn`,
    );
    expect(txn).toEqual({ code: 0, out: 'SUCCESS\n\nOK\n', err: '' });
    expect((await sh(`${c} get /hello`)).out).toBe('/hello\nswapped\n');

    // 3. remove n3: it says so in etcd's words and exits
    const n3id = /^([0-9a-f]+), started, n3,/m.exec(members)![1];
    expect((await sh(`${a} member remove ${n3id}`)).out).toMatch(
      new RegExp(`^Member +${n3id} removed from cluster +[0-9a-f]+\\n$`),
    );
    expect(await cluster.exited('n3')).toBe(0);
    expect(cluster.output('n3').join('\n')).toMatch(
      /E \| etcdserver: the member has been permanently removed from the cluster/,
    );

    // 4. add n4: etcdctl prints the ETCD_* variables it needs
    const n4 = cluster.spec('n4');
    const add = await sh(`${a} member add n4 --peer-urls=${n4.peerURL}`);
    expect(add.out).toMatch(
      /^Member +[0-9a-f]+ added to cluster +[0-9a-f]+\n\nETCD_NAME="n4"\nETCD_INITIAL_CLUSTER=".*"\nETCD_INITIAL_ADVERTISE_PEER_URLS=".*"\nETCD_INITIAL_CLUSTER_STATE="existing"\n$/,
    );
    const vars = Object.fromEntries([...add.out.matchAll(/^(ETCD_\w+)="(.*)"$/gm)].map((m) => [m[1], m[2]]));
    expect((await sh(`${a} member list`)).out).toMatch(
      new RegExp(`^[0-9a-f]+, unstarted, , ${n4.peerURL}, , false$`, 'm'),
    );

    // 5. start n4 with those variables (its URLs as flags): it joins, catches up and publishes
    cluster.start('n4', {
      ETCD_NAME: vars.ETCD_NAME,
      ETCD_INITIAL_CLUSTER: vars.ETCD_INITIAL_CLUSTER,
      ETCD_INITIAL_CLUSTER_STATE: vars.ETCD_INITIAL_CLUSTER_STATE,
    });
    await until(
      "n4 serves the cluster's keys",
      async () => (await sh(`etcdctl --endpoints ${n4.clientURL} get /hello`)).out === '/hello\nswapped\n',
      30_000,
    );
    await until('n4 listed as started', async () => /, started, n4, /.test((await sh(`${a} member list`)).out), 20_000);
  }, 180_000);
});
