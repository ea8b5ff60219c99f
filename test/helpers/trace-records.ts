// Reading a recorded trace in tests: the records a test looks for, found with a clear error.
import type { TraceRecord } from '../../src-shared/trace-schema.js';

/** The first election won in the trace (a node's role became leader): when, in which record, who and in which term. */
export function firstElectionWon(records: readonly TraceRecord[]): {
  at: number;
  seq: number;
  node: string;
  term: number;
} {
  for (const r of records) {
    if (r.kind !== 'event' || r.event.type !== 'raft') continue;
    const e = r.event.event;
    if (e.kind === 'role' && e.role === 'leader') return { at: r.at, seq: r.seq, node: r.event.node, term: e.term };
  }
  throw new Error(`expected an election won in the trace's ${records.length} records`);
}
