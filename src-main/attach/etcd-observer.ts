// Watches a cluster it did not start, from outside, through its client API only: a real etcd
// (3.2+ through the v3 JSON gateway, any version through v2) or a `raftlab node` cluster (v2).
//
// Every client URL gets its own poll loop (so one dead endpoint never slows the others), one
// loop reads the member list, and one streams key changes under a prefix. Every request has a
// deadline; stop() aborts whatever is in flight. Snapshots are coalesced (one per ~10 ms of
// changes) and the events (leader, term, members) are the differences between snapshots; key
// changes and reachability are emitted as they are seen.
//
// What each API shows (EndpointStatus.unavailable lists the gaps per endpoint):
//  v3 gateway  POST /v3/maintenance/status: member id, leader, raft term, commit and applied
//              index, db size, revision, alarms, learner; /health; /v3/cluster/member/list;
//              watch: streaming POST /v3/watch. Not shown: candidate/pre-candidate state.
//  v2          /version, /v2/stats/self (id, name, Raft state incl. candidate, leader),
//              HEAD /v2/keys/ (X-Raft-Term, X-Raft-Index = commit, X-Etcd-Index), /health,
//              /v2/members; watch: long-poll GET ?wait=true&recursive=true&waitIndex=N.
//              Not shown: applied index, db size, alarms, learners. This is all a raftlab node
//              serves.
// Neither shows votes, logs, timers, clocks or peer links (see toClusterState).
//
// Refused up front, with words instead of a hang: https URLs (no way to pass a CA or client
// certificate), an http URL that reaches a TLS port, and clusters with auth enabled (status and
// membership still show; keys, watches and membership changes need a login this does not do).

import { EventEmitter } from 'node:events';
import type {
  AttachApi,
  AttachEvent,
  AttachedMember,
  AttachedView,
  EndpointStatus,
  Health,
  WatchStatus,
} from '../../src-shared/attach.js';
import type { Role } from '../../src-shared/raft-types.js';

export interface ObserverOptions {
  /** Pause between two polls of one endpoint, ms. */
  pollMs?: number;
  /** Deadline of one poll request, ms. */
  timeoutMs?: number;
  /** Deadline of put/get/delete/member add/remove, ms (etcd holds a write while it has no leader). */
  opTimeoutMs?: number;
  /** Watch keys under this prefix ('/' by default); null: no watch. v2 watches it as a directory. */
  watchPrefix?: string | null;
  /** Also poll the client URLs the member list advertises (default true). */
  discover?: boolean;
}

export type AttachErrorKind = 'url' | 'tls' | 'auth' | 'unreachable' | 'unsupported' | 'etcd';

export class AttachError extends Error {
  constructor(
    readonly kind: AttachErrorKind,
    message: string,
    /** The HTTP status when the cluster answered. */
    readonly status?: number,
  ) {
    super(message);
  }
}

export function httpsMessage(url: string): string {
  return `${url}: https is not supported: raftlab attach talks plain http to etcd's client port and cannot pass a CA or client certificate; attach to an http:// client URL (etcd --listen-client-urls http://...)`;
}

export function tlsPortMessage(url: string): string {
  return `${url}: this port speaks TLS (the server said "Client sent an HTTP request to an HTTPS server"); raftlab attach supports plain http only`;
}

export function authMessage(etcdSaid: string): string {
  return `the cluster requires authentication (etcd: "${etcdSaid}"); raftlab attach does not log in, so keys, watches and membership changes are unavailable (status and members are still shown)`;
}

/**
 * Client URLs from the command line (comma-separated, or several arguments), normalized to
 * their origin. https URLs are kept (they are shown refused, with the reason); anything that is
 * not an http(s) origin is an AttachError('url').
 */
export function parseEndpoints(input: string | string[]): string[] {
  const parts = (Array.isArray(input) ? input : [input]).flatMap((s) => s.split(',')).map((s) => s.trim()).filter(Boolean);
  if (parts.length === 0) throw new AttachError('url', 'no client URL given (e.g. http://127.0.0.1:2379)');
  const out: string[] = [];
  for (const p of parts) {
    let u: URL;
    try {
      u = new URL(p);
    } catch {
      throw new AttachError('url', `${p}: not a URL (expected a client URL such as http://127.0.0.1:2379)`);
    }
    if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new AttachError('url', `${p}: only http:// client URLs can be attached to`);
    if ((u.pathname !== '/' && u.pathname !== '') || u.search || u.hash || u.username) {
      throw new AttachError('url', `${p}: a client URL is scheme://host:port, without a path, query or credentials`);
    }
    if (!out.includes(u.origin)) out.push(u.origin);
  }
  return out;
}

// ------------------------------------------------------------------------------------- HTTP

class NetError extends Error {}

interface Answer {
  status: number;
  headers: Headers;
  text: string;
}

const FORM = 'application/x-www-form-urlencoded';

