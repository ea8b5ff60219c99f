// The peer port's GET /members as etcd serves it, so etcd's own tools read a raftlab cluster: the
// same shape as a real etcd 3.4's answer (ids as JSON numbers, empty fields left out), and a real
// etcd 3.4 running as a v2 proxy in front of a raftlab cluster finds its members and forwards.
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodePeerMembers, encodePeerMembers } from '../../src-main/node/peer/members-wire.js';
import { freePorts } from '../../src-main/net/free-ports.js';
import { nth, one } from '../helpers/checked.js';
import { TestCluster, until } from '../helpers/cluster.js';
import { ETCD_BIN, EtcdCluster } from '../helpers/etcd-processes.js';
import { needTools } from '../helpers/window.js';

const have = needTools("etcd 3.4 reading raftlab's /members", [ETCD_BIN]);
const clean = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('ETCD')));

/** The shape of one answer: each member's keys in order and the JSON kind of its id. */
const shape = (text: string) =>
  [...text.matchAll(/\{([^{}]*)\}/g)].map((m) =>
    [...(m[1] ?? '').matchAll(/"(\w+)":(.)/g)]
      .map(([, k, first]) => `${k}:${first === '"' ? 'string' : first === '[' ? 'array' : 'number'}`)
      .join(','),
  );

describe("the peer port's member list", () => {
  it('writes ids over 2^53 exactly and reads them back; reads the hex ids older raftlab nodes sent', () => {
    const m = { id: 'fedcba9876543210', name: 'n1', peerURLs: ['http://127.0.0.1:1'], clientURLs: [] };
    const text = encodePeerMembers([m, { ...m, id: '1', name: '' }]);
    expect(text).toBe(
      '[{"id":18364758544493064720,"peerURLs":["http://127.0.0.1:1"],"name":"n1"},{"id":1,"peerURLs":["http://127.0.0.1:1"]}]',
    );
    expect(decodePeerMembers(text)).toEqual([m, { ...m, id: '1', name: '' }]);
    expect(
      one(decodePeerMembers('[{"id":"62ff244661b78aea","name":"a","peerURLs":[],"clientURLs":["http://x:1"]}]')).id,
    ).toBe('62ff244661b78aea');
    expect(() => decodePeerMembers('{"id":1}')).toThrow(/not a JSON array/);
    expect(() => decodePeerMembers('[{"id":"zz"}]')).toThrow(/no valid id/);
  });
});

describe.runIf(have)('etcd 3.4 and a raftlab cluster: GET /members', () => {
  let ours: TestCluster;
  let etcd: EtcdCluster;
  let proxy: ChildProcess | undefined;
  let proxyDir: string;
  const proxyOutput: string[] = [];

  beforeAll(async () => {
    [ours, etcd] = await Promise.all([TestCluster.create(2), EtcdCluster.create(1)]);
    etcd.start('e1', etcd.initialCluster(1));
    proxyDir = fs.mkdtempSync(path.join(os.tmpdir(), 'raftlab-etcd-proxy-'));
  }, 60_000);

  afterAll(async () => {
    if (proxy?.pid && proxy.exitCode === null) {
      const exited = new Promise((r) => proxy!.once('exit', r));
      process.kill(proxy.pid, 'SIGKILL');
      await exited;
    }
    await ours?.destroy();
    await etcd?.destroy();
    fs.rmSync(proxyDir, { recursive: true, force: true });
  });

  const members = async (peerURL: string) =>
    (await fetch(`${peerURL}/members`, { signal: AbortSignal.timeout(3000) })).text();

  it('answers in the shape a real etcd 3.4 answers in', async () => {
    const e = etcd.spec('e1');
    const theirs = await until(
      'etcd published',
      async () => {
        const t = await members(e.peerURL).catch(() => '');
        return t.includes('clientURLs') ? t : undefined;
      },
      20_000,
    );
    const mine = await until(
      'raftlab published',
      async () => {
        const t = await members(nth(ours.specs, 0).peerURL).catch(() => '');
        return (t.match(/clientURLs/g) ?? []).length === 2 ? t : undefined;
      },
      20_000,
    );
    expect(shape(theirs)).toEqual(['id:number,peerURLs:array,name:string,clientURLs:array']);
    expect(shape(mine)).toEqual([
      'id:number,peerURLs:array,name:string,clientURLs:array',
      'id:number,peerURLs:array,name:string,clientURLs:array',
    ]);
  }, 60_000);

  it('a real etcd 3.4 v2 proxy in front of the raftlab cluster finds its members and forwards to them', async () => {
    const [port] = await freePorts(1);
    const url = `http://127.0.0.1:${port}`;
    proxy = spawn(
      ETCD_BIN,
      [
        '--proxy',
        'on',
        '--name',
        'p',
        '--data-dir',
        proxyDir,
        '--listen-client-urls',
        url,
        '--initial-cluster',
        ours.specs.map((s) => `${s.name}=${s.peerURL}`).join(','),
        '--proxy-refresh-interval',
        '500',
      ],
      { env: clean, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    proxy.stdout!.on('data', (b: Buffer) => proxyOutput.push(b.toString()));
    proxy.stderr!.on('data', (b: Buffer) => proxyOutput.push(b.toString()));
    const put = await until(
      'a write through the etcd proxy',
      async () => {
        const r = await fetch(`${url}/v2/keys/through-etcd-proxy`, {
          method: 'PUT',
          body: new URLSearchParams({ value: 'yes' }),
          signal: AbortSignal.timeout(3000),
        }).catch(() => undefined);
        return r && r.status === 201 ? r : undefined;
      },
      20_000,
    ).catch((err: Error) => {
      throw new Error(`${err.message}; etcd proxy said:\n${proxyOutput.join('')}`);
    });
    expect(put.status).toBe(201);
    const direct = await fetch(`${ours.url('n2')}/v2/keys/through-etcd-proxy?quorum=true`);
    expect(((await direct.json()) as { node: { value: string } }).node.value).toBe('yes');
    expect(proxyOutput.join('')).not.toMatch(/could not unmarshal cluster response/);
  }, 60_000);
});
