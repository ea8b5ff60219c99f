// Learners (etcd 3.4) on raftlab nodes, side by side with real etcd 3.4 members given the same
// etcdctl commands: `member add --learner`, the learner in member list, etcd's refusals (a second
// learner, a promotion before it caught up, a move-leader to it, client writes and linearizable
// reads on it), the learner started with the printed ETCD_* variables and catching up, then
// promoted. And a member added to a one-member cluster: answered at once, as etcd answers it.
import { beforeAll, describe, expect, it } from 'vitest';
import { defined } from '../helpers/checked.js';
import { until } from '../helpers/cluster.js';
import { bothClustersForSuite, ETCD_BIN } from '../helpers/etcd-processes.js';
import { needTools } from '../helpers/window.js';
import { ETCDCTL, ctl, withoutLogLines, type CtlRun } from './etcdctl-run.js';

const have = needTools('learners with etcdctl against raftlab nodes and etcd 3.4', [ETCDCTL, ETCD_BIN]);

interface Side {
  name: 'ours' | 'etcd';
  urls: string[];
  names: string[];
  /** The spare member's name, peer URL and client URL. */
  spare: { name: string; peerURL: string; clientURL: string };
}

/** Ids, URLs and names differ by nature; so do the member names (n… against e…). */
function normalizer(side: Side) {
  const ids = new Map<string, string>();
  return (s: string): string => {
    let t = withoutLogLines(s)
      .replace(/http:\/\/127\.0\.0\.1:\d+/g, 'URL')
      .replace(/127\.0\.0\.1:\d+/g, 'URL');
    t = t.replace(/\b(?:[0-9a-f]{13,16}|\d{17,20})\b/g, (id) => {
      const hex = /^\d+$/.test(id) && id.length > 16 ? BigInt(id).toString(16) : id;
      if (!ids.has(hex)) ids.set(hex, `ID${ids.size}`);
      return ids.get(hex)!;
    });
    // etcdctl prints ids with %16x: a shorter id is padded with spaces.
    t = t.replace(/\b(Member|cluster) +(?=ID)/g, '$1 ');
    return [...side.names, side.spare.name].reduce((x, n) => x.split(n).join('NAME'), t);
  };
}

/** The ETCD_* lines `member add` printed, as an environment. */
function printedEnv(out: string): Record<string, string> {
  return Object.fromEntries([...out.matchAll(/^(ETCD_\w+)="(.*)"$/gm)].map((m) => [m[1], m[2]]));
}