function describeNetError(err: unknown, url: string, timeoutMs: number): string {
  const e = err as { name?: string; message?: string; cause?: { code?: string; message?: string } };
  if (e?.name === 'TimeoutError') return `no answer within ${timeoutMs} ms`;
  if (e?.name === 'AbortError') return 'stopped';
  const code = e?.cause?.code;
  const host = url.replace(/^[a-z]+:\/\//, '');
  switch (code) {
    case 'ECONNREFUSED':
      return `connection refused (nothing listens on ${host})`;
    case 'ECONNRESET':
    case 'UND_ERR_SOCKET':
      return 'the connection was closed before an answer';
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return `host not found (${host})`;
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
      return `no route to ${host}`;
    case 'HPE_INVALID_CONSTANT':
    case 'HPE_INVALID_VERSION':
      return 'the answer is not HTTP (a TLS or peer port?)';
    default:
      // fetch refuses some ports outright (its "bad port" list: 1, 7, 9, 21, 22, 25...).
      if (e?.cause?.message === 'bad port') return `port ${new URL(url).port} is one fetch refuses to connect to ("bad port")`;
      return e?.cause?.message ?? e?.message ?? String(err);
  }
}

function errorCode(err: unknown): string | undefined {
  return (err as { cause?: { code?: string } })?.cause?.code;
}

/** uint64 from the v3 gateway (decimal string) → etcd's hex id; '' for 0. */
function hexId(dec: unknown): string {
  if (dec === undefined || dec === null || dec === '' || dec === '0' || dec === 0) return '';
  try {
    return BigInt(String(dec)).toString(16);
  } catch {
    return String(dec);
  }
}

function num(v: unknown): number | undefined {
  if (v === undefined || v === null || v === '') return undefined;
  const n = Number(v);
  return Number.isFinite(n) ? n : undefined;
}

const b64 = (s: string | Buffer): string => Buffer.from(s).toString('base64');
const unb64 = (s: unknown): string => (typeof s === 'string' ? Buffer.from(s, 'base64').toString('utf8') : '');

/** The end of etcd's prefix range (clientv3.GetPrefixRangeEnd); all keys for ''. */
function prefixRangeEnd(prefix: string): Buffer {
  const b = Buffer.from(prefix);
  for (let i = b.length - 1; i >= 0; i--) {
    if (b[i] < 0xff) {
      const end = Buffer.from(b.subarray(0, i + 1));
      end[i]++;
      return end;
    }
  }
  return Buffer.from([0]);
}

function v2KeyPath(key: string): string {
  if (!key.startsWith('/')) throw new AttachError('etcd', `v2 keys are paths starting with "/" (got ${JSON.stringify(key)})`);
  return '/v2/keys' + key.split('/').map(encodeURIComponent).join('/');
}

const ROLES: Record<string, Role> = {
  StateLeader: 'leader',
  StateFollower: 'follower',
  StateCandidate: 'candidate',
  StatePreCandidate: 'precandidate',
};

const AUTH_HINT = /user name is empty|invalid auth token|auth(entication)? (is )?(not )?enabled|permission denied|insufficient credentials|unauthenticated|invalid username or password/i;

function parseJSON(text: string): any {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/** An error answer from etcd (v3 gateway or v2) as an AttachError, auth recognized. */
function answerError(a: Answer, what: string): AttachError {
  const j = parseJSON(a.text);
  const said: string = (j && (typeof j.message === 'string' ? j.message : typeof j.error === 'string' ? j.error : j.error?.message)) || a.text.trim().slice(0, 200) || `HTTP ${a.status}`;
  const grpc = j?.code ?? j?.error?.grpc_code;
  if (a.status === 401 || grpc === 16 || grpc === 7 || AUTH_HINT.test(said)) return new AttachError('auth', authMessage(said), a.status);
  const cause = j && typeof j.cause === 'string' ? ` (${j.cause})` : '';
  return new AttachError('etcd', `${what}: ${said}${cause}`, a.status);
}

// ------------------------------------------------------------------------------------- observer

interface Endpoint {
  status: EndpointStatus;
  api?: AttachApi;
  loop?: Promise<void>;
  /** Ends this endpoint's loop (it was dropped from the member list). */
  ctrl: AbortController;
}

/**
 * A signal aborted by a deadline or by any parent, and `done()` to unhook it from them.
 * (AbortSignal.any would do, but Node keeps every signal combined with a long-lived parent,
 * nodejs/node#55351, and an observer makes several requests a second for hours.)
 */
function linked(timeoutMs: number | undefined, ...parents: (AbortSignal | undefined)[]): { signal: AbortSignal; done(): void } {
  const ctrl = new AbortController();
  const hooks: [AbortSignal, () => void][] = [];
  for (const p of parents) {
    if (!p) continue;
    if (p.aborted) {
      ctrl.abort(p.reason);
      break;
    }
    const f = () => ctrl.abort(p.reason);
    p.addEventListener('abort', f, { once: true });
    hooks.push([p, f]);
  }
  const t = timeoutMs === undefined ? undefined : setTimeout(() => ctrl.abort(new DOMException('deadline', 'TimeoutError')), timeoutMs);
  return {
    signal: ctrl.signal,
    done() {
      clearTimeout(t);
      for (const [p, f] of hooks) p.removeEventListener('abort', f);
    },
  };
}

/** A sleep that stop() (or a kick) ends early. */
class Sleeper {
  private wakers = new Set<() => void>();
  sleep(ms: number, signal: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(t);
        this.wakers.delete(done);
        signal.removeEventListener('abort', done);
        resolve();
      };
      const t = setTimeout(done, ms);
      this.wakers.add(done);
      signal.addEventListener('abort', done, { once: true });
    });
  }
  wake(): void {
    for (const w of [...this.wakers]) w();
  }
}

type Events = { snapshot: [AttachedView]; event: [AttachEvent] };

