// A /v2/keys request as etcd 3.4 reads it (v2http/client.go parseKeyRequest and apply_v2.go's
// method dispatch): validated, then a write command, a read or a watch.

import { parseBool as goParseBool, parseUint as goParseUint } from '../go/strconv.js';
import { cleanPath } from '../store-v2/tree.js';
import type { V2Command, V2ReadRequest, V2WatchRequest } from '../store-v2/types.js';
import { V2Error } from '../store-v2/errors.js';

export type ParsedKeysRequest = V2Command | { read: V2ReadRequest } | { watch: V2WatchRequest };

/**
 * Validates a /v2/keys request like etcd and maps it to a write command (stamped with `now`),
 * a read, or a watch. `keyPath` is the URL path after "/v2/keys" (already percent-decoded);
 * `params` holds the query and form values (first value wins, as in Go's FormValue).
 * Validation errors are V2Errors with index 0, as etcd reports them.
 */
export function parseKeysRequest(
  method: string,
  keyPath: string,
  params: URLSearchParams,
  now: number,
): ParsedKeysRequest {
  const path = cleanPath(keyPath);
  const prevIndex = parseUint(params, 'prevIndex', 203);
  const waitIndex = parseUint(params, 'waitIndex', 203);
  const recursive = parseBool(params, 'recursive');
  const sorted = parseBool(params, 'sorted');
  const wait = parseBool(params, 'wait');
  const dir = parseBool(params, 'dir');
  const quorum = parseBool(params, 'quorum');
  const stream = parseBool(params, 'stream');
  if (wait && method !== 'GET') throw new V2Error(209, '"wait" can only be used with GET requests');

  const prevValue = params.get('prevValue') ?? '';
  if (params.has('prevValue') && prevValue === '') throw new V2Error(201, '"prevValue" cannot be empty');
  const noValueOnSuccess = parseBool(params, 'noValueOnSuccess');

  // An empty `ttl=` means "no TTL" (and so clears one), like an absent one.
  const ttl = params.get('ttl') ? parseUint(params, 'ttl', 202) : null;
  const prevExist = params.has('prevExist') ? parseBool(params, 'prevExist', 'invalid value for prevExist') : null;
  const refresh = params.has('refresh') && parseBool(params, 'refresh', 'invalid value for refresh');
  const value = params.get('value') ?? '';
  if (refresh) {
    if (value !== '') throw new V2Error(211, 'A value was provided on a refresh');
    if (ttl === null) throw new V2Error(212, 'No TTL value set');
  }

  switch (method) {
    case 'GET':
      if (wait) return { watch: { path, recursive, waitIndex, stream } };
      return { read: { path, recursive, sorted, quorum } };
    case 'HEAD':
      return { read: { path, recursive, sorted, quorum: false } };
  }

  const cmd: V2Command = { op: 'set', path, now };
  const compared = prevIndex > 0 || prevValue !== '';
  switch (method) {
    case 'POST':
      cmd.op = 'createInOrder';
      break;
    case 'PUT':
      if (prevExist === true) cmd.op = compared ? 'compareAndSwap' : 'update';
      else if (prevExist === false) cmd.op = 'create';
      else cmd.op = compared ? 'compareAndSwap' : 'set';
      break;
    case 'DELETE':
      cmd.op = compared ? 'compareAndDelete' : 'delete';
      break;
    default:
      throw new Error(`method ${method} is not allowed on /v2/keys`);
  }
  if (method !== 'DELETE') cmd.value = value;
  if (dir) cmd.dir = true;
  if (recursive && method === 'DELETE') cmd.recursive = true;
  if (ttl !== null && method !== 'DELETE') cmd.ttl = ttl;
  if (refresh) cmd.refresh = true;
  if (cmd.op === 'compareAndSwap' || cmd.op === 'compareAndDelete') {
    if (prevValue !== '') cmd.prevValue = prevValue;
    if (prevIndex > 0) cmd.prevIndex = prevIndex;
  }
  if (noValueOnSuccess) cmd.noValueOnSuccess = true;
  return cmd;
}

/** The request's `recursive` (rr.Recursive, which the auth check reads for every method). */
export function isRecursiveRequest(params: URLSearchParams): boolean {
  return parseBool(params, 'recursive');
}

/** Go's strconv.ParseUint(v, 10, 64) on the first value; absent is 0. */
function parseUint(params: URLSearchParams, name: string, code: number): number {
  const raw = params.get(name);
  if (raw === null) return 0;
  try {
    return Number(goParseUint(raw, 10, 64));
  } catch {
    throw new V2Error(code, `invalid value for "${name}"`);
  }
}

/** Go's strconv.ParseBool on the first value; absent is false; anything else is 209. */
function parseBool(params: URLSearchParams, name: string, cause = `invalid value for "${name}"`): boolean {
  const raw = params.get(name);
  if (raw === null) return false;
  try {
    return goParseBool(raw);
  } catch {
    throw new V2Error(209, cause);
  }
}
