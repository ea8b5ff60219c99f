// The member marker: a small file next to the database (<data-dir>/member/raftlab.marker)
// that says "this data dir was initialised as member X of cluster Y", with a CRC. It plays the
// part of etcd's member/wal directory, whose mere existence makes etcd restart the member
// from it instead of bootstrapping: a database that was emptied, truncated, deleted or
// replaced while the marker remains is refused, never taken for a fresh start.
//
// It also holds the WAL epoch, raftlab's answer to "the SQLite WAL was lost": the database
// counts WAL generations in its meta table (wal_epoch); the first fsync'd write of each
// generation raises the count, and once that write is durable the marker records it. A WAL
// that is deleted (or loses its first frames) takes that raise with it, so the database then
// shows an epoch below the marker's: refused. The marker is rewritten once per WAL
// generation (each checkpoint, each start), not per write, so a write still costs one fsync.
//
// The trade-off. A side file holding the hard state and last index, fsync'd with every persist,
// would catch every lost or cut WAL, but at two fsyncs per write (issue 13 wants one). Running
// the checkpoints ourselves (wal_autocheckpoint=0, TRUNCATE) made the raise easy to place but
// made every write extend the WAL file, a costlier fsync. So SQLite keeps checkpointing and
// reusing its WAL, and raftlab notices each restart by the salts in the WAL header (8 bytes
// read per write); measured with strace, 3,000 single-entry persists: 3,030 fsyncs before,
// 3,051 after. What it cannot see: a WAL cut short after the first write of its generation
// (it looks like the torn tail of a crash; wal-audit.ts catches damage in its middle).

import fs from 'node:fs';
import path from 'node:path';
import { textCrc } from './checksum.js';
import { checkMarkerFile, type MemberMarker } from './stored-shapes.js';

export type { MemberIdentity, MemberMarker } from './stored-shapes.js';

/** raftlabMarker: the format (MarkerFileSchema accepts this one only). */
const FORMAT = 1;

/** `<dir>/raftlab.db` → `<dir>/raftlab.marker`. */
export function markerFileFor(dbFile: string): string {
  const { dir, name } = path.parse(dbFile);
  return path.join(dir, `${name}.marker`);
}

function body(m: MemberMarker): string {
  return JSON.stringify({
    raftlabMarker: FORMAT,
    memberId: m.memberId,
    clusterId: m.clusterId,
    name: m.name,
    epoch: m.epoch,
  });
}

/**
 * The marker, null when there is none; a string saying what is wrong when it is damaged.
 * Throws the I/O error when it cannot be read (permissions...): that is not damage.
 */
export function readMarker(file: string): MemberMarker | null | string {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    parsed = undefined;
  }
  const o = checkMarkerFile(parsed);
  if (!o.ok) return `the member marker ${file} is damaged (it fails its checksum)`;
  const m: MemberMarker = {
    memberId: o.value.memberId,
    clusterId: o.value.clusterId,
    name: o.value.name,
    epoch: o.value.epoch,
  };
  if (o.value.crc !== textCrc(body(m))) return `the member marker ${file} is damaged (it fails its checksum)`;
  return m;
}

/** Atomically: a temp file, fsync, rename, fsync of the directory. */
export function writeMarker(file: string, m: MemberMarker): void {
  const text = `${JSON.stringify({ ...JSON.parse(body(m)), crc: textCrc(body(m)) })}\n`;
  const tmp = `${file}.tmp`;
  const fd = fs.openSync(tmp, 'w');
  try {
    fs.writeSync(fd, text);
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  fs.renameSync(tmp, file);
  const dirFd = fs.openSync(path.dirname(file), 'r');
  try {
    fs.fsyncSync(dirFd);
  } finally {
    fs.closeSync(dirFd);
  }
}
