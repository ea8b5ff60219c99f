// Real transports on ephemeral loopback ports, in one process.

import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import type { Message } from '../../src-shared/raft-types.js';
import { PeerTransport, type PeerStats, type PeerTransportOptions } from '../../src-main/node/peer-transport.js';
import { defined, one } from '../helpers/checked.js';

const A = '8e9e05c52164694d';
const B = '91bc3c398fb3c146';
const CID = 'cdf818194e3a8c32';

interface Node {
  id: string;
  t: PeerTransport;
  got: Message[];
  logs: string[];
  removedCalls: number;
  skew: { ms: number };
}

/** Where every test node can be reached; a transport looks its peers up here. */
let directory: Map<string, string[]>;
let removed: Map<string, Set<string>>;
let live: PeerTransport[];

afterEach(async () => {
  await Promise.all(live.map((t) => t.stop()));
});

function reset(): void {
  directory = new Map();
  removed = new Map();
  live = [];
}

async function node(id: string, extra: Partial<PeerTransportOptions> = {}, port = 0): Promise<Node> {
  const n: Node = { id, t: undefined as unknown as PeerTransport, got: [], logs: [], removedCalls: 0, skew: { ms: 0 } };
  removed.set(id, new Set());
  n.t = new PeerTransport({
    memberId: id,
    clusterId: CID,
    listenURLs: [`http://127.0.0.1:${port}`],
    clock: () => Date.now() + n.skew.ms,
    log: (level, pkg, msg) => n.logs.push(`${level} | ${pkg}: ${msg}`),
    onMessages: (msgs) => n.got.push(...msgs),
    peerURLs: (peer) => directory.get(peer),
    isRemoved: (peer) => removed.get(id)!.has(peer),
    onRemovedFromCluster: () => n.removedCalls++,
    ...extra,
  });
  await n.t.start();
  directory.set(id, n.t.boundURLs());
  live.push(n.t);
  return n;
}

/** What `n`'s transport counts for `peer`; fails the test if it has no such peer. */
function statsOf(n: Node, peer: string): PeerStats {
  return defined(n.t.stats()[peer], `stats for peer ${peer}`);
}

function hb(from: string, to: string, index: number): Message {
  return { type: 'MsgHeartbeat', from, to, term: 1, commit: index, index };
}

async function until(cond: () => boolean, ms = 4000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 10));
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

function headers(from: string, to: string, cid = CID): Record<string, string> {
  return {
    'Content-Type': 'application/json',
    'X-Etcd-Cluster-ID': cid,
    'X-Server-From': from,
    'X-Raft-To': to,
    'X-Server-Version': '3.4.0-raftlab',
    'X-Raft-Clock': String(Date.now()),
  };
}

async function freePort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as net.AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