describe.runIf(have)('learners: etcdctl against 3 raftlab nodes and 3 etcd 3.4 members', () => {
  const clusters = bothClustersForSuite(3);
  let ours: Side;
  let theirs: Side;

  beforeAll(async () => {
    ours = {
      name: 'ours',
      urls: clusters.ourNames.map((n) => clusters.ours.spec(n).clientURL),
      names: clusters.ourNames,
      spare: clusters.ours.spec('n4'),
    };
    theirs = {
      name: 'etcd',
      urls: clusters.etcdNames.map((n) => clusters.etcd.spec(n).clientURL),
      names: clusters.etcdNames,
      spare: clusters.etcd.spec('e4'),
    };
    // Both ready for a member change: every member published (etcd also wants its peers connected for 5 s).
    await Promise.all(
      [ours, theirs].map((s) =>
        until(
          `${s.name}: members published`,
          async () => {
            const r = await ctl(s.urls, ['member', 'list']);
            return r.code === 0 && r.out.trim().split('\n').length === 3 && !r.out.includes(', , ');
          },
          30_000,
        ),
      ),
    );
  }, 60_000);

  const norms = new Map<string, (s: string) => string>();
  const norm = (s: Side) => {
    if (!norms.has(s.name)) norms.set(s.name, normalizer(s));
    return norms.get(s.name)!;
  };

  async function both(
    args: (s: Side) => string[],
    endpoints: (s: Side) => string[] = (s) => s.urls,
  ): Promise<[CtlRun, CtlRun]> {
    const [a, b] = await Promise.all([ctl(endpoints(ours), args(ours)), ctl(endpoints(theirs), args(theirs))]);
    return [
      { code: a.code, out: norm(ours)(a.out), err: norm(ours)(a.err) },
      { code: b.code, out: norm(theirs)(b.out), err: norm(theirs)(b.err) },
    ];
  }

  it('member add --learner, refusals, the learner started and caught up, then promoted: as etcd does it', async () => {
    // etcd refuses a change until its members have been connected for 5 s ("unhealthy cluster").
    const added = new Map<string, CtlRun>();
    await Promise.all(
      [ours, theirs].map(async (s) => {
        const r = await until(
          `${s.name}: learner added`,
          async () => {
            const x = await ctl(s.urls, ['member', 'add', s.spare.name, '--learner', `--peer-urls=${s.spare.peerURL}`]);
            return /unhealthy cluster/.test(x.err) ? undefined : x;
          },
          20_000,
        );
        added.set(s.name, r);
      }),
    );
    const [addA, addB] = [added.get('ours')!, added.get('etcd')!];
    expect(addA.code, addA.err).toBe(0);
    expect(norm(ours)(addA.out)).toBe(norm(theirs)(addB.out));
    expect(addA.out).toMatch(
      /^Member +[0-9a-f]+ added to cluster +[0-9a-f]+\n\nETCD_NAME="n4"\nETCD_INITIAL_CLUSTER=".*n4=http/,
    );
    const learnerId = (r: CtlRun) => /^Member +([0-9a-f]+) added/.exec(r.out)![1];
    const id = new Map([
      ['ours', learnerId(addA)],
      ['etcd', learnerId(addB)],
    ]);

    // The learner in the member list (plain, table, json): unstarted, IS LEARNER true.
    for (const args of [
      ['member', 'list'],
      ['member', 'list', '-w', 'table'],
    ]) {
      const [a, b] = await both(() => args);
      // Members are listed by id, and ids differ: rows compared as a set, ids and padding aside.
      const sorted = (r: CtlRun) =>
        r.out
          .split('\n')
          .map((l) => l.replace(/ID\d+/g, 'ID').replace(/-{3,}/g, '---').replace(/ +/g, ' '))
          .sort()
          .join('\n');
      expect(sorted(a), args.join(' ')).toBe(sorted(b));
    }
    const plain = await ctl(ours.urls, ['member', 'list']);
    expect(plain.out).toContain(`${id.get('ours')}, unstarted, , ${ours.spare.peerURL}, , true`);
    const json = await ctl(ours.urls, ['member', 'list', '-w', 'json']);
    expect(json.out).toMatch(/"isLearner":true/);

    // Refusals: a second learner (etcd 3.4 allows one); a promotion before it has caught up; the
    // lead handed to it.
    const refusals: [(s: Side) => string[], (s: Side) => string[], (s: Side) => string[]] = [
      () => ['member', 'add', 'other', '--learner', '--peer-urls=http://127.0.0.1:1'],
      (s) => ['member', 'promote', id.get(s.name)!],
      (s) => ['move-leader', id.get(s.name)!],
    ];
    for (const f of refusals) {
      const [a, b] = await both(f);
      expect(a, f(ours).join(' ')).toEqual(b);
      expect(a.code).not.toBe(0);
    }
    const [tooManyLearners, notInSync, notAVoter] = refusals;
    const [, tooMany] = await both(tooManyLearners);
    expect(tooMany.err).toContain('Error: etcdserver: too many learner members in cluster');
    const [notReady] = await both(notInSync);
    expect(notReady.err).toContain('Error: etcdserver: can only promote a learner member which is in sync with leader');
    const [badTarget] = await both(notAVoter);
    expect(badTarget.err).toContain('Error: etcdserver: bad leader transferee');

    // Some data for the learner to catch up on.
    for (const args of [
      ['put', 'before', 'learner'],
      ['put', 'second', 'key'],
    ]) {
      const [a, b] = await both(() => args);
      expect(a).toEqual(b);
    }

    // The learner started with what member add printed (the peer URL flag already says the last one).
    const env = (r: CtlRun) => {
      const { ETCD_INITIAL_ADVERTISE_PEER_URLS: _, ...rest } = printedEnv(r.out);
      return rest;
    };
    clusters.ours.start('n4', env(addA));
    const e = env(addB);
    clusters.etcd.start('e4', defined(e.ETCD_INITIAL_CLUSTER, 'ETCD_INITIAL_CLUSTER printed'), [
      '--initial-cluster-state',
      defined(e.ETCD_INITIAL_CLUSTER_STATE, 'ETCD_INITIAL_CLUSTER_STATE printed'),
    ]);
    const spare = (s: Side) => [s.spare.clientURL];
    await Promise.all(
      [ours, theirs].map((s) =>
        until(
          `${s.name}: the learner serves a serializable read of what it replicated`,
          async () => {
            const r = await ctl(spare(s), ['get', 'second', '--consistency=s', '--print-value-only']);
            return r.out === 'key\n';
          },
          30_000,
        ),
      ),
    );

    // On the learner: writes, linearizable reads, watches and the member list are refused; a
    // serializable read and its status are served, and it says it is a learner.
    const onLearner: string[][] = [
      ['put', 'k', 'v'],
      ['get', 'before'],
      ['get', 'before', '--consistency=s'],
      ['member', 'list'],
      ['lease', 'grant', '10'],
      ['endpoint', 'health'],
    ];
    for (const args of onLearner) {
      const [a, b] = await both(() => args, spare);
      const took = (r: CtlRun) => ({
        ...r,
        err: r.err.replace(/took = [\d.]+[µm]?s/, 'took = T'),
        out: r.out.replace(/took = [\d.]+[µm]?s/, 'took = T'),
      });
      expect(took(a), `on the learner: ${args.join(' ')}`).toEqual(took(b));
    }
    const [put] = await both(() => ['put', 'k', 'v'], spare);
    expect(put.err).toContain('Error: etcdserver: rpc not supported for learner');
    const status = await Promise.all(
      [ours, theirs].map(
        async (s) => JSON.parse((await ctl(spare(s), ['endpoint', 'status', '-w', 'json'])).out)[0].Status,
      ),
    );
    expect(status.map((x) => x.isLearner)).toEqual([true, true]);
    const [table, tableE] = await both(() => ['endpoint', 'status', '-w', 'table'], spare);
    // Sizes, indexes and the patch version (raftlab says 3.4.0) differ by nature.
    const shape = (r: CtlRun) =>
      r.out
        .replace(/-{3,}/g, '---')
        .replace(/ {2,}/g, ' ')
        .replace(/(?<=\| )\d+(\.\d+)? k?B(?= \|)/g, 'SIZE')
        .replace(/(?<=\| )\d+(?= \|)/g, 'N')
        .replace(/3\.4\.\d+/g, 'VERSION');
    expect(shape(table)).toBe(shape(tableE));

    // Caught up: promoted (through a follower of each cluster, which asks its leader).
    await Promise.all(
      [ours, theirs].map((s) =>
        until(
          `${s.name}: the learner started`,
          async () => {
            const r = await ctl(s.urls, ['member', 'list']);
            return r.out.includes(`, started, ${s.spare.name}, `);
          },
          20_000,
        ),
      ),
    );
    const follower = async (s: Side) => {
      const r = await ctl(s.urls, ['endpoint', 'status', '-w', 'json']);
      const st = JSON.parse(r.out.replace(/("\w+":)(\d{16,})\b/g, '$1"$2"')) as {
        Endpoint: string;
        Status: { header: { member_id: string }; leader: string };
      }[];
      return st.find((x) => x.Status.header.member_id !== x.Status.leader)!.Endpoint;
    };
    const followers = new Map(await Promise.all([ours, theirs].map(async (s) => [s.name, await follower(s)] as const)));
    const [promA, promB] = await both(
      (s) => ['member', 'promote', id.get(s.name)!],
      (s) => [followers.get(s.name)!],
    );
    expect(promA).toEqual(promB);
    expect(promA.out).toBe('Member ID0 promoted in cluster ID1\n');
    const listed = await ctl(ours.urls, ['member', 'list']);
    expect(listed.out).toContain(
      `${id.get('ours')}, started, n4, ${ours.spare.peerURL}, ${ours.spare.clientURL}, false`,
    );
    // Promoting it again: not a learner any more.
    const [againA, againB] = await both((s) => ['member', 'promote', id.get(s.name)!]);
    expect(againA).toEqual(againB);
    expect(againA.err).toContain('Error: etcdserver: can only promote a learner member');
    // A voter now: it takes writes.
    const [w, wE] = await both(() => ['put', 'from', 'n4'], spare);
    expect(w).toEqual(wE);
    expect(w.out).toBe('OK\n');
  }, 150_000);
});

