// The HTTP plumbing the attach clients share: requests with deadlines that stop() can abort,
// network failures and etcd's error answers turned into words fit for the window.

import type { AttachApi } from '../../src-shared/attach.js';
import { plainFetch, type ClientFetch } from './client-fetch.js';
import { CredentialsError, type ClusterAccess } from './credentials.js';

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

/** No answer at all (refused, reset, timed out...): the endpoint is unreachable. */
export class NetError extends Error {}

export function tlsPortMessage(url: string): string {
  return `${url}: this port speaks TLS (the server said "Client sent an HTTP request to an HTTPS server"); attach to ${url.replace(/^http:/, 'https:')} (with the cluster's CA file)`;
}

export function authMessage(etcdSaid: string, user?: string): string {
  if (user !== undefined)
    return `the cluster refused user ${JSON.stringify(user)} (etcd: "${etcdSaid}"); keys, watches and membership changes are unavailable (status and members are still shown)`;
  return `the cluster requires authentication (etcd: "${etcdSaid}"); attach with a user and password to see keys and watches (status and members are still shown)`;
}

/**
 * Client URLs from the command line (comma-separated, or several arguments), normalized to
 * their origin. https URLs are kept (they are shown refused, with the reason); anything that is
 * not an http(s) origin is an AttachError('url').
 */
export function parseEndpoints(input: string | string[]): string[] {
  const parts = (Array.isArray(input) ? input : [input])
    .flatMap((s) => s.split(','))
    .map((s) => s.trim())
    .filter(Boolean);
  if (parts.length === 0) throw new AttachError('url', 'no client URL given (e.g. http://127.0.0.1:2379)');
  const out: string[] = [];
  for (const p of parts) {
    let u: URL;
    try {
      u = new URL(p);
    } catch {
      throw new AttachError('url', `${p}: not a URL (expected a client URL such as http://127.0.0.1:2379)`);
    }
    if (u.protocol !== 'http:' && u.protocol !== 'https:')
      throw new AttachError('url', `${p}: only http:// client URLs can be attached to`);
    if ((u.pathname !== '/' && u.pathname !== '') || u.search || u.hash || u.username) {
      throw new AttachError('url', `${p}: a client URL is scheme://host:port, without a path, query or credentials`);
    }
    if (!out.includes(u.origin)) out.push(u.origin);
  }
  return out;
}

export interface Answer {
  status: number;
  headers: Headers;
  text: string;
}

export interface RequestOptions {
  method?: string;
  body?: string;
  type?: string;
  timeoutMs?: number;
  signal?: AbortSignal;
  /** Try once more on a kept-alive socket the server closed; by default for GET and HEAD only. */
  retry?: boolean;
}

export const FORM = 'application/x-www-form-urlencoded';
export const JSON_TYPE = 'application/json';

/** The v3 calls etcd 3.4 serves without a login. */
const OPEN_TO_ALL = /\/(maintenance\/status|cluster\/member\/list)$/;

/** Requests to one cluster, all ended by `root` (the observer's stop). */
export class Http {
  constructor(
    readonly root: AbortSignal,
    /** A poll's deadline, ms. */
    readonly timeoutMs: number,
    /** An operation's deadline (put, member add...), ms: etcd holds a write while it has no leader. */
    readonly opTimeoutMs: number,
    /** TLS and login (credentials.ts); none: plain fetch, no login. */
    readonly access?: ClusterAccess,
  ) {}

  /** fetch with the cluster's TLS files (client-fetch.ts). */
  get fetch(): ClientFetch {
    return this.access?.fetch ?? plainFetch;
  }

