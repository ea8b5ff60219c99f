// The core's two inputs, tick() and step(message): term rules first, then dispatch by role.

import type { Message, NodeId } from '../../src-shared/raft-types.js';
import { withinBounds } from './bounds.js';
import { checkQuorum, handleVoteRequest, ignoredInLease, recordVote, refuseVote, startElection } from './election.js';
import { leaderRead } from './read-index.js';
import {
  handleAppend,
  handleAppendResponse,
  handleHeartbeat,
  handleHeartbeatResponse,
  proposeEntry,
} from './replication.js';
import { becomeFollower, promotable } from './roles.js';
import { bcastHeartbeat } from './sender.js';
import { handleSnapshot } from './snapshot.js';
import { ProposalDropped, send, type RaftState } from './state.js';
import { tickTransfer } from './transfer.js';

// ---------------------------------------------------------------- tick

export function tick(s: RaftState): void {
  s.ticks++;
  if (s.role === 'leader') tickLeader(s);
  else tickElection(s);
}

function tickElection(s: RaftState): void {
  s.electionElapsed++;
  if (promotable(s) && s.electionElapsed >= s.randomizedElectionTimeout) {
    s.electionElapsed = 0;
    startElection(s, s.cfg.preVote ? 'pre' : 'real');
  }
}

function tickLeader(s: RaftState): void {
  s.heartbeatElapsed++;
  s.electionElapsed++;
  tickTransfer(s);
  if (s.electionElapsed >= s.cfg.electionTick) {
    s.electionElapsed = 0;
    if (s.cfg.checkQuorum && !checkQuorum(s)) return;
  }
  for (const [id, pr] of s.progress) {
    // A snapshot that got no answer within an election timeout is presumed lost: probe again.
    if (pr.state === 'snapshot' && s.ticks - pr.snapshotSentAt >= s.cfg.electionTick && id !== s.id) {
      pr.becomeProbe();
    }
  }
  if (s.heartbeatElapsed >= s.cfg.heartbeatTick) {
    s.heartbeatElapsed = 0;
    bcastHeartbeat(s);
  }
}

// ---------------------------------------------------------------- step

export function step(s: RaftState, m: Message): void {
  // Out of bounds: dropped here too, for messages delivered by hand (step mode).
  if (!withinBounds(m, s.term)) return;
  // MsgProp and MsgReadIndex are termless: a follower forwards them on a client's behalf.
  if (m.term > s.term) {
    if ((m.type === 'MsgVote' || m.type === 'MsgPreVote') && ignoredInLease(s, m)) return;
    if (m.type === 'MsgPreVote' || (m.type === 'MsgPreVoteResp' && !m.reject)) {
      // A pre-vote (or a granted one) is about a future term; it must not change ours.
    } else {
      const lead = m.type === 'MsgApp' || m.type === 'MsgHeartbeat' || m.type === 'MsgSnap' ? m.from : '';
      becomeFollower(s, m.term, lead);
    }
  } else if (m.term < s.term && m.term !== 0) {
    if (m.type === 'MsgApp' || m.type === 'MsgHeartbeat') {
      // A stale leader (e.g. back from a partition): tell it our term so it steps down.
      send(s, { type: 'MsgAppResp', to: m.from, term: s.term });
    } else if (m.type === 'MsgPreVote') {
      refuseVote(s, m, 'stale-term');
    }
    return;
  }

  if (m.type === 'MsgVote' || m.type === 'MsgPreVote') {
    handleVoteRequest(s, m);
    return;
  }
  switch (s.role) {
    case 'leader':
      return stepLeader(s, m);
    case 'candidate':
    case 'precandidate':
      return stepCandidate(s, m);
    case 'follower':
      return stepFollower(s, m);
  }
}

function stepLeader(s: RaftState, m: Message): void {
  const pr = s.progress.get(m.from);
  switch (m.type) {
    case 'MsgProp':
      try {
        proposeEntry(s, m.entries?.[0] ?? { type: 'normal', data: '' });
      } catch (err) {
        if (!(err instanceof ProposalDropped)) throw err;
      }
      return;
    case 'MsgReadIndex':
      return leaderRead(s, m.context ?? '', m.from);
    case 'MsgAppResp':
      if (pr) handleAppendResponse(s, m, pr);
      return;
    case 'MsgHeartbeatResp':
      if (pr) handleHeartbeatResponse(s, m, pr);
      return;
    default:
      return;
  }
}

function stepCandidate(s: RaftState, m: Message): void {
  switch (m.type) {
    case 'MsgApp':
    case 'MsgHeartbeat':
    case 'MsgSnap':
      // Someone won this term: follow it.
      becomeFollower(s, m.term, m.from);
      return stepFollower(s, m);
    case 'MsgPreVoteResp':
      if (s.role === 'precandidate') recordVote(s, m.from, !m.reject, s.term + 1, true);
      return;
    case 'MsgVoteResp':
      if (s.role === 'candidate') recordVote(s, m.from, !m.reject, s.term, false);
      return;
    default:
      return;
  }
}

function stepFollower(s: RaftState, m: Message): void {
  switch (m.type) {
    case 'MsgProp':
      // Forwarded by another follower whose leader knowledge is stale: pass it on.
      if (s.lead) send(s, { type: 'MsgProp', to: s.lead, term: 0, entries: m.entries });
      return;
    case 'MsgReadIndexResp':
      s.readStates.push({ index: m.index ?? 0, context: m.context ?? '' });
      return;
    case 'MsgApp':
      heardFromLeader(s, m.from);
      return handleAppend(s, m);
    case 'MsgHeartbeat':
      heardFromLeader(s, m.from);
      return handleHeartbeat(s, m);
    case 'MsgSnap':
      heardFromLeader(s, m.from);
      return handleSnapshot(s, m);
    case 'MsgTimeoutNow':
      if (promotable(s)) startElection(s, 'transfer');
      return;
    default:
      return;
  }
}

function heardFromLeader(s: RaftState, from: NodeId): void {
  s.electionElapsed = 0;
  s.lead = from;
}
