// The window's "New cluster" by etcd's three ways, on the supervisor (worker threads, real
// ports): etcd discovery through a raftlab node the app starts and through a real etcd 3.4,
// one member at a time, and DNS SRV records served by dnsmasq. What is checked is what the
// window is told (the discovery directory, the records, each member's lines) and what real
// clients (etcdctl, curl) see of the cluster.
import { execFile } from 'node:child_process';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { promisify } from 'node:util';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Supervisor } from '../../src-main/cluster/supervisor.js';
import { memberId } from '../../src-main/node/ids.js';
import { agreedLeader, type ClusterState, type ExtraMember } from '../../src-shared/cluster-state.js';
import type { ServerEvent } from '../../src-shared/protocol.js';
import { lastState, recordedSupervisor } from '../helpers/app-events.js';
import { until } from '../helpers/cluster.js';
import { DNSMASQ_BIN } from '../helpers/dnsmasq.js';
import { ETCD_BIN, EtcdCluster } from '../helpers/etcd-processes.js';
import { needTools } from '../helpers/window.js';

const ETCDCTL = '/usr/bin/etcdctl';
const CURL = '/usr/bin/curl';
const HAVE = needTools('bootstrap methods in the app, checked with etcdctl and curl', [ETCD_BIN, ETCDCTL, CURL]);
const HAVE_DNS = needTools('DNS SRV bootstrap in the app', [DNSMASQ_BIN]);

async function etcdctl(api: '2' | '3', endpoint: string, ...args: string[]): Promise<string> {
  const { stdout } = await promisify(execFile)(ETCDCTL, ['--endpoints', endpoint, ...args], {
    env: { ...process.env, ETCDCTL_API: api },
    encoding: 'utf8',
    timeout: 10_000,
  });
  return stdout;
}

let sup: Supervisor;
let events: ServerEvent[];
let states: ClusterState[];
const state = () => lastState(states);
const logOf = (node: string) =>
  events.filter((e) => e.type === 'log' && e.node === node).map((e) => (e as { line: string }).line.slice(27));
/** Waits until `node` has logged every one of these lines (lines reach the window in batches). */
const logged = (node: string, ...lines: string[]) =>
  until(`${node} logged ${JSON.stringify(lines)}`, () => lines.every((l) => logOf(node).includes(l)), 15_000).catch(
    (err: Error) => {
      throw new Error(`${err.message}\n${logOf(node).join('\n')}`);
    },
  );

beforeEach(() => {
  ({ sup, events, states } = recordedSupervisor());
});
afterEach(async () => {
  await sup.stop();
});

/**
 * n1, n2 and n3 started, as Debian's etcdctl lists them once each has published its name (with
 * DNS a member first knows the others by etcd's temporary names, "0" and "1").
 */
async function threeStarted(clientURL: string): Promise<void> {
  await until(
    'n1, n2 and n3 started',
    async () => {
      const out = await etcdctl('3', clientURL, 'member', 'list').catch(() => '');
      const rows = out.trim().split('\n').filter(Boolean);
      const names = rows.map((r) => r.split(', ')[2]).sort();
      return (
        rows.every((r) => r.includes(', started, ') && /, http:\/\/127\.0\.0\.1:\d+, false$/.test(r)) &&
        names.join() === 'n1,n2,n3'
      );
    },
    30_000,
  );
}

