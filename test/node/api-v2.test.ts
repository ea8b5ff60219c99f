// The etcd v2 HTTP layer against the captured etcd 3.4 exchanges: a real server on an ephemeral
// loopback port, over a single-process backend that applies writes straight to a real V2Store.

import { readFileSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createClientHandler } from '../../src-main/node/api-v2.js';
import { decodeMemberRequest } from '../../src-main/node/api-v2/members.js';
import { startClientServer } from '../../src-main/node/api-v2/server.js';
import { goJSON, goJSONSyntaxError } from '../../src-main/node/go/json.js';
import {
  MemberError,
  RaftUnavailable,
  type ClientBackend,
  type MemberInfo,
  type RaftStatus,
} from '../../src-main/node/client-backend.js';
import { V2Store } from '../../src-main/node/store-v2.js';
import type { V2Command, V2Event, V2ReadRequest, V2WatchHandle } from '../../src-main/node/store-v2/types.js';
import { defined, group, nth } from '../helpers/checked.js';

const SAMPLES = fileURLToPath(new URL('../fixtures/etcd-3.4-v2-samples', import.meta.url));
const CID = 'b642fa49c52c2640';
const N1 = 'b75827e6d4dfe87e';
const T0 = Date.parse('2026-11-24T15:03:50.000Z');

// ---------------------------------------------------------------------------------------------
// A one-process backend: the leader and a follower view of the same store and member list.

interface Shared {
  store: V2Store;
  members: MemberInfo[];
  now: number;
  commit: number;
}

class TestBackend implements ClientBackend {
  role: RaftStatus['role'];
  leader = N1;
  healthy = true;
  /** Next write/read/member call (other than the auth flag's read) fails with this. */
  failNext: Error | undefined;
  lastWrite: Omit<V2Command, 'now'> | undefined;

  constructor(
    readonly shared: Shared,
    role: RaftStatus['role'],
    private readonly self: { name: string; id: string },
    private readonly stats: { self: object; leader?: object },
  ) {
    this.role = role;
  }

  status(): RaftStatus {
    return {
      id: this.self.id,
      name: this.self.name,
      clusterId: CID,
      term: 2,
      commit: this.shared.commit,
      leader: this.leader,
      role: this.role,
      startTime: new Date(T0),
    };
  }
  storeIndex(): number {
    return this.shared.store.index;
  }
  private fail(): void {
    const err = this.failNext;
    this.failNext = undefined;
    if (err) throw err;
  }
  async write(cmd: Omit<V2Command, 'now'>): Promise<V2Event> {
    this.fail();
    this.lastWrite = cmd;
    this.shared.commit++;
    return this.shared.store.apply({ ...cmd, now: this.shared.now } as V2Command);
  }
  async read(req: V2ReadRequest): Promise<V2Event> {
    // Every keys request first reads v2 auth's flag (etcd's detectAuth): that read is not the one to fail.
    if (req.space !== 'auth') this.fail();
    if (req.quorum) this.shared.commit++;
    return this.shared.store.get(req.path, req, this.shared.now);
  }
  lookupLocal(req: Omit<V2ReadRequest, 'quorum'>): V2Event | null {
    return this.shared.store.lookup(req.path, req, this.shared.now);
  }
  watch(path: string, opts: { recursive: boolean; waitIndex: number }, onEvent: (e: V2Event) => void): V2WatchHandle {
    return this.shared.store.watch(path, opts, onEvent);
  }
  members(): MemberInfo[] {
    return [...this.shared.members]
      .sort((a, b) => (BigInt(`0x${a.id}`) < BigInt(`0x${b.id}`) ? -1 : 1))
      .map((m) => structuredClone(m));
  }
  async addMember(peerURLs: string[]): Promise<MemberInfo> {
    this.fail();
    if (this.shared.members.some((m) => m.peerURLs.some((u) => peerURLs.includes(u))))
      throw new MemberError(409, 'membership: peerURL exists');
    const m: MemberInfo = { id: '62221ff56bcfa7ef', name: '', peerURLs, clientURLs: [] };
    this.shared.members.push(m);
    return structuredClone(m);
  }
  async removeMember(id: string): Promise<void> {
    this.fail();
    const i = this.shared.members.findIndex((m) => m.id === id);
    if (i === -1) throw new MemberError(404, `No such member: ${id}`);
    this.shared.members.splice(i, 1);
  }
  async updateMember(id: string, peerURLs: string[]): Promise<void> {
    this.fail();
    const m = this.shared.members.find((x) => x.id === id);
    if (!m) throw new MemberError(404, `No such member: ${id}`);
    m.peerURLs = peerURLs;
  }
  storeStats() {
    return this.shared.store.stats();
  }
  selfStats(): object {
    return this.stats.self;
  }
  leaderStats(): object | undefined {
    return this.role === 'leader' ? this.stats.leader : undefined;
  }
  async health(): Promise<boolean> {
    return this.healthy;
  }
}

