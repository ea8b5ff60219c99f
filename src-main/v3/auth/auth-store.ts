// etcd 3.4's auth store (auth/store.go) as one member's replicated state: users, roles and their
// key permissions, whether auth is enabled, and the auth revision, which every change to users
// or roles moves on (a request checked against an older revision is refused: the client
// authenticates again). Changed only by apply() in log order, so every member enforces the
// same; part of the member's v3 snapshot. The simple tokens are the member's own (simple-token.ts).
import { checkPassword } from './password.js';
import { AuthErrors } from './errors.js';
import { UnifiedPermissions } from './range-perms.js';
import { SimpleTokens } from './simple-token.js';
import type { AuthCommand, AuthHeader, AuthInfo, AuthResponse, Permission } from './types.js';

const ROOT = 'root';

interface User {
  name: string;
  /** The hash (password.ts); absent for a user added with no password. */
  password?: string;
  /** Sorted (etcd keeps them sorted and searches them). */
  roles: string[];
  noPassword?: boolean;
}

interface Role {
  name: string;
  /** Sorted by key. */
  keyPermission: Permission[];
}

export interface AuthSnapshot {
  enabled: boolean;
  revision: number;
  users: User[];
  roles: Role[];
}

/** Go's string order (bytes of UTF-8), as bolt's buckets and sort.Strings give. */
const byBytes = (a: string, b: string) => Buffer.compare(Buffer.from(a), Buffer.from(b));
const sameBytes = (a: Buffer | undefined, b: Buffer | undefined) =>
  Buffer.compare(a ?? Buffer.alloc(0), b ?? Buffer.alloc(0)) === 0;

export type AuthResult = Omit<AuthResponse, 'header'>;

/** A capnslog line to be (level letter, package, text): etcd's auth notices, never a password or token. */
export type AuthLog = (level: 'E' | 'W' | 'N' | 'I', pkg: string, text: string) => void;

export class AuthStore {
  readonly tokens: SimpleTokens;
  /** Where etcd's auth log lines go (the node's log); none by default. */
  log: AuthLog = () => {};
  private enabled = false;
  /** etcd starts it at 1 (NewAuthStore commits a first revision). */
  private rev = 1;
  private readonly users = new Map<string, User>();
  private readonly roles = new Map<string, Role>();
  /** rangePermCache: every user's permissions merged, rebuilt on each change. */
  private perms = new Map<string, UnifiedPermissions>();

  constructor(now?: () => number) {
    this.tokens = new SimpleTokens(now);
  }

  isEnabled(): boolean {
    return this.enabled;
  }

  revision(): number {
    return this.rev;
  }

  /**
   * Applies one auth command from the log for the user in its header (etcd's authApplierV3:
   * changing users, roles or auth itself takes root's role once auth is on; a user may read
   * itself and a role it has). `index` is the entry's (an Authenticate's token names it).
   */
  apply(cmd: AuthCommand, ai: AuthInfo, index: number): AuthResult {
    if (!('authenticate' in cmd || 'auth_user_get' in cmd || 'auth_role_get' in cmd)) this.isAdminPermitted(ai);
    if ('auth_enable' in cmd) return this.authEnable();
    if ('auth_disable' in cmd) return this.authDisable();
    if ('authenticate' in cmd)
      return this.authenticate(cmd.authenticate.name, `${cmd.authenticate.simple_token}.${index}`);
    if ('auth_user_add' in cmd) return this.userAdd(cmd.auth_user_add);
    if ('auth_user_delete' in cmd) return this.userDelete(cmd.auth_user_delete.name);
    if ('auth_user_change_password' in cmd) return this.userChangePassword(cmd.auth_user_change_password);
    if ('auth_user_grant_role' in cmd) return this.userGrantRole(cmd.auth_user_grant_role);
    if ('auth_user_get' in cmd) {
      const name = cmd.auth_user_get.name;
      if (name !== ai.username) this.isAdminPermitted(ai);
      return { roles: [...this.userOrThrow(name).roles] };
    }
    if ('auth_user_revoke_role' in cmd) return this.userRevokeRole(cmd.auth_user_revoke_role);
    if ('auth_user_list' in cmd) return { users: [...this.users.keys()].sort(byBytes) };
    if ('auth_role_add' in cmd) return this.roleAdd(cmd.auth_role_add.name);
    if ('auth_role_get' in cmd) {
      const role = cmd.auth_role_get.role;
      if (!this.hasRole(ai.username, role)) this.isAdminPermitted(ai);
      return { perm: this.roleOrThrow(role).keyPermission.map((p) => ({ ...p })) };
    }
    if ('auth_role_grant_permission' in cmd) return this.roleGrantPermission(cmd.auth_role_grant_permission);
    if ('auth_role_revoke_permission' in cmd) return this.roleRevokePermission(cmd.auth_role_revoke_permission);
    if ('auth_role_delete' in cmd) return this.roleDelete(cmd.auth_role_delete.role);
    if ('auth_role_list' in cmd) return { roles: [...this.roles.keys()].sort(byBytes) };
    throw new Error(`unknown auth command: ${Object.keys(cmd).join(',')}`);
  }

