// etcd's Maintenance service on raftlab nodes, side by side with real etcd 3.4 members given the
// same commands through Debian's etcdctl: move-leader (and its refusals), snapshot save/status
// (and a real etcd restored from raftlab's snapshot, reading back raftlab's keys, history and
// leases), endpoint hashkv and defrag across the cluster, and the space quota: NOSPACE raised
// past --quota-backend-bytes, the capped member, alarm list/disarm, compaction + defrag.
import * as grpc from '@grpc/grpc-js';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { nth, one } from '../helpers/checked.js';
import { until } from '../helpers/cluster.js';
import { bothClustersForSuite, ETCD_BIN } from '../helpers/etcd-processes.js';
import { memberURLFlags, Proc } from '../helpers/processes.js';
import { needTools } from '../helpers/window.js';
import { freePorts } from '../../src-main/net/free-ports.js';
import { readBolt } from '../../src-main/v3/snapshot/bolt.js';
import { etcdProto } from '../../src-main/v3/proto/load.js';
import { ETCDCTL, ctl, withoutLogLines, type CtlRun } from './etcdctl-run.js';

const have = needTools('etcd maintenance with etcdctl against raftlab nodes and etcd 3.4', [ETCDCTL, ETCD_BIN]);
type Msg = Record<string, any>;

/** `f` on both of a pair at once; the answers as a pair. */
const onPair = <A, T>([x, y]: readonly [A, A], f: (a: A) => Promise<T>): Promise<[T, T]> => Promise.all([f(x), f(y)]);

interface Side {
  name: 'ours' | 'etcd';
  urls: string[];
  /** The names the side's members have (n1.. or e1..). */
  names: string[];
}

interface EndpointStatus {
  Endpoint: string;
  Status: { header: { member_id: number | string }; leader: number | string; errors?: string[] };
}

/** What differs between two clusters by nature: member and cluster ids, URLs, names. */
function normalizer(side: Side) {
  const ids = new Map<string, string>();
  return (s: string): string => {
    let t = withoutLogLines(s);
    for (const u of side.urls) t = t.split(u).join('URL').split(u.replace('http://', '')).join('URL');
    t = t.replace(/\b(?:[0-9a-f]{13,16}|\d{17,20})\b/g, (id) => {
      const hex = /^\d+$/.test(id) && id.length > 16 ? BigInt(id).toString(16) : id;
      if (!ids.has(hex)) ids.set(hex, `ID${ids.size}`);
      return ids.get(hex)!;
    });
    return side.names.reduce((x, n) => x.split(n).join('NAME'), t);
  };
}

async function statuses(side: Side): Promise<EndpointStatus[]> {
  const r = await ctl(side.urls, ['endpoint', 'status', '-w', 'json']);
  if (r.code !== 0) throw new Error(`endpoint status: ${r.err}`);
  // Member ids are uint64s, as JSON numbers: kept as strings, exact.
  return JSON.parse(r.out.replace(/("\w+":)(\d{16,})\b/g, '$1"$2"')) as EndpointStatus[];
}

/** The leader's and every member's hex id, once all endpoints agree on a leader. */
async function roles(side: Side): Promise<{ leader: string; byUrl: Map<string, string> }> {
  return until(
    `${side.name}: one leader all agree on`,
    async () => {
      const st = await statuses(side).catch(() => undefined);
      if (!st) return undefined;
      const leaders = new Set(st.map((s) => String(s.Status.leader)));
      if (leaders.size !== 1 || leaders.has('0')) return undefined;
      const hex = (v: number | string) => BigInt(String(v)).toString(16);
      return {
        leader: hex(nth(st, 0, 'an endpoint status').Status.leader),
        byUrl: new Map(st.map((s) => [s.Endpoint, hex(s.Status.header.member_id)])),
      };
    },
    20_000,
  );
}

