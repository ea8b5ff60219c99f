// etcd's v2 auth below HTTP: the store's "/2" tree (the auth space), the auth store on top of a
// v2 store, and etcd's data rules (merges, Go's JSON, permission patterns).
import { describe, expect, it } from 'vitest';
import { summarizeEntryData } from '../../src-main/cluster/worker-summaries.js';
import { parseBasicAuth } from '../../src-main/node/api-v2/auth.js';
import {
  decodeRole,
  decodeUser,
  deepEqual,
  goSprintfNoArgs,
  GoPanic,
  hasKeyAccess,
  hasRecursiveAccess,
  mergeRole,
  mergeUser,
  rootRole,
  type Role,
  type User,
} from '../../src-main/node/store-v2/auth-model.js';
import { AuthStore, type AuthDoer } from '../../src-main/node/store-v2/auth-store.js';
import { V2Store } from '../../src-main/node/store-v2.js';
import type { V2Command, V2Event, V2ReadRequest } from '../../src-main/node/store-v2/types.js';
import { V2Error } from '../../src-main/node/store-v2/errors.js';

const NOW = Date.UTC(2026, 0, 1);
const notes = { notice: () => {} };

/** One member's view: writes applied at once, reads local. */
function doer(store: V2Store): AuthDoer & { writes: Omit<V2Command, 'now'>[] } {
  const writes: Omit<V2Command, 'now'>[] = [];
  return {
    writes,
    async write(cmd) {
      writes.push(cmd);
      return store.apply({ ...cmd, now: NOW } as V2Command);
    },
    async read(req: V2ReadRequest): Promise<V2Event> {
      return store.get(req.path, req, NOW);
    },
    lookupLocal(req) {
      return store.lookup(req.path, req, NOW);
    },
  };
}

describe('the v2 store’s auth space (etcd’s /2 tree)', () => {
  it('is apart from the keys: same paths, different nodes; one index; counted in the stats', () => {
    const s = new V2Store();
    s.apply({ op: 'set', path: '/2/users/root', value: 'a user key', now: NOW });
    s.apply({ op: 'create', path: '/2/users/root', value: '{"user":"root"}', space: 'auth', now: NOW });
    expect(s.index).toBe(2);
    expect(s.get('/2/users/root', {}, NOW).node.value).toBe('a user key');
    expect(s.get('/2/users/root', { space: 'auth' }, NOW).node).toMatchObject({
      value: '{"user":"root"}',
      modifiedIndex: 2,
    });
    expect(() => s.get('/2/roles/guest', { space: 'auth' }, NOW)).toThrow(V2Error);
    expect(() => s.apply({ op: 'create', path: '/2/users/root', value: 'x', space: 'auth', now: NOW })).toThrow(
      'Key already exists',
    );
    expect(s.get('/', { recursive: true }, NOW).node.nodes!.map((n) => n.key)).toEqual(['/2']);
    expect(s.stats()).toMatchObject({ setsSuccess: 1, createSuccess: 1, createFail: 1, getsSuccess: 3, getsFail: 1 });
  });

  it('wakes no keys watch and is in no keys history, yet takes its index', async () => {
    const s = new V2Store();
    const seen: V2Event[] = [];
    s.watch('/', { recursive: true }, (e) => seen.push(e));
    s.apply({ op: 'create', path: '/2', dir: true, space: 'auth', now: NOW });
    s.apply({ op: 'delete', path: '/2', dir: true, space: 'auth', now: NOW });
    expect(seen).toEqual([]);
    s.apply({ op: 'set', path: '/k', value: 'v', now: NOW });
    expect(seen.map((e) => [e.action, e.node.key, e.node.modifiedIndex])).toEqual([['set', '/k', 3]]);
    const fromHistory = await new Promise<V2Event>((resolve) =>
      s.watch('/', { recursive: true, waitIndex: 1 }, resolve),
    );
    expect(fromHistory.node.key).toBe('/k');
  });

  it('survives a snapshot; a store without it snapshots as before', () => {
    const plain = new V2Store();
    plain.apply({ op: 'set', path: '/k', value: 'v', now: NOW });
    expect(JSON.parse(plain.toJSON())).not.toHaveProperty('auth');
    plain.apply({ op: 'create', path: '/2/enabled', value: 'true', space: 'auth', now: NOW });
    const copy = V2Store.fromJSON(plain.toJSON());
    expect(copy.get('/2/enabled', { space: 'auth' }, NOW).node.value).toBe('true');
    expect(() => copy.get('/2/enabled', {}, NOW)).toThrow('Key not found');
    expect(copy.toJSON()).toBe(plain.toJSON());
  });

  it('an auth entry in the window’s log view shows no value (no password hash on screen)', () => {
    const entry = JSON.stringify({
      t: 'v2',
      r: '1',
      c: {
        op: 'update',
        path: '/2/users/root',
        value: '{"user":"root","password":"$2a$10$abc"}',
        space: 'auth',
        now: NOW,
      },
    });
    expect(summarizeEntryData('normal', entry)).toBe('auth update /2/users/root');
    expect(
      summarizeEntryData(
        'normal',
        JSON.stringify({ t: 'v2', r: '1', c: { op: 'set', path: '/a', value: '1', now: NOW } }),
      ),
    ).toBe('set /a=1');
  });
});