export class EtcdObserver extends EventEmitter<Events> {
  readonly urls: string[];
  private readonly pollMs: number;
  private readonly timeoutMs: number;
  private readonly opTimeoutMs: number;
  private readonly discover: boolean;
  private readonly root = new AbortController();
  private readonly endpoints: Endpoint[] = [];
  private members: AttachedMember[] = [];
  private membersError: string | undefined;
  /** The member list was read at least once (a failed read keeps the last list). */
  private membersRead = false;
  private clusterId: string | undefined;
  private readonly problems: string[] = [];
  private watchStatus: WatchStatus | undefined;
  private watchNext: number | undefined;
  private watchCtrl: AbortController | undefined;
  private readonly memberSleep = new Sleeper();
  private loops: Promise<void>[] = [];
  private started = false;
  private stopped = false;
  private flushTimer: NodeJS.Timeout | undefined;
  private last: AttachedView | undefined;
  /**
   * What the last view showed, for the events: members once a list was read, leader and term
   * once every given URL was checked and one answered. Until then nothing "changed": a cluster
   * first seen is not a cluster whose members were all just added.
   */
  private seenMembers: Map<string, AttachedMember> | undefined;
  private seenRaft: { leader?: string; term: number } | undefined;

  constructor(urls: string | string[], opts: ObserverOptions = {}) {
    super();
    this.urls = parseEndpoints(urls);
    this.pollMs = opts.pollMs ?? 500;
    this.timeoutMs = opts.timeoutMs ?? 1000;
    this.opTimeoutMs = opts.opTimeoutMs ?? 5000;
    this.discover = opts.discover ?? true;
    for (const url of this.urls) this.addEndpoint(url, 'given');
    const prefix = opts.watchPrefix === undefined ? '/' : opts.watchPrefix;
    if (prefix !== null) this.watchStatus = { prefix };
  }

  start(): this {
    if (this.started) return this;
    this.started = true;
    for (const ep of this.endpoints) this.startEndpoint(ep);
    this.loops.push(this.membersLoop());
    if (this.watchStatus) this.loops.push(this.watchLoop());
    return this;
  }

  /** Ends every loop and request; resolves when they are all done. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.root.abort();
    this.memberSleep.wake();
    clearTimeout(this.flushTimer);
    await Promise.allSettled([...this.loops, ...this.endpoints.map((e) => e.loop)]);
  }

  /** The latest snapshot. */
  view(): AttachedView {
    return (this.last ??= this.compute());
  }

  // --- operations (through the first endpoint that answers) --------------------------------

  async put(key: string, value: string): Promise<{ revision: number }> {
    return this.op('put', async (url, api) => {
      if (api === 'v2') {
        const a = await this.http(url, v2KeyPath(key), { method: 'PUT', body: new URLSearchParams({ value }).toString(), type: FORM, timeoutMs: this.opTimeoutMs });
        if (a.status !== 200 && a.status !== 201) throw answerError(a, `put ${key}`);
        return { revision: num(parseJSON(a.text)?.node?.modifiedIndex) ?? 0 };
      }
      const j = await this.v3(url, api, 'kv/put', { key: b64(key), value: b64(value) }, `put ${key}`);
      return { revision: num(j.header?.revision) ?? 0 };
    });
  }

  async get(key: string): Promise<{ key: string; value: string; revision: number } | undefined> {
    return this.op('get', async (url, api) => {
      if (api === 'v2') {
        const a = await this.http(url, `${v2KeyPath(key)}?quorum=true`, { timeoutMs: this.opTimeoutMs });
        if (a.status === 404 && parseJSON(a.text)?.errorCode === 100) return undefined;
        if (a.status !== 200) throw answerError(a, `get ${key}`);
        const n = parseJSON(a.text)?.node;
        return { key, value: n?.value ?? '', revision: num(n?.modifiedIndex) ?? 0 };
      }
      const j = await this.v3(url, api, 'kv/range', { key: b64(key) }, `get ${key}`);
      const kv = j.kvs?.[0];
      return kv ? { key, value: unb64(kv.value), revision: num(kv.mod_revision) ?? 0 } : undefined;
    });
  }

  async delete(key: string): Promise<{ deleted: number }> {
    return this.op('delete', async (url, api) => {
      if (api === 'v2') {
        const a = await this.http(url, v2KeyPath(key), { method: 'DELETE', timeoutMs: this.opTimeoutMs });
        if (a.status === 404 && parseJSON(a.text)?.errorCode === 100) return { deleted: 0 };
        if (a.status !== 200) throw answerError(a, `delete ${key}`);
        return { deleted: 1 };
      }
      const j = await this.v3(url, api, 'kv/deleterange', { key: b64(key) }, `delete ${key}`);
      return { deleted: num(j.deleted) ?? 0 };
    });
  }

  /** etcd's `member add`: the new member is listed unstarted until it runs and publishes. */
  async addMember(peerURLs: string | string[]): Promise<AttachedMember> {
    const urls = Array.isArray(peerURLs) ? peerURLs : [peerURLs];
    const m = await this.op('member add', async (url, api) => {
      if (api === 'v2') {
        const a = await this.http(url, '/v2/members', { method: 'POST', body: JSON.stringify({ peerURLs: urls }), type: 'application/json', timeoutMs: this.opTimeoutMs });
        if (a.status !== 201) throw answerError(a, 'member add');
        return toMember(parseJSON(a.text), 'v2');
      }
      const j = await this.v3(url, api, 'cluster/member/add', { peerURLs: urls }, 'member add');
      return toMember(j.member, api);
    });
    this.memberSleep.wake();
    return m;
  }

