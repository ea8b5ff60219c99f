// etcd 3.4's v2 proxy handler (proxy/httpproxy/reverse.go, proxy.go, wrapped in embed.WrapCORS):
// every client request is forwarded, body and all, to the first available endpoint; a request
// that cannot reach one (refused, reset, timed out before an answer) marks it failed and goes to
// the next. The answer is passed through as it comes, so a `?wait=true` watch or a streamed one
// reaches the client event by event. No endpoint: 503; none answered: 502, in etcd's words.

import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type { Director, Endpoint } from './director.js';
import { netError } from './remote-peers.js';

type Log = (level: 'I', pkg: string, msg: string) => void;

const PKG = 'proxy/httpproxy';
/** Hop-by-hop headers (Go's list, canonical form): never forwarded either way. */
const SINGLE_HOP = new Set([
  'Connection',
  'Keep-Alive',
  'Proxy-Authenticate',
  'Proxy-Authorization',
  'Te',
  'Trailers',
  'Transfer-Encoding',
  'Upgrade',
]);
/** embed.WrapCORS with etcd's default --cors "*": added before the member's own (so twice). */
const CORS: Array<[string, string]> = [
  ['Access-Control-Allow-Methods', 'POST, GET, OPTIONS, PUT, DELETE'],
  ['Access-Control-Allow-Origin', '*'],
  ['Access-Control-Allow-Headers', 'accept, content-type, authorization'],
];

export interface ReverseProxyOptions {
  director: Director;
  log: Log;
  /** --proxy-dial-timeout (etcd: 1000 ms). */
  dialTimeoutMs: number;
  /** --proxy-write-timeout (etcd: 5000 ms): sending the request to the member. */
  writeTimeoutMs: number;
  /** --proxy-read-timeout (etcd: 0, none; a watch may wait for ever). */
  readTimeoutMs: number;
}

export function proxyHandler(opts: ReverseProxyOptions): (req: IncomingMessage, res: ServerResponse) => void {
  return (req, res) => {
    void serve(opts, req, res).catch((err: unknown) => {
      // Whatever broke after the answer began: the client sees the connection end.
      opts.log('I', PKG, `error proxying request: ${err instanceof Error ? err.message : String(err)}`);
      res.destroy();
    });
  };
}

async function serve(opts: ReverseProxyOptions, req: IncomingMessage, res: ServerResponse): Promise<void> {
  if (req.method === 'OPTIONS') return reply(res, 200, [], undefined);
  if (pathOf(req.url ?? '/') === '/v2/config/local/proxy') return configHandler(opts.director, req, res);

  let body: Buffer;
  try {
    body = await readBody(req);
  } catch (err) {
    const msg = `failed to read request body: ${(err as Error).message}`;
    opts.log('I', PKG, msg);
    return httpError(res, 500, `httpproxy: ${msg}`);
  }
  const headers = forwardHeaders(req);

  const endpoints = opts.director.endpoints();
  if (endpoints.length === 0) {
    const msg = 'zero endpoints currently available';
    opts.log('I', PKG, msg);
    return httpError(res, 503, `httpproxy: ${msg}`);
  }

  // The client may give up while a member is being tried (or while a watch waits).
  const abort = new AbortController();
  const onClose = () => {
    if (res.writableFinished) return;
    opts.log('I', PKG, `client ${req.socket.remoteAddress}:${req.socket.remotePort} closed request prematurely`);
    abort.abort();
  };
  res.once('close', onClose);

  let upstream: IncomingMessage | undefined;
  for (const ep of endpoints) {
    try {
      upstream = await roundTrip(opts, ep, req, headers, body, abort.signal);
      break;
    } catch (err) {
      if (abort.signal.aborted) return;
      opts.log('I', PKG, `failed to direct request to ${ep.name}: ${netError(err, ep.url.href)}`);
      ep.failed();
    }
  }
  if (!upstream) {
    res.off('close', onClose);
    const msg = `unable to get response from ${endpoints.length} endpoint(s)`;
    opts.log('I', PKG, msg);
    return httpError(res, 502, `httpproxy: ${msg}`);
  }

  // The member's headers after WrapCORS's, hop-by-hop ones dropped; then its body as it comes.
  const out: Array<[string, string]> = [...CORS];
  for (const [name, value] of headerPairs(upstream.rawHeaders)) {
    const k = canonicalKey(name);
    if (!SINGLE_HOP.has(k)) out.push([k, value]);
  }
  res.sendDate = !out.some(([k]) => k === 'Date');
  res.writeHead(upstream.statusCode ?? 502, sortedFlat(out));
  res.flushHeaders();
  const from = upstream;
  await new Promise<void>((resolve) => {
    from.on('data', (chunk: Buffer) => res.write(chunk));
    from.once('end', () => {
      res.off('close', onClose);
      res.end(resolve);
    });
    from.once('error', () => (res.destroy(), resolve()));
    from.once('aborted', () => (res.destroy(), resolve()));
    res.once('close', () => resolve());
  });
}

