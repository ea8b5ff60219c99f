// The KV console's v3 requests, sent by the supervisor to a real node's /v3 JSON gateway, and
// the two lines the console prints for each: run for real (Debian's etcdctl, curl, through
// `sh -c`, exactly as printed) against the same node, they must give what the console showed:
// etcdctl prints the text the console shows (etcdctl3Output), curl prints the JSON the console
// got. A write is run three times (console, etcdctl, curl) from the same starting state (its
// `setup`); then only what a write changes by nature (revisions, a new lease's id) is normalized.
import { spawn } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AttachedSource } from '../../src-main/attach/attached-source.js';
import { V3Console } from '../../src-main/attach/v3-console.js';
import { Supervisor } from '../../src-main/cluster/supervisor.js';
import { b64, leaseDec, type Kv3Request } from '../../src-shared/kv3.js';
import { agreedLeader } from '../../src-shared/cluster-state.js';
import type { KvResult } from '../../src-shared/command-results.js';
import { parseCommand } from '../../src-shared/commands.js';
import type { ServerEvent } from '../../src-shared/protocol.js';
import { curl3For, etcdctl3For, etcdctl3Output, watchEventLines } from '../../src-renderer/lib/kv-commands.js';
import { nth } from '../helpers/checked.js';
import { until } from '../helpers/cluster.js';
import { EtcdCluster, ETCD_BIN } from '../helpers/etcd-processes.js';
import { needTools } from '../helpers/window.js';

const have = needTools('the v3 console lines run with etcdctl and curl', ['/usr/bin/etcdctl', '/usr/bin/curl']);
const haveEtcd = needTools("the v3 console's answers compared with a real etcd's", [ETCD_BIN]);

// etcdctl as a user runs it: its default API (v3), no ETCD*/ETCDCTL* settings from this shell.
const cleanEnv = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('ETCD')));

interface Ran {
  code: number | null;
  out: string;
  err: string;
}

/** A printed line, run by sh exactly as printed; ended by its pid after `timeoutMs`. */
function sh(line: string, timeoutMs = 20_000): Promise<Ran> {
  return new Promise((resolve) => {
    const child = spawn('/bin/sh', ['-c', line], { env: cleanEnv, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    let out = '';
    let err = '';
    child.stdout.on('data', (b) => (out += b));
    child.stderr.on('data', (b) => (err += b));
    const timer = setTimeout(() => process.kill(-child.pid!, 'SIGKILL'), timeoutMs);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, out, err });
    });
  });
}

