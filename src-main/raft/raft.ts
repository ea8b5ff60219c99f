// Raft as a pure state machine, in the manner of etcd-io/raft: no I/O, no timers, no clock.
// The node drives it with tick() and step(message), then takes a Ready (what to persist,
// send and apply, plus events for viewers), does exactly that in that order, and calls
// advance(ready).
//
// Implemented: elections with randomized timeouts, pre-vote and check-quorum (with leader
// leases), log replication with fast conflict back-off and flow control, commitment of
// current-term entries only, single-server membership changes through the log (effective
// when appended, Raft dissertation §4.1; the change's own entry commits under the old or the new
// configuration, as etcd-io/raft commits it under the old one), learners (members that replicate
// but neither vote nor count for quorum, promoted by an 'add'), snapshots and compaction, leader
// transfer (MsgTimeoutNow), and read-index linearizable reads.
//
// This file is the core's public face, the class `Raft`; the rules live in plain functions over
// one RaftState (state.ts), one module per concern:
//   step.ts        tick() and step(): term rules, then dispatch by role
//   election.ts    campaigns, votes, pre-vote, leader lease, check-quorum
//   roles.ts       becoming follower / pre-candidate / candidate / leader
//   replication.ts proposals, log matching (MsgApp/MsgAppResp), commitment
//   sender.ts      the leader's appends (paced by progress.ts) and heartbeats
//   membership.ts  conf entries tracked in the log, the leader's Progress set, change rules
//   conf.ts        the configuration as of any index
//   snapshot.ts    snapshot creation with compaction, and install on a follower
//   read-index.ts  linearizable read points
//   transfer.ts    leader transfer
//   ready.ts       Ready and advance
//   bounds.ts      what terms and indexes a message may carry
//   log.ts         the in-memory log

import {
  encodeConfChange,
  type ConfChange,
  type Entry,
  type HardState,
  type Message,
  type NodeId,
  type RaftEvent,
  type Role,
  type Snapshot,
} from '../../src-shared/raft-types.js';
import { confOf, config, isLearner, isMember, isVoter } from './conf.js';
import { campaign } from './election.js';
import { RaftLog } from './log.js';
import { trackConf } from './membership.js';
import type { Progress } from './progress.js';
import { readIndex } from './read-index.js';
import { advance, hasReady, takeReady, type Ready } from './ready.js';
import { proposeEntry } from './replication.js';
import { resetRandomizedElectionTimeout } from './roles.js';
import { createSnapshot } from './snapshot.js';
import { hardState, type Config, type RaftBootState, type RaftConfig, type RaftState } from './state.js';
import { step, tick } from './step.js';
import { transferLeader } from './transfer.js';

export { MAX_TERM_OR_INDEX, MAX_TERM_STEP, maxAcceptableTerm } from './bounds.js';
export { ProposalDropped, quorum, type Config, type RaftBootState, type RaftConfig } from './state.js';
export type { Ready } from './ready.js';

/** Bootstrap log of a new cluster: one conf entry per initial member, all at term 1, committed. */
export function bootstrapState(voters: NodeId[], context?: (id: NodeId) => string): RaftBootState {
  const entries: Entry[] = voters.map((id, i) => ({
    index: i + 1,
    term: 1,
    type: 'conf',
    data: encodeConfChange({ type: 'add', id, context: context?.(id) }),
  }));
  return { hardState: { term: 1, vote: '', commit: entries.length }, snapshot: null, entries };
}

export class Raft {
  private readonly s: RaftState;

  constructor(config: RaftConfig, boot: RaftBootState) {
    const cfg = {
      preVote: true,
      checkQuorum: true,
      maxEntriesPerMsg: 256,
      maxBytesPerMsg: 1024 * 1024,
      maxInflight: 256,
      ...config,
    };
    if (cfg.electionTick <= cfg.heartbeatTick) {
      throw new Error(`electionTick (${cfg.electionTick}) must exceed heartbeatTick (${cfg.heartbeatTick})`);
    }
    const log = new RaftLog(boot.snapshot, boot.entries, boot.hardState.commit);
    const s: RaftState = {
      id: config.id,
      term: boot.hardState.term,
      vote: boot.hardState.vote,
      role: 'follower',
      lead: '',
      log,
      cfg,
      electionElapsed: 0,
      heartbeatElapsed: 0,
      randomizedElectionTimeout: 0,
      ticks: 0,
      votes: new Map(),
      progress: new Map(),
      leadTransferee: '',
      transferElapsed: 0,
      baseConf: confOf(boot.snapshot),
      confPoints: [],
      pendingReads: [],
      deferredReads: [],
      msgs: [],
      events: [],
      readStates: [],
      prevHard: { term: 0, vote: '', commit: 0 },
      lastEmittedCommit: 0,
    };
    for (const e of log.all()) trackConf(s, e);
    s.prevHard = hardState(s);
    resetRandomizedElectionTimeout(s);
    this.s = s;
  }

