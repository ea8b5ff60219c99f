// etcd 3.4's MVCC store (mvcc/kvstore*.go, key_index.go) in memory: every key keeps its history
// of revisions {main, sub} until compaction; a deletion is a tombstone revision. A write txn
// writes at main revision current+1 (sub = its n-th change) and bumps the current revision only
// if it changed something. Everything here is a deterministic function of the calls made, so
// replaying the same Raft log gives the same store and the same snapshot bytes.
import { Errors } from '../errors.js';
import { Crc32c, marshalKeyValue, revisionKey } from './hash.js';
import { NO_LEASE, type Event, type KeyValue, type LeaseId } from './types.js';

const EMPTY = Buffer.alloc(0);

interface Entry {
  main: number;
  sub: number;
  tombstone: boolean;
  /** For a tombstone only the key (etcd stores KeyValue{Key} under the tombstone revision). */
  kv: KeyValue;
}

export interface RangeOptions {
  /** Most keys to return (0 = all); `count` is still the number in range. */
  limit?: number;
  /** Read at this revision (0 = current). */
  rev?: number;
  /** Only count. */
  count?: boolean;
}

export interface RangeResult {
  kvs: KeyValue[];
  count: number;
  /** The store's revision the read was made at (etcd answers the current one, not `rev`). */
  rev: number;
}

/** Where the store tells leases about keys it attaches and detaches (etcd's lessor Attach/Detach). */
export interface LeaseAttachments {
  attach(id: LeaseId, key: Buffer): void;
  detach(id: LeaseId, key: Buffer): void;
}

const noLeases: LeaseAttachments = { attach() {}, detach() {} };

/** Keys are held as latin1 strings: one char per byte, so string order is byte order. */
const keyString = (b: Buffer) => b.toString('latin1');

export function copyKv(kv: KeyValue): KeyValue {
  return { ...kv };
}

export class MvccStore {
  private readonly histories = new Map<string, Entry[]>();
  /** Every key with a history, in byte order. */
  private readonly keys: string[] = [];
  private currentRev = 1;
  /** etcd's compactMainRev: -1 until the first compaction. */
  private compactMainRev = -1;
  /** What the revisions kept take in etcd's key bucket (see revisionBytes), kept as they come and go. */
  private keptBytes = 0;

  constructor(private readonly leases: LeaseAttachments = noLeases) {}

  rev(): number {
    return this.currentRev;
  }

  /** The last compaction's revision (-1 = never compacted), etcd's FirstRev of a read. */
  compactRev(): number {
    return this.compactMainRev;
  }

  /** A read at the current revision (etcd's store.Read). */
  range(key: Buffer, end: Buffer | undefined, ro: RangeOptions = {}): RangeResult {
    return this.rangeKeys(key, end, this.currentRev, ro);
  }

  /** The key's value at revision `rev`, or undefined (deleted, never written, or compacted away). */
  getAt(key: Buffer, rev: number): KeyValue | undefined {
    const e = this.visible(this.histories.get(keyString(key)), rev);
    return e && copyKv(e.kv);
  }

  write(): WriteTxn {
    return new WriteTxn(this, this.leases);
  }

  /** etcd's updateCompactRev + compaction of the key index; the store keeps no other copy. */
  compact(rev: number): void {
    if (rev <= this.compactMainRev) throw Errors.compacted;
    if (rev > this.currentRev) throw Errors.futureRev;
    this.compactMainRev = rev;
    for (let i = 0; i < this.keys.length;) {
      const k = this.keys[i]!; // i is within keys by the loop bound
      const h = this.histories.get(k)!;
      // Keep every revision after `rev`, and the latest at or before it unless it is a tombstone.
      let n = 0; // how many revisions are at or before `rev` (h is in revision order)
      while (n < h.length && h[n]!.main <= rev) n++;
      const latest = h[n - 1];
      if (latest) for (const e of h.splice(0, latest.tombstone ? n : n - 1)) this.keptBytes -= revisionBytes(e);
      if (h.length === 0) {
        this.histories.delete(k);
        this.keys.splice(i, 1);
      } else i++;
    }
  }

  /** Every event (PUT or DELETE) at revisions >= `fromRev`, in revision order, for keys `inKey`. */
  eventsSince(fromRev: number, inKey: (key: Buffer) => boolean): Event[] {
    const found: Entry[] = [];
    for (const k of this.keys) {
      const h = this.histories.get(k)!;
      const latest = h.at(-1);
      // Every revision in a history is of the same key.
      if (!latest || latest.main < fromRev || !inKey(latest.kv.key)) continue;
      for (const e of h) if (e.main >= fromRev) found.push(e);
    }
    found.sort((a, b) => a.main - b.main || a.sub - b.sub);
    return found.map(entryEvent);
  }

