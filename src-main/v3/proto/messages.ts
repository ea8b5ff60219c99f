// proto-loader's messages to the v3 core's requests (KV's range, put, delete range, txn), and the
// core's answers back to proto-loader's shapes as Go marshals them (ids as decimal strings, zero
// values left out).
import type { Msg } from '../call.js';
import type {
  Compare,
  DeleteRangeRequest,
  PutRequest,
  RangeRequest,
  RequestOp,
  SortOrder,
  SortTarget,
  TxnRequest,
} from '../mvcc/types.js';

/** A proto-loader number (int64s come as strings), absent as 0. */
export const num = (v: unknown) => Number(v ?? 0);
/** A proto-loader int64 (an id) as a bigint, absent as 0n. */
export const big = (v: unknown) => BigInt((v as string | number | undefined) ?? 0);

export function rangeRequest(m: Msg): RangeRequest {
  return {
    key: m.key,
    range_end: m.range_end,
    limit: num(m.limit),
    revision: num(m.revision),
    sort_order: m.sort_order as SortOrder,
    sort_target: m.sort_target as SortTarget,
    serializable: m.serializable,
    keys_only: m.keys_only,
    count_only: m.count_only,
    min_mod_revision: num(m.min_mod_revision),
    max_mod_revision: num(m.max_mod_revision),
    min_create_revision: num(m.min_create_revision),
    max_create_revision: num(m.max_create_revision),
  };
}

export function putRequest(m: Msg): PutRequest {
  return {
    key: m.key,
    value: m.value,
    lease: big(m.lease),
    prev_kv: m.prev_kv,
    ignore_value: m.ignore_value,
    ignore_lease: m.ignore_lease,
  };
}

export function deleteRequest(m: Msg): DeleteRangeRequest {
  return { key: m.key, range_end: m.range_end, prev_kv: m.prev_kv };
}

function compare(m: Msg): Compare {
  const c: Compare = { key: m.key, range_end: m.range_end, result: m.result, target: m.target };
  // etcd reads the union member only when it is the one set.
  switch (m.target_union) {
    case 'version':
      c.version = num(m.version);
      break;
    case 'create_revision':
      c.create_revision = num(m.create_revision);
      break;
    case 'mod_revision':
      c.mod_revision = num(m.mod_revision);
      break;
    case 'value':
      c.value = m.value;
      break;
    case 'lease':
      c.lease = big(m.lease);
      break;
  }
  return c;
}

function requestOp(m: Msg): RequestOp {
  switch (m.request) {
    case 'request_range':
      return { request_range: rangeRequest(m.request_range) };
    case 'request_put':
      return { request_put: putRequest(m.request_put) };
    case 'request_delete_range':
      return { request_delete_range: deleteRequest(m.request_delete_range) };
    case 'request_txn':
      return { request_txn: txnRequest(m.request_txn) };
    default:
      return {};
  }
}

export function txnRequest(m: Msg): TxnRequest {
  return {
    compare: (m.compare ?? []).map(compare),
    success: (m.success ?? []).map(requestOp),
    failure: (m.failure ?? []).map(requestOp),
  };
}

/**
 * Core values to proto-loader's, marshaled as Go does: 63-bit ids as decimal strings (protobufjs
 * takes no bigint), and zero values left out. protobufjs writes every field that is set, even
 * 0, false or empty, where Go's marshaling never writes a proto3 default; a client that tells
 * present from absent (as a protobufjs one can) then sees what it sees from etcd.
 */
export function toProto(v: unknown): unknown {
  if (typeof v === 'bigint') return v.toString();
  if (Buffer.isBuffer(v) || v === null || typeof v !== 'object') return v;
  if (Array.isArray(v)) return v.map(toProto);
  const out: Record<string, unknown> = {};
  for (const [k, x] of Object.entries(v)) {
    if (x === undefined || x === 0 || x === 0n || x === false || x === '') continue;
    if ((Buffer.isBuffer(x) || Array.isArray(x)) && x.length === 0) continue;
    // mvccpb.Event's type: PUT is the enum's zero.
    if (k === 'type' && x === 'PUT') continue;
    out[k] = toProto(x);
  }
  return out;
}
