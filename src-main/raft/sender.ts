// What a leader sends its followers: appends paced by each one's Progress (or the snapshot in their place), and heartbeats.

import type { Entry, NodeId } from '../../src-shared/raft-types.js';
import { emit, send, type RaftState } from './state.js';

/** The longest prefix of `ents` whose data fits in `max` bytes (UTF-16 length as a cheap measure), at least one entry. */
function limitBytes(ents: Entry[] | undefined, max: number): Entry[] | undefined {
  if (!ents) return ents;
  let size = 0;
  for (const [i, e] of ents.entries()) {
    size += e.data.length;
    if (size > max && i > 0) return ents.slice(0, i);
  }
  return ents;
}

export function bcastAppend(s: RaftState): void {
  for (const id of s.progress.keys()) if (id !== s.id) sendAppend(s, id);
}

export function sendAppend(s: RaftState, to: NodeId): void {
  maybeSendAppend(s, to, true);
}

/** Sends the next append (or snapshot) to `to` if it is not paused. */
export function maybeSendAppend(s: RaftState, to: NodeId, sendIfEmpty: boolean): boolean {
  const pr = s.progress.get(to);
  if (!pr || pr.isPaused()) return false;
  const prevIndex = pr.next - 1;
  const prevTerm = s.log.term(prevIndex);
  const ents = limitBytes(s.log.slice(pr.next, pr.next + s.cfg.maxEntriesPerMsg), s.cfg.maxBytesPerMsg);
  if (prevTerm === undefined || ents === undefined) {
    // What the follower needs is compacted away: send the snapshot instead.
    const snap = s.log.snapshot;
    if (!pr.recentActive || !snap) return false;
    send(s, { type: 'MsgSnap', to, term: s.term, snapshot: snap });
    pr.becomeSnapshot(snap.meta.index, s.ticks);
    emit(s, { kind: 'snapshot-sent', to, index: snap.meta.index });
    return true;
  }
  if (ents.length === 0 && !sendIfEmpty) return false;
  send(s, {
    type: 'MsgApp',
    to,
    term: s.term,
    index: prevIndex,
    logTerm: prevTerm,
    entries: ents,
    commit: s.log.committed,
  });
  const last = ents.at(-1);
  if (pr.state === 'replicate' && last) pr.sent(last.index, s.ticks);
  else if (pr.state === 'probe') pr.probeSent = true;
  return true;
}

export function bcastHeartbeat(s: RaftState): void {
  const context = s.pendingReads.at(-1)?.context;
  for (const [id, pr] of s.progress) {
    if (id === s.id) continue;
    // Never tell a follower to commit beyond what it is known to hold.
    send(s, { type: 'MsgHeartbeat', to: id, term: s.term, commit: Math.min(pr.match, s.log.committed), context });
  }
}
