// Membership changes through the log: conf points tracked as entries are appended or truncated, the leader's Progress set, the safety rules for a change.

import { decodeConfChange, type ConfChange, type Entry } from '../../src-shared/raft-types.js';
import { confAt, config, members, nextConfig, sameConfig } from './conf.js';
import { Progress } from './progress.js';
import { emit, ProposalDropped, type RaftState } from './state.js';
import { abortTransfer } from './transfer.js';

/**
 * Keep one Progress per member (voter or learner) of the latest configuration, and for a
 * member being removed until its removal commits: it must still hear the entry and the commit,
 * so it can learn that it was removed (and answer any client waiting on it).
 */
export function syncProgress(s: RaftState): void {
  const voters = [...new Set([...members(config(s)), ...members(confAt(s, s.log.committed))])];
  for (const id of voters) {
    if (!s.progress.has(id)) {
      const pr = new Progress(s.log.lastIndex() + 1, s.cfg.maxInflight);
      if (id === s.id) pr.match = s.log.stable;
      pr.recentActive = true;
      s.progress.set(id, pr);
    }
  }
  for (const id of [...s.progress.keys()]) {
    if (!voters.includes(id)) s.progress.delete(id);
  }
}

/** The leader's own append of new entries at its term. */
export function appendEntries(s: RaftState, es: { type: Entry['type']; data: string }[]): void {
  const first = s.log.lastIndex() + 1;
  const ents: Entry[] = es.map((e, i) => ({ index: first + i, term: s.term, type: e.type, data: e.data }));
  s.log.append(ents);
  onAppended(s, ents);
}

/** Bookkeeping for newly written entries: membership points and a viewer event. */
export function onAppended(s: RaftState, ents: Entry[]): void {
  const [first] = ents;
  const last = ents.at(-1);
  if (!first || !last) return;
  for (const e of ents) trackConf(s, e, true);
  emit(s, { kind: 'append', first: first.index, last: last.index, term: last.term });
}

/** A conflicting suffix was dropped: so were any membership changes in it. */
export function onTruncate(s: RaftState, from: number): void {
  emit(s, { kind: 'truncate', from });
  const before = config(s);
  s.confPoints = s.confPoints.filter((p) => p.index < from);
  if (!sameConfig(before, config(s))) onConfChanged(s);
}

/** Records the configuration a conf entry brings; `live` when just appended (not on boot). */
export function trackConf(s: RaftState, e: Entry, live = false): void {
  if (e.type !== 'conf') return;
  const cc = decodeConfChange(e.data);
  const prev = config(s);
  const conf = nextConfig(prev, cc);
  s.confPoints.push({ index: e.index, conf });
  if (live) {
    const { voters, learners } = conf;
    const promoted = cc.type === 'add' && prev.learners.includes(cc.id);
    emit(s, {
      kind: 'conf',
      index: e.index,
      change: cc,
      voters,
      ...(learners.length ? { learners } : {}),
      ...(promoted ? { promoted: true } : {}),
    });
    if (!sameConfig(prev, conf)) onConfChanged(s);
  }
}

function onConfChanged(s: RaftState): void {
  if (s.role !== 'leader') return;
  syncProgress(s);
  if (s.leadTransferee && !s.progress.has(s.leadTransferee)) abortTransfer(s, 'transferee removed');
}

/** The rules that keep single-server changes safe (dissertation §4.1 and its erratum). */
export function checkConfChange(s: RaftState, cc: ConfChange): void {
  const lastConf = s.confPoints.at(-1)?.index ?? 0;
  if (lastConf > s.log.committed) throw new ProposalDropped('another membership change is still in progress');
  if (s.log.term(s.log.committed) !== s.term) {
    throw new ProposalDropped('the new leader has not yet committed an entry in its term; retry shortly');
  }
  const { voters, learners } = config(s);
  const known = voters.includes(cc.id) || learners.includes(cc.id);
  // An 'add' of a learner promotes it; of a voter, or an 'add-learner' of any member, is refused.
  if (cc.type === 'add' && voters.includes(cc.id)) throw new ProposalDropped(`${cc.id} is already a member`);
  if (cc.type === 'add-learner' && known) throw new ProposalDropped(`${cc.id} is already a member`);
  if ((cc.type === 'remove' || cc.type === 'update') && !known) throw new ProposalDropped(`${cc.id} is not a member`);
  if (cc.type === 'remove' && voters.length === 1 && voters[0] === cc.id)
    throw new ProposalDropped('cannot remove the last voting member');
}
