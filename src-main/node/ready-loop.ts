// The Ready loop: inputs (ticks, peer messages, client proposals) only mark the node dirty; one
// run per event-loop turn then writes everything the core asks for in a single transaction,
// syncs it, and only then sends what had to wait for the disk, applies and advances. Many
// clients share one fsync that way. Under load (a Ready of several entries) the fdatasync runs
// on libuv's thread pool while the event loop takes the next batch in; a lone write is synced
// on the loop itself (see syncOnLoopUpTo).
//
// In manual (step) mode the messages of each Ready are handed out (hold) instead of going on
// the wire, and a step runs the loop synchronously (runNow). A checkpoint freezes it (freeze):
// Raft still takes inputs, in memory only, until thaw().

import type { EventEmitter } from 'node:events';
import type { HardState, Message, RaftEvent } from '../../src-shared/raft-types.js';
import type { Raft, Ready } from '../raft/raft.js';
import type { RaftStorage } from '../storage/raft-storage.js';
import type { MemberInfo } from './client-backend.js';
import type { SendOptions } from './peer/types.js';
import { membership, raft as raftLog } from './log.js';
import { note, type LogFn } from './node-settings.js';
import type { NodeStateMachine } from './state-machine.js';
import { stage, stagesOn } from '../util/stages.js';
import type { Waiters } from './waiters.js';

export interface ReadyLoopHost {
  readonly id: string;
  readonly clusterId: string;
  readonly raft: Raft;
  readonly storage: RaftStorage;
  readonly sm: NodeStateMachine;
  readonly waiters: Waiters;
  readonly log: LogFn;
  /** Applied entries between snapshots, and entries kept behind one for followers that lag. */
  readonly snapshotCount: number;
  readonly snapshotCatchUpEntries: number;
  /** 'ready' and 'raft-event' are emitted on it. */
  readonly events: EventEmitter;
  send(msgs: Message[], opts?: SendOptions): void;
  /** Manual mode: the Ready's messages go here instead of send. */
  hold(msgs: Message[]): void;
  stopped(): boolean;
  manual(): boolean;
  /** This member's own removal was applied. */
  removedSelf(): void;
  /** A write to the data dir failed: the node must stop at once (see durably). */
  die(text: string, err: unknown): void;
}

/** A Ready written to disk, and the messages that wait for it to be durable. */
interface WrittenReady {
  rd: Ready;
  later: Message[];
}

export class ReadyLoop {
  /** etcd's recvAppendRequestCnt / sendAppendRequestCnt (/v2/stats/self). */
  readonly counts = { recvApp: 0, sendApp: 0 };
  /** Since when the current leader is known (etcd's leaderInfo.startTime); none without one. */
  leaderSince?: Date;
  private scheduled = false;
  private frozen = false;
  private thawTimer?: NodeJS.Timeout;
  /** Raft events of the Readies processed during runNow(). */
  private collected?: RaftEvent[];
  /** Term and vote as persisted: messages that depend on a change to them wait for the disk. */
  private durable: { term: number; vote: string };
  private sinceSnapshot = 0;
  /** Entries the first snapshot waits past the count (see maybeSnapshot); 0 once it was taken. */
  private stagger?: number;
  private lastLead = '';
  /** A hard state that moved only the commit index, not yet written (see persist). */
  private unsavedCommit?: HardState;
  /** The Ready whose write is being synced on the thread pool (see run). */
  private syncing?: WrittenReady;
  /** The Ready whose background sync ended, to finish on the next run (after a freeze, say). */
  private synced?: WrittenReady;
  /** In runNow: every sync is made at once, so the step's Readies all finish in it. */
  private syncNow = false;
  /**
   * A Ready with at most this many entries is synced on the event loop, a larger one on libuv's
   * thread pool. A Ready of one entry means nothing else came in while the last disk write ran:
   * there is nothing to overlap with this one, and the pool's round trip (a worker woken, then
   * the loop woken back) is pure cost on the write's path. Two 3-member clusters run side by
   * side, one client each: +20–27% writes/s synced here; at 16 and 64 clients, where several
   * requests gather per Ready, no difference beyond noise.
   */
  syncOnLoopUpTo = 1;

  constructor(private readonly host: ReadyLoopHost) {
    this.durable = { term: host.raft.term, vote: host.raft.vote };
  }

  /** Peer messages in, as the transport (or a stepper) hands them over. */
  stepIn(msgs: Message[]): void {
    for (const m of msgs) {
      if (m.type === 'MsgApp') this.counts.recvApp++;
      this.host.raft.step(m);
    }
  }

