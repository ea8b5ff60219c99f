// Raft's safety properties (Raft paper, Figure 3), checked as a simulation runs:
//   election safety      at most one leader per term
//   log matching         same index and term ⇒ same entry and same history before it
//   leader completeness  a new leader holds every entry committed before it
//   state machine safety no two nodes apply different entries at one index
// plus linearizable read-index: a read point covers every commit that finished before the read.

import type { Entry, NodeId, ReadState } from '../../src-shared/raft-types.js';
import type { RaftLog } from '../raft/log.js';

interface Applied {
  term: number;
  digest: number;
}

export class SafetyChecker {
  private leaders = new Map<number, NodeId>();
  /** Entries known committed (someone applied them), by index. */
  private committed = new Map<number, Applied>();
  private maxCommitted = 0;
  private reads = new Map<string, number>();
  private steps = 0;
  checks = 0;

  constructor(private readonly fail: (msg: string) => never) {}

  leaderElected(id: NodeId, term: number, log: RaftLog): void {
    this.checks++;
    const other = this.leaders.get(term);
    if (other !== undefined && other !== id)
      this.fail(`election safety: ${other} and ${id} both leaders of term ${term}`);
    this.leaders.set(term, id);
    for (const [index, c] of this.committed) {
      if (index < log.firstIndex() - 1) continue; // covered by the leader's snapshot
      const t = log.term(index);
      if (t !== c.term)
        this.fail(`leader completeness: ${id} (term ${term}) lacks committed entry ${index}/${c.term} (has term ${t})`);
    }
  }

  applied(id: NodeId, e: Entry, digest: number): void {
    this.checks++;
    const prev = this.committed.get(e.index);
    if (!prev) {
      this.committed.set(e.index, { term: e.term, digest });
      this.maxCommitted = Math.max(this.maxCommitted, e.index);
    } else if (prev.term !== e.term || prev.digest !== digest) {
      this.fail(
        `state machine safety: ${id} applied ${e.index}/${e.term} with a history that differs from one applied before`,
      );
    }
  }

  snapshotInstalled(id: NodeId, index: number, digest: number): void {
    this.checks++;
    const prev = this.committed.get(index);
    if (prev && prev.digest !== digest)
      this.fail(`state machine safety: ${id} installed a snapshot at ${index} that differs from the applied history`);
  }

  readIssued(context: string): void {
    this.reads.set(context, this.maxCommitted);
  }

  readConfirmed(id: NodeId, r: ReadState, _applied: number): void {
    this.checks++;
    const floor = this.reads.get(r.context);
    if (floor !== undefined && r.index < floor) {
      this.fail(
        `linearizable read: ${id} got read index ${r.index} for ${r.context}, but ${floor} was committed before the read began`,
      );
    }
  }

  /** Log matching on every pair of logs, every 25 steps (it is the costly check). */
  maybeCheckLogs(logs: { id: NodeId; log: RaftLog }[]): void {
    if (++this.steps % 25 === 0) this.checkLogs(logs);
  }

  checkLogs(logs: { id: NodeId; log: RaftLog }[]): void {
    for (const [i, a] of logs.entries()) {
      for (const b of logs.slice(i + 1)) this.checkPair(a, b);
    }
  }

  private checkPair(a: { id: NodeId; log: RaftLog }, b: { id: NodeId; log: RaftLog }): void {
    this.checks++;
    const lo = Math.max(a.log.firstIndex(), b.log.firstIndex());
    const hi = Math.min(a.log.lastIndex(), b.log.lastIndex());
    // Find the highest index where both hold the same term: everything at or below must match.
    let top = hi;
    while (top >= lo && a.log.term(top) !== b.log.term(top)) top--;
    for (let k = lo; k <= top; k++) {
      const x = a.log.entry(k)!;
      const y = b.log.entry(k)!;
      if (x.term !== y.term || x.data !== y.data || x.type !== y.type) {
        this.fail(
          `log matching: ${a.id} and ${b.id} agree at ${top}/${a.log.term(top)} but differ at ${k} (${x.term}:${x.data} vs ${y.term}:${y.data})`,
        );
      }
    }
  }
}
