// The configuration (who votes, who only learns) as of the latest conf entry or any log index.

import type { ConfChange, NodeId, Snapshot } from '../../src-shared/raft-types.js';
import type { Config, RaftState } from './state.js';

/** The latest configuration in the log (effective as soon as appended). */
export function config(s: RaftState): Config {
  return s.confPoints.at(-1)?.conf ?? s.baseConf;
}

export function isVoter(s: RaftState, id: NodeId): boolean {
  return config(s).voters.includes(id);
}

export function isLearner(s: RaftState, id: NodeId): boolean {
  return config(s).learners.includes(id);
}

/** A voter or a learner of the latest configuration. */
export function isMember(s: RaftState, id: NodeId): boolean {
  return isVoter(s, id) || isLearner(s, id);
}

/** The configuration in force at `index`. */
export function confAt(s: RaftState, index: number): Config {
  let conf = s.baseConf;
  for (const p of s.confPoints) if (p.index <= index) conf = p.conf;
  return conf;
}

/** The configuration after `cc` (single-server: at most one member changes). */
export function nextConfig(prev: Config, cc: ConfChange): Config {
  const without = (xs: NodeId[]) => xs.filter((x) => x !== cc.id);
  switch (cc.type) {
    case 'add':
      return prev.voters.includes(cc.id) ? prev : { voters: [...prev.voters, cc.id], learners: without(prev.learners) };
    case 'add-learner':
      return prev.voters.includes(cc.id) || prev.learners.includes(cc.id)
        ? prev
        : { voters: prev.voters, learners: [...prev.learners, cc.id] };
    case 'remove':
      return { voters: without(prev.voters), learners: without(prev.learners) };
    case 'update':
      return prev;
  }
}

export function confOf(snap: Snapshot | null): Config {
  return snap
    ? { voters: [...snap.meta.conf.voters], learners: [...(snap.meta.conf.learners ?? [])] }
    : { voters: [], learners: [] };
}

function sameSet(a: NodeId[], b: NodeId[]): boolean {
  return a.length === b.length && a.every((x) => b.includes(x));
}

export function sameConfig(a: Config, b: Config): boolean {
  return sameSet(a.voters, b.voters) && sameSet(a.learners, b.learners);
}

export function members(c: Config): NodeId[] {
  return [...c.voters, ...c.learners];
}
