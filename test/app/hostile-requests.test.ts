// Browser mode as `npm run web` runs it (src-main/web/main.ts in its own process: supervisor,
// real 3-node cluster, web server), attacked as any web page the user visits could: odd paths
// (sent by real curl with --path-as-is, so nothing normalises them first), huge headers and
// bodies, requests without the token, malformed WebSocket frames and messages. Each gets a plain
// status, and afterwards the same process still serves a kv command through the bridge.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { buildRenderer } from '../../scripts/build-renderer.mjs';
import { agreedLeader } from '../../src-shared/cluster-state.js';
import type { ServerEvent } from '../../src-shared/protocol.js';
import { until } from '../helpers/cluster.js';
import { needTools } from '../helpers/window.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const CURL = '/usr/bin/curl';
const haveCurl = needTools('hostile requests with curl', [CURL]);

let app: ChildProcess | undefined;
let output = '';
let url: URL;
let token: string;
let tmp: string;

beforeAll(async () => {
  if (!haveCurl) return;
  await buildRenderer();
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'raftlab-hostile-'));
  app = spawn(process.execPath, ['--import', 'tsx', 'src-main/web/main.ts'], {
    cwd: ROOT,
    env: { ...process.env, RAFTLAB_NO_BROWSER: '1', RAFTLAB_NODES: '3', TMPDIR: tmp },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  app.stdout!.on('data', (b: Buffer) => (output += b.toString()));
  app.stderr!.on('data', (b: Buffer) => (output += b.toString()));
  const printed = await until(
    'the printed URL',
    () => /open (http:\/\/127\.0\.0\.1:\d+\/\?token=[0-9a-f]+)/.exec(output)?.[1],
    60_000,
  );
  url = new URL(printed);
  token = url.searchParams.get('token')!;
}, 120_000);

afterAll(async () => {
  if (app && app.exitCode === null && app.signalCode === null) {
    const exited = new Promise((r) => app!.once('exit', r));
    app.kill('SIGTERM');
    await exited;
  }
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
});

const alive = () => !!app && app.exitCode === null && app.signalCode === null;

/** Real curl: the status code (and body) of one request, the path sent exactly as written. */
function curl(args: string[]): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    execFile(
      CURL,
      ['-sS', '--path-as-is', '--max-time', '20', '-o', '-', '-w', '\n%{http_code}', ...args],
      { maxBuffer: 1 << 24 },
      (err, stdout) => {
        if (err) return reject(new Error(`curl ${args.join(' ')}: ${err.message}`));
        const cut = stdout.lastIndexOf('\n');
        resolve({ status: Number(stdout.slice(cut + 1)), body: stdout.slice(0, cut) });
      },
    );
  });
}

/** Writes raw bytes on a fresh connection; resolves with everything the server sent back before closing. */
function raw(bytes: Buffer | string, opts: { endAfter?: number } = {}): Promise<Buffer> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    const s = net.connect(Number(url.port), '127.0.0.1');
    s.on('data', (b) => {
      chunks.push(b);
      if (opts.endAfter !== undefined && Buffer.concat(chunks).length >= opts.endAfter) s.end();
    });
    // The server may cut us off while we are still writing (that is the point): not an error here.
    s.on('error', () => {});
    s.on('close', () => resolve(Buffer.concat(chunks)));
    s.write(bytes);
  });
}

function bridge(): Promise<{ ws: WebSocket; events: ServerEvent[]; closed: Promise<number> }> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`ws://${url.host}/bridge?token=${token}`, { origin: url.origin });
    const events: ServerEvent[] = [];
    const closed = new Promise<number>((r) => ws.on('close', (code) => r(code)));
    ws.on('message', (data) => events.push(...(JSON.parse(String(data)) as ServerEvent[])));
    ws.on('open', () => resolve({ ws, events, closed }));
    ws.on('error', reject);
  });
}

