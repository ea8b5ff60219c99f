// What raftlab reads back from its own files, declared once as schemas with the row types
// inferred from them: the SQLite rows (STRICT tables already refuse a value of the wrong SQL
// type; these say what a value must mean: a term is a whole number ≥ 0, a type is normal or
// conf), the snapshot's voters (JSON in a TEXT column), the WAL epoch (a count kept as text) and
// the member marker file. A row that breaks its schema is damage, reported as such
// (raft-storage.ts: StorageDamagedError), before its checksum is even looked at.

import * as v from 'valibot';
import { countSchema, ConfStateSchema, ENTRY_TYPES } from '../../src-shared/raft-types.js';
import { checker, object } from '../../src-shared/schema.js';

const count = (field: string) => countSchema(`${field} is not a whole number ≥ 0`);
const text = (field: string) => v.string(`${field} is not text`);
const crc = v.pipe(v.number('crc is not a number'), v.integer('crc is not a number'));

export const HardStateRowSchema = object(
  { term: count('term'), vote: text('vote'), commit_index: count('commit_index'), crc },
  'is missing',
);
export type HardStateRow = v.InferOutput<typeof HardStateRowSchema>;

export const EntryRowSchema = object(
  {
    idx: count('idx'),
    term: count('term'),
    type: v.picklist(ENTRY_TYPES, 'type is neither normal nor conf'),
    data: text('data'),
    crc,
  },
  'is missing',
);
export type EntryRow = v.InferOutput<typeof EntryRowSchema>;

export const SnapshotRowSchema = object(
  { idx: count('idx'), term: count('term'), voters: text('voters'), data: text('data'), crc },
  'is missing',
);
export type SnapshotRow = v.InferOutput<typeof SnapshotRowSchema>;

/**
 * The snapshot's voters column, once parsed from JSON: the voters of a ConfState (a JSON array,
 * as every file has it), or, when it has learners, the whole ConfState ({"voters","learners"}).
 */
export const VotersSchema = ConfStateSchema.entries.voters;

/** meta wal_epoch: a count, as decimal text. */
export const WalEpochSchema = v.pipe(v.string('not a count'), v.regex(/^(0|[1-9][0-9]{0,14})$/, 'not a count'));

/** The member marker file (member-marker.ts), as parsed from its JSON. */
export const MarkerFileSchema = object(
  {
    raftlabMarker: v.literal(1),
    memberId: v.string(),
    clusterId: v.string(),
    name: v.string(),
    /** The database's wal_epoch must be at least this. */
    epoch: countSchema('epoch'),
    crc: v.number(),
  },
  'not an object',
);
type MarkerFile = v.InferOutput<typeof MarkerFileSchema>;
export type MemberMarker = Omit<MarkerFile, 'raftlabMarker' | 'crc'>;
export type MemberIdentity = Omit<MemberMarker, 'epoch'>;

// The checks, compiled once (every entry of the log is checked on load: schema.ts fastGuard).
export const checkHardStateRow = checker(HardStateRowSchema);
export const checkEntryRow = checker(EntryRowSchema);
export const checkSnapshotRow = checker(SnapshotRowSchema);
export const checkVoters = checker(VotersSchema);
export const checkConfState = checker(ConfStateSchema);
export const checkWalEpoch = checker(WalEpochSchema);
export const checkMarkerFile = checker(MarkerFileSchema);