/** A printed line left running (a watch): its output so far; `stop` ends its process group. */
function background(line: string) {
  const child = spawn('/bin/sh', ['-c', `exec ${line}`], {
    env: cleanEnv,
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  const r = {
    out: '',
    closed: false,
    stop: async () => {
      if (r.closed) return;
      const done = new Promise((res) => child.once('close', res));
      process.kill(-child.pid!, 'SIGTERM');
      await done;
    },
  };
  child.stdout.on('data', (b) => (r.out += b));
  child.once('close', () => (r.closed = true));
  return r;
}

/** What differs between two runs of the same write: revisions, a fresh lease's id, a term after an election. */
function normalizeJson(body: unknown, leaseIds: boolean): unknown {
  const text = JSON.stringify(body)
    .replace(/"(revision|create_revision|mod_revision|version|raft_term)":"\d+"/g, '"$1":"N"')
    .replace(leaseIds ? /"ID":"-?\d+"/g : /$^/, '"ID":"LEASE"');
  return JSON.parse(text);
}
const normalizeText = (s: string) => s.replace(/\b[0-9a-f]{16}\b/g, 'LEASE');

let sup: Supervisor;
const events: ServerEvent[] = [];
let node: string;
let url: string;

beforeAll(async () => {
  if (!have) return;
  sup = new Supervisor({ heartbeatMs: 50, electionMs: 500 });
  sup.on('events', (batch) => events.push(...batch));
  await sup.start(3);
  node = await until('an agreed leader', () => agreedLeader(sup.snapshot())?.name, 20_000);
  // A follower: the console's requests go to whichever node was chosen, not only the leader.
  const follower = sup.snapshot().nodes.find((n) => n.name !== node)!;
  node = follower.name;
  url = follower.clientURL;
}, 60_000);

afterAll(async () => {
  await sup?.stop();
});

const console3 = async (request: Kv3Request): Promise<KvResult> =>
  (await sup.execute(parseCommand({ type: 'kv3', name: node, request }))) as KvResult;

/** The gateway, asked directly (to set the scene: never through what is being tested). */
async function gateway(at: string, path: string, body: object): Promise<any> {
  const res = await fetch(at + path, { method: 'POST', body: JSON.stringify(body) });
  expect(res.status).toBe(200);
  return res.json();
}
const putKey = (key: string, value: string, lease?: string, at = url) =>
  gateway(at, '/v3/kv/put', { key: b64(key), value: b64(value), ...(lease ? { lease } : {}) });
/** A lease with an id of our choosing (etcdctl cannot choose one): revoke and keep-alive find it. */
const FIXED_LEASE = '00000000000b0a57';
const grantFixed = async (at = url) => {
  await fetch(at + '/v3/lease/revoke', { method: 'POST', body: JSON.stringify({ ID: leaseDec(FIXED_LEASE) }) });
  await gateway(at, '/v3/lease/grant', { ID: leaseDec(FIXED_LEASE), TTL: 600 });
};

interface Case {
  what: string;
  request: Kv3Request;
  /** Before each run: the state the request starts from, on the member at `at`. Reads have none (nothing changes). */
  setup?: (at?: string) => Promise<unknown>;
  /** A fresh lease per run: its id differs. */
  newLease?: boolean;
  /** etcdctl says it on stderr, with a non-zero exit. */
  fails?: boolean;
}

/** The keys the reads find (put again where a case deleted them). */
const READ_KEYS = [
  ['/console/p/1', 'one'],
  ['/console/p/2', 'two'],
  ['/console/p/3', 'three'],
  ['/console/a', 'A'],
] as const;

/** A compare-and-swap: the same request, made once where it succeeds and once where it fails. */
const CAS: Kv3Request = {
  op: 'txn',
  key: '/console/cas',
  target: 'value',
  relation: '=',
  expected: 'old',
  value: 'new',
};

const CASES: Case[] = [
  {
    what: 'put',
    request: { op: 'put', key: '/console/a', value: 'hello world' },
    setup: (at) => putKey('/console/a', 'before', undefined, at),
  },
  {
    what: 'put --prev-kv',
    request: { op: 'put', key: '/console/a', value: 'x', prevKv: true },
    setup: (at) => putKey('/console/a', 'before', undefined, at),
  },
  {
    what: 'put --lease',
    request: { op: 'put', key: '/console/leased', value: 'v', lease: FIXED_LEASE.replace(/^0+/, '') },
    setup: grantFixed,
  },
  {
    what: 'put of a key and value that read as flags',
    request: { op: 'put', key: '-dash', value: '-1' },
    setup: (at) => putKey('-dash', '0', undefined, at),
  },
  { what: 'get', request: { op: 'get', key: '/console/a' } },
  { what: 'get of a missing key', request: { op: 'get', key: '/console/none' } },
  { what: 'get --prefix --limit', request: { op: 'get', key: '/console/p/', prefix: true, limit: 2 } },
  { what: 'get of a future revision', request: { op: 'get', key: '/console/a', revision: 1_000_000 }, fails: true },
  {
    what: 'del',
    request: { op: 'delete', key: '/console/d' },
    setup: (at) => putKey('/console/d', '1', undefined, at),
  },
  {
    what: 'del --prefix --prev-kv',
    request: { op: 'delete', key: '/console/dp/', prefix: true, prevKv: true },
    setup: async (at) => {
      await putKey('/console/dp/1', 'a', undefined, at);
      await putKey('/console/dp/2', 'b', undefined, at);
    },
  },
  { what: 'txn that succeeds', request: CAS, setup: (at) => putKey('/console/cas', 'old', undefined, at) },
  { what: 'txn that fails', request: CAS, setup: (at) => putKey('/console/cas', 'other', undefined, at) },
  {
    what: 'txn on a version',
    request: { op: 'txn', key: '/console/ver', target: 'version', relation: '>', expected: '0', value: 'more' },
    setup: (at) => putKey('/console/ver', 'v', undefined, at),
  },
  {
    what: 'txn with quotes and spaces',
    request: { op: 'txn', key: '/console/"q" k', target: 'value', relation: '!=', expected: "it's", value: 'a "b" c' },
    setup: (at) => putKey('/console/"q" k', 'x', undefined, at),
  },
  { what: 'lease grant', request: { op: 'leaseGrant', ttl: 60 }, setup: async () => {}, newLease: true },
  { what: 'lease keep-alive', request: { op: 'leaseKeepAlive', lease: FIXED_LEASE }, setup: grantFixed },
  {
    what: 'lease timetolive --keys',
    request: { op: 'leaseTimeToLive', lease: FIXED_LEASE, keys: true },
    setup: async (at) => {
      await grantFixed(at);
      await putKey('/console/l1', 'a', leaseDec(FIXED_LEASE), at);
      await putKey('/console/l2', 'b', leaseDec(FIXED_LEASE), at);
    },
  },
  { what: 'lease revoke', request: { op: 'leaseRevoke', lease: FIXED_LEASE }, setup: grantFixed },
  { what: 'lease revoke of a lease that is gone', request: { op: 'leaseRevoke', lease: 'abc' }, fails: true },
  { what: 'lease timetolive of a lease that is gone', request: { op: 'leaseTimeToLive', lease: 'abc' } },
];

describe.runIf(have)('the v3 console, and its etcdctl and curl lines run for real', () => {
  it.each(CASES.map((c) => [c.what, c] as const))(
    '%s',
    async (_what, c) => {
      // Reads see a few keys under a prefix, written once.
      if (
        !c.setup &&
        !(
          await fetch(url + '/v3/kv/range', {
            method: 'POST',
            body: JSON.stringify({ key: b64('/console/p/1') }),
          }).then((r) => r.json())
        ).kvs
      ) {
        for (const [k, v] of READ_KEYS) await putKey(k, v);
      }
      await c.setup?.();
      const shown = await console3(c.request);
      const text = etcdctl3Output(c.request, shown);
      // etcdctl prints nothing for no keys; so does this text (the console says "no keys" beside it).
      expect(text === '').toBe(
        c.request.op === 'get' && shown.status === 200 && !(shown.body as { kvs?: unknown }).kvs,
      );
      await c.setup?.();
      const e = await sh(etcdctl3For(c.request, url));
      await c.setup?.();
      const k = await sh(curl3For(c.request, url));

      // etcdctl: the same text on stdout, or the same error line on stderr.
      if (c.fails) {
        expect(shown.status).not.toBe(200);
        expect(e.code).not.toBe(0);
        expect(e.err.trim().split('\n').at(-1)).toBe(text.trim());
      } else {
        expect({ code: e.code, err: e.err }).toEqual({ code: 0, err: '' });
        expect(c.newLease ? normalizeText(e.out) : e.out).toBe(c.newLease ? normalizeText(text) : text);
      }
      // curl: the very JSON the console got (a write: as of its own revision).
      expect(k.code).toBe(0);
      const curled = JSON.parse(nth(k.out.split('\n'), 0));
      if (c.setup || c.fails)
        expect(normalizeJson(curled, !!c.newLease)).toEqual(normalizeJson(shown.body, !!c.newLease));
      else expect(curled).toEqual(shown.body);
    },
    60_000,
  );

  it('get --rev: the console, etcdctl and curl read the same past revision', async () => {
    const first = await putKey('/console/hist', 'first');
    await putKey('/console/hist', 'second');
    const request: Kv3Request = { op: 'get', key: '/console/hist', revision: Number(first.header.revision) };
    const shown = await console3(request);
    expect(etcdctl3Output(request, shown)).toBe('/console/hist\nfirst\n');
    expect((await sh(etcdctl3For(request, url))).out).toBe('/console/hist\nfirst\n');
    expect(JSON.parse((await sh(curl3For(request, url))).out)).toEqual(shown.body);
  }, 60_000);

  it('watch: the console, etcdctl watch and curl see the same change, made outside', async () => {
    const request: Kv3Request = { op: 'watch', watch: 'w-test', key: '/console/w/', prefix: true, prevKv: true };
    const created = await console3(request);
    expect(created).toMatchObject({ status: 200, body: { result: { created: true } } });
    const etcdctl = background(etcdctl3For(request, url));
    const curl = background(curl3For(request, url));
    try {
      // Both streams must be open before the change: curl's first line (created) says so; etcdctl
      // prints nothing until a change, so a first change is made until it shows one.
      await until('curl watching', () => curl.out.includes('"created":true'), 20_000);
      await until(
        'etcdctl watching',
        async () => {
          if (etcdctl.out.includes('/console/w/warmup')) return true;
          await sh(`etcdctl --endpoints ${url} put /console/w/warmup 0`);
          return etcdctl.out.includes('/console/w/warmup');
        },
        20_000,
      );
      const before = events.length;
      const put = await sh(`etcdctl --endpoints ${url} put /console/w/k 'from outside'`);
      expect(put.out).toBe('OK\n');
      const line = await until(
        'the console sees the change',
        () =>
          events
            .slice(before)
            .find(
              (x): x is Extract<ServerEvent, { type: 'watch' }> =>
                x.type === 'watch' && x.watch === 'w-test' && watchEventLines(x.result).includes('/console/w/k'),
            ),
        20_000,
      );
      const shownText = `${watchEventLines(line.result).join('\n')}\n`;
      expect(shownText).toBe('PUT\n/console/w/k\nfrom outside\n');
      await until('etcdctl watch prints it', () => etcdctl.out.endsWith(shownText), 20_000);
      const curled = await until(
        'curl prints it',
        () =>
          curl.out
            .split('\n')
            .map((l) => l.trim())
            .filter(Boolean)
            .map((l) => JSON.parse(l))
            .find((j) => JSON.stringify(j).includes(b64('/console/w/k'))),
        20_000,
      );
      expect(curled.result).toEqual(line.result);
    } finally {
      await etcdctl.stop();
      await curl.stop();
      await console3({ op: 'unwatch', watch: 'w-test' });
    }
  }, 90_000);
});

/**
 * A lease's keys in order: etcd 3.4 lists them from a Go map (lease.Keys ranges over itemSet),
 * so their order changes from one answer to the next; which keys, not their order, is compared.
 */
function leaseKeysSorted<R extends { body?: unknown } | undefined>(result: R): R {
  const body = result?.body as { keys?: unknown } | undefined;
  if (!result || !body || !Array.isArray(body.keys)) return result;
  return { ...result, body: { ...body, keys: [...(body.keys as string[])].sort() } };
}

/** What differs between two clusters by nature: ids, terms, revisions and versions (their histories differ). */
const acrossClusters = (body: unknown) =>
  JSON.parse(
    JSON.stringify(body)
      .replace(/"(cluster_id|member_id|raft_term|revision|create_revision|mod_revision|version)":"\d+"/g, '"$1":"N"')
      .replace(/"ID":"-?\d+"/g, '"ID":"LEASE"'),
  );

describe.runIf(have && haveEtcd)("the console's requests to a real etcd 3.4, and through an attached source", () => {
  let etcd: EtcdCluster;
  let etcdURL: string;
  beforeAll(async () => {
    etcd = await EtcdCluster.one(30_000);
    etcdURL = etcd.spec('e1').clientURL;
    // The keys the reads find, alike on both.
    for (const at of [etcdURL, url]) for (const [k, v] of READ_KEYS) await putKey(k, v, undefined, at);
  }, 60_000);
  afterAll(async () => {
    await etcd?.destroy();
  });

  it.each(CASES.map((c) => [c.what, c] as const))(
    '%s: etcd answers what the node answers, and the console shows the same',
    async (_what, c) => {
      const direct = new V3Console(() => {});
      await c.setup?.(etcdURL);
      const fromEtcd = leaseKeysSorted(await direct.execute('e1', etcdURL, c.request, 10_000));
      await c.setup?.();
      const fromNode = leaseKeysSorted(await console3(c.request));
      expect(fromNode.status).toBe(fromEtcd!.status);
      expect(acrossClusters(fromNode.body)).toEqual(acrossClusters(fromEtcd!.body));
      expect(normalizeText(etcdctl3Output(c.request, fromNode))).toBe(
        normalizeText(etcdctl3Output(c.request, fromEtcd!)),
      );
    },
    60_000,
  );

  it('an attached etcd is sent the same requests, watches included', async () => {
    const src = new AttachedSource([etcdURL]).start();
    const lines: ServerEvent[] = [];
    src.on('events', (batch) => lines.push(...batch.filter((e) => e.type === 'watch')));
    try {
      // Named once its member list is read (until then it is shown by its URL).
      const name = await until(
        'the member seen by its name',
        () => src.snapshot().nodes.find((n) => n.clientURL === etcdURL && n.name === 'e1')?.name,
        20_000,
      );
      const run = async (request: Kv3Request) =>
        (await src.execute(parseCommand({ type: 'kv3', name, request }) as never)) as KvResult;
      expect(await run({ op: 'watch', watch: 'att', key: '/attached/', prefix: true })).toMatchObject({
        status: 200,
        body: { result: { created: true } },
      });
      const put = await run({ op: 'put', key: '/attached/k', value: 'through the gateway' });
      expect(etcdctl3Output({ op: 'put', key: '/attached/k', value: '' }, put)).toBe('OK\n');
      const got = await run({ op: 'get', key: '/attached/k' });
      expect(etcdctl3Output({ op: 'get', key: '/attached/k' }, got)).toBe('/attached/k\nthrough the gateway\n');
      const seen = await until(
        'the watch line',
        () => lines.find((e) => e.type === 'watch' && e.result !== undefined),
        20_000,
      );
      expect(seen).toMatchObject({ type: 'watch', watch: 'att', node: name });
      expect(watchEventLines((seen as { result?: unknown }).result)).toEqual([
        'PUT',
        '/attached/k',
        'through the gateway',
      ]);
      await run({ op: 'unwatch', watch: 'att' });
    } finally {
      await src.stop();
    }
  }, 60_000);
});
