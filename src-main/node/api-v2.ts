// The etcd 3.4 v2 client API over HTTP: /v2/keys, /v2/members, /v2/stats/*, /v2/machines,
// /version and /health, answered the way etcd answers them so that curl and the real
// `etcdctl` (ETCDCTL_API=2) cannot tell the difference.
//
// This layer only translates between the wire and a ClientBackend (the node). What it copies
// from etcd (embed/serve.go's access controller, net/http's ServeMux and server, v2http's
// client.go, etcdhttp's base.go, v2error):
// - CORS headers on every response; OPTIONS is 200 with an empty body before any routing.
// - Paths are cleaned like ServeMux: `//`, `.` or `..` in a path answers 301 to the clean path.
// - Headers go out in Go's order: sorted by name, then Date, Content-Length and a sniffed
//   Content-Type. JSON is Go's: `<`, `>`, `&`, U+2028/9 escaped; encoder responses end in "\n".
// - Keys errors are v2error bodies with X-Etcd-Index only; successes add X-Raft-Index/Term.
//   Members and stats errors are `{"message": ...}`. Unexpected failures never escape: keys
//   answer errorCode 300, everything else 500 `{"message":"Internal Server Error"}`.

import { readBody } from '../net/read-body.js';
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { MemberError, RaftUnavailable, type ClientBackend, type MemberInfo } from './client-backend.js';
import { newURLs } from './etcd-urls.js';
import { quote } from './go/strconv.js';
import { compareStrings } from './go/strings.js';
import { escapedPath, parseQuery, unescapeLatin1 } from './go/url.js';
import { V2Error, isCreated, parseKeysRequest, type V2Event, type V2WatchHandle, type V2WatchRequest } from './store-v2.js';

export interface ClientApiOptions {
  backend: ClientBackend;
  /** The node's clock (ms): parseKeysRequest wants a `now`; the backend stamps the real one. */
  clock: () => number;
  /** Largest form body accepted (default 10 MiB, Go's ParseForm limit, as etcd 3.4's v2 API takes); larger is error 210. */
  maxValueBytes?: number;
  /** /version's body (default 3.4.0 / 3.4.0). */
  version?: { etcdserver: string; etcdcluster: string };
  /** Told of every answered request (the app records them in the session trace). */
  onRequest?: (r: ClientRequestRecord) => void;
  /**
   * null when the node may serve; until then a promise of it. Requests wait for it, as etcd's
   * client listener accepts connections but serves only after ReadyNotify (a leader, and its
   * own publish applied). Default: always ready.
   */
  whenReady?: () => Promise<void> | null;
  /**
   * How long a request waits for readiness (etcd's request timeout, 5 s + 2 × election). After
   * that a keys request gets etcd's "request timed out" error (never an answer from a store
   * that may be stale); the other paths are served as the node stands.
   */
  readyTimeoutMs?: number;
}

/** One request to the client port and its answer, as a viewer records it. */
export interface ClientRequestRecord {
  method: string;
  /** Path and query as sent. */
  path: string;
  status: number;
  /** From the request's arrival to the end of the answer. */
  ms: number;
}

export type ClientHandler = (req: IncomingMessage, res: ServerResponse) => void;

// etcd's --max-request-bytes (1.5 MiB) guards gRPC and the v3 API only; a v2 PUT is limited
// by Go's r.ParseForm, which reads at most 10 MiB of form body (net/http maxFormSize): real
// etcd 3.4 takes a body of exactly 10 MiB and refuses one byte more (test/node/limits.test.ts).
const DEFAULT_MAX_VALUE_BYTES = 10 * 1024 * 1024;
/** Members API bodies are a list of URLs; anything this large is not one. */
const MAX_MEMBER_BODY_BYTES = 1024 * 1024;
/** etcd's /health asks for a quorum read with a 1 s deadline; this only guards a hung backend. */
const HEALTH_GUARD_MS = 5000;

const KEYS_PREFIX = '/v2/keys';
const MEMBERS_PREFIX = '/v2/members';

type HeaderList = Array<[string, string]>;

const CORS: HeaderList = [
  ['Access-Control-Allow-Headers', 'accept, content-type, authorization'],
  ['Access-Control-Allow-Methods', 'POST, GET, OPTIONS, PUT, DELETE'],
  ['Access-Control-Allow-Origin', '*'],
];
const JSON_TYPE: [string, string] = ['Content-Type', 'application/json'];
const TEXT_TYPE = 'text/plain; charset=utf-8';

