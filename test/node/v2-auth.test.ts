// etcd's v2 auth on a 3-member raftlab cluster (real `raftlab node` processes) and on a
// 3-member Debian etcd 3.4 (--enable-v2), driven alike and compared: a raw HTTP transcript
// (statuses, headers, bodies), Debian's etcdctl v2, and python-etcd's auth operations. Auth
// state is written on one member; every other member must enforce it once it has applied it.
import { execFile, spawn } from 'node:child_process';
import http from 'node:http';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';
import { nth } from '../helpers/checked.js';
import { until } from '../helpers/cluster.js';
import { ETCD_BIN, startBothClusters, type EtcdCluster } from '../helpers/etcd-processes.js';
import type { ProcessCluster } from '../helpers/processes.js';
import { needTools } from '../helpers/window.js';

const ETCDCTL = '/usr/bin/etcdctl';
const PYTHON = '/usr/bin/python3';
const PYTHON_ETCD = '/usr/lib/python3/dist-packages/etcd/auth.py';
const PY_SCRIPT = fileURLToPath(new URL('../fixtures/python-etcd-auth.py', import.meta.url));
const haveEtcd = needTools('v2 auth compared with real etcd', [ETCD_BIN, ETCDCTL]);
const havePythonEtcd = needTools('python-etcd (package python3-etcd) against both', [PYTHON, PYTHON_ETCD]);
const run = promisify(execFile);

let ours: ProcessCluster | undefined;
let etcd: EtcdCluster | undefined;
afterEach(async () => {
  await Promise.all([ours?.destroy(), etcd?.destroy()]);
  ours = undefined;
  etcd = undefined;
});

type Three = [string, string, string];

/** Both clusters, 3 members each, serving. Returns their client URLs, [first, ...others]. */
async function startBoth(): Promise<{ raftlab: Three; etcd: Three }> {
  const both = await startBothClusters(3);
  ({ ours, etcd } = both);
  const three = (c: { spec(name: string): { clientURL: string } }, names: string[]): Three =>
    [0, 1, 2].map((i) => c.spec(nth(names, i, `member ${i + 1}`)).clientURL) as Three;
  const urls = { raftlab: three(both.ours, both.ourNames), etcd: three(both.etcd, both.etcdNames) };
  for (const u of [...urls.raftlab, ...urls.etcd]) {
    await until(
      `${u} to serve`,
      async () => (await request(u, { method: 'GET', path: '/health' }).catch(() => null))?.status === 200,
      60_000,
    );
  }
  return urls;
}

// --- HTTP ------------------------------------------------------------------------------------

interface Step {
  method: string;
  path: string;
  /** user:password for Basic auth. */
  user?: string;
  /** A raw Authorization header. */
  authorization?: string;
  json?: string;
  form?: string;
}

interface Answer {
  status: number;
  headers: Array<[string, string]>;
  body: string;
  /** The server closed the connection without answering (a Go handler panicked). */
  dropped?: true;
}

function request(base: string, step: Step): Promise<Answer> {
  const headers: Record<string, string> = {};
  let body: string | undefined;
  if (step.user !== undefined) headers.Authorization = `Basic ${Buffer.from(step.user).toString('base64')}`;
  if (step.authorization !== undefined) headers.Authorization = step.authorization;
  if (step.json !== undefined) [headers['Content-Type'], body] = ['application/json', step.json];
  if (step.form !== undefined) [headers['Content-Type'], body] = ['application/x-www-form-urlencoded', step.form];
  return new Promise((resolve, reject) => {
    const req = http.request(
      `${base}${step.path}`,
      { method: step.method, headers, agent: false, timeout: 30_000 },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const raw = res.rawHeaders;
          const pairs: Array<[string, string]> = [];
          for (let i = 0; i + 1 < raw.length; i += 2) pairs.push([raw[i]!, raw[i + 1]!]);
          resolve({ status: res.statusCode!, headers: pairs, body: Buffer.concat(chunks).toString('utf8') });
        });
      },
    );
    req.on('timeout', () => req.destroy(new Error(`${step.method} ${step.path} timed out`)));
    req.on('error', (err: NodeJS.ErrnoException) =>
      err.code === 'ECONNRESET' || err.message === 'socket hang up'
        ? resolve({ status: 0, headers: [], body: '', dropped: true })
        : reject(err),
    );
    req.end(body);
  });
}