  get id(): NodeId {
    return this.s.id;
  }

  get term(): number {
    return this.s.term;
  }

  /** Writable as it always was (raft.test.ts stages a candidate a term behind with it). */
  set term(t: number) {
    this.s.term = t;
  }

  get vote(): NodeId {
    return this.s.vote;
  }

  get role(): Role {
    return this.s.role;
  }

  get lead(): NodeId {
    return this.s.lead;
  }

  get log(): RaftLog {
    return this.s.log;
  }

  // ---------------------------------------------------------------- inputs

  tick(): void {
    tick(this.s);
  }

  /** Start an election now (as if the election timer fired), if this node may. */
  campaign(): void {
    campaign(this.s);
  }

  propose(data: string): void {
    proposeEntry(this.s, { type: 'normal', data });
  }

  proposeConfChange(cc: ConfChange): void {
    proposeEntry(this.s, { type: 'conf', data: encodeConfChange(cc) });
  }

  /** Hand leadership to `to` once its log is caught up (only on the leader). */
  transferLeader(to: NodeId): void {
    transferLeader(this.s, to);
  }

  /** Ask for a linearizable read point; the answer comes as a ReadState with `context`. */
  readIndex(context: string): void {
    readIndex(this.s, context);
  }

  step(m: Message): void {
    step(this.s, m);
  }

  // ---------------------------------------------------------------- Ready / advance

  hasReady(): boolean {
    return hasReady(this.s);
  }

  /** Takes what the node must now persist, send and apply. Call advance(ready) when done. */
  ready(): Ready {
    return takeReady(this.s);
  }

  /** The node has persisted, sent and applied everything in `rd`. */
  advance(rd: Ready): void {
    advance(this.s, rd);
  }

  /**
   * The application has applied everything up to `index` and serialized its state in `data`:
   * keep it as the snapshot for lagging followers and drop log entries up to `compactTo`
   * (≤ index; keeping a margin lets slightly lagging followers catch up from the log).
   */
  createSnapshot(index: number, data: string, compactTo = index): Snapshot {
    return createSnapshot(this.s, index, data, compactTo);
  }

  // ---------------------------------------------------------------- views

  hardState(): HardState {
    return hardState(this.s);
  }

  /** The latest configuration in the log (effective as soon as appended). */
  config(): Config {
    return config(this.s);
  }

  /** The voters of the latest configuration in the log. */
  voters(): NodeId[] {
    return this.config().voters;
  }

  learners(): NodeId[] {
    return this.config().learners;
  }

  isVoter(id: NodeId = this.id): boolean {
    return isVoter(this.s, id);
  }

  isLearner(id: NodeId = this.id): boolean {
    return isLearner(this.s, id);
  }

  /** A voter or a learner of the latest configuration. */
  isMember(id: NodeId): boolean {
    return isMember(this.s, id);
  }

  /** Leader's view of each follower, for viewers and tests. */
  progressOf(id: NodeId): Readonly<Progress> | undefined {
    return this.s.progress.get(id);
  }

  get transferee(): NodeId {
    return this.s.leadTransferee;
  }

  /** This term's randomized election timeout, in ticks (for viewers drawing the timer). */
  electionTimeoutTicks(): number {
    return this.s.randomizedElectionTimeout;
  }

  /** Ticks since the election timer was last reset (for viewers drawing the timer). */
  electionElapsedTicks(): number {
    return this.s.electionElapsed;
  }

  // ---------------------------------------------------------------- test hooks
  // Read through a cast by test/raft/interaction-env.ts, as etcd-io/raft's export_test.go
  // exposes SetRandomizedElectionTimeout: not part of the API.

  /** Events not yet handed out by ready(). */
  private get events(): RaftEvent[] {
    return this.s.events;
  }

  private get randomizedElectionTimeout(): number {
    return this.s.randomizedElectionTimeout;
  }

  /** This term's timeout only: the next reset draws a new one. */
  private set randomizedElectionTimeout(t: number) {
    this.s.randomizedElectionTimeout = t;
  }
}