  /**
   * The header of the leader's own revokes of expired leases: as root (etcd's WithRoot, a root
   * token made for the purpose), so a lease whose keys only root may write still expires.
   */
  asRoot(): { header?: AuthHeader } {
    return this.enabled ? { header: { username: ROOT, auth_revision: this.rev } } : {};
  }

  // ---- checks (etcd's IsPutPermitted, IsRangePermitted, IsDeleteRangePermitted, IsAdminPermitted) ----

  isRangePermitted(ai: AuthInfo, key: Buffer, rangeEnd?: Buffer): void {
    this.isOpPermitted(ai, key, rangeEnd, 'read');
  }

  isPutPermitted(ai: AuthInfo, key: Buffer): void {
    this.isOpPermitted(ai, key, undefined, 'write');
  }

  isDeleteRangePermitted(ai: AuthInfo, key: Buffer, rangeEnd?: Buffer): void {
    this.isOpPermitted(ai, key, rangeEnd, 'write');
  }

  /** Root's role, when auth is on. */
  isAdminPermitted(ai: AuthInfo | undefined): void {
    if (!this.enabled) return;
    if (!ai || ai.username === '') throw AuthErrors.userEmpty;
    const u = this.users.get(ai.username);
    if (!u) throw AuthErrors.userNotFound;
    if (!u.roles.includes(ROOT)) throw AuthErrors.permissionDenied;
  }

  hasRole(user: string, role: string): boolean {
    return this.users.get(user)?.roles.includes(role) ?? false;
  }

  /**
   * etcd's CheckPassword, made before an Authenticate is proposed: resolves with the auth
   * revision the password was checked at.
   */
  async checkPassword(name: string, password: string): Promise<number> {
    if (!this.enabled) throw AuthErrors.authNotEnabled;
    const u = this.users.get(name);
    if (!u) throw AuthErrors.authFailed;
    if (u.noPassword) throw AuthErrors.noPasswordUser;
    const rev = this.rev;
    if (!(await checkPassword(password, u.password ?? ''))) {
      this.log('N', 'auth', `authentication failed, invalid password for user ${name}`);
      throw AuthErrors.authFailed;
    }
    return rev;
  }

  // ---- snapshots ----

  /** The replicated state; undefined while it is a fresh store's (older snapshots have none). */
  toSnapshot(): AuthSnapshot | undefined {
    if (!this.enabled && this.rev === 1 && this.users.size === 0 && this.roles.size === 0) return undefined;
    return {
      enabled: this.enabled,
      revision: this.rev,
      users: [...this.users.values()]
        .sort((a, b) => byBytes(a.name, b.name))
        .map((u) => ({ ...u, roles: [...u.roles] })),
      roles: [...this.roles.values()]
        .sort((a, b) => byBytes(a.name, b.name))
        .map((r) => ({ ...r, keyPermission: r.keyPermission.map((p) => ({ ...p })) })),
    };
  }