  /** etcd's `member remove <hex id>`. */
  async removeMember(id: string): Promise<void> {
    if (!/^[0-9a-f]{1,16}$/i.test(id)) throw new AttachError('etcd', `member remove: ${JSON.stringify(id)} is not a member id (hex)`);
    await this.op('member remove', async (url, api) => {
      if (api === 'v2') {
        const a = await this.http(url, `/v2/members/${id.toLowerCase()}`, { method: 'DELETE', timeoutMs: this.opTimeoutMs });
        if (a.status !== 204) throw answerError(a, 'member remove');
        return;
      }
      await this.v3(url, api, 'cluster/member/remove', { ID: BigInt('0x' + id).toString() }, 'member remove');
    });
    this.memberSleep.wake();
  }

  // --- plumbing -------------------------------------------------------------------------------

  private async http(
    url: string,
    path: string,
    /** Try once more on a kept-alive socket the server closed; by default for GET and HEAD only. */
    o: { method?: string; body?: string; type?: string; timeoutMs?: number; signal?: AbortSignal; retry?: boolean } = {},
  ): Promise<Answer> {
    const timeoutMs = o.timeoutMs ?? this.timeoutMs;
    for (let attempt = 0; ; attempt++) {
      const link = linked(timeoutMs, this.root.signal, o.signal);
      try {
        const res = await fetch(url + path, {
          method: o.method ?? 'GET',
          body: o.body,
          headers: o.type ? { 'Content-Type': o.type } : undefined,
          signal: link.signal,
          redirect: 'manual',
        });
        const text = o.method === 'HEAD' ? '' : await res.text();
        if (res.status === 400 && /Client sent an HTTP request to an HTTPS server/.test(text)) throw new AttachError('tls', tlsPortMessage(url));
        return { status: res.status, headers: res.headers, text };
      } catch (err) {
        if (err instanceof AttachError) throw err;
        // A kept-alive socket the server closed between two polls: one fresh try.
        const code = errorCode(err);
        if (attempt === 0 && (o.retry ?? (o.method === undefined || o.method === 'HEAD')) && (code === 'ECONNRESET' || code === 'UND_ERR_SOCKET') && !this.root.signal.aborted) continue;
        throw new NetError(describeNetError(err, url, timeoutMs));
      } finally {
        link.done();
      }
    }
  }

  /** A unary v3 gateway call; etcd's error answers become AttachErrors. */
  private async v3(url: string, api: AttachApi, method: string, body: object, what: string, timeoutMs = this.opTimeoutMs, retry = false): Promise<any> {
    const a = await this.http(url, `/${api}/${method}`, { method: 'POST', body: JSON.stringify(body), type: 'application/json', timeoutMs, retry });
    if (a.status !== 200) throw answerError(a, what);
    const j = parseJSON(a.text);
    if (j === undefined) throw new AttachError('etcd', `${what}: not a JSON answer`, a.status);
    return j;
  }

  /** Which API an endpoint serves: the v3 gateway under /v3, /v3beta or /v3alpha, else v2. */
  private async detect(url: string, timeoutMs = this.timeoutMs): Promise<{ api: AttachApi; status?: any }> {
    for (const api of ['v3', 'v3beta', 'v3alpha'] as const) {
      const a = await this.http(url, `/${api}/maintenance/status`, { method: 'POST', body: '{}', type: 'application/json', timeoutMs, retry: true });
      const j = a.status === 200 ? parseJSON(a.text) : undefined;
      if (j?.header) return { api, status: j };
      if (a.status !== 404) break;
    }
    const v = await this.http(url, '/version', { timeoutMs });
    if (v.status === 200 && parseJSON(v.text)?.etcdserver) return { api: 'v2' };
    throw new AttachError('unsupported', `${url}: not an etcd client URL (no v3 gateway, and /version answered ${v.status})`, v.status);
  }

  private async withApi(ep: Endpoint, timeoutMs: number): Promise<AttachApi> {
    if (ep.status.url.startsWith('https:')) throw new AttachError('tls', httpsMessage(ep.status.url));
    ep.api ??= (await this.detect(ep.status.url, timeoutMs)).api;
    return ep.api;
  }

  /** Endpoints in the order worth trying: answering ones first, then unknown, then silent. */
  private candidates(): Endpoint[] {
    const rank = (e: Endpoint) => (e.status.reachable === true ? 0 : e.status.reachable === undefined ? 1 : 2);
    return [...this.endpoints].sort((a, b) => rank(a) - rank(b));
  }

  private async op<T>(what: string, fn: (url: string, api: AttachApi) => Promise<T>): Promise<T> {
    if (this.stopped) throw new AttachError('unreachable', `${what}: the observer is stopped`);
    const failures: string[] = [];
    let tls: AttachError | undefined;
    for (const ep of this.candidates()) {
      try {
        return await fn(ep.status.url, await this.withApi(ep, this.opTimeoutMs));
      } catch (err) {
        if (err instanceof NetError) failures.push(`${ep.status.url}: ${err.message}`);
        else if (err instanceof AttachError && err.kind === 'tls') tls ??= err;
        else throw err;
      }
    }
    if (failures.length === 0 && tls) throw tls;
    throw new AttachError('unreachable', `${what}: no endpoint answered (${[...failures, ...(tls ? [tls.message] : [])].join('; ')})`);
  }

  private emitEvent(e: AttachEvent): void {
    this.emit('event', e);
  }

  private problem(message: string): void {
    if (this.problems.includes(message)) return;
    this.problems.push(message);
    this.emitEvent({ type: 'problem', at: Date.now(), message });
    this.changed();
  }

  private clearProblem(match: (p: string) => boolean): void {
    const i = this.problems.findIndex(match);
    if (i !== -1) {
      this.problems.splice(i, 1);
      this.changed();
    }
  }

