// The client listeners: one HTTP server per listen URL, serving requests on a connection one
// at a time as Go's net/http does; gRPC (HTTP/2) on the same port when given (net/cmux.ts).

import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Server, Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { createMuxServer, routeConnection } from '../../net/cmux.js';
import { createSecureServer, type SecureServerOptions } from '../../net/tls-server.js';

export type ClientHandler = (req: IncomingMessage, res: ServerResponse) => void;

/** How the https:// client URLs are served: key pair and CA, post-handshake check, refusals. */
export type ClientPortTLS = Pick<SecureServerOptions, 'tls' | 'check' | 'onRejected'>;

/**
 * Listens on each client URL (http:// or, given `tls`, https://; port 0 picks a free one) with
 * one handler, and returns the bound URLs. With `http2` (the v3 gRPC services), gRPC and
 * HTTP/1.1 share the port as in etcd: each connection goes one way or the other by its first
 * bytes (net/cmux.ts), after the TLS handshake on an https:// URL. `close` stops listening and
 * drops open connections (watches and gRPC streams too).
 */
export async function startClientServer(
  listenURLs: string[],
  handler: ClientHandler,
  opts: { http2?: (socket: Duplex) => void; tls?: ClientPortTLS } = {},
): Promise<{ urls: string[]; close(): Promise<void> }> {
  const servers: { close(cb: () => void): unknown }[] = [];
  const urls: string[] = [];
  let closing: Promise<void> | undefined;
  const close = (): Promise<void> =>
    (closing ??= Promise.all(
      servers.map(
        (s) =>
          new Promise<void>((resolve) => {
            s.close(() => resolve());
          }),
      ),
    ).then(() => undefined));
  try {
    for (const raw of listenURLs) {
      const m = /^(https?):\/\/(\[[^\]]+\]|[^:/[\]]*):(\d+)\/?$/.exec(raw.trim());
      if (!m) throw new Error(`invalid client listen URL ${JSON.stringify(raw)}: want http://host:port`);
      const secure = m[1] === 'https';
      if (secure && !opts.tls)
        throw new Error(
          `TLS key/cert (--cert-file, --key-file) must be provided for client url ${raw} with HTTPS scheme`,
        );
      const host = m[2]!.replace(/^\[|\]$/g, ''); // a group that is not optional: there when m is
      const port = Number(m[3]);
      if (port > 65535) throw new Error(`client listen URL ${raw}: port out of range`);
      const http1 = http.createServer(inOrder(handler));
      const targets = { http1, http2: opts.http2 };
      const server: Server & { destroyConnections(): void } = secure
        ? createSecureServer({
            ...opts.tls!,
            // A client that speaks both (curl) is asked for HTTP/1.1, which serves the v2 API
            // and the JSON gateway; a gRPC client offers only h2. Either way the protocol is
            // then told apart by the first bytes, as on a plain port.
            alpn: ['http/1.1', 'h2'],
            onSecure: (socket) => routeConnection(socket, targets),
          })
        : createMuxServer(targets);
      // Closing stops listening and drops every connection, watches and gRPC streams too.
      servers.push({ close: (cb) => (server.close(() => cb()), server.destroyConnections()) });
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(port, host === '' ? undefined : host, () => {
          server.off('error', reject);
          resolve();
        });
      });
      server.on('error', () => {}); // after start-up there is no one to tell; never crash
      const bound = (server.address() as AddressInfo).port;
      urls.push(`${m[1]}://${m[2]}:${bound}`);
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
  const start = (
    q: { busy: boolean; waiting: [IncomingMessage, ServerResponse][] },
    req: IncomingMessage,
    res: ServerResponse,
  ) => {
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
