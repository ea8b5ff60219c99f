// etcdctl 3.4's `endpoint status` / `endpoint hashkv` send `:authority: http://host:port` (the
// endpoint URL as gRPC target); Node's http2 would reset those streams with PROTOCOL_ERROR, so
// cmux reads HTTP/2 through net/h2-authority.ts. Here: Debian's etcdctl against our port and
// against a real etcd 3.4 prints the same once ids, sizes and indexes are normalized; and a
// hand-built connection (a Huffman `:authority: http://x:1` added to the dynamic table, then
// referenced by index) is served, where the bare injector resets it.
import { execFile } from 'node:child_process';
import http from 'node:http';
import net, { type AddressInfo } from 'node:net';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createMuxServer } from '../../src-main/net/cmux.js';
import { encodeInt, huffmanEncode } from '../../src-main/net/h2-authority.js';
import { minLeaseTTL } from '../../src-main/v3/lease/lessor.js';
import { MemoryBackend } from '../../src-main/v3/memory-backend.js';
import { V3GrpcServer } from '../../src-main/v3/grpc-server.js';
import { ETCD_BIN } from '../helpers/etcd-processes.js';
import { H2_PREFACE, h2Frame } from '../helpers/h2-frames.js';
import { needTools } from '../helpers/window.js';
import { RealEtcd } from './v3-harness.js';

const ETCDCTL = '/usr/bin/etcdctl';
const have = needTools('etcdctl endpoint status with a scheme in the endpoint', [ETCDCTL, ETCD_BIN]);
const run = promisify(execFile);
const cleanEnv = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('ETCD')));

const etcdctl = (endpoint: string, ...args: string[]) =>
  run(ETCDCTL, ['--endpoints', endpoint, '--dial-timeout', '5s', '--command-timeout', '10s', ...args], {
    env: { ...cleanEnv, ETCDCTL_API: '3' },
    timeout: 20_000,
  });

/** `endpoint status` (simple) with what differs between two servers blanked: URL, id, version, db size, raft indexes. */
function normalizeStatusLine(out: string): string[] {
  return out
    .trim()
    .split('\n')
    .map((line) => {
      const f = line.split(', ');
      for (const [i, tag] of [
        [0, 'EP'],
        [1, 'ID'],
        [2, 'VER'],
        [3, 'SIZE'],
        [7, 'N'],
        [8, 'N'],
      ] as const)
        f[i] = tag;
      return f.join(', ');
    });
}

/** `-w json` output with the same fields blanked; the rest (revision, term, hash, …) kept. */
function normalizeJson(out: string): unknown {
  const blank: Record<string, string> = {
    Endpoint: 'EP',
    cluster_id: 'ID',
    member_id: 'ID',
    leader: 'ID',
    version: 'VER',
    dbSize: 'SIZE',
    dbSizeInUse: 'SIZE',
    raftIndex: 'N',
    raftAppliedIndex: 'N',
  };
  const walk = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.map(walk);
    if (v && typeof v === 'object')
      return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, k in blank ? blank[k] : walk(x)]));
    return v;
  };
  return walk(JSON.parse(out));
}

