// The KV console's v3 requests sent to one client URL over etcd's /v3 JSON gateway: the very
// call the window prints as `curl` (src-shared/kv3.ts makes it), answered as curl shows it.
// Watches stay open and report each line as it arrives, until unwatched or the stream ends.
// The supervisor sends through it to its own nodes, the attached source to any etcd 3.4+.
// Over https with the cluster's TLS files, and logged in (a v3 token per node) once `login` is
// given: the cluster's auth then sees the console as that user.

import { gatewayCall, type GatewayCall, type Kv3Request } from '../../src-shared/kv3.js';
import type { KvResult, WatchLine } from '../../src-shared/command-results.js';
import { plainFetch, type ClientFetch } from './client-fetch.js';
import { CredentialsError, Login, type ClusterAccess } from './credentials.js';
import { describeNetError, forEachLine, JSON_TYPE, parseJSON } from './http.js';

type WatchRequest = Extract<Kv3Request, { op: 'watch' }>;

/** The first JSON value of an answer (a stream's first line), or the text when it is not JSON. */
function bodyOf(text: string): unknown {
  const whole = parseJSON(text);
  if (whole !== undefined) return whole;
  const [firstLine = ''] = text.split('\n', 1);
  const first = parseJSON(firstLine);
  return first ?? text;
}

export class V3Console {
  private readonly watches = new Map<string, AbortController>();
  private fetch: ClientFetch = plainFetch;
  private loggedIn: Login | undefined;

  /** `emit`: a watch's lines and its end (the window's `watch` events). */
  constructor(private readonly emit: (line: WatchLine) => void) {}

  /** The cluster's TLS (and the login it came with, if any); undefined: plain http, logged out. */
  setAccess(access: ClusterAccess | undefined): void {
    this.fetch = access?.fetch ?? plainFetch;
    this.loggedIn = access?.login;
  }

  /** The user the console speaks as, if any. */
  get user(): string | undefined {
    return this.loggedIn?.user;
  }

  /**
   * Logs the console in as `user` (checked now, at `url`: etcd's Authenticate), or out when
   * `user` is undefined. A refusal keeps the previous login and throws etcd's words.
   */
  async login(url: string | undefined, user: string | undefined, password: string, timeoutMs: number): Promise<void> {
    if (user === undefined) {
      this.loggedIn = undefined;
      return;
    }
    const next = new Login(user, password);
    if (url !== undefined) {
      try {
        await next.token(this.fetch, url, 'v3', timeoutMs);
      } catch (err) {
        if (err instanceof CredentialsError) throw err;
        throw new Error(`login: ${describeNetError(err, url, timeoutMs)}`, { cause: err });
      }
    }
    this.loggedIn = next;
  }

  private async post(url: string, call: GatewayCall, signal: AbortSignal, timeoutMs: number): Promise<Response> {
    for (let attempt = 0; ; attempt++) {
      let res: Response;
      try {
        const token = this.loggedIn ? await this.loggedIn.token(this.fetch, url, 'v3', timeoutMs) : '';
        const headers: Record<string, string> = {
          'Content-Type': JSON_TYPE,
          ...(token ? { Authorization: token } : {}),
        };
        res = await this.fetch(url + call.path, { method: 'POST', body: JSON.stringify(call.body), headers, signal });
      } catch (err) {
        if (err instanceof CredentialsError) throw err;
        throw new Error(`${call.path}: ${describeNetError(err, url, timeoutMs)}`, { cause: err });
      }
      // An expired simple token (or a restarted member's): log in again, once.
      if (res.status === 401 && attempt === 0 && this.loggedIn) {
        const text = await res
          .clone()
          .text()
          .catch(() => '');
        if (/invalid auth token/.test(text)) {
          this.loggedIn.forget(url);
          continue;
        }
      }
      return res;
    }
  }

  /** Sends `r` to `node`'s client URL `url`; `timeoutMs` bounds the answer (a watch's first line). */
  async execute(node: string, url: string, r: Kv3Request, timeoutMs: number): Promise<KvResult | undefined> {
    if (r.op === 'unwatch') {
      const w = this.watches.get(r.watch);
      if (!w) throw new Error(`kv3: no watch ${r.watch} is open`);
      this.watches.delete(r.watch);
      w.abort();
      return undefined;
    }
    if (r.op === 'watch') return this.watch(node, url, r, timeoutMs);
    const call = gatewayCall(r)!;
    const signal = AbortSignal.timeout(timeoutMs);
    const res = await this.post(url, call, signal, timeoutMs);
    // A keep-alive is a stream too: etcd answers its one request and ends it.
    const text = await res.text().catch((err: unknown) => {
      throw new Error(`${call.path}: ${describeNetError(err, url, timeoutMs)}`);
    });
    return { status: res.status, body: bodyOf(text) };
  }

  /** Ends every watch (the cluster is replaced, or the app stops). */
  closeAll(): void {
    for (const w of this.watches.values()) w.abort();
    this.watches.clear();
  }

  private async watch(node: string, url: string, r: WatchRequest, timeoutMs: number): Promise<KvResult> {
    if (this.watches.has(r.watch)) throw new Error(`kv3: a watch ${r.watch} is already open`);
    const ctrl = new AbortController();
    this.watches.set(r.watch, ctrl);
    const call = gatewayCall(r)!;
    // The stream has no deadline; its first line (created, or why not) must come in time.
    const timer = setTimeout(() => ctrl.abort(new DOMException('no answer', 'TimeoutError')), timeoutMs);
    let res: Response;
    try {
      res = await this.post(url, call, ctrl.signal, timeoutMs);
    } catch (err) {
      clearTimeout(timer);
      this.watches.delete(r.watch);
      throw err;
    }
    if (res.status !== 200) {
      clearTimeout(timer);
      this.watches.delete(r.watch);
      return { status: res.status, body: bodyOf(await res.text().catch(() => '')) };
    }
    return new Promise<KvResult>((resolve, reject) => {
      let first = true;
      const ended = (why: string) => {
        clearTimeout(timer);
        if (first) reject(new Error(`watch: ${why}`));
        // Unwatched (or all closed): the window knows; anything else is news.
        else if (this.watches.get(r.watch) === ctrl) this.emit({ watch: r.watch, node, ended: why });
        if (this.watches.get(r.watch) === ctrl) this.watches.delete(r.watch);
      };
      forEachLine(res.body!, (line) => {
        const body = bodyOf(line) as
          { result?: { canceled?: boolean; cancel_reason?: string; compact_revision?: string } } | string;
        if (first) {
          first = false;
          clearTimeout(timer);
          resolve({ status: 200, body });
          return;
        }
        if (typeof body === 'object' && body.result) this.emit({ watch: r.watch, node, result: body.result });
        else this.emit({ watch: r.watch, node, ended: `the node answered ${line.slice(0, 200)}` });
      }).then(
        () => ended('the node ended the watch stream'),
        (err: unknown) =>
          ended(
            ctrl.signal.aborted &&
              !(ctrl.signal.reason instanceof DOMException && ctrl.signal.reason.name === 'TimeoutError')
              ? 'unwatched'
              : `the watch stream broke: ${describeNetError(err, url, timeoutMs)}`,
          ),
      );
    });
  }
}
