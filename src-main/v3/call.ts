// What a v3 request brings besides its message, whatever the transport (gRPC metadata, the
// gateway's HTTP headers): for now the auth token.
import type { Metadata } from '@grpc/grpc-js';
import type { ProtoMessage } from './proto/load.js';

export type Msg = ProtoMessage;

export interface CallContext {
  /** etcd's token: gRPC metadata `token` (clientv3) or `authorization` (the gateway's header). */
  token?: string;
}

/** A unary RPC as a function of proto-loader messages; it throws V3Errors. */
export type UnaryHandler = (m: Msg, ctx?: CallContext) => Promise<Msg>;

/** etcd's AuthInfoFromCtx reads "token", then "authorization" (rpctypes.TokenFieldName*). */
export function callContextOf(md: Metadata): CallContext {
  const v = md.get('token')[0] ?? md.get('authorization')[0];
  return v === undefined ? {} : { token: v.toString() };
}