describe.runIf(HAVE)('a new cluster by etcd discovery', () => {
  it('through a raftlab node the app starts: the directory fills in order, the cluster forms; extra members exit or proxy', async () => {
    await sup.start(3, { bootstrap: 'discovery' });
    await until('an agreed leader', () => agreedLeader(state()), 20_000);
    const b = state().bootstrap!;
    expect(b.method).toBe('discovery');
    expect(b.size).toBe(3);
    expect(b.service).toMatch(/^a raftlab node the app started for it, at http:\/\/127\.0\.0\.1:\d+$/);
    expect(b.flags).toBe(`--discovery ${b.url}`);
    // The window saw the directory fill one registration at a time, n1 first.
    const counts = states.map((s) => s.bootstrap?.registrations?.length ?? 0);
    for (const k of [1, 2, 3]) expect(counts).toContain(k);
    const nodes = state().nodes;
    expect(b.registrations!.map((r) => r.value)).toEqual(nodes.map((n) => `${n.name}=${n.peerURL}`));
    expect(b.registrations!.map((r) => r.id)).toEqual(nodes.map((n) => memberId([n.peerURL], b.url!)));
    // The directory as the service itself serves it (etcdctl v2 on the app's raftlab node).
    const service = new URL(b.url!).origin;
    const listed = (await etcdctl('2', service, 'ls', new URL(b.url!).pathname.replace('/v2/keys', '')))
      .trim()
      .split('\n')
      .sort();
    // (`_config` is a hidden key in v2: not listed.)
    expect(listed).toEqual(b.registrations!.map((r) => `/discovery/${b.url!.split('/').pop()}/${r.id}`).sort());
    // Each member logged etcd's discovery lines: n1 waited for two more.
    await logged(
      'n1',
      `N | discovery: found self ${b.registrations![0]!.id} in the cluster`,
      'N | discovery: found 1 peer(s), waiting for 2 more',
    );
    await threeStarted(nodes[0]!.clientURL);

    // A fourth with --discovery-fallback exit: etcd's "cluster is full", and it is gone.
    const exited = (await sup.execute({ type: 'bootstrapExtra', fallback: 'exit' })) as ExtraMember;
    expect(exited).toEqual({ name: 'n4', outcome: 'exited', reason: 'discovery: cluster is full' });
    await logged(
      'n4',
      'E | etcdmain: failed to join discovery cluster (discovery: cluster is full)',
      `I | etcdmain: discovery token ${b.url} was used, but failed to bootstrap the cluster.`,
    );
    // A fifth with etcd's default, proxy: it forwards client requests to the cluster.
    const proxy = (await sup.execute({ type: 'bootstrapExtra', fallback: 'proxy' })) as ExtraMember;
    expect(proxy).toMatchObject({
      name: 'n5',
      outcome: 'proxy',
      clientURL: expect.stringMatching(/^http:\/\/127\.0\.0\.1:\d+$/),
    });
    await logged(
      'n5',
      'N | etcdmain: discovery cluster full, falling back to proxy',
      'N | etcdmain: proxy: this proxy supports v2 API only!',
    );
    await until(
      'the proxy forwarding',
      async () => (await fetch(`${proxy.clientURL}/v2/keys/`).catch(() => undefined))?.ok === true,
      15_000,
    );
    const { stdout } = await promisify(execFile)(
      CURL,
      ['-s', '-XPUT', `${proxy.clientURL}/v2/keys/through-proxy`, '-d', 'value=yes'],
      { encoding: 'utf8' },
    );
    expect(JSON.parse(stdout)).toMatchObject({ action: 'set', node: { key: '/through-proxy', value: 'yes' } });
    expect((await etcdctl('2', nodes[2]!.clientURL, 'get', '/through-proxy')).trim()).toBe('yes');
    expect(state().bootstrap!.extras).toEqual([exited, proxy]);
    // The extras are no members: the cluster still has three.
    expect(state().nodes.map((n) => n.name)).toEqual(['n1', 'n2', 'n3']);
  });

  it('through a real etcd 3.4 as the service, one member at a time: each registers and waits until the third comes', async () => {
    const etcd = await EtcdCluster.one();
    try {
      const service = etcd.spec('e1').clientURL;
      await sup.start(3, { bootstrap: 'discovery', discoveryService: service, oneByOne: true });
      expect(sup.snapshot().nodes.map((n) => n.status)).toEqual(['unstarted', 'unstarted', 'unstarted']);
      const url = sup.snapshot().bootstrap!.url!;
      expect(url).toMatch(new RegExp(`^${service}/v2/keys/discovery/raftlab-1-[0-9a-f]{8}$`));
      expect(sup.snapshot().bootstrap!.service).toBe(service);
      // The token's size, as etcd's own directory holds it.
      expect(
        (await etcdctl('2', service, 'get', `${new URL(url).pathname.replace('/v2/keys', '')}/_config/size`)).trim(),
      ).toBe('3');
      const starts: Promise<unknown>[] = [];
      for (const [i, name] of ['n1', 'n2'].entries()) {
        starts.push(sup.execute({ type: 'restartNode', name }));
        await until(
          `${name} registered`,
          () =>
            state().bootstrap?.registrations?.length === i + 1 &&
            logOf(name).includes(`N | discovery: found ${i + 1} peer(s), waiting for ${2 - i} more`),
          15_000,
        );
      }
      // Two wait: still starting, no leader, nothing formed.
      expect(sup.snapshot().nodes.map((n) => n.status)).toEqual(['starting', 'starting', 'unstarted']);
      starts.push(sup.execute({ type: 'restartNode', name: 'n3' }));
      await Promise.all(starts);
      await until('an agreed leader', () => agreedLeader(state()), 20_000);
      await logged('n1', 'N | discovery: found 3 needed peer(s)');
      await threeStarted(state().nodes[1]!.clientURL);
      // A restarted member ignores the token, as etcd does.
      await sup.execute({ type: 'killNode', name: 'n2' });
      await sup.execute({ type: 'restartNode', name: 'n2' });
      await until('n2 back', () => state().nodes[1]!.status === 'alive', 15_000);
      await logged(
        'n2',
        `W | etcdmain: discovery token ignored since a cluster has already been initialized. Valid log found at "${state().nodes[1]!.dataDir}/member"`,
      );
    } finally {
      await etcd.destroy();
    }
  });

  it('an unreachable service, or one that is no v2 keys API, is refused before the running cluster is touched; static refuses the discovery options', async () => {
    await sup.start(1);
    const before = sup.snapshot().generation;
    await expect(sup.start(3, { bootstrap: 'discovery', discoveryService: 'http://127.0.0.1:1' })).rejects.toThrow(
      /^the discovery service at http:\/\/127\.0\.0\.1:1 cannot be reached: /,
    );
    // Something that answers HTTP, but not as etcd's keys API (as an etcd 3.4 without --enable-v2 answers 404).
    const notKeys = http.createServer((_req, res) =>
      res.writeHead(404, { 'Content-Type': 'text/plain' }).end('404 page not found\n'),
    );
    await new Promise<void>((r) => notKeys.listen(0, '127.0.0.1', r));
    const base = `http://127.0.0.1:${(notKeys.address() as AddressInfo).port}`;
    try {
      await expect(sup.start(3, { bootstrap: 'discovery', discoveryService: base })).rejects.toThrow(
        `${base}/v2/keys/ is not an etcd v2 keys API (404); etcd 3.4 serves it with --enable-v2`,
      );
    } finally {
      notKeys.close();
    }
    expect(sup.snapshot().generation).toBe(before);
    expect(sup.snapshot().nodes.map((n) => n.status)).toEqual(['alive']);
    await expect(sup.start(3, { oneByOne: true })).rejects.toThrow(
      'a discovery service and one-by-one starts are for a cluster bootstrapped by discovery or DNS',
    );
    await expect(sup.execute({ type: 'bootstrapExtra' })).rejects.toThrow(/bootstrapped statically/);
  });
});

