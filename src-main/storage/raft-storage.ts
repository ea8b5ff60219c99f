// Durable state of one Raft node: one SQLite file (better-sqlite3) holding the hard state,
// the log, the latest snapshot and a small key/value table for the node layer.
//
// Every write is one transaction in WAL mode with synchronous=FULL, so the WAL is fsync'd
// before the call returns: the node may answer a vote or acknowledge entries right after.
// One exception, etcd's MustSync rule: a batch that only moves the commit index (same term,
// same vote, no entries, no snapshot) is written without the fsync. Raft can lose the commit
// index and learn it again; the next synced write makes it durable anyway (WAL order).
//
// Opening never "repairs" anything: a file that is not ours (garbage, another application's
// database, a newer schema, a failed integrity check) throws a StorageError naming the file,
// and nothing is written to it before it has been recognised as ours.
//
// Storage that knows when it is damaged (schema 2): every row carries a CRC32 checked on
// load (checksum.ts); the SQLite WAL is audited before SQLite reads it (wal-audit.ts); and a
// data dir that was given a member identity has a marker file (member-marker.ts) that makes a
// missing, emptied or rolled-back database a StorageDamagedError instead of a fresh start.
// SQLite checkpoints as usual (every 1000 pages) and then restarts the WAL from its start, with
// new salts in its header: after each fsync'd write raftlab reads those 8 bytes, and when they
// changed (a new WAL generation) it raises the epoch the marker guards (member-marker.ts).
//
// Schema 1 files (no CRCs) are migrated in place on open, after SQLite's quick_check: their
// rows get the CRC of what they hold now. Refusing them would strand every existing data dir
// and saved session for no gain, since nothing older can be checked anyway.

import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import type { ConfState, Entry, EntryType, HardState, Snapshot } from '../../src-shared/raft-types.js';
import { entryCrc, hardStateCrc, metaCrc, snapshotCrc } from './checksum.js';
import { markerFileFor, readMarker, writeMarker } from './member-marker.js';
import {
  checkConfState, checkEntryRow, checkHardStateRow, checkSnapshotRow, checkVoters, checkWalEpoch,
  type EntryRow, type HardStateRow, type MemberIdentity, type MemberMarker, type SnapshotRow,
} from './stored-shapes.js';
import type { Checked } from '../../src-shared/schema.js';
import { auditWal } from './wal-audit.js';

export type { MemberIdentity } from './stored-shapes.js';

/** PRAGMA application_id of raftlab storage files: 'rLab'. */
export const APPLICATION_ID = 0x724c6162;
/** PRAGMA user_version: bump (and migrate) when the schema changes. */
export const SCHEMA_VERSION = 2;

export class StorageError extends Error {
  readonly file: string;
  constructor(file: string, problem: string, options?: { cause?: unknown }) {
    super(`Raft storage ${file}: ${problem}`, options);
    this.name = 'StorageError';
    this.file = file;
  }
}

/**
 * The data is there but cannot be trusted (a failed checksum, a lost WAL, an emptied
 * database...): the message says what is wrong and what the operator should do.
 */
export class StorageDamagedError extends StorageError {
  constructor(file: string, problem: string, member?: MemberIdentity | null) {
    const id = member?.memberId ?? '<member id>';
    const name = member?.name ?? '<name>';
    super(
      file,
      `${problem}; the data dir is damaged and this member cannot restart from it: remove the data dir, ` +
        `run \`etcdctl member remove ${id}\` and \`etcdctl member add ${name} --peer-urls=<its peer URLs>\` on the cluster, ` +
        `then start the member with --initial-cluster-state existing (a one-member cluster can only be restored from a backup)`,
    );
    this.name = 'StorageDamagedError';
  }
}

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

const SQLITE_HEADER = Buffer.from('SQLite format 3\0', 'latin1');
const TABLES = ['entries', 'hard_state', 'meta', 'snapshot'];

