// Browser mode: the window as a web page, for machines where Electron's binary cannot be had.
// It listens on 127.0.0.1 only and guards the bridge twice, because any web page the user
// visits can try to reach a loopback port:
// - the WebSocket at /bridge needs `?token=` (random per launch, only in the printed URL), and
// - an Origin equal to this server's own (a foreign page's socket carries its own Origin;
//   browsers do not let scripts forge it). Both are checked before the upgrade: 403 otherwise.
// The page itself is served only with the token too (without it, a page saying which URL to
// open), under the window's CSP (csp.ts). No request can take the app down: every handler's
// failure is caught and answered, and paths are mapped by static-files.ts, which cannot throw.
// Commands come in as { id, cmd } (protocol.ts), event batches go out as JSON arrays.

import { randomBytes, timingSafeEqual } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import path from 'node:path';
import { WebSocketServer, type WebSocket } from 'ws';
import { parseRequest, type ServerEvent } from '../../src-shared/protocol.js';
import type { WindowSource } from '../app/window-core.js';
import { SAFE_HEADERS, windowCsp } from './csp.js';
import { lookupStatic, targetSegments } from './static-files.js';
import { windowNotBuilt } from './window-build.js';

export interface WebServerOptions {
  /** What the window shows and drives: a WindowCore (local or attached), or a Supervisor. */
  core: WindowSource;
  /** 0 (default): any free port. */
  port?: number;
  /**
   * The built renderer (out/renderer): its index.html is the page, the only one (where it is
   * missing, the page request is answered, and the log says, how to build it).
   */
  staticDir: string;
}

export interface WebServer {
  /** Open this: it carries the token. */
  url: string;
  token: string;
  close(): Promise<void>;
}

/** A client this far behind gets only cluster snapshots until it catches up. */
const MAX_BUFFERED = 4 * 1024 * 1024;
/** The largest WebSocket message taken (a command is a few hundred bytes; the longest, a kv value). */
export const MAX_BRIDGE_MESSAGE = 1024 * 1024;

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.woff2': 'font/woff2',
  '.map': 'application/json',
};