describe.runIf(have)('etcdctl 3.4 with http:// endpoints (an :authority with a scheme)', () => {
  let backend: MemoryBackend;
  let grpcServer: V3GrpcServer;
  let mux: net.Server;
  let bare: net.Server; // the gRPC injector without the fix, to show what it fixes
  let ours: string;
  let real: RealEtcd;

  beforeAll(async () => {
    real = await RealEtcd.start();
    backend = new MemoryBackend({ minLeaseTTL: minLeaseTTL(500, 50), electionMs: 500 });
    grpcServer = new V3GrpcServer(backend);
    mux = createMuxServer({ http1: http.createServer((_q, r) => r.end()), http2: grpcServer.connectionHandler() });
    await new Promise<void>((r) => mux.listen(0, '127.0.0.1', r));
    ours = `http://127.0.0.1:${(mux.address() as AddressInfo).port}`;
    const inject = grpcServer.connectionHandler();
    bare = net.createServer((s) => inject(s));
    await new Promise<void>((r) => bare.listen(0, '127.0.0.1', r));
  }, 60_000);

  afterAll(async () => {
    await new Promise((r) => mux?.close(r));
    await new Promise((r) => bare?.close(r));
    await grpcServer?.close(200);
    backend?.close();
    await real?.stop();
  });

  it('endpoint status and endpoint hashkv (simple and -w json) print what real etcd prints', async () => {
    for (const ep of [ours, real.url]) expect((await etcdctl(ep, 'put', 'k', 'v')).stdout).toBe('OK\n');
    const out = async (ep: string, args: string[]) => (await etcdctl(ep, ...args)).stdout;
    const both = async (...args: string[]) => Promise.all([out(ours, args), out(real.url, args)]);

    const [status, realStatus] = await both('endpoint', 'status');
    expect(status).toMatch(
      new RegExp(`^${ours}, [0-9a-f]{16}, 3\\.4\\.\\d+, \\d+ [kMG]?B, true, false, \\d+, \\d+, \\d+, \\n$`),
    );
    expect(normalizeStatusLine(status)).toEqual(normalizeStatusLine(realStatus));

    const [json, realJson] = await both('endpoint', 'status', '-w', 'json');
    expect(normalizeJson(json)).toEqual(normalizeJson(realJson));

    // Same writes, same hash: compared whole, only the URL differs.
    const [hash, realHash] = await both('endpoint', 'hashkv');
    expect(hash.replace(ours, 'EP')).toBe(realHash.replace(real.url, 'EP'));
    expect(hash).toMatch(/^http:\/\/127\.0\.0\.1:\d+, \d+\n$/);
    const [hashJson, realHashJson] = await both('endpoint', 'hashkv', '-w', 'json');
    expect(normalizeJson(hashJson)).toEqual(normalizeJson(realHashJson));
  });

  it('without a scheme the same commands still work (nothing to rewrite)', async () => {
    const plain = ours.replace('http://', '');
    expect((await etcdctl(plain, 'endpoint', 'status')).stdout).toMatch(new RegExp(`^${plain}, [0-9a-f]{16}, `));
    expect((await etcdctl(plain, 'endpoint', 'hashkv')).stdout).toMatch(new RegExp(`^${plain}, \\d+\\n$`));
  });

  /**
   * Two Maintenance/Status calls on one hand-built connection: the first sends a Huffman
   * `:authority: http://x:1` with incremental indexing (dynamic table entry 62), the second
   * refers to that entry by index. Returns, per stream, the frame types the server sent.
   */
  async function twoStatusCalls(
    port: number,
  ): Promise<Map<number, { types: number[]; rstCode?: number; dataBytes: number }>> {
    const str = (s: string) => Buffer.concat([encodeInt(s.length, 7), Buffer.from(s)]);
    const authority = huffmanEncode(Buffer.from('http://x:1'));
    const common = (auth: Buffer) =>
      Buffer.concat([
        Buffer.from([0x83, 0x86]), // :method POST, :scheme http
        Buffer.from([0x04]),
        str('/etcdserverpb.Maintenance/Status'), // :path, literal without indexing
        auth,
        Buffer.from([0x0f, 0x10]),
        str('application/grpc'), // content-type (static 31)
        Buffer.from([0x00]),
        str('te'),
        str('trailers'),
      ]);
    const first = common(Buffer.concat([Buffer.from([0x41]), encodeInt(authority.length, 7, 0x80), authority]));
    const second = common(Buffer.from([0xbe])); // dynamic index 62: the entry the first block added
    const message = Buffer.from([0, 0, 0, 0, 0]); // an empty StatusRequest, uncompressed
    const streams = new Map<number, { types: number[]; rstCode?: number; dataBytes: number; ended: boolean }>();
    for (const id of [1, 3]) streams.set(id, { types: [], dataBytes: 0, ended: false });
    await new Promise<void>((resolve, reject) => {
      const s = net.connect(port, '127.0.0.1');
      s.setTimeout(10_000, () => s.destroy(new Error('no answer to both streams in 10 s')));
      let inbox = Buffer.alloc(0);
      s.on('data', (b: Buffer) => {
        inbox = Buffer.concat([inbox, b]);
        while (inbox.length >= 9 && inbox.length >= 9 + inbox.readUIntBE(0, 3)) {
          const len = inbox.readUIntBE(0, 3);
          const [type, flags, id] = [inbox.readUInt8(3), inbox.readUInt8(4), inbox.readUInt32BE(5) & 0x7fffffff];
          const payload = inbox.subarray(9, 9 + len);
          inbox = inbox.subarray(9 + len);
          if (type === 0x4 && !(flags & 0x1)) s.write(h2Frame(0x4, 0x1, 0, Buffer.alloc(0))); // SETTINGS ACK
          const st = streams.get(id);
          if (!st) continue;
          st.types.push(type);
          if (type === 0x0) st.dataBytes += payload.length;
          if (type === 0x3) st.rstCode = payload.readUInt32BE(0);
          if (type === 0x3 || ((type === 0x0 || type === 0x1) && flags & 0x1)) st.ended = true;
        }
        if ([...streams.values()].every((x) => x.ended)) s.end();
      });
      s.on('close', () => resolve());
      s.on('error', reject);
      s.write(
        Buffer.concat([
          H2_PREFACE,
          h2Frame(0x4, 0, 0, Buffer.alloc(0)),
          h2Frame(0x1, 0x4, 1, first),
          h2Frame(0x0, 0x1, 1, message),
          h2Frame(0x1, 0x4, 3, second),
          h2Frame(0x0, 0x1, 3, message),
        ]),
      );
    });
    return streams;
  }

  it('a Huffman :authority with a scheme, then the same by dynamic index: both answered (the bare injector resets them)', async () => {
    const fixed = await twoStatusCalls((mux.address() as AddressInfo).port);
    for (const id of [1, 3]) {
      const st = fixed.get(id)!;
      expect(st.rstCode, `stream ${id}: ${st.types}`).toBeUndefined();
      expect(st.types[0]).toBe(0x1); // response HEADERS
      expect(st.dataBytes).toBeGreaterThan(5); // a StatusResponse message
    }
    // Without the rewrite nghttp2 refuses the first block's :authority (PROTOCOL_ERROR = 1).
    const refused = await twoStatusCalls((bare.address() as AddressInfo).port);
    expect(refused.get(1)!.rstCode).toBe(1);
    expect(refused.get(1)!.dataBytes).toBe(0);
  });
});