  /** Coalesces bursts of updates into one snapshot. */
  private changed(): void {
    if (this.flushTimer || this.stopped) return;
    this.flushTimer = setTimeout(() => {
      this.flushTimer = undefined;
      if (!this.stopped) this.flush();
    }, 10);
  }

  // --- endpoints ------------------------------------------------------------------------------

  private addEndpoint(url: string, origin: 'given' | 'discovered'): Endpoint {
    const ep: Endpoint = {
      status: { url, origin, reachable: undefined, warnings: [], health: 'unknown', alarms: [], unavailable: [] },
      ctrl: new AbortController(),
    };
    this.endpoints.push(ep);
    return ep;
  }

  private startEndpoint(ep: Endpoint): void {
    ep.loop = (async () => {
      const link = linked(undefined, this.root.signal, ep.ctrl.signal);
      const sleeper = new Sleeper();
      while (!link.signal.aborted) {
        await this.pollEndpoint(ep);
        // An https URL is refused for good: nothing to poll again.
        if (ep.status.url.startsWith('https:')) break;
        await sleeper.sleep(this.pollMs, link.signal);
      }
      link.done();
    })();
  }

  private async pollEndpoint(ep: Endpoint): Promise<void> {
    const s = ep.status;
    const was = s.reachable;
    try {
      let api = ep.api;
      let status: any;
      if (!api) {
        if (s.url.startsWith('https:')) throw new AttachError('tls', httpsMessage(s.url));
        ({ api, status } = await this.detect(s.url));
        ep.api = api;
      }
      s.api = api;
      if (api === 'v2') await this.pollV2(ep);
      else await this.pollV3(ep, api, status);
      s.reachable = true;
      s.error = undefined;
      s.seenAt = Date.now();
    } catch (err) {
      if (this.root.signal.aborted || ep.ctrl.signal.aborted) return;
      if (err instanceof NetError || (err instanceof AttachError && (err.kind === 'tls' || err.kind === 'unsupported'))) {
        s.reachable = false;
        s.error = err.message;
        s.health = 'unknown';
        ep.api = undefined; // it may come back as something else (restarted, upgraded)
      } else {
        // It answered, but not as expected: still reachable, say what went wrong.
        s.reachable = true;
        s.seenAt = Date.now();
        s.warnings = [err instanceof Error ? err.message : String(err)];
      }
    }
    s.checkedAt = Date.now();
    if (s.reachable !== was) {
      const at = Date.now();
      if (s.reachable) this.emitEvent({ type: 'endpointReachable', at, url: s.url, api: s.api, version: s.version });
      else this.emitEvent({ type: 'endpointUnreachable', at, url: s.url, error: s.error ?? 'unreachable' });
      // The watch may be streaming from an endpoint that just went silent: move it.
      if (!s.reachable && this.watchStatus?.endpoint === s.url) this.watchCtrl?.abort();
    }
    this.changed();
  }

  private async health(url: string): Promise<{ health: Health; warning?: string }> {
    try {
      const a = await this.http(url, '/health');
      const j = parseJSON(a.text);
      if (a.status === 200 && j?.health === 'true') return { health: 'healthy' };
      if (a.status === 404) return { health: 'unknown', warning: '/health is not served' };
      return { health: 'unhealthy', warning: j?.reason ? `unhealthy: ${j.reason}` : undefined };
    } catch (err) {
      // etcd answers /health after a quorum read: no answer in time says as much as a "false".
      return { health: 'unhealthy', warning: `health check: ${err instanceof Error ? err.message : String(err)}` };
    }
  }

  private async pollV3(ep: Endpoint, api: AttachApi, first?: any): Promise<void> {
    const [st, h] = await Promise.all([
      first ?? this.v3(ep.status.url, api, 'maintenance/status', {}, 'status', this.timeoutMs, true),
      this.health(ep.status.url),
    ]);
    const s = ep.status;
    s.memberId = hexId(st.header?.member_id) || undefined;
    if (st.header?.cluster_id) this.clusterId = hexId(st.header.cluster_id);
    s.leaderId = hexId(st.leader);
    s.role = s.leaderId !== '' && s.leaderId === s.memberId ? 'leader' : 'follower';
    s.version = st.version;
    s.raftTerm = num(st.raftTerm) ?? 0;
    s.raftIndex = num(st.raftIndex) ?? 0;
    s.dbSize = num(st.dbSize) ?? 0;
    s.storeIndex = num(st.header?.revision) ?? 0;
    s.alarms = Array.isArray(st.errors) ? st.errors.map(String) : [];
    s.health = h.health;
    s.warnings = h.warning ? [h.warning] : [];
    // The gateway omits zero values; 3.3 and older have no applied index nor in-use size at all.
    const modern = /^(3\.([4-9]|\d\d)|[4-9]|\d\d)/.test(s.version ?? '');
    s.raftAppliedIndex = modern ? (num(st.raftAppliedIndex) ?? 0) : undefined;
    s.dbSizeInUse = modern ? (num(st.dbSizeInUse) ?? 0) : undefined;
    s.unavailable = modern ? [] : ['raftAppliedIndex', 'dbSizeInUse'];
  }

