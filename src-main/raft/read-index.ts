// Read index (§6.4): a read point is released once a quorum confirms, by heartbeat, that the leader still leads.

import type { NodeId } from '../../src-shared/raft-types.js';
import { config, isVoter } from './conf.js';
import { bcastHeartbeat } from './sender.js';
import { ProposalDropped, quorum, send, type PendingRead, type RaftState } from './state.js';

/** Ask for a linearizable read point; the answer comes as a ReadState with `context`. */
export function readIndex(s: RaftState, context: string): void {
  if (s.role === 'leader') leaderRead(s, context, s.id);
  else if (s.lead) send(s, { type: 'MsgReadIndex', to: s.lead, term: 0, context });
  else throw new ProposalDropped('no leader');
}

export function leaderRead(s: RaftState, context: string, from: NodeId): void {
  if (s.log.term(s.log.committed) !== s.term) {
    // Until it commits an entry of its term, a new leader does not know what is committed.
    s.deferredReads.push({ context, from });
    return;
  }
  const read: PendingRead = { context, index: s.log.committed, from, acks: new Set([s.id]) };
  if (!isVoter(s, s.id) || quorum(config(s).voters.length) > 1) {
    s.pendingReads.push(read);
    bcastHeartbeat(s);
  } else {
    releaseRead(s, read);
  }
}

/** Reads deferred until this leader committed an entry of its term: serve them now that it has. */
export function serveDeferredReads(s: RaftState): void {
  if (s.log.term(s.log.committed) === s.term && s.deferredReads.length) {
    const reads = s.deferredReads;
    s.deferredReads = [];
    for (const r of reads) leaderRead(s, r.context, r.from);
  }
}

/** `from` answered the heartbeat that carried `context`. */
export function ackRead(s: RaftState, context: string, from: NodeId): void {
  const at = s.pendingReads.findIndex((r) => r.context === context);
  const read = s.pendingReads[at];
  if (!read) return;
  const voters = config(s).voters;
  read.acks.add(from);
  const acked = voters.filter((v) => read.acks.has(v)).length;
  if (acked < quorum(voters.length)) return;
  // A quorum confirmed leadership after every earlier request too: release them in order.
  for (const r of s.pendingReads.splice(0, at + 1)) releaseRead(s, r);
}

function releaseRead(s: RaftState, r: PendingRead): void {
  if (r.from === s.id) s.readStates.push({ index: r.index, context: r.context });
  else send(s, { type: 'MsgReadIndexResp', to: r.from, term: s.term, index: r.index, context: r.context });
}
