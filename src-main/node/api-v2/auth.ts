// etcd 3.4's v2 auth over HTTP (etcdserver/api/v2http/client_auth.go): /v2/auth/enable,
// /v2/auth/users[/<name>], /v2/auth/roles[/<name>], and the checks the other handlers make:
// a key prefix permission on every /v2/keys request, the root role for member changes.
//
// Credentials are HTTP Basic auth (or, with --client-cert-auth and no Authorization header, the
// client certificate's common name). A request without credentials is the guest role's. The
// answers are etcd's: 401 `{"message":"Insufficient credentials"}` from the auth and members
// handlers (no WWW-Authenticate header: etcd sends none), errorCode 110 from /v2/keys, and the
// auth store's `auth: ...` texts with their statuses (400, 403, 404, 409).

import { TLSSocket, type PeerCertificate } from 'node:tls';
import { readBody } from '../../net/read-body.js';
import { parseQuery } from '../go/url.js';
import type { LogFn } from '../node-settings.js';
import {
  AuthError,
  decodeRole,
  decodeUser,
  GoPanic,
  hasKeyAccess,
  hasRecursiveAccess,
  GUEST_ROLE,
  isEmptyPermissions,
  ROOT_ROLE,
  roleJSON,
  userJSON,
  type Role,
  type User,
} from '../store-v2/auth-model.js';
import type { AuthStore } from '../store-v2/auth-store.js';
import { V2Error } from '../store-v2/errors.js';
import {
  allowMethod,
  internalServerError,
  JSON_TYPE,
  jsonReply,
  keyError,
  messageReply,
  type HeaderList,
  type Reply,
  type Req,
} from './replies.js';

export const AUTH_PREFIX = '/v2/auth';
const HTTP_PKG = 'etcdserver/api/v2http';
/** Auth request bodies are one small JSON document; this is far past any. */
const MAX_AUTH_BODY_BYTES = 10 * 1024 * 1024;

/** Is `path` one of the auth handler's ServeMux patterns (the rest of /v2/auth is a 404)? */
export function isAuthPath(path: string): boolean {
  return (
    path === `${AUTH_PREFIX}/enable` ||
    path === `${AUTH_PREFIX}/users` ||
    path.startsWith(`${AUTH_PREFIX}/users/`) ||
    path === `${AUTH_PREFIX}/roles` ||
    path.startsWith(`${AUTH_PREFIX}/roles/`)
  );
}

/** The 401 of the auth and members handlers (writeNoAuth): no cluster id header. */
export function noAuthReply(): Reply {
  return messageReply(401, 'Insufficient credentials');
}

/** The 401 of /v2/keys (writeKeyNoAuth): a v2 error, errorCode 110, index 0. */
export function keyNoAuthReply(clusterId: string): Reply {
  return keyError(new V2Error(110, 'Insufficient credentials', 0), clusterId);
}

/** What Go's http.Server does when a handler panics: the connection closes with no answer. */
export function panicReply(): Reply {
  return { status: 0, abort: true };
}

export class V2AuthApi {
  constructor(
    private readonly store: AuthStore,
    private readonly clusterId: () => string,
    private readonly log: LogFn = () => {},
    /** etcd's --client-cert-auth: a verified client certificate's common name names the user. */
    private readonly clientCertAuth = false,
  ) {}

  /** Answers a request on one of the auth paths (isAuthPath). */
  async reply(req: Req): Promise<Reply> {
    try {
      const sub = req.path.slice(AUTH_PREFIX.length);
      if (sub === '/enable') return await this.enableDisable(req);
      const pieces = cleanSubpath(sub).split('/');
      const kind = pieces[1] === 'users' ? 'users' : 'roles';
      if (pieces.length === 2) return await (kind === 'users' ? this.baseUsers(req) : this.baseRoles(req));
      const name = pieces[2];
      if (pieces.length !== 3 || name === undefined) return messageReply(400, 'Invalid path');
      return await (kind === 'users' ? this.forUser(req, name) : this.forRole(req, name));
    } catch (err) {
      if (err instanceof GoPanic) return panicReply();
      throw err;
    }
  }

  // --- access checks ---------------------------------------------------------------------------

