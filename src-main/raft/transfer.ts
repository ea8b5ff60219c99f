// Leader transfer: the leader catches the transferee up, then tells it to campaign at once (MsgTimeoutNow).

import type { NodeId } from '../../src-shared/raft-types.js';
import { isVoter } from './conf.js';
import type { Progress } from './progress.js';
import { sendAppend } from './sender.js';
import { emit, ProposalDropped, send, type RaftState } from './state.js';

/** Hand leadership to `to` once its log is caught up (only on the leader). */
export function transferLeader(s: RaftState, to: NodeId): void {
  if (s.role !== 'leader') throw new ProposalDropped('not the leader');
  if (to === s.id) return;
  const pr = s.progress.get(to);
  if (!pr || !isVoter(s, to)) throw new ProposalDropped(`${to} is not a voting member`);
  if (s.leadTransferee === to) return;
  if (s.leadTransferee) abortTransfer(s, 'superseded');
  s.leadTransferee = to;
  s.transferElapsed = 0;
  emit(s, { kind: 'transfer-start', to, term: s.term });
  if (pr.match === s.log.lastIndex()) send(s, { type: 'MsgTimeoutNow', to, term: s.term });
  else sendAppend(s, to);
}

/** A transfer not done within an election timeout is given up (the leader accepts proposals again). */
export function tickTransfer(s: RaftState): void {
  if (s.leadTransferee && ++s.transferElapsed >= s.cfg.electionTick) {
    abortTransfer(s, 'timed out');
  }
}

/** The transferee `from` just acknowledged an append: if it now holds the whole log, let it campaign. */
export function maybeTimeoutNow(s: RaftState, from: NodeId, pr: Progress): void {
  if (from === s.leadTransferee && pr.match === s.log.lastIndex()) {
    send(s, { type: 'MsgTimeoutNow', to: from, term: s.term });
  }
}

export function abortTransfer(s: RaftState, reason: string): void {
  emit(s, { kind: 'transfer-abort', to: s.leadTransferee, term: s.term, reason });
  s.leadTransferee = '';
}
