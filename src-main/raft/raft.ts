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

import {
  MAX_TERM_OR_INDEX,
  decodeConfChange,
  encodeConfChange,
  type ConfChange,
  type Entry,
  type HardState,
  type Message,
  type MessageType,
  type NodeId,
  type RaftEvent,
  type ReadState,
  type Role,
  type Snapshot,
  type VoteRefusal,
} from '../../src-shared/raft-types.js';
import { RaftLog } from './log.js';
import { Progress } from './progress.js';

export interface RaftConfig {
  id: NodeId;
  /** Ticks without hearing from a leader before an election (randomized in [e, 2e)). */
  electionTick: number;
  /** Ticks between a leader's heartbeats. */
  heartbeatTick: number;
  /** A seeded source in [0, 1): the only randomness the core uses. */
  random: () => number;
  preVote?: boolean;
  checkQuorum?: boolean;
  /** Most entries in one MsgApp. */
  maxEntriesPerMsg?: number;
  /**
   * Most entry data in one MsgApp (etcd's MaxSizePerMsg, 1 MiB), but always at least one
   * entry: what a peer must buffer per message stays bounded whatever clients write.
   */
  maxBytesPerMsg?: number;
  /** Most unacknowledged appends in flight to one follower. */
  maxInflight?: number;
}

/** What a node restarts from: its durable state. */
export interface RaftBootState {
  hardState: HardState;
  snapshot: Snapshot | null;
  entries: Entry[];
}

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

/** A proposal could not be accepted; the reason is for the client. */
export class ProposalDropped extends Error {}

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

const TRANSFER = 'transfer';

/**
 * Bounds on what a message may carry, so that no message can wedge the cluster.
 *
 * etcd's terms and indexes are uint64: a term of 2^53 is unremarkable there. Ours are JS
 * numbers, exact only up to 2^53-1; a term there cannot be incremented (2^53 + 1 === 2^53),
 * so a node that took it could never win an election again, and the term is persisted.
 * (A uint64 has the same wall at 2^64-1, out of an honest cluster's reach.) A fixed ceiling
 * on message terms is not enough: a node that took a term at the ceiling would campaign at
 * ceiling + 1, which its peers must accept. So the rule is relative: a message's term may be
 * anything up to MAX_TERM_OR_INDEX (2^52: far beyond any honest cluster, ~140,000 years of an
 * election a millisecond), and above that at most MAX_TERM_STEP past our own term (a node
 * that fell behind the others' elections). One message moves a term at most to 2^52 or by
 * 2^16; the ceiling at 2^53 is then 2^36 deliberate messages away, not one.
 * Indexes only ever grow one entry at a time: they are simply capped at 2^52.
 * (MAX_TERM_OR_INDEX lives in src-shared/raft-types.ts: the peer message schema bounds indexes with it.)
 */
export { MAX_TERM_OR_INDEX };
export const MAX_TERM_STEP = 2 ** 16;

/** The highest term a message may carry to a node whose term is `ours`. */
export function maxAcceptableTerm(ours: number): number {
  return Math.max(ours, MAX_TERM_OR_INDEX) + MAX_TERM_STEP;
}

/** The longest prefix of `ents` whose data fits in `max` bytes (UTF-16 length as a cheap measure), at least one entry. */
function limitBytes(ents: Entry[] | undefined, max: number): Entry[] | undefined {
  if (!ents) return ents;
  let size = 0;
  for (let i = 0; i < ents.length; i++) {
    size += ents[i].data.length;
    if (size > max && i > 0) return ents.slice(0, i);
  }
  return ents;
}

function withinBounds(m: Message, ours: number): boolean {
  return (
    m.term <= maxAcceptableTerm(ours) &&
    [m.index ?? 0, m.commit ?? 0, m.rejectHint ?? 0].every((v) => v <= MAX_TERM_OR_INDEX) &&
    (m.logTerm ?? 0) <= Math.max(m.term, ours)
  );
}

/** Who votes, and who only replicates. */
export interface Config {
  voters: NodeId[];
  learners: NodeId[];
}

interface ConfPoint {
  index: number;
  conf: Config;
}

/** The configuration after `cc` (single-server: at most one member changes). */
function nextConfig(prev: Config, cc: ConfChange): Config {
  const without = (xs: NodeId[]) => xs.filter((x) => x !== cc.id);
  switch (cc.type) {
    case 'add':
      return prev.voters.includes(cc.id) ? prev : { voters: [...prev.voters, cc.id], learners: without(prev.learners) };
    case 'add-learner':
      return prev.voters.includes(cc.id) || prev.learners.includes(cc.id) ? prev : { voters: prev.voters, learners: [...prev.learners, cc.id] };
    case 'remove':
      return { voters: without(prev.voters), learners: without(prev.learners) };
    case 'update':
      return prev;
  }
}

function confOf(snap: Snapshot | null): Config {
  return snap ? { voters: [...snap.meta.conf.voters], learners: [...(snap.meta.conf.learners ?? [])] } : { voters: [], learners: [] };
}

