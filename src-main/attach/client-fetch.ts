// fetch() for etcd's client URLs, http:// or https://. Node's global fetch cannot be given a CA
// or a client certificate (undici's dispatcher is not a dependency of ours), so https:// goes
// through node:https with the TLS options and comes back as a web Response: the attach clients
// and the v3 console read every answer (and stream a watch) the same way whatever the scheme.
//
// Failures are thrown as fetch throws them (a TypeError whose `cause` has the code), so
// describeNetError (http.ts) words them; an aborted request rejects with the signal's reason.

import https from 'node:https';
import { Readable } from 'node:stream';
import type tls from 'node:tls';

export interface ClientRequestInit {
  method?: string;
  body?: string;
  headers?: Record<string, string>;
  signal?: AbortSignal;
}

export type ClientFetch = (url: string, init?: ClientRequestInit) => Promise<Response>;

/** Node's own fetch, for http:// only (redirects are etcd's answers, not to be followed). */
export const plainFetch: ClientFetch = (url, init = {}) =>
  fetch(url, { method: init.method, body: init.body, headers: init.headers, signal: init.signal, redirect: 'manual' });

/** Statuses whose Response may not have a body. */
const NO_BODY = new Set([101, 204, 205, 304]);

/**
 * A fetch for http:// (the global one) and https:// with `tlsOptions` (a CA, a client key pair);
 * keep-alive connections per returned function, ended by `close()`.
 */
export function clientFetch(tlsOptions: tls.ConnectionOptions = {}): ClientFetch & { close(): void } {
  const agent = new https.Agent({ keepAlive: true, maxSockets: 8, minVersion: 'TLSv1.2', ...tlsOptions });
  const f = (url: string, init: ClientRequestInit = {}): Promise<Response> => {
    if (!url.startsWith('https:')) return plainFetch(url, init);
    return new Promise<Response>((resolve, reject) => {
      const signal = init.signal;
      if (signal?.aborted) return reject(signal.reason);
      const req = https.request(url, { method: init.method ?? 'GET', headers: init.headers, agent });
      const onAbort = () => req.destroy(signal?.reason instanceof Error ? signal.reason : new Error('aborted'));
      signal?.addEventListener('abort', onAbort, { once: true });
      req.on('error', (err) => {
        signal?.removeEventListener('abort', onAbort);
        reject(signal?.aborted ? signal.reason : new TypeError('fetch failed', { cause: err }));
      });
      req.on('response', (res) => {
        const headers = new Headers();
        for (const [k, val] of Object.entries(res.headers)) {
          if (Array.isArray(val)) for (const x of val) headers.append(k, x);
          else if (val !== undefined) headers.set(k, val);
        }
        // The body ends (or breaks) on its own; the abort listener stays until then, so that
        // aborting a watch's signal ends its stream.
        res.on('close', () => signal?.removeEventListener('abort', onAbort));
        const status = res.statusCode ?? 0;
        const body = NO_BODY.has(status) ? null : (Readable.toWeb(res) as ReadableStream<Uint8Array>);
        if (body === null) res.resume();
        resolve(new Response(body, { status, statusText: res.statusMessage, headers }));
      });
      req.end(init.body);
    });
  };
  return Object.assign(f, { close: () => agent.destroy() });
}