// ---------------------------------------------------------------------------------------------
// Samples and HTTP helpers

interface Sample {
  host: string;
  method: string;
  path: string;
  headers: Record<string, string>;
  data?: string;
  status: number;
  statusText: string;
  /** Response headers in order, Date included. */
  rawHeaders: Array<[string, string]>;
  body: string;
}

function sample(name: string): Sample {
  const text = readFileSync(join(SAMPLES, `${name}.txt`), 'utf8');
  const curl = /^# curl -si( -I)?(?: --max-time \d+)?(?: -X(\w+))? (\S+)(.*)$/m.exec(text);
  const [, head, verb, target, rest] = curl ?? [];
  if (target === undefined || rest === undefined) throw new Error(`no curl line in ${name}`);
  const url = new URL(target);
  const parts = rest.split(/ -([Hd]) /);
  const headers: Record<string, string> = {};
  const data: string[] = [];
  for (let i = 1; i < parts.length; i += 2) {
    if (parts[i] === 'H') {
      const [k, v] = nth(parts, i + 1, 'a header after -H').split(/: /);
      headers[defined(k, 'a header name')] = defined(v, `a value for header ${k}`);
    } else data.push(nth(parts, i + 1, 'data after -d'));
  }
  if (data.length > 0 && !headers['Content-Type']) headers['Content-Type'] = 'application/x-www-form-urlencoded';
  const method = verb ?? (head ? 'HEAD' : data.length > 0 ? 'POST' : 'GET');

  // The capture is the raw response (CRLF head, chunked bodies decoded) plus one "\n".
  const raw = text.slice(text.indexOf('HTTP/1.1 '));
  const sep = raw.indexOf('\r\n\r\n');
  const [statusLine, ...headerLines] = raw.slice(0, sep).split('\r\n');
  const status = group(/^HTTP\/1\.1 (\d+) (.*)$/, defined(statusLine, 'a status line'), 1);
  const statusText = group(/^HTTP\/1\.1 (\d+) (.*)$/, statusLine!, 2);
  const rawHeaders = headerLines.map((l): [string, string] => [
    l.slice(0, l.indexOf(': ')),
    l.slice(l.indexOf(': ') + 2),
  ]);
  const body = raw.slice(sep + 4).replace(/\n$/, '');
  return {
    host: url.host,
    method,
    path: url.pathname + url.search,
    headers,
    data: data.length > 0 ? data.join('&') : undefined,
    status: Number(status),
    statusText,
    rawHeaders,
    body,
  };
}

interface Resp {
  status: number;
  statusText: string;
  headers: Array<[string, string]>;
  body: string;
}

/** One request on a fresh connection; header names come back in wire order. */
function request(
  base: string,
  method: string,
  path: string,
  opts: { headers?: Record<string, string>; body?: string | Buffer } = {},
): Promise<Resp> {
  return new Promise((resolve, reject) => {
    const u = new URL(base);
    // An explicit length: Node sends a GET or DELETE body without framing otherwise.
    const headers =
      opts.body === undefined
        ? opts.headers
        : { ...opts.headers, 'Content-Length': String(Buffer.byteLength(opts.body)) };
    const req = http.request({ host: u.hostname, port: u.port, method, path, headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const headers: Array<[string, string]> = [];
        for (let i = 0; i + 1 < res.rawHeaders.length; i += 2)
          headers.push([res.rawHeaders[i]!, res.rawHeaders[i + 1]!]);
        resolve({
          status: res.statusCode!,
          statusText: res.statusMessage!,
          headers,
          body: Buffer.concat(chunks).toString('utf8'),
        });
      });
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(opts.body);
  });
}

/** Response header names without the ones Node adds for connection management. */
function names(r: { headers: Array<[string, string]> }): string[] {
  return r.headers.map(([k]) => k).filter((k) => k !== 'Connection' && k !== 'Keep-Alive');
}

function header(r: Resp, name: string): string | undefined {
  return r.headers.find(([k]) => k.toLowerCase() === name.toLowerCase())?.[1];
}

/** etcd prints nanoseconds; the store keeps milliseconds. */
function msPrecision(body: string): string {
  return body.replace(/("expiration":"[^"]*\.\d{3})\d*Z/g, '$1Z');
}

/** Headers whose values depend on the run: compared for shape only. */
const VARIABLE = new Set(['Date', 'X-Raft-Index']);

