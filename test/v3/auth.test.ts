// etcd's v3 auth on real raftlab nodes, side by side with a real etcd 3.4 cluster: Debian's
// etcdctl (v3, unmodified) gives both the same commands (users, roles, permissions on a prefix
// and a key, auth enable, requests as root and as a user, allowed and refused, a wrong password,
// auth disable) and must print the same once ids, endpoints and times are normalized; then the
// JSON gateway with curl (Authorization header, /v3/auth/authenticate), a token made on one member
// used on another, and a token kept across a leader change.
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, it } from 'vitest';
import { one } from '../helpers/checked.js';
import { until } from '../helpers/cluster.js';
import { bothClustersForSuite, ETCD_BIN } from '../helpers/etcd-processes.js';
import { needTools } from '../helpers/window.js';

const ETCDCTL = '/usr/bin/etcdctl';
const CURL = '/usr/bin/curl';
const have = needTools('v3 auth with etcdctl and curl against raftlab nodes', [ETCDCTL, ETCD_BIN, CURL]);
const run = promisify(execFile);
const clean = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('ETCD')));

interface Out {
  code: number;
  out: string;
}

/** etcdctl's exit code and everything it printed (stdout, then stderr). */
function etcdctl(endpoint: string, args: string[]): Promise<Out> {
  const argv = ['--endpoints', endpoint, '--dial-timeout', '5s', '--command-timeout', '10s', ...args];
  return run(ETCDCTL, argv, { env: { ...clean, ETCDCTL_API: '3' }, timeout: 30_000 }).then(
    (r) => ({ code: 0, out: r.stdout + r.stderr }),
    (e: { code?: number; stdout?: string; stderr?: string }) => ({
      code: e.code ?? -1,
      out: (e.stdout ?? '') + (e.stderr ?? ''),
    }),
  );
}

/** curl POSTing JSON to the gateway, with a token if given: the HTTP status and the body. */
async function curl(
  url: string,
  body: unknown,
  token?: string,
): Promise<{ status: number; body: Record<string, unknown> }> {
  const args = [
    '-s',
    '-X',
    'POST',
    '-H',
    'Content-Type: application/json',
    '-w',
    '\n%{http_code}',
    '-d',
    JSON.stringify(body),
    url,
  ];
  if (token !== undefined) args.push('-H', `Authorization: ${token}`);
  const { stdout } = await run(CURL, args, { timeout: 20_000 });
  const nl = stdout.lastIndexOf('\n');
  return { status: Number(stdout.slice(nl + 1)), body: JSON.parse(stdout.slice(0, nl)) as Record<string, unknown> };
}

const b64 = (s: string) => Buffer.from(s).toString('base64');

/** What differs between two clusters by nature: ids, terms, revisions' owners, endpoints, times. */
function normalize(s: string, endpoint: string): string {
  return s
    .split(endpoint)
    .join('ENDPOINT')
    .replace(/http:\/\/127\.0\.0\.1:\d+/g, 'URL')
    .replace(/^[0-9a-f]{1,16}, started, [ne]\d, /gm, 'ID, started, NAME, ')
    .replace(/^\{"level":"warn".*"error":"(.*)"\}$/gm, 'warn: $1')
    .replace(/[0-9a-f]{16}/g, 'ID');
}

/** A gateway answer with ids, term and token put aside. */
function normalizeJson(b: Record<string, unknown>): unknown {
  return JSON.parse(JSON.stringify(b), (k, v: unknown) => {
    if (k === 'cluster_id' || k === 'member_id' || k === 'raft_term') return 'X';
    if (k === 'token' && typeof v === 'string') return v.replace(/^[a-zA-Z]{16}\.\d+$/, 'TOKEN');
    return v;
  });
}