interface PendingRead {
  context: string;
  index: number;
  from: NodeId;
  acks: Set<NodeId>;
}

export class Raft {
  readonly id: NodeId;
  term = 0;
  vote: NodeId = '';
  role: Role = 'follower';
  lead: NodeId = '';
  readonly log: RaftLog;

  private readonly cfg: Required<RaftConfig>;
  private electionElapsed = 0;
  private heartbeatElapsed = 0;
  private randomizedElectionTimeout = 0;
  /** Monotonic tick count, for pacing (never for safety). */
  private ticks = 0;
  private votes = new Map<NodeId, boolean>();
  private progress = new Map<NodeId, Progress>();
  private leadTransferee: NodeId = '';
  private transferElapsed = 0;

  /** The configuration as of the compaction point, then one point per conf entry in the log. */
  private baseConf: Config;
  private confPoints: ConfPoint[] = [];

  private pendingReads: PendingRead[] = [];
  /** Read requests that arrived before this leader committed an entry of its term. */
  private deferredReads: { context: string; from: NodeId }[] = [];

  private msgs: Message[] = [];
  private events: RaftEvent[] = [];
  private readStates: ReadState[] = [];
  private prevHard: HardState;

  constructor(config: RaftConfig, boot: RaftBootState) {
    this.cfg = { preVote: true, checkQuorum: true, maxEntriesPerMsg: 256, maxBytesPerMsg: 1024 * 1024, maxInflight: 256, ...config };
    if (this.cfg.electionTick <= this.cfg.heartbeatTick) {
      throw new Error(`electionTick (${this.cfg.electionTick}) must exceed heartbeatTick (${this.cfg.heartbeatTick})`);
    }
    this.id = config.id;
    this.log = new RaftLog(boot.snapshot, boot.entries, boot.hardState.commit);
    this.term = boot.hardState.term;
    this.vote = boot.hardState.vote;
    this.baseConf = confOf(boot.snapshot);
    for (const e of this.log.all()) this.trackConf(e);
    this.prevHard = this.hardState();
    this.resetRandomizedElectionTimeout();
  }

  // ---------------------------------------------------------------- inputs

  tick(): void {
    this.ticks++;
    if (this.role === 'leader') this.tickLeader();
    else this.tickElection();
  }

  /** Start an election now (as if the election timer fired), if this node may. */
  campaign(): void {
    if (this.role !== 'leader' && this.promotable()) this.startElection(this.cfg.preVote ? 'pre' : 'real');
  }

  propose(data: string): void {
    this.proposeEntry({ type: 'normal', data });
  }

  proposeConfChange(cc: ConfChange): void {
    this.proposeEntry({ type: 'conf', data: encodeConfChange(cc) });
  }

  /** Hand leadership to `to` once its log is caught up (only on the leader). */
  transferLeader(to: NodeId): void {
    if (this.role !== 'leader') throw new ProposalDropped('not the leader');
    if (to === this.id) return;
    const pr = this.progress.get(to);
    if (!pr || !this.isVoter(to)) throw new ProposalDropped(`${to} is not a voting member`);
    if (this.leadTransferee === to) return;
    if (this.leadTransferee) this.abortTransfer('superseded');
    this.leadTransferee = to;
    this.transferElapsed = 0;
    this.emit({ kind: 'transfer-start', to, term: this.term });
    if (pr.match === this.log.lastIndex()) this.send({ type: 'MsgTimeoutNow', to, term: this.term });
    else this.sendAppend(to);
  }

  /** Ask for a linearizable read point; the answer comes as a ReadState with `context`. */
  readIndex(context: string): void {
    if (this.role === 'leader') this.leaderRead(context, this.id);
    else if (this.lead) this.send({ type: 'MsgReadIndex', to: this.lead, term: 0, context });
    else throw new ProposalDropped('no leader');
  }

  step(m: Message): void {
    // Out of bounds: dropped here too, for messages delivered by hand (step mode).
    if (!withinBounds(m, this.term)) return;
    // MsgProp and MsgReadIndex are termless: a follower forwards them on a client's behalf.
    if (m.term > this.term) {
      if (m.type === 'MsgVote' || m.type === 'MsgPreVote') {
        const inLease = this.cfg.checkQuorum && this.lead !== '' && this.electionElapsed < this.cfg.electionTick;
        if (inLease && m.context !== TRANSFER) {
          // We heard from a live leader recently: a disruptive candidate is ignored (§9.6).
          this.emit({ kind: 'vote', candidate: m.from, term: m.term, pre: m.type === 'MsgPreVote', granted: false, reason: 'leader-lease' });
          return;
        }
      }
      if (m.type === 'MsgPreVote' || (m.type === 'MsgPreVoteResp' && !m.reject)) {
        // A pre-vote (or a granted one) is about a future term; it must not change ours.
      } else {
        const lead = m.type === 'MsgApp' || m.type === 'MsgHeartbeat' || m.type === 'MsgSnap' ? m.from : '';
        this.becomeFollower(m.term, lead);
      }
    } else if (m.term < this.term && m.term !== 0) {
      if (m.type === 'MsgApp' || m.type === 'MsgHeartbeat') {
        // A stale leader (e.g. back from a partition): tell it our term so it steps down.
        this.send({ type: 'MsgAppResp', to: m.from, term: this.term });
      } else if (m.type === 'MsgPreVote') {
        this.refuseVote(m, 'stale-term');
      }
      return;
    }

    if (m.type === 'MsgVote' || m.type === 'MsgPreVote') {
      this.handleVoteRequest(m);
      return;
    }
    switch (this.role) {
      case 'leader':
        return this.stepLeader(m);
      case 'candidate':
      case 'precandidate':
        return this.stepCandidate(m);
      case 'follower':
        return this.stepFollower(m);
    }
  }

