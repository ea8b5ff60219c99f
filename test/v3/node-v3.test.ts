// etcd's v3 API on real raftlab nodes: Debian's etcdctl, unmodified and speaking v3 (its
// default), against `raftlab node` processes, side by side with a real etcd 3.4 cluster given
// the same commands. Writes go through the Raft log and are read on another member; a watch on
// one member sees a write on another; a lease granted through a follower is kept alive through it
// (forwarded to the leader), survives the leader's death, and expires by the new leader on every
// member alike.
import { execFile, spawn } from 'node:child_process';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, it } from 'vitest';
import { group } from '../helpers/checked.js';
import { until } from '../helpers/cluster.js';
import { freePorts } from '../../src-main/net/free-ports.js';
import { bothClustersForSuite, ETCD_BIN } from '../helpers/etcd-processes.js';
import { needTools } from '../helpers/window.js';

const ETCDCTL = '/usr/bin/etcdctl';
const have = needTools('etcdctl (v3) against raftlab nodes', [ETCDCTL, ETCD_BIN]);
const run = promisify(execFile);
const clean = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('ETCD')));

function etcdctl(endpoints: string | string[], ...args: string[]): Promise<string> {
  const eps = Array.isArray(endpoints) ? endpoints.join(',') : endpoints;
  return run(ETCDCTL, ['--endpoints', eps, '--dial-timeout', '5s', '--command-timeout', '10s', ...args], {
    env: { ...clean, ETCDCTL_API: '3' },
    timeout: 30_000,
  }).then(
    (r) => r.stdout,
    (err: { stdout?: string; stderr?: string; message: string }) => {
      throw new Error(`etcdctl ${args.join(' ')} failed: ${err.stderr || err.message}`);
    },
  );
}