  /**
   * What a request to `path` carries to log in: v2's Basic auth, or the v3 token this user got
   * from `url` (the gateway reads `Authorization`). Authenticate itself carries nothing.
   */
  async authHeaders(url: string, path: string): Promise<Record<string, string>> {
    const login = this.access?.login;
    if (!login) return {};
    if (path.startsWith('/v2/')) return { Authorization: login.basic() };
    const api = /^\/(v3(?:beta|alpha)?)\//.exec(path)?.[1];
    if (!api || path.endsWith('/auth/authenticate')) return {};
    let token: string;
    try {
      token = await login.token(this.fetch, url, api, this.opTimeoutMs);
    } catch (err) {
      // etcd 3.4 answers status and the member list to anyone: a refused login must not hide them.
      if (err instanceof CredentialsError && OPEN_TO_ALL.test(path)) return {};
      if (err instanceof CredentialsError) throw new AttachError('auth', err.message, 401);
      throw new NetError(describeNetError(err, url, this.opTimeoutMs));
    }
    return token === '' ? {} : { Authorization: token };
  }

  async request(url: string, path: string, o: RequestOptions = {}): Promise<Answer> {
    const timeoutMs = o.timeoutMs ?? this.timeoutMs;
    for (let attempt = 0; ; attempt++) {
      const link = linked(timeoutMs, this.root, o.signal);
      try {
        const headers: Record<string, string> = {
          ...(await this.authHeaders(url, path)),
          ...(o.type ? { 'Content-Type': o.type } : {}),
        };
        const res = await this.fetch(url + path, {
          method: o.method ?? 'GET',
          body: o.body,
          headers,
          signal: link.signal,
        });
        const text = o.method === 'HEAD' ? '' : await res.text();
        if (res.status === 400 && /Client sent an HTTP request to an HTTPS server/.test(text))
          throw new AttachError('tls', tlsPortMessage(url));
        // A simple token expires (5 minutes unused) and dies with a member's restart: log in again, once.
        if (res.status === 401 && attempt === 0 && /invalid auth token/.test(text) && this.access?.login) {
          this.access.login.forget(url);
          continue;
        }
        return { status: res.status, headers: res.headers, text };
      } catch (err) {
        if (err instanceof AttachError || err instanceof NetError) throw err;
        // A kept-alive socket the server closed between two polls: one fresh try.
        const code = errorCode(err);
        if (
          attempt === 0 &&
          (o.retry ?? (o.method === undefined || o.method === 'HEAD')) &&
          (code === 'ECONNRESET' || code === 'UND_ERR_SOCKET') &&
          !this.root.aborted
        )
          continue;
        throw new NetError(describeNetError(err, url, timeoutMs));
      } finally {
        link.done();
      }
    }
  }

  /** A unary v3 gateway call; etcd's error answers become AttachErrors. */
  async v3(
    url: string,
    api: AttachApi,
    method: string,
    body: object,
    what: string,
    timeoutMs = this.opTimeoutMs,
    retry = false,
    // eslint-disable-next-line @typescript-eslint/no-explicit-any -- a remote answer's JSON, read field by field defensively (num, hexId, Array.isArray)
  ): Promise<any> {
    const a = await this.request(url, `/${api}/${method}`, {
      method: 'POST',
      body: JSON.stringify(body),
      type: JSON_TYPE,
      timeoutMs,
      retry,
    });
    if (a.status !== 200) throw answerError(a, what, this.access?.login?.user);
    const j = parseJSON(a.text);
    if (j === undefined) throw new AttachError('etcd', `${what}: not a JSON answer`, a.status);
    return j;
  }
}

export function describeNetError(err: unknown, url: string, timeoutMs: number): string {
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
      if (code !== undefined && TLS_WORDS[code]) return TLS_WORDS[code];
      // fetch refuses some ports outright (its "bad port" list: 1, 7, 9, 21, 22, 25...).
      if (e?.cause?.message === 'bad port')
        return `port ${new URL(url).port} is one fetch refuses to connect to ("bad port")`;
      return e?.cause?.message ?? e?.message ?? String(err);
  }
}

