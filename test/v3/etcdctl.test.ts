// Debian's real etcdctl (v3 API, unmodified) against our gRPC server (in-memory member) and
// against a real etcd 3.4.23, the same commands to both: outputs and errors must match once ids,
// cluster/member ids, terms and times are normalized.
import { spawn } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { group, nth } from '../helpers/checked.js';
import { CLEAN_ENV, run, type Run } from '../helpers/run.js';
import { needTools } from '../helpers/window.js';
import { ETCD_BIN } from '../helpers/etcd-processes.js';
import { until } from '../helpers/cluster.js';
import { MemoryBackend } from '../../src-main/v3/memory-backend.js';
import { V3GrpcServer } from '../../src-main/v3/grpc-server.js';
import { minLeaseTTL } from '../../src-main/v3/lease/lessor.js';
import { RealEtcd } from './v3-harness.js';

const ETCDCTL = '/usr/bin/etcdctl';
const have = needTools('etcdctl against the v3 gRPC server', [ETCDCTL, ETCD_BIN]);

/**
 * etcdctl, asynchronously (our server runs in this process), with ETCDCTL_API=3; ended by its
 * pid if it runs past `timeoutMs` (a watch that should have been cancelled), then code null.
 */
function etcdctl(endpoint: string, args: string[], input?: string, timeoutMs = 20_000): Promise<Run> {
  return run(ETCDCTL, ['--endpoints', endpoint, '--dial-timeout', '5s', '--command-timeout', '10s', ...args], {
    env: { ETCDCTL_API: '3' },
    input,
    timeoutMs,
  });
}

/** A background etcdctl (watch): its output so far, and a way to end it by its pid. */
function background(endpoint: string, args: string[]) {
  const child = spawn(ETCDCTL, ['--endpoints', endpoint, ...args], { env: { ...CLEAN_ENV, ETCDCTL_API: '3' } });
  let closed = false;
  child.once('close', () => (closed = true));
  const r = {
    out: '',
    /** Ends it by its pid, and waits for it (at once if it has ended by itself). */
    stop: () =>
      new Promise<void>((res) => {
        if (closed) return res();
        child.once('close', () => res());
        process.kill(child.pid!, 'SIGTERM');
      }),
  };
  child.stdout.on('data', (b) => (r.out += b));
  return r;
}

/** What differs between two clusters by nature: ids, terms, lease ids, times, client uuids. */
function normalize(s: string, leases: string[]): string {
  let t = s
    .replace(/"(cluster_id|member_id|raft_term)":\d+/g, '"$1":X')
    .replace(/"(ClusterID|MemberID|RaftTerm)" : \d+/g, '"$1" : X')
    .replace(/^\{"level":"warn".*"error":"(.*)"\}$/gm, 'warn: $1')
    .replace(/remaining\(-?\d+s\)/g, 'remaining(Ns)')
    // etcd lists a lease's keys in Go map order (random); ours are sorted.
    .replace(
      /attached keys\(\[([^\]]*)\]\)/g,
      (_m, ks: string) => `attached keys([${ks.split(' ').sort().join(' ')}])`,
    );
  leases.forEach((hex, i) => {
    t = t
      .split(hex)
      .join(`LEASE${i}`)
      .split(BigInt(`0x${hex}`).toString())
      .join(`LEASE${i}`);
  });
  return t;
}

