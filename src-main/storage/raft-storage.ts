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

import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import type { Entry, EntryType, HardState, Snapshot } from '../../src-shared/raft-types.js';

/** PRAGMA application_id of raftlab storage files: 'rLab'. */
export const APPLICATION_ID = 0x724c6162;
/** PRAGMA user_version: bump (and migrate) when the schema changes. */
export const SCHEMA_VERSION = 1;

export class StorageError extends Error {
  readonly file: string;
  constructor(file: string, problem: string, options?: { cause?: unknown }) {
    super(`Raft storage ${file}: ${problem}`, options);
    this.name = 'StorageError';
    this.file = file;
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

// STRICT tables make SQLite itself refuse a value of the wrong type.
const SCHEMA = `
  CREATE TABLE meta (key TEXT PRIMARY KEY NOT NULL, value TEXT NOT NULL) STRICT, WITHOUT ROWID;
  CREATE TABLE hard_state (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    term INTEGER NOT NULL, vote TEXT NOT NULL, commit_index INTEGER NOT NULL
  ) STRICT;
  INSERT INTO hard_state VALUES (1, 0, '', 0);
  CREATE TABLE entries (
    idx INTEGER PRIMARY KEY, term INTEGER NOT NULL,
    type TEXT NOT NULL CHECK (type IN ('normal', 'conf')), data TEXT NOT NULL
  ) STRICT;
  CREATE TABLE snapshot (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    idx INTEGER NOT NULL, term INTEGER NOT NULL,
    voters TEXT NOT NULL, -- JSON array of member ids
    data TEXT NOT NULL
  ) STRICT;
  PRAGMA application_id = ${APPLICATION_ID};
  PRAGMA user_version = ${SCHEMA_VERSION};
`;

type EntryRow = { idx: number; term: number; type: EntryType; data: string };
type SnapshotRow = { idx: number; term: number; voters: string; data: string };
type HardStateRow = { term: number; vote: string; commit_index: number };

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

  /** Open (or create) the storage file. Throws StorageError if it exists but is not a valid raftlab file. */
  static open(file: string): RaftStorage {
    return new RaftStorage(file, openChecked(file));
  }

  private constructor(file: string, db: Database.Database) {
    this.file = file;
    this.db = db;
    this.stmt = prepareStatements(db);
    this.persistTx = db.transaction((batch: PersistBatch) => this.applyBatch(batch));
    this.saveSnapshotTx = db.transaction((snap: Snapshot, compactTo: number) => this.applySaveSnapshot(snap, compactTo));
    this.syncNormal = db.prepare('PRAGMA synchronous = NORMAL');
    this.syncFull = db.prepare('PRAGMA synchronous = FULL');
    const hs = this.stmt.hardState.get();
    this.synced = { term: hs?.term ?? 0, vote: hs?.vote ?? '' };
  }

  load(): StoredState {
    const hs = this.stmt.hardState.get();
    if (!hs) throw new StorageError(this.file, 'the hard_state row is missing');
    const snapshot = this.readSnapshot();
    const after = snapshot?.meta.index ?? 0;
    const entries: Entry[] = [];
    for (const r of this.stmt.entriesAfter.all(after)) {
      if (r.idx !== after + 1 + entries.length) {
        throw new StorageError(
          this.file,
          `the stored log is not contiguous after index ${after}: expected ${after + 1 + entries.length}, found ${r.idx}`,
        );
      }
      entries.push({ index: r.idx, term: r.term, type: r.type, data: r.data });
    }
    return { hardState: { term: hs.term, vote: hs.vote, commit: hs.commit_index }, snapshot, entries };
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
  }

  getMeta(key: string): string | undefined {
    return this.stmt.getMeta.get(key);
  }

  setMeta(key: string, value: string): void {
    checkText('meta key', key);
    checkText(`meta value for ${key}`, value);
    this.stmt.setMeta.run(key, value);
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
      this.stmt.setHardState.run(hs.term, hs.vote, hs.commit);
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
    for (const e of entries) this.stmt.insertEntry.run(e.index, e.term, e.type, e.data);
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
    this.stmt.setSnapshot.run(snap.meta.index, snap.meta.term, JSON.stringify(snap.meta.conf.voters), snap.data);
  }

  private readSnapshot(): Snapshot | null {
    const r = this.stmt.snapshot.get();
    if (!r) return null;
    let voters: unknown;
    try {
      voters = JSON.parse(r.voters);
    } catch {
      voters = undefined;
    }
    if (!Array.isArray(voters) || !voters.every((v) => typeof v === 'string')) {
      throw new StorageError(this.file, `the snapshot's voters are not a JSON array of ids: ${r.voters.slice(0, 200)}`);
    }
    return { meta: { index: r.idx, term: r.term, conf: { voters } }, data: r.data };
  }
}

function prepareStatements(db: Database.Database) {
  return {
    hardState: db.prepare<[], HardStateRow>('SELECT term, vote, commit_index FROM hard_state WHERE id = 1'),
    setHardState: db.prepare<[number, string, number]>(
      'UPDATE hard_state SET term = ?, vote = ?, commit_index = ? WHERE id = 1',
    ),
    snapshot: db.prepare<[], SnapshotRow>('SELECT idx, term, voters, data FROM snapshot WHERE id = 1'),
    snapshotIndex: db.prepare<[], number>('SELECT idx FROM snapshot WHERE id = 1').pluck(),
    setSnapshot: db.prepare<[number, number, string, string]>(
      'INSERT OR REPLACE INTO snapshot (id, idx, term, voters, data) VALUES (1, ?, ?, ?, ?)',
    ),
    entriesAfter: db.prepare<[number], EntryRow>(
      'SELECT idx, term, type, data FROM entries WHERE idx > ? ORDER BY idx',
    ),
    termAt: db.prepare<[number], number>('SELECT term FROM entries WHERE idx = ?').pluck(),
    bounds: db.prepare<[], { n: number; lo: number | null; hi: number | null }>(
      'SELECT count(*) AS n, min(idx) AS lo, max(idx) AS hi FROM entries',
    ),
    lastIndex: db.prepare<[], number | null>('SELECT max(idx) FROM entries').pluck(),
    insertEntry: db.prepare<[number, number, string, string]>(
      'INSERT INTO entries (idx, term, type, data) VALUES (?, ?, ?, ?)',
    ),
    deleteFrom: db.prepare<[number]>('DELETE FROM entries WHERE idx >= ?'),
    deleteUpTo: db.prepare<[number]>('DELETE FROM entries WHERE idx <= ?'),
    deleteAll: db.prepare('DELETE FROM entries'),
    getMeta: db.prepare<[string], string>('SELECT value FROM meta WHERE key = ?').pluck(),
    setMeta: db.prepare<[string, string]>('INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)'),
  };
}

// ---------------------------------------------------------------- opening

function openChecked(file: string): Database.Database {
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
      if (version < SCHEMA_VERSION) throw new StorageError(file, `has unknown schema version ${version}`);
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
    return db;
  } catch (err) {
    db.close();
    if (err instanceof StorageError) throw err;
    // SQLITE_CORRUPT, SQLITE_NOTADB, I/O errors... while reading the header or schema.
    throw new StorageError(file, `is unreadable or damaged: ${(err as Error).message}`, { cause: err });
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
  checkText('snapshot data', s.data);
}
