// Snapshots: the application's snapshot with log compaction, and a follower's install of the leader's.

import type { Message, Snapshot } from '../../src-shared/raft-types.js';
import { confAt, confOf } from './conf.js';
import { emit, emitCommit, send, type RaftState } from './state.js';

/**
 * The application has applied everything up to `index` and serialized its state in `data`:
 * keep it as the snapshot for lagging followers and drop log entries up to `compactTo`
 * (≤ index; keeping a margin lets slightly lagging followers catch up from the log).
 */
export function createSnapshot(s: RaftState, index: number, data: string, compactTo = index): Snapshot {
  const term = s.log.term(index);
  if (term === undefined) throw new Error(`cannot snapshot at ${index}: entry not in the log`);
  const at = confAt(s, index);
  const conf =
    at.learners.length > 0 ? { voters: [...at.voters], learners: [...at.learners] } : { voters: [...at.voters] };
  const snap: Snapshot = { meta: { index, term, conf }, data };
  const base = confAt(s, compactTo);
  s.log.compact(snap, compactTo);
  if (compactTo > 0) {
    s.baseConf = base;
    s.confPoints = s.confPoints.filter((p) => p.index > compactTo);
  }
  emit(s, { kind: 'snapshot-created', index, term });
  return snap;
}

/** A follower's side of MsgSnap. */
export function handleSnapshot(s: RaftState, m: Message): void {
  const snap = m.snapshot;
  if (!snap) throw new Error(`MsgSnap from ${m.from} carries no snapshot`);
  const { index, term } = snap.meta;
  if (index <= s.log.committed) {
    send(s, { type: 'MsgAppResp', to: m.from, term: s.term, index: s.log.committed });
    return;
  }
  if (s.log.matchTerm(index, term)) {
    // We already hold the snapshot's last entry: just learn that it is committed.
    s.log.commitTo(index);
    emitCommit(s);
  } else {
    s.log.restore(snap);
    s.baseConf = confOf(snap);
    s.confPoints = [];
    emit(s, { kind: 'snapshot-installed', index, term, from: m.from });
    emit(s, { kind: 'commit', index, term });
  }
  send(s, { type: 'MsgAppResp', to: m.from, term: s.term, index: s.log.lastIndex() });
}
