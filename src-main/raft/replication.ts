// Log replication: proposals, the follower's log matching (MsgApp), the leader's handling of answers, and commitment.

import { decodeConfChange, type Entry, type Message, type NodeId } from '../../src-shared/raft-types.js';
import { confAt, config, isMember, isVoter } from './conf.js';
import { appendEntries, checkConfChange, onAppended, onTruncate, syncProgress } from './membership.js';
import type { Progress } from './progress.js';
import { ackRead, serveDeferredReads } from './read-index.js';
import { becomeFollower } from './roles.js';
import { bcastAppend, maybeSendAppend, sendAppend } from './sender.js';
import { emitCommit, ProposalDropped, quorum, send, type RaftState } from './state.js';
import { maybeTimeoutNow } from './transfer.js';

// ---------------------------------------------------------------- proposals

export function proposeEntry(s: RaftState, e: { type: Entry['type']; data: string }): void {
  if (s.role !== 'leader') {
    if (!s.lead) throw new ProposalDropped('no leader');
    send(s, { type: 'MsgProp', to: s.lead, term: 0, entries: [{ index: 0, term: 0, ...e }] });
    return;
  }
  if (s.leadTransferee) throw new ProposalDropped(`leadership is being transferred to ${s.leadTransferee}`);
  if (e.type === 'conf') checkConfChange(s, decodeConfChange(e.data));
  appendEntries(s, [e]);
  bcastAppend(s);
}

// ---------------------------------------------------------------- follower

export function handleAppend(s: RaftState, m: Message): void {
  const prev = m.index ?? 0;
  if (prev < s.log.committed) {
    // Everything up to our commit index is settled; tell the leader where we are.
    send(s, { type: 'MsgAppResp', to: m.from, term: s.term, index: s.log.committed });
    return;
  }
  const result = s.log.maybeAppend(prev, m.logTerm ?? 0, m.entries ?? []);
  if (result === undefined) {
    // Fast back-off: point the leader at the last entry that could match.
    const hint = s.log.findConflictByTerm(Math.min(prev, s.log.lastIndex()), m.logTerm ?? 0);
    send(s, {
      type: 'MsgAppResp',
      to: m.from,
      term: s.term,
      index: prev,
      reject: true,
      rejectHint: hint,
      logTerm: s.log.term(hint) ?? 0,
    });
    return;
  }
  const { lastNew, appended, truncatedFrom } = result;
  if (truncatedFrom) onTruncate(s, truncatedFrom);
  onAppended(s, appended);
  s.log.commitTo(Math.min(m.commit ?? 0, lastNew));
  emitCommit(s);
  send(s, { type: 'MsgAppResp', to: m.from, term: s.term, index: lastNew });
}

export function handleHeartbeat(s: RaftState, m: Message): void {
  s.log.commitTo(Math.min(m.commit ?? 0, s.log.lastIndex()));
  emitCommit(s);
  send(s, { type: 'MsgHeartbeatResp', to: m.from, term: s.term, context: m.context });
}

// ---------------------------------------------------------------- leader

export function handleAppendResponse(s: RaftState, m: Message, pr: Progress): void {
  pr.recentActive = true;
  if (m.reject) {
    let hint = m.rejectHint ?? 0;
    const logTerm = m.logTerm ?? 0;
    if (logTerm > 0) hint = s.log.findConflictByTerm(hint, logTerm);
    if (pr.maybeDecrTo(m.index ?? 0, hint)) {
      if (pr.state === 'replicate') pr.becomeProbe();
      sendAppend(s, m.from);
    }
    return;
  }
  const wasPaused = pr.isPaused();
  const index = m.index ?? 0;
  if (!pr.maybeUpdate(index)) {
    if (wasPaused && !pr.isPaused()) sendAppend(s, m.from);
    return;
  }
  if (pr.state === 'probe') pr.becomeReplicate();
  else if (pr.state === 'snapshot' && pr.match >= pr.pendingSnapshot) {
    pr.becomeProbe();
    pr.becomeReplicate();
  } else if (pr.state === 'replicate') pr.freeUpTo(index);

  if (maybeCommit(s)) bcastAppend(s);
  else if (wasPaused) sendAppend(s, m.from);
  while (s.role === 'leader' && maybeSendAppend(s, m.from, false)) {
    /* stream what is left, within the inflight window */
  }
  maybeTimeoutNow(s, m.from, pr);
}

