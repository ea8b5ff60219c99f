// The tutorial's other two ways to bootstrap, end to end with real processes: `raftlab node`
// members finding each other through etcd's v2 discovery (a real etcd 3.4 as the service,
// Debian's etcd-discovery service in front of one, then a raftlab cluster as the service) and
// through DNS SRV records (Debian's dnsmasq on loopback).
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { until } from '../helpers/cluster.js';
import { DNSMASQ_BIN, Dnsmasq } from '../helpers/dnsmasq.js';
import { ETCD_DISCOVERY_BIN, ETCD_DISCOVERY_CONF, EtcdDiscoveryService } from '../helpers/etcd-discovery.js';
import { ETCD_BIN, EtcdCluster } from '../helpers/etcd-processes.js';
import { ProcessCluster } from '../helpers/processes.js';
import { needTools } from '../helpers/window.js';
import { memberId } from '../../src-main/node/ids.js';

const ETCDCTL = '/usr/bin/etcdctl';
const HAVE = needTools('discovery bootstrap with real etcd, etcdctl and dnsmasq', [ETCD_BIN, ETCDCTL, DNSMASQ_BIN]);
const HAVE_SERVICE = HAVE && needTools("discovery through Debian's etcd-discovery service", [ETCD_DISCOVERY_BIN, ETCD_DISCOVERY_CONF]);

function etcdctl(endpoint: string, ...args: string[]): string {
  return execFileSync(ETCDCTL, ['--endpoints', endpoint, ...args], { env: { ...process.env, ETCDCTL_API: '2' }, encoding: 'utf8', timeout: 10_000 });
}

async function putSize(url: string, size: number): Promise<void> {
  const res = await fetch(`${url}/_config/size`, { method: 'PUT', body: new URLSearchParams({ value: String(size) }) });
  expect([200, 201]).toContain(res.status);
}

/**
 * Three members by the discovery token `token` (its size already 3; n3 is given it as
 * ETCD_DISCOVERY, the others as --discovery), then a fourth that finds it full, then a restart
 * that ignores the token, then a member that lost its data dir and is told it registered before.
 */
async function bootstrapByDiscovery(token: string): Promise<void> {
  const c = await ProcessCluster.create(3);
  try {
    for (const n of ['n1', 'n2']) c.start(n, {}, ['--name', n, '--discovery', token]);
    c.start('n3', { ETCD_DISCOVERY: token }, ['--name', 'n3']);
    const leader = await c.leader(30_000);
    const list = etcdctl(c.spec(leader).clientURL, 'member', 'list');
    expect(list.trim().split('\n')).toHaveLength(3);
    for (const n of ['n1', 'n2', 'n3']) expect(list).toContain(`name=${n} peerURLs=${c.spec(n).peerURL} clientURLs=${c.spec(n).clientURL}`);
    expect(list).not.toContain('unstarted');
    etcdctl(c.spec('n1').clientURL, 'set', '/by-discovery', 'yes');
    expect(etcdctl(c.spec('n3').clientURL, 'get', '/by-discovery').trim()).toBe('yes');

    // The directory holds the three registrations, name=peerURL each, under each member's id
    // (etcd's: from its peer URLs, with the discovery URL as the cluster token).
    const dir = (await (await fetch(token)).json()) as { node: { nodes: { key: string; value?: string }[] } };
    const regs = dir.node.nodes.filter((n) => !n.key.endsWith('/_config')).map((n) => [n.key.split('/').pop(), n.value]);
    expect(regs.sort()).toEqual(['n1', 'n2', 'n3'].map((n) => [memberId([c.spec(n).peerURL], token), `${n}=${c.spec(n).peerURL}`]).sort());
    for (const n of ['n1', 'n2', 'n3']) expect(c.output(n).join('\n')).toContain('N | discovery: found 3 needed peer(s)');

    // A fourth member finds the cluster full and exits, as etcd does with --discovery-fallback exit.
    c.start('n4', {}, ['--name', 'n4', '--discovery', token, '--discovery-fallback', 'exit']);
    expect(await c.exited('n4', 20_000)).toBe(1);
    expect(c.output('n4').join('\n')).toContain('E | etcdmain: failed to join discovery cluster (discovery: cluster is full)');

    // A restarted member has data: the token is ignored, and it rejoins.
    await c.kill9('n2');
    c.start('n2', {}, ['--name', 'n2', '--discovery', token]);
    await until('the token ignored', () => c.output('n2').some((l) => l.includes('discovery token ignored since a cluster has already been initialized')), 15_000);
    await c.leader(20_000);
    if (!c.alive('n2')) throw new Error(`n2 exited after its restart:\n${c.output('n2').slice(-8).join('\n')}`);
    expect(etcdctl(c.spec('n2').clientURL, 'get', '/by-discovery').trim()).toBe('yes');

    // A member that lost its data dir registers again: etcd's duplicate id, with its advice.
    await c.kill9('n3');
    const n3Dir = path.join(c.dir, 'n3.etcd');
    fs.rmSync(n3Dir, { recursive: true, force: true });
    c.start('n3', {}, ['--name', 'n3', '--discovery', token]);
    expect(await c.exited('n3', 20_000)).toBe(1);
    const n3 = c.output('n3').join('\n');
    expect(n3).toContain(`E | etcdmain: member "n3" has previously registered with discovery service token (${token}).`);
    expect(n3).toContain(`E | etcdmain: But etcd could not find valid cluster configuration in the given data dir (${n3Dir}).`);
  } finally {
    await c.destroy();
  }
}

