// Durable state of one Raft node: one SQLite file (better-sqlite3) holding the hard state,
// the log, the latest snapshot and a small key/value table for the node layer. This module is
// the storage's face (RaftStorage and the shapes it takes and returns); its parts:
//   sqlite-schema.ts   the tables, the schema 1 → 2 migration, every SQL statement
//   open-database.ts   opening a file only once it is recognised as ours; the WAL audit first
//   checked-rows.ts    each table's rows in and out, with their CRCs (checksum.ts) and schemas (stored-shapes.ts)
//   marker-guard.ts    the member marker (member-marker.ts) and the WAL epoch it guards
//   input-checks.ts    what a caller may not hand in (malformed entries, lone surrogates)
//   storage-errors.ts  StorageError (not ours) and StorageDamagedError (ours, but not to be trusted)
//
// Every write is one transaction in WAL mode, and the WAL is synced (fdatasync, wal-sync.ts
// says why not SQLite's own fsync) before persist returns, or before syncInBackground says it
// is done: only then may the node answer a vote or acknowledge entries. One exception, etcd's MustSync rule: a batch that only
// moves the commit index (same term, same vote, no entries, no snapshot) is written without
// the sync. Raft can lose the commit index and learn it again; the next synced write makes
// it durable anyway (WAL order).
//
// Storage that knows when it is damaged (schema 2): every row carries a CRC32 checked on
// load (checksum.ts); the SQLite WAL is audited before SQLite reads it (wal-audit.ts); and a
// data dir that was given a member identity has a marker file (member-marker.ts) that makes a
// missing, emptied or rolled-back database a StorageDamagedError instead of a fresh start.

import fs from 'node:fs';
import type Database from 'better-sqlite3';
import type { Entry, HardState, Snapshot } from '../../src-shared/raft-types.js';
import {
  appendEntries,
  compactSome,
  installSnapshot,
  readEntriesAfter,
  readHardState,
  readMeta,
  readSnapshot,
  saveSnapshotAndCompact,
  writeHardState,
  writeMeta,
} from './checked-rows.js';
import { checkCompactTo, checkEntries, checkHardState, checkSnapshot, checkText } from './input-checks.js';
import { MarkerGuard, readMarkerBeforeOpen } from './marker-guard.js';
import { markerFileFor } from './member-marker.js';
import { auditBeforeOpen, openChecked } from './open-database.js';
import { WalSync } from './wal-sync.js';
import { META_CLUSTER_ID, META_MEMBER_ID, META_NAME, prepareStatements, type Statements } from './sqlite-schema.js';
import type { MemberIdentity, MemberMarker } from './stored-shapes.js';

export type { MemberIdentity } from './stored-shapes.js';
export { APPLICATION_ID, SCHEMA_VERSION } from './sqlite-schema.js';
export { StorageDamagedError, StorageError } from './storage-errors.js';

export interface StoredState {
  /** {term: 0, vote: '', commit: 0} when fresh. */
  hardState: HardState;
  /** Latest snapshot, if any. */
  snapshot: Snapshot | null;
  /** All entries after the snapshot index, ascending, contiguous. */
  entries: Entry[];
}

/** What one Raft Ready asks to make durable, in ONE transaction (order: snapshot, entries, hardState). */
export interface PersistBatch {
  /** A snapshot installed from the leader: replaces the stored snapshot and drops the whole log. */
  snapshot?: Snapshot;
  /** Append, first deleting every stored entry with index >= entries[0].index. */
  entries?: Entry[];
  hardState?: HardState;
}

export interface StorageStats {
  /** Rows in the log table (may include a margin of entries at or below the snapshot index). */
  entries: number;
  /** Lowest stored entry index, or snapshotIndex + 1 when the log is empty. */
  firstIndex: number;
  /** Highest stored entry index, or snapshotIndex when the log is empty. */
  lastIndex: number;
  snapshotIndex: number;
  /** Database file plus its WAL. */
  fileBytes: number;
}

/**
 * Entries dropped per transaction after a snapshot: ~1.5 ms of deletes added to a write, instead
 * of all of them (95,000 at the default snapshot count) in the snapshot's own transaction.
 */
const COMPACT_CHUNK = 1000;

