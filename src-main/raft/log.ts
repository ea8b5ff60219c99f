// The in-memory Raft log of one node: entries after a compaction point, the latest snapshot,
// what is committed, applied and durable. Pure bookkeeping; persistence happens outside,
// driven by Ready (see raft.ts).

import type { Entry, Snapshot } from '../../src-shared/raft-types.js';

export class RaftLog {
  /** Index and term of the entry just before entries[0] (the compaction point). */
  private offset: number;
  private offsetTerm: number;
  private entries: Entry[] = [];
  committed: number;
  applied: number;
  /** Highest index known durable (persisted by the node). */
  stable: number;
  /** Latest snapshot, sent to followers that are too far behind. */
  snapshot: Snapshot | null;
  /** A snapshot received from the leader that the node has yet to persist and apply. */
  pendingSnapshot: Snapshot | null = null;

  constructor(snapshot: Snapshot | null, entries: Entry[], committed: number) {
    this.snapshot = snapshot;
    this.offset = snapshot?.meta.index ?? 0;
    this.offsetTerm = snapshot?.meta.term ?? 0;
    // Entries at or below the snapshot are covered by it; the log restarts after it.
    this.entries = entries.filter((e) => e.index > this.offset);
    for (const [i, e] of this.entries.entries()) {
      if (e.index !== this.offset + 1 + i) {
        throw new Error(`log is not contiguous after index ${this.offset}: found ${e.index}`);
      }
    }
    this.stable = this.lastIndex();
    this.committed = Math.min(Math.max(committed, this.offset), this.lastIndex());
    this.applied = this.offset;
  }

  firstIndex(): number {
    return this.offset + 1;
  }

  lastIndex(): number {
    return this.offset + this.entries.length;
  }

  lastTerm(): number {
    return this.term(this.lastIndex())!;
  }

  /** The term of entry `i`, or undefined if it is compacted away or beyond the end. */
  term(i: number): number | undefined {
    if (i === this.offset) return this.offsetTerm;
    if (i < this.offset || i > this.lastIndex()) return undefined;
    return this.entries[i - this.offset - 1]?.term;
  }

  entry(i: number): Entry | undefined {
    if (i <= this.offset || i > this.lastIndex()) return undefined;
    return this.entries[i - this.offset - 1];
  }

  matchTerm(i: number, term: number): boolean {
    return this.term(i) === term;
  }

  /** Raft §5.4.1: is a candidate's log (lastIndex, lastTerm) at least as up-to-date as ours? */
  isUpToDate(lastIndex: number, lastTerm: number): boolean {
    return lastTerm > this.lastTerm() || (lastTerm === this.lastTerm() && lastIndex >= this.lastIndex());
  }

  /** Entries in [lo, hi), or undefined if any of them is compacted away. */
  slice(lo: number, hi: number): Entry[] | undefined {
    if (lo <= this.offset) return undefined;
    hi = Math.min(hi, this.lastIndex() + 1);
    if (lo >= hi) return [];
    return this.entries.slice(lo - this.offset - 1, hi - this.offset - 1);
  }

  /** Index of the first entry in `ents` whose term differs from ours (or that we lack), or 0. */
  findConflict(ents: Entry[]): number {
    for (const e of ents) {
      if (!this.matchTerm(e.index, e.term)) return e.index;
    }
    return 0;
  }

  /**
   * The largest index ≤ `index` whose term is ≤ `term` (the fast back-off of a rejected
   * append: every entry above it is known to conflict with a log whose entry at `index`
   * has `term`). Stops at the compaction point.
   */
  findConflictByTerm(index: number, term: number): number {
    index = Math.min(index, this.lastIndex());
    for (; index > this.offset; index--) {
      if (this.term(index)! <= term) return index;
    }
    return index;
  }

  /**
   * Appends `ents`, truncating any conflicting suffix first. Returns the index truncated
   * from, or 0 if nothing was truncated. Committed entries never conflict.
   */
  append(ents: Entry[]): number {
    const [head] = ents;
    if (!head) return 0;
    const first = head.index;
    if (first <= this.committed) {
      throw new Error(`refusing to overwrite committed entry ${first} (committed ${this.committed})`);
    }
    if (first > this.lastIndex() + 1) {
      throw new Error(`append would leave a gap: last ${this.lastIndex()}, first new ${first}`);
    }
    let truncated = 0;
    if (first <= this.lastIndex()) {
      truncated = first;
      this.entries.length = first - this.offset - 1;
      this.stable = Math.min(this.stable, first - 1);
    }
    for (const e of ents) this.entries.push(e);
    return truncated;
  }

  /**
   * A follower's side of MsgApp: if our log matches (prevIndex, prevTerm), append the new
   * entries (skipping ones we already have). Returns undefined on a mismatch, otherwise the
   * last index the leader sent, the entries actually written, and where a conflicting
   * suffix was truncated from (0 if none).
   */
  maybeAppend(
    prevIndex: number,
    prevTerm: number,
    ents: Entry[],
  ): { lastNew: number; appended: Entry[]; truncatedFrom: number } | undefined {
    if (!this.matchTerm(prevIndex, prevTerm)) return undefined;
    const lastNew = prevIndex + ents.length;
    const conflict = this.findConflict(ents);
    if (conflict === 0) return { lastNew, appended: [], truncatedFrom: 0 };
    if (conflict <= this.committed) {
      throw new Error(`entry ${conflict} conflicts with a committed entry (committed ${this.committed})`);
    }
    // A conflict (≠ 0) is the index of one of `ents`: there is a first entry.
    const appended = ents.slice(conflict - ents[0]!.index);
    const truncatedFrom = this.append(appended);
    return { lastNew, appended, truncatedFrom };
  }

  commitTo(i: number): boolean {
    if (i <= this.committed) return false;
    if (i > this.lastIndex()) throw new Error(`commit ${i} is beyond the last index ${this.lastIndex()}`);
    this.committed = i;
    return true;
  }

  /** Committed entries the application has yet to apply. */
  unapplied(): Entry[] {
    return this.slice(this.applied + 1, this.committed + 1) ?? [];
  }

  /** Entries the node has yet to make durable. */
  unstable(): Entry[] {
    return this.slice(this.stable + 1, this.lastIndex() + 1) ?? [];
  }

  /** Replace the whole log with a snapshot from the leader. */
  restore(snap: Snapshot): void {
    this.entries = [];
    this.offset = snap.meta.index;
    this.offsetTerm = snap.meta.term;
    this.committed = snap.meta.index;
    this.stable = snap.meta.index;
    this.snapshot = snap;
    this.pendingSnapshot = snap;
  }

  /** Record a snapshot the application made at `snap.meta.index` and drop entries ≤ compactTo. */
  compact(snap: Snapshot, compactTo: number): void {
    if (snap.meta.index > this.applied)
      throw new Error(`snapshot ${snap.meta.index} is beyond applied ${this.applied}`);
    this.snapshot = snap;
    if (compactTo <= this.offset) return;
    if (compactTo > snap.meta.index)
      throw new Error(`cannot compact past the snapshot (${compactTo} > ${snap.meta.index})`);
    const term = this.term(compactTo)!;
    this.entries = this.entries.slice(compactTo - this.offset);
    this.offset = compactTo;
    this.offsetTerm = term;
  }

  /** Debug/test helper: every entry held in memory. */
  all(): readonly Entry[] {
    return this.entries;
  }
}
