// etcd 3.4's applierV3backend for the KV requests (etcdserver/apply.go) over the MVCC store:
// Range's limit/sort/filters/`more`, Put's prev_kv/ignore_value/ignore_lease, DeleteRange,
// Txn's compares, branch checks and nested txns, Compaction. Requests are assumed to have passed
// validate.ts (as etcd's gRPC layer checks them before proposing). A missing key reads as the
// empty key: the log's encoding leaves empty bytes out, and applying must never fail.
import { Errors } from '../errors.js';
import { mvccEnd } from './range-end.js';
import { sortKvs } from './sort.js';
import type { MvccStore, RangeResult, WriteTxn } from './store.js';
import {
  NO_LEASE,
  opKind,
  type Compare,
  type CompactionResponse,
  type DeleteRangeRequest,
  type DeleteRangeResponse,
  type Event,
  type KeyValue,
  type LeaseId,
  type PutRequest,
  type PutResponse,
  type RangeRequest,
  type RangeResponse,
  type RequestOp,
  type ResponseOp,
  type TxnRequest,
  type TxnResponse,
} from './types.js';

const EMPTY = Buffer.alloc(0);

/** Whether a lease exists (etcd's lessor.Lookup), for puts that name one. */
export type LeaseLookup = (id: LeaseId) => boolean;

/** What a read goes through: the store itself, or a write txn that sees its own changes. */
interface ReadView {
  range(key: Buffer, end: Buffer | undefined, ro: { limit?: number; rev?: number; count?: boolean }): RangeResult;
}

/** A mutation's answer and the events it made (empty when nothing changed). */
export interface Applied<R> {
  response: R;
  events: Event[];
}

export function range(view: ReadView, r: RangeRequest): RangeResponse {
  const filtered = !!(r.min_mod_revision || r.max_mod_revision || r.min_create_revision || r.max_create_revision);
  const sortOrder = r.sort_order ?? 'NONE';
  const target = r.sort_target ?? 'KEY';
  let limit = r.limit ?? 0;
  // Sorting or filtering needs everything; otherwise one extra tells `more`.
  if (sortOrder !== 'NONE' || filtered) limit = 0;
  if (limit > 0) limit++;
  const rr = view.range(r.key ?? EMPTY, mvccEnd(r.range_end), { limit, rev: r.revision ?? 0, count: r.count_only });
  let kvs = rr.kvs;
  if (r.max_mod_revision) kvs = kvs.filter((kv) => !(kv.mod_revision > r.max_mod_revision!));
  if (r.min_mod_revision) kvs = kvs.filter((kv) => !(kv.mod_revision < r.min_mod_revision!));
  if (r.max_create_revision) kvs = kvs.filter((kv) => !(kv.create_revision > r.max_create_revision!));
  if (r.min_create_revision) kvs = kvs.filter((kv) => !(kv.create_revision < r.min_create_revision!));
  // mvcc answers in key order; any other target sorts ascending unless told otherwise.
  const order = target !== 'KEY' && sortOrder === 'NONE' ? 'ASCEND' : sortOrder;
  if (order !== 'NONE') kvs = sortKvs(kvs, target, order);
  let more = false;
  if (r.limit && r.limit > 0 && kvs.length > r.limit) {
    kvs = kvs.slice(0, r.limit);
    more = true;
  }
  if (r.keys_only) kvs = kvs.map((kv) => ({ ...kv, value: EMPTY }));
  return { header: { revision: rr.rev }, kvs, more, count: rr.count };
}

function putIn(txn: WriteTxn, p: PutRequest): PutResponse {
  const key = p.key ?? EMPTY;
  let value = p.value ?? EMPTY;
  let lease = p.lease ?? NO_LEASE;
  let prev: KeyValue | undefined;
  if (p.ignore_value || p.ignore_lease || p.prev_kv) prev = txn.range(key, undefined, {}).kvs[0];
  if ((p.ignore_value || p.ignore_lease) && !prev) throw Errors.keyNotFound;
  if (p.ignore_value) value = prev!.value;
  if (p.ignore_lease) lease = prev!.lease;
  const rev = txn.put(key, value, lease);
  return { header: { revision: rev }, ...(p.prev_kv && prev ? { prev_kv: prev } : {}) };
}