  // ---------------------------------------------------------------- Ready / advance

  hasReady(): boolean {
    return (
      this.msgs.length > 0 ||
      this.events.length > 0 ||
      this.readStates.length > 0 ||
      this.log.pendingSnapshot !== null ||
      this.log.unstable().length > 0 ||
      this.log.committed > this.log.applied ||
      !sameHardState(this.hardState(), this.prevHard)
    );
  }

  /** Takes what the node must now persist, send and apply. Call advance(ready) when done. */
  ready(): Ready {
    const hs = this.hardState();
    const rd: Ready = {
      entries: this.log.unstable(),
      messages: this.msgs,
      committedEntries: this.log.pendingSnapshot ? [] : this.log.unapplied(),
      readStates: this.readStates,
      events: this.events,
    };
    if (!sameHardState(hs, this.prevHard)) rd.hardState = hs;
    if (this.log.pendingSnapshot) rd.snapshot = this.log.pendingSnapshot;
    this.msgs = [];
    this.events = [];
    this.readStates = [];
    return rd;
  }

  /** The node has persisted, sent and applied everything in `rd`. */
  advance(rd: Ready): void {
    if (rd.hardState) this.prevHard = rd.hardState;
    if (rd.snapshot) {
      this.log.pendingSnapshot = null;
      this.log.applied = Math.max(this.log.applied, rd.snapshot.meta.index);
    }
    if (rd.entries.length > 0) {
      const last = rd.entries[rd.entries.length - 1];
      // Only if that entry is still ours (not truncated meanwhile).
      if (this.log.matchTerm(last.index, last.term)) this.log.stable = Math.max(this.log.stable, last.index);
    }
    for (const e of rd.committedEntries) {
      this.log.applied = e.index;
      this.emit({ kind: 'apply', index: e.index });
      if (e.type === 'conf') {
        const cc = decodeConfChange(e.data);
        if (cc.type === 'remove' && cc.id === this.id) this.emit({ kind: 'removed', index: e.index });
      }
    }
    if (this.role === 'leader') {
      // The leader counts its own copy only once it is durable.
      if (this.maybeCommit()) this.bcastAppend();
    }
  }

  /**
   * The application has applied everything up to `index` and serialized its state in `data`:
   * keep it as the snapshot for lagging followers and drop log entries up to `compactTo`
   * (≤ index; keeping a margin lets slightly lagging followers catch up from the log).
   */
  createSnapshot(index: number, data: string, compactTo = index): Snapshot {
    const term = this.log.term(index);
    if (term === undefined) throw new Error(`cannot snapshot at ${index}: entry not in the log`);
    const at = this.confAt(index);
    const conf = at.learners.length > 0 ? { voters: [...at.voters], learners: [...at.learners] } : { voters: [...at.voters] };
    const snap: Snapshot = { meta: { index, term, conf }, data };
    const base = this.confAt(compactTo);
    this.log.compact(snap, compactTo);
    if (compactTo > 0) {
      this.baseConf = base;
      this.confPoints = this.confPoints.filter((p) => p.index > compactTo);
    }
    this.emit({ kind: 'snapshot-created', index, term });
    return snap;
  }

  // ---------------------------------------------------------------- views

  hardState(): HardState {
    return { term: this.term, vote: this.vote, commit: this.log.committed };
  }

  /** The latest configuration in the log (effective as soon as appended). */
  config(): Config {
    return this.confPoints.length ? this.confPoints[this.confPoints.length - 1].conf : this.baseConf;
  }

  /** The voters of the latest configuration in the log. */
  voters(): NodeId[] {
    return this.config().voters;
  }

  learners(): NodeId[] {
    return this.config().learners;
  }

  isVoter(id: NodeId = this.id): boolean {
    return this.voters().includes(id);
  }

  isLearner(id: NodeId = this.id): boolean {
    return this.learners().includes(id);
  }

  /** A voter or a learner of the latest configuration. */
  isMember(id: NodeId): boolean {
    return this.isVoter(id) || this.isLearner(id);
  }

  /** Leader's view of each follower, for viewers and tests. */
  progressOf(id: NodeId): Readonly<Progress> | undefined {
    return this.progress.get(id);
  }

  get transferee(): NodeId {
    return this.leadTransferee;
  }

  // ---------------------------------------------------------------- timers