  /** etcd's Recover: the member's tokens stay while auth stays on. */
  restore(s: AuthSnapshot | undefined): void {
    this.users.clear();
    this.roles.clear();
    for (const u of s?.users ?? []) this.users.set(u.name, { ...u, roles: [...u.roles] });
    for (const r of s?.roles ?? [])
      this.roles.set(r.name, { ...r, keyPermission: r.keyPermission.map((p) => ({ ...p })) });
    this.rev = s?.revision ?? 1;
    this.enabled = s?.enabled ?? false;
    if (this.enabled) this.tokens.enable();
    else this.tokens.disable();
    this.refreshPerms();
  }

  // ---- the commands ----

  private authEnable(): AuthResult {
    if (this.enabled) {
      this.log('N', 'auth', 'Authentication already enabled');
      return {};
    }
    const root = this.users.get(ROOT);
    if (!root) throw AuthErrors.rootUserNotExist;
    if (!root.roles.includes(ROOT)) throw AuthErrors.rootRoleNotExist;
    this.enabled = true;
    this.tokens.enable();
    this.refreshPerms();
    this.log('N', 'auth', 'Authentication enabled');
    return {};
  }

  private authDisable(): AuthResult {
    if (!this.enabled) return {};
    this.enabled = false;
    this.commit();
    this.tokens.disable();
    this.log('N', 'auth', 'Authentication disabled');
    return {};
  }

  private authenticate(name: string, token: string): AuthResult {
    if (!this.enabled) throw AuthErrors.authNotEnabled;
    const u = this.users.get(name);
    // The password was checked by the proposer (checkPassword); a stale check is retried there.
    if (!u || u.noPassword) throw AuthErrors.authFailed;
    this.tokens.assign(token, name);
    return { token };
  }

  private userAdd(r: { name: string; hashed_password?: string; no_password?: boolean }): AuthResult {
    if (r.name === '') throw AuthErrors.userEmpty;
    if (this.users.has(r.name)) throw AuthErrors.userAlreadyExist;
    const u: User = { name: r.name, roles: [] };
    if (r.no_password) u.noPassword = true;
    else u.password = r.hashed_password ?? '';
    this.users.set(r.name, u);
    this.commit();
    this.log('N', 'auth', `added a new user: ${r.name}`);
    return {};
  }

  private userDelete(name: string): AuthResult {
    if (this.enabled && name === ROOT) {
      this.log('E', 'auth', 'the user root must not be deleted');
      throw AuthErrors.invalidAuthMgmt;
    }
    this.userOrThrow(name);
    this.users.delete(name);
    this.commit();
    this.tokens.invalidateUser(name);
    this.log('N', 'auth', `deleted a user: ${name}`);
    return {};
  }

  private userChangePassword(r: { name: string; hashed_password: string }): AuthResult {
    const u = this.userOrThrow(r.name);
    u.password = r.hashed_password;
    this.commit();
    this.tokens.invalidateUser(r.name);
    this.log('N', 'auth', `changed a password of a user: ${r.name}`);
    return {};
  }

  private userGrantRole(r: { user: string; role: string }): AuthResult {
    const u = this.userOrThrow(r.user);
    // Root's role needs no role record.
    if (r.role !== ROOT) this.roleOrThrow(r.role);
    if (u.roles.includes(r.role)) {
      this.log('W', 'auth', `user ${r.user} is already granted role ${r.role}`);
      return {};
    }
    u.roles = [...u.roles, r.role].sort(byBytes);
    this.commit();
    this.log('N', 'auth', `granted role ${r.role} to user ${r.user}`);
    return {};
  }

  private userRevokeRole(r: { name: string; role: string }): AuthResult {
    if (this.enabled && r.name === ROOT && r.role === ROOT) {
      this.log('E', 'auth', 'the role root must not be revoked from the user root');
      throw AuthErrors.invalidAuthMgmt;
    }
    const u = this.userOrThrow(r.name);
    const roles = u.roles.filter((x) => x !== r.role);
    if (roles.length === u.roles.length) throw AuthErrors.roleNotGranted;
    u.roles = roles;
    this.commit();
    this.log('N', 'auth', `revoked role ${r.role} from user ${r.name}`);
    return {};
  }

