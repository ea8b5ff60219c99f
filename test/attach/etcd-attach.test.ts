// Attaching to clusters raftlab did not start, through their client API only: a real etcd 3.4
// cluster (Debian's etcd-server, v3 JSON gateway), a `raftlab node` cluster (v2 only), and
// endpoints that cannot be used (nothing listening, a silent port, https).
import fs from 'node:fs';
import net from 'node:net';
import http from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { attachMain } from '../../src-main/attach/cli.js';
import { clusterAccess } from '../../src-main/attach/credentials.js';
import { AttachError, EtcdObserver, parseEndpoints } from '../../src-main/attach/etcd-observer.js';
import { freePorts } from '../../src-main/net/free-ports.js';
import type { AttachedView, AttachEvent } from '../../src-shared/attach.js';
import { toClusterState } from '../../src-shared/attached-cluster.js';
import { agreedLeader } from '../../src-shared/cluster-state.js';
import { nth } from '../helpers/checked.js';
import { until } from '../helpers/cluster.js';
import { ETCD_BIN, EtcdCluster } from '../helpers/etcd-processes.js';
import { ProcessCluster } from '../helpers/processes.js';

const haveEtcd = fs.existsSync(ETCD_BIN);
if (!haveEtcd) {
  // CI installs etcd-server; a developer machine without it is told why these tests do not run.
  if (process.env.CI) throw new Error(`${ETCD_BIN} is missing: .ci/run must install Debian's etcd-server`);
  console.warn(`SKIPPED: the etcd attach tests need Debian's etcd-server (${ETCD_BIN}); apt-get install etcd-server`);
}

/** Everything the observer emits, kept for assertions. */
function record(obs: EtcdObserver): AttachEvent[] {
  const events: AttachEvent[] = [];
  obs.on('event', (e) => events.push(e));
  return events;
}

function viewUntil(
  obs: EtcdObserver,
  what: string,
  pred: (v: AttachedView) => unknown,
  timeoutMs = 10_000,
): Promise<AttachedView> {
  return until(
    what,
    () => {
      const v = obs.view();
      return pred(v) ? v : undefined;
    },
    timeoutMs,
  );
}

function eventUntil<T extends AttachEvent['type']>(
  events: AttachEvent[],
  what: string,
  type: T,
  pred: (e: Extract<AttachEvent, { type: T }>) => unknown = () => true,
  timeoutMs = 10_000,
) {
  return until(
    what,
    () =>
      events.find(
        (e): e is Extract<AttachEvent, { type: T }> =>
          e.type === type && !!pred(e as Extract<AttachEvent, { type: T }>),
      ),
    timeoutMs,
  );
}

const started = (v: AttachedView, n: number) => v.members.length === n && v.members.every((m) => m.started);