function moveLeaderRpc(url: string, targetHex: string): Promise<{ code: number; details: string }> {
  const pkg = etcdProto().grpcObject.etcdserverpb as Msg;
  const client = new pkg.Maintenance(url.replace('http://', ''), grpc.credentials.createInsecure());
  return new Promise((resolve) => {
    client.MoveLeader(
      { targetID: BigInt(`0x${targetHex}`).toString() },
      { deadline: Date.now() + 10_000 },
      (err: grpc.ServiceError | null) => {
        client.close();
        resolve(err ? { code: err.code, details: err.details } : { code: 0, details: '' });
      },
    );
  });
}

/** A real etcd started on a data dir restored from a snapshot file: the client URL and how to stop it. */
async function restoreIntoEtcd(dir: string, snapshot: string, name: string): Promise<{ url: string; etcd: Proc }> {
  const [cp, pp] = await freePorts(2);
  const peer = `http://127.0.0.1:${pp}`;
  const url = `http://127.0.0.1:${cp}`;
  const dataDir = path.join(dir, `${name}.restored`);
  const restored = await ctl(url, [
    'snapshot',
    'restore',
    snapshot,
    '--data-dir',
    dataDir,
    '--name',
    name,
    '--initial-cluster',
    `${name}=${peer}`,
    '--initial-advertise-peer-urls',
    peer,
  ]);
  expect(restored.code, `snapshot restore ${snapshot}: ${restored.err}`).toBe(0);
  const etcd = new Proc(ETCD_BIN, [
    '--name',
    name,
    '--data-dir',
    dataDir,
    ...memberURLFlags({ peerURL: peer, clientURL: url }),
    '--initial-cluster',
    `${name}=${peer}`,
    '--logger',
    'zap',
    '--log-level',
    'warn',
  ]);
  await until(`${name} serves`, async () => (await ctl(url, ['endpoint', 'health'])).code === 0, 20_000);
  return { url, etcd };
}