interface Reply {
  status: number;
  headers?: HeaderList;
  body?: string;
  /** Go sniffs a Content-Type the handler did not set and writes it after Content-Length. */
  sniffedType?: string;
  /** Go omits Content-Length when nothing was written to a HEAD response, and on 204. */
  noLength?: boolean;
  /** Close the connection after this reply (a request body was left unread). */
  close?: boolean;
}

/** The request as etcd's mux and handlers see it. */
interface Req {
  method: string;
  /** Percent-decoded path (Go's r.URL.Path). */
  path: string;
  rawQuery: string;
  raw: IncomingMessage;
}

// ---------------------------------------------------------------------------------------------
// The handler

export function createClientHandler(opts: ClientApiOptions): ClientHandler {
  const api = new ClientApi(opts);
  return (req, res) => api.serve(req, res);
}

class ClientApi {
  private readonly backend: ClientBackend;
  private readonly clock: () => number;
  private readonly maxValueBytes: number;
  private readonly version: { etcdserver: string; etcdcluster: string };
  private readonly onRequest?: (r: ClientRequestRecord) => void;
  private readonly whenReady?: () => Promise<void> | null;
  private readonly readyTimeoutMs: number;

  constructor(opts: ClientApiOptions) {
    this.whenReady = opts.whenReady;
    this.readyTimeoutMs = opts.readyTimeoutMs ?? 6000;
    this.backend = opts.backend;
    this.clock = opts.clock;
    this.maxValueBytes = opts.maxValueBytes ?? DEFAULT_MAX_VALUE_BYTES;
    this.version = opts.version ?? { etcdserver: '3.4.0', etcdcluster: '3.4.0' };
    this.onRequest = opts.onRequest;
  }

  serve(req: IncomingMessage, res: ServerResponse): void {
    // An aborted upload emits 'error'; unhandled it would take the process down.
    req.on('error', () => {});
    res.on('error', () => {});
    if (this.onRequest) {
      const t0 = performance.now();
      const tell = this.onRequest;
      res.once('finish', () => tell({ method: req.method ?? 'GET', path: req.url ?? '/', status: res.statusCode, ms: Math.round((performance.now() - t0) * 100) / 100 }));
    }
    this.afterReady(req, res).catch((err: unknown) => {
      // Last resort: the route handlers answer their own failures.
      if (!res.headersSent) send(req, res, internalServerError());
      else res.destroy(err instanceof Error ? err : undefined);
    });
  }

