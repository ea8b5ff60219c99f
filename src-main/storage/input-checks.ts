// What RaftStorage refuses from its caller before opening a transaction: malformed entries, hard
// states and snapshots, and text SQLite could not give back unchanged. A refusal here is a bug in
// the caller (a plain Error), never damage: nothing has been written yet.

import type { Entry, HardState, Snapshot } from '../../src-shared/raft-types.js';

// SQLite stores UTF-8, so a lone UTF-16 surrogate would come back as U+FFFD: the stored log
// would silently differ from the one in memory. (JSON.stringify never produces one.)
const LONE_SURROGATE = /\p{Cs}/u;

export function checkText(what: string, s: unknown): void {
  if (typeof s !== 'string') throw new Error(`${what} must be a string`);
  if (LONE_SURROGATE.test(s))
    throw new Error(`${what} contains a lone UTF-16 surrogate, which cannot be stored as UTF-8`);
}

function isIndex(n: unknown): n is number {
  return Number.isSafeInteger(n) && (n as number) >= 0;
}

export function checkEntries(entries: Entry[]): void {
  let p: Entry | undefined; // the entry before e
  for (const [i, e] of entries.entries()) {
    if (
      !isIndex(e.index) ||
      e.index < 1 ||
      !isIndex(e.term) ||
      (e.type !== 'normal' && e.type !== 'conf') ||
      typeof e.data !== 'string'
    ) {
      throw new Error(`malformed entry at position ${i}: ${JSON.stringify(e).slice(0, 200)}`);
    }
    if (p) {
      if (e.index !== p.index + 1) throw new Error(`entries are not contiguous: ${e.index} follows ${p.index}`);
      if (e.term < p.term) throw new Error(`entry terms decrease: entry ${e.index} has term ${e.term} after ${p.term}`);
    }
    checkText(`entry ${e.index} data`, e.data);
    p = e;
  }
}

export function checkHardState(hs: HardState): void {
  if (!isIndex(hs.term) || !isIndex(hs.commit) || typeof hs.vote !== 'string') {
    throw new Error(`malformed hard state: ${JSON.stringify(hs)}`);
  }
  checkText('hard state vote', hs.vote);
}

export function checkSnapshot(s: Snapshot): void {
  const m = s.meta;
  if (!isIndex(m?.index) || !isIndex(m.term) || !Array.isArray(m.conf?.voters) || typeof s.data !== 'string') {
    throw new Error(`malformed snapshot: ${JSON.stringify(m)}`);
  }
  for (const v of m.conf.voters) checkText('snapshot voter id', v);
  for (const v of m.conf.learners ?? []) checkText('snapshot learner id', v);
  checkText('snapshot data', s.data);
}

/** saveSnapshot's compactTo: an index no higher than the snapshot's. */
export function checkCompactTo(compactTo: number, snapshot: Snapshot): void {
  if (!Number.isSafeInteger(compactTo) || compactTo < 0 || compactTo > snapshot.meta.index) {
    throw new Error(
      `cannot compact to ${compactTo}: must be an integer in [0, ${snapshot.meta.index}] (the snapshot index)`,
    );
  }
}