/** TLS failures (OpenSSL's and Node's codes) in words that say what to give. */
const TLS_WORDS: Record<string, string> = {
  ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED:
    'TLS: the server requires a client certificate (etcd --client-cert-auth): give a client certificate and its key',
  // Go answers "bad certificate" both to no certificate and to one it does not trust.
  ERR_SSL_SSLV3_ALERT_BAD_CERTIFICATE:
    'TLS: the server requires a client certificate signed by a CA it trusts (it said "bad certificate"): give the client certificate and its key',
  ERR_SSL_TLSV1_ALERT_UNKNOWN_CA: "TLS: the server does not trust the client certificate's CA",
  ERR_SSL_SSLV3_ALERT_HANDSHAKE_FAILURE: 'TLS: handshake failure (the server may require a client certificate)',
  UNABLE_TO_VERIFY_LEAF_SIGNATURE:
    "TLS: the server's certificate is signed by an unknown authority: give the cluster's CA file",
  UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
    "TLS: the server's certificate is signed by an unknown authority: give the cluster's CA file",
  SELF_SIGNED_CERT_IN_CHAIN:
    "TLS: the server's certificate is signed by an unknown authority: give the cluster's CA file",
  DEPTH_ZERO_SELF_SIGNED_CERT: "TLS: the server's certificate is self-signed: give it as the CA file",
  CERT_HAS_EXPIRED: "TLS: the server's certificate has expired",
  ERR_TLS_CERT_ALTNAME_INVALID: "TLS: the server's certificate is not valid for this host name",
  ERR_SSL_WRONG_VERSION_NUMBER: 'TLS: this port does not speak TLS (use http://)',
  ERR_SSL_PACKET_LENGTH_TOO_LONG: 'TLS: this port does not speak TLS (use http://)',
};

function errorCode(err: unknown): string | undefined {
  return (err as { cause?: { code?: string } })?.cause?.code;
}

const AUTH_HINT =
  /user name is empty|invalid auth token|auth(entication)? (is )?(not )?enabled|permission denied|insufficient credentials|unauthenticated|invalid username or password/i;

/** An error answer from etcd (v3 gateway or v2) as an AttachError, auth recognized. */
export function answerError(a: Answer, what: string, user?: string): AttachError {
  const j = parseJSON(a.text);
  const said: string =
    (j && (typeof j.message === 'string' ? j.message : typeof j.error === 'string' ? j.error : j.error?.message)) ||
    a.text.trim().slice(0, 200) ||
    `HTTP ${a.status}`;
  const grpc = j?.code ?? j?.error?.grpc_code;
  if (a.status === 401 || grpc === 16 || grpc === 7 || AUTH_HINT.test(said))
    return new AttachError('auth', authMessage(said, user), a.status);
  const cause = j && typeof j.cause === 'string' ? ` (${j.cause})` : '';
  return new AttachError('etcd', `${what}: ${said}${cause}`, a.status);
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- a remote answer's JSON, read field by field defensively (num, hexId, Array.isArray)
export function parseJSON(text: string): any {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

export function num(v: unknown): number | undefined {
  if (v === undefined || v === null || v === '') return undefined;
  const n = Number(v);
  return Number.isFinite(n) ? n : undefined;
}

/**
 * A signal aborted by a deadline or by any parent, and `done()` to unhook it from them.
 * (AbortSignal.any would do, but Node keeps every signal combined with a long-lived parent,
 * nodejs/node#55351, and an observer makes several requests a second for hours.)
 */
export function linked(
  timeoutMs: number | undefined,
  ...parents: (AbortSignal | undefined)[]
): { signal: AbortSignal; done(): void } {
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
  const t =
    timeoutMs === undefined
      ? undefined
      : setTimeout(() => ctrl.abort(new DOMException('deadline', 'TimeoutError')), timeoutMs);
  return {
    signal: ctrl.signal,
    done() {
      clearTimeout(t);
      for (const [p, f] of hooks) p.removeEventListener('abort', f);
    },
  };
}

/**
 * Calls `onLine` with each non-blank line of a streamed answer (the v3 gateway's watch: one JSON
 * object per line) as it arrives; resolves when the stream ends, rejects when it breaks or
 * `onLine` throws. The reader is released either way.
 */
export async function forEachLine(body: ReadableStream<Uint8Array>, onLine: (line: string) => void): Promise<void> {
  const reader = body.getReader();
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
        if (line !== '') onLine(line);
      }
    }
  } finally {
    reader.cancel().catch(() => {});
  }
}
