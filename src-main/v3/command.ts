// The v3 commands that go through the Raft log (etcd's InternalRaftRequest, the parts this
// store applies), and their encoding: JSON with bytes as {"$b": base64} and int64 ids as
// {"$n": decimal}, keys in a fixed order, so one command is one byte string on every member.
import type { AlarmRequest } from './maintenance/alarms.js';
import type { AuthCommand, AuthHeader } from './auth/types.js';
import type { CompactionRequest, DeleteRangeRequest, LeaseId, PutRequest, TxnRequest } from './mvcc/types.js';

/**
 * One command, with the proposer's user and auth revision when its client gave a token (etcd's
 * RequestHeader): every member checks the command as that user when it applies it.
 */
export type V3Command = V3Request & { header?: AuthHeader };

export type V3Request =
  | AuthCommand
  | { put: PutRequest }
  | { delete_range: DeleteRangeRequest }
  | { txn: TxnRequest }
  | { compaction: CompactionRequest }
  /** The proposer picks the id when the client gave 0, so every member grants the same lease. */
  | { lease_grant: { ID: LeaseId; TTL: number } }
  | { lease_revoke: { ID: LeaseId } }
  /** etcd proposes every alarm request, a GET too. */
  | { alarm: AlarmRequest };

export function encodeCommand(c: V3Command): Buffer {
  return Buffer.from(JSON.stringify(toJson(c)));
}

export function decodeCommand(b: Buffer | Uint8Array | string): V3Command {
  return fromJson(JSON.parse(typeof b === 'string' ? b : Buffer.from(b).toString())) as V3Command;
}

/**
 * Deterministic JSON-able form: Buffers and bigints tagged, object keys sorted. An empty byte
 * field is left out, as Go's marshaling of etcd's InternalRaftRequest leaves it out: a proposed
 * request's empty range_end is applied as absent (a single key), while the same field on a
 * request served without the log (Range, a read-only Txn) means "every key >= key".
 */
export function toJson(v: unknown): unknown {
  if (Buffer.isBuffer(v) || v instanceof Uint8Array) return { $b: Buffer.from(v).toString('base64') };
  if (typeof v === 'bigint') return { $n: v.toString() };
  if (Array.isArray(v)) return v.map(toJson);
  if (v && typeof v === 'object') {
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(v).sort()) {
      const x = (v as Record<string, unknown>)[k];
      if (x === undefined || ((Buffer.isBuffer(x) || x instanceof Uint8Array) && x.length === 0)) continue;
      out[k] = toJson(x);
    }
    return out;
  }
  return v;
}

export function fromJson(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(fromJson);
  if (v && typeof v === 'object') {
    const o = v as Record<string, unknown>;
    const keys = Object.keys(o);
    if (keys.length === 1 && keys[0] === '$b') return Buffer.from(o.$b as string, 'base64');
    if (keys.length === 1 && keys[0] === '$n') return BigInt(o.$n as string);
    const out: Record<string, unknown> = {};
    for (const k of keys) out[k] = fromJson(o[k]);
    return out;
  }
  return v;
}
