// etcd 3.4's v2 auth data (etcdserver/api/v2auth/auth.go): users, roles and their key
// permissions, the grant/revoke merges, and the prefix match of a permission. Pure: no I/O.
//
// The shapes are Go's structs and keep Go's distinctions that show on the wire or decide an
// answer: a nil slice (JSON null) is not an empty one, a nil *Permissions is not an empty one
// (reflect.DeepEqual tells them apart when etcd decides "not updated"). Decoding is Go's
// encoding/json into those structs (field names matched case-insensitively, unknown fields
// ignored, a wrong type is an error); encoding is json.Marshal's (field order, omitempty).

import { goJSONFirstValue } from '../go/json.js';
import { compareStrings } from '../go/strings.js';

export const ROOT_ROLE = 'root';
export const GUEST_ROLE = 'guest';

export interface RWPermission {
  read: string[] | null;
  write: string[] | null;
}

export interface Permissions {
  kv: RWPermission;
}

export interface User {
  user: string;
  /** A bcrypt hash once stored; the plain password in a request; "" for none. */
  password: string;
  roles: string[] | null;
  grant: string[] | null;
  revoke: string[] | null;
}

export interface Role {
  role: string;
  permissions: Permissions;
  grant: Permissions | null;
  revoke: Permissions | null;
}

/** etcd's v2auth.Error: an HTTP status and a text that starts with "auth: ". */
export class AuthError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
    this.name = 'AuthError';
  }
}

/**
 * What a Go handler panics with where etcd's code dereferences nil or indexes out of range
 * (an empty permission pattern, a user name that names a directory). net/http recovers and
 * closes the connection without an answer; the HTTP layer does the same.
 */
export class GoPanic extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'GoPanic';
  }
}

/** authErr(status, format, args...): "auth: " + the formatted text. */
export function authErr(status: number, text: string): AuthError {
  return new AuthError(status, `auth: ${text}`);
}

/**
 * fmt.Sprintf(format) with no arguments: etcd formats two of its texts twice (authErr of an
 * already formatted string), so a `%` in a name comes out as Go prints a verb without operand.
 */