describe.runIf(have)('member add on a one-member cluster (raftlab node and etcd 3.4)', () => {
  const clusters = bothClustersForSuite(1);

  it('is answered at once; the cluster waits for the new member, which then starts with the printed variables', async () => {
    type Side1 = Omit<Side, 'urls'> & { url: string };
    const normalizerOf = (s: Side1) => normalizer({ name: s.name, urls: [s.url], names: s.names, spare: s.spare });
    const sides: [Side1, Side1] = [
      {
        name: 'ours' as const,
        url: clusters.ours.spec('n1').clientURL,
        spare: clusters.ours.spec('n2'),
        names: ['n1'],
      },
      {
        name: 'etcd' as const,
        url: clusters.etcd.spec('e1').clientURL,
        spare: clusters.etcd.spec('e2'),
        names: ['e1'],
      },
    ];
    const norms = [normalizerOf(sides[0]), normalizerOf(sides[1])] as const;
    await Promise.all(
      sides.map((s) =>
        until(`${s.name} serves`, async () => (await ctl(s.url, ['put', 'seed', 'v'])).code === 0, 20_000),
      ),
    );
    const add = (s: Side1) =>
      ctl(s.url, ['member', 'add', s.spare.name, `--peer-urls=${s.spare.peerURL}`], { timeoutMs: 30_000 });
    const added = await Promise.all([add(sides[0]), add(sides[1])]);
    expect(added[0].code, added[0].err).toBe(0);
    expect(norms[0](added[0].out)).toBe(norms[1](added[1].out));
    // Two voters, one running: no quorum for anything more until the second starts.
    const stuck = await Promise.all(sides.map((s) => ctl(s.url, ['--command-timeout', '2s', 'put', 'waits', 'v'])));
    expect(stuck.map((r) => r.code)).toEqual([1, 1]);
    // etcd answers "request timed out" at the client's deadline, which races the client's own
    // giving up: either text, on both sides.
    for (const r of stuck)
      expect(withoutLogLines(r.err)).toMatch(/^Error: (etcdserver: request timed out|context deadline exceeded)\n$/);
    const env = (out: string) => {
      const { ETCD_INITIAL_ADVERTISE_PEER_URLS: _, ...rest } = printedEnv(out);
      return rest;
    };
    clusters.ours.start('n2', env(added[0].out));
    const e = env(added[1].out);
    clusters.etcd.start('e2', defined(e.ETCD_INITIAL_CLUSTER, 'ETCD_INITIAL_CLUSTER printed'), [
      '--initial-cluster-state',
      defined(e.ETCD_INITIAL_CLUSTER_STATE, 'ETCD_INITIAL_CLUSTER_STATE printed'),
    ]);
    await Promise.all(
      sides.map((s) =>
        until(
          `${s.name}: writes commit again`,
          async () => (await ctl(s.url, ['put', 'after', 'v'])).code === 0,
          40_000,
        ),
      ),
    );
    // The new member publishes its name and client URLs through the log once it has joined: wait for it.
    const list = await until(
      'n2 listed as started',
      async () => {
        const l = await ctl(sides[0]!.url, ['member', 'list']);
        return l.out.includes(`, started, n2, ${clusters.ours.spec('n2').peerURL}, `) && l;
      },
      20_000,
    );
    expect(list.out.trim().split('\n')).toHaveLength(2);
  }, 120_000);
});
