// etcd 3.4's auth errors as its v3 API answers them: the gRPC code and text of
// etcdserver/api/v3rpc/rpctypes/error.go (auth/store.go's errors mapped by v3rpc/util.go), and
// the watch cancel reasons v3rpc/watch.go gives a watch it refuses.
import { GrpcCode, V3Error } from '../errors.js';

/** google.golang.org/grpc/codes the auth errors use beyond errors.ts's. */
const PermissionDenied = 7;
const Unauthenticated = 16;

const e = (code: number, message: string) => new V3Error(code, message);

export const AuthErrors = {
  rootUserNotExist: e(GrpcCode.FailedPrecondition, 'etcdserver: root user does not exist'),
  rootRoleNotExist: e(GrpcCode.FailedPrecondition, 'etcdserver: root user does not have root role'),
  userAlreadyExist: e(GrpcCode.FailedPrecondition, 'etcdserver: user name already exists'),
  userEmpty: e(GrpcCode.InvalidArgument, 'etcdserver: user name is empty'),
  userNotFound: e(GrpcCode.FailedPrecondition, 'etcdserver: user name not found'),
  roleAlreadyExist: e(GrpcCode.FailedPrecondition, 'etcdserver: role name already exists'),
  roleNotFound: e(GrpcCode.FailedPrecondition, 'etcdserver: role name not found'),
  roleEmpty: e(GrpcCode.InvalidArgument, 'etcdserver: role name is empty'),
  authFailed: e(GrpcCode.InvalidArgument, 'etcdserver: authentication failed, invalid user ID or password'),
  permissionDenied: e(PermissionDenied, 'etcdserver: permission denied'),
  roleNotGranted: e(GrpcCode.FailedPrecondition, 'etcdserver: role is not granted to the user'),
  permissionNotGranted: e(GrpcCode.FailedPrecondition, 'etcdserver: permission is not granted to the role'),
  authNotEnabled: e(GrpcCode.FailedPrecondition, 'etcdserver: authentication is not enabled'),
  invalidAuthToken: e(Unauthenticated, 'etcdserver: invalid auth token'),
  invalidAuthMgmt: e(GrpcCode.InvalidArgument, 'etcdserver: invalid auth management'),
  authOldRevision: e(GrpcCode.InvalidArgument, 'etcdserver: revision of auth store is old'),
  /** auth.ErrNoPasswordUser has no gRPC twin: etcd answers it as Unknown with auth's own text. */
  noPasswordUser: e(GrpcCode.Unknown, 'auth: authentication failed, password was given for no password user'),
} as const;

/**
 * The auth package's own text of an error, for where etcd hands it on without mapping it to
 * its gRPC twin: the Maintenance service's root check (authMaintenanceServer) answers these as
 * code Unknown ("rpc error: code = Unknown desc = auth: permission denied").
 */
export function unmappedAuthError(err: unknown): unknown {
  const raw = new Map<unknown, string>([
    [AuthErrors.userEmpty, 'auth: user name is empty'],
    [AuthErrors.userNotFound, 'auth: user not found'],
    [AuthErrors.permissionDenied, 'auth: permission denied'],
    [AuthErrors.invalidAuthToken, 'auth: invalid auth token'],
  ]).get(err);
  return raw === undefined ? err : e(GrpcCode.Unknown, raw);
}

/** gRPC's names of the codes a refused watch can give. */
const CODE_NAMES: Record<number, string> = {
  [GrpcCode.InvalidArgument]: 'InvalidArgument',
  [PermissionDenied]: 'PermissionDenied',
  [Unauthenticated]: 'Unauthenticated',
};

/**
 * The cancel_reason of a watch refused at creation (v3rpc/watch.go): the gRPC error's own
 * string, "rpc error: code = PermissionDenied desc = etcdserver: permission denied".
 */
export function watchCancelReason(err: unknown): string {
  const told: unknown[] = [AuthErrors.invalidAuthToken, AuthErrors.authOldRevision, AuthErrors.userEmpty];
  const e = told.includes(err) ? (err as V3Error) : AuthErrors.permissionDenied;
  return `rpc error: code = ${CODE_NAMES[e.code]} desc = ${e.message}`;
}
