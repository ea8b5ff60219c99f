// etcd's authApplierV3 (etcdserver/apply_auth.go) for the KV and lease commands: the checks
// every member makes when it applies a write, as the user in the entry's header, against the
// auth state at that point of the log. Reads that are not proposed are checked by the server
// (request-auth.ts) with the same functions.
import type { LeaseId, RequestOp, TxnRequest } from '../mvcc/types.js';
import type { AuthStore } from './auth-store.js';
import type { AuthInfo } from './types.js';

/** The commands these checks apply to (the KV and lease parts of V3Command). */
type Checked =
  | { put: { key: Buffer; lease?: LeaseId; prev_kv?: boolean } }
  | { delete_range: { key: Buffer; range_end?: Buffer; prev_kv?: boolean } }
  | { txn: TxnRequest }
  | { lease_revoke: { ID: LeaseId } }
  | object;

/** Throws the auth error that keeps `cmd` from applying; the keys of a lease are asked of `leaseKeys`. */
export function checkApplyPermitted(
  as: AuthStore,
  ai: AuthInfo,
  cmd: Checked,
  leaseKeys: (id: LeaseId) => Buffer[],
): void {
  if (!as.isEnabled()) return;
  // A lease whose keys this user may not write: it may neither revoke it nor attach more to it.
  const checkLeasePuts = (id: LeaseId | undefined) => {
    if (id) for (const key of leaseKeys(id)) as.isPutPermitted(ai, key);
  };
  if ('put' in cmd) {
    as.isPutPermitted(ai, cmd.put.key);
    checkLeasePuts(cmd.put.lease);
    if (cmd.put.prev_kv) as.isRangePermitted(ai, cmd.put.key);
  } else if ('delete_range' in cmd) {
    as.isDeleteRangePermitted(ai, cmd.delete_range.key, cmd.delete_range.range_end);
    if (cmd.delete_range.prev_kv) as.isRangePermitted(ai, cmd.delete_range.key, cmd.delete_range.range_end);
  } else if ('txn' in cmd) {
    checkTxnAuth(as, ai, cmd.txn);
  } else if ('lease_revoke' in cmd) {
    checkLeasePuts(cmd.lease_revoke.ID);
  }
}

/**
 * etcd's checkTxnAuth: each compare is a read, each op as its kind. etcd 3.4 does not look
 * into a nested txn's ops (a hole 3.5 closed); here they are checked too.
 */
export function checkTxnAuth(as: AuthStore, ai: AuthInfo, t: TxnRequest): void {
  for (const c of t.compare ?? []) as.isRangePermitted(ai, c.key, c.range_end);
  checkOps(as, ai, t.success ?? []);
  checkOps(as, ai, t.failure ?? []);
}

function checkOps(as: AuthStore, ai: AuthInfo, ops: RequestOp[]): void {
  for (const op of ops) {
    if (op.request_range) as.isRangePermitted(ai, op.request_range.key, op.request_range.range_end);
    else if (op.request_put) as.isPutPermitted(ai, op.request_put.key);
    else if (op.request_delete_range) {
      const d = op.request_delete_range;
      if (d.prev_kv) as.isRangePermitted(ai, d.key, d.range_end);
      as.isDeleteRangePermitted(ai, d.key, d.range_end);
    } else if (op.request_txn) checkTxnAuth(as, ai, op.request_txn);
  }
}