describe.runIf(have)('etcdctl (v3) against our gRPC server and a real etcd 3.4', () => {
  let etcd: RealEtcd;
  let backend: MemoryBackend;
  let server: V3GrpcServer;
  let ours: string;

  beforeAll(async () => {
    etcd = await RealEtcd.start();
    backend = new MemoryBackend({ minLeaseTTL: minLeaseTTL(500, 50), electionMs: 500 });
    server = new V3GrpcServer(backend);
    ours = `127.0.0.1:${await server.listen('127.0.0.1', 0)}`;
  });
  afterAll(async () => {
    await server?.close(1000);
    backend?.close();
    await etcd?.stop();
  });

  /** Runs one command on both; returns both normalized, with the lease ids each printed. */
  const leaseIds = { ours: [] as string[], etcd: [] as string[] };
  async function both(args: string[], input?: string) {
    const [a, b] = await Promise.all([etcdctl(ours, args, input), etcdctl(etcd.url, args, input)]);
    for (const [r, ids] of [
      [a, leaseIds.ours],
      [b, leaseIds.etcd],
    ] as const) {
      const m = /lease ([0-9a-f]+) granted/.exec(r.out);
      if (m?.[1]) ids.push(m[1]);
    }
    const ep = (t: string, endpoint: string) => t.split(endpoint).join('ENDPOINT');
    return {
      ours: {
        code: a.code,
        out: ep(normalize(a.out, leaseIds.ours), ours),
        err: ep(normalize(a.err, leaseIds.ours), ours),
      },
      etcd: {
        code: b.code,
        out: ep(normalize(b.out, leaseIds.etcd), etcd.url),
        err: ep(normalize(b.err, leaseIds.etcd), etcd.url),
      },
    };
  }

  const commands: [string[], string?][] = [
    [['put', 'foo', 'bar']],
    [['put', 'foo', 'baz', '--prev-kv']],
    [['put', 'fop', '1']],
    [['put', 'fz', '2']],
    [['put', 'g', '3']],
    [['get', 'foo', '-w', 'json']],
    [['get', 'f', '--prefix']],
    [['get', 'f', '--prefix', '--limit', '1', '-w', 'json']],
    [['get', 'f', '--prefix', '--sort-by', 'MODIFY', '--order', 'DESCEND']],
    [['get', 'f', '--prefix', '--keys-only']],
    [['get', 'f', '--prefix', '--count-only', '-w', 'json']],
    [['get', 'fo', '--from-key']],
    [['get', 'foo', 'g']],
    [['get', 'foo', '--rev', '2']],
    [['get', 'foo', '--rev', '99']],
    [['put', '--ignore-value', 'nokey']],
    [['put', 'foo', '--ignore-value', '--prev-kv']],
    [['del', 'fop', '--prev-kv']],
    [['del', 'f', '--prefix']],
    [['txn', '-w', 'json'], 'value("g") = "3"\n\nput g 4\nget g\n\nput h 1\n\n'],
    [['txn'], 'mod("g") > "0"\nversion("h") = "0"\n\nput h 2\ndel g\n\nget g\n\n'],
    [['txn'], '\nput a 1\nput a 2\n\n\n'],
    [['get', '', '--from-key', '--keys-only']],
    [['get', 'g', '--print-value-only']],
    [['get', 'h', '--consistency', 's', '-w', 'fields']],
    [['get', 'g', '--rev', '0', '--order', 'ASCEND', '--sort-by', 'VALUE', '-w', 'simple']],
    [['put', 'zz1', 'x']],
    [['del', 'zz', '--from-key', '--prev-kv']],
    [['compaction', '3']],
    [['compaction', '3']],
    [['get', 'foo', '--rev', '2']],
    [['lease', 'grant', '100']],
    [['put', 'x', 'y', '--lease', '1234abcd']],
    [['lease', 'revoke', '1234abcd']],
    [['lease', 'timetolive', '1234abcd']],
    // The same history, the same hash (etcd's HashKV over its key bucket).
    [['endpoint', 'hashkv']],
    [['endpoint', 'hashkv', '-w', 'json']],
  ];

  it('answers etcdctl put/get/del/txn/compaction/lease as etcd does', async () => {
    for (const [args, input] of commands) {
      const r = await both(args, input);
      expect(r.ours, `etcdctl ${args.join(' ')}`).toEqual(r.etcd);
    }
    expect(leaseIds.ours).toHaveLength(1);
  });

  it('leases: keys attached, time to live, keep-alive, revoke', async () => {
    // Lease 0 of each side was granted above with TTL 100.
    const id = (side: 'ours' | 'etcd') => nth(leaseIds[side], 0, `a lease granted on ${side}`);
    const run = async (f: (side: 'ours' | 'etcd') => string[]) => {
      const [a, b] = await Promise.all([etcdctl(ours, f('ours')), etcdctl(etcd.url, f('etcd'))]);
      return [normalize(a.out + a.err, leaseIds.ours), normalize(b.out + b.err, leaseIds.etcd)];
    };
    const steps: ((side: 'ours' | 'etcd') => string[])[] = [
      (s) => ['put', 'lk1', 'v', '--lease', id(s)],
      (s) => ['put', 'lk2', 'v', '--lease', id(s)],
      (s) => ['lease', 'timetolive', id(s), '--keys'],
      (s) => ['lease', 'keep-alive', '--once', id(s)],
      () => ['lease', 'list'],
      (s) => ['lease', 'revoke', id(s)],
      () => ['get', 'lk', '--prefix'],
      (s) => ['lease', 'timetolive', id(s)],
    ];
    for (const step of steps) {
      const [a, b] = await run(step);
      expect(a, `etcdctl ${step('ours').join(' ')}`).toBe(b);
    }
  });

  it('a lease expires on its own and its keys go (the leader revokes it)', async () => {
    // The minimum TTL applies (1 s with a 50 ms heartbeat and 500 ms election timeout).
    const g = await etcdctl(ours, ['lease', 'grant', '0']);
    const hex = group(/lease ([0-9a-f]+) granted with TTL\(1s\)/, g.out);
    expect((await etcdctl(ours, ['put', 'ephemeral', 'v', '--lease', hex])).out).toBe('OK\n');
    await until(
      'the lease expired and its key was deleted',
      async () => (await etcdctl(ours, ['get', 'ephemeral'])).out === '',
      10_000,
    );
    expect((await etcdctl(ours, ['lease', 'timetolive', hex])).out).toBe(`lease ${hex} already expired\n`);
  });

  it('watch: history from a revision, live events, prev_kv, a compacted start', async () => {
    const rev = async (ep: string) =>
      Number(JSON.parse((await etcdctl(ep, ['get', 'x', '-w', 'json'])).out).header.revision);
    // (Revisions differ by now: the expiry test ran on ours only.)
    const [revOurs, revEtcd] = [await rev(ours), await rev(etcd.url)];
    // Start at the next revision: whatever moment the watch is set up, it sees the same events.
    const wa = background(ours, ['watch', '--prefix', 'w', '--prev-kv', '--rev', String(revOurs + 1)]);
    const wb = background(etcd.url, ['watch', '--prefix', 'w', '--prev-kv', '--rev', String(revEtcd + 1)]);
    for (const args of [
      ['put', 'w1', 'a'],
      ['put', 'w1', 'b'],
      ['put', 'w2', 'c'],
      ['del', 'w', '--prefix'],
    ])
      await both(args);
    // etcdctl prints an event's type, then its previous key and value (with --prev-kv), then its own.
    const expected = 'PUT\nw1\na\nPUT\nw1\na\nw1\nb\nPUT\nw2\nc\nDELETE\nw1\nb\nw1\n\nDELETE\nw2\nc\nw2\n\n';
    try {
      await until('both watchers saw every event', () => wb.out === expected && wa.out === wb.out, 10_000);
    } finally {
      await Promise.all([wa.stop(), wb.stop()]);
    }
    expect(wa.out).toBe(wb.out);
    const compacted = await both(['watch', 'foo', '--rev', '1']);
    expect(compacted.ours).toEqual(compacted.etcd);
    expect(compacted.ours.out + compacted.ours.err).toContain(
      'watch was canceled (etcdserver: mvcc: required revision has been compacted)',
    );
  });

  it('endpoint health/status, member list, alarm list, defrag: answered, in the shape etcd answers', async () => {
    /** A JSON answer's shape: its keys, recursively (values differ by nature between clusters). */
    const shape = (v: unknown): unknown =>
      Array.isArray(v)
        ? v.map(shape)
        : v && typeof v === 'object'
          ? Object.fromEntries(Object.entries(v).map(([k, x]) => [k, shape(x)]))
          : typeof v;
    for (const args of [
      ['endpoint', 'status', '-w', 'json'],
      ['member', 'list', '-w', 'json'],
    ]) {
      const [a, b] = await Promise.all([etcdctl(ours, args), etcdctl(etcd.url, args)]);
      expect(a.code, `${args.join(' ')}: ${a.err}`).toBe(0);
      expect(shape(JSON.parse(a.out)), args.join(' ')).toEqual(shape(JSON.parse(b.out)));
    }
    const health = await both(['endpoint', 'health']);
    const took = (t: string) => t.replace(/took = [\d.]+[µm]?s/, 'took = T');
    expect(took(health.ours.out + health.ours.err)).toBe(took(health.etcd.out + health.etcd.err));
    expect(health.ours.out + health.ours.err).toContain('is healthy: successfully committed proposal');
    for (const args of [['alarm', 'list'], ['defrag']]) {
      const r = await both(args);
      expect(r.ours, args.join(' ')).toEqual(r.etcd);
    }
    const status = await etcdctl(ours, ['endpoint', 'status']);
    // A fresh etcd's 20 kB, as etcd 3.4 sizes its backend (see V3StateMachine.size()).
    expect(status.out).toMatch(/^127\.0\.0\.1:\d+, [0-9a-f]+, 3\.4\.0, 20 kB, true, false, 2, \d+, \d+, \n$/);
  });
});
