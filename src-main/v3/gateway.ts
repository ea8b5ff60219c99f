// etcd's /v3 JSON gateway (grpc-gateway in etcd 3.4) for the unary KV and Lease RPCs: the routes
// are the google.api.http paths etcd's rpc.proto declares; request JSON is read as protobuf's
// JSON mapping (bytes base64, 64-bit integers as strings or numbers, enums by name); answers are
// JSON as etcd's gateway writes them (field names as in the .proto, zero values left out, 64-bit
// integers as strings, bytes base64); errors are {"error","message","code"} with the HTTP status
// grpc-gateway gives each gRPC code. The streams (/v3/watch, /v3/lease/keepalive) take the
// request messages as JSON values one after another in the body and answer one {"result": …}
// line per message: a watch as long as the client stays, a keep-alive until each is answered.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { readBody } from '../net/read-body.js';
import { guardHandler } from './auth/admin-methods.js';
import type { CallContext } from './call.js';
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

interface StreamRoute {
  method: MethodDef;
  /**
   * Ends once every request in the body is answered. etcd's LeaseKeepAlive returns when its
   * request stream ends (so `curl …/v3/lease/keepalive -d '{"ID":…}'` prints one line and
   * exits); its Watch keeps sending after that, until the client goes.
   */
  endsWithBody?: boolean;
  open(
    write: (m: Msg) => void,
    fail: (e: V3Error) => void,
    ctx: CallContext,
  ): { request(m: Msg): void; close?(): void };
}

/** grpc-gateway (v1)'s HTTPStatusFromCode. */
const HTTP_STATUS: Record<number, number> = {
  0: 200,
  1: 408,
  2: 500,
  3: 400,
  4: 504,
  5: 404,
  6: 409,
  7: 403,
  8: 429,
  9: 412,
  10: 409,
  11: 400,
  12: 501,
  13: 500,
  14: 503,
  15: 500,
  16: 401,
};

/** The POST paths of one RPC, from its google.api.http option (with additional_bindings). */
function postPaths(options: Record<string, unknown> | undefined): string[] {
  const http = options?.['(google.api.http)'] as { post?: string; additional_bindings?: unknown } | undefined;
  if (!http) return [];
  const more = http.additional_bindings;
  const extra = (Array.isArray(more) ? more : more ? [more] : []) as { post?: string }[];
  return [http.post, ...extra.map((b) => b.post)].filter((p): p is string => !!p);
}

export function gatewayRoutes(server: V3GrpcServer): { unary: Map<string, Route>; streams: Map<string, StreamRoute> } {
  const unary = new Map<string, Route>();
  const def = gatewayProto();
  const methodOf = (svc: string, name: string): MethodDef => {
    const m = (def[`etcdserverpb.${svc}`] as unknown as Record<string, MethodDef> | undefined)?.[name];
    if (!m) throw new Error(`v3 gateway: rpc.proto has no etcdserverpb.${svc}.${name}`);
    return m;
  };
  for (const [svc, handlers] of Object.entries(server.handlers)) {
    for (const [name, handler] of Object.entries(handlers)) {
      const guarded = guardHandler(svc, name, handler, server.auth);
      const method = methodOf(svc, name);
      for (const path of postPaths(method.options)) unary.set(path, { method, handler: guarded });
    }
  }
  const streams = new Map<string, StreamRoute>();
  const watch = methodOf('Watch', 'Watch');
  for (const path of postPaths(watch.options))
    streams.set(path, { method: watch, open: (write, _fail, ctx) => server.openWatch(write, ctx) });
  const ka = methodOf('Lease', 'LeaseKeepAlive');
  for (const path of postPaths(ka.options))
    streams.set(path, { method: ka, endsWithBody: true, open: (write, fail) => server.openKeepAlive(write, fail) });
  return { unary, streams };
}

/**
 * The token, as etcd's gateway hands it on: a `Grpc-Metadata-Token` header becomes the "token"
 * metadata, `Authorization` the "authorization" one; etcd reads "token" first.
 */
function callContext(req: IncomingMessage): CallContext {
  const v = req.headers['grpc-metadata-token'] ?? req.headers.authorization;
  const token = Array.isArray(v) ? v[0] : v;
  return token === undefined ? {} : { token };
}