describe.runIf(HAVE && HAVE_DNS)('a new cluster by DNS SRV records', () => {
  it('dnsmasq on loopback serves one record per member; each finds itself; a member not in them is told so', async () => {
    await sup.start(3, { bootstrap: 'dns' });
    await until('an agreed leader', () => agreedLeader(state()), 20_000);
    const b = state().bootstrap!;
    expect(b).toMatchObject({
      method: 'dns',
      domain: 'raftlab.test',
      flags: '--discovery-srv raftlab.test',
      dnsServer: expect.stringMatching(/^127\.0\.0\.1:\d+$/),
    });
    expect(b.records).toEqual(
      state().nodes.map((n) => ({
        service: '_etcd-server._tcp.raftlab.test',
        target: '127.0.0.1',
        port: Number(new URL(n.peerURL).port),
      })),
    );
    // Each member named itself among the records (the others get etcd's temporary names).
    for (const n of state().nodes)
      await logged(n.name, `N | embed: got bootstrap from DNS for etcd-server at ${n.name}=${n.peerURL}`);
    await threeStarted(state().nodes[0]!.clientURL);
    const extra = (await sup.execute({ type: 'bootstrapExtra' })) as ExtraMember;
    expect(extra).toEqual({
      name: 'n4',
      outcome: 'exited',
      reason: 'cannot find local etcd member "n4" in SRV records',
    });
    await logged('n4', 'C | etcdmain: cannot find local etcd member "n4" in SRV records');
  });
});