  /** Holds the request until the node is ready (or the wait times out), then routes it. */
  private async afterReady(raw: IncomingMessage, res: ServerResponse): Promise<void> {
    const ready = this.whenReady?.();
    if (ready) {
      let timer: NodeJS.Timeout | undefined;
      const inTime = await Promise.race([
        ready.then(() => true),
        new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), this.readyTimeoutMs))),
      ]);
      clearTimeout(timer);
      if (res.destroyed) return;
      if (!inTime) {
        const path = splitTarget(raw.url ?? '/')?.rawPath ?? '';
        if (path === KEYS_PREFIX || path.startsWith(`${KEYS_PREFIX}/`)) {
          raw.resume();
          let cid = '';
          try {
            cid = this.backend.status().clusterId;
          } catch {
            /* not known yet */
          }
          return send(raw, res, { ...keyError(new RaftUnavailable('etcdserver: request timed out'), cid), close: true });
        }
      }
    }
    return this.route(raw, res);
  }

  private async route(raw: IncomingMessage, res: ServerResponse): Promise<void> {
    const method = raw.method ?? 'GET';
    const target = splitTarget(raw.url ?? '/');
    const path = target ? unescapeLatin1(target.rawPath, false) : null;
    if (target === null || path === null) {
      // net/http rejects a request line it cannot parse before any handler (so no CORS).
      res.sendDate = false;
      res.writeHead(400, ['Content-Type', TEXT_TYPE, 'Connection', 'close']);
      res.end('400 Bad Request');
      return;
    }
    if (method === 'OPTIONS') return send(raw, res, { status: 200 });

    const clean = goCleanPath(path);
    if (clean !== path) return send(raw, res, redirect(method, clean, target.rawQuery));

    const req: Req = { method, path, rawQuery: target.rawQuery, raw };
    let reply: Reply | undefined;
    if (path === KEYS_PREFIX || path.startsWith(`${KEYS_PREFIX}/`)) {
      reply = await this.keys(req, res);
    } else if (path === MEMBERS_PREFIX || path.startsWith(`${MEMBERS_PREFIX}/`)) {
      reply = await this.members(req);
    } else {
      switch (path) {
        case '/v2/machines':
          reply = allowMethod(method, ['GET', 'HEAD']) ?? this.machines();
          break;
        case '/v2/stats/store':
          reply = allowMethod(method, ['GET']) ?? jsonReply(200, this.backend.storeStats());
          break;
        case '/v2/stats/self':
          reply = allowMethod(method, ['GET']) ?? jsonReply(200, this.backend.selfStats());
          break;
        case '/v2/stats/leader':
          reply = allowMethod(method, ['GET']) ?? this.leaderStats();
          break;
        case '/version':
          reply = allowMethod(method, ['GET']) ?? jsonReply(200, { etcdserver: this.version.etcdserver, etcdcluster: this.version.etcdcluster });
          break;
        case '/health':
          reply = allowMethod(method, ['GET']) ?? (await this.health());
          break;
        default:
          reply = httpError(404, '404 page not found');
      }
    }
    if (reply) send(raw, res, reply);
  }

  // --- /v2/keys -------------------------------------------------------------------------------

  /** Returns the reply, or undefined when it already answered (a watch). */
  private async keys(req: Req, res: ServerResponse): Promise<Reply | undefined> {
    const notAllowed = allowMethod(req.method, ['HEAD', 'GET', 'PUT', 'POST', 'DELETE']);
    if (notAllowed) return notAllowed;
    let clusterId = '';
    try {
      clusterId = this.backend.status().clusterId;
      const form = await this.parseForm(req);
      if (form.aborted) return undefined;
      const tooLarge = form.tooLarge;
      if (tooLarge) return { ...keyError(new V2Error(210, 'http: POST too large', 0), clusterId), close: true };
      if (form.error !== null) return keyError(new V2Error(210, form.error, 0), clusterId);
      const parsed = parseKeysRequest(req.method, req.path.slice(KEYS_PREFIX.length), form.params, this.clock());
      if ('watch' in parsed) return this.watch(req, res, parsed.watch, clusterId);
      if ('read' in parsed) {
        const event = await this.backend.read(parsed.read);
        return this.keyEvent(event, this.backend.storeIndex(), clusterId, false);
      }
      const { now: _now, ...cmd } = parsed;
      const event = await this.backend.write(cmd);
      return this.keyEvent(event, event.node.modifiedIndex ?? this.backend.storeIndex(), clusterId, !!cmd.noValueOnSuccess);
    } catch (err) {
      return keyError(err, clusterId);
    }
  }

  /** etcd's writeKeyEvent: 201 for a creation; `noValueOnSuccess` drops the nodes of a write. */
  private keyEvent(event: V2Event, etcdIndex: number, clusterId: string, noValueOnSuccess: boolean): Reply {
    let out: V2Event | { action: string } = event;
    if (noValueOnSuccess && ['set', 'compareAndSwap', 'create', 'update'].includes(event.action)) out = { action: event.action };
    const st = this.backend.status();
    return {
      status: isCreated(event) ? 201 : 200,
      headers: [
        JSON_TYPE,
        ['X-Etcd-Cluster-Id', clusterId],
        ['X-Etcd-Index', String(etcdIndex)],
        ['X-Raft-Index', String(st.commit)],
        ['X-Raft-Term', String(st.term)],
      ],
      body: `${goJSON(out)}\n`,
    };
  }

  /**
   * etcd's handleKeyWatch: headers go out at once (chunked, X-Etcd-Index = the store index when
   * the watch started), then the event. `stream=true` keeps going, one event after another.
   * A client that hangs up cancels the watch.
   */
  private watch(req: Req, res: ServerResponse, w: V2WatchRequest, clusterId: string): Reply | undefined {
    let handle: V2WatchHandle;
    let ready = false;
    let done = false;
    const early: V2Event[] = [];
    const finish = () => {
      if (done) return;
      done = true;
      handle.cancel();
      if (!res.writableEnded) res.end();
    };
    const deliver = (ev: V2Event) => {
      if (done) return;
      if (res.destroyed) return finish();
      res.write(`${goJSON(ev)}\n`);
      if (!w.stream) return finish();
      try {
        handle = this.backend.watch(w.path, { recursive: w.recursive, waitIndex: (ev.node.modifiedIndex ?? this.backend.storeIndex()) + 1 }, onEvent);
      } catch {
        finish(); // the history moved past us: end the stream as etcd does when it falls behind
      }
    };
    const onEvent = (ev: V2Event) => {
      if (done) return;
      if (ready) deliver(ev);
      else early.push(ev);
    };
    // May throw V2Error 401 (history cleared): answered as a keys error by the caller.
    handle = this.backend.watch(w.path, { recursive: w.recursive, waitIndex: w.waitIndex }, onEvent);
    res.on('close', finish);
    try {
      const st = this.backend.status();
      writeHead(req.raw, res, 200, [
        JSON_TYPE,
        ['X-Etcd-Cluster-Id', clusterId],
        ['X-Etcd-Index', String(handle.startIndex)],
        ['X-Raft-Index', String(st.commit)],
        ['X-Raft-Term', String(st.term)],
      ], ['Transfer-Encoding', 'chunked']);
      res.flushHeaders();
    } catch (err) {
      handle.cancel();
      throw err;
    }
    // The client may have hung up before we listened for it.
    if (res.destroyed || req.raw.socket?.destroyed) return void finish();
    ready = true;
    for (const ev of early.splice(0)) deliver(ev);
    return undefined;
  }

  /**
   * Go's r.ParseForm: for POST and PUT a form-encoded body, then the query; body values come
   * first (FormValue takes the first). A bad escape or semicolon is an error (etcd's 210).
   */
  private async parseForm(req: Req): Promise<{ params: URLSearchParams; error: string | null; tooLarge: boolean; aborted: boolean }> {
    const params = new URLSearchParams();
    let error: string | null = null;
    if (req.method === 'POST' || req.method === 'PUT') {
      const ct = req.raw.headers['content-type'] ?? '';
      const mediaType = ct === '' ? 'application/octet-stream' : ct.split(';')[0].trim().toLowerCase();
      if (mediaType === '') {
        error = 'mime: no media type';
      } else if (mediaType === 'application/x-www-form-urlencoded') {
        const body = await readBody(req.raw, this.maxValueBytes);
        if (body.aborted || body.tooLarge) return { params, error, tooLarge: body.tooLarge, aborted: body.aborted };
        error = parseQuery(body.data.toString('latin1'), params);
      }
    }
    const queryError = parseQuery(req.rawQuery, params);
    return { params, error: error ?? queryError, tooLarge: false, aborted: false };
  }

  // --- /v2/members ----------------------------------------------------------------------------

  private async members(req: Req): Promise<Reply> {
    const notAllowed = allowMethod(req.method, ['GET', 'POST', 'DELETE', 'PUT']);
    if (notAllowed) return notAllowed;
    let clusterId = '';
    const withCid = (r: Reply): Reply => ({ ...r, headers: [...(r.headers ?? []), ['X-Etcd-Cluster-Id', clusterId]] });
    try {
      clusterId = this.backend.status().clusterId;
      const sub = trimPrefix(req.path, MEMBERS_PREFIX);
      switch (req.method) {
        case 'GET': {
          if (sub === '') return withCid(jsonReply(200, { members: this.backend.members().map(memberJSON) }, true));
          if (sub !== 'leader') return withCid(messageReply(404, 'Not found'));
          const leader = this.backend.status().leader;
          const m = leader === '' || leader === '0' ? undefined : this.findMember(leader);
          if (!m) return withCid(messageReply(503, 'During election'));
          return withCid(jsonReply(200, memberJSON(m), true));
        }
        case 'POST': {
          const body = await this.memberRequest(req);
          if ('status' in body) return withCid(body);
          const m = await this.backend.addMember(body.peerURLs);
          return withCid(jsonReply(201, memberJSON(m), true));
        }
        case 'DELETE': {
          const id = this.memberId(sub);
          if (typeof id !== 'string') return withCid(id);
          await this.backend.removeMember(id);
          return withCid({ status: 204, noLength: true });
        }
        default: {
          // PUT
          const id = this.memberId(sub);
          if (typeof id !== 'string') return withCid(id);
          const body = await this.memberRequest(req);
          if ('status' in body) return withCid(body);
          await this.backend.updateMember(id, body.peerURLs);
          return withCid({ status: 204, noLength: true });
        }
      }
    } catch (err) {
      if (err instanceof MemberError) return withCid(messageReply(err.status, err.message));
      return withCid(internalServerError());
    }
  }

  /** etcd's getID (strconv.ParseUint base 16): the backend gets its own spelling of the id. */
  private memberId(idStr: string): string | Reply {
    // No id: net/http's Error without an Allow header, as etcd does.
    if (idStr === '') return httpError(405, 'Method Not Allowed');
    const id = parseHexId(idStr);
    if (id === null) return messageReply(404, `No such member: ${idStr}`);
    return this.findMember(id)?.id ?? id.toString(16);
  }

  private findMember(id: string | bigint): MemberInfo | undefined {
    const want = typeof id === 'bigint' ? id : parseHexId(id);
    if (want === null) return undefined;
    return this.backend.members().find((m) => parseHexId(m.id) === want);
  }

  /** etcd's unmarshalRequest + MemberCreateRequest/MemberUpdateRequest.UnmarshalJSON. */
  private async memberRequest(req: Req): Promise<{ peerURLs: string[] } | Reply> {
    let ctype = req.raw.headers['content-type'] ?? '';
    const semi = ctype.indexOf(';');
    if (semi !== -1) ctype = ctype.slice(0, semi).trim().toLowerCase();
    if (ctype !== 'application/json') return messageReply(415, `Bad Content-Type ${ctype}, accept application/json`);
    const body = await readBody(req.raw, MAX_MEMBER_BODY_BYTES);
    if (body.aborted) return messageReply(400, 'unexpected EOF');
    if (body.tooLarge) return { ...messageReply(400, 'http: request body too large'), close: true };
    const parsed = decodeMemberRequest(body.data.toString('utf8'));
    if (typeof parsed === 'string') return messageReply(400, parsed);
    return { peerURLs: parsed };
  }

  // --- the rest -------------------------------------------------------------------------------

  /** Legacy: every member's client URLs, sorted, comma-separated, as sniffed text. */
  private machines(): Reply {
    const urls = this.backend
      .members()
      .flatMap((m) => m.clientURLs)
      .sort(compareStrings);
    const body = urls.join(', ');
    return { status: 200, body, sniffedType: body === '' ? undefined : TEXT_TYPE };
  }

  private leaderStats(): Reply {
    const stats = this.backend.leaderStats();
    if (stats === undefined) return messageReply(403, 'not current leader');
    return jsonReply(200, stats);
  }

  /** etcdhttp's health handler: 200 sniffed text when healthy, http.Error 503 otherwise. */
  private async health(): Promise<Reply> {
    let timer: NodeJS.Timeout | undefined;
    const guard = new Promise<boolean>((resolve) => {
      timer = setTimeout(() => resolve(false), HEALTH_GUARD_MS);
    });
    const check = Promise.resolve()
      .then(() => this.backend.health())
      .catch(() => false);
    const ok = await Promise.race([check, guard]);
    clearTimeout(timer);
    if (ok === true) return { status: 200, body: '{"health":"true"}', sniffedType: TEXT_TYPE };
    return httpError(503, '{"health":"false"}');
  }
}