  /** hasWriteRootAccess: GET and HEAD are open to all, anything else needs the root role. */
  async hasWriteRootAccess(req: Req): Promise<boolean> {
    if (req.method === 'GET' || req.method === 'HEAD') return true;
    return this.hasRootAccess(req);
  }

  /** hasRootAccess: with auth enabled, only a user with the root role. */
  async hasRootAccess(req: Req): Promise<boolean> {
    if (!(await this.store.authEnabled())) return true;
    let user: User | null;
    if (authorization(req) === '' && this.clientCertAuth) user = await this.userFromClientCertificate(req);
    else user = await this.userFromBasicAuth(req);
    if (!user) return false;
    if ((user.roles ?? []).includes(ROOT_ROLE)) return true;
    this.log('W', HTTP_PKG, `auth: user ${user.user} does not have the ${ROOT_ROLE} role for resource ${req.path}.`);
    return false;
  }

  /**
   * hasKeyPrefixAccess: may this request read (GET, HEAD) or write `key`? Without credentials
   * the guest role decides; `recursive` requests need a `*` pattern covering the key. Answered
   * at once while auth is off (every keys request asks; most clusters never enable it).
   */
  hasKeyPrefixAccess(req: Req, key: string, recursive: boolean): boolean | Promise<boolean> {
    if (!this.store.authEnabledNow()) return true;
    return this.checkKeyPrefixAccess(req, key, recursive);
  }

  private async checkKeyPrefixAccess(req: Req, key: string, recursive: boolean): Promise<boolean> {
    let user: User | null = null;
    if (authorization(req) === '') {
      if (this.clientCertAuth) user = await this.userFromClientCertificate(req);
      if (!user) return this.hasGuestAccess(req, key);
    } else {
      user = await this.userFromBasicAuth(req);
      if (!user) return false;
    }
    const write = req.method !== 'GET' && req.method !== 'HEAD';
    for (const name of user.roles ?? []) {
      let role: Role;
      try {
        role = await this.store.getRole(name);
      } catch (err) {
        if (err instanceof GoPanic) throw err;
        continue;
      }
      if (recursive ? hasRecursiveAccess(role, key, write) : hasKeyAccess(role, key, write)) return true;
    }
    this.log('W', HTTP_PKG, `auth: invalid access for user ${user.user} on key ${key}.`);
    return false;
  }

  private async hasGuestAccess(req: Req, key: string): Promise<boolean> {
    const write = req.method !== 'GET' && req.method !== 'HEAD';
    let role: Role;
    try {
      role = await this.store.getRole(GUEST_ROLE);
    } catch (err) {
      if (err instanceof GoPanic) throw err;
      return false;
    }
    if (hasKeyAccess(role, key, write)) return true;
    this.log('W', HTTP_PKG, `auth: invalid access for unauthenticated user on resource ${key}.`);
    return false;
  }

  private async userFromBasicAuth(req: Req): Promise<User | null> {
    const creds = parseBasicAuth(authorization(req));
    if (!creds) {
      this.log('W', HTTP_PKG, 'auth: malformed basic auth encoding');
      return null;
    }
    let user: User;
    try {
      user = await this.store.getUser(creds.username);
    } catch (err) {
      if (err instanceof GoPanic) throw err;
      return null;
    }
    if (!(await this.store.checkPassword(user, creds.password))) {
      this.log('W', HTTP_PKG, `auth: incorrect password for user: ${creds.username}`);
      return null;
    }
    return user;
  }

  /** The first common name along the verified chain (leaf first) that names a user. */
  private async userFromClientCertificate(req: Req): Promise<User | null> {
    const socket = req.raw.socket;
    if (!(socket instanceof TLSSocket) || !socket.authorized) return null;
    const seen = new Set<PeerCertificate>();
    for (
      let cert: PeerCertificate | undefined = socket.getPeerCertificate(true);
      cert && Object.keys(cert).length > 0 && !seen.has(cert);
      cert = (cert as { issuerCertificate?: PeerCertificate }).issuerCertificate
    ) {
      seen.add(cert);
      const cn = [cert.subject?.CN].flat()[0];
      if (cn === undefined) continue;
      this.log('D', HTTP_PKG, `auth: found common name ${cn}.\n`);
      try {
        const user = await this.store.getUser(cn);
        this.log('D', HTTP_PKG, `auth: authenticated user ${user.user} by cert common name.`);
        return user;
      } catch (err) {
        if (err instanceof GoPanic) throw err;
      }
    }
    return null;
  }