/** Status line, header names in order and values, and the body (unless `skip`: then indexes vary too). */
function expectLike(got: Resp, s: Sample, opts: { body?: 'exact' | 'skip' } = {}): void {
  expect(`${got.status} ${got.statusText}`).toBe(`${s.status} ${s.statusText}`);
  expect(names(got)).toEqual(s.rawHeaders.map(([k]) => k));
  for (const [k, v] of s.rawHeaders) {
    const mine = header(got, k)!;
    if (VARIABLE.has(k) || (k === 'X-Etcd-Index' && opts.body === 'skip'))
      expect(mine, k).toMatch(k === 'Date' ? /^\w{3}, \d\d \w{3} \d{4} \d\d:\d\d:\d\d GMT$/ : /^\d+$/);
    else if (k === 'Content-Length' && opts.body === 'skip') expect(mine).toMatch(/^\d+$/);
    else expect(mine, k).toBe(k === 'Content-Length' ? String(Buffer.byteLength(msPrecision(s.body))) : v);
  }
  if (opts.body !== 'skip') expect(got.body).toBe(msPrecision(s.body));
}

// ---------------------------------------------------------------------------------------------

const MEMBERS: MemberInfo[] = [
  { id: N1, name: 'n1', peerURLs: ['http://127.0.0.1:32380'], clientURLs: ['http://127.0.0.1:32379'] },
  { id: '4231518c29bf020f', name: 'n2', peerURLs: ['http://127.0.0.1:32480'], clientURLs: ['http://127.0.0.1:32479'] },
  { id: '922630e199b53a96', name: 'n3', peerURLs: ['http://127.0.0.1:32580'], clientURLs: ['http://127.0.0.1:32579'] },
];

function bodyOf(name: string): object {
  return JSON.parse(sample(name).body) as object;
}

let shared: Shared;
let leader: TestBackend;
let follower: TestBackend;
let servers: Array<{ urls: string[]; close(): Promise<void> }>;
let L: string;
let F: string;

beforeAll(async () => {
  // A 3-member etcd spends indexes 1-7 on membership and earlier samples; start where it did.
  shared = { store: new V2Store({ initialIndex: 7 }), members: structuredClone(MEMBERS), now: T0, commit: 14 };
  leader = new TestBackend(
    shared,
    'leader',
    { name: 'n1', id: N1 },
    { self: bodyOf('16-stats-self-leader'), leader: bodyOf('17-stats-leader') },
  );
  follower = new TestBackend(
    shared,
    'follower',
    { name: 'n2', id: '4231518c29bf020f' },
    { self: bodyOf('16b-stats-self-follower') },
  );
  const version = { etcdserver: '3.4.23', etcdcluster: '3.4.0' };
  servers = [
    await startClientServer(
      ['http://127.0.0.1:0'],
      createClientHandler({ backend: leader, clock: () => shared.now, version }),
    ),
    await startClientServer(
      ['http://127.0.0.1:0'],
      createClientHandler({ backend: follower, clock: () => shared.now, version, maxValueBytes: 64 * 1024 }),
    ),
  ];
  [L, F] = [nth(nth(servers, 0).urls, 0), nth(nth(servers, 1).urls, 0)];
});

afterAll(async () => {
  await Promise.all(servers.map((s) => s.close()));
});

/** Replays a captured exchange on the matching node (32379 is the leader, 32479 a follower). */
async function replay(name: string, opts: { body?: 'exact' | 'skip' } = {}): Promise<Resp> {
  const s = sample(name);
  const base = s.host.endsWith(':32479') ? F : L;
  const got = await request(base, s.method, s.path, { headers: s.headers, body: s.data });
  expectLike(got, s, opts);
  return got;
}

const set = (path: string, value: string) => shared.store.apply({ op: 'set', path, value, now: shared.now });

