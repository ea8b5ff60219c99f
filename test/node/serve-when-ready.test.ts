// A node serves clients only once it is ready, as etcd does (its client port accepts
// connections but answers after the member has a leader and has published itself), and
// requests pipelined on one connection are answered in order, each seeing the one before.
// Real raftlab nodes next to Debian's real etcd 3.4 where the comparison can be made.
import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { nth } from '../helpers/checked.js';
import { TestCluster, until } from '../helpers/cluster.js';
import { ETCD_BIN, EtcdCluster } from '../helpers/etcd-processes.js';
import { needTools } from '../helpers/window.js';
import { putV2 } from '../helpers/v2-keys.js';

const haveEtcd = needTools('comparisons with real etcd', [ETCD_BIN]);

let cluster: TestCluster | undefined;
let etcd: EtcdCluster | undefined;
afterEach(async () => {
  await cluster?.destroy();
  await etcd?.destroy();
  cluster = undefined;
  etcd = undefined;
});

/** A request that may not be answered: its answer, or 'pending' if none came within `ms`. */
async function within(url: string, ms: number): Promise<{ status: number; body: string } | 'pending'> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(ms) });
    return { status: res.status, body: await res.text() };
  } catch (err) {
    if ((err as Error).name === 'TimeoutError') return 'pending';
    throw err;
  }
}

interface RawAnswer {
  status: number;
  body: string;
}

/** Writes `requests` on one connection in one go and reads `requests.length` answers. */
function pipeline(clientURL: string, requests: string[]): Promise<RawAnswer[]> {
  const u = new URL(clientURL);
  return new Promise((resolve, reject) => {
    const sock = net.connect(Number(u.port), u.hostname);
    let buf = Buffer.alloc(0);
    const answers: RawAnswer[] = [];
    const timer = setTimeout(() => {
      sock.destroy();
      reject(new Error(`only ${answers.length} of ${requests.length} answers`));
    }, 15_000);
    sock.on('error', reject);
    sock.on('data', (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      for (;;) {
        const end = buf.indexOf('\r\n\r\n');
        if (end < 0) return;
        const head = buf.subarray(0, end).toString('latin1');
        const len = Number(/\r\ncontent-length: *(\d+)/i.exec(head)?.[1] ?? 0);
        if (buf.length < end + 4 + len) return;
        answers.push({
          status: Number(head.split(' ')[1]),
          body: buf.subarray(end + 4, end + 4 + len).toString('utf8'),
        });
        buf = buf.subarray(end + 4 + len);
        if (answers.length === requests.length) {
          clearTimeout(timer);
          sock.destroy();
          resolve(answers);
          return;
        }
      }
    });
    sock.write(requests.join(''));
  });
}

function putRequest(host: string, key: string, value: string): string {
  const body = `value=${encodeURIComponent(value)}`;
  return `PUT /v2/keys${key} HTTP/1.1\r\nHost: ${host}\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: ${body.length}\r\n\r\n${body}`;
}

function getRequest(host: string, key: string): string {
  return `GET /v2/keys${key} HTTP/1.1\r\nHost: ${host}\r\n\r\n`;
}

/** How many of `rounds` pipelined PUT-then-GET pairs read back the old value. */
async function stalePipelinedReads(clientURL: string, rounds: number): Promise<number> {
  const host = new URL(clientURL).host;
  let stale = 0;
  for (let i = 0; i < rounds; i++) {
    const answers = await pipeline(clientURL, [putRequest(host, '/pipe', `v${i}`), getRequest(host, '/pipe')]);
    const [w, r] = [nth(answers, 0, 'an answer to the PUT'), nth(answers, 1, 'an answer to the GET')];
    expect([200, 201]).toContain(w.status);
    expect(r.status).toBe(200);
    if ((JSON.parse(r.body) as { node: { value: string } }).node.value !== `v${i}`) stale++;
  }
  return stale;
}