describe('the auth store on a v2 store', () => {
  it('makes /2 once, stores hashes (never a password), and enables auth only with a root user', async () => {
    const store = new V2Store();
    const d = doer(store);
    const logs: string[] = [];
    const auth = new AuthStore(d, (level, pkg, msg) => logs.push(`${level} | ${pkg}: ${msg}`), 4);
    expect(await auth.authEnabled()).toBe(false);
    expect(await auth.allUsers()).toEqual([]);
    expect(await auth.allRoles()).toEqual(['root']);
    await expect(auth.enableAuth()).rejects.toMatchObject({
      status: 409,
      message: 'auth: No root user available, please create one',
    });

    const root = await auth.createUser({ user: 'root', password: 'Root-PW', roles: null, grant: null, revoke: null });
    expect(root.roles).toEqual(['root']);
    expect(d.writes.map((w) => `${w.op} ${w.path}`)).toEqual([
      'create /2',
      'create /2/users/',
      'create /2/roles/',
      'create /2/enabled',
      'create /2/users/root',
    ]);
    const stored = store.get('/2/users/root', { space: 'auth' }, NOW).node.value!;
    expect(stored).not.toContain('Root-PW');
    expect(JSON.parse(stored)).toMatchObject({
      user: 'root',
      password: expect.stringMatching(/^\$2a\$04\$/),
      roles: ['root'],
    });

    const u = await auth.getUser('root');
    expect(await auth.checkPassword(u, Buffer.from('Root-PW'))).toBe(true);
    expect(await auth.checkPassword(u, Buffer.from('Root-PW'))).toBe(true); // remembered
    expect(await auth.checkPassword(u, Buffer.from('root-pw'))).toBe(false);

    await auth.enableAuth();
    expect(await auth.authEnabled()).toBe(true);
    expect(await auth.getRole('guest')).toEqual({
      role: 'guest',
      permissions: { kv: { read: ['/*'], write: ['/*'] } },
      grant: null,
      revoke: null,
    });
    await expect(auth.enableAuth()).rejects.toMatchObject({ status: 409, message: 'auth: already enabled' });
    await expect(auth.deleteUser('root')).rejects.toMatchObject({ status: 403 });
    await auth.disableAuth();
    await auth.deleteUser('root');
    await expect(auth.getUser('root')).rejects.toMatchObject({
      status: 404,
      message: 'auth: User root does not exist.',
    });
    expect(logs).toEqual([
      'N | etcdserver/auth: created user root',
      'I | etcdserver/auth: no guest role access found, creating default',
      'N | etcdserver/auth: created new role guest',
      'N | etcdserver/auth: auth: enabled auth',
      'N | etcdserver/auth: auth: disabled auth',
      'N | etcdserver/auth: deleted user root',
    ]);
    expect(logs.join('\n')).not.toContain('Root-PW');
  });

  it('a second member’s auth store finds /2 made and writes on', async () => {
    const store = new V2Store();
    await new AuthStore(doer(store), undefined, 4).createRole({
      role: 'r',
      permissions: { kv: { read: ['/a'], write: null } },
      grant: null,
      revoke: null,
    });
    const other = doer(store);
    const updated = await new AuthStore(other, undefined, 4).updateRole({
      role: 'r',
      permissions: { kv: { read: null, write: null } },
      grant: { kv: { read: ['/b'], write: null } },
      revoke: null,
    });
    expect(updated.permissions.kv).toEqual({ read: ['/a', '/b'], write: [] });
    expect(other.writes.map((w) => `${w.op} ${w.path}`)).toEqual([
      'create /2',
      'create /2/users/',
      'create /2/roles/',
      'create /2/enabled',
      'update /2/roles/r',
    ]);
  });
});

