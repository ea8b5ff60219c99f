// Our /v3 JSON gateway against etcd 3.4.23's: the same JSON bodies POSTed to both, the HTTP
// status and the JSON answers compared as text (field order included) once cluster/member ids
// and terms are taken out. The scripted corner cases, then seeded random sequences.
import http from 'node:http';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { defined, nth } from '../helpers/checked.js';
import { until } from '../helpers/cluster.js';
import { needTools } from '../helpers/window.js';
import { ETCD_BIN } from '../helpers/etcd-processes.js';
import { seededRandom } from '../../src-main/util/rng.js';
import { PATHS, RealEtcd, ourGateway, gatewayJson, type Op } from './v3-harness.js';
import { RandomOps } from './random-ops.js';
import { SCRIPTED_OPS } from './scripted-ops.js';
import { jsonValues } from '../../src-main/v3/gateway.js';

const have = needTools('comparing the /v3 JSON gateway with a real etcd', [ETCD_BIN]);

async function post(url: string, path: string, body: string): Promise<string> {
  const r = await fetch(`${url}${path}`, { method: 'POST', body });
  const json = JSON.parse(await r.text(), function (k, v) {
    return k === 'cluster_id' || k === 'member_id' || k === 'raft_term' ? undefined : v;
  });
  return `${r.status} ${JSON.stringify(json)}`;
}

/** A streaming POST (watch, keep-alive): the JSON lines so far, ids taken out; close() ends it. */
function streamPost(url: string, path: string, body: string) {
  const lines: string[] = [];
  let buf = '';
  const req = http.request(`${url}${path}`, { method: 'POST' }, (res) => {
    res.setEncoding('utf8');
    res.on('data', (chunk: string) => {
      buf += chunk;
      for (let i = buf.indexOf('\n'); i >= 0; i = buf.indexOf('\n')) {
        const json = JSON.parse(buf.slice(0, i), (k, v) =>
          k === 'cluster_id' || k === 'member_id' || k === 'raft_term' ? undefined : v,
        );
        lines.push(JSON.stringify(json));
        buf = buf.slice(i + 1);
      }
    });
  });
  req.on('error', () => {});
  req.end(body);
  return { lines, close: () => req.destroy() };
}

/** Watch answers per watch id, in order (etcd may interleave two watchers' answers either way). */
function byWatcher(lines: string[]): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const l of lines) {
    const r = JSON.parse(l).result;
    (out[r.watch_id ?? '0'] ??= []).push(l);
  }
  return out;
}

