// Seeking in a recorded session: what the window showed at any record or moment. A trace
// keeps a full `cluster` snapshot now and then (a keyframe) and `cluster-delta`s in between
// (src-shared/trace-delta.ts), so the cluster at a point is the last keyframe at or before it
// with the deltas after it applied, up to the point: found by binary search, then at most a
// keyframe interval of small patches (the writer's policy: 100 at most). Traces with longer
// runs of deltas get a checkpoint kept every CHECKPOINT_EVERY deltas, made the first time a
// seek passes it, so no seek applies more than that many. Browser-safe.

import type { ClusterState } from './cluster-state.js';
import type { BranchInfo, ForkInfo } from './command-results.js';
import { applyClusterDelta, type ClusterDeltaEvent } from './trace-delta.js';
import type { EventRecord, ForkRecord, TraceRecord } from './trace.js';

/** Deltas between two lazily kept checkpoints, for traces whose keyframes are further apart. */
const CHECKPOINT_EVERY = 128;

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
  /** The seq of the record that carried `cluster`, a snapshot or a delta (0 when null). */
  clusterSeq: number;
  /**
   * What happened just before, oldest first, ending at `seq`: every record but cluster
   * snapshots and deltas (raft events, messages, log lines, actions, results, message fates, clients).
   */
  recent: TraceRecord[];
}

const isClusterState = (r: TraceRecord): boolean =>
  r.kind === 'event' && (r.event.type === 'cluster' || r.event.type === 'cluster-delta');

export class TraceIndex {
  readonly firstSeq: number;
  readonly lastSeq: number;
  readonly startAt: number;
  readonly endAt: number;
  /** How many of the cluster states are keyframes (full snapshots). */
  readonly keyframes: number;
  /** Positions (into records) of the records that carry a cluster state (snapshot or delta), ascending. */
  private readonly snaps: Int32Array;
  /** For each of those (by ordinal into snaps), the ordinal of the keyframe its state is built from. */
  private readonly base: Int32Array;
  /** States rebuilt from deltas and kept: every CHECKPOINT_EVERY-th delta after a keyframe. */
  private readonly built = new Map<number, ClusterState>();
  /** The last state rebuilt (play asks for the next one, seeks often near it). */
  private lastOrd = -1;
  private lastState: ClusterState | null = null;
  private readonly recentMax: number;
  private readonly recentMs: number;
  /** The fork records, in order: where the session went on from an earlier moment. */
  readonly forks: readonly ForkRecord[];

  /** `records` as read (seq contiguous, `at` never decreasing); kept, not copied. */
  constructor(
    readonly records: readonly TraceRecord[],
    options: ReplayOptions = {},
  ) {
    this.recentMax = options.recentMax ?? 200;
    this.recentMs = options.recentMs ?? 5000;
    this.firstSeq = records[0]?.seq ?? 1;
    this.lastSeq = this.firstSeq + records.length - 1;
    this.startAt = records[0]?.at ?? 0;
    this.endAt = records.at(-1)?.at ?? 0;
    let n = 0;
    let keyframes = 0;
    let key = -1;
    const snaps = new Int32Array(records.length);
    const base = new Int32Array(records.length);
    const forks: ForkRecord[] = [];
    for (let i = 0; i < records.length; i++) {
      const r = records[i]!;
      if (r.seq !== this.firstSeq + i)
        throw new Error(`replay: record ${i} has seq ${r.seq}, expected ${this.firstSeq + i}`);
      if (i > 0 && r.at < records[i - 1]!.at) throw new Error(`replay: record seq ${r.seq} goes back in time`);
      if (r.kind === 'fork') forks.push(r);
      if (!isClusterState(r)) continue;
      if ((r as EventRecord).event.type === 'cluster') {
        key = n;
        keyframes++;
      } else if (key < 0)
        throw new Error(`replay: record seq ${r.seq} is a cluster-delta with no cluster snapshot before it`);
      snaps[n] = i;
      base[n++] = key;
    }
    this.snaps = snaps.slice(0, n);
    this.base = base.slice(0, n);
    this.keyframes = keyframes;
    this.forks = forks;
  }

  /** The session's branches (one unless it forked), from its fork records. */
  branches(): BranchInfo[] {
    return branchTree(this.forks, this.startAt);
  }

  /** The branch running at a point (records after a fork belong to its new branch). */
  branchAt(point: ReplayPoint): number {
    const seq = 'seq' in point ? point.seq : this.seqAt(point.at);
    let b = 1;
    for (const f of this.forks) if (f.seq <= seq) b = f.branch;
    return b;
  }

  /**
   * What the timeline and the node logs tell up to `seq`: the last `max` records at or before
   * it that are neither cluster states nor peer messages (Raft events, log lines, actions and
   * results, client requests, step fates, forks), oldest first, however long ago they were. A
   * seek rebuilds the story from these, so a quiet stretch does not leave it empty.
   */
  story(seq: number, max = 1500): TraceRecord[] {
    const out: TraceRecord[] = [];
    const from = Math.min(seq, this.lastSeq) - this.firstSeq;
    // Bounded, so a seek into a long storm of heartbeats stays quick.
    const stop = Math.max(-1, from - 400_000);
    for (let j = from; j > stop && out.length < max; j--) {
      const r = this.rec(j);
      if (isClusterState(r) || (r.kind === 'event' && r.event.type === 'message')) continue;
      out.push(r);
    }
    return out.reverse();
  }