describe('etcd’s v2 auth rules', () => {
  const user = (roles: string[] | null, extra: Partial<User> = {}): User => ({
    user: 'u',
    password: 'hash',
    roles,
    grant: null,
    revoke: null,
    ...extra,
  });
  const role = (read: string[] | null, write: string[] | null, name = 'r'): Role => ({
    role: name,
    permissions: { kv: { read, write } },
    grant: null,
    revoke: null,
  });

  it('user merges: grants and revokes checked one by one, roles sorted; a nil list is not an empty one', () => {
    expect(mergeUser(user(['b']), user(null, { grant: ['c', 'a'], password: '' }), null, notes).roles).toEqual([
      'a',
      'b',
      'c',
    ]);
    expect(() => mergeUser(user(['a']), user(null, { grant: ['b', 'b'] }), null, notes)).toThrow(
      'auth: Granting duplicate role b for user u',
    );
    expect(() => mergeUser(user(['a']), user(null, { revoke: ['z'] }), null, notes)).toThrow(
      'auth: Revoking ungranted role z for user u',
    );
    expect(mergeUser(user(['a']), user(null, { revoke: ['a'] }), null, notes).roles).toEqual([]);
    // etcd's "User not updated" is reflect.DeepEqual: null roles merged stay [] (a change), [] stays [].
    expect(deepEqual(user(null), mergeUser(user(null), user(null), null, notes))).toBe(false);
    expect(deepEqual(user([]), mergeUser(user([]), user(null), null, notes))).toBe(true);
    expect(goSprintfNoArgs('role x%s for u%%, %d%')).toBe('role x%!s(MISSING) for u%, %!d(MISSING)%!(NOVERB)');
  });

  it('role merges: duplicate grants are conflicts, unknown revokes are noted and skipped', () => {
    const grant = (read: string[]) => ({ ...role(null, null), grant: { kv: { read, write: null } } });
    expect(mergeRole(role(['/b'], null), grant(['/a']), notes).permissions.kv).toEqual({
      read: ['/a', '/b'],
      write: [],
    });
    expect(() => mergeRole(role(['/a'], null), grant(['/a']), notes)).toThrow(
      'auth: Granting duplicate read permission /a',
    );
    const noted: string[] = [];
    const revoked = mergeRole(
      role(['/a'], ['/w']),
      { ...role(null, null), revoke: { kv: { read: ['/zz'], write: null } } },
      { notice: (t) => noted.push(t) },
    );
    expect(revoked.permissions.kv).toEqual({ read: ['/a'], write: ['/w'] });
    expect(noted).toEqual(['revoking ungranted read permission /zz']);
  });

  it('patterns: `*` is a prefix, anything else the exact key; recursive access needs a `*`; root sees all', () => {
    const r = role(['/a/*', '/b', '*'], ['/w*']);
    expect(['/a/x', '/a/', '/b', '', '/anything'].map((k) => hasKeyAccess(r, k, false))).toEqual([
      true,
      true,
      true,
      true,
      true,
    ]);
    const narrow = role(['/a/*', '/b'], ['/w*']);
    expect(['/a/x', '/a', '/b', '/bb', ''].map((k) => hasKeyAccess(narrow, k, false))).toEqual([
      true,
      false,
      true,
      false,
      false,
    ]);
    expect(['/a/x', '/b'].map((k) => hasRecursiveAccess(narrow, k, false))).toEqual([true, false]);
    expect(['/w', '/wx/y', '/a/x'].map((k) => hasKeyAccess(narrow, k, true))).toEqual([true, true, false]);
    expect(hasKeyAccess(rootRole(), '', true)).toBe(true);
    expect(() => hasKeyAccess(role([''], null), '/a', false)).toThrow(GoPanic);
  });

  it('request bodies decode as Go’s json.Decoder does', () => {
    expect(decodeUser('{"User":"u","PASSWORD":"p","roles":["a",null]} and then garbage')).toEqual({
      user: 'u',
      password: 'p',
      roles: ['a', ''],
      grant: null,
      revoke: null,
    });
    expect(decodeUser('{"uſer":"u"}')?.user).toBe('u'); // Go folds ſ to s
    expect(decodeUser('null')).toEqual({ user: '', password: '', roles: null, grant: null, revoke: null });
    for (const bad of ['', '  ', 'nope', '{"user":1}', '{"roles":"a"}', '[]', '{"user":"u"', '"u"'])
      expect(decodeUser(bad), bad).toBeNull();
    expect(decodeRole('{"role":"r","grant":{"kv":{}},"revoke":null}')).toEqual({
      role: 'r',
      permissions: { kv: { read: null, write: null } },
      grant: { kv: { read: null, write: null } },
      revoke: null,
    });
    expect(decodeRole('{"role":"r","permissions":{"kv":{"read":"x"}}}')).toBeNull();
  });

  it('Basic credentials as Go’s Request.BasicAuth reads them', () => {
    const b64 = (s: string) => Buffer.from(s).toString('base64');
    expect(parseBasicAuth(`Basic ${b64('root:p:w')}`)).toEqual({ username: 'root', password: Buffer.from('p:w') });
    expect(parseBasicAuth(`bASIC ${b64('a:')}`)).toEqual({ username: 'a', password: Buffer.alloc(0) });
    for (const bad of [
      '',
      'Basic',
      `Bearer ${b64('a:b')}`,
      `Basic ${b64('nocolon')}`,
      'Basic !!',
      `Basic ${b64('a:bc').replace(/=+$/, '')}`,
    ])
      expect(parseBasicAuth(bad), bad).toBeNull();
  });
});