  // --- /v2/auth/enable -------------------------------------------------------------------------

  private enableDisable(req: Req): Promise<Reply> {
    return this.endpoint(req, ['GET', 'PUT', 'DELETE'], 'write-root', async (cid) => {
      const enabled = await this.store.authEnabled();
      if (req.method === 'GET') return this.withCid(jsonReply(200, { enabled }, true), cid);
      if (req.method === 'PUT') await this.store.enableAuth();
      else await this.store.disableAuth();
      return this.empty(cid);
    });
  }

  // --- /v2/auth/users --------------------------------------------------------------------------

  private baseUsers(req: Req): Promise<Reply> {
    return this.endpoint(req, ['GET'], 'root', async (cid) => {
      const names = await this.store.allUsers();
      parseForm(req);
      const users: Array<Record<string, unknown>> = [];
      for (const name of names) {
        const user = await this.store.getUser(name);
        const roles: Array<Record<string, unknown>> = [];
        for (const roleName of user.roles ?? []) {
          try {
            roles.push(roleJSON(await this.store.getRole(roleName)));
          } catch (err) {
            if (err instanceof GoPanic) throw err;
          }
        }
        users.push(userWithRoles(user.user, roles));
      }
      return this.withCid(jsonReply(200, { users: users.length > 0 ? users : null }, true), cid);
    });
  }

  private forUser(req: Req, name: string): Promise<Reply> {
    return this.endpoint(req, ['GET', 'PUT', 'DELETE'], 'root', async (cid) => {
      if (req.method === 'GET') {
        const user = await this.store.getUser(name);
        parseForm(req);
        const roles: Array<Record<string, unknown>> = [];
        for (const roleName of user.roles ?? []) roles.push(roleJSON(await this.store.getRole(roleName)));
        return this.withCid(jsonReply(200, userWithRoles(user.user, roles), true), cid);
      }
      if (req.method === 'DELETE') {
        await this.store.deleteUser(name);
        return this.empty(cid);
      }
      const u = await readJSON(req, decodeUser);
      if (!u) return this.withCid(messageReply(400, 'Invalid JSON in request body.'), cid);
      if (u.user !== name)
        return this.withCid(messageReply(400, 'User JSON name does not match the name in the URL'), cid);
      let out: User;
      let created = false;
      if ((u.grant?.length ?? 0) === 0 && (u.revoke?.length ?? 0) === 0) {
        // With roles it can only be a creation; with none it may be a password change.
        if ((u.roles?.length ?? 0) !== 0) out = await this.store.createUser(u);
        else ({ user: out, created } = await this.store.createOrUpdateUser(u));
      } else {
        if ((u.roles?.length ?? 0) !== 0)
          return this.withCid(messageReply(400, 'User JSON contains both roles and grant/revoke'), cid);
        out = await this.store.updateUser(u);
      }
      return this.withCid(jsonReply(created ? 201 : 200, userJSON({ ...out, password: '' }), true), cid);
    });
  }

  // --- /v2/auth/roles --------------------------------------------------------------------------

  private baseRoles(req: Req): Promise<Reply> {
    return this.endpoint(req, ['GET'], 'root', async (cid) => {
      const names = await this.store.allRoles();
      parseForm(req);
      const roles: Array<Record<string, unknown>> = [];
      for (const name of names) roles.push(roleJSON(await this.store.getRole(name)));
      return this.withCid(jsonReply(200, { roles: roles.length > 0 ? roles : null }, true), cid);
    });
  }

  private forRole(req: Req, name: string): Promise<Reply> {
    return this.endpoint(req, ['GET', 'PUT', 'DELETE'], 'root', async (cid) => {
      if (req.method === 'GET')
        return this.withCid(jsonReply(200, roleJSON(await this.store.getRole(name)), true), cid);
      if (req.method === 'DELETE') {
        await this.store.deleteRole(name);
        return this.empty(cid);
      }
      const r = await readJSON(req, decodeRole);
      if (!r) return this.withCid(messageReply(400, 'Invalid JSON in request body.'), cid);
      if (r.role !== name)
        return this.withCid(messageReply(400, 'Role JSON name does not match the name in the URL'), cid);
      if (isEmptyPermissions(r.grant) && isEmptyPermissions(r.revoke)) {
        await this.store.createRole(r);
        return this.withCid(jsonReply(201, roleJSON(r), true), cid);
      }
      if (!isEmptyPermissions(r.permissions))
        return this.withCid(messageReply(400, 'Role JSON contains both permissions and grant/revoke'), cid);
      return this.withCid(jsonReply(200, roleJSON(await this.store.updateRole(r)), true), cid);
    });
  }

