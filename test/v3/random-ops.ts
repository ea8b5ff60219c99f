// Seeded random v3 requests over a small key space: every range form (single key, prefix, from
// key, [a, b), empty), limits, past revisions, sorts, revision filters, prev_kv, ignore_value and
// ignore_lease, txns with every compare target and result, nested txns, compactions and leases.
// At most 8 keys exist, so sorts have no more than 12 elements: Go's sort.Sort is then an
// insertion sort (stable), which is what ours is at any size.
import type { Rng } from '../../src-main/util/rng.js';
import { prefixRangeEnd } from '../../src-main/v3/mvcc/range-end.js';
import type {
  Compare,
  CompareResult,
  CompareTarget,
  LeaseId,
  PutRequest,
  RangeRequest,
  RequestOp,
  SortOrder,
  SortTarget,
  TxnRequest,
} from '../../src-main/v3/mvcc/types.js';
import type { Op } from './v3-harness.js';

const KEYS = ['a', 'a/1', 'a/2', 'ab', 'b', 'b/1', 'c', '\u00ff'];
const VALUES = ['', 'x', 'y', 'zz', 'x1'];
const b = (s: string) => Buffer.from(s, 'latin1');

export class RandomOps {
  /** Lease ids granted so far (some since revoked: using them is an error worth comparing). */
  private readonly leases: LeaseId[] = [];
  private nextLease = 0x1000n;
  /** The highest revision either side reported, for picking past and future revisions. */
  rev = 1;

  constructor(private readonly rng: Rng) {}

  next(): Op {
    const r = this.rng();
    if (r < 0.3) return { put: this.put() };
    if (r < 0.55) return { range: this.range() };
    if (r < 0.65) return { delete_range: this.del() };
    if (r < 0.88) return { txn: this.txn(0) };
    if (r < 0.92) return { compaction: { revision: this.rng.int(0, this.rev + 1) } };
    if (r < 0.96) {
      const ID = this.nextLease++;
      this.leases.push(ID);
      // Long TTLs: no lease may expire during a test on the real etcd.
      return { lease_grant: { ID, TTL: this.rng.pick([600, 900, 3600]) } };
    }
    return { lease_revoke: { ID: this.lease() ?? 1n } };
  }

  private key(): Buffer {
    return b(this.rng.chance(0.02) ? '' : this.rng.pick(KEYS));
  }

  private lease(): LeaseId | undefined {
    return this.leases.length > 0 ? this.rng.pick(this.leases) : undefined;
  }

  /** [key, range_end] in one of etcd's forms. */
  private span(): { key: Buffer; range_end?: Buffer } {
    const key = this.key();
    const f = this.rng();
    if (f < 0.4) return { key };
    if (f < 0.65) return { key, range_end: prefixRangeEnd(key) };
    if (f < 0.8) return { key, range_end: b('\0') };
    return { key, range_end: this.key() };
  }

  private revision(): number {
    const f = this.rng();
    if (f < 0.6) return 0;
    return this.rng.int(Math.max(0, this.rev - 6), this.rev + 1);
  }

  range(): RangeRequest {
    const r: RangeRequest = { ...this.span() };
    if (this.rng.chance(0.3)) r.limit = this.rng.int(1, 3);
    r.revision = this.revision();
    if (this.rng.chance(0.1)) r.keys_only = true;
    if (this.rng.chance(0.1)) r.count_only = true;
    if (this.rng.chance(0.3)) {
      r.sort_order = this.rng.pick<SortOrder>(['NONE', 'ASCEND', 'DESCEND']);
      r.sort_target = this.rng.pick<SortTarget>(['KEY', 'VERSION', 'CREATE', 'MOD', 'VALUE']);
    }
    if (this.rng.chance(0.15)) r.min_mod_revision = this.rng.int(1, this.rev);
    if (this.rng.chance(0.15)) r.max_mod_revision = this.rng.int(1, this.rev);
    if (this.rng.chance(0.1)) r.min_create_revision = this.rng.int(1, this.rev);
    if (this.rng.chance(0.1)) r.max_create_revision = this.rng.int(1, this.rev);
    return r;
  }

  put() {
    const p: PutRequest = {
      key: this.key(),
      value: b(this.rng.pick(VALUES)),
    };
    if (this.rng.chance(0.4)) p.prev_kv = true;
    if (this.rng.chance(0.25)) p.lease = this.rng.chance(0.9) ? this.lease() : 999n;
    if (this.rng.chance(0.1)) {
      p.ignore_value = true;
      if (this.rng.chance(0.7)) p.value = undefined;
    }
    if (this.rng.chance(0.1)) {
      p.ignore_lease = true;
      if (this.rng.chance(0.7)) p.lease = undefined;
    }
    return p;
  }

  del() {
    return { ...this.span(), ...(this.rng.chance(0.5) ? { prev_kv: true } : {}) };
  }

  private compare(): Compare {
    const target = this.rng.pick<CompareTarget>(['VERSION', 'CREATE', 'MOD', 'VALUE', 'LEASE']);
    const result = this.rng.pick<CompareResult>(['EQUAL', 'GREATER', 'LESS', 'NOT_EQUAL']);
    const c: Compare = { ...(this.rng.chance(0.8) ? { key: this.key() } : this.span()), target, result };
    switch (target) {
      case 'VERSION':
        c.version = this.rng.int(0, 3);
        break;
      case 'CREATE':
        c.create_revision = this.rng.int(0, this.rev);
        break;
      case 'MOD':
        c.mod_revision = this.rng.int(0, this.rev);
        break;
      case 'VALUE':
        c.value = b(this.rng.pick(VALUES));
        break;
      case 'LEASE':
        c.lease = this.rng.chance(0.5) ? 0n : (this.lease() ?? 0n);
        break;
    }
    return c;
  }

  private requestOp(depth: number): RequestOp {
    const f = this.rng();
    if (f < 0.3) return { request_range: this.range() };
    if (f < 0.65) return { request_put: this.put() };
    if (f < 0.85 || depth >= 2) return { request_delete_range: this.del() };
    if (f < 0.98) return { request_txn: this.txn(depth + 1) };
    return {}; // an empty op: etcd's "key not found"
  }

  txn(depth: number): TxnRequest {
    const n = () => this.rng.int(0, depth === 0 ? 3 : 2);
    return {
      compare: Array.from({ length: n() }, () => this.compare()),
      success: Array.from({ length: n() }, () => this.requestOp(depth)),
      failure: Array.from({ length: n() }, () => this.requestOp(depth)),
    };
  }
}
