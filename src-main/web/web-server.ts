// Browser mode: the window as a web page, for machines where Electron's binary cannot be had.
// It listens on 127.0.0.1 only and guards the bridge twice, because any web page the user
// visits can try to reach a loopback port:
// - the WebSocket at /bridge needs `?token=` (random per launch, only in the printed URL), and
// - an Origin equal to this server's own (a foreign page's socket carries its own Origin;
//   browsers do not let scripts forge it). Both are checked before the upgrade: 403 otherwise.
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

export interface WebServerOptions {
  /** What the window shows and drives: a WindowCore (local or attached), or a Supervisor. */
  core: WindowSource;
  /** 0 (default): any free port. */
  port?: number;
  /** The built renderer; without it a tiny built-in page is served. */
  staticDir?: string;
}

export interface WebServer {
  /** Open this: it carries the token. */
  url: string;
  token: string;
  close(): Promise<void>;
}

/** A client this far behind gets only cluster snapshots until it catches up. */
const MAX_BUFFERED = 4 * 1024 * 1024;

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8', '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8', '.json': 'application/json', '.svg': 'image/svg+xml', '.png': 'image/png',
  '.ico': 'image/x-icon', '.woff2': 'font/woff2', '.map': 'application/json',
};

export async function startWebServer(opts: WebServerOptions): Promise<WebServer> {
  const { core } = opts;
  const token = randomBytes(24).toString('hex');
  let origins: Set<string> = new Set();

  const server = http.createServer((req, res) => {
    if (req.url?.startsWith('/export/')) void exportTrace(req, res);
    else if (req.url?.startsWith('/trace?')) void readTrace(req, res);
    else serve(req, res, opts.staticDir);
  });

  const tokenOk = (url: URL) => {
    const given = Buffer.from(url.searchParams.get('token') ?? '');
    return given.length === token.length && timingSafeEqual(given, Buffer.from(token));
  };

  /**
   * GET /trace?from=N&max=M&token=: RaftlabBridge.readTrace for the page: whole lines of the
   * session trace from byte N, as text; X-Trace-Next and X-Trace-Size carry the rest of the
   * TraceChunk. Token-guarded like the export.
   */
  async function readTrace(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const headers = { 'X-Content-Type-Options': 'nosniff', 'Cache-Control': 'no-store' };
    if (!tokenOk(url)) return void res.writeHead(403, headers).end();
    if (req.method !== 'GET' || !opts.core.readTrace) return void res.writeHead(404, headers).end('not found\n');
    try {
      const chunk = await opts.core.readTrace(Number(url.searchParams.get('from') ?? 0), Number(url.searchParams.get('max') ?? Infinity));
      res.writeHead(200, {
        ...headers,
        'Content-Type': 'application/x-ndjson; charset=utf-8',
        'X-Trace-Next': String(chunk.next),
        'X-Trace-Size': String(chunk.size),
      }).end(chunk.text);
    } catch (err) {
      res.writeHead(400, { ...headers, 'Content-Type': 'text/plain; charset=utf-8' }).end(`${err instanceof Error ? err.message : String(err)}\n`);
    }
  }

  /**
   * GET /export/session.jsonl or /export/session.chrome.json ?token=: the session trace as a
   * download. The token guards it like the bridge (a trace holds everything the user did).
   */
  async function exportTrace(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const given = Buffer.from(url.searchParams.get('token') ?? '');
    const format = url.pathname === '/export/session.jsonl' ? 'jsonl' : url.pathname === '/export/session.chrome.json' ? 'chrome' : undefined;
    const headers = { 'X-Content-Type-Options': 'nosniff', 'Cache-Control': 'no-store' };
    if (given.length !== token.length || !timingSafeEqual(given, Buffer.from(token))) return void res.writeHead(403, headers).end();
    if (!format || req.method !== 'GET' || !opts.core.exportTrace) return void res.writeHead(404, headers).end('not found\n');
    try {
      const { path: file, bytes } = await opts.core.exportTrace(format);
      res.writeHead(200, {
        ...headers,
        'Content-Type': format === 'jsonl' ? 'application/x-ndjson' : 'application/json',
        'Content-Length': bytes,
        'Content-Disposition': `attachment; filename="${path.basename(file)}"`,
      });
      fs.createReadStream(file).pipe(res);
    } catch (err) {
      res.writeHead(500, { ...headers, 'Content-Type': 'text/plain; charset=utf-8' }).end(`${err instanceof Error ? err.message : String(err)}\n`);
    }
  }
  const wss = new WebSocketServer({ noServer: true, maxPayload: 1024 * 1024 });

  server.on('upgrade', (req: http.IncomingMessage, socket: Duplex, head: Buffer) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const given = Buffer.from(url.searchParams.get('token') ?? '');
    const okToken = given.length === token.length && timingSafeEqual(given, Buffer.from(token));
    const okOrigin = origins.has(req.headers.origin ?? '');
    if (url.pathname !== '/bridge' || !okToken || !okOrigin) {
      socket.end('HTTP/1.1 403 Forbidden\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => wss.emit('connection', ws, req));
  });

  wss.on('connection', (ws: WebSocket) => {
    const send = (batch: ServerEvent[]) => {
      if (ws.readyState !== ws.OPEN) return;
      // A slow client (tab in the background) must not make us buffer without bound: keep
      // only the state, which is complete by itself.
      if (ws.bufferedAmount > MAX_BUFFERED) batch = batch.filter((e) => e.type === 'cluster');
      if (batch.length > 0) ws.send(JSON.stringify(batch));
    };
    send(core.greeting());
    core.on('events', send);
    ws.on('close', () => core.off('events', send));
    ws.on('error', () => ws.terminate());
    ws.on('message', (data, isBinary) => {
      let raw: unknown;
      try {
        raw = JSON.parse(isBinary ? '' : data.toString());
      } catch {
        send([{ type: 'error', message: 'a request must be JSON: { id, cmd }' }]);
        return;
      }
      try {
        void core.handle(parseRequest(raw));
      } catch (err) {
        const id = typeof (raw as { id?: unknown })?.id === 'string' ? (raw as { id: string }).id : undefined;
        send([{ type: 'error', id, message: err instanceof Error ? err.message : String(err) }]);
      }
    });
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  // Our own origin; "localhost" names the same loopback server, and no other site can claim it.
  origins = new Set([`http://127.0.0.1:${port}`, `http://localhost:${port}`]);

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

function serve(req: http.IncomingMessage, res: http.ServerResponse, staticDir: string | undefined): void {
  const headers = { 'X-Content-Type-Options': 'nosniff', 'Cache-Control': 'no-store' };
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    res.writeHead(405, { ...headers, Allow: 'GET, HEAD' }).end();
    return;
  }
  let pathname: string;
  try {
    pathname = decodeURIComponent(new URL(req.url ?? '/', 'http://127.0.0.1').pathname);
  } catch {
    res.writeHead(400, headers).end();
    return;
  }
  if (!staticDir) {
    if (pathname !== '/' && pathname !== '/index.html') {
      res.writeHead(404, headers).end('not found\n');
      return;
    }
    res.writeHead(200, { ...headers, 'Content-Type': 'text/html; charset=utf-8' }).end(req.method === 'HEAD' ? undefined : BUILTIN_PAGE);
    return;
  }
  const root = path.resolve(staticDir);
  let file = path.resolve(root, `.${pathname}`);
  // Never outside the renderer's folder (../ and encoded variants resolve above it).
  if (file !== root && !file.startsWith(root + path.sep)) {
    res.writeHead(403, headers).end();
    return;
  }
  if (fs.existsSync(file) && fs.statSync(file).isDirectory()) file = path.join(file, 'index.html');
  fs.readFile(file, (err, data) => {
    if (err) {
      res.writeHead(404, headers).end('not found\n');
      return;
    }
    res.writeHead(200, { ...headers, 'Content-Type': TYPES[path.extname(file).toLowerCase()] ?? 'application/octet-stream' });
    res.end(req.method === 'HEAD' ? undefined : data);
  });
}

/** Enough to watch a cluster without the real renderer: nodes, roles, terms, a few buttons. */
const BUILTIN_PAGE = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>raftlab</title>
<style>
body{font:14px system-ui,sans-serif;margin:2em;color:#222}
table{border-collapse:collapse}td,th{padding:.3em .8em;border-bottom:1px solid #ddd;text-align:left}
tr.leader td{background:#fff3c4;font-weight:600}tr.down td{color:#999}
#log{font:12px ui-monospace,monospace;white-space:pre;max-height:20em;overflow:auto;background:#f6f6f6;padding:.5em}
button{margin-right:.3em}
</style></head><body>
<h1>raftlab</h1><p id="conn">connecting…</p>
<table><thead><tr><th>node</th><th>status</th><th>role</th><th>term</th><th>leader</th><th>commit</th><th>clock</th><th></th></tr></thead><tbody id="nodes"></tbody></table>
<p><button onclick="cmd({type:'addMember'})">add member</button><button onclick="cmd({type:'healAll'})">heal all links</button></p>
<div id="log"></div>
<script>
const token = new URLSearchParams(location.search).get('token') || '';
const ws = new WebSocket((location.protocol === 'https:' ? 'wss://' : 'ws://') + location.host + '/bridge?token=' + encodeURIComponent(token));
let seq = 0;
function cmd(c) { ws.send(JSON.stringify({ id: String(++seq), cmd: c })); }
function esc(s) { return String(s).replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]); }
function addLog(text) {
  const el = document.getElementById('log');
  el.textContent += text + '\\n';
  if (el.textContent.length > 50000) el.textContent = el.textContent.slice(-40000);
  el.scrollTop = el.scrollHeight;
}
ws.onopen = () => { document.getElementById('conn').textContent = 'connected'; };
ws.onclose = () => { document.getElementById('conn').textContent = 'disconnected (reload with the printed URL)'; };
ws.onmessage = (ev) => {
  for (const e of JSON.parse(ev.data)) {
    if (e.type === 'log') addLog(e.node + ' ' + e.line);
    else if (e.type === 'error') addLog('error: ' + e.message);
    else if (e.type === 'cluster') {
      document.getElementById('nodes').innerHTML = e.cluster.nodes.map((n) => {
        const up = n.status === 'alive';
        const act = up
          ? '<button onclick="cmd({type:\\'killNode\\',name:\\'' + n.name + '\\'})">kill</button>' +
            '<button onclick="cmd({type:\\'removeMember\\',name:\\'' + n.name + '\\'})">remove</button>'
          : n.status === 'killed' || n.status === 'unstarted'
            ? '<button onclick="cmd({type:\\'restartNode\\',name:\\'' + n.name + '\\'})">start</button>' : '';
        return '<tr class="' + (up && n.role === 'leader' ? 'leader' : up ? '' : 'down') + '"><td>' + esc(n.name) + '</td><td>' + esc(n.status) +
          '</td><td>' + esc(n.role) + '</td><td>' + n.term + '</td><td>' + esc(n.lead) + '</td><td>' + n.commit +
          '</td><td>' + (n.clock.offsetMs / 1000).toFixed(1) + 's ×' + n.clock.rate + '</td><td>' + act + '</td></tr>';
      }).join('');
    }
  }
};
</script></body></html>
`;
