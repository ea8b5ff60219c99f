// The requests only root's role may make once auth is on, checked before they are served (etcd:
// v3rpc/maintenance.go's authMaintenanceServer, etcdserver's checkMembershipOperationPermission).
// Status, MoveLeader, Alarm and MemberList are not among them in etcd 3.4, nor Compact or the
// lease calls. The guard wraps a grpc.Server's addService, so a method added to these services
// later is guarded by its name alone; the gateway wraps its handlers the same way.
import * as grpc from '@grpc/grpc-js';
import { callContextOf, type CallContext, type UnaryHandler } from '../call.js';
import { GrpcCode, V3Error } from '../errors.js';
import { unmappedAuthError } from './errors.js';
import type { RequestAuth } from './request-auth.js';

export const ADMIN_METHODS: Record<string, readonly string[]> = {
  Maintenance: ['Defragment', 'Snapshot', 'Hash', 'HashKV'],
  Cluster: ['MemberAdd', 'MemberRemove', 'MemberUpdate', 'MemberPromote'],
};

const isAdminMethod = (service: string, method: string) => ADMIN_METHODS[service]?.includes(method) ?? false;

/** The check; Maintenance answers the auth package's errors unmapped (code Unknown), as etcd 3.4. */
async function checkAdmin(service: string, auth: RequestAuth, ctx: CallContext): Promise<void> {
  try {
    await auth.admin(ctx);
  } catch (e) {
    throw service === 'Maintenance' ? unmappedAuthError(e) : e;
  }
}

function statusOf(e: unknown): Partial<grpc.StatusObject> {
  if (e instanceof V3Error) return { code: e.code, details: e.message };
  return { code: GrpcCode.Unknown, details: e instanceof Error ? e.message : String(e) };
}

type AnyCall = { metadata: grpc.Metadata; emit(event: 'error', e: unknown): boolean };
type AnyImpl = (call: AnyCall, cb?: (err: unknown, v: unknown) => void) => void;

/** Makes `server.addService` check root's role first for the methods in ADMIN_METHODS. */
export function guardAdminMethods(server: grpc.Server, auth: RequestAuth): void {
  const add = server.addService.bind(server);
  server.addService = (def: grpc.ServiceDefinition, impl: grpc.UntypedServiceImplementation) => {
    const name = serviceName(def);
    const guarded: grpc.UntypedServiceImplementation = {};
    for (const [method, fn] of Object.entries(impl)) {
      if (!isAdminMethod(name, method)) {
        guarded[method] = fn;
        continue;
      }
      const original = fn as unknown as AnyImpl;
      const unary = !def[method]?.responseStream;
      guarded[method] = ((call: AnyCall, cb?: (err: unknown, v: unknown) => void) => {
        checkAdmin(name, auth, callContextOf(call.metadata)).then(
          () => original(call, cb),
          (e) => (unary && cb ? cb(statusOf(e), null) : call.emit('error', statusOf(e))),
        );
      }) as unknown as grpc.UntypedHandleCall;
    }
    add(def, guarded);
  };
}

/** The same guard on transport-free handlers (the gateway's). */
export function guardHandler(service: string, method: string, h: UnaryHandler, auth: RequestAuth): UnaryHandler {
  if (!isAdminMethod(service, method)) return h;
  return async (m, ctx?: CallContext) => {
    await checkAdmin(service, auth, ctx ?? {});
    return h(m, ctx);
  };
}

/** "etcdserverpb.Maintenance" → "Maintenance", from any method's path. */
function serviceName(def: grpc.ServiceDefinition): string {
  const first = Object.values(def)[0] as { path?: string } | undefined;
  return /\.(\w+)\//.exec(first?.path ?? '')?.[1] ?? '';
}