  private tickElection(): void {
    this.electionElapsed++;
    if (this.promotable() && this.electionElapsed >= this.randomizedElectionTimeout) {
      this.electionElapsed = 0;
      this.startElection(this.cfg.preVote ? 'pre' : 'real');
    }
  }

  private tickLeader(): void {
    this.heartbeatElapsed++;
    this.electionElapsed++;
    if (this.leadTransferee && ++this.transferElapsed >= this.cfg.electionTick) {
      this.abortTransfer('timed out');
    }
    if (this.electionElapsed >= this.cfg.electionTick) {
      this.electionElapsed = 0;
      if (this.cfg.checkQuorum && !this.checkQuorum()) return;
    }
    for (const [id, pr] of this.progress) {
      // A snapshot that got no answer within an election timeout is presumed lost: probe again.
      if (pr.state === 'snapshot' && this.ticks - pr.snapshotSentAt >= this.cfg.electionTick && id !== this.id) {
        pr.becomeProbe();
      }
    }
    if (this.heartbeatElapsed >= this.cfg.heartbeatTick) {
      this.heartbeatElapsed = 0;
      this.bcastHeartbeat();
    }
  }

  /** §6.2 check-quorum: a leader that has not heard from a majority in an election timeout steps down. */
  private checkQuorum(): boolean {
    const voters = this.voters();
    let active = 0;
    for (const id of voters) {
      const pr = this.progress.get(id);
      if (id === this.id || pr?.recentActive) active++;
      if (pr && id !== this.id) pr.recentActive = false;
    }
    const needed = quorum(voters.length);
    if (active >= needed) return true;
    this.emit({ kind: 'check-quorum-lost', term: this.term, active, needed });
    this.becomeFollower(this.term, '');
    return false;
  }

  /** This term's randomized election timeout, in ticks (for viewers drawing the timer). */
  electionTimeoutTicks(): number {
    return this.randomizedElectionTimeout;
  }

  /** Ticks since the election timer was last reset (for viewers drawing the timer). */
  electionElapsedTicks(): number {
    return this.electionElapsed;
  }

  private resetRandomizedElectionTimeout(): void {
    const e = this.cfg.electionTick;
    this.randomizedElectionTimeout = e + Math.floor(this.cfg.random() * e);
  }

  /** Only a voter of the latest configuration may campaign; a removed or joining node stays quiet. */
  private promotable(): boolean {
    return this.isVoter(this.id) && this.log.pendingSnapshot === null;
  }

  // ---------------------------------------------------------------- roles

  private reset(term: number): void {
    if (this.term !== term) {
      this.emit({ kind: 'term', from: this.term, to: term });
      this.term = term;
      this.vote = '';
    }
    this.lead = '';
    this.electionElapsed = 0;
    this.heartbeatElapsed = 0;
    this.resetRandomizedElectionTimeout();
    this.votes.clear();
    this.progress.clear();
    this.leadTransferee = '';
    this.pendingReads = [];
    this.deferredReads = [];
  }

  private becomeFollower(term: number, lead: NodeId): void {
    const changed = this.role !== 'follower' || this.term !== term || this.lead !== lead;
    this.reset(term);
    this.role = 'follower';
    this.lead = lead;
    if (changed) this.emit({ kind: 'role', role: 'follower', term, lead });
  }

  private becomePreCandidate(): void {
    // A pre-candidate keeps its term and vote: it only asks whether it could win.
    this.votes.clear();
    this.progress.clear();
    this.lead = '';
    this.role = 'precandidate';
    this.emit({ kind: 'role', role: 'precandidate', term: this.term, lead: '' });
  }

  private becomeCandidate(): void {
    this.reset(this.term + 1);
    this.vote = this.id;
    this.role = 'candidate';
    this.emit({ kind: 'role', role: 'candidate', term: this.term, lead: '' });
  }

  private becomeLeader(): void {
    this.reset(this.term);
    this.role = 'leader';
    this.lead = this.id;
    this.syncProgress();
    this.emit({ kind: 'role', role: 'leader', term: this.term, lead: this.id });
    // A no-op in the new term lets the leader commit entries from earlier terms (§5.4.2).
    this.appendEntries([{ type: 'normal', data: '' }]);
  }

  /**
   * Keep one Progress per member (voter or learner) of the latest configuration, and for a
   * member being removed until its removal commits: it must still hear the entry and the commit,
   * so it can learn that it was removed (and answer any client waiting on it).
   */
  private syncProgress(): void {
    const voters = [...new Set([...members(this.config()), ...members(this.confAt(this.log.committed))])];
    for (const id of voters) {
      if (!this.progress.has(id)) {
        const pr = new Progress(this.log.lastIndex() + 1, this.cfg.maxInflight);
        if (id === this.id) pr.match = this.log.stable;
        pr.recentActive = true;
        this.progress.set(id, pr);
      }
    }
    for (const id of [...this.progress.keys()]) {
      if (!voters.includes(id)) this.progress.delete(id);
    }
  }

  // ---------------------------------------------------------------- elections