// ---------------------------------------------------------------------------------------------
// Replies

/** v2http's allowMethod: 405 text with `Allow` listing what is allowed. */
function allowMethod(method: string, allowed: string[]): Reply | undefined {
  if (allowed.includes(method)) return undefined;
  const r = httpError(405, 'Method Not Allowed');
  r.headers!.push(['Allow', allowed.join(',')]);
  return r;
}

/** Go's http.Error. */
function httpError(status: number, text: string): Reply {
  return {
    status,
    headers: [
      ['Content-Type', TEXT_TYPE],
      ['X-Content-Type-Options', 'nosniff'],
    ],
    body: `${text}\n`,
  };
}

/** httptypes.HTTPError: `{"message": ...}`, no trailing newline. */
function messageReply(status: number, message: string): Reply {
  return { status, headers: [JSON_TYPE], body: goJSON({ message }) };
}

function internalServerError(): Reply {
  return messageReply(500, 'Internal Server Error');
}

/** JSON from json.Marshal (no newline) or, with `encoder`, json.NewEncoder(w).Encode. */
function jsonReply(status: number, value: unknown, encoder = false): Reply {
  return { status, headers: [JSON_TYPE], body: goJSON(value) + (encoder ? '\n' : '') };
}

/** v2error's WriteTo, or writeKeyError's errorCode 300 for anything that is not a V2Error. */
function keyError(err: unknown, clusterId: string): Reply {
  let e: V2Error;
  if (err instanceof V2Error) e = err;
  else if (err instanceof RaftUnavailable) e = new V2Error(300, err.message || 'etcdserver: request timed out', 0);
  else e = new V2Error(300, err instanceof Error ? err.message : String(err), 0);
  const headers: HeaderList = [JSON_TYPE, ['X-Etcd-Index', String(e.index)]];
  if (clusterId !== '') headers.push(['X-Etcd-Cluster-Id', clusterId]);
  return { status: e.httpStatus, headers, body: `${goJSON(e)}\n` };
}