describe.runIf(have)('etcdctl v3 against raftlab nodes and against etcd 3.4', () => {
  const clusters = bothClustersForSuite(3);
  const names = clusters.ourNames;

  beforeAll(async () => {
    await clusters.ours.leader(30_000);
  }, 60_000);

  const url = (n: string) => clusters.ours.spec(n).clientURL;

  it('member list (the default v3 API) prints the members as etcd prints its own', async () => {
    const mine = await until(
      'every member published',
      async () => {
        const out = await etcdctl(url('n1'), 'member', 'list').catch(() => '');
        return out.trim().split('\n').length === 3 && !out.includes(', , ') ? out : undefined;
      },
      20_000,
    );
    const theirs = await until(
      'etcd members published',
      async () => {
        const out = await etcdctl(clusters.etcd.spec('e1').clientURL, 'member', 'list').catch(() => '');
        return out.trim().split('\n').length === 3 && !out.includes(', , ') ? out : undefined;
      },
      30_000,
    );
    // "<hex id>, started, <name>, <peer URL>, <client URL>, false": the same shape, our names and URLs.
    const shape = (out: string) =>
      out
        .trim()
        .split('\n')
        .map((l) =>
          l
            .replace(/^[0-9a-f]+, /, 'ID, ')
            .replace(/http:\/\/127\.0\.0\.1:\d+/g, 'URL')
            .replace(/, [ne]\d, /, ', NAME, '),
        )
        .sort();
    expect(shape(mine)).toEqual(shape(theirs));
    for (const n of names)
      expect(mine).toContain(`, started, ${n}, ${clusters.ours.spec(n).peerURL}, ${url(n)}, false`);
    // The ids are the members' own (as the v2 members API gives them).
    const v2 = (await (await fetch(`${url('n2')}/v2/members`)).json()) as { members: { id: string }[] };
    expect(
      mine
        .trim()
        .split('\n')
        .map((l) => l.split(', ')[0])
        .sort(),
    ).toEqual(v2.members.map((m) => m.id).sort());
  }, 60_000);

  it('a write on one member is read on another (linearizable and serializable), and watched on a third', async () => {
    const watch = spawn(ETCDCTL, ['--endpoints', url('n3'), 'watch', 'greeting'], {
      env: { ...clean, ETCDCTL_API: '3' },
    });
    let watched = '';
    watch.stdout.on('data', (b) => (watched += b));
    try {
      await new Promise((r) => setTimeout(r, 500)); // the watch is created before the write
      expect(await etcdctl(url('n1'), 'put', 'greeting', 'hello')).toBe('OK\n');
      expect(await etcdctl(url('n2'), 'get', 'greeting')).toBe('greeting\nhello\n');
      await until(
        'the serializable read on n3',
        async () => (await etcdctl(url('n3'), 'get', 'greeting', '--consistency=s')) === 'greeting\nhello\n',
        10_000,
      );
      await until('the watch on n3 saw it', () => watched.includes('PUT\ngreeting\nhello'), 10_000);
    } finally {
      process.kill(watch.pid!, 'SIGKILL');
    }
    // v2 and v3 keep separate stores, as in etcd 3.4.
    expect((await fetch(`${url('n1')}/v2/keys/greeting`)).status).toBe(404);
    // A delete with its previous value, and the revision every member reports alike.
    const del = await etcdctl(url('n2'), 'del', 'greeting', '--prev-kv');
    expect(del).toBe('1\ngreeting\nhello\n');
    const revs = await Promise.all(
      names.map(async (n) => {
        const j = JSON.parse(await etcdctl(url(n), 'get', 'nothing', '-w', 'json')) as { header: { revision: number } };
        return j.header.revision;
      }),
    );
    expect(new Set(revs).size).toBe(1);
  }, 60_000);

  it('member add, update, remove and promote, and their refusals, print as they print against etcd', async () => {
    const [p1, p2] = await freePorts(2);
    const spare = `http://127.0.0.1:${p1}`;
    const moved = `http://127.0.0.1:${p2}`;
    const both = async (f: (ep: string, self: string) => Promise<string>) => {
      const [a, b] = await Promise.all([
        f(url('n1'), clusters.ours.spec('n1').peerURL).catch((e: Error) => e.message),
        f(clusters.etcd.spec('e1').clientURL, clusters.etcd.spec('e1').peerURL).catch((e: Error) => e.message),
      ]);
      return [a, b] as const;
    };
    // Ids, cluster ids, ports and names differ by nature.
    // etcdctl prints ids with %16x: a 15-digit one gets a space in front.
    const norm = (t: string) =>
      t
        .replace(/ {2,}(?=[0-9a-f]{12,16}\b)/g, ' ')
        .replace(/\b[0-9a-f]{12,16}\b/g, 'ID')
        .replace(/127\.0\.0\.1:\d+/g, 'HOST')
        .replace(/\b[ne]\d=/g, 'NAME=')
        .replace(/etcdctl \S+ failed: /, '')
        .replace(/\{"level":"warn".*\}\n/g, '');
    // etcd refuses a change until its members have been connected for 5 s ("unhealthy cluster"): asked again until then.
    // Only a probe that was added (and is removed again) says so: a refusal or a slow answer is asked again.
    await until(
      'etcd ready for a member change',
      async () => {
        const out = await etcdctl(
          clusters.etcd.spec('e1').clientURL,
          'member',
          'add',
          'probe',
          '--peer-urls=http://127.0.0.1:1',
        ).catch((e: Error) => e.message);
        const added = /Member +([0-9a-f]+) added/.exec(out);
        if (added) await etcdctl(clusters.etcd.spec('e1').clientURL, 'member', 'remove', added[1]!);
        return added !== null;
      },
      20_000,
    );
    const [addA, addB] = await both((ep) => etcdctl(ep, 'member', 'add', 'n4', `--peer-urls=${spare}`));
    expect(norm(addA)).toBe(norm(addB));
    expect(addA).toMatch(/^Member +[0-9a-f]+ added to cluster +[0-9a-f]+\n\nETCD_NAME="n4"\n/);
    const id = group(/^Member +([0-9a-f]+) added/, addA);
    const idE = group(/^Member +([0-9a-f]+) added/, addB);
    expect(await etcdctl(url('n2'), 'member', 'list')).toContain(`${id}, unstarted, , ${spare}, , false`);
    // The same peer URL again; a bad URL; an unknown member; a voting member promoted.
    const refusals = [
      (ep: string) => etcdctl(ep, 'member', 'add', 'n5', `--peer-urls=${spare}`),
      (ep: string) => etcdctl(ep, 'member', 'add', 'n5', '--peer-urls=http://127.0.0.1'),
      (ep: string) => etcdctl(ep, 'member', 'remove', '1234'),
      (ep: string, self: string) =>
        etcdctl(ep, 'member', 'list', '-w', 'json').then((j) => {
          const m = (JSON.parse(j) as { members: { ID: number | string; peerURLs: string[] }[] }).members.find((x) =>
            x.peerURLs.includes(self),
          )!;
          return etcdctl(ep, 'member', 'promote', BigInt(m.ID).toString(16));
        }),
    ];
    for (const f of refusals) {
      const [a, b] = await both(f);
      expect(norm(a)).toBe(norm(b));
      expect(a).toMatch(/Error: /);
    }
    const [updA, updB] = await Promise.all([
      etcdctl(url('n1'), 'member', 'update', id, `--peer-urls=${moved}`),
      etcdctl(clusters.etcd.spec('e1').clientURL, 'member', 'update', idE, `--peer-urls=${moved}`),
    ]);
    expect(norm(updA)).toBe(norm(updB));
    expect(await etcdctl(url('n3'), 'member', 'list')).toContain(`${id}, unstarted, , ${moved}, , false`);
    const [remA, remB] = await Promise.all([
      etcdctl(url('n2'), 'member', 'remove', id),
      etcdctl(clusters.etcd.spec('e1').clientURL, 'member', 'remove', idE),
    ]);
    expect(norm(remA)).toBe(norm(remB));
    expect(remA).toMatch(new RegExp(`^Member +${id} removed from cluster +[0-9a-f]+\n$`));
    expect((await etcdctl(url('n1'), 'member', 'list')).trim().split('\n')).toHaveLength(3);
  }, 90_000);

  it('a lease granted and kept alive through a follower outlives the leader, then expires on every member', async () => {
    const leader = await clusters.ours.leader();
    const follower = names.find((n) => n !== leader)!;
    const granted = await etcdctl(url(follower), 'lease', 'grant', '3');
    const id = /lease ([0-9a-f]+) granted with TTL\(3s\)/.exec(granted)?.[1];
    expect(id, granted).toBeDefined();
    await etcdctl(url(follower), 'put', 'leased', 'v', '--lease', id!);
    // Forwarded to the leader, which alone counts leases down.
    expect(await etcdctl(url(follower), 'lease', 'keep-alive', '--once', id!)).toMatch(
      new RegExp(`lease ${id} keepalived with TTL\\(3\\)`),
    );
    expect(await etcdctl(url(follower), 'lease', 'timetolive', id!, '--keys')).toMatch(
      /granted with TTL\(3s\), remaining\(\d+s\), attached keys\(\[leased\]\)/,
    );

    // The leader dies: the lease is still there under the next one (given its TTL again).
    await clusters.ours.kill9(leader);
    const survivors = names.filter((n) => n !== leader);
    const next = await clusters.ours.leader(20_000);
    expect(survivors).toContain(next);
    expect(await etcdctl(url(next), 'lease', 'timetolive', id!)).toMatch(
      new RegExp(`lease ${id} granted with TTL\\(3s\\)`),
    );
    // Not kept alive any more: the new leader revokes it through the log, and the key goes everywhere.
    await until(
      'the leased key gone on every survivor',
      async () => {
        for (const n of survivors) if ((await etcdctl(url(n), 'get', 'leased', '--consistency=s')) !== '') return false;
        return true;
      },
      20_000,
    );
    expect(await etcdctl(url(next), 'lease', 'timetolive', id!)).toMatch(/already expired/);
    // And endpoint status agrees on the leader from every survivor.
    // (etcdctl dials each endpoint here with "http://…" as HTTP/2's :authority: net/h2-authority.ts.)
    const status = await etcdctl(survivors.map(url), 'endpoint', 'status', '-w', 'json');
    const leaders = (JSON.parse(status) as { Status: { leader: number } }[]).map((s) => s.Status.leader);
    expect(new Set(leaders).size).toBe(1);
  }, 90_000);
});
