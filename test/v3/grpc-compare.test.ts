// Our gRPC server and a real etcd 3.4.23 (its gRPC on the client port), driven by the same
// grpc-js client built from the vendored .proto files: seeded random KV/lease requests, then
// watchers (key or range, past/now/future start revisions, prev_kv, filters) created between
// further requests. Unary answers are compared as decoded messages; watches as each watcher's
// outcome (created, events in order, compaction cancel), since etcd batches a catching-up
// watcher's history by its own 100 ms sync loop.
import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { nth } from '../helpers/checked.js';
import { needTools } from '../helpers/window.js';
import { ETCD_BIN } from '../helpers/etcd-processes.js';
import { until } from '../helpers/cluster.js';
import { seededRandom, type Rng } from '../../src-main/util/rng.js';
import { etcdProto } from '../../src-main/v3/proto/load.js';
import { MemoryBackend } from '../../src-main/v3/memory-backend.js';
import { V3GrpcServer } from '../../src-main/v3/grpc-server.js';
import { minLeaseTTL } from '../../src-main/v3/lease/lessor.js';
import { prefixRangeEnd } from '../../src-main/v3/mvcc/range-end.js';
import { RealEtcd, describe as show, type Op } from './v3-harness.js';
import { RandomOps } from './random-ops.js';

const have = needTools('comparing the v3 gRPC server with a real etcd', [ETCD_BIN]);
type Msg = Record<string, any>;

/** Requests as proto-loader takes them: 63-bit ids as strings. */
function toProto(v: unknown): unknown {
  if (typeof v === 'bigint') return v.toString();
  if (Buffer.isBuffer(v) || v === null || typeof v !== 'object') return v;
  if (Array.isArray(v)) return v.map(toProto);
  return Object.fromEntries(
    Object.entries(v)
      .filter(([, x]) => x !== undefined)
      .map(([k, x]) => [k, toProto(x)]),
  );
}

/** A response without what differs between two clusters by nature (ids, term). */
function strip(m: Msg): Msg {
  return JSON.parse(
    JSON.stringify(m, (k, v) => (k === 'cluster_id' || k === 'member_id' || k === 'raft_term' ? undefined : v)),
  );
}

/** One side: clients for KV, Lease and one Watch stream, and what each watcher has seen. */
class Side {
  private readonly kv: Msg;
  private readonly lease: Msg;
  private readonly maintenance: Msg;
  private readonly watchCall: grpc.ClientDuplexStream<Msg, Msg>;
  /** Per watch id: 'created', the events (type key=value@mod prev=…), 'compacted N', 'canceled'. */
  readonly watchers = new Map<number, string[]>();
  readonly createAnswers: number[] = [];

  constructor(addr: string) {
    const pkg = etcdProto().grpcObject.etcdserverpb as Msg;
    const creds = grpc.credentials.createInsecure();
    this.kv = new pkg.KV(addr, creds);
    this.lease = new pkg.Lease(addr, creds);
    this.maintenance = new pkg.Maintenance(addr, creds);
    this.watchCall = new pkg.Watch(addr, creds).Watch();
    this.watchCall.on('data', (r: Msg) => this.seen(r));
    this.watchCall.on('error', () => {});
  }

  private seen(r: Msg): void {
    const id = Number(r.watch_id ?? 0);
    if (r.created) this.createAnswers.push(id);
    if (id === -1) return;
    const log = this.watchers.get(id) ?? [];
    this.watchers.set(id, log);
    if (r.created) log.push('created');
    for (const e of r.events) {
      const str = (b?: Buffer) => (b ?? Buffer.alloc(0)).toString('latin1');
      const kv = (x: Msg) =>
        `${str(x.key)}=${str(x.value)}@${x.mod_revision}/c${x.create_revision}/v${x.version}/l${x.lease}`;
      log.push(`${e.type} ${kv(e.kv)}${e.prev_kv ? ` prev ${kv(e.prev_kv)}` : ''}`);
    }
    if (Number(r.compact_revision ?? 0) !== 0) log.push(`compacted ${r.compact_revision}`);
    if (r.canceled && !r.created) log.push('canceled');
  }

  call(op: Op): Promise<Msg> {
    const [kind, req] = nth(Object.entries(op) as [string, unknown][], 0, 'an operation');
    const [client, method] =
      (
        {
          range: [this.kv, 'Range'],
          put: [this.kv, 'Put'],
          delete_range: [this.kv, 'DeleteRange'],
          txn: [this.kv, 'Txn'],
          compaction: [this.kv, 'Compact'],
          lease_grant: [this.lease, 'LeaseGrant'],
          lease_revoke: [this.lease, 'LeaseRevoke'],
        } as Record<string, [Msg, string] | undefined>
      )[kind] ?? [];
    if (!client || !method) throw new Error(`expected an operation the gRPC client knows, got ${kind}`);
    return new Promise((resolve) => {
      client[method](toProto(req), (err: grpc.ServiceError | null, resp: Msg) => {
        resolve(err ? { error: { code: err.code, details: err.details } } : { ok: strip(resp) });
      });
    });
  }