/** ServeMux's redirect to the cleaned path (http.Redirect with 301). */
function redirect(method: string, cleanPath: string, rawQuery: string): Reply {
  const location = escapedPath(cleanPath) + (rawQuery === '' ? '' : `?${hexEscapeNonASCII(rawQuery)}`);
  const headers: HeaderList = [['Location', location]];
  if (method === 'GET' || method === 'HEAD') headers.push(['Content-Type', 'text/html; charset=utf-8']);
  if (method === 'GET') return { status: 301, headers, body: `<a href="${htmlEscape(location)}">Moved Permanently</a>.\n\n` };
  return { status: 301, headers, noLength: method === 'HEAD' };
}

function memberJSON(m: MemberInfo): MemberInfo {
  return { id: m.id, name: m.name, peerURLs: [...m.peerURLs], clientURLs: [...m.clientURLs] };
}

function send(req: IncomingMessage, res: ServerResponse, r: Reply): void {
  if (res.headersSent || res.destroyed) return;
  const body = r.body ?? '';
  const tail: HeaderList = [];
  if (!r.noLength) tail.push(['Content-Length', String(Buffer.byteLength(body))]);
  if (r.sniffedType) tail.push(['Content-Type', r.sniffedType]);
  if (r.close) tail.push(['Connection', 'close']);
  writeHead(req, res, r.status, r.headers ?? [], ...tail);
  res.end(body);
}

