// etcd's /v3 JSON gateway (grpc-gateway in etcd 3.4) for the unary KV and Lease RPCs: the routes
// are the google.api.http paths etcd's rpc.proto declares; request JSON is read as protobuf's
// JSON mapping (bytes base64, 64-bit integers as strings or numbers, enums by name); answers are
// JSON as etcd's gateway writes them (field names as in the .proto, zero values left out, 64-bit
// integers as strings, bytes base64); errors are {"error","message","code"} with the HTTP status
// grpc-gateway gives each gRPC code. Streams (/v3/watch, /v3/lease/keepalive) come later.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { readBody } from '../net/read-body.js';
import { Errors, GrpcCode, V3Error } from './errors.js';
import type { UnaryHandler, V3GrpcServer } from './grpc-server.js';
import { gatewayProto } from './proto/load.js';

type Msg = Record<string, unknown>;

/** etcd's default --max-request-bytes (1.5 MiB) plus its gRPC overhead allowance (512 KiB). */
export const MAX_GATEWAY_BODY = 1.5 * 1024 * 1024 + 512 * 1024;

interface MethodDef {
  requestSerialize(v: unknown): Buffer;
  requestDeserialize(b: Buffer): Msg;
  responseSerialize(v: unknown): Buffer;
  responseDeserialize(b: Buffer): Msg;
  options?: Record<string, unknown>;
}

interface Route {
  method: MethodDef;
  handler: UnaryHandler;
}

/** grpc-gateway (v1)'s HTTPStatusFromCode. */
const HTTP_STATUS: Record<number, number> = {
  0: 200, 1: 408, 2: 500, 3: 400, 4: 504, 5: 404, 6: 409, 7: 403, 8: 429, 9: 412, 10: 409, 11: 400, 12: 501, 13: 500,
  14: 503, 15: 500, 16: 401,
};

/** The POST paths of one RPC, from its google.api.http option (with additional_bindings). */
function postPaths(options: Record<string, unknown> | undefined): string[] {
  const http = options?.['(google.api.http)'] as { post?: string; additional_bindings?: unknown } | undefined;
  if (!http) return [];
  const more = http.additional_bindings;
  const extra = (Array.isArray(more) ? more : more ? [more] : []) as { post?: string }[];
  return [http.post, ...extra.map((b) => b.post)].filter((p): p is string => !!p);
}

export function gatewayRoutes(server: V3GrpcServer): Map<string, Route> {
  const routes = new Map<string, Route>();
  const def = gatewayProto();
  for (const [svc, handlers] of Object.entries(server.handlers)) {
    const methods = def[`etcdserverpb.${svc}`] as unknown as Record<string, MethodDef>;
    for (const [name, handler] of Object.entries(handlers)) {
      for (const path of postPaths(methods[name].options)) routes.set(path, { method: methods[name], handler });
    }
  }
  return routes;
}

/** etcd's oneofs: proto-loader names the member set in a virtual field of the oneof's name. */
const ONEOF_NAMES = new Set(['request', 'response', 'target_union', 'request_union']);

/**
 * Bytes as base64, proto-loader's oneof-name fields dropped; the rest is as JSON wants it
 * (64-bit integers come as strings, enums as names, fields in .proto order).
 */
function jsonify(v: unknown): unknown {
  if (Buffer.isBuffer(v)) return v.toString('base64');
  if (Array.isArray(v)) return v.map(jsonify);
  if (v && typeof v === 'object') {
    const o = v as Record<string, unknown>;
    return Object.fromEntries(Object.entries(o)
      .filter(([k, x]) => !(ONEOF_NAMES.has(k) && typeof x === 'string' && x in o))
      .map(([k, x]) => [k, jsonify(x)]));
  }
  return v;
}

function send(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text) });
  res.end(text);
}

function sendError(res: ServerResponse, code: number, message: string): void {
  send(res, HTTP_STATUS[code] ?? 500, { error: message, message, code });
}

/**
 * A request handler for the /v3 paths it knows; resolves false for any other request (the
 * caller's v2 API or 404 then answers it).
 */
export function v3Gateway(server: V3GrpcServer): (req: IncomingMessage, res: ServerResponse) => Promise<boolean> {
  const routes = gatewayRoutes(server);
  return async (req, res) => {
    const path = (req.url ?? '').split('?')[0];
    const route = routes.get(path);
    if (!route || req.method !== 'POST') return false;
    let m: Msg;
    try {
      const body = await readBody(req, MAX_GATEWAY_BODY);
      if (body.aborted) return true;
      if (body.tooLarge) throw Errors.requestTooLarge;
      const text = body.data.toString();
      const json = text.trim() === '' ? {} : JSON.parse(text);
      // Through protobuf's own object mapping (base64 bytes, string or number int64, enum names).
      m = route.method.requestDeserialize(route.method.requestSerialize(json));
    } catch (e) {
      if (e instanceof V3Error) sendError(res, e.code, e.message);
      else sendError(res, GrpcCode.InvalidArgument, e instanceof Error ? e.message : String(e));
      return true;
    }
    try {
      const answer = await route.handler(m);
      // One trip through the wire format: what a gRPC client would get, decoded.
      send(res, 200, jsonify(route.method.responseDeserialize(route.method.responseSerialize(answer))));
    } catch (e) {
      if (e instanceof V3Error) sendError(res, e.code, e.message);
      else sendError(res, GrpcCode.Unknown, e instanceof Error ? e.message : String(e));
    }
    return true;
  };
}
