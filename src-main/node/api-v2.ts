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

// - v2 auth (./api-v2/auth.ts): /v2/auth/*, a key permission check on every keys request and
//   the root role for member changes, once auth is enabled.
//
// The members API, the replies and the listeners live in ./api-v2/; Go's own behaviour in ./go/.

import type { IncomingMessage, ServerResponse } from 'node:http';
import { readBody } from '../net/read-body.js';
import { RaftUnavailable, type ClientBackend } from './client-backend.js';
import { cleanPath, splitTarget } from './go/http.js';
import { goJSON } from './go/json.js';
import { compareStrings } from './go/strings.js';
import { parseQuery, unescapeLatin1 } from './go/url.js';
import { MEMBERS_PREFIX, membersReply } from './api-v2/members.js';
import {
  allowMethod,
  httpError,
  internalServerError,
  JSON_TYPE,
  jsonReply,
  keyError,
  messageReply,
  redirect,
  send,
  TEXT_TYPE,
  writeHead,
  type Reply,
  type Req,
} from './api-v2/replies.js';
import type { ClientHandler } from './api-v2/server.js';
import { isRecursiveRequest, parseKeysRequest } from './api-v2/keys-request.js';
import { isAuthPath, keyNoAuthReply, noAuthReply, panicReply, V2AuthApi } from './api-v2/auth.js';
import type { LogFn } from './node-settings.js';
import { isCreated, type V2Event, type V2WatchHandle, type V2WatchRequest } from './store-v2/types.js';
import { AuthStore } from './store-v2/auth-store.js';
import { GoPanic } from './store-v2/auth-model.js';
import { V2Error } from './store-v2/errors.js';

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
  /** The node's etcd-format log (auth lines: created users, refused passwords; never a password). */
  log?: LogFn;
  /** etcd's --client-cert-auth: v2 auth may take the user from the client certificate's CN. */
  clientCertAuth?: boolean;
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

// etcd's --max-request-bytes (1.5 MiB) guards gRPC and the v3 API only; a v2 PUT is limited
// by Go's r.ParseForm, which reads at most 10 MiB of form body (net/http maxFormSize): real
// etcd 3.4 takes a body of exactly 10 MiB and refuses one byte more (test/node/limits.test.ts).
const DEFAULT_MAX_VALUE_BYTES = 10 * 1024 * 1024;
/** etcd's /health asks for a quorum read with a 1 s deadline; this only guards a hung backend. */
const HEALTH_GUARD_MS = 5000;

const KEYS_PREFIX = '/v2/keys';

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
  private readonly auth: V2AuthApi;

  constructor(opts: ClientApiOptions) {
    this.whenReady = opts.whenReady;
    this.readyTimeoutMs = opts.readyTimeoutMs ?? 6000;
    this.backend = opts.backend;
    this.clock = opts.clock;
    this.maxValueBytes = opts.maxValueBytes ?? DEFAULT_MAX_VALUE_BYTES;
    this.version = opts.version ?? { etcdserver: '3.4.0', etcdcluster: '3.4.0' };
    this.onRequest = opts.onRequest;
    const clusterId = () => this.backend.status().clusterId;
    this.auth = new V2AuthApi(new AuthStore(this.backend, opts.log), clusterId, opts.log, opts.clientCertAuth);
  }

  serve(req: IncomingMessage, res: ServerResponse): void {
    // An aborted upload emits 'error'; unhandled it would take the process down.
    req.on('error', () => {});
    res.on('error', () => {});
    if (this.onRequest) {
      const t0 = performance.now();
      const tell = this.onRequest;
      res.once('finish', () =>
        tell({
          method: req.method ?? 'GET',
          path: req.url ?? '/',
          status: res.statusCode,
          ms: Math.round((performance.now() - t0) * 100) / 100,
        }),
      );
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
          return send(raw, res, {
            ...keyError(new RaftUnavailable('etcdserver: request timed out'), cid),
            close: true,
          });
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

    const clean = cleanPath(path);
    if (clean !== path) return send(raw, res, redirect(method, clean, target.rawQuery));

    const req: Req = { method, path, rawQuery: target.rawQuery, raw };
    let reply: Reply | undefined;
    if (path === KEYS_PREFIX || path.startsWith(`${KEYS_PREFIX}/`)) {
      reply = await this.keys(req, res);
    } else if (path === MEMBERS_PREFIX || path.startsWith(`${MEMBERS_PREFIX}/`)) {
      reply = await membersReply(req, this.backend, (r) => this.mayChangeMembers(r));
    } else if (isAuthPath(path)) {
      reply = await this.auth.reply(req);
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
          reply =
            allowMethod(method, ['GET']) ??
            jsonReply(200, { etcdserver: this.version.etcdserver, etcdcluster: this.version.etcdcluster });
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
      // etcd checks the key as the URL spells it ("" for /v2/keys itself), once the request parsed.
      const access = this.auth.hasKeyPrefixAccess(
        req,
        req.path.slice(KEYS_PREFIX.length),
        isRecursiveRequest(form.params),
      );
      if (access !== true && !(await access)) return keyNoAuthReply(clusterId);
      if ('watch' in parsed) return this.watch(req, res, parsed.watch, clusterId);
      if ('read' in parsed) {
        const event = await this.backend.read(parsed.read);
        return this.keyEvent(event, this.backend.storeIndex(), clusterId, false);
      }
      const { now: _now, ...cmd } = parsed;
      const event = await this.backend.write(cmd);
      return this.keyEvent(
        event,
        event.node.modifiedIndex ?? this.backend.storeIndex(),
        clusterId,
        !!cmd.noValueOnSuccess,
      );
    } catch (err) {
      if (err instanceof GoPanic) return panicReply();
      return keyError(err, clusterId);
    }
  }

  /** Member changes need the root role once auth is enabled (listing them does not). */
  private async mayChangeMembers(req: Req): Promise<Reply | undefined> {
    try {
      return (await this.auth.hasWriteRootAccess(req)) ? undefined : noAuthReply();
    } catch (err) {
      if (err instanceof GoPanic) return panicReply();
      throw err;
    }
  }

  /** etcd's writeKeyEvent: 201 for a creation; `noValueOnSuccess` drops the nodes of a write. */
  private keyEvent(event: V2Event, etcdIndex: number, clusterId: string, noValueOnSuccess: boolean): Reply {
    let out: V2Event | { action: string } = event;
    if (noValueOnSuccess && ['set', 'compareAndSwap', 'create', 'update'].includes(event.action))
      out = { action: event.action };
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
        handle = this.backend.watch(
          w.path,
          { recursive: w.recursive, waitIndex: (ev.node.modifiedIndex ?? this.backend.storeIndex()) + 1 },
          onEvent,
        );
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
      writeHead(
        req.raw,
        res,
        200,
        [
          JSON_TYPE,
          ['X-Etcd-Cluster-Id', clusterId],
          ['X-Etcd-Index', String(handle.startIndex)],
          ['X-Raft-Index', String(st.commit)],
          ['X-Raft-Term', String(st.term)],
        ],
        ['Transfer-Encoding', 'chunked'],
      );
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
  private async parseForm(
    req: Req,
  ): Promise<{ params: URLSearchParams; error: string | null; tooLarge: boolean; aborted: boolean }> {
    const params = new URLSearchParams();
    let error: string | null = null;
    if (req.method === 'POST' || req.method === 'PUT') {
      const ct = req.raw.headers['content-type'] ?? '';
      const [typeAndSubtype = ''] = ct.split(';');
      const mediaType = ct === '' ? 'application/octet-stream' : typeAndSubtype.trim().toLowerCase();
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