  /** 'pre' asks first whether we could win (§9.6); 'transfer' is forced by MsgTimeoutNow. */
  private startElection(kind: 'pre' | 'real' | 'transfer'): void {
    const pre = kind === 'pre';
    this.emit({ kind: 'election-timeout', term: this.term, pre });
    if (pre) this.becomePreCandidate();
    else this.becomeCandidate();
    const voteTerm = pre ? this.term + 1 : this.term;
    if (this.recordVote(this.id, true, voteTerm, pre)) return;
    const type: MessageType = pre ? 'MsgPreVote' : 'MsgVote';
    for (const id of this.voters()) {
      if (id === this.id) continue;
      this.send({
        type,
        to: id,
        term: voteTerm,
        index: this.log.lastIndex(),
        logTerm: this.log.lastTerm(),
        context: kind === 'transfer' ? TRANSFER : undefined,
      });
    }
  }

  /** Counts a vote; returns true if it decided the election (won or lost). */
  private recordVote(from: NodeId, granted: boolean, term: number, pre: boolean): boolean {
    if (!this.votes.has(from)) this.votes.set(from, granted);
    const voters = this.voters();
    let yes = 0;
    let no = 0;
    for (const id of voters) {
      const v = this.votes.get(id);
      if (v === true) yes++;
      else if (v === false) no++;
    }
    const needed = quorum(voters.length);
    this.emit({ kind: 'vote-result', term, pre, from, granted, votes: yes, needed });
    if (yes >= needed) {
      if (pre) this.startElection('real');
      else {
        this.becomeLeader();
        this.bcastAppend();
      }
      return true;
    }
    if (no > voters.length - needed) {
      this.becomeFollower(this.term, '');
      return true;
    }
    return false;
  }

  private handleVoteRequest(m: Message): void {
    const pre = m.type === 'MsgPreVote';
    // We may vote for m.from if we already did this term, or have not voted and know no
    // leader; a pre-vote for a later term is always considered.
    const canVote = this.vote === m.from || (this.vote === '' && this.lead === '') || (pre && m.term > this.term);
    if (!canVote) return this.refuseVote(m, 'already-voted');
    if (!this.log.isUpToDate(m.index ?? 0, m.logTerm ?? 0)) return this.refuseVote(m, 'log-behind');
    this.emit({ kind: 'vote', candidate: m.from, term: m.term, pre, granted: true });
    this.send({ type: pre ? 'MsgPreVoteResp' : 'MsgVoteResp', to: m.from, term: m.term });
    if (!pre) {
      this.electionElapsed = 0;
      this.vote = m.from;
    }
  }

  private refuseVote(m: Message, reason: VoteRefusal): void {
    const pre = m.type === 'MsgPreVote';
    this.emit({ kind: 'vote', candidate: m.from, term: m.term, pre, granted: false, reason });
    this.send({ type: pre ? 'MsgPreVoteResp' : 'MsgVoteResp', to: m.from, term: this.term, reject: true });
  }

  // ---------------------------------------------------------------- per-role message handling

  private stepLeader(m: Message): void {
    const pr = this.progress.get(m.from);
    switch (m.type) {
      case 'MsgProp':
        try {
          this.proposeEntry(m.entries?.[0] ?? { type: 'normal', data: '' });
        } catch (err) {
          if (!(err instanceof ProposalDropped)) throw err;
        }
        return;
      case 'MsgReadIndex':
        return this.leaderRead(m.context ?? '', m.from);
      case 'MsgAppResp':
        if (pr) this.handleAppendResponse(m, pr);
        return;
      case 'MsgHeartbeatResp':
        if (pr) this.handleHeartbeatResponse(m, pr);
        return;
      default:
        return;
    }
  }

  private handleAppendResponse(m: Message, pr: Progress): void {
    pr.recentActive = true;
    if (m.reject) {
      let hint = m.rejectHint ?? 0;
      if ((m.logTerm ?? 0) > 0) hint = this.log.findConflictByTerm(hint, m.logTerm!);
      if (pr.maybeDecrTo(m.index ?? 0, hint)) {
        if (pr.state === 'replicate') pr.becomeProbe();
        this.sendAppend(m.from);
      }
      return;
    }
    const wasPaused = pr.isPaused();
    const index = m.index ?? 0;
    if (!pr.maybeUpdate(index)) {
      if (wasPaused && !pr.isPaused()) this.sendAppend(m.from);
      return;
    }
    if (pr.state === 'probe') pr.becomeReplicate();
    else if (pr.state === 'snapshot' && pr.match >= pr.pendingSnapshot) {
      pr.becomeProbe();
      pr.becomeReplicate();
    } else if (pr.state === 'replicate') pr.freeUpTo(index);

    if (this.maybeCommit()) this.bcastAppend();
    else if (wasPaused) this.sendAppend(m.from);
    while (this.role === 'leader' && this.maybeSendAppend(m.from, false)) {
      /* stream what is left, within the inflight window */
    }
    if (m.from === this.leadTransferee && pr.match === this.log.lastIndex()) {
      this.send({ type: 'MsgTimeoutNow', to: m.from, term: this.term });
    }
  }