describe.runIf(have)('etcdctl maintenance against 3 raftlab nodes and 3 etcd 3.4 members', () => {
  const clusters = bothClustersForSuite(3);
  let ours: Side;
  let theirs: Side;
  let dir: string;
  const restoredEtcds: Proc[] = [];

  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'raftlab-maint-'));
    ours = {
      name: 'ours',
      urls: clusters.ourNames.map((n) => clusters.ours.spec(n).clientURL),
      names: clusters.ourNames,
    };
    theirs = {
      name: 'etcd',
      urls: clusters.etcdNames.map((n) => clusters.etcd.spec(n).clientURL),
      names: clusters.etcdNames,
    };
    await Promise.all([roles(ours), roles(theirs)]);
  }, 60_000);

  afterAll(async () => {
    await Promise.all(restoredEtcds.map((p) => p.kill9()));
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  /** The same etcdctl command on both sides; both answers normalized. */
  async function both(
    args: (side: Side) => string[],
    endpoints: (side: Side) => string[] = (s) => s.urls,
  ): Promise<[CtlRun, CtlRun]> {
    const [a, b] = await Promise.all([ctl(endpoints(ours), args(ours)), ctl(endpoints(theirs), args(theirs))]);
    const [na, nb] = [normalizer(ours), normalizer(theirs)];
    return [
      { code: a.code, out: na(a.out), err: na(a.err) },
      { code: b.code, out: nb(b.out), err: nb(b.err) },
    ];
  }

  it('move-leader hands the lead to a follower; a bad target, a follower-only endpoint list and a follower asked directly are refused as etcd refuses them', async () => {
    const before = new Map(await onPair([ours, theirs], async (s) => [s.name, await roles(s)] as const));
    const target = (s: Side) => {
      const r = before.get(s.name)!;
      return [...r.byUrl.values()].find((id) => id !== r.leader)!;
    };
    const [a, b] = await both((s) => ['move-leader', target(s)]);
    expect(a).toEqual(b);
    expect(a.out).toBe('Leadership transferred from ID0 to ID1\n');
    for (const s of [ours, theirs]) expect((await roles(s)).leader, s.name).toBe(target(s));

    // A member that does not exist.
    const [badA, badB] = await both(() => ['move-leader', '1234']);
    expect(badA).toEqual(badB);
    expect(badA.err).toContain('Error: etcdserver: bad leader transferee');

    // Only followers given: etcdctl finds no leader among them (its own check, before any RPC).
    const followers = async (s: Side) => {
      const r = await roles(s);
      return [...r.byUrl].filter(([, id]) => id !== r.leader).map(([u]) => u);
    };
    const fol = new Map(await onPair([ours, theirs], async (s) => [s.name, await followers(s)] as const));
    const [noA, noB] = await both(
      (s) => ['move-leader', before.get(s.name)!.leader],
      (s) => fol.get(s.name)!,
    );
    expect(noA).toEqual(noB);
    expect(noA.err).toMatch(/Error: no leader endpoint given at \[URL URL\]/);

    // A follower asked over gRPC itself: etcd's "not leader".
    const direct = await onPair([ours, theirs], (s) =>
      moveLeaderRpc(nth(fol.get(s.name)!, 0, 'a follower'), before.get(s.name)!.leader),
    );
    expect(direct[0]).toEqual(direct[1]);
    expect(direct[0]).toEqual({ code: grpc.status.FAILED_PRECONDITION, details: 'etcdserver: not leader' });
  }, 90_000);

  it("snapshot save from a follower: etcdctl snapshot status reads it as it reads etcd's, and a real etcd restored from it has the keys, history and lease", async () => {
    // The same history on both: puts, an overwrite, a delete, a lease with a key, a compaction.
    for (const args of [
      ['put', 'k1', 'v1'],
      ['put', 'k2', 'v2'],
      ['put', 'k1', 'v3'],
      ['del', 'k2'],
      ['put', 'k4', 'v4'],
    ]) {
      const [a, b] = await both(() => args);
      expect(a, args.join(' ')).toEqual(b);
    }
    const [ga, gb] = await both(() => ['lease', 'grant', '600']);
    expect(ga.code + gb.code).toBe(0);
    const raw = await onPair([ours, theirs], (s) => ctl(s.urls, ['lease', 'list']));
    const leaseIdOf = (r: CtlRun) => nth(r.out.trim().split('\n'), 1, 'a lease in the list');
    const ids = [leaseIdOf(raw[0]), leaseIdOf(raw[1])] as const;
    expect(ids[0]).toMatch(/^[0-9a-f]+$/);
    for (const [s, id] of [
      [ours, ids[0]],
      [theirs, ids[1]],
    ] as const) {
      expect((await ctl(s.urls, ['put', 'leased', 'x', '--lease', id])).out).toBe('OK\n');
    }
    const [ca, cb] = await both(() => ['compaction', '3']);
    expect(ca).toEqual(cb);

    const files = new Map<string, string>();
    for (const s of [ours, theirs]) {
      const r = await roles(s);
      const follower = [...r.byUrl].find(([, id]) => id !== r.leader)![0];
      const file = path.join(dir, `${s.name}.db`);
      // Against one member only, as etcdctl requires; a follower answers too.
      const saved = await ctl(follower, ['snapshot', 'save', file]);
      expect(saved.code, saved.err).toBe(0);
      expect(saved.out).toBe(`Snapshot saved at ${file}\n`);
      files.set(s.name, file);
    }
    const status = await onPair([ours, theirs], (s) =>
      ctl(nth(s.urls, 0), ['snapshot', 'status', files.get(s.name)!, '-w', 'json']),
    );
    const snapStatus = (r: CtlRun) =>
      JSON.parse(r.out) as { hash: number; revision: number; totalKey: number; totalSize: number };
    const [so, se] = [snapStatus(status[0]), snapStatus(status[1])];
    // The same revision and the same number of keys in the same buckets (ids and sizes differ by nature).
    expect({ revision: so.revision, totalKey: so.totalKey }).toEqual({ revision: se.revision, totalKey: se.totalKey });
    expect(so.totalSize % 4096).toBe(0);
    const table = await ctl(nth(ours.urls, 0), ['snapshot', 'status', files.get('ours')!, '-w', 'table']);
    expect(table.out).toContain('| TOTAL KEYS |');
    // Bucket by bucket, the same keys (values hold ids, URLs and times).
    const keysOf = (file: string) => {
      const buckets = readBolt(fs.readFileSync(file));
      return Object.fromEntries(
        [...buckets].map(([name, pairs]) => [
          name,
          name === 'members' || name === 'lease' ? pairs.length : pairs.map(([k]) => k.toString('hex')),
        ]),
      );
    };
    expect(keysOf(files.get('ours')!)).toEqual(keysOf(files.get('etcd')!));

    // A real etcd restored from each snapshot: the same keys, revisions, history and a lease.
    const restored = await onPair([ours, theirs], (s) => restoreIntoEtcd(dir, files.get(s.name)!, `r${s.name}`));
    restoredEtcds.push(...restored.map((r) => r.etcd));
    const read = async (url: string, args: string[]) => {
      const r = await ctl(url, args);
      return JSON.parse(r.out) as Msg;
    };
    const [ka, kb] = await onPair(restored, (r) => read(r.url, ['get', '', '--from-key', '-w', 'json']));
    expect(ka.kvs.map((kv: Msg) => ({ ...kv, lease: undefined }))).toEqual(
      kb.kvs.map((kv: Msg) => ({ ...kv, lease: undefined })),
    );
    expect(ka.kvs.map((kv: Msg) => Buffer.from(kv.key, 'base64').toString())).toEqual(['k1', 'k4', 'leased']);
    expect(ka.header.revision).toBe(kb.header.revision);
    const [ha, hb] = await onPair(restored, (r) => read(r.url, ['get', 'k1', '--rev', '4', '-w', 'json']));
    expect(ha.kvs).toEqual(hb.kvs);
    expect(Buffer.from(one(ha.kvs as Msg[]).value, 'base64').toString()).toBe('v3');
    const compacted = await ctl(restored[0].url, ['get', 'k1', '--rev', '2']);
    expect(compacted.err).toContain('required revision has been compacted');
    expect((await ctl(restored[0].url, ['lease', 'list'])).out).toBe(`found 1 leases\n${ids[0]}\n`);
    const ttl = await ctl(restored[0].url, ['lease', 'timetolive', ids[0], '--keys']);
    expect(ttl.out).toMatch(
      new RegExp(`^lease ${ids[0]} granted with TTL\\(600s\\), remaining\\(\\d+s\\), attached keys\\(\\[leased\\]\\)`),
    );
  }, 120_000);

  it('endpoint hashkv --cluster agrees on every member, and with etcd up to the same revision; defrag --cluster answers per member as etcd', async () => {
    const hashes = (r: CtlRun) =>
      r.out
        .trim()
        .split('\n')
        .map((l) => l.split(', ')[1]);
    const [a, b] = await both(() => ['endpoint', 'hashkv', '--cluster']);
    expect(a.code + b.code).toBe(0);
    expect(hashes(a)).toHaveLength(3);
    expect(new Set(hashes(a)).size).toBe(1);
    // Up to revision 6 (before the leased key, whose lease ids differ) the histories are the same.
    const [ra, rb] = await both(() => ['endpoint', 'hashkv', '--cluster', '--rev', '6']);
    expect(ra).toEqual(rb);
    expect(new Set(hashes(ra)).size).toBe(1);
    const [da, db] = await both(() => ['defrag', '--cluster']);
    expect(da).toEqual(db);
    expect(da.out).toBe('Finished defragmenting etcd member[URL]\n'.repeat(3));
  }, 60_000);
});