function deleteIn(txn: WriteTxn, d: DeleteRangeRequest): DeleteRangeResponse {
  const key = d.key ?? EMPTY;
  const end = mvccEnd(d.range_end);
  const prev_kvs = d.prev_kv ? txn.range(key, end, {}).kvs : [];
  const { deleted, rev } = txn.deleteRange(key, end);
  return { header: { revision: rev }, deleted, prev_kvs };
}

export function put(store: MvccStore, p: PutRequest, leaseExists: LeaseLookup): Applied<PutResponse> {
  const lease = p.lease ?? NO_LEASE;
  if (lease !== NO_LEASE && !leaseExists(lease)) throw Errors.leaseNotFound;
  const txn = store.write();
  try {
    const response = putIn(txn, p);
    return { response, events: txn.end() };
  } catch (e) {
    // Nothing was written before the only error a put can raise (key not found).
    txn.end();
    throw e;
  }
}

export function deleteRange(store: MvccStore, d: DeleteRangeRequest): Applied<DeleteRangeResponse> {
  const txn = store.write();
  const response = deleteIn(txn, d);
  return { response, events: txn.end() };
}

export function txn(store: MvccStore, rt: TxnRequest, leaseExists: LeaseLookup): Applied<TxnResponse> {
  const path = compareToPath(store, rt);
  const write = !isTxnReadOnly(rt);
  // Every error is raised before anything is written, as etcd checks the branch taken first.
  if (write) checkRequests(rt, path, (op) => checkPut(store, op, leaseExists));
  checkRequests(rt, path, (op) => checkRange(store, op));
  if (!write) {
    const response = newTxnResponse(rt, path);
    applyTxn(store, rt, path, response);
    response.header.revision = store.rev();
    return { response, events: [] };
  }
  const w = store.write();
  const response = newTxnResponse(rt, path);
  applyTxn(w, rt, path, response);
  response.header.revision = w.readRev();
  return { response, events: w.end() };
}

export function compact(store: MvccStore, revision: number): CompactionResponse {
  store.compact(revision);
  return { header: { revision: store.rev() } };
}

// ---- txn internals, after etcd's apply.go ----

function branch(rt: TxnRequest, succeeded: boolean): RequestOp[] {
  return (succeeded ? rt.success : rt.failure) ?? [];
}

/** The outcome of the txn at the head of `path` (compareToPath gives one per txn on the path taken). */
function outcome(path: readonly boolean[]): boolean {
  const [succeeded] = path;
  if (succeeded === undefined) throw new Error('mvcc: a txn path holds no outcome for a nested txn');
  return succeeded;
}

/** The outcome of every txn on the path taken, depth first (etcd's compareToPath). */
function compareToPath(store: MvccStore, rt: TxnRequest): boolean[] {
  const ok = (rt.compare ?? []).every((c) => applyCompare(store, c));
  const path = [ok];
  for (const op of branch(rt, ok))
    if (opKind(op) === 'request_txn') path.push(...compareToPath(store, op.request_txn!));
  return path;
}

function applyCompare(store: MvccStore, c: Compare): boolean {
  const kvs = store.range(c.key ?? EMPTY, mvccEnd(c.range_end), {}).kvs;
  const target = c.target ?? 'VERSION';
  if (kvs.length === 0) {
    // A missing key has no value to compare (nil and empty are the same in gRPC): always false.
    if (target === 'VALUE') return false;
    return compareKv(c, {
      key: c.key ?? EMPTY,
      create_revision: 0,
      mod_revision: 0,
      version: 0,
      value: EMPTY,
      lease: NO_LEASE,
    });
  }
  return kvs.every((kv) => compareKv(c, kv));
}

