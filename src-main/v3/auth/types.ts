// etcd 3.4's auth messages (etcdserverpb's Auth* requests, authpb's User, Role, Permission) as
// the auth store and its log commands use them: names as strings, keys as Buffers.
import type { ResponseHeader } from '../mvcc/types.js';

export type PermissionType = 'READ' | 'WRITE' | 'READWRITE';

export interface Permission {
  permType: PermissionType;
  key: Buffer;
  /** Absent: the single key; "\0": every key >= key; else the exclusive end. */
  range_end?: Buffer;
}

/** Who a request is from (etcd's AuthInfo): the token's user, and the auth revision then. */
export interface AuthInfo {
  username: string;
  revision: number;
}

/**
 * What etcd's InternalRaftRequest header carries for auth: the proposer's user and the auth
 * revision the request was checked against (absent: no token was given).
 */
export interface AuthHeader {
  username: string;
  auth_revision: number;
}

/**
 * The auth commands that go through the log (etcd's InternalRaftRequest fields). Passwords are
 * never in them: the proposer hashes (`hashed_password`) and checks them; an authenticate
 * carries the random part of the token only, its index being the entry's.
 */
export type AuthCommand =
  | { auth_enable: Record<string, never> }
  | { auth_disable: Record<string, never> }
  | { authenticate: { name: string; simple_token: string } }
  | { auth_user_add: { name: string; hashed_password?: string; no_password?: boolean } }
  | { auth_user_delete: { name: string } }
  | { auth_user_change_password: { name: string; hashed_password: string } }
  | { auth_user_grant_role: { user: string; role: string } }
  | { auth_user_get: { name: string } }
  | { auth_user_revoke_role: { name: string; role: string } }
  | { auth_user_list: Record<string, never> }
  | { auth_role_add: { name: string } }
  | { auth_role_get: { role: string } }
  | { auth_role_grant_permission: { name: string; perm: Permission } }
  | { auth_role_revoke_permission: { role: string; key: Buffer; range_end?: Buffer } }
  | { auth_role_delete: { role: string } }
  | { auth_role_list: Record<string, never> };

export const AUTH_COMMANDS = [
  'auth_enable',
  'auth_disable',
  'authenticate',
  'auth_user_add',
  'auth_user_delete',
  'auth_user_change_password',
  'auth_user_grant_role',
  'auth_user_get',
  'auth_user_revoke_role',
  'auth_user_list',
  'auth_role_add',
  'auth_role_get',
  'auth_role_grant_permission',
  'auth_role_revoke_permission',
  'auth_role_delete',
  'auth_role_list',
] as const;

export function isAuthCommand(c: object): c is AuthCommand {
  return AUTH_COMMANDS.some((k) => k in c);
}

/** Every Auth* response: a header and, for some, one list or the token. */
export interface AuthResponse {
  header: ResponseHeader;
  token?: string;
  roles?: string[];
  users?: string[];
  perm?: Permission[];
}
