// etcd 3.4's v2 auth store (etcdserver/api/v2auth: auth.go, auth_requests.go): users, roles and
// the enabled flag kept as JSON values under "/2" in the v2 store itself, read and written with
// ordinary v2 requests (the auth space of store-v2.ts). Writes go through Raft like any v2 write,
// so every member enforces the same users, roles and flag once it has applied them.
//
// One AuthStore per node's client API, as etcd has one per server: it makes the "/2"
// directories on its first write (ensuredOnce) and reads locally, except where etcd asks
// for a quorum read (before an update). Passwords are hashed with bcrypt on the member that
// took the request, and only the hash enters the log.

import { createHmac, randomBytes } from 'node:crypto';
import { bcryptCompare, bcryptHash } from '../../util/bcrypt.js';
import type { V2Command, V2Event, V2ReadRequest } from './types.js';
import { V2Error } from './errors.js';
import { goJSON } from '../go/json.js';
import { compareStrings } from '../go/strings.js';
import type { LogFn } from '../node-settings.js';
import {
  authErr,
  deepEqual,
  defaultGuestRole,
  GoPanic,
  GUEST_ROLE,
  mergeRole,
  mergeUser,
  parseStoredRole,
  parseStoredUser,
  ROOT_ROLE,
  rootRole,
  roleJSON,
  userJSON,
  withRootRole,
  type AuthNotes,
  type Role,
  type User,
} from './auth-model.js';

/** etcd's StorePermsPrefix. */
const PERMS_PREFIX = '/2';
const AUTH_PKG = 'etcdserver/auth';
/** Successful password checks remembered (bcrypt costs ~0.1 s here; etcd pays it per request). */
const VERIFIED_CACHE_SIZE = 256;

/** What the auth store needs of the server: etcd's `doer` (v2 requests in the auth space). */
export interface AuthDoer {
  write(cmd: Omit<V2Command, 'now'>): Promise<V2Event>;
  read(req: V2ReadRequest): Promise<V2Event>;
  /**
   * The same local read at once (detectAuth runs before every keys request: no await there);
   * null for a missing key (a failed get all the same), which is what it finds until auth is
   * first set up: no error is made and thrown for it on every request.
   */
  lookupLocal(req: Omit<V2ReadRequest, 'quorum'>): V2Event | null;
}

export class AuthStore {
  private ensuredOnce = false;
  private readonly verified = new Map<string, true>();
  /** Keys the cache of verified passwords: nothing derived from a password outlives the process. */
  private readonly cacheKey = randomBytes(32);
  private readonly notes: AuthNotes;

  constructor(
    private readonly server: AuthDoer,
    private readonly log: LogFn = () => {},
    /** bcrypt's cost for new hashes (etcd: bcrypt.DefaultCost). */
    private readonly cost = 10,
  ) {
    this.notes = { notice: (text) => this.log('N', AUTH_PKG, text) };
  }

  // --- users ---------------------------------------------------------------------------------

  async allUsers(): Promise<string[]> {
    return this.names('/users/', []);
  }

  getUser(name: string): Promise<User> {
    return this.readUser(name, false);
  }

  /** For a PUT without roles: update when the user exists (quorum read), else create. */
  async createOrUpdateUser(user: User): Promise<{ user: User; created: boolean }> {
    let exists = true;
    try {
      await this.readUser(user.user, true);
    } catch (err) {
      if (err instanceof GoPanic) throw err;
      exists = false;
    }
    if (exists) return { user: await this.updateUser(user), created: false };
    return { user: await this.createUser(user), created: true };
  }

  async createUser(user: User): Promise<User> {
    if (user.user === 'root') user = withRootRole(user);
    if (user.password === '') throw authErr(400, `Cannot create user ${user.user} with an empty password`);
    const stored = { ...user, password: await this.hashPassword(user.password) };
    try {
      await this.setResource(`/users/${user.user}`, userJSON(stored), false);
    } catch (err) {
      if (err instanceof V2Error && err.errorCode === 105) throw authErr(409, `User ${user.user} already exists.`);
      throw err;
    }
    this.log('N', AUTH_PKG, `created user ${user.user}`);
    return stored;
  }

  async deleteUser(name: string): Promise<void> {
    if ((await this.authEnabled()) && name === 'root')
      throw authErr(403, 'Cannot delete root user while auth is enabled.');
    try {
      await this.deleteResource(`/users/${name}`);
    } catch (err) {
      if (err instanceof V2Error && err.errorCode === 100) throw authErr(404, `User ${name} does not exist`);
      throw err;
    }
    this.log('N', AUTH_PKG, `deleted user ${name}`);
  }

  async updateUser(user: User): Promise<User> {
    // getUser already turns "not found" into its own error, so etcd's "doesn't exist." is never said.
    const old = await this.readUser(user.user, true);
    const hashed = user.password !== '' ? await this.hashPassword(user.password) : null;
    const merged = mergeUser(old, user, hashed, this.notes);
    if (deepEqual(old, merged)) throw authErr(400, 'User not updated. Use grant/revoke/password to update the user.');
    await this.setResource(`/users/${user.user}`, userJSON(merged), true);
    this.log('N', AUTH_PKG, `updated user ${user.user}`);
    return merged;
  }