describe('serving only when ready', () => {
  it('holds requests while there is no leader, then answers with the published member', async () => {
    cluster = await TestCluster.create(3, { start: false });
    await cluster.start('n1');
    const n1 = cluster.url('n1');
    // No quorum yet: nothing is answered (etcd: /v2/machines 200 with an empty body is never seen).
    const early = fetch(`${n1}/v2/machines`, { signal: AbortSignal.timeout(20_000) }).then(async (r) => ({
      status: r.status,
      body: await r.text(),
    }));
    const members = fetch(`${n1}/v2/members`, { signal: AbortSignal.timeout(20_000) }).then(async (r) => ({
      status: r.status,
      body: await r.text(),
    }));
    let settled = false;
    void early.finally(() => (settled = true));
    expect(await within(`${n1}/v2/keys/x`, 1500)).toBe('pending');
    expect(settled).toBe(false);
    await Promise.all([cluster.start('n2'), cluster.start('n3')]);
    const m = await early;
    expect(m.status).toBe(200);
    expect(m.body).toContain(n1);
    const list = JSON.parse((await members).body) as { members: { name: string; clientURLs: string[] }[] };
    expect(list.members.find((x) => x.name === 'n1')!.clientURLs).toEqual([n1]);
    expect(cluster.logs.get('n1')!.some((l) => l === 'I | embed: ready to serve client requests')).toBe(true);
  }, 60_000);

  it('a restarted member does not answer from its old store: a key written while it was down is found', async () => {
    cluster = await TestCluster.create(3);
    const leader = await cluster.leader();
    const victim = cluster.specs.find((s) => s.name !== leader)!.name;
    await cluster.stop(victim);
    expect(await putV2(cluster.url(leader), '/while-down', 'yes')).toBe(201);
    await cluster.start(victim);
    // The very first request after the restart.
    const res = await fetch(`${cluster.url(victim)}/v2/keys/while-down`, { signal: AbortSignal.timeout(20_000) });
    expect(res.status).toBe(200);
    expect(((await res.json()) as { node: { value: string } }).node.value).toBe('yes');
  }, 60_000);

  it('a keys request held past the request timeout gets etcd\'s "request timed out"', async () => {
    cluster = await TestCluster.create(3, { start: false });
    await cluster.start('n1');
    const t0 = Date.now();
    const res = await fetch(`${cluster.url('n1')}/v2/keys/x`, { signal: AbortSignal.timeout(20_000) });
    const ms = Date.now() - t0;
    expect(res.status).toBe(500);
    expect(await res.json()).toMatchObject({
      errorCode: 300,
      message: 'Raft Internal Error',
      cause: 'etcdserver: request timed out',
    });
    // etcd's v2 request timeout: 5 s + 2 × the election timeout (500 ms here).
    expect(ms).toBeGreaterThanOrEqual(5900);
  }, 30_000);

  it.skipIf(!haveEtcd)(
    'real etcd holds a request the same way while it has no leader',
    async () => {
      etcd = await EtcdCluster.create(3);
      etcd.start('e1');
      const e1 = etcd.spec('e1').clientURL;
      // The port opens before etcd is ready: wait for a connection to be accepted, then ask.
      await until(
        'etcd to listen',
        () =>
          new Promise<boolean>((resolve) => {
            const s = net.connect(Number(new URL(e1).port), '127.0.0.1', () => {
              s.destroy();
              resolve(true);
            });
            s.on('error', () => resolve(false));
          }),
      );
      expect(await within(`${e1}/v2/machines`, 1500)).toBe('pending');
    },
    30_000,
  );
});

describe('pipelined requests', () => {
  it('a GET pipelined after a PUT on one connection reads the PUT (30 of 30), as etcd does', async () => {
    cluster = await TestCluster.create(3);
    const leader = await cluster.leader();
    const follower = cluster.specs.find((s) => s.name !== leader)!.name;
    expect(await stalePipelinedReads(cluster.url(leader), 15)).toBe(0);
    expect(await stalePipelinedReads(cluster.url(follower), 15)).toBe(0);
    if (!haveEtcd) return;
    etcd = await EtcdCluster.create(3);
    for (const n of ['e1', 'e2', 'e3']) etcd.start(n);
    const e1 = etcd.spec('e1').clientURL;
    await until(
      'etcd to take a write',
      async () => {
        try {
          return (await putV2(e1, '/warm', 'up')) < 300;
        } catch {
          return false;
        }
      },
      30_000,
    );
    expect(await stalePipelinedReads(e1, 30)).toBe(0);
  }, 90_000);

  it('answers pipelined requests in the order they were sent', async () => {
    cluster = await TestCluster.create(3);
    const leader = await cluster.leader();
    const url = cluster.url(leader);
    const host = new URL(url).host;
    const reqs = [
      putRequest(host, '/o', 'a'),
      getRequest(host, '/o'),
      putRequest(host, '/o', 'b'),
      getRequest(host, '/o'),
      `GET /version HTTP/1.1\r\nHost: ${host}\r\n\r\n`,
    ];
    const out = await pipeline(url, reqs);
    expect(out.map((a) => a.status)).toEqual([201, 200, 200, 200, 200]);
    // Five answers, just checked.
    expect(JSON.parse(out[1]!.body).node.value).toBe('a');
    expect(JSON.parse(out[3]!.body).node.value).toBe('b');
    expect(JSON.parse(out[4]!.body)).toHaveProperty('etcdserver');
  }, 30_000);
});