/** The JSON values of a body that holds several one after another (Go's json.Decoder reads it so). */
export function jsonValues(text: string): unknown[] {
  // Nearly every body is one value: parsed at once when it parses whole. Several values, none,
  // or a bad one are read by the scan below (which also says what is wrong, as before).
  try {
    return [JSON.parse(text)];
  } catch {
    /* read value by value */
  }
  const out: unknown[] = [];
  let i = 0;
  while (i < text.length) {
    while (i < text.length && /\s/.test(text.charAt(i))) i++;
    if (i >= text.length) break;
    let depth = 0;
    let inString = false;
    let j = i;
    for (; j < text.length; j++) {
      const c = text.charAt(j);
      if (inString) {
        if (c === '\\') j++;
        else if (c === '"') inString = false;
      } else if (c === '"') inString = true;
      else if (c === '{' || c === '[') depth++;
      else if (c === '}' || c === ']') {
        depth--;
        if (depth === 0) break;
      } else if (depth === 0 && /\s/.test(c)) break;
    }
    out.push(JSON.parse(text.slice(i, j + 1)));
    i = j + 1;
  }
  return out;
}

/**
 * etcd's gateway hands the request to its gRPC server through Go's marshaling, which leaves
 * empty bytes out: an empty range_end in the JSON arrives absent (a single key).
 */
function withoutEmptyBytes(v: unknown): unknown {
  if (Buffer.isBuffer(v) || v === null || typeof v !== 'object') return v;
  if (Array.isArray(v)) return v.map(withoutEmptyBytes);
  // A plain loop (not entries/filter/fromEntries): every request and answer passes here.
  const o = v as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  for (const k of Object.keys(o)) {
    const x = o[k];
    if (!(Buffer.isBuffer(x) && x.length === 0)) out[k] = withoutEmptyBytes(x);
  }
  return out;
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
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(o)) {
      const x = o[k];
      if (!(ONEOF_NAMES.has(k) && typeof x === 'string' && x in o)) out[k] = jsonify(x);
    }
    return out;
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
  // Made at the first request: reading rpc.proto for them is work a node need not do at start.
  let routes: ReturnType<typeof gatewayRoutes> | undefined;
  return async (req, res) => {
    const path = (req.url ?? '').split('?')[0] ?? '';
    if (req.method !== 'POST') return false;
    const { unary, streams } = (routes ??= gatewayRoutes(server));
    const route = unary.get(path);
    const stream = streams.get(path);
    if (!route && !stream) return false;
    let bodies: unknown[];
    try {
      const body = await readBody(req, MAX_GATEWAY_BODY);
      if (body.aborted) return true;
      if (body.tooLarge) throw Errors.requestTooLarge;
      bodies = jsonValues(body.data.toString());
    } catch (e) {
      // etcd's gateway: a body it cannot read is InvalidArgument, and Unknown on a stream.
      if (e instanceof V3Error) sendError(res, e.code, e.message);
      else
        sendError(
          res,
          stream ? GrpcCode.Unknown : GrpcCode.InvalidArgument,
          e instanceof Error ? e.message : String(e),
        );
      return true;
    }
    if (stream) {
      serveStream(stream, bodies, res, callContext(req));
      return true;
    }
    let m: Msg;
    try {
      // Through protobuf's own object mapping (base64 bytes, string or number int64, enum names).
      m = withoutEmptyBytes(route!.method.requestDeserialize(route!.method.requestSerialize(bodies[0] ?? {}))) as Msg;
    } catch (e) {
      sendError(res, GrpcCode.InvalidArgument, e instanceof Error ? e.message : String(e));
      return true;
    }
    try {
      const answer = await route!.handler(m, callContext(req));
      // One trip through the wire format: what a gRPC client would get, decoded.
      send(res, 200, jsonify(route!.method.responseDeserialize(route!.method.responseSerialize(answer))));
    } catch (e) {
      if (e instanceof V3Error) sendError(res, e.code, e.message);
      else sendError(res, GrpcCode.Unknown, e instanceof Error ? e.message : String(e));
    }
    return true;
  };
}

/** One {"result": message} line per answer, until the client goes or the stream fails. */
function serveStream(route: StreamRoute, bodies: unknown[], res: ServerResponse, ctx: CallContext): void {
  res.writeHead(200, { 'Content-Type': 'application/json' });
  let unanswered = bodies.length;
  const line = (v: unknown) => {
    if (!res.writableEnded) res.write(`${JSON.stringify(v)}\n`);
    if (route.endsWithBody && --unanswered <= 0) res.end();
  };
  if (route.endsWithBody && bodies.length === 0) res.end();
  const s = route.open(
    (m) => line({ result: jsonify(route.method.responseDeserialize(route.method.responseSerialize(m))) }),
    (e) => {
      line({ error: e.message, message: e.message, code: e.code });
      res.end();
    },
    ctx,
  );
  res.on('close', () => s.close?.());
  for (const b of bodies) {
    try {
      s.request(withoutEmptyBytes(route.method.requestDeserialize(route.method.requestSerialize(b))) as Msg);
    } catch (e) {
      const message = e instanceof Error ? e.message : String(e);
      line({ error: message, message, code: GrpcCode.InvalidArgument });
    }
  }
}
