// Browser mode's bridge: token and Origin both required before the upgrade; then the same
// event batches and commands as over IPC.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import WebSocket from 'ws';
import { Supervisor } from '../../src-main/cluster/supervisor.js';
import { startWebServer, type WebServer } from '../../src-main/web/web-server.js';
import { agreedLeader } from '../../src-shared/cluster-state.js';
import type { ServerEvent } from '../../src-shared/protocol.js';
import { until } from '../helpers/cluster.js';

let sup: Supervisor;
let web: WebServer;
const sockets: WebSocket[] = [];
let tmp: string | undefined;

/** A stand-in for out/renderer: an index.html, an asset, and a secret next to the folder. */
let staticDir: string;

beforeEach(async () => {
  sup = new Supervisor({ heartbeatMs: 50, electionMs: 500 });
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'raftlab-static-'));
  staticDir = path.join(tmp, 'app');
  fs.mkdirSync(path.join(staticDir, 'assets'), { recursive: true });
  fs.writeFileSync(path.join(staticDir, 'index.html'), '<p>renderer</p>');
  fs.writeFileSync(path.join(staticDir, 'assets', 'app.js'), 'console.log(1)');
  fs.writeFileSync(path.join(tmp, 'secret.txt'), 'no');
});

afterEach(async () => {
  for (const s of sockets.splice(0)) s.terminate();
  await web?.close();
  await sup.stop();
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  tmp = undefined;
});

const origin = () => new URL(web.url).origin;
const bridge = (token?: string) =>
  `ws://${new URL(web.url).host}/bridge${token === undefined ? '' : `?token=${token}`}`;

/** Resolves with the HTTP status of a refused upgrade, or 101 if it was accepted. */
function tryConnect(url: string, headers: { origin?: string }): Promise<number> {
  return new Promise((resolve) => {
    const ws = new WebSocket(url, { origin: headers.origin });
    sockets.push(ws);
    ws.on('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
    ws.on('open', () => resolve(101));
    ws.on('error', () => resolve(-1));
  });
}

function connect(): Promise<{ ws: WebSocket; events: ServerEvent[] }> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(bridge(web.token), { origin: origin() });
    sockets.push(ws);
    const events: ServerEvent[] = [];
    ws.on('message', (data) => {
      const batch = JSON.parse(String(data)) as ServerEvent[];
      expect(Array.isArray(batch)).toBe(true);
      events.push(...batch);
    });
    ws.on('open', () => resolve({ ws, events }));
    ws.on('error', reject);
  });
}

describe('web server', () => {
  it('refuses the bridge without the token, with a wrong token or with a foreign Origin', async () => {
    web = await startWebServer({ core: sup, staticDir });
    expect(web.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/\?token=[0-9a-f]{48}$/);
    expect(await tryConnect(bridge(), { origin: origin() })).toBe(403);
    expect(await tryConnect(bridge('0'.repeat(48)), { origin: origin() })).toBe(403);
    expect(await tryConnect(bridge(web.token), { origin: 'http://evil.example' })).toBe(403);
    expect(await tryConnect(bridge(web.token), {})).toBe(403);
    expect(await tryConnect(`ws://${new URL(web.url).host}/other?token=${web.token}`, { origin: origin() })).toBe(403);
    expect(await tryConnect(bridge(web.token), { origin: origin() })).toBe(101);
  });

  it('streams event batches that show a leader, and a kv command round-trips', async () => {
    web = await startWebServer({ core: sup, staticDir });
    const { ws, events } = await connect();
    await sup.start(3);
    const leader = await until('a leader in a cluster event', () => {
      const states = events.filter((e) => e.type === 'cluster');
      const last = states.at(-1);
      return last && agreedLeader(last.cluster)?.name;
    });
    expect(events.some((e) => e.type === 'message')).toBe(true);

    ws.send(
      JSON.stringify({ id: 'put-1', cmd: { type: 'kv', name: leader, method: 'PUT', key: '/web', value: 'ok' } }),
    );
    const ack = await until('the ack', () => events.find((e) => e.type === 'ack' && e.id === 'put-1'));
    expect(ack).toMatchObject({ result: { status: 201, body: { action: 'set', node: { key: '/web', value: 'ok' } } } });

    ws.send(JSON.stringify({ id: 'bad-1', cmd: { type: 'setClock', name: leader, rate: 99 } }));
    const err = await until('the refusal', () => events.find((e) => e.type === 'error' && e.id === 'bad-1'));
    expect(err).toMatchObject({ message: expect.stringMatching(/rate must be 0.25..4/) });
  });

  it('serves the given static folder and nothing outside it; the page only with its token', async () => {
    fs.symlinkSync(path.join(tmp!, 'secret.txt'), path.join(staticDir, 'link.txt'));
    web = await startWebServer({ core: sup, staticDir });
    const page = await fetch(web.url);
    expect(page.status).toBe(200);
    expect(await page.text()).toBe('<p>renderer</p>');
    expect(page.headers.get('content-security-policy')).toContain("frame-ancestors 'none'");
    expect(page.headers.get('content-security-policy')).toContain(
      `connect-src 'self' ws://127.0.0.1:${new URL(web.url).port}`,
    );
    expect(page.headers.get('x-content-type-options')).toBe('nosniff');
    expect(page.headers.get('referrer-policy')).toBe('no-referrer');
    expect(await (await fetch(`${origin()}/assets/app.js`)).text()).toBe('console.log(1)');
    // Without the token, or with another launch's: a page that says which URL to open.
    for (const url of [`${origin()}/`, `${origin()}/index.html`, `${origin()}/?token=${'0'.repeat(48)}`]) {
      const res = await fetch(url);
      expect(res.status).toBe(403);
      expect(await res.text()).toMatch(
        /Open the URL that <code>npm start<\/code> or <code>npm run web<\/code> printed[^]*\?token=/,
      );
    }
    // fetch resolves %2e%2e itself (to /secret.txt, not in the folder); curl --path-as-is in hostile-requests.test.ts.
    expect((await fetch(`${origin()}/%2e%2e/secret.txt`)).status).toBe(404);
    expect((await fetch(`${origin()}/..%2fsecret.txt`)).status).toBe(400);
    expect((await fetch(`${origin()}/link.txt`)).status).toBe(404);
    expect((await fetch(`${origin()}/missing.js`)).status).toBe(404);
  });

  it('has no other window: where the built one is missing, the page and the log say how to build it', async () => {
    fs.rmSync(path.join(staticDir, 'index.html'));
    const logged = vi.spyOn(console, 'error').mockImplementation(() => {});
    try {
      web = await startWebServer({ core: sup, staticDir });
      const howToBuild = /the window is not built: .*index\.html is missing\. Run `npm run build`/;
      expect(logged.mock.calls.map((c) => String(c[0]))).toEqual([expect.stringMatching(howToBuild)]);
      for (const url of [web.url, `${origin()}/index.html?token=${web.token}`]) {
        const res = await fetch(url);
        expect(res.status).toBe(503);
        expect(res.headers.get('content-type')).toMatch(/^text\/plain/);
        expect(await res.text()).toMatch(howToBuild);
      }
      expect(logged.mock.calls.length).toBe(3);
      // Without the token: still only what to open (nothing about the folder); assets as before.
      expect((await fetch(`${origin()}/`)).status).toBe(403);
      expect(await (await fetch(`${origin()}/assets/app.js`)).text()).toBe('console.log(1)');
    } finally {
      logged.mockRestore();
    }
  });
});