describe.runIf(have)('/v3 JSON gateway against a real etcd 3.4', () => {
  let etcd: RealEtcd | undefined;
  let ours: Awaited<ReturnType<typeof ourGateway>> | undefined;
  afterEach(async () => {
    await ours?.close();
    await etcd?.stop();
    ours = undefined;
    etcd = undefined;
  });
  afterAll(async () => {
    await ours?.close();
    await etcd?.stop();
  });

  async function compare(next: (i: number, rev: number) => Op | undefined, label: string): Promise<number> {
    etcd = await RealEtcd.start();
    ours = await ourGateway();
    let n = 0;
    for (let i = 0; ; i++) {
      const op = next(i, ours.backend.state.rev());
      if (!op) break;
      const [kind, req] = nth(Object.entries(op), 0, 'an operation');
      const path = defined(PATHS[kind], `a gateway path for ${kind}`);
      const body = JSON.stringify(gatewayJson(req));
      const [a, b] = await Promise.all([post(ours.url, path, body), post(etcd.url, path, body)]);
      expect(a, `${label}: op #${i} POST ${path} ${body}`).toBe(b);
      n++;
    }
    return n;
  }

  it('answers the scripted corner cases as etcd does, byte for byte but ids', async () => {
    expect(await compare((i) => SCRIPTED_OPS[i], 'scripted')).toBe(SCRIPTED_OPS.length);
  });

  for (const seed of process.env.V3_SEED ? [Number(process.env.V3_SEED)] : [21, 22, 53]) {
    it(`answers a random sequence as etcd does (seed ${seed})`, async () => {
      console.log(`v3 gateway comparison: seed ${seed} (V3_SEED=${seed} replays it)`);
      const gen = new RandomOps(seededRandom(seed));
      const n = await compare((i, rev) => {
        gen.rev = rev;
        return i < 200 ? gen.next() : undefined;
      }, `seed ${seed}`);
      expect(n).toBe(200);
    });
  }

  it('lease time-to-live and list, other paths, bad bodies', async () => {
    etcd = await RealEtcd.start();
    ours = await ourGateway();
    const both = async (path: string, body: string) =>
      Promise.all([post(ours!.url, path, body), post(etcd!.url, path, body)]);
    for (const [path, body] of [
      ['/v3/lease/grant', '{"ID":"77","TTL":"600"}'],
      ['/v3/kv/put', '{"key":"bGs=","value":"dg==","lease":"77"}'],
      ['/v3/lease/timetolive', '{"ID":77,"keys":true}'],
      ['/v3/kv/lease/timetolive', '{"ID":"78"}'],
      ['/v3/lease/leases', '{}'],
      ['/v3/kv/lease/leases', ''],
      ['/v3/kv/lease/revoke', '{"ID":"77"}'],
      ['/v3/kv/range', '{"key":"bGs="}'],
      ['/v3/kv/range', '{"key":"bGs=","sort_order":2,"sort_target":"MOD"}'],
    ] as const) {
      let [a, b] = await both(path, body);
      // Time left may differ by a second between the two.
      const ttl = (x: string) => x.replace(/"TTL":"(59\d|600)"/, '"TTL":"~600"');
      if (path.endsWith('timetolive')) [a, b] = [ttl(a), ttl(b)];
      expect(a, `POST ${path} ${body}`).toBe(b);
    }
    // Malformed JSON: both refuse with InvalidArgument (the texts are each JSON parser's own).
    const [a, b] = await both('/v3/kv/range', '{"key":');
    expect([a.slice(0, 4), JSON.parse(a.slice(4)).code]).toEqual([b.slice(0, 4), JSON.parse(b.slice(4)).code]);
  });

  it('streams: /v3/watch (history, prev_kv, live events, bad range) and /v3/lease/keepalive', async () => {
    etcd = await RealEtcd.start();
    ours = await ourGateway();
    const urls = [ours.url, etcd.url];
    const both = (path: string, body: string) => Promise.all(urls.map((u) => post(u, path, body)));
    await both('/v3/kv/put', '{"key":"YQ==","value":"MQ=="}');
    await both('/v3/kv/put', '{"key":"YQ==","value":"Mg=="}');
    await both('/v3/lease/grant', '{"ID":"5","TTL":"60"}');
    const body = [
      '{"create_request":{"key":"YQ==","start_revision":"1","prev_kv":true}}',
      '{"create_request":{"key":"Yg==","range_end":"Yw=="}}',
      '{"create_request":{"key":"Yw==","range_end":"Yg=="}}',
    ].join(' ');
    const watches = urls.map((u) => streamPost(u, '/v3/watch', body));
    try {
      // Both have set up their watchers (3 answers, and watcher 0's history) before the put.
      await until('both watch streams answered', () => watches.every((w) => w.lines.length >= 4), 10_000);
      await both('/v3/kv/put', '{"key":"YjE=","value":"eA=="}');
      await until('both saw the put', () => watches.every((w) => w.lines.length >= 5), 10_000);
      const [mine, theirs] = [nth(watches, 0, 'our watch stream'), nth(watches, 1, "etcd's watch stream")];
      expect(byWatcher(mine.lines)).toEqual(byWatcher(theirs.lines));
      expect(mine.lines.length).toBe(5);
    } finally {
      watches.forEach((w) => w.close());
    }
    const kas = urls.map((u) => streamPost(u, '/v3/lease/keepalive', '{"ID":"5"} {"ID":"6"}'));
    try {
      await until('both answered both keep-alives', () => kas.every((k) => k.lines.length >= 2), 10_000);
      expect(nth(kas, 0, 'our keep-alive stream').lines).toEqual(nth(kas, 1, "etcd's keep-alive stream").lines);
    } finally {
      kas.forEach((k) => k.close());
    }
  });
});

describe('jsonValues (request bodies of one JSON value or several)', () => {
  it('reads one value, several, none, and whitespace only the scan allows', () => {
    expect(jsonValues('{"a":1}')).toEqual([{ a: 1 }]);
    expect(jsonValues(' {"a":1}\n')).toEqual([{ a: 1 }]);
    expect(jsonValues('"x y"')).toEqual(['x y']);
    expect(jsonValues('{"a":1}{"b":2}')).toEqual([{ a: 1 }, { b: 2 }]);
    expect(jsonValues('{"a":"} {"} \n[1,2] "x y" 3')).toEqual([{ a: '} {' }, [1, 2], 'x y', 3]);
    expect(jsonValues('')).toEqual([]);
    expect(jsonValues(' \n\t')).toEqual([]);
    expect(jsonValues('\u00a0{"a":1}\u00a0')).toEqual([{ a: 1 }]);
    expect(() => jsonValues('{"a":')).toThrow(SyntaxError);
    expect(() => jsonValues('{"a":1} nope')).toThrow(SyntaxError);
  });
});