  /**
   * etcd's HashByRev: the hash of the key bucket up to `rev` (0 = current). Revisions at or
   * before the compaction count only if they are a key's live value at `rev`, as etcd's `keep`.
   */
  hashKV(rev: number): { hash: number; rev: number; compactRev: number } {
    const compactRev = this.compactMainRev;
    if (rev > 0 && rev <= compactRev) throw Errors.compacted;
    if (rev > 0 && rev > this.currentRev) throw Errors.futureRev;
    const at = rev === 0 ? this.currentRev : rev;
    const keep = new Set<Entry>();
    for (const k of this.keys) {
      const e = this.visible(this.histories.get(k), at);
      if (e) keep.add(e);
    }
    const all: Entry[] = [];
    for (const k of this.keys) for (const e of this.histories.get(k)!) if (e.main <= at) all.push(e);
    all.sort((a, b) => a.main - b.main || a.sub - b.sub);
    const h = new Crc32c().update(Buffer.from('key'));
    for (const e of all) {
      if (e.main <= compactRev && keep.size > 0 && !keep.has(e)) continue;
      h.update(revisionKey(e.main, e.sub, e.tombstone));
      h.update(marshalKeyValue(e.tombstone ? { key: e.kv.key } : e.kv));
    }
    return { hash: h.digest(), rev: this.currentRev, compactRev };
  }

  /** Bytes the kept revisions take as etcd's key bucket holds them (keys, values, elements). */
  bytes(): number {
    return this.keptBytes;
  }

  /**
   * Every kept revision as etcd's key bucket holds it: the revision key (tombstones marked) and
   * the KeyValue (a tombstone's has only the key), key by key.
   */
  *revisions(): Generator<{ main: number; sub: number; tombstone: boolean; kv: KeyValue }> {
    for (const k of this.keys) for (const e of this.histories.get(k)!) yield e;
  }

  // ---- serialization (Raft snapshots) ----

  /** The store as plain JSON-able data: same history, same bytes. */
  toSnapshot(): MvccSnapshot {
    return {
      rev: this.currentRev,
      compactRev: this.compactMainRev,
      keys: this.keys.map((k) => [
        Buffer.from(k, 'latin1').toString('base64'),
        this.histories
          .get(k)!
          .map((e): SnapshotEntry =>
            e.tombstone
              ? [e.main, e.sub]
              : [
                  e.main,
                  e.sub,
                  e.kv.create_revision,
                  e.kv.version,
                  e.kv.value.toString('base64'),
                  e.kv.lease.toString(),
                ],
          ),
      ]),
    };
  }

  static fromSnapshot(s: MvccSnapshot, leases: LeaseAttachments = noLeases): MvccStore {
    const store = new MvccStore(leases);
    store.load(s);
    return store;
  }

  /** Replaces everything with a snapshot's contents (a member catching up from a snapshot). */
  load(s: MvccSnapshot): void {
    this.histories.clear();
    this.keys.length = 0;
    this.currentRev = s.rev;
    this.compactMainRev = s.compactRev;
    this.keptBytes = 0;
    for (const [k64, entries] of s.keys) {
      const key = Buffer.from(k64, 'base64');
      const k = keyString(key);
      this.keys.push(k);
      this.histories.set(
        k,
        entries.map((e) =>
          e.length === 2
            ? { main: e[0], sub: e[1], tombstone: true, kv: tombstoneKv(key, e[0]) }
            : {
                main: e[0],
                sub: e[1],
                tombstone: false,
                kv: {
                  key,
                  create_revision: e[2],
                  mod_revision: e[0],
                  version: e[3],
                  value: Buffer.from(e[4], 'base64'),
                  lease: BigInt(e[5]),
                },
              },
        ),
      );
      for (const e of this.histories.get(k)!) this.keptBytes += revisionBytes(e);
    }
  }

  // ---- internals shared with WriteTxn ----

  /** @internal etcd's rangeKeys: errors for future and compacted revisions, then the index walk. */
  rangeKeys(key: Buffer, end: Buffer | undefined, curRev: number, ro: RangeOptions): RangeResult {
    let rev = ro.rev ?? 0;
    if (rev > curRev) throw Errors.futureRev;
    if (rev <= 0) rev = curRev;
    if (rev < this.compactMainRev) throw Errors.compacted;
    const visible = this.visibleInRange(key, end, rev);
    if (ro.count) return { kvs: [], count: visible.length, rev: curRev };
    const limit = ro.limit && ro.limit > 0 && ro.limit < visible.length ? ro.limit : visible.length;
    return { kvs: visible.slice(0, limit).map((e) => copyKv(e.kv)), count: visible.length, rev: curRev };
  }

  /** @internal The live entry of each key in [key, end) at `rev`, in key order. */
  visibleInRange(key: Buffer, end: Buffer | undefined, rev: number): Entry[] {
    if (end === undefined) {
      const e = this.visible(this.histories.get(keyString(key)), rev);
      return e ? [e] : [];
    }
    const from = keyString(key);
    const to = end.length === 0 ? undefined : keyString(end);
    const out: Entry[] = [];
    for (let i = lowerBound(this.keys, from); i < this.keys.length; i++) {
      const k = this.keys[i]!; // i is within keys by the loop bound
      if (to !== undefined && k >= to) break;
      const e = this.visible(this.histories.get(k), rev);
      if (e) out.push(e);
    }
    return out;
  }