describe('the captured etcd 3.4 session, replayed over HTTP', () => {
  it('set creates (201), overwrites (200); gets on leader and follower, quorum too', async () => {
    await replay('01-set-create');
    await replay('02-set-overwrite');
    await replay('03-get');
    await replay('03b-get-follower');
    await replay('03c-get-quorum');
  });

  it('missing keys: 404 with errorCode 100 and only X-Etcd-Index', async () => {
    await replay('04-get-missing');
    await replay('05-delete');
    await replay('05b-delete-missing');
  });

  it('prevExist, compare-and-swap, compare-and-delete', async () => {
    set('/samples/foo', 'one');
    for (const name of [
      '06-create-prevExist-false-conflict',
      '06b-create-prevExist-false-ok',
      '06c-update-prevExist-true-missing',
      '06d-update-prevExist-true-ok',
      '07-cas-fail',
      '07b-cas-fail-index',
      '07c-cas-ok',
      '07d-cad-fail',
      '07e-cad-ok',
    ]) {
      await replay(name);
    }
  });

  it('directories', async () => {
    set('/samples-dir/a', '1');
    set('/samples-dir/sub/b', '2');
    for (const name of [
      '08-mkdir',
      '08b-dir-listing-recursive',
      '08c-dir-listing',
      '08d-put-on-dir',
      '08e-delete-dir-nonrecursive',
      '08f-delete-dir-recursive',
      '08g-root',
    ]) {
      await replay(name);
    }
  });

  it('TTLs: set, get, a bad ttl (index 0), refresh; POST in-order keys', async () => {
    shared.now = Date.parse('2026-11-24T15:03:50.967Z');
    await replay('09-ttl-set');
    await replay('09b-ttl-get');
    const before = shared.store.index;
    await replay('09c-ttl-bad');
    expect(shared.store.index).toBe(before);
    shared.now = Date.parse('2026-11-24T15:03:51.036Z');
    await replay('09d-ttl-refresh');
    await replay('10-post-inorder');
  });

  it('a watch sends its headers at once, then the event, chunked', async () => {
    const s = sample('11-watch-wait');
    const w = await openWatch(L, s.path);
    expect(w.body()).toBe('');
    expect({ ...w.head, body: '' }).toMatchObject({ status: 200 });
    const put = await request(F, 'PUT', '/v2/keys/samples/watched', {
      headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
      body: 'value=fired',
    });
    expect(put.status).toBe(201);
    expectLike({ ...w.head, body: await w.done }, s);
  });

  it('waitIndex serves past events; a quiet recursive watch is headers only', async () => {
    await replay('11b-watch-waitIndex');
    await replay('11d-watch-waitIndex-1');
    const s = sample('11c-watch-recursive-dir');
    const w = await openWatch(L, s.path);
    expectLike({ ...w.head, body: '' }, s);
    expect(shared.store.stats().watchers).toBe(1);
    w.abort();
    await until(() => shared.store.stats().watchers === 0);
  });

  it('a waitIndex older than the history is 401 sent as HTTP 400', async () => {
    for (let i = 0; i < 1100; i++) set('/samples/filler', String(i));
    expect(shared.store.index).toBe(1123);
    await replay('11e-watch-cleared');
  });

  it('members: list, leader, add errors, add, remove, update', async () => {
    await replay('12-members');
    await replay('12b-members-leader');
    for (const name of [
      '13-members-add-conflict',
      '13b-members-add-badjson',
      '13c-members-add-badctype',
      '13d-members-remove-unknown',
      '13e-members-remove-badid',
      '13f-members-add-ok',
    ]) {
      await replay(name);
    }
    await replay('12c-members-with-unstarted');
    await replay('13g-members-remove-ok');
    await replay('13h-members-update-ok');
  });

  it('/version, /health, /v2/stats/*, /v2/machines', async () => {
    await replay('14-version');
    await replay('15-health');
    await replay('16-stats-self-leader');
    await replay('16b-stats-self-follower');
    await replay('17-stats-leader');
    await replay('17b-stats-leader-on-follower');
    const store = await replay('18-stats-store', { body: 'skip' });
    expect(Object.keys(JSON.parse(store.body) as object)).toEqual(Object.keys(bodyOf('18-stats-store')));
    await replay('19-machines');
  });

  it('PATCH is 405 with Allow; unknown paths 404; a key under a file 104; HEAD', async () => {
    await replay('20-method-not-allowed');
    await replay('20b-unknown-path');
    const under = await replay('20c-key-under-file', { body: 'skip' });
    expect(JSON.parse(under.body)).toEqual({ ...bodyOf('20c-key-under-file'), index: shared.store.index });
    const head = await replay('20d-head', { body: 'skip' });
    const get = await request(L, 'GET', '/v2/keys/samples/ttlkey');
    expect(head.body).toBe('');
    expect(header(head, 'Content-Length')).toBe(String(Buffer.byteLength(get.body)));
  });
});

// ---------------------------------------------------------------------------------------------

interface OpenWatch {
  head: Omit<Resp, 'body'>;
  body(): string;
  done: Promise<string>;
  abort(): void;
}

