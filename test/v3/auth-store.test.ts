// The auth state as members replicate it: the same encoded commands applied by three members
// give the same state and snapshot; a member restored from a snapshot enforces the same; writes
// are checked as the header's user at the auth revision it names; tokens are each member's own,
// live 5 minutes from their last use and go with the user's password, the user or auth itself;
// lease keys and nested txns are checked; no password is in any command, snapshot or summary.
import { describe, expect, it } from 'vitest';
import { decodeCommand, encodeCommand, toJson, type V3Command } from '../../src-main/v3/command.js';
import { summarizeV3 } from '../../src-main/v3/command-summary.js';
import { V3StateMachine, type V3Result } from '../../src-main/v3/state-machine.js';
import { checkPassword, hashPassword } from '../../src-main/v3/auth/password.js';
import { SIMPLE_TOKEN_TTL_MS, tokenIndex } from '../../src-main/v3/auth/simple-token.js';
import type { AuthHeader } from '../../src-main/v3/auth/types.js';

const k = (s: string) => Buffer.from(s);

/** Three members applying one log; `commit` returns the first member's result. */
function cluster() {
  const clock = { t: 1_000_000 };
  const member = () => new V3StateMachine({ minLeaseTTL: 1, now: () => clock.t });
  const members = [member(), member(), member()] as const;
  const log: Buffer[] = [];
  const commit = (cmd: V3Command): V3Result => {
    const entry = encodeCommand(cmd);
    log.push(entry);
    const [first, ...others] = members;
    const result = first.apply(decodeCommand(entry), log.length);
    for (const m of others) m.apply(decodeCommand(entry), log.length);
    return result;
  };
  return { clock, members, log, commit };
}

const ok = (r: V3Result) => {
  if (!r.ok) throw r.error;
  return r.response;
};
const err = (r: V3Result) => (r.ok ? 'ok' : r.error.message);

/** root (with its role) and alice (readwrite on the prefix "a/", read on "r"), auth enabled. */
async function withUsers() {
  const c = cluster();
  const as = (username: string): { header: AuthHeader } => ({
    header: { username, auth_revision: c.members[0].auth.revision() },
  });
  ok(c.commit({ auth_user_add: { name: 'root', hashed_password: await hashPassword('rootpw') } }));
  ok(c.commit({ auth_user_grant_role: { user: 'root', role: 'root' } }));
  ok(c.commit({ auth_user_add: { name: 'alice', hashed_password: await hashPassword('alicepw') } }));
  ok(c.commit({ auth_role_add: { name: 'rw' } }));
  ok(
    c.commit({
      auth_role_grant_permission: { name: 'rw', perm: { permType: 'READWRITE', key: k('a/'), range_end: k('a0') } },
    }),
  );
  ok(c.commit({ auth_role_grant_permission: { name: 'rw', perm: { permType: 'READ', key: k('r') } } }));
  ok(c.commit({ auth_user_grant_role: { user: 'alice', role: 'rw' } }));
  ok(c.commit({ auth_enable: {} }));
  return { ...c, as };
}

