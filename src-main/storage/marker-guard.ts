// What the member marker (member-marker.ts) guards, while the storage is open: the database must
// be the member's the marker names, and at least as new as the WAL epoch it records. SQLite
// checkpoints as usual (every 1000 pages) and then restarts the WAL from its start, with new
// salts in its header: after each fsync'd write the guard reads those 8 bytes, and when they
// changed (a new WAL generation) it raises the epoch, first in the database and then in the
// marker. Its own module because it is the one part of RaftStorage with state of its own (the
// marker, the epoch, the WAL's salts and file descriptor) and none of the Raft rows.

import fs from 'node:fs';
import path from 'node:path';
import { readMeta, writeMeta } from './checked-rows.js';
import { readMarker, writeMarker } from './member-marker.js';
import { META_WAL_EPOCH, type Statements } from './sqlite-schema.js';
import { sound, StorageDamagedError, StorageError } from './storage-errors.js';
import { checkWalEpoch, type MemberIdentity, type MemberMarker } from './stored-shapes.js';

/** The data dir's member marker before the database is opened: null when there is none. */
export function readMarkerBeforeOpen(dbFile: string, markerFile: string): MemberMarker | null {
  let marker;
  try {
    marker = readMarker(markerFile);
  } catch (err) {
    throw new StorageError(dbFile, `cannot read the member marker ${markerFile}: ${(err as Error).message}`, {
      cause: err,
    });
  }
  if (typeof marker === 'string') throw new StorageDamagedError(dbFile, marker);
  return marker;
}

export class MarkerGuard {
  private readonly dbFile: string;
  private readonly markerFile: string;
  private readonly walFile: string;
  private readonly stmt: Statements;
  /** Set once the member has an identity: from then on the marker guards the data dir. */
  private marker: MemberMarker | null;
  /** The database's WAL generation count (meta wal_epoch), as committed. */
  private epoch: number;
  /** Salts of the WAL generation the epoch was last raised in (hex), undefined before the first. */
  private walSalts?: string;
  private walFd?: number;

  /** Reads the committed epoch from the database (its meta wal_epoch). */
  constructor(
    dbFile: string,
    markerFile: string,
    marker: MemberMarker | null,
    stmt: Statements,
    /** Makes the last commit durable (RaftStorage's WAL sync). */
    private readonly syncWal: () => void,
  ) {
    this.dbFile = dbFile;
    this.markerFile = markerFile;
    this.walFile = `${dbFile}-wal`;
    this.stmt = stmt;
    this.marker = marker;
    this.epoch = Number(
      sound(
        checkWalEpoch(readMeta(stmt, META_WAL_EPOCH, this.damaged) ?? '0'),
        `the meta value ${META_WAL_EPOCH}`,
        this.damaged,
      ),
    );
  }

  /** The data dir is damaged: the error, naming the member once it has an identity. */
  readonly damaged = (problem: string): StorageDamagedError =>
    new StorageDamagedError(this.dbFile, problem, this.marker);

  /** The meta row setIdentity commits with the identity, in the same transaction: the epoch raised. */
  raisedEpochRow(): [string, string] {
    return [META_WAL_EPOCH, String(this.epoch + 1)];
  }

  /** After setIdentity's fsync'd transaction (with raisedEpochRow): the marker now guards the data dir. */
  identityCommitted(who: MemberIdentity): void {
    this.epoch++;
    this.walSalts = this.readWalSalts();
    this.marker = { ...who, epoch: this.epoch };
    writeMarker(this.markerFile, this.marker);
  }

  /**
   * Right after open: the database must hold the identity the marker names and at least its
   * WAL epoch. A database with an identity but no marker (schema 1, or a crash between the
   * two writes of setIdentity) gets its marker now.
   */
  checkAgainstMarker(who: MemberIdentity | undefined): void {
    const m = this.marker;
    if (!m) {
      if (who) {
        this.marker = { ...who, epoch: this.epoch };
        writeMarker(this.markerFile, this.marker);
      }
      return;
    }
    const initialised = `the data dir was initialised as member ${m.memberId} (${m.name}) of cluster ${m.clusterId} (${path.basename(this.markerFile)})`;
    if (!who)
      throw this.damaged(`the database holds no member identity, but ${initialised}: its WAL was probably lost`);
    if (who.memberId !== m.memberId || who.clusterId !== m.clusterId) {
      throw this.damaged(
        `the database belongs to member ${who.memberId} of cluster ${who.clusterId}, but ${initialised}: it was replaced`,
      );
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
  afterSyncedWrite(): void {
    if (!this.marker) return;
    const salts = this.readWalSalts();
    if (salts === this.walSalts) return;
    writeMeta(this.stmt, META_WAL_EPOCH, String(this.epoch + 1));
    this.syncWal();
    this.epoch++;
    this.walSalts = salts;
    this.marker = { ...this.marker, epoch: this.epoch };
    writeMarker(this.markerFile, this.marker);
  }

  /** Idempotent. */
  close(): void {
    if (this.walFd !== undefined) fs.closeSync(this.walFd);
    this.walFd = undefined;
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
}