/** One attempt: resolves with the member's answer (headers received), rejects if it could not be had. */
function roundTrip(
  opts: ReverseProxyOptions,
  ep: Endpoint,
  req: IncomingMessage,
  headers: Array<[string, string]>,
  body: Buffer,
  signal: AbortSignal,
): Promise<IncomingMessage> {
  return new Promise((resolve, reject) => {
    const flat: string[] = [];
    for (const [k, v] of headers) flat.push(k, v);
    const hasBody =
      body.length > 0 || req.headers['content-length'] !== undefined || req.headers['transfer-encoding'] !== undefined;
    if (hasBody) flat.push('Content-Length', String(body.length));
    const out = http.request({
      protocol: ep.url.protocol,
      hostname: ep.url.hostname,
      port: ep.url.port,
      method: req.method,
      path: req.url,
      headers: flat,
      signal,
      agent: keepAlive,
      setHost: false,
    });
    const dial = setTimeout(
      () => out.destroy(Object.assign(new Error(`dial tcp ${ep.url.host}: i/o timeout`), { code: 'ETIMEDOUT' })),
      opts.dialTimeoutMs,
    );
    out.once('socket', (s) => {
      if (s.connecting) s.once('connect', () => clearTimeout(dial));
      else clearTimeout(dial);
    });
    // The write deadline covers sending the request; then the read deadline (0: none) applies,
    // so that a watch may wait as long as it likes.
    out.setTimeout(opts.writeTimeoutMs, () => out.destroy(new Error('i/o timeout')));
    out.once('finish', () => out.setTimeout(opts.readTimeoutMs));
    out.once('response', (r) => {
      clearTimeout(dial);
      resolve(r);
    });
    out.once('error', (err) => {
      clearTimeout(dial);
      reject(err);
    });
    out.end(hasBody ? body : undefined);
  });
}

/** Idle connections to the members are kept (etcd keeps up to 128 per member). */
const keepAlive = new http.Agent({ keepAlive: true, maxFreeSockets: 128 });

/** Node's rawHeaders (names and values alternating, always in pairs) as [name, value] pairs. */
function headerPairs(raw: readonly string[]): Array<[string, string]> {
  const pairs: Array<[string, string]> = [];
  for (let i = 0; i + 1 < raw.length; i += 2) pairs.push([raw[i]!, raw[i + 1]!]);
  return pairs;
}

/** The client's headers, hop-by-hop ones dropped, X-Forwarded-For extended with the client's address. */
function forwardHeaders(req: IncomingMessage): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  const prior: string[] = [];
  for (const [name, value] of headerPairs(req.rawHeaders)) {
    const k = canonicalKey(name);
    if (SINGLE_HOP.has(k) || k === 'Content-Length') continue;
    if (k === 'X-Forwarded-For') prior.push(value);
    else out.push([k, value]);
  }
  const ip = req.socket.remoteAddress;
  if (ip !== undefined) out.push(['X-Forwarded-For', [...prior, ip].join(', ')]);
  else for (const p of prior) out.push(['X-Forwarded-For', p]);
  return out;
}

/** GET /v2/config/local/proxy: the endpoints in use. */
function configHandler(director: Director, req: IncomingMessage, res: ServerResponse): void {
  req.resume();
  if (req.method !== 'GET') {
    return reply(
      res,
      405,
      [
        ['Allow', 'GET'],
        ['Content-Type', 'text/plain; charset=utf-8'],
        ['X-Content-Type-Options', 'nosniff'],
      ],
      'Method Not Allowed\n',
    );
  }
  // json.Encoder ends with a newline; Go sniffs the type of what the handler did not type.
  reply(
    res,
    200,
    [],
    JSON.stringify({ endpoints: director.endpoints().map((e) => e.name) }) + '\n',
    'text/plain; charset=utf-8',
  );
}

/** httptypes.HTTPError.WriteTo: `{"message": ...}` as JSON. */
function httpError(res: ServerResponse, status: number, message: string): void {
  reply(res, status, [['Content-Type', 'application/json']], JSON.stringify({ message }));
}

/** A reply of the proxy's own, Go's header order: sorted, then Date, Content-Length, a sniffed type. */
function reply(
  res: ServerResponse,
  status: number,
  headers: Array<[string, string]>,
  body: string | undefined,
  sniffed?: string,
): void {
  const flat = sortedFlat([...CORS, ...headers]);
  flat.push('Date', new Date().toUTCString(), 'Content-Length', String(Buffer.byteLength(body ?? '')));
  if (sniffed) flat.push('Content-Type', sniffed);
  res.sendDate = false;
  res.writeHead(status, flat);
  res.end(body);
}

/** Go writes headers sorted by name, a name's values in the order they were added. */
function sortedFlat(headers: Array<[string, string]>): string[] {
  const flat: string[] = [];
  const sorted = headers
    .map((h, i) => [h, i] as const)
    .sort((a, b) => (a[0][0] < b[0][0] ? -1 : a[0][0] > b[0][0] ? 1 : a[1] - b[1]));
  for (const [[k, v]] of sorted) flat.push(k, v);
  return flat;
}

/** textproto.CanonicalMIMEHeaderKey: `x-etcd-index` → `X-Etcd-Index`. */
function canonicalKey(k: string): string {
  return k.toLowerCase().replace(/(^|-)([a-z])/g, (_m, sep: string, c: string) => sep + c.toUpperCase());
}

function pathOf(url: string): string {
  const q = url.indexOf('?');
  return q === -1 ? url : url.slice(0, q);
}

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.once('end', () => resolve(Buffer.concat(chunks)));
    req.once('error', reject);
  });
}