  private async pollV2(ep: Endpoint): Promise<void> {
    const url = ep.status.url;
    const [ver, self, head, h] = await Promise.all([
      this.http(url, '/version'),
      this.http(url, '/v2/stats/self').catch((e: unknown) => e as Error),
      this.http(url, '/v2/keys/', { method: 'HEAD' }).catch((e: unknown) => e as Error),
      this.health(url),
    ]);
    const s = ep.status;
    const warnings: string[] = [];
    const unavailable = ['raftAppliedIndex', 'dbSize', 'dbSizeInUse', 'alarms', 'isLearner'];
    const v = parseJSON(ver.text);
    s.version = v?.etcdserver;
    const st = self instanceof Error ? undefined : self.status === 200 ? parseJSON(self.text) : undefined;
    if (st) {
      s.memberId = st.id || undefined;
      s.name = st.name;
      s.role = ROLES[st.state] ?? 'follower';
      const lead = String(st.leaderInfo?.leader ?? '');
      s.leaderId = lead === '0' ? '' : lead;
    } else {
      warnings.push(`/v2/stats/self: ${self instanceof Error ? self.message : `HTTP ${self.status}`}`);
      unavailable.push('memberId', 'leaderId', 'role');
    }
    if (!(head instanceof Error) && head.status === 200 && head.headers.get('x-raft-term') !== null) {
      s.raftTerm = num(head.headers.get('x-raft-term')) ?? 0;
      s.raftIndex = num(head.headers.get('x-raft-index')) ?? 0;
      s.storeIndex = num(head.headers.get('x-etcd-index'));
      const cid = head.headers.get('x-etcd-cluster-id');
      if (cid) this.clusterId = cid;
    } else {
      const why = head instanceof Error ? head.message : head.status === 404 ? 'the v2 keys API is off (etcd without --enable-v2)' : `HTTP ${head.status}`;
      warnings.push(`raft term and index: ${why}`);
      unavailable.push('raftTerm', 'raftIndex', 'storeIndex');
    }
    s.health = h.health;
    if (h.warning) warnings.push(h.warning);
    s.warnings = warnings;
    s.unavailable = unavailable;
    s.raftAppliedIndex = undefined;
    s.dbSize = undefined;
    s.dbSizeInUse = undefined;
    s.alarms = [];
  }

  // --- members --------------------------------------------------------------------------------

  private async membersLoop(): Promise<void> {
    while (!this.stopped) {
      await this.pollMembers();
      await this.memberSleep.sleep(this.pollMs, this.root.signal);
    }
  }

  private async pollMembers(): Promise<void> {
    const failures: string[] = [];
    for (const ep of this.candidates()) {
      if (this.stopped) return;
      if (ep.status.url.startsWith('https:')) continue;
      try {
        const api = await this.withApi(ep, this.timeoutMs);
        let list: AttachedMember[];
        if (api === 'v2') {
          const a = await this.http(ep.status.url, '/v2/members');
          if (a.status !== 200) throw answerError(a, 'member list');
          list = (parseJSON(a.text)?.members ?? []).map((m: any) => toMember(m, 'v2'));
        } else {
          const j = await this.v3(ep.status.url, api, 'cluster/member/list', {}, 'member list', this.timeoutMs, true);
          list = (j.members ?? []).map((m: any) => toMember(m, api));
        }
        list.sort((a, b) => (BigInt('0x' + (a.id || '0')) < BigInt('0x' + (b.id || '0')) ? -1 : 1));
        this.members = list;
        this.membersError = undefined;
        this.membersRead = true;
        if (this.discover) this.rediscover();
        this.changed();
        return;
      } catch (err) {
        failures.push(`${ep.status.url}: ${err instanceof Error ? err.message : String(err)}`);
      }
    }
    if (this.stopped) return;
    this.membersError = failures.length ? `member list: ${failures.join('; ')}` : 'member list: no http endpoint to ask';
    this.changed();
  }

  /** Poll the client URLs members advertise that no endpoint covers; drop those gone. */
  private rediscover(): void {
    // Wait until every given URL has said who it is, or it would be polled twice.
    if (this.endpoints.some((e) => e.status.origin === 'given' && e.status.checkedAt === undefined)) return;
    for (const m of this.members) {
      if (!m.started || m.clientURLs.length === 0) continue;
      const covered = this.endpoints.some((e) => (e.status.memberId !== undefined && e.status.memberId === m.id) || m.clientURLs.some((u) => originOf(u) === e.status.url));
      if (covered) continue;
      const url = m.clientURLs.find((u) => u.startsWith('http:')) ?? m.clientURLs[0];
      const origin = originOf(url);
      if (origin === '' || this.endpoints.some((e) => e.status.url === origin)) continue;
      const ep = this.addEndpoint(origin, 'discovered');
      if (this.started) this.startEndpoint(ep);
    }
    for (let i = this.endpoints.length - 1; i >= 0; i--) {
      const e = this.endpoints[i];
      if (e.status.origin !== 'discovered') continue;
      const still = this.members.some((m) => m.clientURLs.some((u) => originOf(u) === e.status.url) || (e.status.memberId !== undefined && m.id === e.status.memberId));
      if (!still) {
        e.ctrl.abort();
        this.endpoints.splice(i, 1);
      }
    }
  }

  // --- watch ----------------------------------------------------------------------------------

  private async watchLoop(): Promise<void> {
    const w = this.watchStatus!;
    let backoff = this.pollMs;
    while (!this.stopped) {
      const ep = this.candidates().find((e) => e.status.reachable === true && e.api !== undefined);
      if (!ep) {
        await this.memberSleep.sleep(this.pollMs, this.root.signal);
        continue;
      }
      const ctrl = new AbortController();
      this.watchCtrl = ctrl;
      const link = linked(undefined, this.root.signal, ctrl.signal);
      const signal = link.signal;
      w.endpoint = ep.status.url;
      w.api = ep.api;
      this.changed();
      try {
        if (ep.api === 'v2') await this.watchV2(ep.status.url, w, signal);
        else await this.watchV3(ep.status.url, ep.api!, w, signal);
        backoff = this.pollMs;
      } catch (err) {
        if (this.stopped) break;
        const msg = err instanceof Error ? err.message : String(err);
        if (!signal.aborted) w.error = msg;
        if (err instanceof AttachError && (err.kind === 'auth' || err.kind === 'unsupported')) {
          this.problem(msg);
          backoff = Math.min(backoff * 2, 5000);
        }
      } finally {
        link.done();
      }
      w.endpoint = undefined;
      this.changed();
      await new Sleeper().sleep(backoff, this.root.signal);
    }
  }