describe.runIf(HAVE)('bootstrap by discovery and DNS', () => {
  let etcd: EtcdCluster;
  beforeAll(async () => {
    etcd = await EtcdCluster.create(1);
    etcd.start('e1', etcd.initialCluster(1));
    await until('etcd up', async () => (await fetch(`${etcd.spec('e1').clientURL}/health`).catch(() => undefined))?.ok === true, 20_000);
  });
  afterAll(async () => etcd?.destroy());

  it('etcd discovery with a real etcd 3.4 as the service: three members, full, restart', async () => {
    const token = `${etcd.spec('e1').clientURL}/v2/keys/discovery/${Date.now().toString(16)}`;
    await putSize(token, 3);
    await bootstrapByDiscovery(token);
  });

  it.runIf(HAVE_SERVICE)("Debian's etcd-discovery service in front of the real etcd 3.4: a token from /new?size=3, the same flow through it", async () => {
    const store = etcd.spec('e1').clientURL;
    const service = await EtcdDiscoveryService.start(store);
    try {
      const token = await service.newToken(3);
      // discovery.etcd.io's tokens: 32 hex digits under the service's own URL, the size in etcd.
      expect(token).toMatch(new RegExp(`^${service.url}/[0-9a-f]{32}$`));
      const hex = token.slice(service.url.length + 1);
      expect(etcdctl(store, 'get', `/_etcd/registry/${hex}/_config/size`).trim()).toBe('3');
      await bootstrapByDiscovery(token);
      // The registrations went through the service (its access log) into etcd's registry.
      const stored = etcdctl(store, 'ls', `/_etcd/registry/${hex}`).trim().split('\n');
      expect(stored).toHaveLength(3);
      for (const key of stored) {
        expect(service.output.some((l) => l.includes(`"PUT /${hex}/${key.split('/').pop()}?prevExist=false HTTP/1.1" 201`))).toBe(true);
      }
    } finally {
      await service.stop();
    }
  });

  it('a token without its size key: the member refuses to start with etcd\'s words', async () => {
    const c = await ProcessCluster.create(1);
    try {
      c.start('n1', {}, ['--name', 'n1', '--discovery', `${etcd.spec('e1').clientURL}/v2/keys/discovery/nosize${Date.now()}`]);
      expect(await c.exited('n1', 20_000)).toBe(1);
      const out = c.output('n1').join('\n');
      expect(out).toContain('E | etcdmain: failed to join discovery cluster (discovery: size key not found)');
      expect(out).toContain('please generate a new discovery token and try to bootstrap again.');
    } finally {
      await c.destroy();
    }
  });

  it('a raftlab cluster serves as the discovery service for another', async () => {
    const service = await ProcessCluster.create(1);
    try {
      service.start('n1', {}, ['--name', 'n1', '--initial-cluster', service.initialCluster(1)]);
      await service.leader(20_000);
      const token = `${service.spec('n1').clientURL}/v2/keys/discovery/${Date.now().toString(16)}`;
      await putSize(token, 3);
      await bootstrapByDiscovery(token);
    } finally {
      await service.destroy();
    }
  });

  it('DNS SRV discovery: the members find themselves in the records; a member not in them is told so', async () => {
    const c = await ProcessCluster.create(3);
    const port = (u: string) => Number(new URL(u).port);
    const dns = await Dnsmasq.start('example.test', ['n1', 'n2', 'n3'].map((n) => ({ service: '_etcd-server._tcp.example.test', target: '127.0.0.1', port: port(c.spec(n).peerURL) })));
    try {
      const env = { RAFTLAB_DNS_SERVER: dns.server };
      for (const n of ['n1', 'n2', 'n3']) c.start(n, env, ['--name', n, '--discovery-srv', 'example.test']);
      const leader = await c.leader(30_000);
      const list = etcdctl(c.spec(leader).clientURL, 'member', 'list');
      for (const n of ['n1', 'n2', 'n3']) expect(list).toContain(`name=${n} peerURLs=${c.spec(n).peerURL}`);
      expect(c.output('n1').join('\n')).toContain(`N | embed: got bootstrap from DNS for etcd-server at n1=${c.spec('n1').peerURL}`);
      c.start('n4', env, ['--name', 'n4', '--discovery-srv', 'example.test']);
      expect(await c.exited('n4', 20_000)).toBe(1);
      expect(c.output('n4').join('\n')).toContain('C | etcdmain: cannot find local etcd member "n4" in SRV records');
    } finally {
      await dns.stop();
      await c.destroy();
    }
  });
});