export class RaftStorage {
  readonly file: string;
  readonly markerFile: string;
  private readonly db: Database.Database;
  private readonly stmt: Statements;
  private readonly persistTx: (batch: PersistBatch) => void;
  private readonly saveSnapshotTx: (snapshot: Snapshot, compactTo: number) => boolean;
  private readonly setMetaTx: (rows: [string, string][]) => void;
  private readonly wal: WalSync;
  /** Term and vote as last written with an fsync: a change to either must be synced. */
  private synced: { term: number; vote: string };
  /** Term and vote written by write() and not yet synced. */
  private syncing?: { term: number; vote: string };
  /** Entries up to this index are still to be dropped, a chunk with each write (0: none). */
  private leftToCompact = 0;
  private readonly guard: MarkerGuard;
  private readonly damaged = (problem: string) => this.guard.damaged(problem);

  /**
   * Open (or create) the storage file. Throws StorageError if it exists but is not a valid
   * raftlab file, StorageDamagedError if it is ours but cannot be trusted.
   */
  static open(file: string): RaftStorage {
    const markerFile = markerFileFor(file);
    const marker = readMarkerBeforeOpen(file, markerFile);
    auditBeforeOpen(file, marker);
    const db = openChecked(file, marker);
    let s: RaftStorage | undefined;
    try {
      s = new RaftStorage(file, db, markerFile, marker);
      s.guard.checkAgainstMarker(s.identity());
      return s;
    } catch (err) {
      if (s) s.close();
      else db.close();
      throw err;
    }
  }

  private constructor(file: string, db: Database.Database, markerFile: string, marker: MemberMarker | null) {
    this.file = file;
    this.db = db;
    this.markerFile = markerFile;
    this.stmt = prepareStatements(db);
    this.wal = new WalSync(`${file}-wal`);
    const synced =
      <A extends unknown[], R>(tx: (...args: A) => R) =>
      (...args: A): R => {
        const result = tx(...args);
        this.wal.sync();
        return result;
      };
    this.persistTx = db.transaction((batch: PersistBatch) => this.applyBatch(batch));
    this.saveSnapshotTx = synced(
      db.transaction((snap: Snapshot, compactTo: number) =>
        saveSnapshotAndCompact(this.stmt, snap, compactTo, COMPACT_CHUNK),
      ),
    );
    this.setMetaTx = synced(
      db.transaction((rows: [string, string][]) => {
        for (const [k, v] of rows) writeMeta(this.stmt, k, v);
      }),
    );
    // Commits are synced by this.wal, not by SQLite (wal-sync.ts); checkpoints still by SQLite.
    db.pragma('synchronous = NORMAL');
    // A full disk, for tests where no small filesystem can be mounted: SQLite refuses to grow
    // the database past this many pages with the very error a full disk gives (SQLITE_FULL).
    const maxPages = Number(process.env.RAFTLAB_SQLITE_MAX_PAGES);
    if (Number.isInteger(maxPages) && maxPages > 0) db.pragma(`max_page_count = ${maxPages}`);
    const hs = this.stmt.hardState.get();
    this.synced = { term: hs?.term ?? 0, vote: hs?.vote ?? '' };
    this.guard = new MarkerGuard(file, markerFile, marker, this.stmt, () => this.wal.sync());
  }

  /** Verifies every row's checksum, the log's contiguity and that the commit index is covered. */
  load(): StoredState {
    const hardState = readHardState(this.stmt, this.damaged);
    const snapshot = readSnapshot(this.stmt, this.damaged);
    const after = snapshot?.meta.index ?? 0;
    const entries = readEntriesAfter(this.stmt, after, this.damaged);
    const last = entries.at(-1)?.index ?? after;
    if (hardState.commit > last) {
      throw this.damaged(
        `the hard state says entries up to ${hardState.commit} are committed, but the log ends at ${last}: committed entries are missing`,
      );
    }
    return { hardState, snapshot, entries };
  }

  /** The member this data dir was initialised as, if any. */
  identity(): MemberIdentity | undefined {
    const memberId = this.getMeta(META_MEMBER_ID);
    const clusterId = this.getMeta(META_CLUSTER_ID);
    if (!memberId || !clusterId) return undefined;
    return { memberId, clusterId, name: this.getMeta(META_NAME) ?? '' };
  }

  /**
   * Give the data dir its member identity: in the database (one fsync'd transaction) and
   * then in the marker, from which on an emptied or rolled-back database is refused.
   */
  setIdentity(who: MemberIdentity): void {
    for (const v of [who.memberId, who.clusterId, who.name]) checkText('member identity', v);
    this.setMetaTx([
      [META_MEMBER_ID, who.memberId],
      [META_CLUSTER_ID, who.clusterId],
      [META_NAME, who.name],
      this.guard.raisedEpochRow(),
    ]);
    this.guard.identityCommitted(who);
  }