/** Go's header order: CORS and the handler's headers sorted by name, then Date, then the rest. */
function writeHead(_req: IncomingMessage, res: ServerResponse, status: number, headers: HeaderList, ...tail: HeaderList): void {
  const sorted = [...CORS, ...headers].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  const flat: string[] = [];
  for (const [k, v] of [...sorted, ['Date', new Date().toUTCString()] as [string, string], ...tail]) flat.push(k, v);
  res.sendDate = false;
  res.writeHead(status, flat);
}

// ---------------------------------------------------------------------------------------------
// Request bodies


// ---------------------------------------------------------------------------------------------
// Go's URL handling (net/url, net/http)

/** Splits a request target into its raw path and query; absolute-form targets lose their origin. */
function splitTarget(url: string): { rawPath: string; rawQuery: string } | null {
  const abs = /^[a-zA-Z][a-zA-Z0-9+.-]*:\/\/[^/?]*/.exec(url);
  if (abs) url = url.slice(abs[0].length);
  const q = url.indexOf('?');
  const rawPath = q === -1 ? url : url.slice(0, q);
  const rawQuery = q === -1 ? '' : url.slice(q + 1);
  return { rawPath: rawPath === '' ? '/' : rawPath, rawQuery };
}

function isHex(c: number): boolean {
  return (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x46) || (c >= 0x61 && c <= 0x66);
}

/** net/http's cleanPath: path.Clean, keeping a trailing slash. */
function goCleanPath(p: string): string {
  if (p === '') return '/';
  if (p[0] !== '/') p = `/${p}`;
  const out: string[] = [];
  for (const seg of p.split('/')) {
    if (seg === '' || seg === '.') continue;
    if (seg === '..') out.pop();
    else out.push(seg);
  }
  let np = `/${out.join('/')}`;
  if (p.endsWith('/') && np !== '/') np += '/';
  return np;
}

/** http's hexEscapeNonASCII over a latin1 (byte) string. */
function hexEscapeNonASCII(s: string): string {
  let out = '';
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    out += c >= 0x80 ? `%${c.toString(16).toUpperCase()}` : s[i];
  }
  return out;
}

function htmlEscape(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&#34;', "'": '&#39;' })[c]!);
}

/** A uint64 written in hex (any number of leading zeros, as Go's ParseUint allows), or null. */
function parseHexId(s: string): bigint | null {
  if (!/^[0-9a-fA-F]+$/.test(s)) return null;
  const v = BigInt(`0x${s}`);
  return v < 1n << 64n ? v : null;
}

function trimPrefix(p: string, prefix: string): string {
  let s = p.startsWith(prefix) ? p.slice(prefix.length) : p;
  if (s.startsWith('/')) s = s.slice(1);
  return s;
}

// ---------------------------------------------------------------------------------------------
// Go's JSON

/** encoding/json's output: HTML-sensitive characters and U+2028/9 escaped; \b and \f as \u00XX. */
export function goJSON(value: unknown): string {
  return JSON.stringify(value).replace(/\\[\\"bf]|[<>&\u2028\u2029]/g, (m) => {
    switch (m) {
      case '\\b':
        return '\\u0008';
      case '\\f':
        return '\\u000c';
      case '\\\\':
      case '\\"':
        return m;
      default:
        return `\\u${m.charCodeAt(0).toString(16).padStart(4, '0')}`;
    }
  });
}

