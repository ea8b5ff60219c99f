// One client port for two protocols, as etcd's cmux serves gRPC and HTTP/1.1 side by side: each
// new connection is told apart by its first bytes. A connection that opens with HTTP/2's client
// preface ("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", which gRPC over cleartext always sends first) goes
// to the HTTP/2 handler (grpc-js's connection injector); anything else goes to the HTTP/1.1
// server (the v2 API, the v3 JSON gateway, /health, /version). The bytes read to decide are
// put back, so neither side sees the difference.
import net from 'node:net';
import type http from 'node:http';
import type { Duplex } from 'node:stream';
import { wrapForAuthority } from './h2-authority.js';

const H2_PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');

/** How long a new connection may stay silent before it is dropped (etcd's cmux has no limit; ours is bounded). */
export const SNIFF_TIMEOUT_MS = 30_000;

export interface MuxTargets {
  /** Serves every connection that is not HTTP/2 (it never listens itself). */
  http1: http.Server;
  /** Takes HTTP/2 connections; without it they are closed (a port with no gRPC). */
  http2?: (socket: Duplex) => void;
  sniffTimeoutMs?: number;
}

export interface MuxServer extends net.Server {
  /** Destroys every connection it accepted (either protocol): close() alone waits for them. */
  destroyConnections(): void;
}

/** A listening-ready server that hands each connection to `http1` or `http2` by its first bytes. */
export function createMuxServer(targets: MuxTargets): MuxServer {
  // The HTTP/1.1 server never listens, so it does not track the connections it is given.
  const open = new Set<net.Socket>();
  const server = net.createServer({ pauseOnConnect: true }, (socket) => {
    open.add(socket);
    socket.once('close', () => open.delete(socket));
    route(socket, targets);
  }) as MuxServer;
  server.destroyConnections = () => {
    for (const s of open) s.destroy();
  };
  return server;
}

/**
 * Hands one connection to `http1` or `http2` by its first bytes. Also for the cleartext side of
 * a TLS connection (tls-server.ts): the protocol is told apart the same way after the
 * handshake, whatever ALPN said (a client need not offer ALPN at all).
 */
export function routeConnection(socket: net.Socket, targets: MuxTargets): void {
  route(socket, targets);
}

/** Decides as soon as the bytes seen so far leave the preface, or all of it has come. */
function route(socket: net.Socket, targets: MuxTargets): void {
  let seen: Buffer = Buffer.alloc(0);
  const timer = setTimeout(() => socket.destroy(), targets.sniffTimeoutMs ?? SNIFF_TIMEOUT_MS);
  timer.unref();
  const done = () => {
    clearTimeout(timer);
    socket.off('data', onData);
    socket.off('error', onError);
    socket.off('end', onEnd);
    socket.pause();
  };
  const onError = () => {
    done();
    socket.destroy();
  };
  // Closed before deciding: nothing to serve.
  const onEnd = () => {
    done();
    socket.destroy();
  };
  const onData = (chunk: Buffer) => {
    seen = seen.length === 0 ? chunk : Buffer.concat([seen, chunk]);
    const n = Math.min(seen.length, H2_PREFACE.length);
    const isPrefix = seen.subarray(0, n).equals(H2_PREFACE.subarray(0, n));
    if (isPrefix && n < H2_PREFACE.length) return; // not enough yet to tell
    done();
    socket.unshift(seen);
    if (isPrefix) {
      // An HTTP/2 session takes the bytes already read from the stream's buffer, then the socket;
      // it reads them through the :authority fix (h2-authority.ts) that etcdctl 3.4 needs.
      if (targets.http2) targets.http2(wrapForAuthority(socket));
      else socket.destroy();
    } else {
      // http's parser reads the buffered bytes first (in this tick), then the rest as it comes.
      targets.http1.emit('connection', socket);
      socket.resume();
    }
  };
  socket.on('data', onData);
  socket.on('error', onError);
  socket.on('end', onEnd);
  socket.resume();
}