/** Opens a watch and resolves once its headers have arrived. */
function openWatch(base: string, path: string): Promise<OpenWatch> {
  return new Promise((resolve, reject) => {
    const u = new URL(base);
    const req = http.request({ host: u.hostname, port: u.port, path, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      const done = new Promise<string>((ok, fail) => {
        res.on('end', () => ok(body));
        res.on('error', fail);
      });
      done.catch(() => {});
      const headers: Array<[string, string]> = [];
      for (let i = 0; i + 1 < res.rawHeaders.length; i += 2) headers.push([res.rawHeaders[i]!, res.rawHeaders[i + 1]!]);
      resolve({
        head: { status: res.statusCode!, statusText: res.statusMessage!, headers },
        body: () => body,
        done,
        abort: () => req.destroy(),
      });
    });
    req.on('error', (err) => {
      if ((err as NodeJS.ErrnoException).code !== 'ECONNRESET') reject(err);
    });
    req.end();
  });
}

async function until(cond: () => boolean, ms = 3000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** Sends raw bytes and reads until the server closes. */
function rawExchange(base: string, bytes: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const u = new URL(base);
    const sock = net.connect(Number(u.port), u.hostname, () => sock.end(bytes));
    let out = '';
    sock.setEncoding('latin1');
    sock.on('data', (c: string) => (out += c));
    sock.on('end', () => resolve(out));
    sock.on('error', reject);
  });
}

const FORM = { 'Content-Type': 'application/x-www-form-urlencoded' };
const CORS_NAMES = ['Access-Control-Allow-Headers', 'Access-Control-Allow-Methods', 'Access-Control-Allow-Origin'];