export function goSprintfNoArgs(format: string): string {
  return format.replace(/%[+\-# 0]*\d*(?:\.\d*)?(.?)/gs, (_m, verb: string) =>
    verb === '%' ? '%' : verb === '' ? '%!(NOVERB)' : `%!${verb}(MISSING)`,
  );
}

// --- the fixed roles -------------------------------------------------------------------------

function allKeys(): Permissions {
  return { kv: { read: ['/*'], write: ['/*'] } };
}

/** The root role: never stored, all keys read and write. */
export function rootRole(): Role {
  return { role: ROOT_ROLE, permissions: allKeys(), grant: null, revoke: null };
}

/** The guest role etcd creates when auth is enabled and there is none. */
export function defaultGuestRole(): Role {
  return { role: GUEST_ROLE, permissions: allKeys(), grant: null, revoke: null };
}

/** attachRootRole: the root user always has the root role. */
export function withRootRole(u: User): User {
  if (u.roles?.includes(ROOT_ROLE)) return u;
  return { ...u, roles: [...(u.roles ?? []), ROOT_ROLE] };
}

// --- permissions -------------------------------------------------------------------------------

/** Permissions.IsEmpty (nil-safe). */
export function isEmptyPermissions(p: Permissions | null): boolean {
  return p === null || (len(p.kv.read) === 0 && len(p.kv.write) === 0);
}

/** Role.HasKeyAccess: a pattern ending in `*` matches a prefix, any other the key itself. */
export function hasKeyAccess(role: Role, key: string, write: boolean): boolean {
  if (role.role === ROOT_ROLE) return true;
  for (const pattern of (write ? role.permissions.kv.write : role.permissions.kv.read) ?? []) {
    if (patternChar(pattern) === '*' ? key.startsWith(pattern.slice(0, -1)) : key === pattern) return true;
  }
  return false;
}

/** Role.HasRecursiveAccess (a recursive request): only `*` patterns can grant it. */
export function hasRecursiveAccess(role: Role, key: string, write: boolean): boolean {
  if (role.role === ROOT_ROLE) return true;
  for (const pattern of (write ? role.permissions.kv.write : role.permissions.kv.read) ?? []) {
    if (patternChar(pattern) === '*' && key.startsWith(pattern.slice(0, -1))) return true;
  }
  return false;
}

/** pattern[len(pattern)-1]: an empty pattern is an index out of range in etcd. */
function patternChar(pattern: string): string {
  if (pattern === '') throw new GoPanic('runtime error: index out of range [-1]');
  return pattern.charAt(pattern.length - 1);
}

// --- merges (grant/revoke applied to what is stored) -----------------------------------------------

export interface AuthNotes {
  /** etcd's notice lines for grants and revokes that change nothing. */
  notice(pkgText: string): void;
}

/** User.merge: a new password is hashed by the caller (`hashed`); roles granted and revoked. */
export function mergeUser(old: User, change: User, hashed: string | null, notes: AuthNotes): User {
  if (old.user !== change.user)
    throw authErr(409, `Merging user data with conflicting usernames: ${old.user} ${change.user}`);
  const roles = new Set(old.roles ?? []);
  for (const g of change.grant ?? []) {
    if (roles.has(g)) {
      notes.notice(`granting duplicate role ${g} for user ${change.user}`);
      throw authErr(409, goSprintfNoArgs(`Granting duplicate role ${g} for user ${change.user}`));
    }
    roles.add(g);
  }
  for (const r of change.revoke ?? []) {
    if (!roles.has(r)) {
      notes.notice(`revoking ungranted role ${r} for user ${change.user}`);
      throw authErr(409, goSprintfNoArgs(`Revoking ungranted role ${r} for user ${change.user}`));
    }
    roles.delete(r);
  }
  return { user: old.user, password: hashed ?? old.password, roles: setValues(roles), grant: null, revoke: null };
}

/** Role.merge: permissions granted, then revoked. */
export function mergeRole(old: Role, change: Role, notes: AuthNotes): Role {
  if (old.role !== change.role) throw authErr(409, `Merging role with conflicting names: ${old.role} ${change.role}`);
  let permissions = old.permissions;
  if (change.grant !== null) permissions = { kv: grantRW(permissions.kv, change.grant.kv) };
  if (change.revoke !== null) permissions = { kv: revokeRW(permissions.kv, change.revoke.kv, notes) };
  return { role: old.role, permissions, grant: null, revoke: null };
}

function grantRW(rw: RWPermission, n: RWPermission): RWPermission {
  const read = new Set(rw.read ?? []);
  for (const r of n.read ?? []) {
    if (read.has(r)) throw authErr(409, `Granting duplicate read permission ${r}`);
    read.add(r);
  }
  const write = new Set(rw.write ?? []);
  for (const w of n.write ?? []) {
    if (write.has(w)) throw authErr(409, `Granting duplicate write permission ${w}`);
    write.add(w);
  }
  return { read: setValues(read), write: setValues(write) };
}

function revokeRW(rw: RWPermission, n: RWPermission, notes: AuthNotes): RWPermission {
  const read = new Set(rw.read ?? []);
  for (const r of n.read ?? []) {
    if (!read.delete(r)) notes.notice(`revoking ungranted read permission ${r}`);
  }
  const write = new Set(rw.write ?? []);
  for (const w of n.write ?? []) {
    if (!write.delete(w)) notes.notice(`revoking ungranted write permission ${w}`);
  }
  return { read: setValues(read), write: setValues(write) };
}

/** types.unsafeSet.Values() then sort.Strings (an empty set gives [], not nil). */
function setValues(set: Set<string>): string[] {
  return [...set].sort(compareStrings);
}

/** reflect.DeepEqual on two users or two roles (nil and empty slices differ). */
export function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (a === null || b === null || typeof a !== 'object' || typeof b !== 'object') return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  const ka = Object.keys(a);
  const kb = Object.keys(b);
  return (
    ka.length === kb.length &&
    ka.every((k) => deepEqual((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k]))
  );
}

function len(a: string[] | null): number {
  return a?.length ?? 0;
}

// --- JSON as Go writes it ------------------------------------------------------------------------

/** v2auth.User marshalled: password, grant and revoke are omitempty; roles is not. */
export function userJSON(u: User): Record<string, unknown> {
  const out: Record<string, unknown> = { user: u.user };
  if (u.password !== '') out.password = u.password;
  out.roles = u.roles;
  if (len(u.grant) > 0) out.grant = u.grant;
  if (len(u.revoke) > 0) out.revoke = u.revoke;
  return out;
}

