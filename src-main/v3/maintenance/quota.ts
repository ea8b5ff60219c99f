// etcd 3.4's backend quota (etcdserver/quota.go): a Put, a Txn with puts or a LeaseGrant is
// refused with "database space exceeded" (and the NOSPACE alarm raised) when the backend's size
// plus the request's estimated cost would reach --quota-backend-bytes.
import type { PutRequest, RequestOp, TxnRequest } from '../mvcc/types.js';

/** etcd's DefaultQuotaBytes (2 GiB), used when the flag is 0. */
export const DEFAULT_QUOTA_BYTES = 2 * 1024 * 1024 * 1024;
/** etcd's estimate of a lease's cost. */
export const LEASE_OVERHEAD = 64;
/** etcd's estimate of a key's metadata. */
export const KV_OVERHEAD = 256;

/** The quota in bytes from --quota-backend-bytes: 0 is etcd's default, negative disables it (Infinity). */
export function quotaBytes(flag: number | undefined): number {
  if (flag === undefined || flag === 0) return DEFAULT_QUOTA_BYTES;
  return flag < 0 ? Infinity : flag;
}

/** (Before validation: the key may be missing.) */
export function costPut(r: Pick<PutRequest, 'key' | 'value'>): number {
  return KV_OVERHEAD + (r.key?.length ?? 0) + (r.value?.length ?? 0);
}

/** The puts of the larger branch (etcd counts top-level puts only, not nested txns). */
export function costTxn(r: TxnRequest): number {
  const cost = (ops: RequestOp[] | undefined) =>
    (ops ?? []).reduce((n, op) => n + (op.request_put ? costPut(op.request_put) : 0), 0);
  return Math.max(cost(r.success), cost(r.failure));
}

/** etcd's backendQuota.Available: free requests always pass. */
export function available(sizeBytes: number, cost: number, quota: number): boolean {
  return cost === 0 || sizeBytes + cost < quota;
}