describe('etcd quirks on the wire', () => {
  it('OPTIONS is 200 with an empty body and CORS headers, on any path', async () => {
    for (const path of ['/v2/keys/x', '/nowhere', '/v2//keys']) {
      const r = await request(L, 'OPTIONS', path);
      expect(r.status).toBe(200);
      expect(names(r)).toEqual([...CORS_NAMES, 'Date', 'Content-Length']);
      expect(header(r, 'Content-Length')).toBe('0');
      expect(r.body).toBe('');
    }
  });

  it('`//` in a path is a 301 to the clean path, query kept, nothing written', async () => {
    const before = shared.store.index;
    const put = await request(L, 'PUT', '/v2/keys//redir/./a?value=x', { headers: FORM, body: 'value=y' });
    expect(put.status).toBe(301);
    expect(header(put, 'Location')).toBe('/v2/keys/redir/a?value=x');
    expect(names(put)).toEqual([...CORS_NAMES, 'Location', 'Date', 'Content-Length']);
    expect(put.body).toBe('');
    expect(shared.store.index).toBe(before);
    expect((await request(L, 'GET', '/v2/keys/redir/a')).status).toBe(404);
    const get = await request(L, 'GET', '/v2/keys/a//b c'.replace(' ', '%20'));
    expect(get.status).toBe(301);
    expect(header(get, 'Location')).toBe('/v2/keys/a/b%20c');
    expect(header(get, 'Content-Type')).toBe('text/html; charset=utf-8');
    expect(get.body).toBe('<a href="/v2/keys/a/b%20c">Moved Permanently</a>.\n\n');
  });

  it('a bad escape in the form or the query is 210 "Invalid POST form" with index 0', async () => {
    const body = await request(L, 'PUT', '/v2/keys/form', { headers: FORM, body: 'value=%zz' });
    expect(body.status).toBe(400);
    expect(header(body, 'X-Etcd-Index')).toBe('0');
    expect(header(body, 'X-Raft-Index')).toBeUndefined();
    expect(body.body).toBe(
      '{"errorCode":210,"message":"Invalid POST form","cause":"invalid URL escape \\"%zz\\"","index":0}\n',
    );
    const query = await request(L, 'GET', '/v2/keys/form?recursive=%4');
    expect(JSON.parse(query.body)).toEqual({
      errorCode: 210,
      message: 'Invalid POST form',
      cause: 'invalid URL escape "%4"',
      index: 0,
    });
    const semi = await request(L, 'GET', '/v2/keys/form?a=1;b=2');
    expect(JSON.parse(semi.body)).toMatchObject({ errorCode: 210, cause: 'invalid semicolon separator in query' });
  });

  it('values: form before query, query alone, JSON body ignored, DELETE body ignored, + and %2F', async () => {
    await request(L, 'PUT', '/v2/keys/v/a?value=query', { headers: FORM, body: 'value=form+body' });
    expect(JSON.parse((await request(L, 'GET', '/v2/keys/v/a')).body).node.value).toBe('form body');
    await request(L, 'PUT', '/v2/keys/v/b?value=from%20query');
    expect(JSON.parse((await request(L, 'GET', '/v2/keys/v/b')).body).node.value).toBe('from query');
    const json = await request(L, 'PUT', '/v2/keys/v/c', {
      headers: { 'Content-Type': 'application/json' },
      body: '{"value":"x"}',
    });
    expect(json.status).toBe(201);
    expect(JSON.parse(json.body).node).toMatchObject({ key: '/v/c', value: '' });
    const del = await request(L, 'DELETE', '/v2/keys/v/c', { headers: FORM, body: 'prevValue=nope' });
    expect(JSON.parse(del.body).action).toBe('delete');
    const slash = await request(L, 'PUT', '/v2/keys/v/d%2Fe', { headers: FORM, body: 'value=1' });
    expect(JSON.parse(slash.body).node.key).toBe('/v/d/e');
  });

  it('JSON is Go’s: HTML characters escaped; noValueOnSuccess drops the nodes', async () => {
    const r = await request(L, 'PUT', '/v2/keys/v/html', {
      headers: FORM,
      body: `value=${encodeURIComponent('<a & b>\u2028')}`,
    });
    expect(r.body).toContain('"value":"\\u003ca \\u0026 b\\u003e\\u2028"');
    const quiet = await request(L, 'PUT', '/v2/keys/v/html?noValueOnSuccess=true', { headers: FORM, body: 'value=2' });
    expect(quiet.body).toBe('{"action":"set"}\n');
    expect(goJSON({ v: 'a\b\f\\b"' })).toBe('{"v":"a\\u0008\\u000c\\\\b\\""}');
  });

  it('writes pass the parsed command without `now`', async () => {
    await request(L, 'PUT', '/v2/keys/v/cmd?ttl=5&prevExist=false', { headers: FORM, body: 'value=1' });
    expect(leader.lastWrite).toEqual({ op: 'create', path: '/v/cmd', value: '1', ttl: 5 });
  });

  it('an unavailable cluster is 500 errorCode 300; other failures too, and the server lives on', async () => {
    leader.failNext = new RaftUnavailable('etcdserver: request timed out');
    const r = await request(L, 'PUT', '/v2/keys/v/x', { headers: FORM, body: 'value=1' });
    expect(r.status).toBe(500);
    expect(r.body).toBe(
      '{"errorCode":300,"message":"Raft Internal Error","cause":"etcdserver: request timed out","index":0}\n',
    );
    expect(names(r)).toEqual([
      ...CORS_NAMES,
      'Content-Type',
      'X-Etcd-Cluster-Id',
      'X-Etcd-Index',
      'Date',
      'Content-Length',
    ]);
    leader.failNext = new TypeError('boom');
    const odd = await request(L, 'GET', '/v2/keys/v/a');
    expect(odd.status).toBe(500);
    expect(JSON.parse(odd.body)).toEqual({ errorCode: 300, message: 'Raft Internal Error', cause: 'boom', index: 0 });
    leader.failNext = new Error('members exploded');
    const m = await request(L, 'POST', '/v2/members', {
      headers: { 'Content-Type': 'application/json' },
      body: '{"peerURLs":["http://127.0.0.1:40000"]}',
    });
    expect([m.status, m.body]).toEqual([500, '{"message":"Internal Server Error"}']);
    expect((await request(L, 'GET', '/v2/keys/v/a')).status).toBe(200);
  });

  it('a form body over maxValueBytes is an etcd error, not a crash', async () => {
    const big = `value=${'x'.repeat(100 * 1024)}`;
    const r = await request(F, 'PUT', '/v2/keys/v/big', { headers: FORM, body: big });
    expect(r.status).toBe(400);
    expect(JSON.parse(r.body)).toEqual({
      errorCode: 210,
      message: 'Invalid POST form',
      cause: 'http: POST too large',
      index: 0,
    });
    const ok = await request(F, 'PUT', '/v2/keys/v/big', { headers: FORM, body: 'value=small' });
    expect(ok.status).toBe(201);
  });

  it('a malformed percent-escape in the path is 400 before any handler', async () => {
    const out = await rawExchange(L, 'GET /v2/keys/%zz HTTP/1.1\r\nHost: x\r\n\r\n');
    expect(out).toMatch(/^HTTP\/1\.1 400 Bad Request\r\n/);
    expect(out).not.toContain('Access-Control');
  });

  it('HEAD: keys and machines answer headers only; /version, stats and members are 405', async () => {
    const m = await request(L, 'HEAD', '/v2/machines');
    expect([m.status, m.body, header(m, 'Content-Length')]).toEqual([
      200,
      '',
      String('http://127.0.0.1:32379, http://127.0.0.1:32479, http://127.0.0.1:32579'.length),
    ]);
    for (const [path, allow] of [
      ['/version', 'GET'],
      ['/v2/stats/self', 'GET'],
      ['/v2/members', 'GET,POST,DELETE,PUT'],
      ['/health', 'GET'],
    ] as const) {
      const r = await request(L, 'HEAD', path);
      expect([path, r.status, header(r, 'Allow'), header(r, 'X-Etcd-Cluster-Id')]).toEqual([
        path,
        405,
        allow,
        undefined,
      ]);
    }
  });

  it('wait=true on a non-GET is 209', async () => {
    const r = await request(L, 'PUT', '/v2/keys/v/w?wait=true', { headers: FORM, body: 'value=1' });
    expect(JSON.parse(r.body)).toEqual({
      errorCode: 209,
      message: 'Invalid field',
      cause: '"wait" can only be used with GET requests',
      index: 0,
    });
  });

  it('stream=true keeps the watch open for event after event', async () => {
    const w = await openWatch(L, '/v2/keys/st?wait=true&stream=true&recursive=true');
    set('/st/a', '1');
    set('/st/b', '2');
    await until(() => w.body().split('\n').length === 3);
    const events = w
      .body()
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as V2Event);
    expect(events.map((e) => e.node.key)).toEqual(['/st/a', '/st/b']);
    w.abort();
    await until(() => shared.store.stats().watchers === 0);
  });

  it('a watch whose event is already in the history fires at once', async () => {
    set('/hist', 'h');
    const idx = shared.store.index;
    const w = await openWatch(L, `/v2/keys/hist?wait=true&waitIndex=${idx}`);
    expect(header({ ...w.head, body: '' }, 'X-Etcd-Index')).toBe(String(idx));
    expect(JSON.parse(await w.done)).toMatchObject({ action: 'set', node: { key: '/hist', modifiedIndex: idx } });
  });
});

