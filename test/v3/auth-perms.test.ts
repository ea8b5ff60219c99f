// Range permissions against a real etcd 3.4: seeded random roles (keys, prefixes, from-key and
// explicit ranges; read, write, readwrite) granted to a user on both, then random requests as
// that user through the /v3 JSON gateway (ranges, puts, deletes with prev_kv, txns with compares,
// leases) — every answer (status and body, ids aside) must be etcd's. Also watches refused and
// allowed, and the auth revision a write was checked at.
import http from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { needTools } from '../helpers/window.js';
import { ETCD_BIN } from '../helpers/etcd-processes.js';
import { seededRandom, type Rng } from '../../src-main/util/rng.js';
import { ourGateway, RealEtcd } from './v3-harness.js';

const have = needTools('v3 permissions compared with a real etcd', [ETCD_BIN]);

/** A POST's status and body as text, ids, term and tokens put aside. */
async function post(url: string, path: string, body: unknown, token?: string): Promise<string> {
  const r = await fetch(`${url}${path}`, {
    method: 'POST',
    body: JSON.stringify(body),
    headers: token ? { Authorization: token } : {},
  });
  const json = JSON.parse(await r.text(), (k, v) =>
    k === 'cluster_id' || k === 'member_id' || k === 'raft_term' ? undefined : k === 'token' ? 'TOKEN' : v,
  );
  return `${r.status} ${JSON.stringify(json)}`;
}

/** The first answer line of a watch stream (its creation, or its refusal). */
function firstWatchLine(url: string, body: unknown, token: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      `${url}/v3/watch`,
      { method: 'POST', headers: token ? { Authorization: token } : {} },
      (res) => {
        let buf = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => {
          buf += c;
          const i = buf.indexOf('\n');
          if (i < 0) return;
          req.destroy();
          resolve(
            JSON.stringify(
              JSON.parse(buf.slice(0, i), (k, v) =>
                k === 'cluster_id' || k === 'member_id' || k === 'raft_term' ? undefined : v,
              ),
            ),
          );
        });
      },
    );
    req.on('error', (e) => (e.message.includes('socket hang up') ? undefined : reject(e)));
    req.end(JSON.stringify(body));
  });
}

const b64 = (s: string) => Buffer.from(s).toString('base64');
const KEYS = ['a', 'b', 'c', 'aa', 'ab', 'b', 'ba', 'bb', 'c', 'ca', 'cb', 'cc', 'abc'];
const prefixEnd = (k: string) => k.slice(0, -1) + String.fromCharCode(k.charCodeAt(k.length - 1) + 1);

/** A range as a request gives it: one key, a prefix, from a key on, or [key, end). */
function randomRange(rng: Rng): { key: string; range_end?: string } {
  const key = rng.pick(KEYS);
  switch (rng.int(0, 4)) {
    case 0:
    case 1:
      return { key: b64(key) };
    case 2:
      return { key: b64(key), range_end: b64(prefixEnd(key)) };
    case 3:
      return { key: b64(key), range_end: b64('\0') };
    default: {
      const end = rng.pick(KEYS);
      return { key: b64(key), range_end: b64(end > key ? end : `${key}z`) };
    }
  }
}

function randomRequest(rng: Rng): [string, unknown] {
  const r = randomRange(rng);
  switch (rng.int(0, 5)) {
    case 0:
    case 1:
      return ['/v3/kv/range', r];
    case 2:
      return ['/v3/kv/put', { key: r.key, value: b64(`v${rng.int(0, 99)}`), prev_kv: rng.chance(0.3) }];
    case 3:
      return ['/v3/kv/deleterange', { ...r, prev_kv: rng.chance(0.5) }];
    case 4: {
      const op = () =>
        rng.chance(0.5)
          ? { request_range: randomRange(rng) }
          : { request_put: { key: b64(rng.pick(KEYS)), value: b64('t') } };
      return [
        '/v3/kv/txn',
        {
          compare: rng.chance(0.5) ? [{ ...randomRange(rng), target: 'VERSION', result: 'GREATER', version: '0' }] : [],
          success: [op()],
          failure: rng.chance(0.5) ? [op()] : [],
        },
      ];
    }
    default:
      return ['/v3/kv/range', { ...r, serializable: true, keys_only: true }];
  }
}

