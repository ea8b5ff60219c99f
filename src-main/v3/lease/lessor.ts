// etcd 3.4's lessor (lease/lessor.go). Two halves:
// - replicated state, changed only by commands applied from the Raft log on every member:
//   grant (the id chosen by the proposer and carried in the command), revoke, and the keys
//   attached to each lease (which follow from the MVCC store's puts and deletes);
// - the primary's clock, on the leader only: expiries, keep-alive renewals, time-to-live, and
//   which leases have expired (the leader then proposes their revokes through the log).
// Followers hold every lease "forever"; a new leader's promote() gives each lease its full TTL
// again plus an election timeout, as etcd's Promote(electionTimeout) does.
import { Errors } from '../errors.js';
import type { LeaseAttachments } from '../mvcc/store.js';
import type { LeaseId } from '../mvcc/types.js';

/** etcd's MaxLeaseTTL (seconds). */
export const MAX_LEASE_TTL = 9_000_000_000;
/** etcd's leaseRevokeRate/2: most expired leases handed out per check. */
export const REVOKE_BATCH = 500;
/** etcd's expiredLeaseRetryInterval: an expired lease is handed out again after this. */
export const EXPIRED_RETRY_MS = 3000;

/** etcd's minimum lease TTL: (3*electionTicks)/2 heartbeats, rounded up to whole seconds. */
export function minLeaseTTL(electionMs: number, heartbeatMs: number): number {
  const electionTicks = Math.floor(electionMs / heartbeatMs);
  return Math.ceil((Math.floor((3 * electionTicks) / 2) * heartbeatMs) / 1000);
}

/** A lease id as a positive int64 from any 64 bits (etcd masks its generated ids so). */
export function leaseIdFrom(bits: bigint): LeaseId {
  return BigInt.asUintN(63, bits);
}

/**
 * etcd's request id generator (pkg/idutil), which also names leases granted with ID 0: the
 * member id's low 2 bytes, then 5 bytes of the start time in ms and a 1-byte counter that
 * counts up (and may carry into the time). Unique per member, so proposers never collide.
 */
export class IdGenerator {
  private readonly prefix: bigint;
  private suffix: bigint;

  constructor(memberId: bigint, nowMs: number) {
    this.prefix = BigInt.asUintN(16, memberId) << 48n;
    this.suffix = BigInt.asUintN(40, BigInt(Math.floor(nowMs))) << 8n;
  }

  next(): bigint {
    this.suffix = BigInt.asUintN(64, this.suffix + 1n);
    return this.prefix | BigInt.asUintN(48, this.suffix);
  }

  /** A lease id: etcd keeps only positive int64 ids and skips 0. */
  nextLeaseId(): LeaseId {
    for (;;) {
      const id = leaseIdFrom(this.next());
      if (id !== 0n) return id;
    }
  }
}

export class NotPrimaryError extends Error {
  constructor() {
    super('not a primary lessor');
  }
}

interface Lease {
  id: LeaseId;
  /** Granted TTL in seconds (at least the minimum). */
  ttl: number;
  /** Attached keys, as latin1 strings (one char per byte). */
  keys: Set<string>;
  /** Primary only: ms since epoch when it expires; Infinity on a follower. */
  expiry: number;
  /** Primary only: when expired() last handed it out. */
  handedOutAt?: number;
}

export interface LeaseTimeToLive {
  ID: LeaseId;
  /** Whole seconds left (truncated, as etcd's int64(Remaining().Seconds())). */
  TTL: number;
  grantedTTL: number;
  keys: Buffer[];
}

export interface LessorOptions {
  minLeaseTTL: number;
  /** The primary's clock (ms). */
  now?: () => number;
}

export class Lessor implements LeaseAttachments {
  private readonly leases = new Map<LeaseId, Lease>();
  private primary = false;
  private readonly now: () => number;

  constructor(private readonly opts: LessorOptions) {
    this.now = opts.now ?? Date.now;
  }

  // ---- replicated: applied from the log ----

  grant(id: LeaseId, ttl: number): { ID: LeaseId; TTL: number } {
    if (id === 0n) throw Errors.leaseNotFound;
    if (ttl > MAX_LEASE_TTL) throw Errors.leaseTTLTooLarge;
    if (this.leases.has(id)) throw Errors.leaseExist;
    const l: Lease = { id, ttl: Math.max(ttl, this.opts.minLeaseTTL), keys: new Set(), expiry: Infinity };
    if (this.primary) this.refresh(l, 0);
    this.leases.set(id, l);
    return { ID: id, TTL: l.ttl };
  }

  /** Forgets the lease; returns its keys in byte order, which the caller deletes in one txn. */
  revoke(id: LeaseId): Buffer[] {
    const l = this.leases.get(id);
    if (!l) throw Errors.leaseNotFound;
    this.leases.delete(id);
    return [...l.keys].sort().map((k) => Buffer.from(k, 'latin1'));
  }