  private handleHeartbeatResponse(m: Message, pr: Progress): void {
    pr.recentActive = true;
    pr.probeSent = false;
    if (pr.state === 'replicate') {
      // An append unanswered for two heartbeat rounds was probably lost: fall back to probing.
      const oldest = pr.oldestInflight();
      if (oldest !== undefined && this.ticks - oldest > 2 * this.cfg.heartbeatTick) pr.becomeProbe();
    }
    if (pr.match < this.log.lastIndex()) this.sendAppend(m.from);
    if (m.context) this.ackRead(m.context, m.from);
  }

  private stepCandidate(m: Message): void {
    switch (m.type) {
      case 'MsgApp':
      case 'MsgHeartbeat':
      case 'MsgSnap':
        // Someone won this term: follow it.
        this.becomeFollower(m.term, m.from);
        return this.stepFollower(m);
      case 'MsgPreVoteResp':
        if (this.role === 'precandidate') this.recordVote(m.from, !m.reject, this.term + 1, true);
        return;
      case 'MsgVoteResp':
        if (this.role === 'candidate') this.recordVote(m.from, !m.reject, this.term, false);
        return;
      default:
        return;
    }
  }

  private stepFollower(m: Message): void {
    switch (m.type) {
      case 'MsgProp':
        // Forwarded by another follower whose leader knowledge is stale: pass it on.
        if (this.lead) this.send({ type: 'MsgProp', to: this.lead, term: 0, entries: m.entries });
        return;
      case 'MsgReadIndexResp':
        this.readStates.push({ index: m.index ?? 0, context: m.context ?? '' });
        return;
      case 'MsgApp':
        this.heardFromLeader(m.from);
        return this.handleAppend(m);
      case 'MsgHeartbeat':
        this.heardFromLeader(m.from);
        this.log.commitTo(Math.min(m.commit ?? 0, this.log.lastIndex()));
        this.emitCommit();
        this.send({ type: 'MsgHeartbeatResp', to: m.from, term: this.term, context: m.context });
        return;
      case 'MsgSnap':
        this.heardFromLeader(m.from);
        return this.handleSnapshot(m);
      case 'MsgTimeoutNow':
        if (this.promotable()) this.startElection('transfer');
        return;
      default:
        return;
    }
  }

  private heardFromLeader(from: NodeId): void {
    this.electionElapsed = 0;
    this.lead = from;
  }

  private handleAppend(m: Message): void {
    const prev = m.index ?? 0;
    if (prev < this.log.committed) {
      // Everything up to our commit index is settled; tell the leader where we are.
      this.send({ type: 'MsgAppResp', to: m.from, term: this.term, index: this.log.committed });
      return;
    }
    const result = this.log.maybeAppend(prev, m.logTerm ?? 0, m.entries ?? []);
    if (result === undefined) {
      // Fast back-off: point the leader at the last entry that could match.
      const hint = this.log.findConflictByTerm(Math.min(prev, this.log.lastIndex()), m.logTerm ?? 0);
      this.send({
        type: 'MsgAppResp',
        to: m.from,
        term: this.term,
        index: prev,
        reject: true,
        rejectHint: hint,
        logTerm: this.log.term(hint) ?? 0,
      });
      return;
    }
    const { lastNew, appended, truncatedFrom } = result;
    if (truncatedFrom) this.onTruncate(truncatedFrom);
    this.onAppended(appended);
    this.log.commitTo(Math.min(m.commit ?? 0, lastNew));
    this.emitCommit();
    this.send({ type: 'MsgAppResp', to: m.from, term: this.term, index: lastNew });
  }

  private handleSnapshot(m: Message): void {
    const snap = m.snapshot!;
    const { index, term } = snap.meta;
    if (index <= this.log.committed) {
      this.send({ type: 'MsgAppResp', to: m.from, term: this.term, index: this.log.committed });
      return;
    }
    if (this.log.matchTerm(index, term)) {
      // We already hold the snapshot's last entry: just learn that it is committed.
      this.log.commitTo(index);
      this.emitCommit();
    } else {
      this.log.restore(snap);
      this.baseConf = confOf(snap);
      this.confPoints = [];
      this.emit({ kind: 'snapshot-installed', index, term, from: m.from });
      this.emit({ kind: 'commit', index, term });
    }
    this.send({ type: 'MsgAppResp', to: m.from, term: this.term, index: this.log.lastIndex() });
  }

  // ---------------------------------------------------------------- replication (leader)

  private proposeEntry(e: { type: Entry['type']; data: string }): void {
    if (this.role !== 'leader') {
      if (!this.lead) throw new ProposalDropped('no leader');
      this.send({ type: 'MsgProp', to: this.lead, term: 0, entries: [{ index: 0, term: 0, ...e }] });
      return;
    }
    if (this.leadTransferee) throw new ProposalDropped(`leadership is being transferred to ${this.leadTransferee}`);
    if (e.type === 'conf') this.checkConfChange(decodeConfChange(e.data));
    this.appendEntries([e]);
    this.bcastAppend();
  }