// STRICT tables make SQLite itself refuse a value of the wrong type. `crc`: checksum.ts.
const SCHEMA = `
  CREATE TABLE meta (key TEXT PRIMARY KEY NOT NULL, value TEXT NOT NULL, crc INTEGER NOT NULL) STRICT, WITHOUT ROWID;
  CREATE TABLE hard_state (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    term INTEGER NOT NULL, vote TEXT NOT NULL, commit_index INTEGER NOT NULL, crc INTEGER NOT NULL
  ) STRICT;
  INSERT INTO hard_state VALUES (1, 0, '', 0, ${hardStateCrc(0, '', 0)});
  CREATE TABLE entries (
    idx INTEGER PRIMARY KEY, term INTEGER NOT NULL,
    type TEXT NOT NULL CHECK (type IN ('normal', 'conf')), data TEXT NOT NULL, crc INTEGER NOT NULL
  ) STRICT;
  CREATE TABLE snapshot (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    idx INTEGER NOT NULL, term INTEGER NOT NULL,
    voters TEXT NOT NULL, -- JSON array of member ids
    data TEXT NOT NULL, crc INTEGER NOT NULL
  ) STRICT;
  PRAGMA application_id = ${APPLICATION_ID};
  PRAGMA user_version = ${SCHEMA_VERSION};
`;

/** Schema 1 → 2: a crc column on every table, filled from what the rows hold now. */
const MIGRATE_1_TO_2 = `
  ALTER TABLE meta ADD COLUMN crc INTEGER NOT NULL DEFAULT 0;
  UPDATE meta SET crc = raftlab_meta_crc(key, value);
  ALTER TABLE hard_state ADD COLUMN crc INTEGER NOT NULL DEFAULT 0;
  UPDATE hard_state SET crc = raftlab_hard_state_crc(term, vote, commit_index);
  ALTER TABLE entries ADD COLUMN crc INTEGER NOT NULL DEFAULT 0;
  UPDATE entries SET crc = raftlab_entry_crc(idx, term, type, data);
  ALTER TABLE snapshot ADD COLUMN crc INTEGER NOT NULL DEFAULT 0;
  UPDATE snapshot SET crc = raftlab_snapshot_crc(idx, term, voters, data);
  PRAGMA user_version = 2;
`;

/** Meta keys of the member identity (written by setIdentity) and of the WAL epoch. */
const META_MEMBER_ID = 'member_id';
const META_CLUSTER_ID = 'cluster_id';
const META_NAME = 'name';
const META_WAL_EPOCH = 'wal_epoch';


export class RaftStorage {
  readonly file: string;
  private readonly db: Database.Database;
  private readonly stmt: ReturnType<typeof prepareStatements>;
  private readonly persistTx: (batch: PersistBatch) => void;
  private readonly saveSnapshotTx: (snapshot: Snapshot, compactTo: number) => void;
  private readonly syncNormal: Database.Statement;
  private readonly syncFull: Database.Statement;
  /** Term and vote as last written with an fsync: a change to either must be synced. */
  private synced: { term: number; vote: string };
  readonly markerFile: string;
  /** Set once the member has an identity: from then on the marker guards the data dir. */
  private marker: MemberMarker | null;
  /** The database's WAL generation count (meta wal_epoch), as committed. */
  private epoch: number;
  /** Salts of the WAL generation the epoch was last raised in (hex), undefined before the first. */
  private walSalts?: string;
  private walFd?: number;
  private readonly walFile: string;

