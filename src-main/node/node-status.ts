// A node's Raft state as plain values, copied out of the core: what the app's worker draws,
// what the client APIs put in their headers and stats, what tests look at. Nothing outside
// the node reads the mutable core itself.

import type { NodeState } from '../../src-shared/cluster-state.js';
import type { Entry } from '../../src-shared/raft-types.js';
import type { Raft } from '../raft/raft.js';
import type { ProgressState } from '../raft/progress.js';

/** A leader's view of one follower (etcd's tracker.Progress, in part). */
export interface PeerProgress {
  id: string;
  match: number;
  next: number;
  state: ProgressState;
  /** Heard from since the last check-quorum round. */
  recentActive: boolean;
}

/**
 * The fields the window shows of a node (NodeState), as the node knows them: `vote` and `lead`
 * are member ids here ('' for none); plus what only the node itself can tell.
 */
export type RaftNodeStatus = Pick<
  NodeState,
  'role' | 'term' | 'vote' | 'lead' | 'commit' | 'applied' | 'firstIndex' | 'lastIndex'
> & {
  /** Member id. */
  id: string;
  lastTerm: number;
  /** The last `logTail` entries asked for, oldest first (copies). */
  log: Entry[];
  /** Leader only: each other member's replication progress (learners' too); empty otherwise. */
  progress: PeerProgress[];
  /** The election timer in ticks: `elapsed` of this term's randomized `timeout`. */
  timer: { elapsed: number; timeout: number };
};

/**
 * The few fields a client request needs of Raft (its X-Raft-* and header fields, leader
 * checks): read on every request, so without readStatus's copies of the log tail and progress.
 */
export type RaftBrief = Pick<RaftNodeStatus, 'role' | 'term' | 'lead' | 'commit' | 'applied'>;

export function readBrief(raft: Raft): RaftBrief {
  return { role: raft.role, term: raft.term, lead: raft.lead, commit: raft.log.committed, applied: raft.log.applied };
}

export function readStatus(raft: Raft, logTail = 0): RaftNodeStatus {
  const log = raft.log;
  const last = log.lastIndex();
  const entries: Entry[] = [];
  for (let i = Math.max(log.firstIndex(), last - logTail + 1); i <= last; i++) {
    const e = log.entry(i);
    if (e) entries.push({ ...e });
  }
  const progress: PeerProgress[] = [];
  if (raft.role === 'leader') {
    for (const id of [...raft.voters(), ...raft.learners()]) {
      const pr = id === raft.id ? undefined : raft.progressOf(id);
      if (pr) progress.push({ id, match: pr.match, next: pr.next, state: pr.state, recentActive: pr.recentActive });
    }
  }
  return {
    id: raft.id,
    role: raft.role,
    term: raft.term,
    vote: raft.vote,
    lead: raft.lead,
    commit: log.committed,
    applied: log.applied,
    firstIndex: log.firstIndex(),
    lastIndex: last,
    lastTerm: log.lastTerm(),
    log: entries,
    progress,
    timer: { elapsed: raft.electionElapsedTicks(), timeout: raft.electionTimeoutTicks() },
  };
}
