// Every row of the storage file in and out, each table in one place: a row is written with its
// CRC32 (checksum.ts), and read back only after its schema (stored-shapes.ts) and its CRC have
// been checked; the log must also be contiguous. What fails is damage (StorageDamagedError via
// `damaged`). The write functions run inside RaftStorage's transactions and refuse an order of
// writes Raft never makes (a gap, a decreasing term, an older snapshot) with a plain Error, so
// the transaction rolls back and nothing is half-written.

import type { ConfState, Entry, HardState, Snapshot } from '../../src-shared/raft-types.js';
import type { Checked } from '../../src-shared/schema.js';
import { entryCrc, hardStateCrc, metaCrc, snapshotCrc } from './checksum.js';
import type { Statements } from './sqlite-schema.js';
import { sound, type Damaged } from './storage-errors.js';
import { checkConfState, checkEntryRow, checkHardStateRow, checkSnapshotRow, checkVoters } from './stored-shapes.js';

// ---------------------------------------------------------------- hard state

export function readHardState(stmt: Statements, damaged: Damaged): HardState {
  const row = stmt.hardState.get();
  if (!row) throw damaged('the hard_state row is missing');
  const hs = sound(checkHardStateRow(row), 'the hard_state row', damaged);
  if (hs.crc !== hardStateCrc(hs.term, hs.vote, hs.commit_index)) {
    throw damaged(
      `the hard state (term ${hs.term}, vote ${hs.vote || 'none'}, commit ${hs.commit_index}) fails its checksum`,
    );
  }
  return { term: hs.term, vote: hs.vote, commit: hs.commit_index };
}

export function writeHardState(stmt: Statements, hs: HardState): void {
  stmt.setHardState.run(hs.term, hs.vote, hs.commit, hardStateCrc(hs.term, hs.vote, hs.commit));
}

// ---------------------------------------------------------------- the log

/** Every stored entry after `after` (the snapshot index), checked: ascending, contiguous, each with its CRC. */
export function readEntriesAfter(stmt: Statements, after: number, damaged: Damaged): Entry[] {
  const entries: Entry[] = [];
  for (const row of stmt.entriesAfter.all(after)) {
    const r = sound(checkEntryRow(row), `the log entry row after index ${after + entries.length}`, damaged);
    if (r.idx !== after + 1 + entries.length) {
      throw damaged(
        `the stored log is not contiguous after index ${after}: expected ${after + 1 + entries.length}, found ${r.idx}`,
      );
    }
    if (r.crc !== entryCrc(r.idx, r.term, r.type, r.data))
      throw damaged(`log entry ${r.idx} (term ${r.term}) fails its checksum`);
    entries.push({ index: r.idx, term: r.term, type: r.type, data: r.data });
  }
  return entries;
}

/** Appends `entries` (contiguous, checked by the caller; none: nothing), first deleting every stored entry from entries[0].index on. */
export function appendEntries(stmt: Statements, entries: Entry[]): void {
  const first = entries[0];
  if (!first) return;
  const prev = first.index - 1;
  const at = stmt.appendPosition.get(prev);
  if (!at) throw new Error('the append position query returned no row');
  const snapIndex = at.snapIdx ?? 0;
  const last = Math.max(at.lastIdx ?? 0, snapIndex);
  // Entries at or below the snapshot are committed and covered by it; load() would hide a
  // rewritten one, so refuse rather than lose it silently on the next restart.
  if (first.index <= snapIndex) {
    throw new Error(`cannot append at ${first.index}: at or below the snapshot index ${snapIndex}`);
  }
  if (first.index > last + 1) {
    throw new Error(`cannot append at ${first.index}: the log ends at ${last}, that would leave a gap`);
  }
  // Raft log terms never decrease; a lower term than the preceding entry means a caller bug.
  const prevTerm = at.prevTerm ?? (prev === snapIndex ? (at.snapTerm ?? 0) : 0);
  if (first.term < prevTerm) {
    throw new Error(
      `cannot append entry ${first.index} with term ${first.term} after entry ${prev} with term ${prevTerm}`,
    );
  }
  // Only a conflicting tail is overwritten; appending after the last entry has nothing to delete.
  if (at.lastIdx !== null && first.index <= at.lastIdx) stmt.deleteFrom.run(first.index);
  for (const e of entries)
    stmt.insertEntry.run(e.index, e.term, e.type, e.data, entryCrc(e.index, e.term, e.type, e.data));
}

