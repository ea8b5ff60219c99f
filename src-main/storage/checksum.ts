// CRC32 of every stored record, as etcd's WAL records carry one: a row changed behind
// raftlab's back (a flipped bit, a hand edit, a page from another file) fails its check on
// load instead of being served. zlib.crc32 (Node >= 20.15, and Electron's Node) is native.

import zlib from 'node:zlib';
import type { EntryType } from '../../src-shared/raft-types.js';

// Fields are joined with NUL, which none of the numeric or enum fields can contain; the last
// field (free text) goes last, so no two different records share an encoding.
function crc(prefix: string, text: string): number {
  return zlib.crc32(text, zlib.crc32(prefix));
}

export function entryCrc(index: number, term: number, type: EntryType, data: string): number {
  return crc(`e\0${index}\0${term}\0${type}\0`, data);
}

export function hardStateCrc(term: number, vote: string, commit: number): number {
  return crc(`h\0${term}\0${commit}\0`, vote);
}

/** `voters` as stored: the JSON array text. */
export function snapshotCrc(index: number, term: number, voters: string, data: string): number {
  return crc(`s\0${index}\0${term}\0${voters}\0`, data);
}

export function metaCrc(key: string, value: string): number {
  return crc(`m\0${key}\0`, value);
}

/** For files outside SQLite (the member marker). */
export function textCrc(text: string): number {
  return zlib.crc32(text);
}
