// The SQL of raftlab's storage file, all in one place: the tables (schema 2), the migration from
// schema 1, the meta keys raftlab itself uses, and every statement RaftStorage runs. Kept apart
// from the code that decides what to write, so a schema change is made (and reviewed) here.
//
// Schema 1 files (no CRCs) are migrated in place on open, after SQLite's quick_check: their
// rows get the CRC of what they hold now. Refusing them would strand every existing data dir
// and saved session for no gain, since nothing older can be checked anyway.

import type Database from 'better-sqlite3';
import type { EntryType } from '../../src-shared/raft-types.js';
import { entryCrc, hardStateCrc, metaCrc, snapshotCrc } from './checksum.js';
import type { EntryRow, HardStateRow, SnapshotRow } from './stored-shapes.js';

/** PRAGMA application_id of raftlab storage files: 'rLab'. */
export const APPLICATION_ID = 0x724c6162;
/** PRAGMA user_version: bump (and migrate) when the schema changes. */
export const SCHEMA_VERSION = 2;

/** The tables of a raftlab file, by name (as sqlite_schema lists them, ORDER BY name). */
export const TABLES = ['entries', 'hard_state', 'meta', 'snapshot'];

// STRICT tables make SQLite itself refuse a value of the wrong type. `crc`: checksum.ts.
export const SCHEMA = `
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

export function migrateFrom1(db: Database.Database): void {
  db.function('raftlab_meta_crc', { deterministic: true }, (k, v) => metaCrc(String(k), String(v)));
  db.function('raftlab_hard_state_crc', { deterministic: true }, (t, v, c) =>
    hardStateCrc(Number(t), String(v), Number(c)),
  );
  db.function('raftlab_entry_crc', { deterministic: true }, (i, t, ty, d) =>
    entryCrc(Number(i), Number(t), ty as EntryType, String(d)),
  );
  db.function('raftlab_snapshot_crc', { deterministic: true }, (i, t, vs, d) =>
    snapshotCrc(Number(i), Number(t), String(vs), String(d)),
  );
  db.exec('BEGIN');
  try {
    db.exec(MIGRATE_1_TO_2);
    db.exec('COMMIT');
  } catch (err) {
    db.exec('ROLLBACK');
    throw err;
  }
}

/** Meta keys of the member identity (written by setIdentity) and of the WAL epoch. */
export const META_MEMBER_ID = 'member_id';
export const META_CLUSTER_ID = 'cluster_id';
export const META_NAME = 'name';
export const META_WAL_EPOCH = 'wal_epoch';

export type Statements = ReturnType<typeof prepareStatements>;

export function prepareStatements(db: Database.Database) {
  return {
    hardState: db.prepare<[], HardStateRow>('SELECT term, vote, commit_index, crc FROM hard_state WHERE id = 1'),
    setHardState: db.prepare<[number, string, number, number]>(
      'UPDATE hard_state SET term = ?, vote = ?, commit_index = ?, crc = ? WHERE id = 1',
    ),
    snapshot: db.prepare<[], SnapshotRow>('SELECT idx, term, voters, data, crc FROM snapshot WHERE id = 1'),
    snapshotIndex: db.prepare<[], number>('SELECT idx FROM snapshot WHERE id = 1').pluck(),
    /**
     * What an append checks, in one statement (it runs on every write): where the snapshot ends
     * (not its data, the whole v2 store), the last stored index, and the term of entry `?`.
     */
    appendPosition: db.prepare<
      [number],
      { snapIdx: number | null; snapTerm: number | null; lastIdx: number | null; prevTerm: number | null }
    >(
      `SELECT (SELECT idx FROM snapshot WHERE id = 1) AS snapIdx, (SELECT term FROM snapshot WHERE id = 1) AS snapTerm,
        (SELECT max(idx) FROM entries) AS lastIdx, (SELECT term FROM entries WHERE idx = ?) AS prevTerm`,
    ),
    setSnapshot: db.prepare<[number, number, string, string, number]>(
      'INSERT OR REPLACE INTO snapshot (id, idx, term, voters, data, crc) VALUES (1, ?, ?, ?, ?, ?)',
    ),
    entriesAfter: db.prepare<[number], EntryRow>(
      'SELECT idx, term, type, data, crc FROM entries WHERE idx > ? ORDER BY idx',
    ),
    bounds: db.prepare<[], { n: number; lo: number | null; hi: number | null }>(
      'SELECT count(*) AS n, min(idx) AS lo, max(idx) AS hi FROM entries',
    ),
    firstIndex: db.prepare<[], number | null>('SELECT min(idx) FROM entries').pluck(),
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
