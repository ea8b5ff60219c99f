// The v3 state machine of one member: the MVCC store, the lessor and the watch hub, changed only
// by apply(command) in log order (etcd's applierV3backend). Same commands, same state, same
// snapshot bytes on every member; the results are what the proposer's client is answered.
// Reads (Range, read-only Txn) are local: the server decides how fresh they must be.
import { fromJson, toJson, type V3Command } from './command.js';
import { Errors, V3Error } from './errors.js';
import * as kv from './mvcc/kv.js';
import { MvccStore, type MvccSnapshot } from './mvcc/store.js';
import type {
  CompactionResponse,
  DeleteRangeResponse,
  Event,
  LeaseId,
  PutResponse,
  RangeRequest,
  RangeResponse,
  TxnRequest,
  TxnResponse,
} from './mvcc/types.js';
import { Lessor, type LessorOptions, type LessorSnapshot } from './lease/lessor.js';
import { AlarmStore, type AlarmMember, type AlarmsSnapshot } from './maintenance/alarms.js';
import { costTxn } from './maintenance/quota.js';
import { checkApplyPermitted } from './auth/apply-checks.js';
import { AuthStore, type AuthSnapshot } from './auth/auth-store.js';
import { isAuthCommand, type AuthResponse } from './auth/types.js';
import { WatchHub } from './watch/watch-hub.js';

export interface LeaseGrantResponse {
  header: { revision: number };
  ID: LeaseId;
  TTL: number;
  error: string;
}

export interface LeaseRevokeResponse {
  header: { revision: number };
}

export interface AlarmResponse {
  header: { revision: number };
  alarms: AlarmMember[];
}

export type V3Response =
  | PutResponse
  | DeleteRangeResponse
  | TxnResponse
  | CompactionResponse
  | LeaseGrantResponse
  | LeaseRevokeResponse
  | AlarmResponse
  | AuthResponse;

/** A fresh etcd 3.4 member's backend: 16 KiB in use (4 pages of buckets), 20 KiB of file. */
export const FRESH_SIZE_IN_USE = 16 * 1024;
export const FRESH_SIZE = 20 * 1024;
const PAGE = 4096;
/** What a lease takes in etcd's lease bucket (key, leasepb.Lease, element). */
const LEASE_BYTES = 8 + 24 + 16;

export type V3Result = { ok: true; response: V3Response } | { ok: false; error: V3Error };

export class V3StateMachine {
  readonly lessor: Lessor;
  readonly store: MvccStore;
  readonly watches: WatchHub;
  readonly alarms = new AlarmStore();
  /** Users, roles, permissions (replicated) and this member's auth tokens (not). */
  readonly auth: AuthStore;
  /**
   * The log index of the last command applied here (0 before any, and after a restore): enough
   * to tell whether a token's Authenticate entry, a v3 command, has been applied.
   */
  appliedIndex = 0;
  /** Told of every applied write txn's events, after the watchers (for the window, traces). */
  onEvents?: (rev: number, events: Event[]) => void;
  /**
   * This member's backend file size (etcd's Size: its high-water mark, which compaction does not
   * lower; defragment() does). Not replicated: each member's own, as in etcd.
   */
  private fileSize = FRESH_SIZE;

  constructor(opts: LessorOptions) {
    this.lessor = new Lessor(opts);
    this.store = new MvccStore(this.lessor);
    this.watches = new WatchHub(this.store);
    this.auth = new AuthStore(opts.now);
  }

  /**
   * Applies one committed command (`index`: its log entry's). Errors are results too (etcd
   * answers them to the client).
   */
  apply(cmd: V3Command, index = 0): V3Result {
    if (index > this.appliedIndex) this.appliedIndex = index;
    try {
      return { ok: true, response: this.applyOrThrow(cmd, index) };
    } catch (e) {
      if (e instanceof V3Error) return { ok: false, error: e };
      throw e;
    } finally {
      this.fileSize = Math.max(this.fileSize, this.sizeInUse());
    }
  }

  /**
   * etcd's backend SizeInUse, modelled: a fresh member's, plus what the kept revisions, leases and
   * alarms take in bbolt leaves, in whole pages. Kept as a count: asking costs nothing.
   */
  sizeInUse(): number {
    const bytes = this.store.bytes() + this.lessor.count() * LEASE_BYTES + this.alarms.get('NONE').length * 32;
    return FRESH_SIZE_IN_USE + Math.ceil(bytes / PAGE) * PAGE;
  }

  /** etcd's backend Size (what the quota is checked against). */
  size(): number {
    return this.fileSize;
  }

  /** etcd's Defragment: the file shrinks to what is in use. */
  defragment(): void {
    this.fileSize = Math.max(FRESH_SIZE, this.sizeInUse());
  }

  range(r: RangeRequest): RangeResponse {
    return kv.range(this.store, r);
  }

  /** A read-only txn, answered locally (etcd does not propose those). */
  readTxn(r: TxnRequest): TxnResponse {
    if (!kv.isTxnReadOnly(r)) throw new Error('readTxn given a txn that writes');
    return kv.txn(this.store, r, (id) => this.lessor.has(id)).response;
  }