/** What may differ between two clusters: ids, indexes, URLs, dates, Raft positions. */
function normalize(a: Answer): object {
  const body = a.body
    .replace(/"(modifiedIndex|createdIndex|index)":\d+/g, '"$1":N')
    .replace(/"(id|name)":"[^"]*"/g, '"$1":"X"')
    .replace(/"key":"\/q\/\d{20}"/g, '"key":"/q/N"')
    .replace(/127\.0\.0\.1:\d+/g, '127.0.0.1:P');
  const headers = a.headers
    .filter(([k]) => !['Date', 'Connection', 'Keep-Alive'].includes(k))
    .map(([k, v]) =>
      /^(X-Etcd-Index|X-Raft-Index|X-Raft-Term|X-Etcd-Cluster-Id|Content-Length)$/.test(k) ? k : `${k}: ${v}`,
    );
  return a.dropped ? { dropped: 'no answer, connection closed' } : { status: a.status, headers, body };
}

const J = (method: string, path: string, json: string, user?: string): Step => ({ method, path, json, user });

/**
 * The v2 auth operations etcd clients use, in order, with the mistakes they make: every
 * status, error text and JSON shape here is compared with etcd 3.4's.
 */
const TRANSCRIPT: Step[] = [
  // Before anything: auth off, no root user, no guest role.
  { method: 'GET', path: '/v2/auth/enable' },
  { method: 'GET', path: '/v2/auth/users' },
  { method: 'GET', path: '/v2/auth/roles' },
  { method: 'GET', path: '/v2/auth/users/root' },
  { method: 'GET', path: '/v2/auth/roles/root' },
  { method: 'GET', path: '/v2/auth/roles/guest' },
  { method: 'PUT', path: '/v2/auth/enable' },
  { method: 'DELETE', path: '/v2/auth/enable' },
  { method: 'POST', path: '/v2/auth/enable' },
  { method: 'GET', path: '/v2/auth' },
  { method: 'GET', path: '/v2/auth/enable/' },
  // Users: root, a password change, users with roles, the update rules.
  J('PUT', '/v2/auth/users/root', '{"user":"root"}'),
  J('PUT', '/v2/auth/users/root', '{"user":"root","password":"Root-PW"}'),
  { method: 'GET', path: '/v2/auth/users' },
  J('PUT', '/v2/auth/users/root', '{"user":"root","password":"Root-PW"}'),
  J('PUT', '/v2/auth/users/u1', '{"user":"u1","password":"U1-PW"}'),
  J('PUT', '/v2/auth/users/u1', '{"user":"u1"}'),
  J('PUT', '/v2/auth/users/u2', '{"user":"u2","password":"U2-PW","roles":["r1","r1"]}'),
  J('PUT', '/v2/auth/users/u2', '{"user":"u2","password":"U2-PW","roles":["r1"]}'),
  J('PUT', '/v2/auth/users/u2', '{"user":"u3","password":"U2-PW"}'),
  J('PUT', '/v2/auth/users/u2', '{"user":"u2","grant":["x"],"roles":["a"]}'),
  J('PUT', '/v2/auth/users/u2', 'nope'),
  J('PUT', '/v2/auth/users/u2', ''),
  J('PUT', '/v2/auth/users/u2', '{"user":"u2","roles":"r1"}'),
  J('PUT', '/v2/auth/users/u2', '{"User":"u2","grant":["x%s"]} trailing'),
  J('PUT', '/v2/auth/users/u2', '{"user":"u2","grant":["x%s"]}'),
  J('PUT', '/v2/auth/users/u2', '{"user":"u2","revoke":["zz"]}'),
  J('PUT', '/v2/auth/users/u2', '{"user":"u2","revoke":["x%s"]}'),
  { method: 'GET', path: '/v2/auth/users/u2' },
  { method: 'GET', path: '/v2/auth/users' },
  // Roles: create, grant, revoke, the root role, conflicts.
  J('PUT', '/v2/auth/roles/r1', '{"role":"r1"}'),
  J('PUT', '/v2/auth/roles/r1', '{"role":"r1"}'),
  J('PUT', '/v2/auth/roles/r2', '{"role":"r2","permissions":{"kv":{"read":["/a/*","/b"],"write":["/a/*"]}}}'),
  J('PUT', '/v2/auth/roles/r2', '{"role":"r2","grant":{"kv":{"read":["/a/*"]}}}'),
  J('PUT', '/v2/auth/roles/r2', '{"role":"r2","grant":{"kv":{"read":["/c"]}},"permissions":{"kv":{"read":["/c"]}}}'),
  J('PUT', '/v2/auth/roles/r2', '{"role":"r2","revoke":{"kv":{"read":["/zz"]}}}'),
  J('PUT', '/v2/auth/roles/r2', '{"role":"r2","grant":{"kv":{"write":["/b"]}}}'),
  J('PUT', '/v2/auth/roles/r2', '{"role":"r2","revoke":{"kv":{"write":["/a/*"]}}}'),
  J('PUT', '/v2/auth/roles/r3', '{"role":"r3","grant":{"kv":{}}}'),
  J('PUT', '/v2/auth/roles/r4', '{"role":"r4","permissions":{"kv":{"read":[]}}}'),
  J('PUT', '/v2/auth/roles/r4', '{"role":"r5"}'),
  J('PUT', '/v2/auth/roles/root', '{"role":"root"}'),
  J('PUT', '/v2/auth/roles/root', '{"role":"root","grant":{"kv":{"read":["/x"]}}}'),
  { method: 'DELETE', path: '/v2/auth/roles/root' },
  { method: 'DELETE', path: '/v2/auth/roles/r4' },
  { method: 'DELETE', path: '/v2/auth/roles/nope' },
  { method: 'DELETE', path: '/v2/auth/users/nope' },
  { method: 'GET', path: '/v2/auth/roles' },
  { method: 'GET', path: '/v2/auth/roles/' },
  { method: 'GET', path: '/v2/auth/roles/r2' },
  { method: 'PATCH', path: '/v2/auth/roles/r2' },
  { method: 'GET', path: '/v2/auth/users/u2' },
  { method: 'GET', path: '/v2/auth/users/a/b' },
  { method: 'GET', path: '/v2/auth/users/' },
  { method: 'POST', path: '/v2/auth/users' },
  { method: 'GET', path: '/v2/auth/users?x=%zz' },
  J('PUT', '/v2/auth/users/u2', '{"user":"u2","grant":["r2"]}'),
  J('PUT', '/v2/auth/users/u2', '{"user":"u2","revoke":["x%s"]}'),
  { method: 'PUT', path: '/v2/keys/a/x', form: 'value=1' },
  { method: 'PUT', path: '/v2/keys/b', form: 'value=2' },
  // Auth on: the guest role is made, root is needed for the auth API, Basic auth decides.
  { method: 'PUT', path: '/v2/auth/enable' },
  { method: 'PUT', path: '/v2/auth/enable' },
  { method: 'PUT', path: '/v2/auth/enable', user: 'root:Root-PW' },
  { method: 'GET', path: '/v2/auth/enable' },
  { method: 'GET', path: '/v2/auth/users' },
  { method: 'GET', path: '/v2/auth/users', user: 'root:bad' },
  { method: 'GET', path: '/v2/auth/users', user: 'root:Root-PW' },
  { method: 'GET', path: '/v2/auth/roles', user: 'root:Root-PW' },
  { method: 'GET', path: '/v2/auth/roles/guest', user: 'root:Root-PW' },
  { method: 'GET', path: '/v2/auth/users', user: 'u2:U2-PW' },
  { method: 'GET', path: '/v2/auth/users', authorization: 'Basic !!' },
  { method: 'GET', path: '/v2/auth/users', authorization: `bAsIc ${Buffer.from('root:Root-PW').toString('base64')}` },
  {
    method: 'GET',
    path: '/v2/auth/users',
    authorization: `Basic ${Buffer.from('root:Root-PW').toString('base64').replace(/=+$/, '')}`,
  },
  { method: 'GET', path: '/v2/keys/b' },
  { method: 'GET', path: '/v2/keys' },
  { method: 'GET', path: '/v2/keys/b', user: 'u2:U2-PW' },
  { method: 'GET', path: '/v2/keys/a/x', user: 'u2:U2-PW' },
  { method: 'GET', path: '/v2/keys/a?recursive=true', user: 'u2:U2-PW' },
  { method: 'GET', path: '/v2/keys/a/?recursive=true', user: 'u2:U2-PW' },
  { method: 'GET', path: '/v2/keys/b?recursive=true', user: 'u2:U2-PW' },
  { method: 'GET', path: '/v2/keys/b?wait=true&waitIndex=1', user: 'u1:U1-PW' },
  { method: 'PUT', path: '/v2/keys/a/y', form: 'value=3', user: 'u2:U2-PW' },
  { method: 'PUT', path: '/v2/keys/b', form: 'value=3', user: 'u2:U2-PW' },
  { method: 'PUT', path: '/v2/keys/b', form: 'ttl=bad', user: 'u1:U1-PW' },
  { method: 'POST', path: '/v2/keys/q', form: 'value=1', user: 'root:Root-PW' },
  { method: 'GET', path: '/v2/keys/b', user: 'u2:wrong' },
  { method: 'GET', path: '/v2/keys/b', user: 'nobody:x' },
  { method: 'GET', path: '/v2/keys/b', authorization: 'Basic !!' },
  { method: 'GET', path: '/v2/keys/b', authorization: 'Bearer x' },
  // The guest role can be narrowed, then emptied.
  J('PUT', '/v2/auth/roles/guest', '{"role":"guest","revoke":{"kv":{"write":["/*"]}}}', 'root:Root-PW'),
  { method: 'PUT', path: '/v2/keys/g', form: 'value=1' },
  { method: 'GET', path: '/v2/keys/b' },
  J('PUT', '/v2/auth/roles/guest', '{"role":"guest","revoke":{"kv":{"read":["/*"]}}}', 'root:Root-PW'),
  { method: 'GET', path: '/v2/keys/b' },
  // Passwords change; the old one stops working at once.
  J('PUT', '/v2/auth/users/u2', '{"user":"u2","password":"U2-NEW"}', 'root:Root-PW'),
  { method: 'GET', path: '/v2/keys/b', user: 'u2:U2-PW' },
  { method: 'GET', path: '/v2/keys/b', user: 'u2:U2-NEW' },
  J('PUT', '/v2/auth/users/u1', '{"user":"u1","password":"U1-PW","roles":["r2"]}', 'root:Root-PW'),
  J('PUT', '/v2/auth/users/u3', '{"user":"u3","password":"U3-PW","roles":["root"]}', 'root:Root-PW'),
  { method: 'GET', path: '/v2/auth/users/u3', user: 'u3:U3-PW' },
  J('PUT', '/v2/auth/users/root', '{"user":"root","revoke":["root"]}', 'root:Root-PW'),
  { method: 'GET', path: '/v2/auth/users/root', user: 'root:Root-PW' },
  { method: 'DELETE', path: '/v2/auth/users/root', user: 'root:Root-PW' },
  // Members: listing is open, changes need root.
  J('POST', '/v2/members', '{"peerURLs":["http://127.0.0.1:1"]}'),
  J('POST', '/v2/members', '{"peerURLs":["http://127.0.0.1:1"]}', 'u2:U2-NEW'),
  J('PUT', '/v2/members/1234', '{"peerURLs":["http://127.0.0.1:1"]}', 'u3:U3-PW'),
  { method: 'GET', path: '/v2/members' },
  // Where etcd's handlers panic (an empty pattern, a user name that is a directory): no answer.
  J('PUT', '/v2/auth/roles/bad', '{"role":"bad","permissions":{"kv":{"read":[""],"write":[]}}}', 'root:Root-PW'),
  J('PUT', '/v2/auth/users/bu', '{"user":"bu","password":"Bu-PW","roles":["bad"]}', 'root:Root-PW'),
  { method: 'GET', path: '/v2/keys/b', user: 'bu:Bu-PW' },
  { method: 'GET', path: '/v2/keys/b', user: ':Bu-PW' },
  { method: 'GET', path: '/v2/keys/b', user: '..:Bu-PW' },
  // Without a guest role nobody anonymous gets in; a new one can be made.
  { method: 'DELETE', path: '/v2/auth/roles/guest', user: 'root:Root-PW' },
  { method: 'GET', path: '/v2/keys/b' },
  J('PUT', '/v2/auth/roles/guest', '{"role":"guest","permissions":{"kv":{"read":["/b"],"write":[]}}}', 'root:Root-PW'),
  { method: 'GET', path: '/v2/keys/b' },
  { method: 'HEAD', path: '/v2/keys/b' },
  { method: 'HEAD', path: '/v2/keys/a/x' },
  { method: 'HEAD', path: '/v2/auth/enable' },
  { method: 'GET', path: '/v2/keys/b?quorum=true', user: 'u1:U1-PW' },
  J('PUT', '/v2/auth/users/u1', '{"user":"u1","grant":["gone","r2x"]}', 'root:Root-PW'),
  { method: 'GET', path: '/v2/keys/b', user: 'u1:U1-PW' },
  { method: 'GET', path: '/v2/auth/users/u1', user: 'root:Root-PW' },
  { method: 'GET', path: '/v2/auth/users', user: 'root:Root-PW' },
  // Auth off again.
  { method: 'DELETE', path: '/v2/auth/enable', user: 'u2:U2-NEW' },
  { method: 'DELETE', path: '/v2/auth/enable', user: 'root:Root-PW' },
  { method: 'DELETE', path: '/v2/auth/enable' },
  { method: 'GET', path: '/v2/keys/b' },
  { method: 'DELETE', path: '/v2/auth/users/root' },
  { method: 'GET', path: '/v2/auth/users' },
];