  /** How many cluster states the trace holds: keyframes and deltas, one per snapshot sent. */
  get snapshots(): number {
    return this.snaps.length;
  }

  record(seq: number): TraceRecord | undefined {
    return this.records[seq - this.firstSeq];
  }

  /**
   * The record at position i, which the caller has bounded to 0 ≤ i < records.length. Every
   * position below comes from such a bound, or from `snaps` (positions of records); the
   * ordinals into `snaps` and `base` likewise stay below their length.
   */
  private rec(i: number): TraceRecord {
    return this.records[i]!;
  }

  /** The last seq whose record was made at or before `at` (firstSeq - 1 before the first). */
  seqAt(at: number): number {
    // Upper bound: first position whose `at` is later than the time asked.
    let lo = 0;
    let hi = this.records.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.rec(mid).at <= at) lo = mid + 1;
      else hi = mid;
    }
    return this.firstSeq + lo - 1;
  }

  /** The view at a point: latest cluster snapshot plus the recent events leading to it. */
  stateAt(point: ReplayPoint): ReplayState {
    const seq =
      'seq' in point
        ? Math.min(Math.max(Math.floor(point.seq), this.firstSeq - 1), this.lastSeq)
        : this.seqAt(point.at);
    const i = seq - this.firstSeq; // -1 before the first record
    const at = i >= 0 ? this.rec(i).at : this.startAt;
    const s = this.snapsAtOrBefore(i) - 1;
    return {
      seq: Math.max(seq, 0),
      at,
      cluster: s >= 0 ? this.clusterOf(s) : null,
      clusterSeq: s >= 0 ? this.rec(this.snaps[s]!).seq : 0,
      recent: this.recentBefore(i, at),
    };
  }

  /**
   * The records after seq `a` up to and including seq `b`, in order: what to animate when play
   * moves from a to b. Empty when b ≤ a (going back is a seek: stateAt). A `cluster-delta`
   * comes as the `cluster` snapshot it stands for (same seq, at and clocks), so whoever plays
   * the records sees the snapshots the window was sent, never a delta.
   */
  eventsBetween(a: number, b: number): TraceRecord[] {
    const from = Math.max(a + 1, this.firstSeq) - this.firstSeq;
    const to = Math.min(b, this.lastSeq) - this.firstSeq + 1;
    if (from >= to) return [];
    const out = this.records.slice(from, to);
    let ord = this.snapsAtOrBefore(from - 1); // the ordinal of the next cluster state
    for (let k = 0; k < out.length; k++) {
      const r = out[k]!;
      if (!isClusterState(r)) continue;
      if ((r as EventRecord).event.type === 'cluster-delta')
        out[k] = { ...(r as EventRecord), event: { type: 'cluster', cluster: this.clusterOf(ord) } };
      ord++;
    }
    return out;
  }

  /** How many cluster states are at positions ≤ i (so the last of them has ordinal one less). */
  private snapsAtOrBefore(i: number): number {
    let lo = 0;
    let hi = this.snaps.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.snaps[mid]! <= i) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** The cluster state of the ordinal-th snapshot: a keyframe as recorded, a delta rebuilt. */
  private clusterOf(ord: number): ClusterState {
    const r = this.rec(this.snaps[ord]!) as EventRecord;
    if (r.event.type === 'cluster') return r.event.cluster;
    if (ord === this.lastOrd) return this.lastState!;
    const key = this.base[ord]!;
    // Start from the nearest state already at hand: a kept checkpoint, the last one rebuilt, or the keyframe.
    let from = key;
    for (let c = key + Math.floor((ord - key) / CHECKPOINT_EVERY) * CHECKPOINT_EVERY; c > key; c -= CHECKPOINT_EVERY) {
      if (this.built.has(c)) {
        from = c;
        break;
      }
    }
    let state =
      from === key
        ? (this.rec(this.snaps[key]!) as EventRecord & { event: { type: 'cluster' } }).event.cluster
        : this.built.get(from)!;
    if (this.lastOrd > from && this.lastOrd < ord && this.base[this.lastOrd] === key) {
      from = this.lastOrd;
      state = this.lastState!;
    }
    for (let o = from + 1; o <= ord; o++) {
      state = applyClusterDelta(state, (this.rec(this.snaps[o]!) as EventRecord).event as ClusterDeltaEvent);
      if ((o - key) % CHECKPOINT_EVERY === 0) this.built.set(o, state);
    }
    this.lastOrd = ord;
    this.lastState = state;
    return state;
  }

  private recentBefore(i: number, at: number): TraceRecord[] {
    const out: TraceRecord[] = [];
    const oldest = at - this.recentMs;
    for (let j = i; j >= 0 && out.length < this.recentMax; j--) {
      const r = this.rec(j);
      if (r.at < oldest) break;
      if (!isClusterState(r)) out.push(r);
    }
    return out.reverse();
  }
}

/**
 * The branch tree from the forks of a session, in the order they happened: branch 1 runs from
 * the start; each fork ends the branch that was running (at its `leftAt`) and starts its own.
 */
export function branchTree(forks: readonly (ForkInfo & { at: number })[], startAt: number): BranchInfo[] {
  const out: BranchInfo[] = [{ id: 1, parent: 0, from: startAt, startAt }];
  for (const f of forks) {
    const running = out.find((b) => b.id === f.left && b.endAt === undefined);
    if (running) running.endAt = f.leftAt;
    out.push({ id: f.branch, parent: f.parent, from: f.from, startAt: f.at });
  }
  return out;
}