  /** The rules that keep single-server changes safe (dissertation §4.1 and its erratum). */
  private checkConfChange(cc: ConfChange): void {
    const lastConf = this.confPoints.length ? this.confPoints[this.confPoints.length - 1].index : 0;
    if (lastConf > this.log.committed) throw new ProposalDropped('another membership change is still in progress');
    if (this.log.term(this.log.committed) !== this.term) {
      throw new ProposalDropped('the new leader has not yet committed an entry in its term; retry shortly');
    }
    const { voters, learners } = this.config();
    const known = voters.includes(cc.id) || learners.includes(cc.id);
    // An 'add' of a learner promotes it; of a voter, or an 'add-learner' of any member, is refused.
    if (cc.type === 'add' && voters.includes(cc.id)) throw new ProposalDropped(`${cc.id} is already a member`);
    if (cc.type === 'add-learner' && known) throw new ProposalDropped(`${cc.id} is already a member`);
    if ((cc.type === 'remove' || cc.type === 'update') && !known) throw new ProposalDropped(`${cc.id} is not a member`);
    if (cc.type === 'remove' && voters.length === 1 && voters[0] === cc.id) throw new ProposalDropped('cannot remove the last voting member');
  }

  private appendEntries(es: { type: Entry['type']; data: string }[]): void {
    const first = this.log.lastIndex() + 1;
    const ents: Entry[] = es.map((e, i) => ({ index: first + i, term: this.term, type: e.type, data: e.data }));
    this.log.append(ents);
    this.onAppended(ents);
  }

  /** Bookkeeping for newly written entries: membership points and a viewer event. */
  private onAppended(ents: Entry[]): void {
    if (ents.length === 0) return;
    for (const e of ents) this.trackConf(e, true);
    const last = ents[ents.length - 1];
    this.emit({ kind: 'append', first: ents[0].index, last: last.index, term: last.term });
  }

  /** A conflicting suffix was dropped: so were any membership changes in it. */
  private onTruncate(from: number): void {
    this.emit({ kind: 'truncate', from });
    const before = this.config();
    this.confPoints = this.confPoints.filter((p) => p.index < from);
    if (!sameConfig(before, this.config())) this.onConfChanged();
  }

  private trackConf(e: Entry, live = false): void {
    if (e.type !== 'conf') return;
    const cc = decodeConfChange(e.data);
    const prev = this.config();
    const conf = nextConfig(prev, cc);
    this.confPoints.push({ index: e.index, conf });
    if (live) {
      const { voters, learners } = conf;
      const promoted = cc.type === 'add' && prev.learners.includes(cc.id);
      this.emit({ kind: 'conf', index: e.index, change: cc, voters, ...(learners.length ? { learners } : {}), ...(promoted ? { promoted: true } : {}) });
      if (!sameConfig(prev, conf)) this.onConfChanged();
    }
  }

  private onConfChanged(): void {
    if (this.role !== 'leader') return;
    this.syncProgress();
    if (this.leadTransferee && !this.progress.has(this.leadTransferee)) this.abortTransfer('transferee removed');
  }