  // --- answers ---------------------------------------------------------------------------------

  /**
   * An auth endpoint as etcd's v2http handlers open and close: the methods it allows, its access
   * check (hasRootAccess, or hasWriteRootAccess), then `handle` with the cluster id, whose errors
   * are answered as writeError answers them.
   */
  private async endpoint(
    req: Req,
    methods: string[],
    access: 'root' | 'write-root',
    handle: (cid: string) => Promise<Reply>,
  ): Promise<Reply> {
    const notAllowed = allowMethod(req.method, methods);
    if (notAllowed) return notAllowed;
    const allowed = access === 'root' ? await this.hasRootAccess(req) : await this.hasWriteRootAccess(req);
    if (!allowed) return noAuthReply();
    const cid = this.clusterId();
    try {
      return await handle(cid);
    } catch (err) {
      return this.error(err, cid);
    }
  }

  private withCid(r: Reply, cid: string): Reply {
    const headers: HeaderList = [...(r.headers ?? []), ['X-Etcd-Cluster-Id', cid]];
    return { ...r, headers };
  }

  /** A handler that wrote nothing: 200, its headers, no body. */
  private empty(cid: string): Reply {
    return { status: 200, headers: [JSON_TYPE, ['X-Etcd-Cluster-Id', cid]] };
  }

  /** v2http's writeError: auth errors as `{"message"}`, v2 errors as such, the rest a 500. */
  private error(err: unknown, cid: string): Reply {
    if (err instanceof GoPanic) throw err;
    if (err instanceof AuthError) return this.withCid(messageReply(err.status, err.message), cid);
    if (err instanceof V2Error) return keyError(err, cid);
    return this.withCid(internalServerError(), cid);
  }
}

function userWithRoles(user: string, roles: Array<Record<string, unknown>>): Record<string, unknown> {
  return roles.length > 0 ? { user, roles } : { user };
}

/** A PUT's body as `decode` reads it; null when too large, cut off or not that JSON ("Invalid JSON in request body."). */
async function readJSON<T>(req: Req, decode: (text: string) => T | null): Promise<T | null> {
  const body = await readBody(req.raw, MAX_AUTH_BODY_BYTES);
  return body.tooLarge || body.aborted ? null : decode(body.data.toString('utf8'));
}

/** r.ParseForm() on a GET: only the query, whose bad escapes etcd answers as a 500. */
function parseForm(req: Req): void {
  const err = parseQuery(req.rawQuery, new URLSearchParams());
  if (err !== null) throw new Error(err);
}

/** r.Header.Get("Authorization"). */
function authorization(req: Req): string {
  return req.raw.headers.authorization ?? '';
}

/** path.Clean of what follows /v2/auth. */
function cleanSubpath(p: string): string {
  const out: string[] = [];
  for (const part of p.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..') out.pop();
    else out.push(part);
  }
  return `/${out.join('/')}`;
}

/**
 * Go's Request.BasicAuth: "Basic " (any case) and standard base64 of "user:password" (split at
 * the first colon). The password stays bytes: bcrypt compares bytes.
 */
export function parseBasicAuth(header: string): { username: string; password: Buffer } | null {
  const prefix = 'basic ';
  if (header.length < prefix.length || header.slice(0, prefix.length).toLowerCase() !== prefix) return null;
  const b64 = header.slice(prefix.length).replace(/[\r\n]/g, '');
  if (b64.length % 4 !== 0 || !/^[A-Za-z0-9+/]*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/.test(b64)) return null;
  const raw = Buffer.from(b64, 'base64');
  const colon = raw.indexOf(0x3a);
  if (colon === -1) return null;
  return { username: raw.subarray(0, colon).toString('utf8'), password: raw.subarray(colon + 1) };
}