// ---------------------------------------------------------------- the snapshot

export function readSnapshot(stmt: Statements, damaged: Damaged): Snapshot | null {
  const row = stmt.snapshot.get();
  if (!row) return null;
  const r = sound(checkSnapshotRow(row), 'the snapshot row', damaged);
  if (r.crc !== snapshotCrc(r.idx, r.term, r.voters, r.data))
    throw damaged(`the snapshot at index ${r.idx} fails its checksum`);
  let voters: Checked<string[] | ConfState>;
  try {
    const parsed: unknown = JSON.parse(r.voters);
    voters = Array.isArray(parsed) ? checkVoters(parsed) : checkConfState(parsed);
  } catch {
    voters = { ok: false, problem: 'not JSON' };
  }
  if (!voters.ok) throw damaged(`the snapshot's voters are not a JSON array of ids: ${r.voters.slice(0, 200)}`);
  const conf = Array.isArray(voters.value) ? { voters: voters.value } : voters.value;
  return { meta: { index: r.idx, term: r.term, conf }, data: r.data };
}

function writeSnapshot(stmt: Statements, snap: Snapshot): void {
  // The voters alone (as always), or, with learners, the whole configuration (see VotersSchema).
  const { voters: ids, learners } = snap.meta.conf;
  const voters = JSON.stringify(learners?.length ? { voters: ids, learners } : ids);
  stmt.setSnapshot.run(
    snap.meta.index,
    snap.meta.term,
    voters,
    snap.data,
    snapshotCrc(snap.meta.index, snap.meta.term, voters, snap.data),
  );
}

/** A snapshot installed from the leader: replaces the stored snapshot and drops the whole log. */
export function installSnapshot(stmt: Statements, snap: Snapshot): void {
  const current = stmt.snapshotIndex.get() ?? 0;
  if (snap.meta.index < current) {
    throw new Error(`cannot install snapshot at ${snap.meta.index}: older than the stored snapshot at ${current}`);
  }
  writeSnapshot(stmt, snap);
  stmt.deleteAll.run();
}

/**
 * A snapshot this node made: stored, and the first `chunk` entries up to `compactTo` dropped;
 * true when none is left up to it (the rest go with later writes: compactSome).
 */
export function saveSnapshotAndCompact(stmt: Statements, snap: Snapshot, compactTo: number, chunk: number): boolean {
  const current = stmt.snapshotIndex.get() ?? 0;
  if (snap.meta.index < current) {
    throw new Error(`cannot save snapshot at ${snap.meta.index}: older than the stored snapshot at ${current}`);
  }
  const last = Math.max(stmt.lastIndex.get() ?? 0, current);
  if (snap.meta.index > last) {
    throw new Error(`cannot save snapshot at ${snap.meta.index}: the log ends at ${last}`);
  }
  writeSnapshot(stmt, snap);
  return compactSome(stmt, compactTo, chunk);
}

/**
 * Drops the oldest entries, at most `chunk` of them, none past `compactTo`; true when none is
 * left up to it. SQLite deletes row by row (~1.5 µs each here): 95,000 entries at once would
 * stop the node for ~100 ms on top of its snapshot.
 */
export function compactSome(stmt: Statements, compactTo: number, chunk: number): boolean {
  const first = stmt.firstIndex.get();
  if (first === null || first === undefined || first > compactTo) return true;
  const upTo = Math.min(compactTo, first + chunk - 1);
  stmt.deleteUpTo.run(upTo);
  return upTo === compactTo;
}

// ---------------------------------------------------------------- meta

export function readMeta(stmt: Statements, key: string, damaged: Damaged): string | undefined {
  const r = stmt.getMeta.get(key);
  if (r && r.crc !== metaCrc(key, r.value)) throw damaged(`the meta value ${key} fails its checksum`);
  return r?.value;
}

export function writeMeta(stmt: Statements, key: string, value: string): void {
  stmt.setMeta.run(key, value, metaCrc(key, value));
}
