// etcd's Auth service (v3rpc/auth.go over etcdserver's Authenticator): every call but
// Authenticate is one command through the log, applied by every member (auth-store.ts), and
// answered with that member's result; Authenticate checks the password here first
// (request-auth.ts). Transport-free unary handlers: grpc-server.ts binds them to gRPC and the
// gateway to /v3/auth/….
import type { V3Command } from '../command.js';
import type { CallContext, Msg, UnaryHandler } from '../call.js';
import type { V3Response } from '../state-machine.js';
import type { RequestAuth } from './request-auth.js';
import type { AuthResponse, Permission, PermissionType } from './types.js';

export interface AuthServiceDeps {
  auth: RequestAuth;
  /** Proposes and resolves with the applied result (its error thrown). */
  propose(cmd: V3Command): Promise<V3Response>;
  /** etcd's response header (cluster, member, revision, term), the message as proto-loader wants it. */
  withHeader(r: { header: { revision: number } }): Msg;
}

const str = (v: unknown) => (typeof v === 'string' ? v : '');
const bytes = (v: unknown) => (Buffer.isBuffer(v) ? v : Buffer.alloc(0));

/** authpb.Permission as the wire has it: READ is the enum's zero, which Go does not write. */
function permToProto(p: Permission): Msg {
  return { permType: p.permType === 'READ' ? undefined : p.permType, key: p.key, range_end: p.range_end };
}

function permFromProto(m: Msg | undefined): Permission {
  const p: Permission = { permType: (str(m?.permType) || 'READ') as PermissionType, key: bytes(m?.key) };
  if (m?.range_end?.length) p.range_end = m.range_end;
  return p;
}

export function authHandlers(d: AuthServiceDeps): Record<string, UnaryHandler> {
  /** The command, proposed as the token's user; the applied result with etcd's header. */
  const through = async (cmd: V3Command, ctx: CallContext | undefined): Promise<Msg> => {
    const r = (await d.propose({ ...cmd, ...(await d.auth.header(ctx)) } as V3Command)) as AuthResponse;
    return d.withHeader({ ...r, perm: r.perm?.map(permToProto) } as AuthResponse);
  };
  return {
    AuthEnable: (_m, ctx) => through({ auth_enable: {} }, ctx),
    AuthDisable: (_m, ctx) => through({ auth_disable: {} }, ctx),
    Authenticate: async (m, ctx) => {
      const { token, revision } = await d.auth.authenticate(ctx, str(m.name), str(m.password));
      return d.withHeader({ header: { revision }, token } as AuthResponse);
    },
    UserAdd: async (m, ctx) => {
      const noPassword = m.options?.no_password === true;
      const hashed = await d.auth.hashed(str(m.password), noPassword);
      return through(
        { auth_user_add: { name: str(m.name), hashed_password: hashed, no_password: noPassword || undefined } },
        ctx,
      );
    },
    UserGet: (m, ctx) => through({ auth_user_get: { name: str(m.name) } }, ctx),
    UserList: (_m, ctx) => through({ auth_user_list: {} }, ctx),
    UserDelete: (m, ctx) => through({ auth_user_delete: { name: str(m.name) } }, ctx),
    UserChangePassword: async (m, ctx) => {
      const hashed = (await d.auth.hashed(str(m.password), false))!;
      return through({ auth_user_change_password: { name: str(m.name), hashed_password: hashed } }, ctx);
    },
    UserGrantRole: (m, ctx) => through({ auth_user_grant_role: { user: str(m.user), role: str(m.role) } }, ctx),
    UserRevokeRole: (m, ctx) => through({ auth_user_revoke_role: { name: str(m.name), role: str(m.role) } }, ctx),
    RoleAdd: (m, ctx) => through({ auth_role_add: { name: str(m.name) } }, ctx),
    RoleGet: (m, ctx) => through({ auth_role_get: { role: str(m.role) } }, ctx),
    RoleList: (_m, ctx) => through({ auth_role_list: {} }, ctx),
    RoleDelete: (m, ctx) => through({ auth_role_delete: { role: str(m.role) } }, ctx),
    RoleGrantPermission: (m, ctx) =>
      through({ auth_role_grant_permission: { name: str(m.name), perm: permFromProto(m.perm) } }, ctx),
    RoleRevokePermission: (m, ctx) => {
      const r: { role: string; key: Buffer; range_end?: Buffer } = { role: str(m.role), key: bytes(m.key) };
      if (m.range_end?.length) r.range_end = m.range_end;
      return through({ auth_role_revoke_permission: r }, ctx);
    },
  };
}
