// What a leader knows about one follower's log, and how it paces replication to it
// (etcd-io/raft's tracker.Progress, simplified).
//
//   probe:     we do not know where the follower's log matches; send one append at a time
//   replicate: the follower keeps up; stream appends optimistically, bounded by inflights
//   snapshot:  the follower needs a snapshot; send nothing else until it answers

export type ProgressState = 'probe' | 'replicate' | 'snapshot';

interface Inflight {
  last: number;
  sentAt: number;
}

export class Progress {
  match = 0;
  next: number;
  state: ProgressState = 'probe';
  /** probe: an append is outstanding; cleared by any response. */
  probeSent = false;
  /** snapshot: index of the snapshot sent, and when (in ticks). */
  pendingSnapshot = 0;
  snapshotSentAt = 0;
  /** Heard from since the last check-quorum round. */
  recentActive = false;
  private inflights: Inflight[] = [];

  constructor(
    next: number,
    private readonly maxInflight: number,
  ) {
    this.next = next;
  }

  isPaused(): boolean {
    switch (this.state) {
      case 'probe':
        return this.probeSent;
      case 'replicate':
        return this.inflights.length >= this.maxInflight;
      case 'snapshot':
        return true;
    }
  }

  becomeProbe(): void {
    // After a snapshot, resume right after it; otherwise just after what is known to match.
    this.next = this.state === 'snapshot' ? Math.max(this.match, this.pendingSnapshot) + 1 : this.match + 1;
    this.reset('probe');
  }

  becomeReplicate(): void {
    this.next = this.match + 1;
    this.reset('replicate');
  }

  becomeSnapshot(index: number, now: number): void {
    this.reset('snapshot');
    this.pendingSnapshot = index;
    this.snapshotSentAt = now;
  }

  private reset(state: ProgressState): void {
    this.state = state;
    this.probeSent = false;
    this.pendingSnapshot = 0;
    this.inflights = [];
  }

  /** An acknowledgement up to `n`; false if it tells us nothing new (stale or duplicate). */
  maybeUpdate(n: number): boolean {
    let updated = false;
    if (this.match < n) {
      this.match = n;
      updated = true;
      this.probeSent = false;
    }
    this.next = Math.max(this.next, n + 1);
    return updated;
  }

  /** Record an append sent in replicate state whose last entry is `last`. */
  sent(last: number, now: number): void {
    this.next = last + 1;
    this.inflights.push({ last, sentAt: now });
  }

  freeUpTo(index: number): void {
    let i = 0;
    while (i < this.inflights.length && this.inflights[i]!.last <= index) i++;
    if (i > 0) this.inflights.splice(0, i);
  }

  /** When the oldest unacknowledged append was sent, or undefined if none is outstanding. */
  oldestInflight(): number | undefined {
    return this.inflights[0]?.sentAt;
  }

  /**
   * A rejection of the append after `rejected`; `matchHint` is where the follower thinks our
   * logs may match. Returns false if the rejection is stale (answers an older append).
   */
  maybeDecrTo(rejected: number, matchHint: number): boolean {
    if (this.state === 'replicate') {
      if (rejected <= this.match) return false;
      this.next = this.match + 1;
      return true;
    }
    if (this.next - 1 !== rejected) return false;
    this.next = Math.max(Math.min(rejected, matchHint + 1), this.match + 1, 1);
    this.probeSent = false;
    return true;
  }
}
