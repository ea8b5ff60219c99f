// One client port, two protocols (net/cmux.ts): Debian's real etcdctl speaks gRPC (HTTP/2
// cleartext) to it while curl and raw sockets speak HTTP/1.1 to the very same port, as against
// etcd. The sniffing must be invisible: requests that arrive a byte at a time, large bodies,
// keep-alive, and connections that close or say nothing early are all handled.
import { execFile } from 'node:child_process';
import http from 'node:http';
import net, { type AddressInfo } from 'node:net';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createMuxServer } from '../../src-main/net/cmux.js';
import { minLeaseTTL } from '../../src-main/v3/lease/lessor.js';
import { MemoryBackend } from '../../src-main/v3/memory-backend.js';
import { V3GrpcServer } from '../../src-main/v3/grpc-server.js';
import { v3Gateway } from '../../src-main/v3/gateway.js';
import { one } from '../helpers/checked.js';
import { needTools } from '../helpers/window.js';

const ETCDCTL = '/usr/bin/etcdctl';
const CURL = '/usr/bin/curl';
const have = needTools('one client port for gRPC and HTTP/1.1', [ETCDCTL, CURL]);
const run = promisify(execFile);
const cleanEnv = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('ETCD')));

describe.runIf(have)('gRPC and HTTP/1.1 on one client port', () => {
  let backend: MemoryBackend;
  let grpcServer: V3GrpcServer;
  let mux: net.Server;
  let port: number;

  beforeAll(async () => {
    backend = new MemoryBackend({ minLeaseTTL: minLeaseTTL(500, 50), electionMs: 500 });
    grpcServer = new V3GrpcServer(backend);
    const gateway = v3Gateway(grpcServer);
    const http1 = http.createServer((req, res) => {
      void gateway(req, res).then((done) => {
        if (done) return;
        // Stands in for the v2 API: echoes what it got, so tests see every byte arrived in order.
        const chunks: Buffer[] = [];
        req.on('data', (c: Buffer) => chunks.push(c));
        req.on('end', () => {
          const body = Buffer.concat(chunks);
          res.end(
            JSON.stringify({
              method: req.method,
              url: req.url,
              bytes: body.length,
              sum: body.reduce((a, b) => (a + b) % 65521, 0),
            }),
          );
        });
      });
    });
    mux = createMuxServer({ http1, http2: grpcServer.connectionHandler(), sniffTimeoutMs: 300 });
    await new Promise<void>((r) => mux.listen(0, '127.0.0.1', r));
    port = (mux.address() as AddressInfo).port;
  });

  afterAll(async () => {
    await new Promise((r) => mux?.close(r));
    await grpcServer?.close(200);
    backend?.close();
  });

  const etcdctl = (...args: string[]) =>
    run(ETCDCTL, ['--endpoints', `127.0.0.1:${port}`, '--dial-timeout', '5s', '--command-timeout', '10s', ...args], {
      env: { ...cleanEnv, ETCDCTL_API: '3' },
      timeout: 20_000,
    });

  it('etcdctl (gRPC) and curl (HTTP/1.1, the JSON gateway) see the same keys through the same port', async () => {
    expect((await etcdctl('put', 'greeting', 'hello')).stdout).toBe('OK\n');
    expect((await etcdctl('get', 'greeting')).stdout).toBe('greeting\nhello\n');
    const key = Buffer.from('greeting').toString('base64');
    const { stdout } = await run(CURL, [
      '-sS',
      '--max-time',
      '10',
      '-X',
      'POST',
      `http://127.0.0.1:${port}/v3/kv/range`,
      '-d',
      JSON.stringify({ key }),
    ]);
    const got = JSON.parse(stdout) as { kvs: { value: string }[] };
    expect(Buffer.from(one(got.kvs).value, 'base64').toString()).toBe('hello');
    // And back: written over HTTP/1.1, read over gRPC.
    await run(CURL, [
      '-sS',
      '--max-time',
      '10',
      '-X',
      'POST',
      `http://127.0.0.1:${port}/v3/kv/put`,
      '-d',
      JSON.stringify({ key: Buffer.from('k2').toString('base64'), value: Buffer.from('v2').toString('base64') }),
    ]);
    expect((await etcdctl('get', 'k2', '--print-value-only')).stdout).toBe('v2\n');
  });

  /** Writes `parts` one by one with a pause between, then reads the whole answer. */
  function rawExchange(parts: Buffer[], gapMs = 5): Promise<string> {
    return new Promise((resolve, reject) => {
      const s = net.connect(port, '127.0.0.1');
      let out = '';
      s.on('data', (b) => (out += b.toString('latin1')));
      s.on('close', () => resolve(out));
      s.on('error', reject);
      s.setTimeout(10_000, () => s.destroy(new Error('no answer in 10 s')));
      let i = 0;
      const next = () => {
        if (i < parts.length) {
          s.write(parts[i++]!); // i < parts.length
          setTimeout(next, gapMs);
        }
      };
      s.once('connect', next);
    });
  }

  it('an HTTP/1.1 request that arrives a byte at a time, with a body, is served whole and in order', async () => {
    const body = Buffer.from('value=slowly');
    const req = Buffer.from(
      `PUT /v2/keys/slow HTTP/1.1\r\nHost: x\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n${body.toString()}`,
    );
    // Starts like the HTTP/2 preface ("P"), then leaves it at the second byte.
    const parts = [...req].map((b) => Buffer.from([b]));
    const answer = await rawExchange(parts, 1);
    expect(answer).toMatch(/^HTTP\/1\.1 200/);
    const json = JSON.parse(answer.slice(answer.indexOf('\r\n\r\n') + 4)) as {
      method: string;
      url: string;
      bytes: number;
    };
    expect(json).toMatchObject({ method: 'PUT', url: '/v2/keys/slow', bytes: body.length });
  });

  it('a large body in many pieces and several requests on one keep-alive connection arrive intact', async () => {
    const big = Buffer.alloc(1 << 20, 0);
    for (let i = 0; i < big.length; i++) big[i] = (i * 31) % 251;
    const sum = big.reduce((a, b) => (a + b) % 65521, 0);
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    try {
      for (let round = 0; round < 3; round++) {
        const answer = await new Promise<string>((resolve, reject) => {
          const r = http.request({ port, host: '127.0.0.1', method: 'POST', path: `/echo/${round}`, agent }, (res) => {
            let t = '';
            res.on('data', (c) => (t += c));
            res.on('end', () => resolve(t));
          });
          r.on('error', reject);
          for (let off = 0; off < big.length; off += 7919) r.write(big.subarray(off, off + 7919));
          r.end();
        });
        expect(JSON.parse(answer)).toEqual({ method: 'POST', url: `/echo/${round}`, bytes: big.length, sum });
      }
    } finally {
      agent.destroy();
    }
  });

  it("bytes that are not HTTP get HTTP/1.1's 400; a connection silent past the limit, or closed half-way through the preface, is dropped and the port serves on", async () => {
    expect(await rawExchange([Buffer.from('\x16\x03\x01garbage\r\n\r\n')])).toMatch(/^HTTP\/1\.1 400/);
    // Silent: dropped after the sniff limit (300 ms here), with no answer.
    const t0 = Date.now();
    expect(await rawExchange([])).toBe('');
    expect(Date.now() - t0).toBeGreaterThanOrEqual(250);
    // Half of the HTTP/2 preface, then the client half-closes.
    await new Promise<void>((resolve) => {
      const s = net.connect(port, '127.0.0.1', () => s.end('PRI * HTTP/2.0\r\n'));
      s.on('close', () => resolve());
      s.on('error', () => resolve());
      s.resume();
    });
    expect((await etcdctl('get', 'greeting', '--print-value-only')).stdout).toBe('hello\n');
  });
});