function compareKv(c: Compare, kv: KeyValue): boolean {
  let r: number;
  switch (c.target ?? 'VERSION') {
    case 'VALUE':
      r = Buffer.compare(kv.value, c.value ?? EMPTY);
      break;
    case 'CREATE':
      r = cmp(kv.create_revision, c.create_revision ?? 0);
      break;
    case 'MOD':
      r = cmp(kv.mod_revision, c.mod_revision ?? 0);
      break;
    case 'VERSION':
      r = cmp(kv.version, c.version ?? 0);
      break;
    case 'LEASE':
      r = cmp(kv.lease, c.lease ?? NO_LEASE);
      break;
  }
  switch (c.result ?? 'EQUAL') {
    case 'EQUAL':
      return r === 0;
    case 'NOT_EQUAL':
      return r !== 0;
    case 'GREATER':
      return r > 0;
    case 'LESS':
      return r < 0;
  }
}

function cmp<T extends number | bigint>(a: T, b: T): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** etcd's isTxnReadonly: every op of both branches is a range (a nested txn counts as a write). */
export function isTxnReadOnly(rt: TxnRequest): boolean {
  return [...(rt.success ?? []), ...(rt.failure ?? [])].every((op) => opKind(op) === 'request_range');
}

/** etcd's isTxnSerializable: read-only, and every range asked to be serializable. */
export function isTxnSerializable(rt: TxnRequest): boolean {
  return [...(rt.success ?? []), ...(rt.failure ?? [])].every(
    (op) => opKind(op) === 'request_range' && !!op.request_range!.serializable,
  );
}

/** Runs `check` on every non-txn op of the branches taken; returns how many txns it walked. */
function checkRequests(rt: TxnRequest, path: boolean[], check: (op: RequestOp) => void): number {
  let txns = 0;
  let rest = path;
  for (const op of branch(rt, outcome(rest))) {
    if (opKind(op) === 'request_txn') {
      const n = checkRequests(op.request_txn!, rest.slice(1), check);
      txns += n + 1;
      rest = rest.slice(n + 1);
      continue;
    }
    check(op);
  }
  return txns;
}

function checkPut(store: MvccStore, op: RequestOp, leaseExists: LeaseLookup): void {
  const p = op.request_put;
  if (!p || opKind(op) !== 'request_put') return;
  if ((p.ignore_value || p.ignore_lease) && store.range(p.key ?? EMPTY, undefined, {}).kvs.length === 0)
    throw Errors.keyNotFound;
  const lease = p.lease ?? NO_LEASE;
  if (lease !== NO_LEASE && !leaseExists(lease)) throw Errors.leaseNotFound;
}

function checkRange(store: MvccStore, op: RequestOp): void {
  const r = op.request_range;
  if (!r || opKind(op) !== 'request_range') return;
  const rev = r.revision ?? 0;
  if (rev === 0) return;
  if (rev > store.rev()) throw Errors.futureRev;
  if (rev < store.compactRev()) throw Errors.compacted;
}

function newTxnResponse(rt: TxnRequest, path: boolean[]): TxnResponse {
  return { header: { revision: 0 }, succeeded: outcome(path), responses: [] };
}

/** Applies the branch taken; returns how many nested txns it consumed from `path`. */
function applyTxn(view: WriteTxn | MvccStore, rt: TxnRequest, path: boolean[], resp: TxnResponse): number {
  let txns = 0;
  let rest = path;
  for (const op of branch(rt, outcome(rest))) {
    const out: ResponseOp = {};
    switch (opKind(op)) {
      case 'request_range':
        out.response_range = range(view, op.request_range!);
        break;
      case 'request_put':
        out.response_put = putIn(view as WriteTxn, op.request_put!);
        break;
      case 'request_delete_range':
        out.response_delete_range = deleteIn(view as WriteTxn, op.request_delete_range!);
        break;
      case 'request_txn': {
        const inner = newTxnResponse(op.request_txn!, rest.slice(1));
        const n = applyTxn(view, op.request_txn!, rest.slice(1), inner);
        // etcd leaves a nested txn's header empty.
        out.response_txn = inner;
        txns += n + 1;
        rest = rest.slice(n + 1);
        break;
      }
      default:
        break; // an empty op: etcd answers an empty ResponseOp
    }
    resp.responses.push(out);
  }
  return txns;
}