/** encoding/json's quoteChar for syntax errors. */
function quoteChar(c: string): string {
  if (c === "'") return "'\\''";
  if (c === '"') return `'"'`;
  const q = quote(c);
  return `'${q.slice(1, -1)}'`;
}

class JsonSyntax extends Error {}

/** encoding/json's checkValid: the first syntax error in Go's words, or null. */
export function goJSONSyntaxError(s: string): string | null {
  let i = 0;
  const eof = () => new JsonSyntax('unexpected end of JSON input');
  const bad = (context: string) => new JsonSyntax(`invalid character ${quoteChar(s[i])} ${context}`);
  const space = () => {
    while (i < s.length && ' \t\r\n'.includes(s[i])) i++;
  };
  const digits = () => {
    while (i < s.length && s[i] >= '0' && s[i] <= '9') i++;
  };
  const str = () => {
    i++; // opening quote
    for (;;) {
      if (i >= s.length) throw eof();
      const c = s[i];
      if (c === '"') return void i++;
      if (c === '\\') {
        i++;
        if (i >= s.length) throw eof();
        if ('bfnrt\\/"'.includes(s[i])) i++;
        else if (s[i] === 'u') {
          i++;
          for (let k = 0; k < 4; k++, i++) {
            if (i >= s.length) throw eof();
            if (!isHex(s.charCodeAt(i))) throw bad('in \\u hexadecimal character escape');
          }
        } else throw bad('in string escape code');
      } else if (c.charCodeAt(0) < 0x20) throw bad('in string literal');
      else i++;
    }
  };
  const num = () => {
    if (s[i] === '-') {
      i++;
      if (i >= s.length) throw eof();
      if (!(s[i] >= '0' && s[i] <= '9')) throw bad('in numeric literal');
    }
    if (s[i] === '0') i++;
    else digits();
    if (s[i] === '.') {
      i++;
      if (i >= s.length) throw eof();
      if (!(s[i] >= '0' && s[i] <= '9')) throw bad('after decimal point in numeric literal');
      digits();
    }
    if (s[i] === 'e' || s[i] === 'E') {
      i++;
      if (s[i] === '+' || s[i] === '-') i++;
      if (i >= s.length) throw eof();
      if (!(s[i] >= '0' && s[i] <= '9')) throw bad('in exponent of numeric literal');
      digits();
    }
  };
  const literal = (word: string) => {
    for (let k = 0; k < word.length; k++, i++) {
      if (i >= s.length) throw eof();
      if (s[i] !== word[k]) throw bad(`in literal ${word} (expecting ${quoteChar(word[k])})`);
    }
  };
  const value = (): void => {
    space();
    if (i >= s.length) throw eof();
    const c = s[i];
    if (c === '{') {
      i++;
      space();
      if (i >= s.length) throw eof();
      if (s[i] === '}') return void i++;
      for (;;) {
        space();
        if (i >= s.length) throw eof();
        if (s[i] !== '"') throw bad('looking for beginning of object key string');
        str();
        space();
        if (i >= s.length) throw eof();
        if (s[i] !== ':') throw bad('after object key');
        i++;
        value();
        space();
        if (i >= s.length) throw eof();
        if (s[i] === '}') return void i++;
        if (s[i] !== ',') throw bad('after object key:value pair');
        i++;
      }
    }
    if (c === '[') {
      i++;
      space();
      if (i >= s.length) throw eof();
      if (s[i] === ']') return void i++;
      for (;;) {
        value();
        space();
        if (i >= s.length) throw eof();
        if (s[i] === ']') return void i++;
        if (s[i] !== ',') throw bad('after array element');
        i++;
      }
    }
    if (c === '"') return str();
    if (c === '-' || (c >= '0' && c <= '9')) return num();
    if (c === 't') return literal('true');
    if (c === 'f') return literal('false');
    if (c === 'n') return literal('null');
    throw bad('looking for beginning of value');
  };
  try {
    value();
    space();
    if (i < s.length) throw bad('after top-level value');
    return null;
  } catch (err) {
    if (err instanceof JsonSyntax) return err.message;
    throw err;
  }
}

const REQUEST_TYPE = 'struct { PeerURLs []string "json:\\"peerURLs\\"" }';

function jsonKind(v: unknown): string {
  if (Array.isArray(v)) return 'array';
  if (typeof v === 'boolean') return 'bool';
  return typeof v; // string, number, object
}