describe.runIf(have)('v3 auth on raftlab nodes and on etcd 3.4', () => {
  const clusters = bothClustersForSuite(3);
  const names = clusters.ourNames;

  beforeAll(async () => {
    await clusters.ours.leader(30_000);
    await until(
      'etcd answers',
      async () => (await etcdctl(clusters.etcd.spec('e1').clientURL, ['endpoint', 'health'])).code === 0,
      30_000,
    );
  }, 60_000);

  const url = (n: string) => clusters.ours.spec(n).clientURL;
  const eurl = (n: string) => clusters.etcd.spec(n).clientURL;

  /** One etcdctl command on n1 and on e1 (each side's other members see it through the log). */
  async function both(args: string[]): Promise<[Out, Out]> {
    const [a, b] = await Promise.all([etcdctl(url('n1'), args), etcdctl(eurl('e1'), args)]);
    return [
      { code: a.code, out: normalize(a.out, url('n1')) },
      { code: b.code, out: normalize(b.out, eurl('e1')) },
    ];
  }

  const root = ['--user', 'root:rootpw'];
  const alice = ['--user', 'alice:alicepw'];

  it('etcdctl: users, roles, permissions, auth enable, allowed and refused requests, auth disable, as etcd', async () => {
    const session: string[][] = [
      ['auth', 'enable'], // no root user yet
      ['user', 'add', 'root:rootpw'],
      ['user', 'add', 'root:again'],
      ['user', 'add', 'alice:alicepw'],
      ['user', 'add', 'nopw', '--no-password'],
      ['role', 'add', 'rw-foo'],
      ['role', 'add', 'rw-foo'],
      ['role', 'add', 'read-bar'],
      ['role', 'grant-permission', '--prefix', 'rw-foo', 'readwrite', 'foo'],
      ['role', 'grant-permission', 'read-bar', 'read', 'bar'],
      ['role', 'grant-permission', 'read-bar', 'write', 'baz', 'bazz'],
      ['role', 'grant-permission', 'nosuchrole', 'read', 'x'],
      ['user', 'grant-role', 'alice', 'rw-foo'],
      ['user', 'grant-role', 'alice', 'read-bar'],
      ['user', 'grant-role', 'alice', 'nosuchrole'],
      ['user', 'grant-role', 'nosuchuser', 'rw-foo'],
      ['user', 'list'],
      ['role', 'list'],
      ['user', 'get', 'alice'],
      ['user', 'get', 'alice', '--detail'],
      ['role', 'get', 'rw-foo'],
      ['role', 'get', 'read-bar'],
      ['put', 'bar', 'before-auth'],
      // etcdctl adds the root role and grants it to root before enabling.
      ['auth', 'enable'],
      ['auth', 'enable', ...root],
      ['user', 'list', ...root],
      ['role', 'list', ...root],
      ['put', 'foo1', 'by-root', ...root],
      ['put', 'foo2', 'by-alice', ...alice],
      ['get', 'foo', '--prefix', ...alice],
      ['get', 'foo1', ...alice],
      ['get', 'bar', ...alice],
      ['put', 'bar', 'by-alice', ...alice], // read only
      ['put', 'other', 'x', ...alice],
      ['put', 'baz', 'w', ...alice], // write only: allowed
      ['get', 'baz', ...alice], // ...but not read
      ['get', '', '--from-key', ...alice], // more than alice may read
      ['get', 'foo', 'fop', ...alice], // exactly the prefix's range
      ['get', 'foo', 'fopp', ...alice],
      ['del', 'foo', '--prefix', '--prev-kv', ...alice],
      ['put', 'foo3', 'v', ...alice],
      ['get', 'foo1', '--user', 'alice:wrongpw'],
      ['get', 'foo1', '--user', 'nobody:pw'],
      ['get', 'foo1', '--user', 'nopw:x'], // a user without a password cannot authenticate
      ['get', 'foo1'], // no user at all
      ['put', 'foo1', 'x'],
      ['user', 'list', ...alice], // root only
      ['user', 'get', 'alice', ...alice], // itself: allowed
      ['user', 'get', 'root', ...alice],
      ['role', 'get', 'rw-foo', ...alice], // a role it has: allowed
      ['role', 'get', 'root', ...alice],
      ['role', 'add', 'sneaky', ...alice],
      ['endpoint', 'hashkv', ...alice], // Maintenance.HashKV is root's
      ['member', 'list', ...alice],
      ['user', 'delete', 'root', ...root],
      ['user', 'revoke-role', 'root', 'root', ...root],
      ['role', 'delete', 'root', ...root],
      ['user', 'revoke-role', 'alice', 'read-bar', ...root],
      ['user', 'revoke-role', 'alice', 'read-bar', ...root],
      ['get', 'bar', ...alice], // its role went
      ['role', 'revoke-permission', 'rw-foo', 'foo', '--prefix', ...root],
      ['role', 'revoke-permission', 'rw-foo', 'foo', '--prefix', ...root],
      ['get', 'foo3', ...alice],
      ['role', 'grant-permission', 'rw-foo', 'readwrite', 'foo3', ...root],
      ['get', 'foo3', ...alice],
      ['user', 'passwd', 'alice', '--interactive=false', ...root],
      ['get', 'foo3', ...alice], // the old password
      ['get', 'foo3', '--user', 'alice:newpw'],
      ['role', 'delete', 'rw-foo', ...root],
      ['user', 'get', 'alice', ...root],
      ['user', 'delete', 'alice', ...root],
      ['auth', 'disable', ...alice],
      ['auth', 'disable', ...root],
      ['get', 'foo', '--prefix'],
      ['user', 'list'],
      ['role', 'list'],
      ['auth', 'disable'],
    ];
    for (const args of session) {
      // `user passwd` reads the new password from stdin when not interactive.
      const [a, b] = args[1] === 'passwd' ? await bothWithInput(args, 'newpw\n') : await both(args);
      // Members are listed by id, which differs.
      if (args[0] === 'member') for (const r of [a, b]) r.out = r.out.split('\n').sort().join('\n');
      expect(a, `etcdctl ${args.join(' ')}`).toEqual(b);
    }
    // Unlike etcd 3.4 (whose WAL holds them), no password is in a member's files or its log lines.
    const files = fs.readdirSync(clusters.ours.dir, { recursive: true, withFileTypes: true }).filter((f) => f.isFile());
    let userNameSeen = false; // the log is there to be read: the user's name is in it
    for (const f of files) {
      const bytes = fs.readFileSync(path.join(f.parentPath, f.name));
      userNameSeen ||= bytes.includes('"alice"');
      for (const pw of ['rootpw', 'alicepw', 'newpw']) expect(bytes.includes(pw), `${pw} in ${f.name}`).toBe(false);
    }
    expect(userNameSeen).toBe(true);
    for (const n of names) expect(clusters.ours.output(n).join('\n')).not.toMatch(/rootpw|alicepw|newpw/);
    // Every member logs etcd's auth notices as it applies the changes (capnslog, as etcd 3.4 by default).
    for (const n of names) {
      const out = clusters.ours.output(n).join('\n');
      for (const line of [
        'N | auth: added a new user: alice',
        'N | auth: Role rw-foo is created',
        "N | auth: role rw-foo's permission of key foo is updated as READWRITE",
        'N | auth: granted role rw-foo to user alice',
        'N | auth: Authentication enabled',
        'E | auth: the user root must not be deleted',
        'N | auth: Authentication disabled',
      ]) {
        expect(out, n).toContain(line);
      }
    }
    expect(clusters.ours.output('n1').join('\n')).toContain(
      'N | auth: authentication failed, invalid password for user alice',
    );
  }, 240_000);

  /** `both` with standard input (etcdctl's non-interactive password prompt). */
  async function bothWithInput(args: string[], input: string): Promise<[Out, Out]> {
    const one = (ep: string) =>
      new Promise<Out>((resolve) => {
        const child = execFile(
          ETCDCTL,
          ['--endpoints', ep, '--dial-timeout', '5s', '--command-timeout', '10s', ...args],
          { env: { ...clean, ETCDCTL_API: '3' }, timeout: 30_000 },
          (err, stdout, stderr) => {
            resolve({ code: err ? ((err as { code?: number }).code ?? -1) : 0, out: normalize(stdout + stderr, ep) });
          },
        );
        child.stdin!.end(input);
      });
    return Promise.all([one(url('n1')), one(eurl('e1'))]);
  }

  it('the JSON gateway with curl: authenticate, a token in Authorization, refusals, a token used on another member', async () => {
    const setup = async (ep: string) => {
      // root (with its role) is there from the etcdctl session, when it ran.
      await etcdctl(ep, ['user', 'add', 'root:rootpw', ...root]);
      await etcdctl(ep, ['user', 'grant-role', 'root', 'root', ...root]);
      for (const args of [
        ['user', 'add', 'bob:bobpw'],
        ['role', 'add', 'kv'],
        ['role', 'grant-permission', '--prefix', 'kv', 'readwrite', 'k/'],
        ['user', 'grant-role', 'bob', 'kv'],
        ['auth', 'enable'],
      ].map((a) => [...a, ...root]))
        expect((await etcdctl(ep, args)).code, `etcdctl ${args.join(' ')}`).toBe(0);
    };
    await Promise.all([setup(url('n1')), setup(eurl('e1'))]);
    /** The same gateway request on both sides (ours, etcd), answers normalized. */
    const sides = { ours: { a: url('n1'), b: url('n2') }, etcd: { a: eurl('e1'), b: eurl('e2') } };
    type Side = keyof typeof sides;
    const tokens: Record<Side, string> = { ours: '', etcd: '' };
    const call = async (member: 'a' | 'b', path: string, body: unknown, token?: (s: Side) => string) => {
      const on = (s: Side) => curl(`${sides[s][member]}${path}`, body, token?.(s));
      const [o, e] = await Promise.all([on('ours'), on('etcd')]);
      return {
        ours: { status: o.status, body: normalizeJson(o.body) },
        etcd: { status: e.status, body: normalizeJson(e.body) },
        raw: { ours: o.body, etcd: e.body },
      };
    };
    const same = (r: { ours: unknown; etcd: unknown }, what: string) => expect(r.ours, what).toEqual(r.etcd);

    const auth = await call('a', '/v3/auth/authenticate', { name: 'bob', password: 'bobpw' });
    same(auth, 'authenticate');
    expect(auth.ours.status).toBe(200);
    tokens.ours = auth.raw.ours.token as string;
    tokens.etcd = auth.raw.etcd.token as string;
    // etcd's simple token: 16 letters, a dot, the log index of the Authenticate entry.
    expect(tokens.ours).toMatch(/^[a-zA-Z]{16}\.\d+$/);
    const tok = (s: Side) => tokens[s];

    same(await call('a', '/v3/auth/authenticate', { name: 'bob', password: 'nope' }), 'wrong password');
    same(await call('a', '/v3/auth/authenticate', { name: 'nobody', password: 'x' }), 'unknown user');
    const put = await call('a', '/v3/kv/put', { key: b64('k/1'), value: b64('v') }, tok);
    same(put, 'put within the prefix');
    expect(put.ours.status).toBe(200);
    const denied = await call('a', '/v3/kv/put', { key: b64('other'), value: b64('v') }, tok);
    same(denied, 'put outside the prefix');
    expect(denied.ours).toMatchObject({ status: 403, body: { error: 'etcdserver: permission denied', code: 7 } });
    same(await call('a', '/v3/kv/range', { key: b64('k/'), range_end: b64('k0') }, tok), 'range of the prefix');
    same(await call('a', '/v3/kv/range', { key: b64('k/1') }), 'range without a token');
    // (An index already applied: etcd waits for a token's index to be applied, however far.)
    const bad = await call('a', '/v3/kv/range', { key: b64('k/1') }, () => 'abcdefghijklmnop.2');
    same(bad, 'an unknown token');
    expect(bad.ours).toMatchObject({ status: 401, body: { error: 'etcdserver: invalid auth token', code: 16 } });
    same(await call('a', '/v3/auth/user/list', {}, tok), 'user list as bob');
    same(await call('a', '/v3/auth/user/get', { name: 'bob' }, tok), 'user get of itself');
    same(await call('a', '/v3/auth/role/get', { role: 'kv' }, tok), 'role get of its role');
    // Every member applied the Authenticate entry: the token works on another member too.
    const elsewhere = await call('b', '/v3/kv/range', { key: b64('k/1') }, tok);
    same(elsewhere, 'the token on another member');
    expect(elsewhere.ours.status).toBe(200);
    // Root through the gateway; then auth off, and the token is no longer known.
    const rootAuth = await call('a', '/v3/auth/authenticate', { name: 'root', password: 'rootpw' });
    const rootTok = (s: Side) => rootAuth.raw[s].token as string;
    same(await call('a', '/v3/auth/role/list', {}, rootTok), 'role list as root');
    same(await call('a', '/v3/auth/disable', {}, rootTok), 'auth disable as root');
    same(await call('a', '/v3/kv/range', { key: b64('k/1') }, tok), 'a token after auth disable');
    same(await call('a', '/v3/kv/range', { key: b64('k/1') }), 'no token after auth disable');
    same(
      await call('a', '/v3/auth/authenticate', { name: 'bob', password: 'bobpw' }),
      'authenticate with auth disabled',
    );
  }, 120_000);

  it('a token made on a follower still works there after the leader dies and another leads', async () => {
    const ep = url('n1');
    // root (with its role) is there from the tests before, when they ran.
    await etcdctl(ep, ['user', 'add', 'root:rootpw', ...root]);
    await etcdctl(ep, ['user', 'grant-role', 'root', 'root', ...root]);
    for (const args of [
      ['user', 'add', 'carol:carolpw'],
      ['role', 'add', 'c'],
      ['role', 'grant-permission', '--prefix', 'c', 'readwrite', 'c/'],
      ['user', 'grant-role', 'carol', 'c'],
      ['auth', 'enable'],
    ].map((a) => [...a, ...root])) {
      expect((await etcdctl(ep, args)).out, `etcdctl ${args.join(' ')}`).not.toMatch(/Error/);
    }
    const leader = await clusters.ours.leader();
    const follower = names.find((n) => n !== leader)!;
    const auth = await curl(`${url(follower)}/v3/auth/authenticate`, { name: 'carol', password: 'carolpw' });
    const token = auth.body.token as string;
    expect(token).toMatch(/^[a-zA-Z]{16}\.\d+$/);
    expect((await curl(`${url(follower)}/v3/kv/put`, { key: b64('c/1'), value: b64('before') }, token)).status).toBe(
      200,
    );

    // A lease of carol's expires by the leader's revoke, made as root (etcd's WithRoot): its key goes.
    const lease = await curl(`${url(follower)}/v3/lease/grant`, { TTL: 1 }, token);
    expect(lease.status, JSON.stringify(lease.body)).toBe(200);
    expect(
      (await curl(`${url(follower)}/v3/kv/put`, { key: b64('c/leased'), value: b64('v'), lease: lease.body.ID }, token))
        .status,
    ).toBe(200);
    await until(
      'the leased key gone',
      async () => !(await curl(`${url(follower)}/v3/kv/range`, { key: b64('c/leased') }, token)).body.kvs,
      20_000,
    );

    await clusters.ours.kill9(leader);
    const next = await clusters.ours.leader(20_000);
    expect(next).not.toBe(leader);
    // A write through the new leader's log, as carol, with the token made before the change.
    const put = await curl(`${url(follower)}/v3/kv/put`, { key: b64('c/1'), value: b64('after') }, token);
    expect(put, JSON.stringify(put.body)).toMatchObject({ status: 200 });
    const got = await curl(`${url(follower)}/v3/kv/range`, { key: b64('c/1') }, token);
    expect(one(got.body.kvs as { value: string }[]).value).toBe(b64('after'));
    // Still refused where carol may not write, on the new leader as well (it applied the same log).
    const other = names.find((n) => n !== leader && n !== follower)!;
    expect((await curl(`${url(other)}/v3/kv/put`, { key: b64('x'), value: b64('v') }, token)).body).toMatchObject({
      error: 'etcdserver: permission denied',
    });
  }, 90_000);
});