  rev(): number {
    return this.store.rev();
  }

  /** The replicated state, deterministically encoded. */
  snapshot(): Buffer {
    return Buffer.from(this.snapshotText());
  }

  /**
   * snapshot() as text. The MVCC part is JSON-safe already (toSnapshot encodes its bytes), so
   * only the small parts go through toJson: at 100,000 keys the deep copy toJson would make of
   * the MVCC part cost more than the JSON itself. The bytes are those of toJson over the whole
   * (its keys sorted: alarms, auth, leases, mvcc; mvcc's compactRev, keys, rev).
   */
  snapshotText(): string {
    const rest: Omit<V3Snapshot, 'mvcc'> = { leases: this.lessor.toSnapshot(), auth: this.auth.toSnapshot() };
    // Only when raised: a snapshot without alarms has the bytes it had before alarms existed.
    const alarms = this.alarms.toSnapshot();
    if (alarms.length > 0) rest.alarms = alarms;
    const m = this.store.toSnapshot();
    const mvcc = { compactRev: m.compactRev, keys: m.keys, rev: m.rev };
    return JSON.stringify({ ...(toJson(rest) as object), mvcc });
  }

  /** Replaces the state with a snapshot's; leases get their keys back from the store's live keys. */
  restore(b: Buffer): void {
    this.restoreParsed(JSON.parse(b.toString()));
  }

  /** restore() of a snapshot already parsed (JSON.parse of snapshotText's text). */
  restoreParsed(parsed: unknown): void {
    const { mvcc, ...rest } = parsed as { mvcc: V3Snapshot['mvcc'] };
    // The MVCC part holds no tagged values (see snapshotText): fromJson's copy is not needed.
    const s = { ...(fromJson(rest) as Omit<V3Snapshot, 'mvcc'>), mvcc };
    this.lessor.restore(s.leases);
    this.auth.restore(s.auth);
    this.appliedIndex = 0;
    this.store.load(s.mvcc);
    this.alarms.restore(s.alarms);
    for (const live of this.store.range(Buffer.from([0]), Buffer.alloc(0)).kvs) {
      if (live.lease !== 0n && this.lessor.has(live.lease)) this.lessor.attach(live.lease, live.key);
    }
    this.watches.resync();
    this.fileSize = Math.max(FRESH_SIZE, this.sizeInUse());
  }

  private applyOrThrow(cmd: V3Command, index: number): V3Response {
    // etcd's authApplierV3: as the header's user (none without one).
    const ai = { username: cmd.header?.username ?? '', revision: cmd.header?.auth_revision ?? 0 };
    if (isAuthCommand(cmd)) return { header: { revision: this.store.rev() }, ...this.auth.apply(cmd, ai, index) };
    // etcd 3.4's authApplierV3 leaves Alarm to the plain applier: no permission check.
    if ('alarm' in cmd) return { header: { revision: this.store.rev() }, alarms: this.alarms.apply(cmd.alarm) };
    checkApplyPermitted(this.auth, ai, cmd, (id) => (this.lessor.has(id) ? this.lessor.timeToLive(id, true).keys : []));
    const leaseExists = (id: LeaseId) => this.lessor.has(id);
    // etcd's applierV3Capped while NOSPACE is raised: nothing that would grow the store.
    if (this.alarms.has('NOSPACE')) {
      if ('put' in cmd || 'lease_grant' in cmd || ('txn' in cmd && costTxn(cmd.txn) > 0)) throw Errors.noSpace;
    }
    if ('put' in cmd) return this.published(kv.put(this.store, cmd.put, leaseExists));
    if ('delete_range' in cmd) return this.published(kv.deleteRange(this.store, cmd.delete_range));
    if ('txn' in cmd) return this.published(kv.txn(this.store, cmd.txn, leaseExists));
    if ('compaction' in cmd) return kv.compact(this.store, cmd.compaction.revision);
    if ('lease_grant' in cmd) {
      const { ID, TTL } = this.lessor.grant(cmd.lease_grant.ID, cmd.lease_grant.TTL);
      return { header: { revision: this.store.rev() }, ID, TTL, error: '' };
    }
    if ('lease_revoke' in cmd) {
      const keys = this.lessor.revoke(cmd.lease_revoke.ID);
      // One txn deleting the lease's keys in byte order, as etcd's Revoke does.
      const w = this.store.write();
      for (const k of keys) w.deleteRange(k, undefined);
      this.publish(w.end());
      return { header: { revision: this.store.rev() } };
    }
    throw new Error(`unknown v3 command: ${Object.keys(cmd).join(',')}`);
  }

  private published<R extends V3Response>(a: kv.Applied<R>): R {
    this.publish(a.events);
    return a.response;
  }

  private publish(events: Event[]): void {
    if (events.length === 0) return;
    const rev = this.store.rev();
    this.watches.notify(rev, events);
    this.onEvents?.(rev, events);
  }
}

interface V3Snapshot {
  mvcc: MvccSnapshot;
  leases: LessorSnapshot;
  alarms?: AlarmsSnapshot;
  /** Absent while auth was never touched (and in snapshots from before auth). */
  auth?: AuthSnapshot;
}