export function handleHeartbeatResponse(s: RaftState, m: Message, pr: Progress): void {
  pr.recentActive = true;
  pr.probeSent = false;
  if (pr.state === 'replicate') {
    // An append unanswered for two heartbeat rounds was probably lost: fall back to probing.
    const oldest = pr.oldestInflight();
    if (oldest !== undefined && s.ticks - oldest > 2 * s.cfg.heartbeatTick) pr.becomeProbe();
  }
  if (pr.match < s.log.lastIndex()) sendAppend(s, m.from);
  if (m.context) ackRead(s, m.context, m.from);
}

/**
 * Advance the commit index to the highest current-term entry held by a majority of the
 * voters. A conf entry not yet committed may also commit, on its own, with a majority of the
 * configuration before it: any majority of either configuration meets any majority of the
 * other (they differ by one voter) and no further change is proposed until it commits, so
 * whoever is elected holds it. That is etcd-io/raft's rule (a change counts once applied) for
 * the change itself, and it is what lets a single member add a second one: with the new,
 * not yet started, member counted, the change could never commit.
 */
export function maybeCommit(s: RaftState): boolean {
  let candidate = quorumMatch(s, config(s).voters);
  const last = s.confPoints.at(-1);
  if (last && last.index > s.log.committed && candidate < last.index) {
    const before = confAt(s, last.index - 1).voters;
    if (before.length > 0 && quorumMatch(s, before) >= last.index) candidate = last.index;
  }
  if (candidate === 0 || s.log.term(candidate) !== s.term) return false;
  if (!s.log.commitTo(candidate)) return false;
  emitCommit(s);
  onLeaderCommit(s);
  return true;
}

/** How far this member's log is durable (the leader counts itself so), or a follower's match. */
function matchOf(s: RaftState, id: NodeId): number {
  return id === s.id ? s.log.stable : (s.progress.get(id)?.match ?? 0);
}

/**
 * The highest index a quorum of `voters` holds: the largest match that at least a quorum of
 * matches reach. Counted in place, as it runs on every answer to an append (a sorted copy
 * made garbage on each).
 */
function quorumMatch(s: RaftState, voters: readonly NodeId[]): number {
  const q = quorum(voters.length);
  let best = 0;
  for (const a of voters) {
    const m = matchOf(s, a);
    if (m <= best) continue;
    let reach = 0;
    for (const b of voters) if (matchOf(s, b) >= m) reach++;
    if (reach >= q) best = m;
  }
  return best;
}

function onLeaderCommit(s: RaftState): void {
  const committed = confAt(s, s.log.committed);
  let departed = false;
  for (const id of s.progress.keys()) {
    if (!isMember(s, id) && !committed.voters.includes(id) && !committed.learners.includes(id)) departed = true;
  }
  if (departed) {
    // Their removal just committed: send them that commit, then stop tracking them.
    bcastAppend(s);
    syncProgress(s);
  }
  serveDeferredReads(s);
  // A leader removed from the configuration leads until that change commits, then steps down,
  // handing over to the most caught-up voter so the cluster need not wait for a timeout.
  if (!isVoter(s, s.id)) {
    const lastConf = s.confPoints.at(-1)?.index ?? 0;
    if (s.log.committed >= lastConf) {
      let best: NodeId = '';
      let bestMatch = -1;
      for (const [id, pr] of s.progress) {
        if (id !== s.id && pr.match > bestMatch) [best, bestMatch] = [id, pr.match];
      }
      bcastAppend(s);
      if (best && bestMatch === s.log.lastIndex()) send(s, { type: 'MsgTimeoutNow', to: best, term: s.term });
      becomeFollower(s, s.term, '');
    }
  }
}