  // --- roles ---------------------------------------------------------------------------------

  async allRoles(): Promise<string[]> {
    return this.names('/roles/', [ROOT_ROLE]);
  }

  getRole(name: string): Promise<Role> {
    return this.readRole(name, false);
  }

  async createRole(role: Role): Promise<void> {
    if (role.role === ROOT_ROLE) throw authErr(403, `Cannot modify role ${role.role}: is root role.`);
    try {
      await this.setResource(`/roles/${role.role}`, roleJSON(role), false);
    } catch (err) {
      if (err instanceof V2Error && err.errorCode === 105) throw authErr(409, `Role ${role.role} already exists.`);
      throw err;
    }
    this.log('N', AUTH_PKG, `created new role ${role.role}`);
  }

  async deleteRole(name: string): Promise<void> {
    if (name === ROOT_ROLE) throw authErr(403, `Cannot modify role ${name}: is root role.`);
    try {
      await this.deleteResource(`/roles/${name}`);
    } catch (err) {
      if (err instanceof V2Error && err.errorCode === 100) throw authErr(404, `Role ${name} doesn't exist.`);
      throw err;
    }
    this.log('N', AUTH_PKG, `deleted role ${name}`);
  }

  async updateRole(role: Role): Promise<Role> {
    if (role.role === ROOT_ROLE) throw authErr(403, `Cannot modify role ${role.role}: is root role.`);
    const old = await this.readRole(role.role, true);
    const merged = mergeRole(old, role, this.notes);
    if (deepEqual(old, merged)) throw authErr(400, 'Role not updated. Use grant/revoke to update the role.');
    await this.setResource(`/roles/${role.role}`, roleJSON(merged), true);
    this.log('N', AUTH_PKG, `updated role ${role.role}`);
    return merged;
  }

  // --- the enabled flag ------------------------------------------------------------------------

  async authEnabled(): Promise<boolean> {
    return this.authEnabledNow();
  }

  /** detectAuth: a local read of /2/enabled; anything unreadable counts as disabled. */
  authEnabledNow(): boolean {
    let value: string | undefined;
    try {
      const found = this.server.lookupLocal(ENABLED_READ);
      if (found === null) return false;
      value = found.node.value;
    } catch (err) {
      if (!(err instanceof V2Error && err.errorCode === 100))
        this.log('E', AUTH_PKG, `failed to detect auth settings (${errText(err)})`);
      return false;
    }
    if (value === undefined) throw new GoPanic('runtime error: invalid memory address or nil pointer dereference');
    try {
      const enabled: unknown = JSON.parse(value);
      if (typeof enabled !== 'boolean')
        throw new Error(`json: cannot unmarshal ${typeof enabled} into Go value of type bool`);
      return enabled;
    } catch (err) {
      this.log('E', AUTH_PKG, `internal bookkeeping value for enabled isn't valid JSON (${errText(err)})`);
      return false;
    }
  }

  async enableAuth(): Promise<void> {
    if (await this.authEnabled()) throw authErr(409, 'already enabled');
    try {
      await this.readUser('root', true);
    } catch (err) {
      if (err instanceof GoPanic) throw err;
      throw authErr(409, 'No root user available, please create one');
    }
    try {
      await this.readRole(GUEST_ROLE, true);
    } catch (err) {
      if (err instanceof GoPanic) throw err;
      this.log('I', AUTH_PKG, 'no guest role access found, creating default');
      try {
        await this.createRole(defaultGuestRole());
      } catch (createErr) {
        this.log('E', AUTH_PKG, 'error creating guest role. aborting auth enable.');
        throw createErr;
      }
    }
    try {
      await this.setResource('/enabled', true, true);
    } catch (err) {
      this.log('E', AUTH_PKG, `error enabling auth (${errText(err)})`);
      throw err;
    }
    this.log('N', AUTH_PKG, 'auth: enabled auth');
  }

  async disableAuth(): Promise<void> {
    if (!(await this.authEnabled())) throw authErr(409, 'already disabled');
    try {
      await this.setResource('/enabled', false, true);
    } catch (err) {
      this.log('E', AUTH_PKG, `error disabling auth (${errText(err)})`);
      throw err;
    }
    this.log('N', AUTH_PKG, 'auth: disabled auth');
  }

  // --- passwords -----------------------------------------------------------------------------

  /** bcrypt.CompareHashAndPassword(user's hash, password) == nil. */
  async checkPassword(user: User, password: Uint8Array): Promise<boolean> {
    const key = createHmac('sha256', this.cacheKey)
      .update(user.password)
      .update('\0')
      .update(password)
      .digest('base64');
    if (this.verified.has(key)) return true;
    const ok = await bcryptCompare(user.password, password);
    if (ok) {
      this.verified.set(key, true);
      if (this.verified.size > VERIFIED_CACHE_SIZE) this.verified.delete(this.verified.keys().next().value!);
    }
    return ok;
  }

