// The checks etcd's gRPC KV server makes before a request is proposed
// (etcdserver/api/v3rpc/key.go): empty keys, ignore_value/ignore_lease misuse, too many ops, and
// a txn that puts one key twice or puts and deletes one key ("duplicate key given in txn request").
import { Errors } from '../errors.js';
import { inRange } from './range-end.js';
import type { DeleteRangeRequest, PutRequest, RangeRequest, RequestOp, TxnRequest } from './types.js';

/** etcd's default --max-txn-ops. */
export const MAX_TXN_OPS = 128;

const empty = (b: Buffer | undefined) => !b || b.length === 0;

export function checkRangeRequest(r: RangeRequest): void {
  if (empty(r.key)) throw Errors.emptyKey;
}

export function checkPutRequest(r: PutRequest): void {
  if (empty(r.key)) throw Errors.emptyKey;
  if (r.ignore_value && !empty(r.value)) throw Errors.valueProvided;
  if (r.ignore_lease && (r.lease ?? 0n) !== 0n) throw Errors.leaseProvided;
}

export function checkDeleteRequest(r: DeleteRangeRequest): void {
  if (empty(r.key)) throw Errors.emptyKey;
}

export function checkTxnRequest(r: TxnRequest, maxTxnOps = MAX_TXN_OPS): void {
  checkTxnOps(r, maxTxnOps);
  checkIntervals(r.success ?? []);
  checkIntervals(r.failure ?? []);
}

function checkTxnOps(r: TxnRequest, maxTxnOps: number): void {
  const opc = Math.max(r.compare?.length ?? 0, r.success?.length ?? 0, r.failure?.length ?? 0);
  if (opc > maxTxnOps) throw Errors.tooManyOps;
  for (const c of r.compare ?? []) if (empty(c.key)) throw Errors.emptyKey;
  for (const op of [...(r.success ?? []), ...(r.failure ?? [])]) checkRequestOp(op, maxTxnOps - opc);
}

function checkRequestOp(op: RequestOp, maxTxnOps: number): void {
  if (op.request_range) return checkRangeRequest(op.request_range);
  if (op.request_put) return checkPutRequest(op.request_put);
  if (op.request_delete_range) return checkDeleteRequest(op.request_delete_range);
  if (op.request_txn) return checkTxnOps(op.request_txn, maxTxnOps);
  throw Errors.keyNotFound; // an empty op
}

interface Interval {
  key: Buffer;
  end: Buffer | undefined;
}

const hits = (dels: Interval[], k: Buffer) => dels.some((d) => inRange(k, d.key, d.end));

/** etcd's checkIntervals: the puts (by key) and deletes of `reqs`, or the duplicate key error. */
function checkIntervals(reqs: RequestOp[]): { puts: Set<string>; dels: Interval[] } {
  const dels: Interval[] = [];
  for (const r of reqs) {
    const d = opOnly(r, 'request_delete_range');
    // The raw range_end, as etcd's interval tree takes it: a "\0" end (from key) overlaps no put.
    if (d) dels.push({ key: d.key, end: empty(d.range_end) ? undefined : d.range_end });
  }
  const puts = new Set<string>();
  const latin = (k: string) => Buffer.from(k, 'latin1');
  for (const r of reqs) {
    const t = opOnly(r, 'request_txn');
    if (!t) continue;
    const then = checkIntervals(t.success ?? []);
    const els = checkIntervals(t.failure ?? []);
    for (const k of then.puts) {
      if (puts.has(k) || hits(dels, latin(k))) throw Errors.duplicateKey;
      puts.add(k);
    }
    for (const k of els.puts) {
      // A key put in both branches of one txn is fine: only one branch runs.
      if (puts.has(k) && !then.puts.has(k)) throw Errors.duplicateKey;
      if (hits(dels, latin(k))) throw Errors.duplicateKey;
      puts.add(k);
    }
    dels.push(...then.dels, ...els.dels);
  }
  for (const r of reqs) {
    const p = opOnly(r, 'request_put');
    if (!p) continue;
    const k = p.key.toString('latin1');
    if (puts.has(k) || hits(dels, p.key)) throw Errors.duplicateKey;
    puts.add(k);
  }
  return { puts, dels };
}

function opOnly<K extends keyof RequestOp>(r: RequestOp, kind: K): RequestOp[K] | undefined {
  for (const k of ['request_range', 'request_put', 'request_delete_range', 'request_txn'] as const) {
    if (r[k]) return k === kind ? r[kind] : undefined;
  }
  return undefined;
}