  private keyEvent(action: 'put' | 'delete', detail: string, key: string, revision: number, value?: string, prevValue?: string, dir?: boolean): void {
    const e: AttachEvent = { type: 'keyChanged', at: Date.now(), action, detail, key, revision };
    if (value !== undefined) e.value = value;
    if (prevValue !== undefined) e.prevValue = prevValue;
    if (dir) e.dir = true;
    this.emitEvent(e);
  }

  /** The gateway's streaming watch: one JSON object per line, reconnecting from the next revision. */
  private async watchV3(url: string, api: AttachApi, w: WatchStatus, signal: AbortSignal): Promise<void> {
    const create: Record<string, unknown> = { key: b64(w.prefix === '' ? Buffer.from([0]) : w.prefix), range_end: b64(prefixRangeEnd(w.prefix)), prev_kv: true };
    if (this.watchNext !== undefined) create.start_revision = String(this.watchNext);
    // The stream itself has no deadline, but its first line (created) must come in time.
    const first = new AbortController();
    const timer = setTimeout(() => first.abort(new DOMException('no answer', 'TimeoutError')), this.opTimeoutMs);
    const link = linked(undefined, signal, first.signal);
    let res: Response;
    try {
      res = await fetch(`${url}/${api}/watch`, {
        method: 'POST',
        body: JSON.stringify({ create_request: create }),
        headers: { 'Content-Type': 'application/json' },
        signal: link.signal,
      });
    } catch (err) {
      clearTimeout(timer);
      link.done();
      throw new NetError(describeNetError(err, url, this.opTimeoutMs));
    }
    if (res.status !== 200) {
      clearTimeout(timer);
      link.done();
      throw answerError({ status: res.status, headers: res.headers, text: await res.text().catch(() => '') }, 'watch');
    }
    const reader = res.body!.getReader();
    const decoder = new TextDecoder();
    let buf = '';
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) return;
        buf += decoder.decode(value, { stream: true });
        let nl: number;
        while ((nl = buf.indexOf('\n')) !== -1) {
          const line = buf.slice(0, nl).trim();
          buf = buf.slice(nl + 1);
          if (line === '') continue;
          clearTimeout(timer);
          this.onV3WatchLine(line, w);
        }
      }
    } catch (err) {
      if (err instanceof AttachError) throw err;
      throw new NetError(describeNetError(err, url, this.opTimeoutMs));
    } finally {
      clearTimeout(timer);
      link.done();
      reader.cancel().catch(() => {});
    }
  }

  private onV3WatchLine(line: string, w: WatchStatus): void {
    const j = parseJSON(line);
    if (j?.error) throw answerError({ status: j.error.http_code ?? 500, headers: new Headers(), text: JSON.stringify(j.error) }, 'watch');
    const r = j?.result;
    if (!r) return;
    if (r.canceled) {
      const compacted = num(r.compact_revision);
      if (compacted) {
        this.problem(`the watch fell behind etcd's compaction: changes before revision ${compacted} under ${JSON.stringify(w.prefix)} were missed`);
        this.watchNext = compacted;
        throw new AttachError('etcd', 'watch compacted; restarting');
      }
      throw answerError({ status: 400, headers: new Headers(), text: JSON.stringify({ message: String(r.cancel_reason ?? 'canceled').replace(/^rpc error: code = \w+ desc = /, '') }) }, 'watch');
    }
    if (r.created) {
      if (this.watchNext === undefined) this.watchNext = (num(r.header?.revision) ?? 0) + 1;
      w.error = undefined;
      w.next = this.watchNext;
      this.clearProblem((p) => p.startsWith('the cluster requires authentication'));
      this.changed();
    }
    for (const ev of r.events ?? []) {
      const rev = num(ev.kv?.mod_revision) ?? 0;
      const del = ev.type === 'DELETE';
      this.keyEvent(del ? 'delete' : 'put', del ? 'delete' : 'put', unb64(ev.kv?.key), rev, del ? undefined : unb64(ev.kv?.value), ev.prev_kv ? unb64(ev.prev_kv.value) : undefined);
      this.watchNext = rev + 1;
    }
    w.next = this.watchNext;
  }

  /** v2 long polls, one event each, from the next index (so nothing is missed between them). */
  private async watchV2(url: string, w: WatchStatus, signal: AbortSignal): Promise<void> {
    if (w.prefix !== '' && !w.prefix.startsWith('/')) {
      throw new AttachError('unsupported', `key changes cannot be watched: v2 watches a directory, and ${JSON.stringify(w.prefix)} does not start with "/"`);
    }
    const dir = w.prefix.replace(/\/+$/, '');
    const path = v2KeyPath(dir === '' ? '/' : dir);
    if (this.watchNext === undefined) {
      const head = await this.http(url, '/v2/keys/', { method: 'HEAD', signal });
      if (head.status === 404) throw new AttachError('unsupported', 'key changes cannot be watched: the v2 keys API is off (etcd without --enable-v2)');
      if (head.status !== 200) throw answerError(head, 'watch');
      this.watchNext = (num(head.headers.get('x-etcd-index')) ?? 0) + 1;
    }
    w.error = undefined;
    w.next = this.watchNext;
    this.changed();
    while (!signal.aborted) {
      w.next = this.watchNext;
      let a: Answer;
      try {
        // Re-asked now and then so a silently dead connection cannot hold the watch forever.
        a = await this.http(url, `${path}?wait=true&recursive=true&waitIndex=${this.watchNext}`, { signal, timeoutMs: 10_000 });
      } catch (err) {
        if (err instanceof NetError && /^no answer within/.test(err.message)) continue;
        throw err;
      }
      const j = parseJSON(a.text);
      if (a.status === 200 && j?.node) {
        const n = j.node;
        const rev: number = num(n.modifiedIndex) ?? this.watchNext ?? 0;
        const del = ['delete', 'expire', 'compareAndDelete'].includes(j.action);
        this.keyEvent(del ? 'delete' : 'put', j.action, n.key, rev, del ? undefined : n.value, j.prevNode?.value, n.dir === true);
        this.watchNext = rev + 1;
      } else if (j?.errorCode === 401) {
        // The v2 history holds 1000 events: resume from where it now starts.
        this.problem(`the v2 watch fell behind (etcd keeps 1000 events): changes before index ${j.index} under ${JSON.stringify(w.prefix)} were missed`);
        this.watchNext = (num(j.index) ?? 0) + 1;
      } else if (a.status === 404 && j === undefined) {
        throw new AttachError('unsupported', 'key changes cannot be watched: the v2 keys API is off (etcd without --enable-v2)');
      } else {
        throw answerError(a, 'watch');
      }
    }
  }

  // --- snapshots and events -------------------------------------------------------------------

  private compute(): AttachedView {
    const names = new Map(this.members.map((m) => [m.id, m.name]));
    const endpoints = this.endpoints.map((e) => {
      const s = structuredClone(e.status);
      if (s.memberId && names.get(s.memberId)) s.name = names.get(s.memberId);
      return s;
    });
    const live = endpoints.filter((e) => e.reachable === true && e.raftTerm !== undefined);
    const maxLive = Math.max(0, ...live.map((e) => e.raftTerm!));
    const votes = new Map<string, number>();
    for (const e of live) if (e.raftTerm === maxLive && e.leaderId) votes.set(e.leaderId, (votes.get(e.leaderId) ?? 0) + 1);
    const best = [...votes.entries()].sort((a, b) => b[1] - a[1])[0];
    const view: AttachedView = {
      source: 'attached',
      at: Date.now(),
      urls: [...this.urls],
      members: structuredClone(this.members),
      endpoints,
      term: Math.max(0, ...endpoints.map((e) => e.raftTerm ?? 0)),
      problems: [...this.problems],
    };
    if (this.clusterId) view.clusterId = this.clusterId;
    if (this.membersError) view.membersError = this.membersError;
    if (best) view.leader = { id: best[0], name: names.get(best[0]) || best[0], term: maxLive };
    if (this.watchStatus) view.watch = { ...this.watchStatus };
    return view;
  }

  private flush(): void {
    const view = this.compute();
    this.last = view;
    const at = view.at;
    if (this.membersRead) {
      const members = new Map(view.members.map((m) => [m.id, m]));
      const before = this.seenMembers;
      if (before) {
        for (const m of view.members) {
          const b = before.get(m.id);
          if (!b) this.emitEvent({ type: 'memberAdded', at, member: m });
          else if (!b.started && m.started) this.emitEvent({ type: 'memberStarted', at, member: m });
        }
        for (const [id, m] of before) if (!members.has(id)) this.emitEvent({ type: 'memberRemoved', at, member: m });
      }
      this.seenMembers = members;
    }
    const checked = this.endpoints.every((e) => e.status.origin !== 'given' || e.status.checkedAt !== undefined);
    // With nothing answering, the leader is not "lost", just not seen: hold the last one.
    const answering = view.endpoints.some((e) => e.reachable === true && e.raftTerm !== undefined);
    if (checked && answering) {
      const b = this.seenRaft;
      const lead = view.leader?.id;
      if (b) {
        if (view.term > b.term) this.emitEvent({ type: 'termBumped', at, from: b.term, to: view.term });
        if (lead !== b.leader) {
          const e: AttachEvent = { type: 'leaderChanged', at, term: view.leader?.term ?? view.term };
          const name = (id: string) => view.members.find((m) => m.id === id)?.name || this.seenMembers?.get(id)?.name || id;
          if (b.leader) Object.assign(e, { from: b.leader, fromName: name(b.leader) });
          if (view.leader) Object.assign(e, { to: view.leader.id, toName: view.leader.name });
          this.emitEvent(e);
        }
      }
      this.seenRaft = { leader: lead, term: Math.max(view.term, b?.term ?? 0) };
    }
    this.emit('snapshot', view);
  }
}

function originOf(url: string): string {
  try {
    return new URL(url).origin;
  } catch {
    return '';
  }
}

function toMember(m: any, api: AttachApi): AttachedMember {
  const id = api === 'v2' ? String(m?.id ?? '') : hexId(m?.ID);
  const name = typeof m?.name === 'string' ? m.name : '';
  return {
    id,
    name,
    peerURLs: Array.isArray(m?.peerURLs) ? m.peerURLs.map(String) : [],
    clientURLs: Array.isArray(m?.clientURLs) ? m.clientURLs.map(String) : [],
    started: name !== '',
    isLearner: m?.isLearner === true,
  };
}