  watch(create: Msg): void {
    this.watchCall.write({ create_request: toProto(create) });
  }

  /** A lease as the leader sees it: granted TTL, seconds left, keys (sorted: etcd's are in map order). */
  async leaseInfo(ID: string): Promise<Msg> {
    const r: Msg = await new Promise((resolve) =>
      this.lease.LeaseTimeToLive({ ID, keys: true }, (err: unknown, m: Msg) => resolve(err ? { err } : m)),
    );
    return { ID: r.ID, TTL: Number(r.TTL ?? 0), grantedTTL: r.grantedTTL, keys: (r.keys ?? []).map(String).sort() };
  }

  /** Maintenance.HashKV at `revision` (0 = current): hash, compact revision, header revision. */
  hashKV(revision: number): Promise<Msg> {
    return new Promise((resolve) =>
      this.maintenance.HashKV({ revision }, (err: grpc.ServiceError | null, m: Msg) => {
        resolve(err ? { error: { code: err.code, details: err.details } } : strip(m));
      }),
    );
  }

  async leaseIds(): Promise<string[]> {
    const r: Msg = await new Promise((resolve) =>
      this.lease.LeaseLeases({}, (err: unknown, m: Msg) => resolve(err ? { err } : m)),
    );
    return (r.leases ?? []).map((l: Msg) => l.ID).sort();
  }

  cancel(id: number): void {
    this.watchCall.write({ cancel_request: { watch_id: String(id) } });
  }

  close(): void {
    this.watchCall.end();
    this.kv.close();
    this.lease.close();
    this.maintenance.close();
  }
}

function randomWatch(rng: Rng, rev: number): Msg {
  const keys = ['a', 'a/1', 'ab', 'b', 'c'];
  const key = Buffer.from(rng.pick(keys));
  const f = rng();
  const range_end =
    f < 0.4 ? undefined : f < 0.7 ? prefixRangeEnd(key) : f < 0.8 ? Buffer.from([0]) : Buffer.from(rng.pick(keys));
  return {
    key,
    range_end,
    start_revision: rng.chance(0.3) ? 0 : rng.int(1, rev + 2),
    prev_kv: rng.chance(0.5),
    filters: rng.chance(0.2) ? [rng.pick(['NOPUT', 'NODELETE'])] : [],
  };
}