describe('members API details', () => {
  const JSONH = { 'Content-Type': 'application/json' };

  it('GET /v2/members/<id> is 404 Not found; DELETE without an id is 405 without Allow', async () => {
    const one = await request(L, 'GET', `/v2/members/${N1}`);
    expect([one.status, one.body]).toEqual([404, '{"message":"Not found"}']);
    expect(header(one, 'X-Etcd-Cluster-Id')).toBe(CID);
    const del = await request(L, 'DELETE', '/v2/members');
    expect([del.status, del.body, header(del, 'Allow')]).toEqual([405, 'Method Not Allowed\n', undefined]);
  });

  it('no leader: /v2/members/leader is 503 During election', async () => {
    follower.leader = '';
    try {
      const r = await request(F, 'GET', '/v2/members/leader');
      expect([r.status, r.body]).toEqual([503, '{"message":"During election"}']);
    } finally {
      follower.leader = N1;
    }
  });

  it('ids are hex, matched by value; update checks the id before the body', async () => {
    const padded = await request(L, 'PUT', '/v2/members/004231518C29BF020F', {
      headers: JSONH,
      body: '{"peerURLs":["http://127.0.0.1:32480"]}',
    });
    expect(padded.status).toBe(204); // Go's ParseUint takes leading zeros and either case
    const huge = await request(L, 'DELETE', '/v2/members/14231518c29bf020f');
    expect([huge.status, huge.body]).toEqual([404, '{"message":"No such member: 14231518c29bf020f"}']);
    const unknown = await request(L, 'DELETE', '/v2/members/00abc');
    expect(unknown.body).toBe('{"message":"No such member: abc"}');
    const upper = await request(L, 'PUT', `/v2/members/${'4231518C29BF020F'}`, {
      headers: JSONH,
      body: '{"peerURLs":["http://127.0.0.1:32481"]}',
    });
    expect(upper.status).toBe(204);
    expect(shared.members.find((m) => m.name === 'n2')!.peerURLs).toEqual(['http://127.0.0.1:32481']);
    const badId = await request(L, 'PUT', '/v2/members/xyz', { headers: { 'Content-Type': 'text/plain' }, body: '{' });
    expect([badId.status, badId.body]).toEqual([404, '{"message":"No such member: xyz"}']);
    const charset = await request(L, 'PUT', `/v2/members/4231518c29bf020f`, {
      headers: { 'Content-Type': 'Application/JSON; charset=utf-8' },
      body: '{"peerURLs":["http://127.0.0.1:32480"]}',
    });
    expect(charset.status).toBe(204);
  });

  it('request bodies are checked like Go’s json and etcd’s types.NewURLs', async () => {
    const bad = async (body: string) =>
      JSON.parse((await request(L, 'POST', '/v2/members', { headers: JSONH, body })).body).message as string;
    expect(await bad('')).toBe('unexpected end of JSON input');
    expect(await bad('{"peerURLs":"http://a:1"}')).toBe(
      'json: cannot unmarshal string into Go struct field .peerURLs of type []string',
    );
    expect(await bad('{"peerURLs":[]}')).toBe('no valid URLs given');
    expect(await bad('{}')).toBe('no valid URLs given');
    expect(await bad('{"peerURLs":["127.0.0.1:2380"]}')).toBe(
      'parse "127.0.0.1:2380": first path segment in URL cannot contain colon',
    );
    expect(await bad('{"peerURLs":["ftp://a:1"]}')).toBe('URL scheme must be http, https, unix, or unixs: ftp://a:1');
    expect(await bad('{"peerURLs":["http://a"]}')).toBe('URL address does not have the form "host:port": http://a');
    expect(await bad('{"peerURLs":["http://a:1/x"]}')).toBe('URL must not contain a path: http://a:1/x');
  });

  it('decodes like Go: case-insensitive field, sorted URLs, syntax errors in Go’s words', () => {
    expect(decodeMemberRequest('{"PEERURLS":[" http://b:1 ","http://a:1"]}')).toEqual(['http://a:1', 'http://b:1']);
    expect(decodeMemberRequest('[1]')).toBe(
      'json: cannot unmarshal array into Go value of type struct { PeerURLs []string "json:\\"peerURLs\\"" }',
    );
    expect(decodeMemberRequest('{"peerURLs":[1]}')).toBe(
      'json: cannot unmarshal number into Go struct field .peerURLs of type string',
    );
    expect(goJSONSyntaxError('{"a":1}')).toBeNull();
    expect(goJSONSyntaxError(' [1, 2.5e-3, "x\\u00e9", true, null] ')).toBeNull();
    expect(goJSONSyntaxError('{"peerURLs":')).toBe('unexpected end of JSON input');
    expect(goJSONSyntaxError('{peerURLs:1}')).toBe("invalid character 'p' looking for beginning of object key string");
    expect(goJSONSyntaxError('{"a" 1}')).toBe("invalid character '1' after object key");
    expect(goJSONSyntaxError('{"a":1 "b"}')).toBe(`invalid character '"' after object key:value pair`);
    expect(goJSONSyntaxError('[1 2]')).toBe("invalid character '2' after array element");
    expect(goJSONSyntaxError('x')).toBe("invalid character 'x' looking for beginning of value");
    expect(goJSONSyntaxError('{} {}')).toBe("invalid character '{' after top-level value");
    expect(goJSONSyntaxError('tru')).toBe('unexpected end of JSON input');
    expect(goJSONSyntaxError('trUe')).toBe("invalid character 'U' in literal true (expecting 'u')");
    expect(goJSONSyntaxError('"a\nb"')).toBe("invalid character '\\n' in string literal");
    expect(goJSONSyntaxError('-a')).toBe("invalid character 'a' in numeric literal");
    expect(goJSONSyntaxError('1.x')).toBe("invalid character 'x' after decimal point in numeric literal");
  });
});