describe.runIf(haveCurl)('browser mode under hostile requests', () => {
  it('answers each with a plain status and keeps serving the cluster', async () => {
    const base = url.origin;
    // Paths that used to throw inside the handler (%00) or that try to leave the window's folder.
    const paths: [string, number][] = [
      ['/%00', 400],
      ['/%00/index.html', 400],
      ['/%ZZ', 400],
      ['/%E0%A4%A', 400],
      ['/..%2f..%2fetc/passwd', 400],
      ['/../../etc/passwd', 400],
      ['/%2e%2e/%2e%2e/etc/passwd', 400],
      ['/assets/..%5c..%5cpackage.json', 400],
      ['/\\..\\package.json', 400],
      ['//etc/passwd', 400],
      [`/${'a'.repeat(5000)}`, 414],
      ['/.git/config', 404],
      ['/no-such-file.js', 404],
      ['/export/session.jsonl', 403],
      ['/export/..%2f..%2fetc%2fpasswd?token=' + 'x', 403],
    ];
    for (const [p, status] of paths) {
      const r = await curl([`${base}${p}`]);
      expect({ path: p, status: r.status }).toEqual({ path: p, status });
      expect(r.body).not.toContain('root:');
    }
    // Absolute-form request target (as a proxy gets): not a path of ours.
    expect((await curl(['--request-target', 'http://evil.example/etc/passwd', `${base}/`])).status).toBe(400);
    // The page without its token: a page saying which URL to open, not the window.
    const noToken = await curl([`${base}/`]);
    expect(noToken.status).toBe(403);
    expect(noToken.body).toContain('?token=');
    expect(noToken.body).toContain('npm run web');
    // With it: the window, under the CSP.
    const page = await curl(['-D', '-', url.href]);
    expect(page.status).toBe(200);
    expect(page.body).toMatch(/content-security-policy: [^\n]*frame-ancestors 'none'/i);
    expect(page.body).toMatch(/referrer-policy: no-referrer/i);

    // A 10 MB body on a method we do not take, and to the guarded export.
    const big = path.join(tmp, 'big.bin');
    fs.writeFileSync(big, Buffer.alloc(10 * 1024 * 1024, 0x41));
    expect((await curl(['-X', 'POST', '--data-binary', `@${big}`, `${base}/`])).status).toBe(405);
    expect(
      (await curl(['-X', 'PUT', '--data-binary', `@${big}`, `${base}/export/session.jsonl?token=${token}`])).status,
    ).toBe(404);
    // A 10 MB header: Node's parser refuses it (431) before any handler runs.
    const bigHeader = await raw(`GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: ${'a'.repeat(10 * 1024 * 1024)}\r\n\r\n`);
    expect(bigHeader.toString('latin1')).toMatch(/^HTTP\/1\.1 431/);
    // Garbage instead of HTTP.
    expect((await raw('\x00\x01\x02 nonsense\r\n\r\n')).toString('latin1')).toMatch(/^HTTP\/1\.1 400/);

    // The bridge without the token, with a wrong one, from a foreign origin: refused before the upgrade.
    const upgradeFrom = (origin: string, target: string) =>
      curl([
        ...[
          'Connection: Upgrade',
          'Upgrade: websocket',
          'Sec-WebSocket-Version: 13',
          'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==',
          `Origin: ${origin}`,
        ].flatMap((h) => ['-H', h]),
        `${base}${target}`,
      ]);
    for (const target of ['/bridge', `/bridge?token=${'0'.repeat(48)}`, '/bridge?token=%00%ZZ']) {
      const r = await upgradeFrom(base, target);
      expect({ target, status: r.status }).toEqual({ target, status: 403 });
    }
    const foreign = await upgradeFrom('http://evil.example', `/bridge?token=${token}`);
    expect(foreign.status).toBe(403);

    // A malformed WebSocket frame (reserved opcode 3) after a proper upgrade: closed with 1002.
    const upgrade =
      `GET /bridge?token=${token} HTTP/1.1\r\nHost: ${url.host}\r\nOrigin: ${base}\r\nConnection: Upgrade\r\n` +
      'Upgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n';
    const frame = Buffer.from([0x83, 0x80, 1, 2, 3, 4]);
    const answer = await raw(Buffer.concat([Buffer.from(upgrade), frame]));
    const text = answer.toString('latin1');
    expect(text).toMatch(/^HTTP\/1\.1 101/);
    const closeAt = answer.lastIndexOf(0x88);
    expect(closeAt).toBeGreaterThan(0);
    expect(answer.readUInt16BE(closeAt + 2)).toBe(1002);

    // Bad messages on a good socket: each answered with an error, the socket stays.
    const b = await bridge();
    b.ws.send('not json {');
    b.ws.send(Buffer.from([1, 2, 3]), { binary: true });
    b.ws.send(JSON.stringify({ id: 'u1', cmd: { type: 'formatDisk' } }));
    b.ws.send(JSON.stringify({ id: 'u2', cmd: { type: 'kv', name: 'n1', method: 'GET', key: '/../../v2/members' } }));
    b.ws.send(JSON.stringify({ id: 'u3', cmd: null }));
    b.ws.send(JSON.stringify([[[[[[[[[[[[]]]]]]]]]]]]));
    // Out of the command schema's ranges (src-shared/protocol.ts CommandSchema): refused by name.
    b.ws.send(JSON.stringify({ id: 'u4', cmd: { type: 'setClock', name: 'n1', rate: 1e9 } }));
    b.ws.send(JSON.stringify({ id: 'u5', cmd: { type: 'cutLink', a: 'n1', b: 'n1' } }));
    b.ws.send(JSON.stringify({ id: 'u6', cmd: { type: 'startCluster', size: 2 ** 53 } }));
    await until('nine refusals', () => b.events.filter((e) => e.type === 'error').length >= 9);
    const errors = b.events.filter((e) => e.type === 'error');
    expect(errors.find((e) => e.id === 'u1')?.message).toMatch(/unknown command "formatDisk"/);
    expect(errors.find((e) => e.id === 'u2')?.message).toMatch(/kv: key/);
    expect(errors.find((e) => e.id === 'u3')?.message).toBe('command must be an object');
    expect(errors.find((e) => e.id === 'u4')?.message).toBe('setClock: rate must be 0.25..4');
    expect(errors.find((e) => e.id === 'u5')?.message).toBe('cutLink: a link joins two different nodes');
    expect(errors.find((e) => e.id === 'u6')?.message).toBe('startCluster: size must be 1..7');
    expect(errors.filter((e) => /must be JSON/.test(e.message))).toHaveLength(2);
    // An oversized message (2 MiB, the limit is 1 MiB): that socket is closed with 1009, nothing else.
    b.ws.send(
      JSON.stringify({
        id: 'big',
        cmd: { type: 'kv', name: 'n1', method: 'PUT', key: '/big', value: 'x'.repeat(2 * 1024 * 1024) },
      }),
    );
    expect(await b.closed).toBe(1009);

    // Still the same process, with its cluster: a kv command through a new bridge.
    expect(alive()).toBe(true);
    const c = await bridge();
    const leader = await until(
      'a leader',
      () => {
        const last = c.events.filter((e) => e.type === 'cluster').at(-1);
        return last && agreedLeader(last.cluster)?.name;
      },
      30_000,
    );
    c.ws.send(
      JSON.stringify({ id: 'put', cmd: { type: 'kv', name: leader, method: 'PUT', key: '/survived', value: 'yes' } }),
    );
    const ack = await until(
      'the put',
      () => c.events.find((e) => (e.type === 'ack' || e.type === 'error') && e.id === 'put'),
      20_000,
    );
    expect(ack).toMatchObject({
      type: 'ack',
      result: { status: 201, body: { node: { key: '/survived', value: 'yes' } } },
    });
    c.ws.close();
    expect(alive()).toBe(true);
    expect(output).not.toMatch(/Uncaught|TypeError|ERR_INVALID_ARG/);
  }, 180_000);
});