describe('v3 auth, replicated through one log', () => {
  it('every member reaches the same auth state and snapshot; a restored member enforces the same', async () => {
    const c = await withUsers();
    expect(err(c.commit({ put: { key: k('a/1'), value: k('v') }, ...c.as('alice') }))).toBe('ok');
    expect(err(c.commit({ put: { key: k('b'), value: k('v') }, ...c.as('alice') }))).toBe(
      'etcdserver: permission denied',
    );
    expect(err(c.commit({ put: { key: k('r'), value: k('v') }, ...c.as('alice') }))).toBe(
      'etcdserver: permission denied',
    );
    expect(err(c.commit({ put: { key: k('b'), value: k('v') } }))).toBe('etcdserver: user name is empty');
    expect(err(c.commit({ put: { key: k('b'), value: k('v') }, ...c.as('root') }))).toBe('ok');
    for (const m of c.members) expect(m.snapshot().equals(c.members[0].snapshot())).toBe(true);
    const late = new V3StateMachine({ minLeaseTTL: 1 });
    late.restore(c.members[1].snapshot());
    expect(late.snapshot().equals(c.members[0].snapshot())).toBe(true);
    expect(late.auth.isEnabled()).toBe(true);
    const rev = late.auth.revision();
    expect(
      err(late.apply({ put: { key: k('zz'), value: k('v') }, header: { username: 'alice', auth_revision: rev } })),
    ).toBe('etcdserver: permission denied');
    expect(
      err(late.apply({ put: { key: k('a/zz'), value: k('v') }, header: { username: 'alice', auth_revision: rev } })),
    ).toBe('ok');
    // The password checks out against the restored hash; a wrong one does not.
    await expect(late.auth.checkPassword('alice', 'alicepw')).resolves.toBe(rev);
    await expect(late.auth.checkPassword('alice', 'nope')).rejects.toThrow(
      'etcdserver: authentication failed, invalid user ID or password',
    );
  });

  it('a write checked at an older auth revision is refused; auth changes move the revision, enable does not', async () => {
    const c = await withUsers();
    const rev = c.members[0].auth.revision();
    // 1 at the start; 7 changes (enable moves nothing): users 2, grants 2, role 1, permissions 2.
    expect(rev).toBe(8);
    ok(c.commit({ auth_role_add: { name: 'other' }, ...c.as('root') }));
    expect(c.members[0].auth.revision()).toBe(rev + 1);
    expect(
      err(c.commit({ put: { key: k('a/1'), value: k('v') }, header: { username: 'alice', auth_revision: rev } })),
    ).toBe('etcdserver: revision of auth store is old');
    expect(err(c.commit({ put: { key: k('a/1'), value: k('v') }, ...c.as('alice') }))).toBe('ok');
    // Granting a role the user has already changes nothing.
    ok(c.commit({ auth_user_grant_role: { user: 'alice', role: 'rw' }, ...c.as('root') }));
    expect(c.members[0].auth.revision()).toBe(rev + 1);
    // Root-only commands, as alice and as nobody.
    expect(err(c.commit({ auth_role_add: { name: 'x' }, ...c.as('alice') }))).toBe('etcdserver: permission denied');
    expect(err(c.commit({ auth_user_list: {} }))).toBe('etcdserver: user name is empty');
    expect(err(c.commit({ auth_disable: {}, header: { username: 'ghost', auth_revision: 99 } }))).toBe(
      'etcdserver: user name not found',
    );
  });

  it('an Authenticate entry gives every member the token "<random>.<index>"; each member forgets it 5 minutes after its last use there', async () => {
    const c = await withUsers();
    const r = ok(c.commit({ authenticate: { name: 'alice', simple_token: 'abcdefghijklmnop' } })) as { token: string };
    expect(r.token).toBe(`abcdefghijklmnop.${c.log.length}`);
    expect(tokenIndex(r.token)).toBe(c.log.length);
    for (const m of c.members) expect(m.auth.tokens.use(r.token)).toBe('alice');
    // Member 0 uses it near the end of its lifetime, member 1 does not.
    c.clock.t += SIMPLE_TOKEN_TTL_MS - 1000;
    expect(c.members[0].auth.tokens.use(r.token)).toBe('alice');
    c.clock.t += 2000;
    expect(c.members[0].auth.tokens.use(r.token)).toBe('alice');
    expect(c.members[1].auth.tokens.use(r.token)).toBeUndefined();
    // A new password: every member forgets alice's tokens.
    ok(
      c.commit({
        auth_user_change_password: { name: 'alice', hashed_password: await hashPassword('new') },
        ...c.as('root'),
      }),
    );
    expect(c.members[0].auth.tokens.use(r.token)).toBeUndefined();
    const again = ok(c.commit({ authenticate: { name: 'alice', simple_token: 'ABCDEFGHIJKLMNOP' } })) as {
      token: string;
    };
    expect(c.members[2].auth.tokens.use(again.token)).toBe('alice');
    ok(c.commit({ auth_disable: {}, ...c.as('root') }));
    expect(c.members[2].auth.tokens.use(again.token)).toBeUndefined();
    expect(err(c.commit({ authenticate: { name: 'alice', simple_token: 'x' } }))).toBe(
      'etcdserver: authentication is not enabled',
    );
  });

  it('a lease with keys the user may not write can be neither revoked nor given more keys by it; nested txns are checked', async () => {
    const c = await withUsers();
    ok(c.commit({ lease_grant: { ID: 7n, TTL: 60 }, ...c.as('alice') }));
    ok(c.commit({ put: { key: k('secret'), value: k('v'), lease: 7n }, ...c.as('root') }));
    expect(err(c.commit({ put: { key: k('a/1'), value: k('v'), lease: 7n }, ...c.as('alice') }))).toBe(
      'etcdserver: permission denied',
    );
    expect(err(c.commit({ lease_revoke: { ID: 7n }, ...c.as('alice') }))).toBe('etcdserver: permission denied');
    expect(err(c.commit({ lease_revoke: { ID: 7n }, ...c.as('root') }))).toBe('ok');
    const nested: V3Command = {
      txn: { success: [{ request_txn: { success: [{ request_put: { key: k('secret'), value: k('x') } }] } }] },
      ...c.as('alice'),
    };
    expect(err(c.commit(nested))).toBe('etcdserver: permission denied');
    // A put with prev_kv reads too: "r" is readable, "a/" both.
    expect(err(c.commit({ put: { key: k('a/2'), value: k('v'), prev_kv: true }, ...c.as('alice') }))).toBe('ok');
    expect(err(c.commit({ delete_range: { key: k('a/'), range_end: k('a0'), prev_kv: true }, ...c.as('alice') }))).toBe(
      'ok',
    );
    expect(err(c.commit({ delete_range: { key: k('a/'), range_end: k('b') }, ...c.as('alice') }))).toBe(
      'etcdserver: permission denied',
    );
  });

  it('root stays root while auth is on; deleting a role takes it from its users', async () => {
    const c = await withUsers();
    expect(err(c.commit({ auth_user_delete: { name: 'root' }, ...c.as('root') }))).toBe(
      'etcdserver: invalid auth management',
    );
    expect(err(c.commit({ auth_user_revoke_role: { name: 'root', role: 'root' }, ...c.as('root') }))).toBe(
      'etcdserver: invalid auth management',
    );
    expect(err(c.commit({ auth_role_delete: { role: 'root' }, ...c.as('root') }))).toBe(
      'etcdserver: invalid auth management',
    );
    ok(c.commit({ auth_role_delete: { role: 'rw' }, ...c.as('root') }));
    expect(ok(c.commit({ auth_user_get: { name: 'alice' }, ...c.as('alice') }))).toMatchObject({ roles: [] });
    expect(err(c.commit({ put: { key: k('a/1'), value: k('v') }, ...c.as('alice') }))).toBe(
      'etcdserver: permission denied',
    );
  });

  it('no password is in a command, a snapshot or an entry summary: only its bcrypt hash', async () => {
    const c = await withUsers();
    const everything = Buffer.concat([...c.log, c.members[0].snapshot()]).toString();
    expect(everything).not.toContain('alicepw');
    expect(everything).not.toContain('rootpw');
    expect(everything).toMatch(/\$2a\$10\$/);
    const add: V3Command = {
      auth_user_add: { name: 'bob', hashed_password: await hashPassword('bobpw') },
      header: { username: 'root', auth_revision: 8 },
    };
    expect(summarizeV3(toJson(add))).toBe('auth user add bob');
    expect(summarizeV3(toJson({ authenticate: { name: 'bob', simple_token: 'abcdefghijklmnop' } }))).toBe(
      'authenticate bob',
    );
    const h = await hashPassword('pw');
    expect(h).not.toBe(await hashPassword('pw')); // salted
    await expect(checkPassword('pw', h)).resolves.toBe(true);
    await expect(checkPassword('pW', h)).resolves.toBe(false);
  });
});