describe('PeerTransport', () => {
  it('delivers 2000 messages in order, batched into far fewer requests', async () => {
    reset();
    const a = await node(A);
    const b = await node(B);
    let i = 0;
    // Bursts across many event-loop turns, so several batches are in play.
    while (i < 2000) {
      const burst: Message[] = [];
      for (let k = 0; k < 7 && i < 2000; k++) burst.push(hb(A, B, i++));
      a.t.send(burst);
      if (i % 70 === 0) await new Promise((r) => setImmediate(r));
    }
    // B has them all a moment before A has B's last answer.
    await until(() => b.got.length >= 2000 && a.t.stats()[B]?.sentMsgs === 2000);
    expect(b.got.map((m) => m.index)).toEqual(Array.from({ length: 2000 }, (_, k) => k));
    const s = statsOf(a, B);
    expect(s.sentMsgs).toBe(2000);
    expect(s.success).toBeGreaterThan(1);
    expect(s.success).toBeLessThan(2000 / 5);
    expect(s.fail).toBe(0);
    expect(statsOf(b, A).recvMsgs).toBe(2000);
    expect(a.logs.some((l) => l.includes(`peer ${B} became active`))).toBe(true);
  });

  it('bounds each queue, dropping the oldest messages but keeping snapshots', async () => {
    reset();
    const a = await node(A, { maxQueue: 10 });
    const b = await node(B);
    const snap: Message = {
      type: 'MsgSnap',
      from: A,
      to: B,
      term: 2,
      snapshot: { meta: { index: 5, term: 2, conf: { voters: [A, B] } }, data: '{"k":"v"}' },
    };
    // All in one turn: the queue overflows before the first request starts.
    a.t.send([snap, ...Array.from({ length: 49 }, (_, i) => hb(A, B, i))]);
    await until(() => b.got.length === 10);
    expect(b.got[0]).toEqual(snap);
    expect(b.got.slice(1).map((m) => m.index)).toEqual([40, 41, 42, 43, 44, 45, 46, 47, 48]);
    expect(statsOf(a, B).droppedMsgs).toBe(40);
    expect(a.logs.filter((l) => l.includes(`dropped internal raft message to ${B}`)).length).toBe(1);
  });

  it('a dead peer neither throws nor blocks; messages flow once it comes up', async () => {
    reset();
    const a = await node(A);
    const port = await freePort();
    directory.set(B, [`http://127.0.0.1:${port}`]);
    const t0 = performance.now();
    for (let i = 0; i < 100; i++) a.t.send([hb(A, B, i)]);
    expect(performance.now() - t0).toBeLessThan(50);
    await until(() => (a.t.stats()[B]?.fail ?? 0) > 0);
    // Keep sending for a while: the failure is logged once, not per attempt.
    for (let i = 0; i < 5; i++) {
      a.t.send([hb(A, B, 100 + i)]);
      await sleep(60);
    }
    const reach = a.logs.filter((l) =>
      l.includes(`failed to reach the peer URL http://127.0.0.1:${port} of member ${B}`),
    );
    expect(reach.length).toBe(1);
    expect(statsOf(a, B).active).toBe(false);

    const b = await node(B, {}, port);
    let n = 1000;
    await until(() => {
      a.t.send([hb(A, B, n++)]);
      return b.got.length > 0;
    });
    // Whatever arrives, arrives in order.
    const idx = b.got.map((m) => m.index!);
    expect([...idx].sort((x, y) => x - y)).toEqual(idx);
    // B may have the messages a moment before A has B's answer.
    await until(() => a.logs.some((l) => l === `I | rafthttp: peer ${B} became active`));
    expect(statsOf(a, B).active).toBe(true);
  });

  it('refuses a request from another cluster with 412 and logs it', async () => {
    reset();
    const a = await node(A, { clusterId: 'aaaaaaaaaaaaaaaa' });
    const b = await node(B);
    a.t.send([hb(A, B, 1)]);
    await until(() => (a.t.stats()[B]?.fail ?? 0) > 0);
    expect(b.got).toEqual([]);
    expect(b.logs).toContain(`E | rafthttp: request cluster ID mismatch (got aaaaaaaaaaaaaaaa want ${CID})`);
    expect(statsOf(a, B).lastError).toContain('cluster ID mismatch');
    expect(a.logs.some((l) => l.includes(`cluster ID mismatch: remote[${B}]=${CID}, local=aaaaaaaaaaaaaaaa`))).toBe(
      true,
    );

    const res = await fetch(`${b.t.boundURLs()[0]}/raft`, {
      method: 'POST',
      headers: headers(A, B, 'bbbbbbbbbbbbbbbb'),
      body: JSON.stringify([hb(A, B, 2)]),
    });
    expect(res.status).toBe(412);
    expect(await res.text()).toBe('cluster ID mismatch\n');

    // Once the joining node learns the right id, it gets through.
    a.t.setClusterId(CID);
    a.t.send([hb(A, B, 3)]);
    await until(() => b.got.length === 1);
    expect(one(b.got).index).toBe(3);
  });

  it('answers a removed sender 410, and the sender learns it was removed (once)', async () => {
    reset();
    const a = await node(A);
    const b = await node(B);
    removed.get(B)!.add(A);
    for (let i = 0; i < 5; i++) {
      a.t.send([hb(A, B, i)]);
      await sleep(30);
    }
    await until(() => a.removedCalls > 0);
    await sleep(300);
    expect(a.removedCalls).toBe(1);
    expect(b.got).toEqual([]);
    expect(b.logs).toContain(`W | rafthttp: rejected the stream from peer ${A} since it was removed`);
    expect(b.logs.filter((l) => l.includes('rejected the stream')).length).toBe(1);

    const res = await fetch(`${b.t.boundURLs()[0]}/raft`, { method: 'POST', headers: headers(A, B), body: '[]' });
    expect(res.status).toBe(410);
    expect(await res.text()).toBe('the member has been permanently removed from the cluster\n');
  });

  it('answers malformed or misaddressed requests without crashing', async () => {
    reset();
    const b = await node(B, {
      // A is a member, though not started here (an unknown sender would get 404).
      isMember: (id) => id === A,
      extraRoutes: (req, res) => {
        if (req.method === 'GET' && req.url === '/members') {
          res.writeHead(200, { 'Content-Type': 'application/json' });
          res.end('[]');
          return true;
        }
        return false;
      },
    });
    const url = `${b.t.boundURLs()[0]}/raft`;
    const post = (body: string, h = headers(A, B)) => fetch(url, { method: 'POST', headers: h, body });
    for (const body of [
      'not json',
      '{}',
      '[1]',
      '[{"type":"Bogus","from":"x","to":"y","term":1}]',
      JSON.stringify([{ ...hb(A, B, 1), term: -1 }]),
      JSON.stringify([hb(A, 'ffff', 1)]),
      JSON.stringify([{ ...hb(A, B, 1), entries: [{ index: 1 }] }]),
      // Another sender than the link's, a term or an index out of bounds.
      JSON.stringify([hb('0123456789abcdef', B, 1)]),
      JSON.stringify([{ ...hb(A, B, 1), term: 2 ** 53 - 1 }]),
      JSON.stringify([hb(A, B, 2 ** 52 + 1)]),
    ]) {
      const res = await post(body);
      expect(res.status, body).toBe(400);
      await res.text();
    }
    const stranger = await post(JSON.stringify([hb('0123456789abcdef', B, 1)]), headers('0123456789abcdef', B));
    expect(stranger.status).toBe(404);
    expect(await stranger.text()).toBe('error sender not found\n');
    const wrongTo = await post(JSON.stringify([hb(A, B, 1)]), headers(A, 'ffffffffffffffff'));
    expect(wrongTo.status).toBe(412);
    const noFrom = await post('[]', { 'X-Etcd-Cluster-ID': CID, 'X-Raft-To': B });
    expect(noFrom.status).toBe(400);
    const get = await fetch(url);
    expect(get.status).toBe(405);
    expect(b.got).toEqual([]);

    const ok = await post(JSON.stringify([hb(A, B, 7)]));
    expect(ok.status).toBe(204);
    expect(Number(ok.headers.get('x-raft-clock'))).toBeGreaterThan(0);
    expect(b.got.map((m) => m.index)).toEqual([7]);

    const probe = await fetch(`${url}/probe`, { headers: headers(A, B) });
    expect(probe.status).toBe(200);
    expect(probe.headers.get('x-raft-clock')).toMatch(/^\d+(\.\d+)?$/);
    expect((await fetch(`${b.t.boundURLs()[0]}/members`)).status).toBe(200);
    expect((await fetch(`${b.t.boundURLs()[0]}/nope`)).status).toBe(404);
  });

  it('warns about a skewed peer clock, as etcd does, and stops when it is fixed', async () => {
    reset();
    const a = await node(A, { peerIds: () => [B], probeIntervalMs: 200 });
    const b = await node(B, { peerIds: () => [A], probeIntervalMs: 200 });
    const re = /the clock difference against peer [0-9a-f]+ is too high \[[0-9.]+s > 1s\]/;
    // Idle link: only the prober runs.
    await until(() => a.t.clockDifference(B) !== undefined);
    expect(Math.abs(a.t.clockDifference(B)!)).toBeLessThan(200);

    b.skew.ms = 3000;
    await until(() => a.logs.some((l) => re.test(l)));
    const warn = a.logs.find((l) => re.test(l))!;
    expect(warn).toMatch(
      new RegExp(`^W \\| rafthttp: the clock difference against peer ${B} is too high \\[[23](\\.\\d+)?s > 1s\\]$`),
    );
    expect(a.t.clockDifference(B)!).toBeGreaterThan(2500);
    // B sees A 3 s behind: it warns too, with the size of the gap.
    await until(() => b.logs.some((l) => l.includes(`against peer ${A} is too high`)));
    expect(b.t.clockDifference(A)!).toBeLessThan(-2500);
    await sleep(600);
    // Still skewed, but etcd repeats the warning only every 30 s.
    expect(a.logs.filter((l) => re.test(l)).length).toBe(1);

    b.skew.ms = 0;
    await until(() => a.logs.some((l) => l.includes(`the clock difference against peer ${B} is back under 1s`)));
    const count = a.logs.filter((l) => re.test(l)).length;
    await sleep(600);
    expect(a.logs.filter((l) => re.test(l)).length).toBe(count);
    expect(Math.abs(a.t.clockDifference(B)!)).toBeLessThan(500);
  });

  it('stop() closes servers, sockets and timers', async () => {
    reset();
    const handles = () =>
      process.getActiveResourcesInfo().filter((r) => r === 'TCPServerWrap' || r === 'TCPSocketWrap').length;
    await sleep(50); // let earlier tests' sockets finish closing
    const before = handles();
    const a = await node(A, { peerIds: () => [B] });
    const b = await node(B, { peerIds: () => [A] });
    a.t.send([hb(A, B, 1)]);
    b.t.send([hb(B, A, 1)]);
    await until(() => a.got.length === 1 && b.got.length === 1);
    expect(handles()).toBeGreaterThan(before);
    // A request in flight to a dead peer, and a backoff timer, at stop time.
    directory.set('dead', [`http://127.0.0.1:${await freePort()}`]);
    a.t.send([hb(A, 'dead', 1)]);
    const t0 = performance.now();
    await Promise.all([a.t.stop(), b.t.stop()]);
    expect(performance.now() - t0).toBeLessThan(200);
    // Closed handles leave the list a loop turn or two later.
    await until(() => handles() <= before, 1000);
    a.t.send([hb(A, B, 2)]); // after stop: ignored, no throw
    await a.t.stop(); // idempotent
  });
});