  private confAt(index: number): Config {
    let conf = this.baseConf;
    for (const p of this.confPoints) if (p.index <= index) conf = p.conf;
    return conf;
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
  private maybeCommit(): boolean {
    const matchOf = (id: NodeId) => (id === this.id ? this.log.stable : this.progress.get(id)?.match ?? 0);
    const quorumMatch = (voters: NodeId[]) => voters.map(matchOf).sort((a, b) => b - a)[quorum(voters.length) - 1] ?? 0;
    let candidate = quorumMatch(this.voters());
    const last = this.confPoints[this.confPoints.length - 1];
    if (last && last.index > this.log.committed && candidate < last.index) {
      const before = this.confAt(last.index - 1).voters;
      if (before.length > 0 && quorumMatch(before) >= last.index) candidate = last.index;
    }
    if (candidate === 0 || this.log.term(candidate) !== this.term) return false;
    if (!this.log.commitTo(candidate)) return false;
    this.emitCommit();
    this.onLeaderCommit();
    return true;
  }

  private lastEmittedCommit = 0;

  private emitCommit(): void {
    if (this.log.committed > this.lastEmittedCommit) {
      this.lastEmittedCommit = this.log.committed;
      this.emit({ kind: 'commit', index: this.log.committed, term: this.log.term(this.log.committed) ?? 0 });
    }
  }

  private onLeaderCommit(): void {
    const committed = members(this.confAt(this.log.committed));
    const departed = [...this.progress.keys()].filter((id) => !this.isMember(id) && !committed.includes(id));
    if (departed.length) {
      // Their removal just committed: send them that commit, then stop tracking them.
      this.bcastAppend();
      this.syncProgress();
    }
    if (this.log.term(this.log.committed) === this.term && this.deferredReads.length) {
      const reads = this.deferredReads;
      this.deferredReads = [];
      for (const r of reads) this.leaderRead(r.context, r.from);
    }
    // A leader removed from the configuration leads until that change commits, then steps down,
    // handing over to the most caught-up voter so the cluster need not wait for a timeout.
    if (!this.isVoter(this.id)) {
      const lastConf = this.confPoints[this.confPoints.length - 1]?.index ?? 0;
      if (this.log.committed >= lastConf) {
        let best: NodeId = '';
        let bestMatch = -1;
        for (const [id, pr] of this.progress) {
          if (id !== this.id && pr.match > bestMatch) [best, bestMatch] = [id, pr.match];
        }
        this.bcastAppend();
        if (best && bestMatch === this.log.lastIndex()) this.send({ type: 'MsgTimeoutNow', to: best, term: this.term });
        this.becomeFollower(this.term, '');
      }
    }
  }

  private bcastAppend(): void {
    for (const id of this.progress.keys()) if (id !== this.id) this.sendAppend(id);
  }

  private sendAppend(to: NodeId): void {
    this.maybeSendAppend(to, true);
  }

  /** Sends the next append (or snapshot) to `to` if it is not paused. */
  private maybeSendAppend(to: NodeId, sendIfEmpty: boolean): boolean {
    const pr = this.progress.get(to);
    if (!pr || pr.isPaused()) return false;
    const prevIndex = pr.next - 1;
    const prevTerm = this.log.term(prevIndex);
    const ents = limitBytes(this.log.slice(pr.next, pr.next + this.cfg.maxEntriesPerMsg), this.cfg.maxBytesPerMsg);
    if (prevTerm === undefined || ents === undefined) {
      // What the follower needs is compacted away: send the snapshot instead.
      const snap = this.log.snapshot;
      if (!pr.recentActive || !snap) return false;
      this.send({ type: 'MsgSnap', to, term: this.term, snapshot: snap });
      pr.becomeSnapshot(snap.meta.index, this.ticks);
      this.emit({ kind: 'snapshot-sent', to, index: snap.meta.index });
      return true;
    }
    if (ents.length === 0 && !sendIfEmpty) return false;
    this.send({ type: 'MsgApp', to, term: this.term, index: prevIndex, logTerm: prevTerm, entries: ents, commit: this.log.committed });
    if (pr.state === 'replicate' && ents.length > 0) pr.sent(ents[ents.length - 1].index, this.ticks);
    else if (pr.state === 'probe') pr.probeSent = true;
    return true;
  }

  private bcastHeartbeat(): void {
    const context = this.pendingReads[this.pendingReads.length - 1]?.context;
    for (const [id, pr] of this.progress) {
      if (id === this.id) continue;
      // Never tell a follower to commit beyond what it is known to hold.
      this.send({ type: 'MsgHeartbeat', to: id, term: this.term, commit: Math.min(pr.match, this.log.committed), context });
    }
  }

  private abortTransfer(reason: string): void {
    this.emit({ kind: 'transfer-abort', to: this.leadTransferee, term: this.term, reason });
    this.leadTransferee = '';
  }

  // ---------------------------------------------------------------- read index (§6.4)

  private leaderRead(context: string, from: NodeId): void {
    if (this.log.term(this.log.committed) !== this.term) {
      // Until it commits an entry of its term, a new leader does not know what is committed.
      this.deferredReads.push({ context, from });
      return;
    }
    const read: PendingRead = { context, index: this.log.committed, from, acks: new Set([this.id]) };
    if (!this.isVoter(this.id) || quorum(this.voters().length) > 1) {
      this.pendingReads.push(read);
      this.bcastHeartbeat();
    } else {
      this.releaseRead(read);
    }
  }

  private ackRead(context: string, from: NodeId): void {
    const at = this.pendingReads.findIndex((r) => r.context === context);
    if (at < 0) return;
    const voters = this.voters();
    const read = this.pendingReads[at];
    read.acks.add(from);
    const acked = voters.filter((v) => read.acks.has(v)).length;
    if (acked < quorum(voters.length)) return;
    // A quorum confirmed leadership after every earlier request too: release them in order.
    for (const r of this.pendingReads.splice(0, at + 1)) this.releaseRead(r);
  }

  private releaseRead(r: PendingRead): void {
    if (r.from === this.id) this.readStates.push({ index: r.index, context: r.context });
    else this.send({ type: 'MsgReadIndexResp', to: r.from, term: this.term, index: r.index, context: r.context });
  }

  // ---------------------------------------------------------------- output

  private send(m: Omit<Message, 'from'>): void {
    this.msgs.push({ ...m, from: this.id });
  }

  private emit(e: RaftEvent): void {
    this.events.push(e);
  }
}

export function quorum(n: number): number {
  return Math.floor(n / 2) + 1;
}

function sameHardState(a: HardState, b: HardState): boolean {
  return a.term === b.term && a.vote === b.vote && a.commit === b.commit;
}

function sameSet(a: NodeId[], b: NodeId[]): boolean {
  return a.length === b.length && a.every((x) => b.includes(x));
}

function sameConfig(a: Config, b: Config): boolean {
  return sameSet(a.voters, b.voters) && sameSet(a.learners, b.learners);
}

function members(c: Config): NodeId[] {
  return [...c.voters, ...c.learners];
}