  private hashPassword(password: string): Promise<string> {
    return bcryptHash(password, this.cost);
  }

  // --- reading and writing resources (auth_requests.go) ----------------------------------------

  private async readUser(name: string, quorum: boolean): Promise<User> {
    let value: string;
    try {
      value = await this.resourceValue(`/users/${name}`, quorum);
    } catch (err) {
      if (err instanceof V2Error && err.errorCode === 100) throw authErr(404, `User ${name} does not exist.`);
      throw err;
    }
    const u = parseStoredUser(value);
    return u.user === 'root' ? withRootRole(u) : u;
  }

  private async readRole(name: string, quorum: boolean): Promise<Role> {
    if (name === ROOT_ROLE) return rootRole();
    let value: string;
    try {
      value = await this.resourceValue(`/roles/${name}`, quorum);
    } catch (err) {
      if (err instanceof V2Error && err.errorCode === 100) throw authErr(404, `Role ${name} does not exist.`);
      throw err;
    }
    return parseStoredRole(value);
  }

  /** A resource's value; a directory has none, which etcd dereferences anyway. */
  private async resourceValue(res: string, quorum: boolean): Promise<string> {
    const value = (await this.requestResource(res, quorum)).node.value;
    if (value === undefined) throw new GoPanic('runtime error: invalid memory address or nil pointer dereference');
    return value;
  }

  /** The names under /2/users or /2/roles, sorted; `always` are listed even when none is stored. */
  private async names(dir: string, always: string[]): Promise<string[]> {
    let event: V2Event;
    try {
      event = await this.requestResource(dir, false);
    } catch (err) {
      if (err instanceof V2Error && err.errorCode === 100) return [...always];
      throw err;
    }
    const names = [...always, ...(event.node.nodes ?? []).map((n) => n.key!.slice(n.key!.lastIndexOf('/') + 1))];
    return names.sort(compareStrings);
  }

  private requestResource(res: string, quorum: boolean): Promise<V2Event> {
    return this.server.read({ ...resourceRead(res), quorum });
  }

  private async setResource(res: string, value: unknown, prevExist: boolean): Promise<void> {
    await this.ensureAuthDirectories();
    await this.server.write({
      op: prevExist ? 'update' : 'create',
      path: joinPath(PERMS_PREFIX, res),
      value: goJSON(value),
      space: 'auth',
    });
  }

  private async deleteResource(res: string): Promise<void> {
    await this.ensureAuthDirectories();
    await this.server.write({ op: 'delete', path: joinPath(PERMS_PREFIX, res), space: 'auth' });
  }

  /** /2, /2/users/, /2/roles/ and /2/enabled=false, each created unless it exists; once per node. */
  private async ensureAuthDirectories(): Promise<void> {
    if (this.ensuredOnce) return;
    for (const dir of [PERMS_PREFIX, `${PERMS_PREFIX}/users/`, `${PERMS_PREFIX}/roles/`]) {
      try {
        await this.server.write({ op: 'create', path: dir, dir: true, space: 'auth' });
      } catch (err) {
        if (err instanceof V2Error && err.errorCode === 105) continue;
        this.log('E', AUTH_PKG, `failed to create auth directories in the store (${errText(err)})`);
        throw err;
      }
    }
    try {
      await this.server.write({ op: 'create', path: `${PERMS_PREFIX}/enabled`, value: 'false', space: 'auth' });
    } catch (err) {
      if (!(err instanceof V2Error && err.errorCode === 105)) throw err;
    }
    this.ensuredOnce = true;
  }
}

/** Go's path.Join for the resource paths (the store cleans the rest). */
function joinPath(prefix: string, res: string): string {
  const parts = `${prefix}/${res}`.split('/');
  const out: string[] = [];
  for (const p of parts) {
    if (p === '' || p === '.') continue;
    if (p === '..') out.pop();
    else out.push(p);
  }
  return `/${out.join('/')}`;
}

/** An error as Go's %v prints it: a v2 error is "<code>: <message> (<cause>) [<index>]". */
function errText(err: unknown): string {
  if (err instanceof V2Error) return `${err.errorCode}: ${err.message} (${err.cause}) [${err.index}]`;
  return err instanceof Error ? err.message : String(err);
}

/** etcd's requestResource: a plain GET of one node under /2. */
function resourceRead(res: string): Omit<V2ReadRequest, 'quorum'> {
  return { path: joinPath(PERMS_PREFIX, res), recursive: false, sorted: false, space: 'auth' };
}

/** detectAuth's read, made once: it runs before every keys request. */
const ENABLED_READ: Readonly<Omit<V2ReadRequest, 'quorum'>> = resourceRead('/enabled');
