// `raftlab node` opens its ports before it loads the v3 API (gRPC, its .proto files, the JSON
// gateway: most of its start-up time), then loads it without being asked, and a v3 client served
// at once still gets its answers. Watched from inside a real process: a preloaded module notes
// on stderr when a port starts listening and when gRPC's package is first required.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { until } from '../helpers/cluster.js';
import { ProcessCluster } from '../helpers/processes.js';
import { run } from '../helpers/run.js';

const ETCDCTL = '/usr/bin/etcdctl';
if (!fs.existsSync(ETCDCTL)) {
  if (process.env.CI) throw new Error(`${ETCDCTL} is missing: .ci/run must install Debian's etcd-client`);
  console.warn(`SKIPPED: the v3 checks need Debian's etcd-client (${ETCDCTL}); apt-get install etcd-client`);
}

const WATCHER = `
const net = require('node:net');
const Module = require('node:module');
const say = (what) => process.stderr.write('WATCH ' + what + '\\n');
const listen = net.Server.prototype.listen;
net.Server.prototype.listen = function (...args) {
  this.once('listening', () => say('listening ' + this.address().port));
  return listen.apply(this, args);
};
const load = Module._load;
let told = false;
Module._load = function (request, ...rest) {
  if (!told && /@grpc[\\\\/]grpc-js/.test(request)) { told = true; say('loaded @grpc/grpc-js'); }
  return load.call(this, request, ...rest);
};
`;

let dir: string;
let cluster: ProcessCluster;
beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'raftlab-fast-start-'));
  fs.writeFileSync(path.join(dir, 'watch.cjs'), WATCHER);
  cluster = await ProcessCluster.create(1);
});
afterAll(async () => {
  await cluster?.destroy();
  fs.rmSync(dir, { recursive: true, force: true });
});

const watched = () =>
  cluster
    .output('n1')
    .filter((l) => l.startsWith('WATCH '))
    .map((l) => l.slice('WATCH '.length));

describe('raftlab node: ports first, the v3 API after', () => {
  it('listens on its peer and client ports before it loads gRPC, then loads it unasked', async () => {
    cluster.start('n1', { NODE_OPTIONS: `--require ${path.join(dir, 'watch.cjs')}` }, [
      '--name',
      'n1',
      '--initial-cluster',
      cluster.initialCluster(1),
    ]);
    const spec = cluster.spec('n1');
    const ports = [new URL(spec.peerURL).port, new URL(spec.clientURL).port];
    const seen = await until('gRPC loaded after the ports opened', () => {
      const w = watched();
      return w.includes('loaded @grpc/grpc-js') ? w : undefined;
    });
    const grpcAt = seen.indexOf('loaded @grpc/grpc-js');
    for (const port of ports) {
      const at = seen.indexOf(`listening ${port}`);
      expect(at, `port ${port} listening before gRPC is loaded: ${seen.join(' | ')}`).toBeGreaterThanOrEqual(0);
      expect(at).toBeLessThan(grpcAt);
    }
  });

  it.runIf(fs.existsSync(ETCDCTL))('serves v3 (etcdctl, gRPC) and v2 from that start', async () => {
    await cluster.leader();
    const endpoint = cluster.spec('n1').clientURL;
    const v3 = (...args: string[]) =>
      run(ETCDCTL, ['--endpoints', endpoint, ...args], { env: { ETCDCTL_API: '3' }, timeoutMs: 20_000 });
    const put = await v3('put', 'fast', 'start');
    expect(put.err).toBe('');
    expect(put.out.trim()).toBe('OK');
    const get = await v3('get', 'fast', '--print-value-only');
    expect(get.out.trim()).toBe('start');
    const v2 = await fetch(`${endpoint}/v2/keys/fast2`, { method: 'PUT', body: new URLSearchParams({ value: 'x' }) });
    expect(v2.status).toBe(201);
    // The JSON gateway reads rpc.proto at its first request.
    const range = await fetch(`${endpoint}/v3/kv/range`, {
      method: 'POST',
      body: JSON.stringify({ key: Buffer.from('fast').toString('base64') }),
    });
    const body = (await range.json()) as { kvs?: { value: string }[] };
    expect(Buffer.from(body.kvs?.[0]?.value ?? '', 'base64').toString()).toBe('start');
  });
});