describe.skipIf(!haveEtcd)('attached to a real etcd 3.4 cluster (v3 JSON gateway)', () => {
  let etcd: EtcdCluster;
  let obs: EtcdObserver;
  let events: AttachEvent[];
  const others: EtcdObserver[] = [];

  beforeAll(async () => {
    etcd = await EtcdCluster.create(3);
    for (const n of ['e1', 'e2', 'e3']) etcd.start(n);
    // One URL is enough: the other members' client URLs come from the member list.
    obs = new EtcdObserver(etcd.spec('e1').clientURL, { pollMs: 200, watchPrefix: '/attach/' });
    events = record(obs);
    obs.start();
  });

  afterAll(async () => {
    await Promise.all([obs?.stop(), ...others.map((o) => o.stop())]);
    await etcd?.destroy();
  });

  it('shows the three members, their status and the leader', async () => {
    const v = await viewUntil(
      obs,
      'three started members, all answering, and a leader',
      (v) =>
        started(v, 3) &&
        v.endpoints.length === 3 &&
        v.endpoints.every((e) => e.reachable && e.raftTerm && e.health === 'healthy') &&
        v.leader,
      20_000,
    );
    expect(v.source).toBe('attached');
    expect(v.members.map((m) => m.name).sort()).toEqual(['e1', 'e2', 'e3']);
    expect(v.clusterId).toMatch(/^[0-9a-f]+$/);
    expect(
      v.endpoints
        .filter((e) => e.origin === 'discovered')
        .map((e) => e.url)
        .sort(),
    ).toEqual([etcd.spec('e2').clientURL, etcd.spec('e3').clientURL].sort());
    for (const e of v.endpoints) {
      expect(e).toMatchObject({ api: 'v3', health: 'healthy', unavailable: [] });
      expect(e.version).toMatch(/^3\.4\./);
      expect(e.memberId).toBe(v.members.find((m) => m.name === e.name)!.id);
      expect(e.raftIndex).toBeGreaterThan(0);
      expect(e.raftAppliedIndex).toBeGreaterThan(0);
      expect(e.dbSize).toBeGreaterThan(0);
    }
    expect(v.leader!.name).toMatch(/^e[123]$/);
    expect(v.endpoints.filter((e) => e.role === 'leader').map((e) => e.name)).toEqual([v.leader!.name]);

    // The existing views can draw it: three alive nodes agreeing on one leader.
    const state = toClusterState(v);
    expect(state.nodes.map((n) => n.status)).toEqual(['alive', 'alive', 'alive']);
    expect(agreedLeader(state)?.name).toBe(v.leader!.name);
    expect(state.nodes.every((n) => n.term === v.leader!.term && n.log.length === 0 && n.dataDir === '')).toBe(true);
  });

  it('puts, gets and deletes keys, and sees the changes under its prefix in the watch', async () => {
    await viewUntil(obs, 'the watch is created', (v) => v.watch?.next !== undefined && v.watch.endpoint);
    const a = await obs.put('/attach/a', '1');
    await obs.put('/attach/b', 'two');
    await obs.put('/elsewhere', 'not watched');
    expect(await obs.delete('/attach/a')).toEqual({ deleted: 1 });
    expect(await obs.get('/attach/b')).toMatchObject({ value: 'two' });
    expect(await obs.get('/attach/a')).toBeUndefined();
    const del = await eventUntil(
      events,
      'the delete of /attach/a',
      'keyChanged',
      (e) => e.key === '/attach/a' && e.action === 'delete',
    );
    expect(del.prevValue).toBe('1');
    const keys = events
      .filter((e) => e.type === 'keyChanged')
      .map((e) => `${e.action} ${e.key}${e.value !== undefined ? `=${e.value}` : ''}`);
    expect(keys).toEqual(['put /attach/a=1', 'put /attach/b=two', 'delete /attach/a']);
    expect(events.find((e) => e.type === 'keyChanged')).toMatchObject({ revision: a.revision });
  });

  it('adds a member (listed unstarted) and removes it', async () => {
    const spare = etcd.spec('e4');
    // etcd refuses member add until the member asked has been connected to all peers for 5 s.
    const added = await until(
      'member add accepted',
      async () => {
        try {
          return await obs.addMember(spare.peerURL);
        } catch (err) {
          if (err instanceof AttachError && /unhealthy cluster/.test(err.message)) return undefined;
          throw err;
        }
      },
      15_000,
    );
    expect(added).toMatchObject({ name: '', started: false, peerURLs: [spare.peerURL], clientURLs: [] });
    const v = await viewUntil(obs, 'the unstarted member listed', (v) => v.members.some((m) => m.id === added.id));
    expect(toClusterState(v).nodes.find((n) => n.id === added.id)).toMatchObject({
      name: added.id,
      status: 'unstarted',
      peerURL: spare.peerURL,
    });
    await eventUntil(events, 'memberAdded', 'memberAdded', (e) => e.member.id === added.id);

    await obs.removeMember(added.id);
    await viewUntil(obs, 'the member gone', (v) => v.members.length === 3);
    await eventUntil(events, 'memberRemoved', 'memberRemoved', (e) => e.member.id === added.id);
    await expect(obs.removeMember(added.id)).rejects.toThrow(/member not found/);
  });

  it('kill -9 of the leader: shown unreachable, then a new leader in a higher term; the watch moves on', async () => {
    const before = obs.view().leader!;
    await etcd.kill9(before.name);
    const killedURL = etcd.spec(before.name).clientURL;
    // Every answering member polled since agrees on it (agreedLeader is what the views use).
    const v = await viewUntil(
      obs,
      'a new leader in a higher term',
      (v) =>
        v.leader && v.leader.name !== before.name && v.leader.term > before.term && agreedLeader(toClusterState(v)),
      15_000,
    );
    const dead = v.endpoints.find((e) => e.url === killedURL)!;
    expect(dead.reachable).toBe(false);
    expect(dead.error).toMatch(/connection refused/);
    expect(v.members).toHaveLength(3); // still a member: only unreachable
    await eventUntil(events, 'endpointUnreachable', 'endpointUnreachable', (e) => e.url === killedURL);
    await eventUntil(events, 'leaderChanged', 'leaderChanged', (e) => e.toName === v.leader!.name);
    await eventUntil(events, 'termBumped', 'termBumped', (e) => e.to > before.term);

    const state = toClusterState(v);
    expect(state.nodes.find((n) => n.name === before.name)!.status).toBe('unreachable');
    expect(agreedLeader(state)?.name).toBe(v.leader!.name);

    // Writes and the watch go on through the members still answering.
    await obs.put('/attach/after', 'kill');
    await eventUntil(
      events,
      'the write after the kill',
      'keyChanged',
      (e) => e.key === '/attach/after' && e.value === 'kill',
    );
  });

  it('with auth enabled: status and members still show, keys and watches say a login is needed', async () => {
    const live = obs.view().endpoints.find((e) => e.reachable)!.url;
    const call = async (method: string, body: object) => {
      const r = await fetch(`${live}/v3/auth/${method}`, {
        method: 'POST',
        body: JSON.stringify(body),
        signal: AbortSignal.timeout(5000),
      });
      expect(r.status, `${method}: ${await r.clone().text()}`).toBe(200);
    };
    await call('role/add', { name: 'root' });
    await call('user/add', { name: 'root', password: 'secret' });
    await call('user/grant', { user: 'root', role: 'root' });
    await call('enable', {});

    const err = await obs.put('/attach/locked', 'x').then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(AttachError);
    expect(err).toMatchObject({
      kind: 'auth',
      message: expect.stringMatching(/^the cluster requires authentication \(etcd: "etcdserver: user name is empty"\)/),
    });

    const fresh = new EtcdObserver(live, { pollMs: 200 });
    others.push(fresh);
    fresh.start();
    const v = await viewUntil(
      fresh,
      'the watch refused for want of a login',
      (v) => v.problems.some((p) => /requires authentication/.test(p)) && v.leader && v.members.length === 3,
    );
    expect(v.watch?.error).toMatch(/requires authentication/);

    // Logged in (etcd's Authenticate, a token per endpoint): keys and the watch work again.
    const root = new EtcdObserver(live, { pollMs: 200, access: clusterAccess({ user: 'root', password: 'secret' }) });
    const rootEvents: AttachEvent[] = [];
    root.on('event', (e) => rootEvents.push(e));
    others.push(root);
    root.start();
    await viewUntil(
      root,
      'the watch established as root',
      (v) => v.watch?.next !== undefined && v.problems.length === 0,
    );
    await root.put('/attach/as-root', 'yes');
    await eventUntil(
      rootEvents,
      'the put as root, watched',
      'keyChanged',
      (e) => e.key === '/attach/as-root' && e.value === 'yes',
    );
    expect(root.view().security).toEqual({ tls: false, clientCert: false, user: 'root' });
    // A wrong password: said in etcd's words; status and members still show.
    const wrong = new EtcdObserver(live, { pollMs: 200, access: clusterAccess({ user: 'root', password: 'nope' }) });
    others.push(wrong);
    wrong.start();
    const w = await viewUntil(
      wrong,
      'the login refused',
      (v) => v.problems.some((p) => /login as "root" refused/.test(p)) && v.leader && v.members.length === 3,
    );
    expect(w.problems.find((p) => /login as/.test(p))).toMatch(
      /^login as "root" refused \(etcd: "etcdserver: authentication failed, invalid user ID or password"\)/,
    );
  });
});

