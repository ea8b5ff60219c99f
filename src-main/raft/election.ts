// Elections: campaigns (pre-vote, vote, forced by transfer), counting and granting votes, the leader lease and check-quorum.

import type { Message, MessageType, NodeId, VoteRefusal } from '../../src-shared/raft-types.js';
import { config } from './conf.js';
import { becomeCandidate, becomeFollower, becomeLeader, becomePreCandidate, promotable } from './roles.js';
import { bcastAppend } from './sender.js';
import { emit, quorum, send, TRANSFER, type RaftState } from './state.js';

/** Start an election now (as if the election timer fired), if this node may. */
export function campaign(s: RaftState): void {
  if (s.role !== 'leader' && promotable(s)) startElection(s, s.cfg.preVote ? 'pre' : 'real');
}

/** 'pre' asks first whether we could win (§9.6); 'transfer' is forced by MsgTimeoutNow. */
export function startElection(s: RaftState, kind: 'pre' | 'real' | 'transfer'): void {
  const pre = kind === 'pre';
  emit(s, { kind: 'election-timeout', term: s.term, pre });
  if (pre) becomePreCandidate(s);
  else becomeCandidate(s);
  const voteTerm = pre ? s.term + 1 : s.term;
  if (recordVote(s, s.id, true, voteTerm, pre)) return;
  const type: MessageType = pre ? 'MsgPreVote' : 'MsgVote';
  for (const id of config(s).voters) {
    if (id === s.id) continue;
    send(s, {
      type,
      to: id,
      term: voteTerm,
      index: s.log.lastIndex(),
      logTerm: s.log.lastTerm(),
      context: kind === 'transfer' ? TRANSFER : undefined,
    });
  }
}

/** Counts a vote; returns true if it decided the election (won or lost). */
export function recordVote(s: RaftState, from: NodeId, granted: boolean, term: number, pre: boolean): boolean {
  if (!s.votes.has(from)) s.votes.set(from, granted);
  const voters = config(s).voters;
  let yes = 0;
  let no = 0;
  for (const id of voters) {
    const v = s.votes.get(id);
    if (v === true) yes++;
    else if (v === false) no++;
  }
  const needed = quorum(voters.length);
  emit(s, { kind: 'vote-result', term, pre, from, granted, votes: yes, needed });
  if (yes >= needed) {
    if (pre) startElection(s, 'real');
    else {
      becomeLeader(s);
      bcastAppend(s);
    }
    return true;
  }
  if (no > voters.length - needed) {
    becomeFollower(s, s.term, '');
    return true;
  }
  return false;
}

/**
 * A (pre-)vote request for a later term while we heard from a live leader recently: a
 * disruptive candidate is ignored (§9.6), unless the leader itself asked for the election.
 */
export function ignoredInLease(s: RaftState, m: Message): boolean {
  const inLease = s.cfg.checkQuorum && s.lead !== '' && s.electionElapsed < s.cfg.electionTick;
  if (!inLease || m.context === TRANSFER) return false;
  emit(s, {
    kind: 'vote',
    candidate: m.from,
    term: m.term,
    pre: m.type === 'MsgPreVote',
    granted: false,
    reason: 'leader-lease',
  });
  return true;
}

export function handleVoteRequest(s: RaftState, m: Message): void {
  const pre = m.type === 'MsgPreVote';
  // We may vote for m.from if we already did this term, or have not voted and know no
  // leader; a pre-vote for a later term is always considered.
  const canVote = s.vote === m.from || (s.vote === '' && s.lead === '') || (pre && m.term > s.term);
  if (!canVote) return refuseVote(s, m, 'already-voted');
  if (!s.log.isUpToDate(m.index ?? 0, m.logTerm ?? 0)) return refuseVote(s, m, 'log-behind');
  emit(s, { kind: 'vote', candidate: m.from, term: m.term, pre, granted: true });
  send(s, { type: pre ? 'MsgPreVoteResp' : 'MsgVoteResp', to: m.from, term: m.term });
  if (!pre) {
    s.electionElapsed = 0;
    s.vote = m.from;
  }
}

export function refuseVote(s: RaftState, m: Message, reason: VoteRefusal): void {
  const pre = m.type === 'MsgPreVote';
  emit(s, { kind: 'vote', candidate: m.from, term: m.term, pre, granted: false, reason });
  send(s, { type: pre ? 'MsgPreVoteResp' : 'MsgVoteResp', to: m.from, term: s.term, reject: true });
}

/** §6.2 check-quorum: a leader that has not heard from a majority in an election timeout steps down. */
export function checkQuorum(s: RaftState): boolean {
  const voters = config(s).voters;
  let active = 0;
  for (const id of voters) {
    const pr = s.progress.get(id);
    if (id === s.id || pr?.recentActive) active++;
    if (pr && id !== s.id) pr.recentActive = false;
  }
  const needed = quorum(voters.length);
  if (active >= needed) return true;
  emit(s, { kind: 'check-quorum-lost', term: s.term, active, needed });
  becomeFollower(s, s.term, '');
  return false;
}
