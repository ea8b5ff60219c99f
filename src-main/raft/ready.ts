// Ready/Advance: what the node must persist, send and apply, handed out once, and the bookkeeping once it has.

import {
  decodeConfChange,
  type Entry,
  type HardState,
  type Message,
  type RaftEvent,
  type ReadState,
  type Snapshot,
} from '../../src-shared/raft-types.js';
import { maybeCommit } from './replication.js';
import { bcastAppend } from './sender.js';
import { emit, hardState, type RaftState } from './state.js';

export interface Ready {
  /** Set when the hard state changed: persist it. */
  hardState?: HardState;
  /** Append these durably (truncating any stored entries at or after entries[0].index). */
  entries: Entry[];
  /** A snapshot from the leader: persist it (dropping the stored log) and restore the state machine from it. */
  snapshot?: Snapshot;
  /** Send these, after persisting the above. */
  messages: Message[];
  /** Apply these to the state machine, in order, after persisting. */
  committedEntries: Entry[];
  /** Linearizable read points confirmed by a quorum. */
  readStates: ReadState[];
  events: RaftEvent[];
}

function sameHardState(a: HardState, b: HardState): boolean {
  return a.term === b.term && a.vote === b.vote && a.commit === b.commit;
}

export function hasReady(s: RaftState): boolean {
  return (
    s.msgs.length > 0 ||
    s.events.length > 0 ||
    s.readStates.length > 0 ||
    s.log.pendingSnapshot !== null ||
    s.log.unstable().length > 0 ||
    s.log.committed > s.log.applied ||
    !sameHardState(hardState(s), s.prevHard)
  );
}

/** Takes what the node must now persist, send and apply. Call advance(ready) when done. */
export function takeReady(s: RaftState): Ready {
  const hs = hardState(s);
  const rd: Ready = {
    entries: s.log.unstable(),
    messages: s.msgs,
    committedEntries: s.log.pendingSnapshot ? [] : s.log.unapplied(),
    readStates: s.readStates,
    events: s.events,
  };
  if (!sameHardState(hs, s.prevHard)) rd.hardState = hs;
  if (s.log.pendingSnapshot) rd.snapshot = s.log.pendingSnapshot;
  s.msgs = [];
  s.events = [];
  s.readStates = [];
  return rd;
}

/** The node has persisted, sent and applied everything in `rd`. */
export function advance(s: RaftState, rd: Ready): void {
  if (rd.hardState) s.prevHard = rd.hardState;
  if (rd.snapshot) {
    s.log.pendingSnapshot = null;
    s.log.applied = Math.max(s.log.applied, rd.snapshot.meta.index);
  }
  const last = rd.entries.at(-1);
  // Only if that entry is still ours (not truncated meanwhile).
  if (last && s.log.matchTerm(last.index, last.term)) s.log.stable = Math.max(s.log.stable, last.index);
  for (const e of rd.committedEntries) {
    s.log.applied = e.index;
    emit(s, { kind: 'apply', index: e.index });
    if (e.type === 'conf') {
      const cc = decodeConfChange(e.data);
      if (cc.type === 'remove' && cc.id === s.id) emit(s, { kind: 'removed', index: e.index });
    }
  }
  if (s.role === 'leader') {
    // The leader counts its own copy only once it is durable.
    if (maybeCommit(s)) bcastAppend(s);
  }
}