describe.runIf(have)('the space quota (NOSPACE) on a raftlab node and an etcd 3.4 member', () => {
  /** Small enough to fill with a few 8 KiB values, above a fresh member's 20 KiB. */
  const QUOTA = 96 * 1024;
  const clusters = bothClustersForSuite(1, [`--quota-backend-bytes=${QUOTA}`]);
  let ours: Side;
  let theirs: Side;

  beforeAll(async () => {
    ours = { name: 'ours', urls: [clusters.ours.spec('n1').clientURL], names: ['n1'] };
    theirs = { name: 'etcd', urls: [clusters.etcd.spec('e1').clientURL], names: ['e1'] };
    await Promise.all([roles(ours), roles(theirs)]);
  }, 60_000);

  async function both(args: string[]): Promise<[CtlRun, CtlRun]> {
    const [a, b] = await Promise.all([ctl(ours.urls, args), ctl(theirs.urls, args)]);
    const [na, nb] = [normalizer(ours), normalizer(theirs)];
    return [
      { code: a.code, out: na(a.out), err: na(a.err) },
      { code: b.code, out: nb(b.out), err: nb(b.err) },
    ];
  }

  it('fills up, raises NOSPACE, refuses growth but serves reads and deletes; disarm, compaction and defrag free it', async () => {
    const value = 'v'.repeat(8 * 1024);
    // Each side fills at its own pace (the backends grow differently): up to the first refusal.
    const fill = async (s: Side) => {
      for (let i = 0; i < 100; i++) {
        const r = await ctl(s.urls, ['put', `big${i}`, value]);
        if (r.code !== 0) return { puts: i, refusal: withoutLogLines(r.err) };
      }
      throw new Error(`${s.name}: 100 puts of 8 KiB fit a quota of ${QUOTA} bytes`);
    };
    const [fo, fe] = await Promise.all([fill(ours), fill(theirs)]);
    expect(fo.refusal).toBe(fe.refusal);
    expect(fo.refusal).toBe('Error: etcdserver: mvcc: database space exceeded\n');
    expect(fo.puts).toBeGreaterThan(3);
    expect(fo.puts).toBeLessThan(12);

    const steps: string[][] = [
      ['alarm', 'list'],
      ['alarm', 'list', '-w', 'json'],
      ['put', 'small', 'x'],
      ['lease', 'grant', '100'],
      ['get', 'big0', '--keys-only'],
      ['put', 'big0', '--ignore-value'],
    ];
    for (const args of steps) {
      const [a, b] = await both(args);
      expect(a, args.join(' ')).toEqual(b);
    }
    const [la] = await both(['alarm', 'list']);
    expect(la.out).toBe('memberID:ID0 alarm:NOSPACE \n');
    // endpoint status lists the alarm among its errors.
    const errors = await onPair(
      [ours, theirs],
      async (s) => nth(await statuses(s), 0, 'an endpoint status').Status.errors,
    );
    expect(errors[0]).toHaveLength(1);
    expect(normalizer(ours)(nth(errors[0]!, 0))).toBe(normalizer(theirs)(nth(errors[1] ?? [], 0)));

    // Disarming while still full: the next large put raises it again.
    const [da, dbb] = await both(['alarm', 'disarm']);
    expect(da).toEqual(dbb);
    expect(da.out).toBe('memberID:ID0 alarm:NOSPACE \n');
    const [again, againE] = await both(['put', 'big0', value]);
    expect(again).toEqual(againE);
    expect(again.err).toContain('database space exceeded');
    const [listed, listedE] = await both(['alarm', 'list']);
    expect(listed).toEqual(listedE);
    expect(listed.out).toBe('memberID:ID0 alarm:NOSPACE \n');

    // etcd's way out: delete (allowed while capped), compact, defragment, disarm.
    const [dela, delb] = await both(['del', 'big', '--prefix']);
    expect(dela.code + delb.code).toBe(0);
    const revs = await onPair(
      [ours, theirs],
      async (s) => JSON.parse((await ctl(s.urls, ['get', 'x', '-w', 'json'])).out).header.revision as number,
    );
    await Promise.all([
      ctl(ours.urls, ['compaction', String(revs[0])]),
      ctl(theirs.urls, ['compaction', String(revs[1])]),
    ]);
    for (const args of [['defrag'], ['alarm', 'disarm'], ['alarm', 'list'], ['put', 'small', 'x'], ['get', 'small']]) {
      const [a, b] = await both(args);
      expect(a, args.join(' ')).toEqual(b);
    }
    const after = await onPair(
      [ours, theirs],
      async (s) => nth(await statuses(s), 0, 'an endpoint status').Status.errors ?? [],
    );
    expect(after).toEqual([[], []]);
  }, 120_000);
});