describe.runIf(have)('v3 permissions as etcd 3.4 checks them', () => {
  let etcd: RealEtcd;
  let ours: Awaited<ReturnType<typeof ourGateway>>;
  const rootToken = { ours: '', etcd: '' };

  beforeAll(async () => {
    [etcd, ours] = await Promise.all([RealEtcd.start(), ourGateway()]);
    for (const [path, body] of [
      ['/v3/auth/user/add', { name: 'root', password: 'rootpw' }],
      ['/v3/auth/user/grant', { user: 'root', role: 'root' }],
      ['/v3/auth/enable', {}],
    ] as const) {
      const [a, b] = await Promise.all([post(ours.url, path, body), post(etcd.url, path, body)]);
      expect(a, path).toBe(b);
    }
    const raw = async (url: string) =>
      (
        await (
          await fetch(`${url}/v3/auth/authenticate`, { method: 'POST', body: '{"name":"root","password":"rootpw"}' })
        ).json()
      ).token as string;
    rootToken.ours = await raw(ours.url);
    rootToken.etcd = await raw(etcd.url);
  }, 60_000);

  afterAll(async () => {
    await ours?.close();
    await etcd?.stop();
  });

  /** One request on both sides, as root or as the given user's tokens; both answers. */
  async function both(
    path: string,
    body: unknown,
    tokens: { ours: string; etcd: string } = rootToken,
  ): Promise<[string, string]> {
    const [a, b] = await Promise.all([
      post(ours.url, path, body, tokens.ours),
      post(etcd.url, path, body, tokens.etcd),
    ]);
    return [a, b];
  }

  for (const seed of process.env.V3_SEED ? [Number(process.env.V3_SEED)] : [1, 2, 3, 4]) {
    it(`random roles and requests are allowed and refused as etcd does (seed ${seed})`, async () => {
      const rng = seededRandom(seed);
      const user = `u${seed}`;
      const setup: [string, unknown][] = [
        ['/v3/auth/user/add', { name: user, password: 'pw' }],
        ['/v3/auth/role/add', { name: `r${seed}a` }],
        ['/v3/auth/role/add', { name: `r${seed}b` }],
      ];
      for (let i = rng.int(1, 5); i > 0; i--) {
        setup.push([
          '/v3/auth/role/grant',
          {
            name: `r${seed}${rng.pick(['a', 'b'])}`,
            perm: { ...randomRange(rng), permType: rng.pick(['READ', 'WRITE', 'READWRITE']) },
          },
        ]);
      }
      setup.push(
        ['/v3/auth/user/grant', { user, role: `r${seed}a` }],
        ['/v3/auth/user/grant', { user, role: `r${seed}b` }],
      );
      setup.push(['/v3/auth/role/get', { role: `r${seed}a` }], ['/v3/auth/role/get', { role: `r${seed}b` }]);
      for (const [path, body] of setup) {
        const [a, b] = await both(path, body);
        expect(a, `seed ${seed}: ${path} ${JSON.stringify(body)}`).toBe(b);
      }
      const login = await both('/v3/auth/authenticate', { name: user, password: 'pw' });
      expect(login[0]).toBe(login[1]);
      const tokens = {
        ours: (
          await (
            await fetch(`${ours.url}/v3/auth/authenticate`, {
              method: 'POST',
              body: JSON.stringify({ name: user, password: 'pw' }),
            })
          ).json()
        ).token as string,
        etcd: (
          await (
            await fetch(`${etcd.url}/v3/auth/authenticate`, {
              method: 'POST',
              body: JSON.stringify({ name: user, password: 'pw' }),
            })
          ).json()
        ).token as string,
      };
      let allowed = 0;
      for (let i = 0; i < 80; i++) {
        const [path, body] = randomRequest(rng);
        const [a, b] = await both(path, body, tokens);
        expect(a, `seed ${seed}, request #${i}: ${path} ${JSON.stringify(body)}`).toBe(b);
        if (a.startsWith('200')) allowed++;
      }
      // Both kinds of answer were compared.
      expect(allowed).toBeGreaterThan(0);
      expect(allowed).toBeLessThan(80);
    }, 60_000);
  }

  it('a watch its user may not read is created and canceled at once; one it may read is created', async () => {
    const setup: [string, unknown][] = [
      ['/v3/auth/user/add', { name: 'w', password: 'pw' }],
      ['/v3/auth/role/add', { name: 'wr' }],
      ['/v3/auth/role/grant', { name: 'wr', perm: { key: b64('w/'), range_end: b64('w0'), permType: 'READ' } }],
      ['/v3/auth/user/grant', { user: 'w', role: 'wr' }],
    ];
    for (const [path, body] of setup) {
      const [a, b] = await both(path, body);
      expect(a, path).toBe(b);
    }
    const token = async (url: string) =>
      (
        await (
          await fetch(`${url}/v3/auth/authenticate`, { method: 'POST', body: '{"name":"w","password":"pw"}' })
        ).json()
      ).token as string;
    const tokens = { ours: await token(ours.url), etcd: await token(etcd.url) };
    for (const create of [
      { key: b64('w/'), range_end: b64('w0') },
      { key: b64('x') },
      { key: b64('w/1') },
      { key: b64('w/'), range_end: b64('w1') },
    ]) {
      const body = { create_request: create };
      const [a, b] = await Promise.all([
        firstWatchLine(ours.url, body, tokens.ours),
        firstWatchLine(etcd.url, body, tokens.etcd),
      ]);
      expect(a, JSON.stringify(create)).toBe(b);
    }
    // A known difference: etcd checks a watch of every key from a key on as that key alone (it
    // turns "\0" into no end first), so it lets this user watch all keys from "w/" on; ours
    // checks the whole range, as a Range of the same keys is checked.
    const fromKey = { create_request: { key: b64('w/'), range_end: b64('\0') } };
    const [ourFromKey, theirFromKey] = await Promise.all([
      firstWatchLine(ours.url, fromKey, tokens.ours),
      firstWatchLine(etcd.url, fromKey, tokens.etcd),
    ]);
    expect(JSON.parse(theirFromKey).result).toMatchObject({ created: true });
    expect(JSON.parse(ourFromKey).result).toMatchObject({
      created: true,
      canceled: true,
      cancel_reason: 'rpc error: code = PermissionDenied desc = etcdserver: permission denied',
    });
    // Without a token: "user name is empty".
    const [a, b] = await Promise.all([
      firstWatchLine(ours.url, { create_request: { key: b64('w/1') } }, ''),
      firstWatchLine(etcd.url, { create_request: { key: b64('w/1') } }, ''),
    ]);
    expect(a).toBe(b);
  }, 60_000);
});
