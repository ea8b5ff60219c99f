// Opening a file as raftlab storage, before any Raft state is read from it.
//
// Opening never "repairs" anything: a file that is not ours (garbage, another application's
// database, a newer schema, a failed integrity check) throws a StorageError naming the file,
// and nothing is written to it before it has been recognised as ours. Before SQLite even opens
// it, a data dir with a member marker must still have its database, and the SQLite WAL is
// audited (wal-audit.ts) so that committed writes SQLite would silently drop are refused.

import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { APPLICATION_ID, SCHEMA, SCHEMA_VERSION, TABLES, migrateFrom1 } from './sqlite-schema.js';
import { StorageDamagedError, StorageError } from './storage-errors.js';
import type { MemberMarker } from './stored-shapes.js';
import { auditWal } from './wal-audit.js';

const SQLITE_HEADER = Buffer.from('SQLite format 3\0', 'latin1');

/**
 * Before SQLite touches anything: a data dir with a member marker must still have its
 * database, and a WAL must not hold committed writes that SQLite would silently drop.
 */
export function auditBeforeOpen(file: string, marker: MemberMarker | null): void {
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
    if (fs.existsSync(wal))
      throw new StorageDamagedError(
        file,
        `the database is missing, but its WAL ${path.basename(wal)} is still there`,
        marker,
      );
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

/**
 * The file opened with better-sqlite3 in WAL mode, synchronous=FULL: created with the schema if
 * it is new (or empty), migrated if it is schema 1, refused if it is anything else.
 */
export function openChecked(file: string, marker: MemberMarker | null): Database.Database {
  const dir = path.dirname(path.resolve(file));
  if (!fs.existsSync(dir)) throw new StorageError(file, `the directory ${dir} does not exist`);
  let size = -1;
  try {
    const st = fs.statSync(file);
    if (!st.isFile()) throw new StorageError(file, 'exists but is not a regular file');
    size = st.size;
  } catch (err) {
    if (err instanceof StorageError) throw err;
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT')
      throw new StorageError(file, `cannot stat: ${String(err)}`, { cause: err });
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
    const tables = db
      .prepare("SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name")
      .pluck()
      .all() as string[];
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
        throw new StorageError(
          file,
          `has schema version ${version}, newer than this raftlab supports (${SCHEMA_VERSION}); upgrade raftlab`,
        );
      }
      if (version < 1) throw new StorageError(file, `has unknown schema version ${version}`);
      if (tables.join() !== TABLES.join()) {
        throw new StorageError(file, `has unexpected tables (${tables.join(', ')}; expected ${TABLES.join(', ')})`);
      }
      const problems = db.pragma('quick_check') as { quick_check: string }[];
      if (problems.length !== 1 || problems[0]?.quick_check !== 'ok') {
        const shown = problems
          .slice(0, 5)
          .map((p) => p.quick_check)
          .join('; ');
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