describe.runIf(have)('v3 gRPC against a real etcd 3.4', () => {
  let etcd: RealEtcd;
  let backend: MemoryBackend;
  let server: V3GrpcServer;
  let ours: Side;
  let theirs: Side;
  beforeAll(async () => {
    etcd = await RealEtcd.start();
    backend = new MemoryBackend({ minLeaseTTL: minLeaseTTL(500, 50), electionMs: 500 });
    server = new V3GrpcServer(backend);
    ours = new Side(`127.0.0.1:${await server.listen('127.0.0.1', 0)}`);
    theirs = new Side(etcd.url.replace('http://', ''));
  });
  afterAll(async () => {
    ours?.close();
    theirs?.close();
    await server?.close(1000);
    backend?.close();
    await etcd?.stop();
  });

  const seed = Number(process.env.V3_SEED ?? 7);
  const length = Number(process.env.V3_OPS ?? 300);

  it(`answers requests and feeds watchers as etcd does (seed ${seed}, ${length} ops)`, async () => {
    console.log(`v3 gRPC comparison: seed ${seed} (V3_SEED=${seed} replays it)`);
    const rng = seededRandom(seed);
    const gen = new RandomOps(seededRandom(seed + 1000));
    let watchers = 0;
    for (let i = 0; i < length; i++) {
      gen.rev = backend.state.rev();
      // First half: compactions allowed, no watchers. Second half: watchers, no compactions
      // (etcd syncs a catching-up watcher up to 100 ms later: a compaction meanwhile would race).
      let op = gen.next();
      while (i >= length / 2 && 'compaction' in op) op = gen.next();
      const [a, b] = await Promise.all([ours.call(op), theirs.call(op)]);
      expect(a, `op #${i} ${show(op)}`).toEqual(b);
      if (i >= length / 2 && rng.chance(0.15)) {
        const w = randomWatch(rng, backend.state.rev());
        ours.watch(w);
        theirs.watch(w);
        watchers++;
      }
    }
    await until(
      'etcd created every watcher',
      () => theirs.createAnswers.length === watchers && ours.createAnswers.length === watchers,
      10_000,
    );
    expect(ours.createAnswers).toEqual(theirs.createAnswers);
    const view = (s: Side) =>
      JSON.stringify(
        [...s.watchers].sort((x, y) => x[0] - y[0]),
        null,
        1,
      );
    await until('etcd delivered what ours did to every watcher', () => view(ours) === view(theirs), 10_000).catch(
      () => undefined,
    );
    expect(view(ours)).toBe(view(theirs));
    // Now that every event is in, cancel every id (a compacted one is gone already: no answer).
    for (const id of ours.watchers.keys()) {
      ours.cancel(id);
      theirs.cancel(id);
    }
    // A compacted watcher is answered twice (its compaction, then this cancel), as etcd does.
    const cancelled = (s: Side) =>
      [...s.watchers.values()].filter((l) => l.at(-1) === 'canceled' && !l.at(-2)!.startsWith('compacted')).length;
    const done = (s: Side) => cancelled(s) === s.watchers.size;
    await until('every watcher cancelled on both', () => done(ours) && done(theirs), 10_000).catch(() => undefined);
    expect(view(ours)).toBe(view(theirs));
    expect(cancelled(ours)).toBe(ours.watchers.size);
    // The leases left, as the leader tells them: same ids, TTLs, keys (time left within a second).
    const ids = await ours.leaseIds();
    expect(ids).toEqual(await theirs.leaseIds());
    let leasedKeys = 0;
    for (const [i, id] of ids.slice(0, 3).entries()) {
      for (const k of [`leased/${i}/b`, `leased/${i}/a`]) {
        const op: Op = { put: { key: Buffer.from(k), value: Buffer.from('v'), lease: BigInt(id) } };
        expect(await ours.call(op)).toEqual(await theirs.call(op));
      }
    }
    for (const id of ids) {
      const [a, b] = await Promise.all([ours.leaseInfo(id), theirs.leaseInfo(id)]);
      leasedKeys += a.keys.length;
      expect(Math.abs(a.TTL - b.TTL), `lease ${id} time left`).toBeLessThanOrEqual(1);
      expect({ ...a, TTL: 0 }).toEqual({ ...b, TTL: 0 });
    }
    expect(await ours.leaseInfo('424242')).toEqual(await theirs.leaseInfo('424242'));
    // The same history hashes the same (etcd's HashKV), now and at past revisions.
    const now = backend.state.rev();
    const compactRev = backend.state.store.compactRev();
    for (const rev of [0, now, now - 1, compactRev + 1, compactRev, now + 1]) {
      const [a, b] = await Promise.all([ours.hashKV(rev), theirs.hashKV(rev)]);
      expect(a, `HashKV(${rev})`).toEqual(b);
    }
    // The comparison saw something: watchers with events, and the first half's compactions.
    const logs = [...ours.watchers.values()];
    expect(logs.filter((l) => l.length > 1).length).toBeGreaterThan(3);
    expect(backend.state.store.compactRev()).toBeGreaterThan(0);
    console.log(
      `${ids.length} leases with ${leasedKeys} keys, ${watchers} watchers, ${logs.reduce((n, l) => n + l.length - 1, 0)} events/cancels compared; ${logs.filter((l) => l.some((x) => x.startsWith('compacted'))).length} compacted`,
    );
  });

  it('refuses a request over --max-request-bytes (1.5 MiB) as etcd does', async () => {
    const big = (n: number) => Buffer.alloc(n, 0x61);
    const ops: Op[] = [
      { put: { key: Buffer.from('big'), value: big(1_500_000) } },
      { put: { key: Buffer.from('big'), value: big(1_600_000) } },
      {
        txn: {
          success: [
            { request_put: { key: Buffer.from('big1'), value: big(800_000) } },
            { request_put: { key: Buffer.from('big2'), value: big(800_000) } },
          ],
        },
      },
      { range: { key: Buffer.from('big'), keys_only: true } },
    ];
    const answers: Msg[] = [];
    for (const op of ops) {
      const [a, b] = await Promise.all([ours.call(op), theirs.call(op)]);
      expect(a, show(op).slice(0, 80)).toEqual(b);
      answers.push(a);
    }
    expect(answers[1]).toEqual({ error: { code: 3, details: 'etcdserver: request is too large' } });
    const [a, b] = await Promise.all([ours.hashKV(0), theirs.hashKV(0)]);
    expect(a).toEqual(b);
  });

  it("an empty range_end sent on the wire: 'from key' where served as received, a single key once proposed", async () => {
    const k = (x: string) => Buffer.from(x);
    const empty = Buffer.alloc(0);
    const ops: Op[] = [
      { put: { key: k('e1'), value: k('1') } },
      { put: { key: k('e2'), value: k('2') } },
      { range: { key: k('e1'), range_end: empty } },
      { txn: { success: [{ request_range: { key: k('e1'), range_end: empty } }] } },
      {
        txn: {
          compare: [{ key: k('e1'), range_end: empty, target: 'VERSION', result: 'EQUAL', version: 1 }],
          success: [{ request_range: { key: k('e1'), range_end: empty, count_only: true } }],
        },
      },
      {
        txn: {
          success: [
            { request_put: { key: k('e3'), value: k('3') } },
            { request_range: { key: k('e1'), range_end: empty } },
          ],
        },
      },
      { delete_range: { key: k('e1'), range_end: empty, prev_kv: true } },
    ];
    for (const op of ops) {
      const [a, b] = await Promise.all([ours.call(op), theirs.call(op)]);
      expect(a, show(op)).toEqual(b);
    }
  });
});