  /** Runs the loop on the next turn (once, however many inputs came meanwhile). */
  schedule(): void {
    if (this.scheduled || this.host.stopped()) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      this.run();
    });
  }

  /** Runs the loop now; returns the Raft events of the Readies it processed. */
  runNow(): RaftEvent[] {
    const events: RaftEvent[] = [];
    this.collected = events;
    this.syncNow = true;
    try {
      this.run();
    } finally {
      this.collected = undefined;
      this.syncNow = false;
    }
    return events;
  }

  /**
   * Stops the loop until thaw(): nothing is persisted and nothing leaves the node (see
   * RaftNode.freezeAndCheckpoint). Never for good: thawed after `limitMs` whatever happens.
   */
  freeze(limitMs: number): void {
    this.frozen = true;
    clearTimeout(this.thawTimer);
    this.thawTimer = setTimeout(() => this.thaw(), limitMs).unref();
  }

  /** Ends a freeze: whatever Raft was given meanwhile is processed now. */
  thaw(): void {
    clearTimeout(this.thawTimer);
    if (!this.frozen) return;
    this.frozen = false;
    this.schedule();
  }

  private run(): void {
    const h = this.host;
    const raft = h.raft;
    // A Ready on its way to disk is finished first: Raft gives the next only after advance.
    const syncing = this.syncing;
    if (syncing) {
      if (!this.syncNow) return;
      // runNow cannot wait for the thread pool: synced here, its background sync is ignored.
      this.syncing = undefined;
      if (!this.durably('failed to save state and entries error:', () => h.storage.sync())) return;
      this.synced = syncing;
    }
    if (h.stopped() || this.frozen) return;
    const synced = this.synced;
    this.synced = undefined;
    if (synced) this.finish(synced);
    while (!h.stopped() && !this.frozen && raft.hasReady()) {
      const rd = raft.ready();
      if (stagesOn)
        stage(
          'ready',
          `e=${rd.entries.length} c=${rd.committedEntries.length} hs=${rd.hardState ? rd.hardState.commit : '-'} m=${rd.messages.map((m) => m.type + (m.entries?.length ? `[${m.entries.length}]` : '')).join(',')}`,
        );
      let later = rd.messages;
      if (!h.manual() && raft.role === 'leader' && this.keepsTermAndVote(rd)) {
        // A leader's appends and heartbeats need not wait for its own disk (Raft thesis
        // §10.2.1, as etcd does): its own copy counts towards commit only once durable
        // (advance), and they depend on no term or vote this Ready changes. On the wire before
        // the fsync, the followers write in parallel with us.
        const { early, rest } = splitEarly(rd.messages);
        // Commit notices (appends and heartbeats with no entries) of a Ready that answers
        // clients leave on the next turn: the answers written this turn come first, and the
        // followers, woken by them, do not compete for the CPU with those answers. Only for a
        // peer sent nothing urgent in this Ready (its queue keeps the order with what follows).
        const { now, later: notices } =
          rd.committedEntries.length > 0 ? splitNotices(early) : { now: early, later: [] };
        if (notices.length > 0) h.send(notices, { later: true });
        if (now.length > 0) h.send(now, { flush: true });
        stage('sent-early');
        later = rest;
      }
      // Durable first: nothing else is sent (no ack, no vote) before it is on disk.
      const written = this.persist(rd);
      if (written === 'dead') return;
      if (written === 'unsynced') {
        if (this.syncNow || h.manual() || rd.entries.length <= this.syncOnLoopUpTo) {
          if (!this.durably('failed to save state and entries error:', () => h.storage.sync())) return;
        } else {
          // fsync on the thread pool: meanwhile this node takes messages and requests in (they
          // wait in Raft for the next Ready), and the rest of this Ready waits for the disk.
          this.syncInBackground({ rd, later });
          return;
        }
      }
      this.finish({ rd, later });
    }
  }

  /** The disk has what `w.rd` asked for: the rest of the Ready (send, apply, advance). */
  private finish({ rd, later }: WrittenReady): void {
    const h = this.host;
    stage('persisted');
    if (rd.hardState) this.durable = { term: rd.hardState.term, vote: rd.hardState.vote };
    for (const m of rd.messages) if (m.type === 'MsgApp') this.counts.sendApp++;
    // `later`, not all of rd.messages: step mode may have begun while the disk worked, after
    // the early ones left (a Ready begun in step mode sent nothing early).
    if (!h.manual()) h.send(later);
    else if (later.length > 0) h.hold(later);
    h.events.emit('ready', rd);
    this.collected?.push(...rd.events);
    if (!h.manual()) stage('sent');
    this.apply(rd);
    stage('applied');
    for (const e of rd.events) this.onRaftEvent(e);
    this.noteLeader();
    h.raft.advance(rd);
    this.maybeSnapshot();
  }

  private syncInBackground(w: WrittenReady): void {
    const h = this.host;
    this.syncing = w;
    h.storage.syncInBackground((err) => {
      // Already finished by a synchronous sync (runNow), or the node stopped meanwhile.
      if (this.syncing !== w || h.stopped()) return;
      this.syncing = undefined;
      if (err) return h.die(`failed to save state and entries error: ${err.message}`, err);
      this.synced = w;
      this.run();
    });
  }

  /**
   * Makes durable what the Ready asks for: 'durable' when it is, 'unsynced' when it is written
   * and still has to be synced, 'dead' once the node is. A hard state that only
   * moves the commit index (no entries, no snapshot, same term and vote: etcd-io/raft's
   * MustSync is false) is not written at all: it rides along with the next write (or stop, or a
   * checkpoint). Raft loses nothing by a commit index that lags on disk (it is learned again
   * from the leader, and the log is only applied up to it), and a lone write costs one SQLite
   * transaction less on every member. In step mode every Ready is written as it comes, so that
   * what a step persisted can be read back at once.
   */
  private persist(rd: Ready): 'durable' | 'unsynced' | 'dead' {
    const h = this.host;
    const hs = rd.hardState;
    // Nothing to write (a Ready of events only, as every apply makes): the commit index that
    // waits rides along with a write that happens anyway, not alone in a transaction of its own.
    if (!hs && !rd.snapshot && rd.entries.length === 0) return 'durable';
    if (
      !h.manual() &&
      hs &&
      !rd.snapshot &&
      rd.entries.length === 0 &&
      hs.term === this.durable.term &&
      hs.vote === this.durable.vote
    ) {
      this.unsavedCommit = hs;
      return 'durable';
    }
    const hardState = hs ?? this.unsavedCommit;
    let mustSync = false;
    const saved = this.durably(
      rd.snapshot ? 'failed to save Raft snapshot' : 'failed to save state and entries error:',
      () => (mustSync = h.storage.write({ snapshot: rd.snapshot, entries: rd.entries, hardState })),
    );
    if (!saved) return 'dead';
    stage('written');
    this.unsavedCommit = undefined;
    return mustSync ? 'unsynced' : 'durable';
  }

  /** Writes a commit index that waited for the next write (see persist): before a stop or a checkpoint. */
  saveCommit(): void {
    const hardState = this.unsavedCommit;
    if (!hardState || this.host.stopped()) return;
    if (this.durably('failed to save state and entries error:', () => this.host.storage.persist({ hardState })))
      this.unsavedCommit = undefined;
  }

  /** Nothing in this Ready changes what is durable of term and vote (nor installs a snapshot). */
  private keepsTermAndVote(rd: Ready): boolean {
    const hs = rd.hardState;
    return !rd.snapshot && (!hs || (hs.term === this.durable.term && hs.vote === this.durable.vote));
  }

  private apply(rd: Ready): void {
    const h = this.host;
    if (rd.snapshot) {
      h.sm.restore(rd.snapshot.data);
      h.log('I', 'etcdserver', `applied incoming snapshot at index ${rd.snapshot.meta.index}`);
    }
    for (const e of rd.committedEntries) {
      const out = h.sm.apply(e);
      this.sinceSnapshot++;
      if (out.conf) this.onConfApplied(out.conf.type, out.conf.member);
      h.waiters.settle(out);
    }
    h.waiters.readStates(rd.readStates);
    const applied = rd.committedEntries.at(-1)?.index ?? rd.snapshot?.meta.index ?? 0;
    if (applied) h.waiters.appliedTo(applied);
  }

  private onConfApplied(type: 'add' | 'remove' | 'update' | 'promote', m: MemberInfo): void {
    const h = this.host;
    if (type === 'add') note(h.log, membership.addedMember(m.id, m.peerURLs, h.clusterId));
    if (type === 'promote') note(h.log, membership.promotedMember(m.id, h.clusterId));
    if (type === 'update') note(h.log, membership.updatedMember(m.id, m.peerURLs, h.clusterId));
    if (type === 'remove') {
      note(h.log, membership.removedMember(m.id, h.clusterId));
      if (m.id === h.id) setImmediate(() => h.removedSelf());
    }
  }

  private onRaftEvent(e: RaftEvent): void {
    const h = this.host;
    h.events.emit('raft-event', e);
    switch (e.kind) {
      case 'role':
        if (e.role === 'leader') note(h.log, raftLog.becameLeader(h.id, e.term));
        else if (e.role === 'candidate') note(h.log, raftLog.becameCandidate(h.id, e.term));
        else if (e.role === 'precandidate') note(h.log, raftLog.becamePreCandidate(h.id, e.term));
        else note(h.log, raftLog.becameFollower(h.id, e.term));
        break;
      case 'vote': {
        if (!e.granted) break;
        const log = h.raft.log;
        h.log(
          'I',
          'raft',
          `${h.id} [logterm: ${log.lastTerm()}, index: ${log.lastIndex()}, vote: ${h.raft.vote}] cast ${e.pre ? 'MsgPreVote' : 'MsgVote'} for ${e.candidate} at term ${e.term}`,
        );
        break;
      }
      case 'snapshot-created':
        h.log('I', 'etcdserver', `saved snapshot at index ${e.index}`);
        break;
    }
  }

  /** etcd's raft.node lines when the known leader changes; also when leaderInfo.startTime begins. */
  private noteLeader(): void {
    const h = this.host;
    const lead = h.raft.lead;
    if (lead === this.lastLead) return;
    if (lead) note(h.log, raftLog.electedLeader(h.id, lead, h.raft.term));
    else note(h.log, raftLog.lostLeader(h.id, this.lastLead, h.raft.term));
    this.lastLead = lead;
    this.leaderSince = lead ? new Date() : undefined;
  }

  /**
   * Every snapshotCount applied entries, a snapshot. The first one of this process waits a
   * little longer on all members but one (staggerOf): members started together reach the
   * count at the same entry, and a snapshot stops a member for a while (hundreds of ms at
   * 100,000 keys); all at once, no majority is left to commit, and the leader's stall is
   * followed by the followers'. Staggered, the same period keeps them apart from then on.
   */
  private maybeSnapshot(): void {
    const h = this.host;
    if (this.sinceSnapshot < h.snapshotCount) return;
    this.stagger ??= staggerOf(h.id, h.raft.voters(), h.snapshotCount);
    if (this.sinceSnapshot < h.snapshotCount + this.stagger) return;
    this.stagger = 0;
    this.sinceSnapshot = 0;
    const applied = h.raft.log.applied;
    const compactTo = Math.max(0, applied - h.snapshotCatchUpEntries);
    const snap = h.raft.createSnapshot(applied, h.sm.toJSON(), compactTo);
    this.durably('save snapshot error:', () => h.storage.saveSnapshot(snap, compactTo));
  }

  /**
   * A write to the data dir. If it fails (disk full, I/O error) the node cannot go on without
   * breaking a promise made to its peers: like etcd, it says so in one fatal line and stops
   * at once, writing nothing more. Its peers carry on; restarted once there is room, it resumes
   * from what was durable and catches up. Returns false once the node is dead.
   */
  private durably(what: string, write: () => void): boolean {
    if (this.host.stopped()) return false;
    try {
      write();
      return true;
    } catch (err) {
      this.host.die(`${what} ${err instanceof Error ? err.message : String(err)}`, err);
      return false;
    }
  }
}