describe('health and serving', () => {
  it('an unhealthy node answers 503 text/plain {"health":"false"}', async () => {
    leader.healthy = false;
    try {
      const r = await request(L, 'GET', '/health');
      expect([r.status, r.body, header(r, 'Content-Type'), header(r, 'X-Content-Type-Options')]).toEqual([
        503,
        '{"health":"false"}\n',
        'text/plain; charset=utf-8',
        'nosniff',
      ]);
    } finally {
      leader.healthy = true;
    }
  });

  it('binds several URLs, reports the bound ports, and closes with a watch open', async () => {
    const s = await startClientServer(
      ['http://127.0.0.1:0', 'http://localhost:0'],
      createClientHandler({ backend: leader, clock: Date.now }),
    );
    expect(s.urls).toHaveLength(2);
    expect(s.urls[0]).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(s.urls[1]).toMatch(/^http:\/\/localhost:\d+$/);
    const v = await request(s.urls[0]!, 'GET', '/version'); // two, just checked
    expect(v.body).toBe('{"etcdserver":"3.4.0","etcdcluster":"3.4.0"}');
    const w = await openWatch(s.urls[1]!, '/v2/keys/never?wait=true');
    await s.close();
    await w.done.catch(() => '');
    await until(() => shared.store.stats().watchers === 0);
    await expect(
      startClientServer(['https://127.0.0.1:0'], createClientHandler({ backend: leader, clock: Date.now })),
    ).rejects.toThrow(/TLS/);
    await expect(
      startClientServer(['http://127.0.0.1'], createClientHandler({ backend: leader, clock: Date.now })),
    ).rejects.toThrow(/host:port/);
  });
});