/** The lines of a log that give a password away (every password above ends in -PW or -NEW), or a hash or a credential. */
function leaks(lines: string[]): string[] {
  return lines.filter((l) => /-PW|-NEW|\$2a\$|Basic /.test(l));
}

describe('v2 auth, compared with etcd 3.4', () => {
  it.runIf(haveEtcd)(
    'the HTTP API answers as etcd does, and every member enforces what one was told',
    async () => {
      const urls = await startBoth();
      const theirs: unknown[] = [];
      const mine: unknown[] = [];
      for (const step of TRANSCRIPT) {
        const [e, r] = [await request(urls.etcd[0], step), await request(urls.raftlab[0], step)];
        theirs.push({
          step: `${step.method} ${step.path} ${step.user ?? ''} ${step.json ?? step.form ?? ''}`,
          ...normalize(e),
        });
        mine.push({
          step: `${step.method} ${step.path} ${step.user ?? ''} ${step.json ?? step.form ?? ''}`,
          ...normalize(r),
        });
      }
      expect(mine).toEqual(theirs);
      // Sanity: the transcript is not vacuous (both could be refusing everything).
      expect(mine.filter((a) => (a as { status?: number }).status === 401).length).toBeGreaterThan(10);
      expect(mine.filter((a) => (a as { status?: number }).status === 201).length).toBeGreaterThan(5);
      expect(mine.filter((a) => JSON.stringify(a).includes('connection closed')).length).toBe(3);

      // Every member now enforces the same users, roles and flag: auth on, the guest reads /b only.
      for (const [name, list] of Object.entries(urls)) {
        await request(list[0], {
          method: 'PUT',
          path: '/v2/auth/users/root',
          json: '{"user":"root","password":"Root-PW"}',
        });
        expect((await request(list[0], { method: 'PUT', path: '/v2/auth/enable' })).status, name).toBe(200);
        for (const url of list.slice(1)) {
          await until(
            `${name} ${url} to refuse the guest`,
            async () => (await request(url, { method: 'GET', path: '/v2/keys/a/x' })).status === 401,
            30_000,
          );
          expect((await request(url, { method: 'GET', path: '/v2/keys/a/x', user: 'u2:U2-NEW' })).status).toBe(200);
          expect((await request(url, { method: 'GET', path: '/v2/keys/a/x', user: 'u2:U2-PW' })).status).toBe(401);
          expect((await request(url, { method: 'GET', path: '/v2/auth/users', user: 'u2:U2-NEW' })).status).toBe(401);
          expect((await request(url, { method: 'GET', path: '/v2/auth/users', user: 'root:Root-PW' })).status).toBe(
            200,
          );
          // A member that never wrote auth state makes its writes as the others do.
          expect(
            (
              await request(url, {
                method: 'PUT',
                path: '/v2/auth/users/u9',
                json: '{"user":"u9","password":"U9-PW"}',
                user: 'root:Root-PW',
              })
            ).status,
          ).toBe(201);
          expect(
            (await request(url, { method: 'DELETE', path: '/v2/auth/users/u9', user: 'root:Root-PW' })).status,
          ).toBe(200);
        }
      }
      for (const s of ours!.specs.slice(0, 3)) {
        const out = ours!.output(s.name);
        expect(leaks(out), s.name).toEqual([]);
        expect(
          out.some((l) => l.includes('N | etcdserver/auth: created user root')),
          s.name,
        ).toBe(s.name === 'n1');
      }
      expect(ours!.output('n1')).toEqual(
        expect.arrayContaining([
          expect.stringContaining('I | etcdserver/auth: no guest role access found, creating default'),
          expect.stringContaining('N | etcdserver/auth: auth: enabled auth'),
          expect.stringContaining('W | etcdserver/api/v2http: auth: incorrect password for user: root'),
          expect.stringContaining('W | etcdserver/api/v2http: auth: invalid access for user u2 on key /b.'),
        ]),
      );
    },
    240_000,
  );

  it.runIf(haveEtcd)(
    'Debian’s etcdctl v2 (user, role, auth commands) prints the same against both',
    async () => {
      const urls = await startBoth();
      const script: string[][] = [
        ['user', 'add', 'root:pw'],
        ['user', 'list'],
        ['auth', 'enable'],
        ['user', 'list'],
        ['--username', 'root:pw', 'user', 'list'],
        ['--username', 'root:pw', 'role', 'list'],
        ['--username', 'root:pw', 'role', 'add', 'app'],
        ['--username', 'root:pw', 'role', 'add', 'app'],
        ['--username', 'root:pw', 'role', 'grant', '--path', '/app/*', '--readwrite', 'app'],
        ['--username', 'root:pw', 'role', 'grant', '--path', '/pub', '--read', 'app'],
        ['--username', 'root:pw', 'role', 'get', 'app'],
        ['--username', 'root:pw', 'role', 'revoke', '--path', '/app/*', '--write', 'app'],
        ['--username', 'root:pw', 'role', 'get', 'app'],
        ['--username', 'root:pw', 'role', 'get', 'root'],
        ['--username', 'root:pw', 'user', 'add', 'alice:secret'],
        ['--username', 'root:pw', 'user', 'grant', '--roles', 'app', 'alice'],
        ['--username', 'root:pw', 'user', 'grant', '--roles', 'app', 'alice'],
        ['--username', 'root:pw', 'user', 'get', 'alice'],
        ['--username', 'root:pw', 'user', 'revoke', '--roles', 'nope', 'alice'],
        ['--username', 'root:pw', 'set', '/app/a', '1'],
        ['--username', 'alice:secret', 'get', '/app/a'],
        ['--username', 'alice:secret', 'set', '/app/a', '2'],
        ['--username', 'alice:wrong', 'get', '/app/a'],
        ['get', '/app/a'],
        ['--username', 'root:pw', 'role', 'revoke', '--path', '/*', '--readwrite', 'guest'],
        ['get', '/app/a'],
        ['--username', 'alice:secret', 'member', 'add', 'x', 'http://127.0.0.1:1'],
        ['--username', 'root:pw', 'user', 'remove', 'alice'],
        ['--username', 'root:pw', 'user', 'remove', 'alice'],
        ['--username', 'root:pw', 'role', 'remove', 'app'],
        ['--username', 'root:pw', 'user', 'remove', 'root'],
        ['--username', 'root:pw', 'auth', 'disable'],
        ['auth', 'disable'],
        ['user', 'list'],
      ];
      const ctl = async (url: string, args: string[]): Promise<string> => {
        const r = await run(ETCDCTL, ['--endpoints', url, ...args], {
          env: { ...process.env, ETCDCTL_API: '2' },
          timeout: 30_000,
        }).then(
          (ok) => ({ code: 0, out: ok.stdout + ok.stderr }),
          (err: { code: number; stdout: string; stderr: string }) => ({ code: err.code, out: err.stdout + err.stderr }),
        );
        return `${args.join(' ')} → ${r.code}: ${r.out
          .replace(/\[\d+\]/g, '[N]')
          .replace(/[0-9a-f]{16}/g, 'ID')
          .replace(/127\.0\.0\.1:\d+/g, 'P')}`;
      };
      const theirs: string[] = [];
      const mine: string[] = [];
      for (const args of script) {
        theirs.push(await ctl(urls.etcd[0], args));
        mine.push(await ctl(urls.raftlab[0], args));
      }
      expect(mine).toEqual(theirs);
      expect(mine.join('\n')).toContain('Authentication Enabled');
      expect(mine.join('\n')).toContain(
        'Error:  110: The request requires user authentication (Insufficient credentials)',
      );

      // `user passwd` reads the new password from its terminal (here a pipe), on another member;
      // the third member then knows only the new one.
      for (const list of [urls.etcd, urls.raftlab]) {
        await ctl(list[0], ['user', 'add', 'bob:old']);
        await ctl(list[0], ['user', 'grant', '--roles', 'root', 'bob']);
        const passwd = spawn(ETCDCTL, ['--endpoints', list[1], 'user', 'passwd', 'bob'], {
          env: { ...process.env, ETCDCTL_API: '2' },
          stdio: ['pipe', 'pipe', 'ignore'],
        });
        let out = '';
        passwd.stdout.on('data', (b: Buffer) => (out += b.toString()));
        passwd.stdin.end('fresh\n');
        const code = await new Promise((resolve) => passwd.once('exit', resolve));
        expect({ code, out: out.trim() }).toEqual({ code: 0, out: 'New password: \nPassword updated' });
        expect(await ctl(list[0], ['--username', 'root:pw', 'auth', 'enable'])).toContain('Authentication Enabled');
        const users = (user: string) => request(list[2], { method: 'GET', path: '/v2/auth/users', user });
        await until('the third member to enforce auth', async () => (await users('nobody:x')).status === 401, 30_000);
        await until(
          'the third member to know the new password',
          async () => (await users('bob:fresh')).status === 200,
          30_000,
        );
        expect((await users('bob:old')).status).toBe(401);
      }
    },
    240_000,
  );

  it.runIf(haveEtcd && havePythonEtcd)(
    'python-etcd’s auth operations end alike on both',
    async () => {
      const urls = await startBoth();
      const py = async (url: string) =>
        (await run(PYTHON, [PY_SCRIPT, url], { timeout: 120_000 })).stdout.trim().split('\n');
      const theirs = await py(urls.etcd[0]);
      const mine = await py(urls.raftlab[0]);
      expect(mine).toEqual(theirs);
      expect(mine).toContain('enable auth ok true');
      expect(mine).toContain('read root anonymously error EtcdInsufficientPermissions Insufficient credentials : None');
      expect(mine).toContain(
        'reader writes error EtcdInsufficientPermissions The request requires user authentication : Insufficient credentials',
      );
      expect(mine).toContain('disable auth ok false');
      expect(mine.length).toBeGreaterThan(40);
    },
    240_000,
  );
});
