// Reads SQLite's WAL file the way SQLite's own recovery does, before SQLite opens it, to tell
// a torn tail (what a crash can leave) from damage that would make SQLite silently drop
// committed transactions.
//
// Why SQLite alone loses acknowledged writes here: each WAL frame carries a checksum that
// chains over every earlier frame, and recovery stops at the first frame that fails it,
// keeping only the transactions committed before it. Random bytes in the middle of the WAL
// therefore make every later transaction vanish without an error (measured: 97 of 200 keys
// left). etcd's WAL refuses such a file ("walpb: crc mismatch"); this audit lets raftlab do
// the same.
//
// What a crash can legitimately leave: with synchronous=FULL every commit fsyncs the WAL
// before returning, so at most ONE transaction (the one being written) is not durable.
// After kill -9 its frames are a prefix of what was written, in order; after a power loss
// any of its frames may be missing (zeros, or an older generation's frame) or torn. So after the point where recovery stops, only that
// one transaction may follow: frames of the current WAL generation (same salts) with at most
// one commit frame, which must be the last of them, or zeros. Anything else after the stop
// (a second commit, any frame after the commit, bytes that are neither) is damage.
//
// Not detectable this way: damage inside that last transaction itself (it looks like the
// torn write of a crash, and SQLite drops it as it would after one), and a WAL cut short at
// a frame boundary. The epoch in the member marker (member-marker.ts) catches a WAL lost as
// a whole or cut before the first write of its generation.

import fs from 'node:fs';

const HEADER_BYTES = 32;
const FRAME_HEADER_BYTES = 24;
const MAGIC_LE = 0x377f0682; // checksums over little-endian words
const MAGIC_BE = 0x377f0683; // over big-endian words
const WAL_VERSION = 3007000;

export interface WalAudit {
  /** Whole frames in the file. */
  frames: number;
  /** Frames SQLite's recovery will use (up to the last valid commit frame). */
  usedFrames: number;
  /** Set when the file shows committed transactions that SQLite would drop. */
  damage?: string;
}

/** Audit `walFile` if it exists; undefined when there is no WAL (or nothing in it). */
export function auditWal(walFile: string): WalAudit | undefined {
  let buf: Buffer;
  try {
    buf = fs.readFileSync(walFile);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  return auditWalBytes(buf);
}

export function auditWalBytes(buf: Buffer): WalAudit | undefined {
  if (buf.length < HEADER_BYTES) return undefined; // SQLite treats it as empty, and so it is
  const magic = buf.readUInt32BE(0);
  const pageSize = buf.readUInt32BE(8);
  const headerOk =
    (magic === MAGIC_LE || magic === MAGIC_BE) &&
    buf.readUInt32BE(4) === WAL_VERSION &&
    pageSize >= 512 &&
    pageSize <= 65536 &&
    (pageSize & (pageSize - 1)) === 0;
  const bigEndian = magic === MAGIC_BE;
  let sum: [number, number] = [0, 0];
  if (headerOk) sum = checksum(buf, 0, 24, sum, bigEndian);
  if (!headerOk || sum[0] !== buf.readUInt32BE(24) || sum[1] !== buf.readUInt32BE(28)) {
    // SQLite ignores the whole file then. The header is written and synced before any frame
    // of its generation, so frames behind a bad header were committed: damage. Only a file
    // too short to hold a frame (or all zeros) can be the remains of an interrupted start.
    if (buf.length < HEADER_BYTES + FRAME_HEADER_BYTES + 512 || isZero(buf, 0, buf.length))
      return { frames: 0, usedFrames: 0 };
    return {
      frames: 0,
      usedFrames: 0,
      damage: `its WAL header is damaged, so SQLite would ignore all ${buf.length} bytes of committed writes in it`,
    };
  }
  const frameBytes = FRAME_HEADER_BYTES + pageSize;
  const frames = Math.floor((buf.length - HEADER_BYTES) / frameBytes);
  const salt1 = buf.readUInt32BE(16);
  const salt2 = buf.readUInt32BE(20);
  const ours = (at: number) => buf.readUInt32BE(at + 8) === salt1 && buf.readUInt32BE(at + 12) === salt2;
  // SQLite adds 1 to salt-1 each time it restarts the WAL from its start (walRestartHdr), so
  // a frame left from an earlier generation (a WAL not truncated by its last checkpoint, e.g.
  // by raftlab before schema 2) has a slightly smaller salt-1; random bytes almost never do.
  const stale = (at: number) => {
    const age = (salt1 - buf.readUInt32BE(at + 8)) >>> 0;
    return age > 0 && age < 1 << 20;
  };

  // Recovery, as SQLite's walIndexRecover: frames are valid while their salts match and the
  // running checksum does; the WAL ends at the last valid commit frame.
  let used = 0;
  let stop = frames;
  for (let i = 0; i < frames; i++) {
    const at = HEADER_BYTES + i * frameBytes;
    if (!ours(at) || buf.readUInt32BE(at) === 0) {
      stop = i;
      break;
    }
    const next = checksum(buf, at + FRAME_HEADER_BYTES, pageSize, checksum(buf, at, 8, sum, bigEndian), bigEndian);
    if (next[0] !== buf.readUInt32BE(at + 16) || next[1] !== buf.readUInt32BE(at + 20)) {
      stop = i;
      break;
    }
    sum = next;
    if (buf.readUInt32BE(at + 4) !== 0) used = i + 1;
  }
  if (stop === frames) return { frames, usedFrames: used };

  // After the stop: only the one transaction that was being written may follow.
  let commitAt = -1;
  for (let i = used; i < frames; i++) {
    const at = HEADER_BYTES + i * frameBytes;
    if (isZero(buf, at, FRAME_HEADER_BYTES) || stale(at)) continue; // never written in this generation
    const lost = `SQLite would stop reading it at frame ${stop + 1} of ${frames} and drop the committed writes after it`;
    if (!ours(at)) {
      return {
        frames,
        usedFrames: used,
        damage: `its WAL has foreign bytes at frame ${i + 1} of ${frames} (offset ${at}): ${lost}`,
      };
    }
    if (commitAt >= 0) {
      return {
        frames,
        usedFrames: used,
        damage: `its WAL fails its checksum at frame ${stop + 1} of ${frames}, followed by a later transaction: ${lost}`,
      };
    }
    if (buf.readUInt32BE(at + 4) !== 0) commitAt = i;
  }
  return { frames, usedFrames: used };
}

/** SQLite's walChecksumBytes: two running 32-bit sums over pairs of words. */
function checksum(
  buf: Buffer,
  start: number,
  len: number,
  seed: [number, number],
  bigEndian: boolean,
): [number, number] {
  let s1 = seed[0];
  let s2 = seed[1];
  const end = start + len;
  if (bigEndian) {
    for (let i = start; i < end; i += 8) {
      s1 = (s1 + buf.readUInt32BE(i) + s2) >>> 0;
      s2 = (s2 + buf.readUInt32BE(i + 4) + s1) >>> 0;
    }
  } else {
    for (let i = start; i < end; i += 8) {
      s1 = (s1 + buf.readUInt32LE(i) + s2) >>> 0;
      s2 = (s2 + buf.readUInt32LE(i + 4) + s1) >>> 0;
    }
  }
  return [s1, s2];
}

function isZero(buf: Buffer, start: number, len: number): boolean {
  for (let i = start; i < start + len; i++) if (buf[i] !== 0) return false;
  return true;
}
