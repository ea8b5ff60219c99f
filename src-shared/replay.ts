// Seeking in a recorded session: what the window showed at any record or moment. Every
// `cluster` event is a full snapshot, so the checkpoint for a point is simply the last snapshot
// at or before it: found by binary search in the list of snapshot positions. Nothing is
// replayed forward, so a seek costs the same anywhere in an hour-long trace. Browser-safe.

import type { ClusterState } from './protocol.js';
import type { TraceRecord } from './trace.js';

export interface ReplayOptions {
  /** Most records in a state's `recent` window (default 200). */
  recentMax?: number;
  /** Oldest a `recent` record may be, ms before the point (default 5000). */
  recentMs?: number;
}

/** Where to look: a record's seq, or a wall-clock time (ms, as records' `at`). */
export type ReplayPoint = { seq: number } | { at: number };

export interface ReplayState {
  /** The last record at or before the point; 0 before the first record. */
  seq: number;
  /** That record's time (the first record's time when seq is 0). */
  at: number;
  /** The cluster as last shown at that point; null before the first snapshot. */
  cluster: ClusterState | null;
  /** The seq of the record that carried `cluster` (0 when null). */
  clusterSeq: number;
  /**
   * What happened just before, oldest first, ending at `seq`: every record but cluster
   * snapshots (raft events, messages, log lines, actions, results, message fates, clients).
   */
  recent: TraceRecord[];
}

export class TraceIndex {
  readonly firstSeq: number;
  readonly lastSeq: number;
  readonly startAt: number;
  readonly endAt: number;
  /** Positions (into records) of the records that carry a cluster snapshot, ascending. */
  private readonly snaps: Int32Array;
  private readonly recentMax: number;
  private readonly recentMs: number;

  /** `records` as read (seq contiguous, `at` never decreasing); kept, not copied. */
  constructor(readonly records: readonly TraceRecord[], options: ReplayOptions = {}) {
    this.recentMax = options.recentMax ?? 200;
    this.recentMs = options.recentMs ?? 5000;
    this.firstSeq = records[0]?.seq ?? 1;
    this.lastSeq = this.firstSeq + records.length - 1;
    this.startAt = records[0]?.at ?? 0;
    this.endAt = records.at(-1)?.at ?? 0;
    let n = 0;
    const snaps = new Int32Array(records.length);
    for (let i = 0; i < records.length; i++) {
      const r = records[i];
      if (r.seq !== this.firstSeq + i) throw new Error(`replay: record ${i} has seq ${r.seq}, expected ${this.firstSeq + i}`);
      if (i > 0 && r.at < records[i - 1].at) throw new Error(`replay: record seq ${r.seq} goes back in time`);
      if (r.kind === 'event' && r.event.type === 'cluster') snaps[n++] = i;
    }
    this.snaps = snaps.slice(0, n);
  }

  /** How many cluster snapshots the trace holds (the checkpoints). */
  get checkpoints(): number {
    return this.snaps.length;
  }

  record(seq: number): TraceRecord | undefined {
    return this.records[seq - this.firstSeq];
  }

  /** The last seq whose record was made at or before `at` (firstSeq - 1 before the first). */
  seqAt(at: number): number {
    // Upper bound: first position whose `at` is later than the time asked.
    let lo = 0;
    let hi = this.records.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.records[mid].at <= at) lo = mid + 1;
      else hi = mid;
    }
    return this.firstSeq + lo - 1;
  }

  /** The view at a point: latest cluster snapshot plus the recent events leading to it. */
  stateAt(point: ReplayPoint): ReplayState {
    const seq = 'seq' in point ? Math.min(Math.max(Math.floor(point.seq), this.firstSeq - 1), this.lastSeq) : this.seqAt(point.at);
    const i = seq - this.firstSeq; // -1 before the first record
    const at = i >= 0 ? this.records[i].at : this.startAt;
    const s = this.lastSnapAtOrBefore(i);
    const snap = s >= 0 ? this.records[s] : undefined;
    return {
      seq: Math.max(seq, 0),
      at,
      cluster: snap && snap.kind === 'event' && snap.event.type === 'cluster' ? snap.event.cluster : null,
      clusterSeq: snap?.seq ?? 0,
      recent: this.recentBefore(i, at),
    };
  }

  /**
   * The records after seq `a` up to and including seq `b`, in order: what to animate when play
   * moves from a to b. Empty when b ≤ a (going back is a seek: stateAt).
   */
  eventsBetween(a: number, b: number): TraceRecord[] {
    const from = Math.max(a + 1, this.firstSeq) - this.firstSeq;
    const to = Math.min(b, this.lastSeq) - this.firstSeq + 1;
    return from < to ? this.records.slice(from, to) : [];
  }

  /** Position of the last snapshot at or before position i, or -1. */
  private lastSnapAtOrBefore(i: number): number {
    let lo = 0;
    let hi = this.snaps.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.snaps[mid] <= i) lo = mid + 1;
      else hi = mid;
    }
    return lo > 0 ? this.snaps[lo - 1] : -1;
  }

  private recentBefore(i: number, at: number): TraceRecord[] {
    const out: TraceRecord[] = [];
    const oldest = at - this.recentMs;
    for (let j = i; j >= 0 && out.length < this.recentMax; j--) {
      const r = this.records[j];
      if (r.at < oldest) break;
      if (r.kind !== 'event' || r.event.type !== 'cluster') out.push(r);
    }
    return out.reverse();
  }
}