  attach(id: LeaseId, key: Buffer): void {
    const l = this.leases.get(id);
    // The applier checked the lease exists before the put (etcd panics here otherwise).
    if (!l) throw new Error(`attach to a missing lease ${id}`);
    l.keys.add(key.toString('latin1'));
  }

  detach(id: LeaseId, key: Buffer): void {
    this.leases.get(id)?.keys.delete(key.toString('latin1'));
  }

  has(id: LeaseId): boolean {
    return this.leases.has(id);
  }

  // ---- the primary (leader) only ----

  isPrimary(): boolean {
    return this.primary;
  }

  /** Becoming leader: every lease gets its TTL again from now, plus `extendMs`. */
  promote(extendMs: number): void {
    this.primary = true;
    for (const l of this.leases.values()) this.refresh(l, extendMs);
  }

  /** No longer leader: leases stop counting down here. */
  demote(): void {
    this.primary = false;
    for (const l of this.leases.values()) {
      l.expiry = Infinity;
      l.handedOutAt = undefined;
    }
  }

  /** A keep-alive: the TTL the lease has again. Not found, expired (revoke pending) or not primary throw. */
  renew(id: LeaseId): number {
    if (!this.primary) throw new NotPrimaryError();
    const l = this.leases.get(id);
    // etcd waits for an expired lease's revoke and then answers "not found"; its revoke is on the way.
    if (!l || this.remainingMs(l) <= 0) throw Errors.leaseNotFound;
    this.refresh(l, 0);
    return l.ttl;
  }

  timeToLive(id: LeaseId, withKeys: boolean): LeaseTimeToLive {
    const l = this.leases.get(id);
    if (!l) throw Errors.leaseNotFound;
    const rem = this.remainingMs(l);
    return {
      ID: id,
      TTL: rem === Infinity ? Number.MAX_SAFE_INTEGER : Math.trunc(rem / 1000),
      grantedTTL: l.ttl,
      keys: withKeys ? [...l.keys].sort().map((k) => Buffer.from(k, 'latin1')) : [],
    };
  }

  count(): number {
    return this.leases.size;
  }

  /** Every lease id, soonest to expire first (etcd's Leases). */
  list(): LeaseId[] {
    return [...this.leases.values()]
      .sort((a, b) => this.remainingMs(a) - this.remainingMs(b) || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
      .map((l) => l.id);
  }

  /**
   * Every lease as a viewer draws it, soonest to expire first: its granted TTL, the ms left on
   * this member's clock (Infinity where it is not counted down: not the primary) and how many
   * keys are attached.
   */
  views(): { id: LeaseId; ttl: number; remainingMs: number; keys: number }[] {
    return this.list().map((id) => {
      const l = this.leases.get(id)!;
      return { id, ttl: l.ttl, remainingMs: this.remainingMs(l), keys: l.keys.size };
    });
  }

  /**
   * The leases past their expiry, for the leader to propose revokes of (at most REVOKE_BATCH;
   * one handed out is handed out again after EXPIRED_RETRY_MS if its revoke has not applied).
   */
  expired(): LeaseId[] {
    if (!this.primary) return [];
    const now = this.now();
    const out: LeaseId[] = [];
    for (const l of [...this.leases.values()].sort((a, b) => a.expiry - b.expiry)) {
      if (l.expiry > now || out.length >= REVOKE_BATCH) break;
      if (l.handedOutAt !== undefined && now - l.handedOutAt < EXPIRED_RETRY_MS) continue;
      l.handedOutAt = now;
      out.push(l.id);
    }
    return out;
  }

  /** When the next lease expires (ms since epoch), for the leader's timer; undefined if none. */
  nextExpiry(): number | undefined {
    let next = Infinity;
    for (const l of this.leases.values()) next = Math.min(next, l.expiry);
    return next === Infinity ? undefined : next;
  }

  // ---- snapshots: only the replicated half; keys are rebuilt from the store ----

  toSnapshot(): LessorSnapshot {
    return [...this.leases.values()]
      .sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
      .map((l) => [l.id.toString(), l.ttl]);
  }

  /** Replaces the replicated state (keys come back through attach() from the restored store). */
  restore(s: LessorSnapshot): void {
    this.leases.clear();
    for (const [id, ttl] of s) {
      const l: Lease = { id: BigInt(id), ttl, keys: new Set(), expiry: Infinity };
      if (this.primary) this.refresh(l, 0);
      this.leases.set(l.id, l);
    }
  }

  private refresh(l: Lease, extendMs: number): void {
    l.expiry = this.now() + extendMs + l.ttl * 1000;
    l.handedOutAt = undefined;
  }

  private remainingMs(l: Lease): number {
    return l.expiry === Infinity ? Infinity : l.expiry - this.now();
  }
}

/** [id as decimal string, granted TTL], by id. */
export type LessorSnapshot = [string, number][];