/** v2auth.Role marshalled: grant and revoke are omitted when nil (pointers), even if empty otherwise. */
export function roleJSON(r: Role): Record<string, unknown> {
  const out: Record<string, unknown> = { role: r.role, permissions: permissionsJSON(r.permissions) };
  if (r.grant !== null) out.grant = permissionsJSON(r.grant);
  if (r.revoke !== null) out.revoke = permissionsJSON(r.revoke);
  return out;
}

function permissionsJSON(p: Permissions): { kv: { read: string[] | null; write: string[] | null } } {
  return { kv: { read: p.kv.read, write: p.kv.write } };
}

// --- JSON as Go reads it ---------------------------------------------------------------------------

class TypeMismatch extends Error {}

/** json.NewDecoder(body).Decode(&user): the user, or null when Go reports an error. */
export function decodeUser(body: string): User | null {
  return decodeFirst(body, (v) => decodeUserValue(v));
}

/** json.NewDecoder(body).Decode(&role): the role, or null when Go reports an error. */
export function decodeRole(body: string): Role | null {
  return decodeFirst(body, (v) => decodeRoleValue(v));
}

/** json.Unmarshal of a stored user or role (written by us, so errors are not expected). */
export function parseStoredUser(value: string): User {
  const u = decodeUser(value);
  if (!u) throw new Error('v2auth: a stored user is not valid JSON');
  return u;
}

export function parseStoredRole(value: string): Role {
  const r = decodeRole(value);
  if (!r) throw new Error('v2auth: a stored role is not valid JSON');
  return r;
}

function decodeFirst<T>(body: string, decode: (v: unknown) => T): T | null {
  const first = goJSONFirstValue(body);
  if ('error' in first) return null;
  try {
    return decode(first.value);
  } catch (err) {
    if (err instanceof TypeMismatch) return null;
    throw err;
  }
}

function decodeUserValue(v: unknown): User {
  const u: User = { user: '', password: '', roles: null, grant: null, revoke: null };
  for (const [key, val] of fields(v, ['user', 'password', 'roles', 'grant', 'revoke'])) {
    if (key === 'user' || key === 'password') u[key] = decodeString(val, u[key]);
    else u[key] = decodeStrings(val);
  }
  return u;
}

function decodeRoleValue(v: unknown): Role {
  const r: Role = { role: '', permissions: { kv: { read: null, write: null } }, grant: null, revoke: null };
  for (const [key, val] of fields(v, ['role', 'permissions', 'grant', 'revoke'])) {
    if (key === 'role') r.role = decodeString(val, r.role);
    else if (key === 'permissions') r.permissions = decodePermissions(val, r.permissions);
    else r[key] = val === null ? null : decodePermissions(val, r[key] ?? { kv: { read: null, write: null } });
  }
  return r;
}

/** Into an existing struct (Go decodes into the value already there; null leaves it). */
function decodePermissions(v: unknown, into: Permissions): Permissions {
  const out: Permissions = { kv: { ...into.kv } };
  for (const [, kv] of fields(v, ['kv'])) {
    for (const [key, val] of fields(kv, ['read', 'write'])) out.kv[key] = decodeStrings(val);
  }
  return out;
}

function decodeString(v: unknown, current: string): string {
  if (v === null) return current;
  if (typeof v !== 'string') throw new TypeMismatch();
  return v;
}

function decodeStrings(v: unknown): string[] | null {
  if (v === null) return null;
  if (!Array.isArray(v)) throw new TypeMismatch();
  return v.map((el: unknown) => decodeString(el, ''));
}

/**
 * An object's members that name one of `names` (exact name first, else Go's case folding),
 * in order. null decodes to nothing; anything but an object is a type error.
 */
function fields<N extends string>(v: unknown, names: readonly N[]): Array<[N, unknown]> {
  if (v === null) return [];
  if (typeof v !== 'object' || Array.isArray(v)) throw new TypeMismatch();
  const out: Array<[N, unknown]> = [];
  for (const [key, val] of Object.entries(v as Record<string, unknown>)) {
    const name = names.find((n) => n === key) ?? names.find((n) => foldName(n) === foldName(key));
    if (name !== undefined) out.push([name, val]);
  }
  return out;
}

/** bytes.EqualFold as encoding/json matches field names (ſ folds to s, the Kelvin sign to k). */
function foldName(s: string): string {
  return s
    .replace(/\u017f/g, 's')
    .replace(/\u212a/g, 'k')
    .toLowerCase();
}