  /**
   * Open (or create) the storage file. Throws StorageError if it exists but is not a valid
   * raftlab file, StorageDamagedError if it is ours but cannot be trusted.
   */
  static open(file: string): RaftStorage {
    const markerFile = markerFileFor(file);
    let marker;
    try {
      marker = readMarker(markerFile);
    } catch (err) {
      throw new StorageError(file, `cannot read the member marker ${markerFile}: ${(err as Error).message}`, { cause: err });
    }
    if (typeof marker === 'string') throw new StorageDamagedError(file, marker);
    auditBeforeOpen(file, marker);
    const db = openChecked(file, marker);
    let s: RaftStorage | undefined;
    try {
      s = new RaftStorage(file, db, markerFile, marker);
      s.checkAgainstMarker();
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
    this.marker = marker;
    this.walFile = `${file}-wal`;
    this.stmt = prepareStatements(db);
    this.persistTx = db.transaction((batch: PersistBatch) => this.applyBatch(batch));
    this.saveSnapshotTx = db.transaction((snap: Snapshot, compactTo: number) => this.applySaveSnapshot(snap, compactTo));
    this.setMetaTx = db.transaction((rows: [string, string][]) => {
      for (const [k, v] of rows) this.stmt.setMeta.run(k, v, metaCrc(k, v));
    });
    this.syncNormal = db.prepare('PRAGMA synchronous = NORMAL');
    this.syncFull = db.prepare('PRAGMA synchronous = FULL');
    // A full disk, for tests where no small filesystem can be mounted: SQLite refuses to grow
    // the database past this many pages with the very error a full disk gives (SQLITE_FULL).
    const maxPages = Number(process.env.RAFTLAB_SQLITE_MAX_PAGES);
    if (Number.isInteger(maxPages) && maxPages > 0) db.pragma(`max_page_count = ${maxPages}`);
    const hs = this.stmt.hardState.get();
    this.synced = { term: hs?.term ?? 0, vote: hs?.vote ?? '' };
    this.epoch = Number(this.sound(checkWalEpoch(this.getMeta(META_WAL_EPOCH) ?? '0'), `the meta value ${META_WAL_EPOCH}`));
  }

  private readonly setMetaTx: (rows: [string, string][]) => void;

  /** Verifies every row's checksum, the log's contiguity and that the commit index is covered. */
  load(): StoredState {
    const row = this.stmt.hardState.get();
    if (!row) throw this.damaged('the hard_state row is missing');
    const hs = this.sound(checkHardStateRow(row), 'the hard_state row');
    if (hs.crc !== hardStateCrc(hs.term, hs.vote, hs.commit_index)) {
      throw this.damaged(`the hard state (term ${hs.term}, vote ${hs.vote || 'none'}, commit ${hs.commit_index}) fails its checksum`);
    }
    const snapshot = this.readSnapshot();
    const after = snapshot?.meta.index ?? 0;
    const entries: Entry[] = [];
    for (const row of this.stmt.entriesAfter.all(after)) {
      const r = this.sound(checkEntryRow(row), `the log entry row after index ${after + entries.length}`);
      if (r.idx !== after + 1 + entries.length) {
        throw this.damaged(`the stored log is not contiguous after index ${after}: expected ${after + 1 + entries.length}, found ${r.idx}`);
      }
      if (r.crc !== entryCrc(r.idx, r.term, r.type, r.data)) throw this.damaged(`log entry ${r.idx} (term ${r.term}) fails its checksum`);
      entries.push({ index: r.idx, term: r.term, type: r.type, data: r.data });
    }
    const last = entries.at(-1)?.index ?? after;
    if (hs.commit_index > last) {
      throw this.damaged(`the hard state says entries up to ${hs.commit_index} are committed, but the log ends at ${last}: committed entries are missing`);
    }
    return { hardState: { term: hs.term, vote: hs.vote, commit: hs.commit_index }, snapshot, entries };
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
    const e = String(this.epoch + 1);
    this.setMetaTx([
      [META_MEMBER_ID, who.memberId],
      [META_CLUSTER_ID, who.clusterId],
      [META_NAME, who.name],
      [META_WAL_EPOCH, e],
    ]);
    this.epoch++;
    this.walSalts = this.readWalSalts();
    this.marker = { ...who, epoch: this.epoch };
    writeMarker(this.markerFile, this.marker);
  }

  persist(batch: PersistBatch): void {
    // Validate what can be checked without the database before opening a transaction.
    if (batch.snapshot) checkSnapshot(batch.snapshot);
    if (batch.entries) checkEntries(batch.entries);
    if (batch.hardState) checkHardState(batch.hardState);
    if (!batch.snapshot && !batch.entries?.length && !batch.hardState) return;
    const hs = batch.hardState;
    const mustSync = !!batch.snapshot || !!batch.entries?.length || !hs || hs.term !== this.synced.term || hs.vote !== this.synced.vote;
    if (mustSync) {
      this.persistTx(batch);
      if (hs) this.synced = { term: hs.term, vote: hs.vote };
      this.afterSyncedWrite();
      return;
    }
    // Commit index only: written, not fsync'd (see the top of this file).
    this.syncNormal.run();
    try {
      this.persistTx(batch);
    } finally {
      this.syncFull.run();
    }
  }

  /** Store a snapshot this node made and drop entries <= compactTo (compactTo <= snapshot index). */
  saveSnapshot(snapshot: Snapshot, compactTo: number): void {
    checkSnapshot(snapshot);
    if (!Number.isSafeInteger(compactTo) || compactTo < 0 || compactTo > snapshot.meta.index) {
      throw new Error(`cannot compact to ${compactTo}: must be an integer in [0, ${snapshot.meta.index}] (the snapshot index)`);
    }
    this.saveSnapshotTx(snapshot, compactTo);
    this.afterSyncedWrite();
  }

  getMeta(key: string): string | undefined {
    const r = this.stmt.getMeta.get(key);
    if (r && r.crc !== metaCrc(key, r.value)) throw this.damaged(`the meta value ${key} fails its checksum`);
    return r?.value;
  }

  setMeta(key: string, value: string): void {
    checkText('meta key', key);
    checkText(`meta value for ${key}`, value);
    this.setMetaTx([[key, value]]);
    this.afterSyncedWrite();
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
    return { entries: n, firstIndex: lo ?? snapshotIndex + 1, lastIndex: hi ?? snapshotIndex, snapshotIndex, fileBytes };
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
    if (this.db.open) this.db.close();
    if (this.walFd !== undefined) fs.closeSync(this.walFd);
    this.walFd = undefined;
  }

  // ---------------------------------------------------------------- damage detection

  private damaged(problem: string): StorageDamagedError {
    return new StorageDamagedError(this.file, problem, this.marker);
  }

  /**
   * Right after open: the database must hold the identity the marker names and at least its
   * WAL epoch. A database with an identity but no marker (schema 1, or a crash between the
   * two writes of setIdentity) gets its marker now.
   */
  private checkAgainstMarker(): void {
    const who = this.identity();
    const m = this.marker;
    if (!m) {
      if (who) {
        this.marker = { ...who, epoch: this.epoch };
        writeMarker(this.markerFile, this.marker);
      }
      return;
    }
    const initialised = `the data dir was initialised as member ${m.memberId} (${m.name}) of cluster ${m.clusterId} (${path.basename(this.markerFile)})`;
    if (!who) throw this.damaged(`the database holds no member identity, but ${initialised}: its WAL was probably lost`);
    if (who.memberId !== m.memberId || who.clusterId !== m.clusterId) {
      throw this.damaged(`the database belongs to member ${who.memberId} of cluster ${who.clusterId}, but ${initialised}: it was replaced`);
    }
    if (this.epoch < m.epoch) {
      throw this.damaged(
        `the database is older than what this member had made durable (WAL epoch ${this.epoch}, expected at least ${m.epoch}): its WAL ${path.basename(this.walFile)} was lost or cut short`,
      );
    }
  }

  /**
   * After every fsync'd commit, before the caller may acknowledge it: if SQLite started a new
   * WAL generation (a checkpoint, then a restart from the WAL's start; or the first write after
   * open), raise the epoch in the database, fsync'd, and then in the marker. A WAL lost from
   * then on takes the raise with it. Costs 8 bytes read per write, and 3 fsyncs per generation
   * (1000 pages of WAL): not one more per write.
   */
  private afterSyncedWrite(): void {
    if (!this.marker) return;
    const salts = this.readWalSalts();
    if (salts === this.walSalts) return;
    const e = String(this.epoch + 1);
    this.stmt.setMeta.run(META_WAL_EPOCH, e, metaCrc(META_WAL_EPOCH, e));
    this.epoch++;
    this.walSalts = salts;
    this.marker = { ...this.marker, epoch: this.epoch };
    writeMarker(this.markerFile, this.marker);
  }

  /** The salt fields of the WAL header (bytes 16..23), which SQLite renews at every WAL restart. */
  private readWalSalts(): string | undefined {
    try {
      this.walFd ??= fs.openSync(this.walFile, 'r');
      const b = Buffer.alloc(8);
      return fs.readSync(this.walFd, b, 0, 8, 16) === 8 ? b.toString('hex') : undefined;
    } catch {
      return undefined;
    }
  }

  // ---------------------------------------------------------------- inside transactions

  private applyBatch(batch: PersistBatch): void {
    if (batch.snapshot) {
      const snap = batch.snapshot;
      const current = this.stmt.snapshotIndex.get() ?? 0;
      if (snap.meta.index < current) {
        throw new Error(`cannot install snapshot at ${snap.meta.index}: older than the stored snapshot at ${current}`);
      }
      this.writeSnapshot(snap);
      this.stmt.deleteAll.run();
    }
    if (batch.entries?.length) this.append(batch.entries);
    if (batch.hardState) {
      const hs = batch.hardState;
      this.stmt.setHardState.run(hs.term, hs.vote, hs.commit, hardStateCrc(hs.term, hs.vote, hs.commit));
    }
  }

  private append(entries: Entry[]): void {
    const first = entries[0];
    const snap = this.stmt.snapshot.get();
    const snapIndex = snap?.idx ?? 0;
    const last = Math.max(this.stmt.lastIndex.get() ?? 0, snapIndex);
    // Entries at or below the snapshot are committed and covered by it; load() would hide a
    // rewritten one, so refuse rather than lose it silently on the next restart.
    if (first.index <= snapIndex) {
      throw new Error(`cannot append at ${first.index}: at or below the snapshot index ${snapIndex}`);
    }
    if (first.index > last + 1) {
      throw new Error(`cannot append at ${first.index}: the log ends at ${last}, that would leave a gap`);
    }
    // Raft log terms never decrease; a lower term than the preceding entry means a caller bug.
    const prev = first.index - 1;
    const prevTerm = this.stmt.termAt.get(prev) ?? (prev === snapIndex ? (snap?.term ?? 0) : 0);
    if (first.term < prevTerm) {
      throw new Error(`cannot append entry ${first.index} with term ${first.term} after entry ${prev} with term ${prevTerm}`);
    }
    this.stmt.deleteFrom.run(first.index);
    for (const e of entries) this.stmt.insertEntry.run(e.index, e.term, e.type, e.data, entryCrc(e.index, e.term, e.type, e.data));
  }

  private applySaveSnapshot(snap: Snapshot, compactTo: number): void {
    const current = this.stmt.snapshotIndex.get() ?? 0;
    if (snap.meta.index < current) {
      throw new Error(`cannot save snapshot at ${snap.meta.index}: older than the stored snapshot at ${current}`);
    }
    const last = Math.max(this.stmt.lastIndex.get() ?? 0, current);
    if (snap.meta.index > last) {
      throw new Error(`cannot save snapshot at ${snap.meta.index}: the log ends at ${last}`);
    }
    this.writeSnapshot(snap);
    this.stmt.deleteUpTo.run(compactTo);
  }

  private writeSnapshot(snap: Snapshot): void {
    // The voters alone (as always), or, with learners, the whole configuration (see VotersSchema).
    const { voters: ids, learners } = snap.meta.conf;
    const voters = JSON.stringify(learners?.length ? { voters: ids, learners } : ids);
    this.stmt.setSnapshot.run(snap.meta.index, snap.meta.term, voters, snap.data, snapshotCrc(snap.meta.index, snap.meta.term, voters, snap.data));
  }

  private readSnapshot(): Snapshot | null {
    const row = this.stmt.snapshot.get();
    if (!row) return null;
    const r = this.sound(checkSnapshotRow(row), 'the snapshot row');
    if (r.crc !== snapshotCrc(r.idx, r.term, r.voters, r.data)) throw this.damaged(`the snapshot at index ${r.idx} fails its checksum`);
    let voters: Checked<string[] | ConfState>;
    try {
      const parsed: unknown = JSON.parse(r.voters);
      voters = Array.isArray(parsed) ? checkVoters(parsed) : checkConfState(parsed);
    } catch {
      voters = { ok: false, problem: 'not JSON' };
    }
    if (!voters.ok) throw this.damaged(`the snapshot's voters are not a JSON array of ids: ${r.voters.slice(0, 200)}`);
    const conf = Array.isArray(voters.value) ? { voters: voters.value } : voters.value;
    return { meta: { index: r.idx, term: r.term, conf }, data: r.data };
  }

  /** What storage read back, if it is sound; else the data dir is damaged: `what` and the problem. */
  private sound<T>(checked: Checked<T>, what: string): T {
    if (!checked.ok) throw this.damaged(`${what} is damaged: ${checked.problem}`);
    return checked.value;
  }
}

function prepareStatements(db: Database.Database) {
  return {
    hardState: db.prepare<[], HardStateRow>('SELECT term, vote, commit_index, crc FROM hard_state WHERE id = 1'),
    setHardState: db.prepare<[number, string, number, number]>(
      'UPDATE hard_state SET term = ?, vote = ?, commit_index = ?, crc = ? WHERE id = 1',
    ),
    snapshot: db.prepare<[], SnapshotRow>('SELECT idx, term, voters, data, crc FROM snapshot WHERE id = 1'),
    snapshotIndex: db.prepare<[], number>('SELECT idx FROM snapshot WHERE id = 1').pluck(),
    setSnapshot: db.prepare<[number, number, string, string, number]>(
      'INSERT OR REPLACE INTO snapshot (id, idx, term, voters, data, crc) VALUES (1, ?, ?, ?, ?, ?)',
    ),
    entriesAfter: db.prepare<[number], EntryRow>(
      'SELECT idx, term, type, data, crc FROM entries WHERE idx > ? ORDER BY idx',
    ),
    termAt: db.prepare<[number], number>('SELECT term FROM entries WHERE idx = ?').pluck(),
    bounds: db.prepare<[], { n: number; lo: number | null; hi: number | null }>(
      'SELECT count(*) AS n, min(idx) AS lo, max(idx) AS hi FROM entries',
    ),
    lastIndex: db.prepare<[], number | null>('SELECT max(idx) FROM entries').pluck(),
    insertEntry: db.prepare<[number, number, string, string, number]>(
      'INSERT INTO entries (idx, term, type, data, crc) VALUES (?, ?, ?, ?, ?)',
    ),
    deleteFrom: db.prepare<[number]>('DELETE FROM entries WHERE idx >= ?'),
    deleteUpTo: db.prepare<[number]>('DELETE FROM entries WHERE idx <= ?'),
    deleteAll: db.prepare('DELETE FROM entries'),
    getMeta: db.prepare<[string], { value: string; crc: number }>('SELECT value, crc FROM meta WHERE key = ?'),
    setMeta: db.prepare<[string, string, number]>('INSERT OR REPLACE INTO meta (key, value, crc) VALUES (?, ?, ?)'),
  };
}

// ---------------------------------------------------------------- opening

/**
 * Before SQLite touches anything: a data dir with a member marker must still have its
 * database, and a WAL must not hold committed writes that SQLite would silently drop.
 */
function auditBeforeOpen(file: string, marker: MemberMarker | null): void {
  const wal = `${file}-wal`;
  if (marker) {
    const initialised = `the data dir was initialised as member ${marker.memberId} (${marker.name}) of cluster ${marker.clusterId}`;
    let size: number;
    try {
      size = fs.statSync(file).size;
    } catch {
      const withWal = fs.existsSync(wal) ? ` (its WAL ${path.basename(wal)} is still there)` : '';
      throw new StorageDamagedError(file, `the database is missing${withWal}, but ${initialised}`, marker);
    }
    if (size === 0) throw new StorageDamagedError(file, `the database is empty (0 bytes), but ${initialised}`, marker);
  }
  if (!fs.existsSync(file)) {
    // SQLite would replay the orphaned WAL's pages into a new, empty database file.
    if (fs.existsSync(wal)) throw new StorageDamagedError(file, `the database is missing, but its WAL ${path.basename(wal)} is still there`, marker);
    return;
  }
  let audit;
  try {
    audit = auditWal(wal);
  } catch (err) {
    throw new StorageError(file, `cannot read its WAL ${wal}: ${(err as Error).message}`, { cause: err });
  }
  if (audit?.damage) throw new StorageDamagedError(file, audit.damage, marker);
}

function openChecked(file: string, marker: MemberMarker | null): Database.Database {
  const dir = path.dirname(path.resolve(file));
  if (!fs.existsSync(dir)) throw new StorageError(file, `the directory ${dir} does not exist`);
  let size = -1;
  try {
    const st = fs.statSync(file);
    if (!st.isFile()) throw new StorageError(file, 'exists but is not a regular file');
    size = st.size;
  } catch (err) {
    if (err instanceof StorageError) throw err;
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw new StorageError(file, `cannot stat: ${String(err)}`, { cause: err });
  }
  // SQLite reports garbage as "file is not a database" only on first use; check the header
  // ourselves so the message is precise. A 0-byte file is what an interrupted create leaves.
  if (size > 0) {
    const head = Buffer.alloc(SQLITE_HEADER.length);
    const fd = fs.openSync(file, 'r');
    try {
      fs.readSync(fd, head, 0, head.length, 0);
    } finally {
      fs.closeSync(fd);
    }
    if (!head.equals(SQLITE_HEADER)) throw new StorageError(file, 'is not a SQLite database (bad file header)');
  }

  let db: Database.Database;
  try {
    // Electron needs a better-sqlite3 built for its own ABI; it names that build here
    // (scripts/electron-native.mjs), while Node uses the one in node_modules.
    const nativeBinding = process.env.RAFTLAB_SQLITE_BINDING;
    db = nativeBinding ? new Database(file, { nativeBinding }) : new Database(file);
  } catch (err) {
    throw new StorageError(file, `cannot open: ${(err as Error).message}`, { cause: err });
  }
  try {
    // Only reads until the file is recognised as ours (or as empty).
    const appId = db.pragma('application_id', { simple: true }) as number;
    const version = db.pragma('user_version', { simple: true }) as number;
    const tables = (
      db.prepare("SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name")
        .pluck()
        .all() as string[]
    );
    if (appId === 0 && version === 0 && tables.length === 0) {
      if (marker) {
        throw new StorageDamagedError(
          file,
          `the database holds no raftlab data, but the data dir was initialised as member ${marker.memberId} (${marker.name}) of cluster ${marker.clusterId}`,
          marker,
        );
      }
      db.exec('BEGIN');
      db.exec(SCHEMA);
      db.exec('COMMIT');
    } else {
      if (appId !== APPLICATION_ID) {
        throw new StorageError(
          file,
          `is a SQLite database of another application (application_id ${appId}, tables: ${tables.join(', ') || 'none'}), not raftlab storage`,
        );
      }
      if (version > SCHEMA_VERSION) {
        throw new StorageError(file, `has schema version ${version}, newer than this raftlab supports (${SCHEMA_VERSION}); upgrade raftlab`);
      }
      if (version < 1) throw new StorageError(file, `has unknown schema version ${version}`);
      if (tables.join() !== TABLES.join()) {
        throw new StorageError(file, `has unexpected tables (${tables.join(', ')}; expected ${TABLES.join(', ')})`);
      }
      const problems = db.pragma('quick_check') as { quick_check: string }[];
      if (problems.length !== 1 || problems[0].quick_check !== 'ok') {
        const shown = problems.slice(0, 5).map((p) => p.quick_check).join('; ');
        throw new StorageError(file, `fails the SQLite integrity check: ${shown}`);
      }
    }
    // journal_mode=WAL is remembered in the file; synchronous is per connection.
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = FULL');
    if (version === 1) migrateFrom1(db);
    return db;
  } catch (err) {
    db.close();
    if (err instanceof StorageError) throw err;
    // SQLITE_CORRUPT, SQLITE_NOTADB, I/O errors... while reading the header or schema.
    throw new StorageError(file, `is unreadable or damaged: ${(err as Error).message}`, { cause: err });
  }
}

function migrateFrom1(db: Database.Database): void {
  db.function('raftlab_meta_crc', { deterministic: true }, (k, v) => metaCrc(String(k), String(v)));
  db.function('raftlab_hard_state_crc', { deterministic: true }, (t, v, c) => hardStateCrc(Number(t), String(v), Number(c)));
  db.function('raftlab_entry_crc', { deterministic: true }, (i, t, ty, d) => entryCrc(Number(i), Number(t), ty as EntryType, String(d)));
  db.function('raftlab_snapshot_crc', { deterministic: true }, (i, t, vs, d) => snapshotCrc(Number(i), Number(t), String(vs), String(d)));
  db.exec('BEGIN');
  try {
    db.exec(MIGRATE_1_TO_2);
    db.exec('COMMIT');
  } catch (err) {
    db.exec('ROLLBACK');
    throw err;
  }
}

// ---------------------------------------------------------------- input checks

// SQLite stores UTF-8, so a lone UTF-16 surrogate would come back as U+FFFD: the stored log
// would silently differ from the one in memory. (JSON.stringify never produces one.)
const LONE_SURROGATE = /\p{Cs}/u;

function checkText(what: string, s: unknown): void {
  if (typeof s !== 'string') throw new Error(`${what} must be a string`);
  if (LONE_SURROGATE.test(s)) throw new Error(`${what} contains a lone UTF-16 surrogate, which cannot be stored as UTF-8`);
}

function isIndex(n: unknown): n is number {
  return Number.isSafeInteger(n) && (n as number) >= 0;
}

function checkEntries(entries: Entry[]): void {
  for (let i = 0; i < entries.length; i++) {
    const e = entries[i];
    if (!isIndex(e.index) || e.index < 1 || !isIndex(e.term) || (e.type !== 'normal' && e.type !== 'conf') || typeof e.data !== 'string') {
      throw new Error(`malformed entry at position ${i}: ${JSON.stringify(e).slice(0, 200)}`);
    }
    if (i > 0) {
      const p = entries[i - 1];
      if (e.index !== p.index + 1) throw new Error(`entries are not contiguous: ${e.index} follows ${p.index}`);
      if (e.term < p.term) throw new Error(`entry terms decrease: entry ${e.index} has term ${e.term} after ${p.term}`);
    }
    checkText(`entry ${e.index} data`, e.data);
  }
}

function checkHardState(hs: HardState): void {
  if (!isIndex(hs.term) || !isIndex(hs.commit) || typeof hs.vote !== 'string') {
    throw new Error(`malformed hard state: ${JSON.stringify(hs)}`);
  }
  checkText('hard state vote', hs.vote);
}

function checkSnapshot(s: Snapshot): void {
  const m = s.meta;
  if (!isIndex(m?.index) || !isIndex(m.term) || !Array.isArray(m.conf?.voters) || typeof s.data !== 'string') {
    throw new Error(`malformed snapshot: ${JSON.stringify(m)}`);
  }
  for (const v of m.conf.voters) checkText('snapshot voter id', v);
  for (const v of m.conf.learners ?? []) checkText('snapshot learner id', v);
  checkText('snapshot data', s.data);
}