// raftlab nodes serve the v3 gateway, which attach prefers (as for etcd 3.4); told to, it speaks v2.
describe('attached to a raftlab node cluster through the v2 API', () => {
  let cluster: ProcessCluster;
  let obs: EtcdObserver;
  let events: AttachEvent[];

  beforeAll(async () => {
    cluster = await ProcessCluster.create(3);
    cluster.startStatic(3);
    obs = new EtcdObserver(
      cluster.specs.slice(0, 3).map((s) => s.clientURL),
      { pollMs: 200, watchPrefix: '/attach', api: 'v2' },
    );
    events = record(obs);
    obs.start();
  });

  afterAll(async () => {
    await obs?.stop();
    await cluster?.destroy();
  });

  it('shows the members, the leader, term and commit index; says what v2 cannot show', async () => {
    const v = await viewUntil(
      obs,
      'three started members and a leader',
      (v) => started(v, 3) && v.endpoints.every((e) => e.reachable && e.raftTerm && e.health === 'healthy') && v.leader,
      20_000,
    );
    expect(v.members.map((m) => m.name).sort()).toEqual(['n1', 'n2', 'n3']);
    expect(v.endpoints.every((e) => e.origin === 'given')).toBe(true);
    for (const e of v.endpoints) {
      expect(e).toMatchObject({
        api: 'v2',
        version: '3.4.0',
        health: 'healthy',
        raftAppliedIndex: undefined,
        dbSize: undefined,
      });
      expect(e.raftIndex).toBeGreaterThan(0);
      expect(e.unavailable).toEqual(expect.arrayContaining(['raftAppliedIndex', 'dbSize']));
      expect(e.leaderId).toBe(v.leader!.id);
    }
    expect(v.leader!.name).toBe(await cluster.leader());
    const state = toClusterState(v);
    expect(agreedLeader(state)?.name).toBe(v.leader!.name);
    // No apply lag is invented where v2 does not tell it.
    expect(state.nodes.every((n) => n.applied === n.commit)).toBe(true);
  });

  it('puts and gets keys through the v2 API and sees them in the v2 long-poll watch', async () => {
    await viewUntil(obs, 'the watch is waiting', (v) => v.watch?.next !== undefined && v.watch.endpoint);
    await obs.put('/attach/x', '1');
    await obs.put('/attach/sub/y', '2');
    await obs.put('/other', 'not watched');
    await obs.delete('/attach/x');
    expect(await obs.get('/attach/sub/y')).toMatchObject({ value: '2' });
    await eventUntil(
      events,
      'the delete of /attach/x',
      'keyChanged',
      (e) => e.key === '/attach/x' && e.action === 'delete',
    );
    const keys = events
      .filter((e) => e.type === 'keyChanged')
      .map((e) => `${e.detail} ${e.key}${e.value !== undefined ? `=${e.value}` : ''}`);
    expect(keys).toEqual(['set /attach/x=1', 'set /attach/sub/y=2', 'delete /attach/x']);
  });

  it('raftlab attach prints the live view as text lines until stopped', async () => {
    const lines: string[] = [];
    const ac = new AbortController();
    const done = attachMain(
      [
        cluster.specs
          .slice(0, 3)
          .map((s) => s.clientURL)
          .join(','),
        '--interval',
        '200',
        '--prefix',
        '/attach',
      ],
      { out: (l) => lines.push(l), signal: ac.signal },
    );
    await until('a view block naming the leader', () =>
      lines.some((l) =>
        /view +cluster [0-9a-f]+ \| leader n\d term \d+ \| 3 members \| 3\/3 endpoints answering/.test(l),
      ),
    );
    // Without being told, attach speaks v3 to raftlab nodes, as to a real etcd.
    await until('the watch printed as started', () =>
      lines.some((l) =>
        /watch +keys under "\/attach" via http:\/\/127\.0\.0\.1:\d+ \(v3\), from revision \d+$/.test(l),
      ),
    );
    const v3 = new EtcdObserver(cluster.specs[0]!.clientURL, { watchPrefix: null });
    await v3.put('/attach/cli', 'seen');
    await v3.stop();
    await until('the key change printed', () => lines.some((l) => l.includes('key      put /attach/cli = "seen"')));
    ac.abort();
    expect(await done).toBe(0);
    expect(lines.at(-1)).toMatch(/detached$/);
  });

  it('a killed follower is shown unreachable while the rest is still shown', async () => {
    const leader = obs.view().leader!.name;
    const follower = ['n1', 'n2', 'n3'].find((n) => n !== leader)!;
    await cluster.kill9(follower);
    const v = await viewUntil(obs, 'the follower unreachable', (v) =>
      v.endpoints.some((e) => e.url === cluster.spec(follower).clientURL && e.reachable === false),
    );
    expect(v.leader?.name).toBe(leader);
    expect(v.endpoints.filter((e) => e.reachable)).toHaveLength(2);
    expect(toClusterState(v).nodes.find((n) => n.name === follower)!.status).toBe('unreachable');
  });
});

