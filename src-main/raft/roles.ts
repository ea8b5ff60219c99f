// Role changes (follower, pre-candidate, candidate, leader) and what each resets.

import type { NodeId } from '../../src-shared/raft-types.js';
import { isVoter } from './conf.js';
import { appendEntries, syncProgress } from './membership.js';
import { emit, type RaftState } from './state.js';

export function resetRandomizedElectionTimeout(s: RaftState): void {
  const e = s.cfg.electionTick;
  s.randomizedElectionTimeout = e + Math.floor(s.cfg.random() * e);
}

/** Only a voter of the latest configuration may campaign; a removed or joining node stays quiet. */
export function promotable(s: RaftState): boolean {
  return isVoter(s, s.id) && s.log.pendingSnapshot === null;
}

function reset(s: RaftState, term: number): void {
  if (s.term !== term) {
    emit(s, { kind: 'term', from: s.term, to: term });
    s.term = term;
    s.vote = '';
  }
  s.lead = '';
  s.electionElapsed = 0;
  s.heartbeatElapsed = 0;
  resetRandomizedElectionTimeout(s);
  s.votes.clear();
  s.progress.clear();
  s.leadTransferee = '';
  s.pendingReads = [];
  s.deferredReads = [];
}

export function becomeFollower(s: RaftState, term: number, lead: NodeId): void {
  const changed = s.role !== 'follower' || s.term !== term || s.lead !== lead;
  reset(s, term);
  s.role = 'follower';
  s.lead = lead;
  if (changed) emit(s, { kind: 'role', role: 'follower', term, lead });
}

export function becomePreCandidate(s: RaftState): void {
  // A pre-candidate keeps its term and vote: it only asks whether it could win.
  s.votes.clear();
  s.progress.clear();
  s.lead = '';
  s.role = 'precandidate';
  emit(s, { kind: 'role', role: 'precandidate', term: s.term, lead: '' });
}

export function becomeCandidate(s: RaftState): void {
  reset(s, s.term + 1);
  s.vote = s.id;
  s.role = 'candidate';
  emit(s, { kind: 'role', role: 'candidate', term: s.term, lead: '' });
}

export function becomeLeader(s: RaftState): void {
  reset(s, s.term);
  s.role = 'leader';
  s.lead = s.id;
  syncProgress(s);
  emit(s, { kind: 'role', role: 'leader', term: s.term, lead: s.id });
  // A no-op in the new term lets the leader commit entries from earlier terms (§5.4.2).
  appendEntries(s, [{ type: 'normal', data: '' }]);
}