  private roleAdd(name: string): AuthResult {
    if (name === '') throw AuthErrors.roleEmpty;
    if (this.roles.has(name)) throw AuthErrors.roleAlreadyExist;
    this.roles.set(name, { name, keyPermission: [] });
    this.commit();
    this.log('N', 'auth', `Role ${name} is created`);
    return {};
  }

  private roleGrantPermission(r: { name: string; perm: Permission }): AuthResult {
    const role = this.roleOrThrow(r.name);
    const perms = role.keyPermission;
    // etcd looks at the first permission with a key >= the new one's only.
    const idx = perms.findIndex((p) => Buffer.compare(p.key, r.perm.key) >= 0);
    const at = perms[idx];
    if (at && at.key.equals(r.perm.key) && sameBytes(at.range_end, r.perm.range_end)) {
      perms[idx] = { ...at, permType: r.perm.permType };
    } else {
      const p: Permission = { permType: r.perm.permType, key: r.perm.key };
      if (r.perm.range_end?.length) p.range_end = r.perm.range_end;
      perms.push(p);
      perms.sort((a, b) => Buffer.compare(a.key, b.key));
    }
    this.commit();
    this.log(
      'N',
      'auth',
      `role ${r.name}'s permission of key ${r.perm.key.toString()} is updated as ${r.perm.permType}`,
    );
    return {};
  }

  private roleRevokePermission(r: { role: string; key: Buffer; range_end?: Buffer }): AuthResult {
    const role = this.roleOrThrow(r.role);
    const kept = role.keyPermission.filter((p) => !(sameBytes(p.key, r.key) && sameBytes(p.range_end, r.range_end)));
    if (kept.length === role.keyPermission.length) throw AuthErrors.permissionNotGranted;
    role.keyPermission = kept;
    this.commit();
    this.log('N', 'auth', `revoked key ${r.key.toString()} from role ${r.role}`);
    return {};
  }

  private roleDelete(name: string): AuthResult {
    if (this.enabled && name === ROOT) {
      this.log('E', 'auth', 'the role root must not be deleted');
      throw AuthErrors.invalidAuthMgmt;
    }
    this.roleOrThrow(name);
    this.roles.delete(name);
    for (const u of this.users.values()) u.roles = u.roles.filter((x) => x !== name);
    this.commit();
    this.log('N', 'auth', `deleted role ${name}`);
    return {};
  }

  // ---- helpers ----

  private isOpPermitted(ai: AuthInfo, key: Buffer, rangeEnd: Buffer | undefined, kind: 'read' | 'write'): void {
    if (!this.enabled) return;
    // Revision 0: no user given.
    if (ai.revision === 0) throw AuthErrors.userEmpty;
    if (ai.revision < this.rev) {
      this.log(
        'W',
        'auth',
        `request auth revision is less than current node auth revision,current node auth revision is ${this.rev},request auth revision is ${ai.revision},request key is ${key.toString()}, err is auth: revision in header is old`,
      );
      throw AuthErrors.authOldRevision;
    }
    const u = this.users.get(ai.username);
    if (!u) {
      this.log('E', 'auth', `invalid user name ${ai.username} for permission checking`);
      throw AuthErrors.permissionDenied;
    }
    if (u.roles.includes(ROOT)) return;
    if (this.perms.get(ai.username)?.permits(kind, key, rangeEnd)) return;
    throw AuthErrors.permissionDenied;
  }

  private userOrThrow(name: string): User {
    const u = this.users.get(name);
    if (!u) throw AuthErrors.userNotFound;
    return u;
  }

  private roleOrThrow(name: string): Role {
    const r = this.roles.get(name);
    if (!r) throw AuthErrors.roleNotFound;
    return r;
  }

  /** commitRevision, and refreshRangePermCache (etcd does both on every change). */
  private commit(): void {
    this.rev++;
    this.refreshPerms();
  }

  private refreshPerms(): void {
    this.perms = new Map();
    for (const u of this.users.values()) {
      const merged = new UnifiedPermissions();
      for (const name of u.roles) for (const p of this.roles.get(name)?.keyPermission ?? []) merged.add(p);
      this.perms.set(u.name, merged);
    }
  }
}