describe('endpoints that cannot be used', () => {
  it('nothing listening, or a port that never answers: reported with the error within a bounded time', async () => {
    const [closed] = await freePorts(1);
    const sockets: net.Socket[] = [];
    const silent = net.createServer((s) => sockets.push(s)); // accepts, never answers
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
    const silentURL = `http://127.0.0.1:${(silent.address() as net.AddressInfo).port}`;
    const obs = new EtcdObserver([`http://127.0.0.1:${closed}`, silentURL], { opTimeoutMs: 1000 });
    const events = record(obs);
    const t0 = Date.now();
    try {
      obs.start();
      // The member list's error comes from its own loop: wait for it too, not only the endpoints.
      const v = await viewUntil(
        obs,
        'both reported unreachable',
        (v) => v.endpoints.every((e) => e.reachable === false) && v.membersError !== undefined,
        5000,
      );
      expect(Date.now() - t0).toBeLessThan(3000); // the default deadline is 1 s
      expect(nth(v.endpoints, 0).error).toBe(`connection refused (nothing listens on 127.0.0.1:${closed})`);
      expect(nth(v.endpoints, 1).error).toBe('no answer within 1000 ms');
      expect(v.leader).toBeUndefined();
      expect(v.membersError).toMatch(/^member list: /);
      expect(events.filter((e) => e.type === 'endpointUnreachable')).toHaveLength(2);
      await expect(obs.put('/k', 'v')).rejects.toMatchObject({
        kind: 'unreachable',
        message: expect.stringMatching(/^put: no endpoint answered/),
      });
    } finally {
      const t1 = Date.now();
      await obs.stop();
      expect(Date.now() - t1).toBeLessThan(1000); // stop() aborts what is in flight
      for (const s of sockets) s.destroy();
      await new Promise((r) => silent.close(r));
    }
  });

  it('https URLs are tried over TLS: a plain port and a closed one are said in words', async () => {
    const plain = http.createServer((_q, r) => r.end('plain')).listen(0, '127.0.0.1');
    await new Promise((r) => plain.once('listening', r));
    const port = (plain.address() as { port: number }).port;
    const obs = new EtcdObserver(`https://127.0.0.1:${port}`, { pollMs: 100 }).start();
    try {
      const v = await viewUntil(obs, 'the https endpoint refused', (v) => v.endpoints[0]?.reachable === false, 5000);
      expect(nth(v.endpoints, 0).error).toBe('TLS: this port does not speak TLS (use http://)');
    } finally {
      await obs.stop();
      await new Promise((r) => plain.close(r));
    }
    const lines: string[] = [];
    expect(
      await attachMain(['https://127.0.0.1:2379', '--cacert', '/nonexistent/ca.pem'], { out: (l) => lines.push(l) }),
    ).toBe(2);
    expect(lines.join('\n')).toMatch(/raftlab attach: CA file \/nonexistent\/ca\.pem: no such file/);
    expect(() => parseEndpoints('ftp://127.0.0.1:2379')).toThrow(/only http:\/\/ client URLs/);
    expect(() => parseEndpoints('http://127.0.0.1:2379/v2/keys')).toThrow(/without a path/);
    expect(parseEndpoints(['http://127.0.0.1:2379/, http://127.0.0.1:2479'])).toEqual([
      'http://127.0.0.1:2379',
      'http://127.0.0.1:2479',
    ]);
  });
});