/** `{"peerURLs": [...]}` decoded as etcd does (json.Unmarshal, then types.NewURLs); error text on failure. */
export function decodeMemberRequest(body: string): string[] | string {
  const syntax = goJSONSyntaxError(body);
  if (syntax !== null) return syntax;
  const v: unknown = JSON.parse(body);
  let urls: string[] | null = null;
  if (v !== null) {
    if (typeof v !== 'object' || Array.isArray(v)) return `json: cannot unmarshal ${jsonKind(v)} into Go value of type ${REQUEST_TYPE}`;
    let typeError: string | null = null;
    for (const [k, val] of Object.entries(v as Record<string, unknown>)) {
      if (k.toLowerCase() !== 'peerurls') continue; // Go matches field names case-insensitively
      if (val === null) {
        urls = null;
      } else if (!Array.isArray(val)) {
        typeError ??= `json: cannot unmarshal ${jsonKind(val)} into Go struct field .peerURLs of type []string`;
      } else {
        urls = [];
        for (const el of val as unknown[]) {
          if (el === null) urls.push('');
          else if (typeof el === 'string') urls.push(el);
          else {
            typeError ??= `json: cannot unmarshal ${jsonKind(el)} into Go struct field .peerURLs of type string`;
            urls.push('');
          }
        }
      }
    }
    if (typeError !== null) return typeError;
  }
  try {
    return newURLs(urls ?? []);
  } catch (e) {
    return (e as Error).message;
  }
}

// ---------------------------------------------------------------------------------------------
// Serving

/**
 * Binds every listen URL (http://host:port; port 0 picks a free one) with one handler and
 * returns the bound URLs. `close` stops listening and drops open connections (watches too).
 */
export async function startClientServer(
  listenURLs: string[],
  handler: ClientHandler,
): Promise<{ urls: string[]; close(): Promise<void> }> {
  const servers: http.Server[] = [];
  const urls: string[] = [];
  let closing: Promise<void> | undefined;
  const close = (): Promise<void> =>
    (closing ??= Promise.all(
      servers.map(
        (s) =>
          new Promise<void>((resolve) => {
            s.close(() => resolve());
            s.closeAllConnections();
          }),
      ),
    ).then(() => undefined));
  try {
    for (const raw of listenURLs) {
      const m = /^(https?):\/\/(\[[^\]]+\]|[^:/[\]]*):(\d+)\/?$/.exec(raw.trim());
      if (!m) throw new Error(`invalid client listen URL ${JSON.stringify(raw)}: want http://host:port`);
      if (m[1] === 'https') throw new Error(`client listen URL ${raw}: TLS is not supported`);
      const host = m[2].replace(/^\[|\]$/g, '');
      const port = Number(m[3]);
      if (port > 65535) throw new Error(`client listen URL ${raw}: port out of range`);
      const server = http.createServer(inOrder(handler));
      servers.push(server);
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(port, host === '' ? undefined : host, () => {
          server.off('error', reject);
          resolve();
        });
      });
      server.on('error', () => {}); // after start-up there is no one to tell; never crash
      const bound = (server.address() as AddressInfo).port;
      urls.push(`http://${m[2]}:${bound}`);
    }
  } catch (err) {
    await close();
    throw err;
  }
  return { urls, close };
}

/**
 * One request at a time per connection, as Go's net/http serves them: a request pipelined
 * behind another is handled only once the answer before it is complete, so it sees that
 * request's effects (a GET after a PUT reads the PUT). Node would otherwise start every
 * pipelined handler at once and only queue the answers.
 */
function inOrder(handler: ClientHandler): ClientHandler {
  const queues = new WeakMap<Socket, { busy: boolean; waiting: [IncomingMessage, ServerResponse][] }>();
  const start = (q: { busy: boolean; waiting: [IncomingMessage, ServerResponse][] }, req: IncomingMessage, res: ServerResponse) => {
    q.busy = true;
    let done = false;
    const next = () => {
      if (done) return;
      done = true;
      q.busy = false;
      const n = q.waiting.shift();
      if (n) start(q, n[0], n[1]);
    };
    res.once('finish', next);
    res.once('close', next);
    handler(req, res);
  };
  return (req, res) => {
    const sock = req.socket;
    let q = queues.get(sock);
    if (!q) {
      const fresh = { busy: false, waiting: [] as [IncomingMessage, ServerResponse][] };
      queues.set(sock, fresh);
      sock.once('close', () => (fresh.waiting.length = 0));
      q = fresh;
    }
    if (q.busy) q.waiting.push([req, res]);
    else start(q, req, res);
  };
}
