// Bounds on the terms and indexes a message may carry, so that no message can wedge the cluster.

import { MAX_TERM_OR_INDEX, type Message } from '../../src-shared/raft-types.js';

/**
 * etcd's terms and indexes are uint64: a term of 2^53 is unremarkable there. Ours are JS
 * numbers, exact only up to 2^53-1; a term there cannot be incremented (2^53 + 1 === 2^53),
 * so a node that took it could never win an election again, and the term is persisted.
 * (A uint64 has the same wall at 2^64-1, out of an honest cluster's reach.) A fixed ceiling
 * on message terms is not enough: a node that took a term at the ceiling would campaign at
 * ceiling + 1, which its peers must accept. So the rule is relative: a message's term may be
 * anything up to MAX_TERM_OR_INDEX (2^52: far beyond any honest cluster, ~140,000 years of an
 * election a millisecond), and above that at most MAX_TERM_STEP past our own term (a node
 * that fell behind the others' elections). One message moves a term at most to 2^52 or by
 * 2^16; the ceiling at 2^53 is then 2^36 deliberate messages away, not one.
 * Indexes only ever grow one entry at a time: they are simply capped at 2^52.
 * (MAX_TERM_OR_INDEX lives in src-shared/raft-types.ts: the peer message schema bounds indexes with it.)
 */
export { MAX_TERM_OR_INDEX };
export const MAX_TERM_STEP = 2 ** 16;

/** The highest term a message may carry to a node whose term is `ours`. */
export function maxAcceptableTerm(ours: number): number {
  return Math.max(ours, MAX_TERM_OR_INDEX) + MAX_TERM_STEP;
}

export function withinBounds(m: Message, ours: number): boolean {
  return (
    m.term <= maxAcceptableTerm(ours) &&
    [m.index ?? 0, m.commit ?? 0, m.rejectHint ?? 0].every((v) => v <= MAX_TERM_OR_INDEX) &&
    (m.logTerm ?? 0) <= Math.max(m.term, ours)
  );
}
