// A peer port is open to anyone who can reach it (etcd's is too, without TLS). One hostile
// message must not wedge the cluster: sent here with raw HTTP clients to a real 3-node cluster,
// then the leader is stopped and the rest must elect a new one and take writes.
import http from 'node:http';
import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { nth } from '../helpers/checked.js';
import { TestCluster, until } from '../helpers/cluster.js';
import { putV2 } from '../helpers/v2-keys.js';

let cluster: TestCluster | undefined;
afterEach(async () => {
  await cluster?.destroy();
  cluster = undefined;
});

const HUGE = 2 ** 53 - 1;
const STRANGER = 'deadbeefdeadbeef';

function raftHeaders(cid: string, from: string, to: string): Record<string, string> {
  return {
    'X-Etcd-Cluster-ID': cid,
    'X-Server-From': from,
    'X-Raft-To': to,
    'X-Server-Version': '3.4.0',
  };
}

/** POST /raft with a raw http client; resolves with the status and body. */
function postRaft(
  peerURL: string,
  headers: Record<string, string>,
  body: string,
): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      new URL('/raft', peerURL),
      { method: 'POST', headers: { ...headers, 'Content-Type': 'application/json' } },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (text += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

/**
 * Opens the message stream by hand (GET /raft/stream upgraded), writes `frame`, and resolves
 * with the answer's status line and whether the node closed the socket afterwards.
 */
function streamFrame(
  peerURL: string,
  headers: Record<string, string>,
  frame: string,
): Promise<{ statusLine: string; closed: boolean }> {
  const u = new URL(peerURL);
  return new Promise((resolve, reject) => {
    const sock = net.connect(Number(u.port), u.hostname);
    let got = '';
    let wrote = false;
    sock.setEncoding('latin1');
    sock.on('error', reject);
    sock.on('data', (d: string) => {
      got += d;
      if (!wrote && got.includes('\r\n\r\n')) {
        wrote = true;
        if (got.startsWith('HTTP/1.1 101')) sock.write(frame);
        else sock.end();
      }
    });
    sock.on('close', () => resolve({ statusLine: got.split('\r\n')[0]!, closed: true })); // split gives one at least
    const h = Object.entries({ ...headers, Host: u.host, Connection: 'Upgrade', Upgrade: 'raftlab-raft-stream' })
      .map(([k, v]) => `${k}: ${v}\r\n`)
      .join('');
    sock.write(`GET /raft/stream HTTP/1.1\r\n${h}\r\n`);
    // A stream the node keeps open is not an answer: give up on it after a while.
    setTimeout(() => {
      resolve({ statusLine: got.split('\r\n')[0]!, closed: false });
      sock.destroy();
    }, 3000).unref();
  });
}

describe('a hostile peer message', () => {
  it('from an unknown member id with term 2^53-1 is refused, and the cluster still elects and writes', async () => {
    cluster = await TestCluster.create(3);
    const leader = await cluster.leader();
    const cid = cluster.running.get(leader)!.node.clusterId;
    const ids = new Map([...cluster.running].map(([name, r]) => [name, r.node.id]));
    const followers = cluster.specs.filter((s) => s.name !== leader);
    const hb = (from: string, to: string, term: number) =>
      JSON.stringify([{ type: 'MsgHeartbeat', from, to, term, commit: 0 }]);

    // 1. An id that is not a member, by POST and by stream: 404 as etcd's streamHandler answers.
    for (const f of followers) {
      const to = ids.get(f.name)!;
      const r = await postRaft(f.peerURL, raftHeaders(cid, STRANGER, to), hb(STRANGER, to, HUGE));
      expect(r).toEqual({ status: 404, text: 'error sender not found\n' });
      const s = await streamFrame(f.peerURL, raftHeaders(cid, STRANGER, to), `${hb(STRANGER, to, HUGE)}\n`);
      expect(s.statusLine).toBe('HTTP/1.1 404 Not Found');
    }
    // Logged once per sender, however often it tries.
    const f0 = nth(followers, 0, 'a follower').name;
    expect(cluster.logs.get(f0)!.filter((l) => l.includes(`failed to find member ${STRANGER}`))).toHaveLength(1);

    // 2. A member's id, spoofed: the term is out of bounds, the batch is refused (400, or the
    //    stream closed), and a message claiming another sender than its link's is refused too.
    const victim = nth(followers, 0, 'a follower');
    const victimId = ids.get(victim.name)!;
    const other = ids.get(nth(followers, 1, 'a second follower').name)!;
    const r = await postRaft(victim.peerURL, raftHeaders(cid, other, victimId), hb(other, victimId, HUGE));
    expect(r.status).toBe(400);
    expect(r.text).toMatch(/bad term/);
    const s = await streamFrame(victim.peerURL, raftHeaders(cid, other, victimId), `${hb(other, victimId, HUGE)}\n`);
    expect(s).toEqual({ statusLine: 'HTTP/1.1 101 Switching Protocols', closed: true });
    const spoof = await postRaft(victim.peerURL, raftHeaders(cid, other, victimId), hb(STRANGER, victimId, 5));
    expect(spoof.status).toBe(400);
    for (const [, run] of cluster.running) expect(run.node.status().term).toBeLessThanOrEqual(2 ** 52);

    // 3. The leader goes away: the other two elect a new one normally, and writes work.
    const before = cluster.running.get(leader)!.node.status().term;
    await cluster.stop(leader);
    const next = await cluster.leader(15_000);
    expect(next).not.toBe(leader);
    const term = cluster.running.get(next)!.node.status().term;
    expect(term).toBeGreaterThan(before);
    expect(term).toBeLessThan(1000);
    expect(await putV2(cluster.url(next), '/after', 'ok')).toBe(201);
  });

  it('at the bound (term 2^52, from a member id) moves the term, and elections still work past it', async () => {
    cluster = await TestCluster.create(3);
    const leader = await cluster.leader();
    const cid = cluster.running.get(leader)!.node.clusterId;
    const ids = new Map([...cluster.running].map(([name, r]) => [name, r.node.id]));
    const victim = nth(
      cluster.specs.filter((s) => s.name !== leader),
      0,
      'a follower',
    );
    const victimId = ids.get(victim.name)!;
    const leaderId = ids.get(leader)!;
    const r = await postRaft(
      victim.peerURL,
      raftHeaders(cid, leaderId, victimId),
      JSON.stringify([{ type: 'MsgHeartbeat', from: leaderId, to: victimId, term: 2 ** 52, commit: 0 }]),
    );
    expect(r.status).toBe(204);
    // The cluster settles on a leader at a term above 2^52, still an exact integer.
    await until(
      'a leader past 2^52',
      () => {
        const st = [...cluster!.running.values()].map((x) => x.node.status());
        return st.some((x) => x.role === 'leader' && x.term > 2 ** 52) && st;
      },
      15_000,
    );
    const now = await cluster.leader(15_000);
    // Past the floor a message may lead our term by 2^16 at most: 2^53-1 is still refused.
    const v = cluster.running.get(victim.name)!.node;
    const far = await postRaft(
      victim.peerURL,
      raftHeaders(cid, leaderId, victimId),
      JSON.stringify([{ type: 'MsgHeartbeat', from: leaderId, to: victimId, term: HUGE, commit: 0 }]),
    );
    expect(far.status).toBe(400);
    expect(v.status().term).toBeLessThan(2 ** 52 + 2 ** 16);
    await cluster.stop(now);
    const next = await cluster.leader(15_000);
    const term = cluster.running.get(next)!.node.status().term;
    expect(term).toBeGreaterThan(2 ** 52);
    expect(Number.isSafeInteger(term + 1)).toBe(true);
    expect(await putV2(cluster.url(next), '/past', 'ok')).toBe(201);
  });
});