  /** write() and then sync() when needed: durable when it returns. */
  persist(batch: PersistBatch): void {
    if (this.write(batch)) this.sync();
  }

  /**
   * The first half of persist: writes the batch in one transaction and says whether it still
   * has to be synced (sync or syncInBackground) before anyone may rely on it. A batch that only
   * moves the commit index needs no sync (see the top of this file).
   */
  write(batch: PersistBatch): boolean {
    // Validate what can be checked without the database before opening a transaction.
    if (batch.snapshot) checkSnapshot(batch.snapshot);
    if (batch.entries) checkEntries(batch.entries);
    if (batch.hardState) checkHardState(batch.hardState);
    if (!batch.snapshot && !batch.entries?.length && !batch.hardState) return false;
    const hs = batch.hardState;
    const mustSync =
      !!batch.snapshot ||
      !!batch.entries?.length ||
      !hs ||
      hs.term !== this.synced.term ||
      hs.vote !== this.synced.vote;
    this.persistTx(batch);
    if (mustSync && hs) this.syncing = { term: hs.term, vote: hs.vote };
    return mustSync;
  }

  /** Makes everything written so far durable (fdatasync of the WAL). Throws when it cannot. */
  sync(): void {
    const written = this.syncing;
    this.wal.sync();
    this.synced = written ?? this.synced;
    if (this.syncing === written) this.syncing = undefined;
    this.guard.afterSyncedWrite();
  }

  /** sync() on libuv's thread pool; `done` once durable (or with why not). */
  syncInBackground(done: (err: Error | null) => void): void {
    const written = this.syncing;
    this.wal.syncInBackground((err) => {
      if (err) return done(err);
      if (!this.db.open) return done(new Error('the storage was closed during the sync'));
      try {
        this.synced = written ?? this.synced;
        if (this.syncing === written) this.syncing = undefined;
        this.guard.afterSyncedWrite();
      } catch (e) {
        return done(e instanceof Error ? e : new Error(String(e)));
      }
      done(null);
    });
  }

  /**
   * Store a snapshot this node made and drop entries <= compactTo (compactTo <= snapshot index):
   * the first COMPACT_CHUNK of them at once, the rest with the writes that follow.
   */
  saveSnapshot(snapshot: Snapshot, compactTo: number): void {
    checkSnapshot(snapshot);
    checkCompactTo(compactTo, snapshot);
    const compacted = this.saveSnapshotTx(snapshot, compactTo);
    this.leftToCompact = compacted ? 0 : compactTo;
    this.guard.afterSyncedWrite();
  }

  getMeta(key: string): string | undefined {
    return readMeta(this.stmt, key, this.damaged);
  }

  setMeta(key: string, value: string): void {
    checkText('meta key', key);
    checkText(`meta value for ${key}`, value);
    this.setMetaTx([[key, value]]);
    this.guard.afterSyncedWrite();
  }

  stats(): StorageStats {
    const { n, lo, hi } = this.stmt.bounds.get()!;
    const snapshotIndex = this.stmt.snapshotIndex.get() ?? 0;
    let fileBytes = 0;
    for (const f of [this.file, `${this.file}-wal`]) {
      try {
        fileBytes += fs.statSync(f).size;
      } catch {
        // no WAL right now
      }
    }
    return {
      entries: n,
      firstIndex: lo ?? snapshotIndex + 1,
      lastIndex: hi ?? snapshotIndex,
      snapshotIndex,
      fileBytes,
    };
  }

  /**
   * The whole database as this connection sees it (the WAL's committed frames included), as
   * one file's bytes: what a checkpoint of the node keeps (src-main/cluster/checkpoints.ts).
   * Synchronous, so no write of this node can come in between.
   */
  serialize(): Buffer {
    return this.db.serialize();
  }

  /** Idempotent. Checkpoints the WAL into the main file. */
  close(): void {
    this.wal.close();
    if (this.db.open) this.db.close();
    this.guard.close();
  }

  /** Inside persist's transaction, in the order PersistBatch states. */
  private applyBatch(batch: PersistBatch): void {
    if (batch.snapshot) installSnapshot(this.stmt, batch.snapshot);
    if (batch.entries?.length) appendEntries(this.stmt, batch.entries);
    if (batch.hardState) writeHardState(this.stmt, batch.hardState);
    // What the last snapshot left to compact goes a chunk at a time. Entries left over (a
    // restart meanwhile) are only dead weight: load() reads the log after the snapshot.
    if (this.leftToCompact > 0 && compactSome(this.stmt, this.leftToCompact, COMPACT_CHUNK)) this.leftToCompact = 0;
  }
}