  /** @internal */
  append(key: Buffer, e: Entry): void {
    const k = keyString(key);
    let h = this.histories.get(k);
    if (!h) {
      h = [];
      this.histories.set(k, h);
      this.keys.splice(lowerBound(this.keys, k), 0, k);
    }
    h.push(e);
    this.keptBytes += revisionBytes(e);
  }

  /** @internal */
  bumpRev(): void {
    this.currentRev++;
  }

  private visible(h: Entry[] | undefined, rev: number): Entry | undefined {
    if (!h) return undefined;
    for (let j = h.length - 1; j >= 0; j--) {
      const e = h[j]!; // j is within h by the loop bound
      if (e.main <= rev) return e.tombstone ? undefined : e;
    }
    return undefined;
  }
}

/**
 * etcd's storeTxnWrite: reads see this txn's own changes; puts and deletes write at
 * beginRev+1 with increasing sub revisions; end() makes them the current revision.
 */
export class WriteTxn {
  readonly beginRev: number;
  private readonly changes: Entry[] = [];
  private ended = false;

  constructor(
    private readonly store: MvccStore,
    private readonly leases: LeaseAttachments,
  ) {
    this.beginRev = store.rev();
  }

  /** The revision reads in this txn see (etcd's tw.Range). */
  readRev(): number {
    return this.changes.length > 0 ? this.beginRev + 1 : this.beginRev;
  }

  changed(): boolean {
    return this.changes.length > 0;
  }

  range(key: Buffer, end: Buffer | undefined, ro: RangeOptions = {}): RangeResult {
    return this.store.rangeKeys(key, end, this.readRev(), ro);
  }

  put(key: Buffer, value: Buffer, lease: LeaseId): number {
    const rev = this.beginRev + 1;
    const prev = this.store.visibleInRange(key, undefined, rev)[0];
    const kv: KeyValue = {
      key: Buffer.from(key),
      create_revision: prev ? prev.kv.create_revision : rev,
      mod_revision: rev,
      version: (prev ? prev.kv.version : 0) + 1,
      value: Buffer.from(value),
      lease,
    };
    const e: Entry = { main: rev, sub: this.changes.length, tombstone: false, kv };
    this.store.append(key, e);
    this.changes.push(e);
    if (prev && prev.kv.lease !== NO_LEASE) this.leases.detach(prev.kv.lease, key);
    if (lease !== NO_LEASE) this.leases.attach(lease, key);
    return rev;
  }

  /** Deleted count and the revision (beginRev if nothing changed in this txn). */
  deleteRange(key: Buffer, end: Buffer | undefined): { deleted: number; rev: number } {
    const live = this.store.visibleInRange(key, end, this.readRev());
    for (const prev of live) {
      const rev = this.beginRev + 1;
      const e: Entry = { main: rev, sub: this.changes.length, tombstone: true, kv: tombstoneKv(prev.kv.key, rev) };
      this.store.append(prev.kv.key, e);
      this.changes.push(e);
      if (prev.kv.lease !== NO_LEASE) this.leases.detach(prev.kv.lease, prev.kv.key);
    }
    if (live.length > 0 || this.changes.length > 0) return { deleted: live.length, rev: this.beginRev + 1 };
    return { deleted: 0, rev: this.beginRev };
  }

  /** Commits: the events this txn produced, in order (watchers get them as one response). */
  end(): Event[] {
    if (this.ended) throw new Error('write txn already ended');
    this.ended = true;
    if (this.changes.length > 0) this.store.bumpRev();
    return this.changes.map(entryEvent);
  }
}

/**
 * What one revision takes in a bbolt leaf: the element (16 bytes), the revision key (17, 18 for
 * a tombstone) and the marshaled KeyValue (its key and value, and about 2 bytes of tag and length
 * for each and up to 24 for the varints: 24 counted).
 */
function revisionBytes(e: Entry): number {
  return e.tombstone ? 16 + 18 + 2 + e.kv.key.length : 16 + 17 + 24 + e.kv.key.length + e.kv.value.length;
}

function tombstoneKv(key: Buffer, rev: number): KeyValue {
  // The watch path patches in the tombstone's revision as mod_revision (kvsToEvents).
  return { key, create_revision: 0, mod_revision: rev, version: 0, value: EMPTY, lease: NO_LEASE };
}

function entryEvent(e: Entry): Event {
  return { type: e.tombstone ? 'DELETE' : 'PUT', kv: copyKv(e.kv) };
}

function lowerBound(xs: string[], x: string): number {
  let lo = 0;
  let hi = xs.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (xs[mid]! < x)
      lo = mid + 1; // lo <= mid < hi <= xs.length
    else hi = mid;
  }
  return lo;
}

/** [main, sub] is a tombstone; else [main, sub, create_revision, version, value, lease]. */
export type SnapshotEntry = [number, number] | [number, number, number, number, string, string];

export interface MvccSnapshot {
  rev: number;
  compactRev: number;
  keys: [string, SnapshotEntry[]][];
}