/**
 * How many entries past the count a member's first snapshot waits: its rank among the voters,
 * sorted by id, in steps of count / (4 × voters). So at most a quarter of the count, and members
 * of a cluster started together snapshot one at a time (at 100,000 with 3 voters: after 0,
 * 8,333 and 16,666 more entries). A learner, or a member not yet in the configuration, ranks last.
 */
export function staggerOf(id: string, voters: readonly string[], count: number): number {
  const sorted = [...voters].sort();
  const at = sorted.indexOf(id);
  const rank = at < 0 ? sorted.length : at;
  return rank * Math.floor(count / (4 * Math.max(1, sorted.length)));
}

/**
 * Splits off the commit notices (appends and heartbeats with no entries) to peers that get
 * nothing else in `msgs`, which may leave a turn later; the rest keeps its order.
 */
function splitNotices(msgs: Message[]): { now: Message[]; later: Message[] } {
  const isNotice = (m: Message) => (m.type === 'MsgApp' || m.type === 'MsgHeartbeat') && !m.entries?.length;
  const busy = new Set(msgs.filter((m) => !isNotice(m)).map((m) => m.to));
  const now: Message[] = [];
  const later: Message[] = [];
  for (const m of msgs) (isNotice(m) && !busy.has(m.to) ? later : now).push(m);
  return { now, later };
}

/** A leader's replication messages that may leave before the fsync. */
const EARLY_TYPES: ReadonlySet<Message['type']> = new Set(['MsgApp', 'MsgHeartbeat', 'MsgSnap']);

/**
 * Splits a leader's Ready messages into those sent before the fsync and the rest, keeping each
 * peer's order: once a message to a peer must wait, so does everything after it to that peer.
 */
function splitEarly(msgs: Message[]): { early: Message[]; rest: Message[] } {
  const early: Message[] = [];
  const rest: Message[] = [];
  let waiting: Set<string> | undefined;
  for (const m of msgs) {
    if (EARLY_TYPES.has(m.type) && !waiting?.has(m.to)) early.push(m);
    else {
      (waiting ??= new Set()).add(m.to);
      rest.push(m);
    }
  }
  return { early, rest };
}