/** What a URL without its token shows: what to open instead (not a window waiting forever). */
export const NO_TOKEN_PAGE = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>raftlab: open the printed link</title>
<style>body{font:16px system-ui,sans-serif;margin:3em auto;max-width:40em;color:#222}code{background:#f1f1f1;padding:.1em .3em}</style>
</head><body>
<h1>This raftlab window needs its link</h1>
<p id="no-token">Open the URL that <code>npm start</code> or <code>npm run web</code> printed in its terminal: it ends in
<code>?token=…</code>. The token is made anew at every launch and keeps other web pages away from your cluster,
so a link without it, or from an earlier launch, cannot connect.</p>
</body></html>
`;

export async function startWebServer(opts: WebServerOptions): Promise<WebServer> {
  const { core } = opts;
  const token = randomBytes(24).toString('hex');
  let origins: Set<string> = new Set();
  let pageHeaders: Record<string, string> = { ...SAFE_HEADERS };

  /** The token in a request target's query; never throws (URLSearchParams takes any text). */
  const hasToken = (target: string): boolean => {
    const q = target.indexOf('?');
    const given = Buffer.from(q < 0 ? '' : (new URLSearchParams(target.slice(q + 1)).get('token') ?? ''));
    const want = Buffer.from(token);
    return given.length === want.length && timingSafeEqual(given, want);
  };

  const server = http.createServer((req, res) => {
    const target = req.url ?? '/';
    const answer = target.startsWith('/export/')
      ? exportTrace(req, res)
      : target.startsWith('/trace?')
        ? readTrace(req, res)
        : serve(req, res);
    answer.catch((err: unknown) => failed(res, err));
  });

  // A request Node's parser refuses (a 10 MB header, garbage): its status, then what the client
  // is still sending is read and dropped, so that closing does not reset the connection (and
  // throw away our answer) before the client has read it. A client that keeps on sending is cut
  // off after a few seconds.
  const refusedSockets = new WeakSet<Duplex>();
  server.on('clientError', (err: NodeJS.ErrnoException, socket: Duplex) => {
    // The parser may report the rest of what is dropped again: answered once.
    if (refusedSockets.has(socket)) return;
    refusedSockets.add(socket);
    const status = err.code === 'HPE_HEADER_OVERFLOW' ? 431 : err.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 408 : 400;
    socket.on('error', () => socket.destroy());
    if (socket.writable)
      socket.end(`HTTP/1.1 ${status} ${http.STATUS_CODES[status]}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
    socket.resume();
    setTimeout(() => socket.destroy(), 5000).unref();
  });

  /** A handler failed: a 500 if nothing was sent yet, else the connection is cut. Never thrown on. */
  function failed(res: http.ServerResponse, err: unknown): void {
    console.error(`raftlab: web request failed: ${err instanceof Error ? err.message : String(err)}`);
    if (res.headersSent) res.destroy();
    else res.writeHead(500, { ...pageHeaders, 'Content-Type': 'text/plain; charset=utf-8' }).end('internal error\n');
  }

  function refuse(res: http.ServerResponse, status: number, text: string, extra: Record<string, string> = {}): void {
    res.writeHead(status, { ...pageHeaders, ...extra, 'Content-Type': 'text/plain; charset=utf-8' }).end(`${text}\n`);
  }

  async function serve(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    if (req.method !== 'GET' && req.method !== 'HEAD')
      return refuse(res, 405, 'only GET and HEAD', { Allow: 'GET, HEAD' });
    const target = req.url ?? '/';
    const t = targetSegments(target);
    const isPage = 'pathname' in t && (t.pathname === '/' || t.pathname === '/index.html');
    // The page itself only with its token: without it, what to open instead.
    if (isPage && !hasToken(target)) {
      res
        .writeHead(403, { ...pageHeaders, 'Content-Type': 'text/html; charset=utf-8' })
        .end(req.method === 'HEAD' ? undefined : NO_TOKEN_PAGE);
      return;
    }
    const found = await lookupStatic(opts.staticDir, target);
    if (!found.ok) {
      // The built window is the only window: where it is missing, how to build it.
      if (isPage && found.status === 404) {
        const message = windowNotBuilt(opts.staticDir);
        console.error(`raftlab: ${message}`);
        return refuse(res, 503, message);
      }
      return refuse(res, found.status, found.reason);
    }
    const data = await fs.promises.readFile(found.file);
    res.writeHead(200, {
      ...pageHeaders,
      'Content-Type': TYPES[path.extname(found.file).toLowerCase()] ?? 'application/octet-stream',
    });
    res.end(req.method === 'HEAD' ? undefined : data);
  }

  /**
   * GET /trace?from=N&max=M&token=: RaftlabBridge.readTrace for the page: whole lines of the
   * session trace from byte N, as text; X-Trace-Next and X-Trace-Size carry the rest of the
   * TraceChunk. Token-guarded like the export.
   */
  async function readTrace(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const target = req.url ?? '/';
    const url = new URL(target, 'http://127.0.0.1');
    const headers = { ...pageHeaders, 'Cache-Control': 'no-store' };
    if (!hasToken(target)) return refuse(res, 403, 'the session trace needs the token of the printed URL');
    if (req.method !== 'GET' || !opts.core.readTrace) return void res.writeHead(404, headers).end('not found\n');
    try {
      const chunk = await opts.core.readTrace(
        Number(url.searchParams.get('from') ?? 0),
        Number(url.searchParams.get('max') ?? Infinity),
      );
      res
        .writeHead(200, {
          ...headers,
          'Content-Type': 'application/x-ndjson; charset=utf-8',
          'X-Trace-Next': String(chunk.next),
          'X-Trace-Size': String(chunk.size),
        })
        .end(chunk.text);
    } catch (err) {
      res
        .writeHead(400, { ...headers, 'Content-Type': 'text/plain; charset=utf-8' })
        .end(`${err instanceof Error ? err.message : String(err)}\n`);
    }
  }

  /**
   * GET /export/session.jsonl or /export/session.chrome.json ?token=: the session trace as a
   * download. The token guards it like the bridge (a trace holds everything the user did).
   */
  async function exportTrace(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const target = req.url ?? '/';
    if (!hasToken(target)) return refuse(res, 403, 'the export needs the token of the printed URL');
    const t = targetSegments(target);
    const pathname = 'pathname' in t ? t.pathname : '';
    const format =
      pathname === '/export/session.jsonl'
        ? 'jsonl'
        : pathname === '/export/session.chrome.json'
          ? 'chrome'
          : undefined;
    if (!format || req.method !== 'GET' || !opts.core.exportTrace) return refuse(res, 404, 'not found');
    try {
      const { path: file, bytes } = await opts.core.exportTrace(format);
      res.writeHead(200, {
        ...pageHeaders,
        'Content-Type': format === 'jsonl' ? 'application/x-ndjson' : 'application/json',
        'Content-Length': bytes,
        'Content-Disposition': `attachment; filename="${path.basename(file)}"`,
      });
      const stream = fs.createReadStream(file);
      stream.on('error', () => res.destroy());
      stream.pipe(res);
    } catch (err) {
      refuse(res, 500, err instanceof Error ? err.message : String(err));
    }
  }

  const wss = new WebSocketServer({ noServer: true, maxPayload: MAX_BRIDGE_MESSAGE });
  wss.on('error', () => {});

  server.on('upgrade', (req: http.IncomingMessage, socket: Duplex, head: Buffer) => {
    socket.on('error', () => socket.destroy());
    try {
      const target = req.url ?? '/';
      const okPath = target.split('?', 1)[0] === '/bridge';
      const okOrigin = origins.has(req.headers.origin ?? '');
      if (!okPath || !hasToken(target) || !okOrigin) {
        socket.end('HTTP/1.1 403 Forbidden\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
        return;
      }
      wss.handleUpgrade(req, socket, head, (ws) => wss.emit('connection', ws, req));
    } catch (err) {
      console.error(`raftlab: WebSocket upgrade failed: ${err instanceof Error ? err.message : String(err)}`);
      socket.destroy();
    }
  });

  wss.on('connection', (ws: WebSocket) => {
    const send = (batch: ServerEvent[]) => {
      if (ws.readyState !== ws.OPEN) return;
      // A slow client (tab in the background) must not make us buffer without bound: keep
      // only the state, which is complete by itself.
      if (ws.bufferedAmount > MAX_BUFFERED) batch = batch.filter((e) => e.type === 'cluster');
      if (batch.length > 0) ws.send(JSON.stringify(batch));
    };
    // A malformed frame or an oversized message: ws closes with 1002/1009 and reports it here.
    ws.on('error', () => ws.terminate());
    ws.on('close', () => core.off('events', send));
    ws.on('message', (data, isBinary) => {
      let raw: unknown;
      try {
        if (isBinary) throw new Error('binary');
        raw = JSON.parse(data.toString());
      } catch {
        send([{ type: 'error', message: 'a request must be JSON text: { id, cmd }' }]);
        return;
      }
      const id =
        typeof (raw as { id?: unknown })?.id === 'string' ? (raw as { id: string }).id.slice(0, 100) : undefined;
      const refused = (err: unknown) =>
        send([{ type: 'error', id, message: err instanceof Error ? err.message : String(err) }]);
      try {
        core.handle(parseRequest(raw)).catch(refused);
      } catch (err) {
        refused(err);
      }
    });
    try {
      send(core.greeting());
      core.on('events', send);
    } catch (err) {
      console.error(`raftlab: could not greet a window: ${err instanceof Error ? err.message : String(err)}`);
      ws.terminate();
    }
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  // Later errors of the listening server (none expected) are said, not thrown.
  server.on('error', (err) => console.error(`raftlab: web server: ${err.message}`));
  const port = (server.address() as AddressInfo).port;
  if (!fs.existsSync(path.join(opts.staticDir, 'index.html')))
    console.error(`raftlab: ${windowNotBuilt(opts.staticDir)}`);
  // Our own origin; "localhost" names the same loopback server, and no other site can claim it.
  origins = new Set([`http://127.0.0.1:${port}`, `http://localhost:${port}`]);
  pageHeaders = { ...SAFE_HEADERS, 'Content-Security-Policy': windowCsp({ kind: 'websocket', origins: [...origins] }) };

  return {
    url: `http://127.0.0.1:${port}/?token=${token}`,
    token,
    close: async () => {
      for (const ws of wss.clients) ws.terminate();
      await new Promise<void>((r) => wss.close(() => r()));
      await new Promise<void>((r) => {
        server.close(() => r());
        server.closeAllConnections();
      });
    },
  };
}
