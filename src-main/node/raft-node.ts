// One raftlab node: the pure Raft core driven by the node's own clock, made durable in SQLite,
// talking to peers over the peer transport, applying committed entries to the v2 store and
// the member list. It implements ClientBackend for the etcd v2 API.
//
// The loop: inputs (ticks, peer messages, client proposals) only mark the node dirty; one
// processReady() per event-loop turn then persists (fsync) everything the core asks for in a
// single transaction, sends, applies and advances. Many clients share one fsync that way.
// In manual (step) mode the clock stops driving Raft and sent messages are handed out instead
// of going on the wire: whoever steps the cluster ticks and delivers (setManual).

import { EventEmitter } from 'node:events';
import fs from 'node:fs';
import path from 'node:path';
import type { Message, RaftEvent } from '../../src-shared/raft-types.js';
import { bootstrapState, maxAcceptableTerm, ProposalDropped, Raft, type Ready } from '../raft/raft.js';
import { markerFileFor } from '../storage/member-marker.js';
import { RaftStorage } from '../storage/raft-storage.js';
import { MemberError, RaftUnavailable, type ClientBackend, type MemberInfo, type RaftStatus } from './client-backend.js';
import { NodeClock, startTicker } from './clock.js';
import { seededRandom } from '../util/rng.js';
import { clusterId as computeClusterId, memberId as computeMemberId } from './ids.js';
import { embed, etcdmain, etcdserver, goDuration, membership, raft as raftLog, type LogLevel, type LogMsg } from './log.js';
import { PeerTransport, type PeerStats, type PeerTransportOptions } from './peer-transport.js';
import { NodeStateMachine, type ApplyOutcome, type ConfContext, type NodeCommand } from './state-machine.js';
import type { V2Command, V2Event, V2ReadRequest, V2StoreStats, V2WatchHandle } from './store-v2.js';

export type LogFn = (level: LogLevel, pkg: string, msg: string) => void;

const RAFT_LEVEL = { DEBUG: 'D', INFO: 'I', WARN: 'W', ERROR: 'E', FATAL: 'C', PANIC: 'C' } as const;

export interface NodeSettings {
  name: string;
  dataDir: string;
  initialCluster: { name: string; peerURLs: string[] }[];
  initialClusterState: 'new' | 'existing';
  initialClusterToken: string;
  listenPeerURLs: string[];
  advertisePeerURLs: string[];
  /** Filled in by whoever serves the client API, before start(). */
  advertiseClientURLs: string[];
  heartbeatMs: number;
  electionMs: number;
  snapshotCount: number;
  /** Entries kept behind a snapshot for followers that lag a little (etcd: 5000). */
  snapshotCatchUpEntries?: number;
  strictReconfigCheck?: boolean;
  /** Links cut on purpose by the app (peer member id → cut?); see PeerTransportOptions.isLinkCut. */
  isLinkCut?: (peer: string) => boolean;
  /** Start in manual (step) mode, with a seeded election-timeout source: see setManual. */
  manual?: { seed?: number };
  /**
   * Manual mode: where the peer messages Raft emits go instead of the transport. Given here
   * (not as an event) so that nothing emitted while start() runs is missed. Default: a 'held' event.
   */
  onHeld?: (msgs: Message[]) => void;
  /** The app's slow network (slow-network.ts), which every sent message goes through. */
  outbound?: PeerTransportOptions['outbound'];
  /** Peer messages just stepped into Raft (the app reports their delivery). */
  onStepped?: (msgs: Message[]) => void;
}

/** Refused configuration or data: the message says what and where. */
export class NodeStartError extends Error {}

interface Waiter {
  resolve: (o: ApplyOutcome) => void;
  reject: (e: Error) => void;
  timer: NodeJS.Timeout;
}

export class RaftNode extends EventEmitter implements ClientBackend {
  readonly clock = new NodeClock();
  id = '';
  clusterId = '';
  private raft!: Raft;
  private storage!: RaftStorage;
  private transport!: PeerTransport;
  private sm = new NodeStateMachine();
  private stopTicker: () => void = () => {};
  private scheduled = false;
  private stopped = false;
  private reqSeq = 0;
  private waiters = new Map<string, Waiter>();
  private readWaiters = new Map<string, (index: number) => void>();
  private appliedWaiters: { index: number; resolve: () => void }[] = [];
  private sinceSnapshot = 0;
  /** Term and vote as persisted: messages that depend on a change to them wait for the disk. */
  private durable = { term: 0, vote: '' };
  private readonly startTime = new Date();
  private leaderSince?: Date;
  private counts = { recvApp: 0, sendApp: 0 };
  private stopPublish: () => void = () => {};
  private expiryTimer?: NodeJS.Timeout;
  readonly requestTimeoutMs: number;
  /** Step mode: no ticker, no publish/expiry timers, Ready messages held (see setManual). */
  private manual = false;
  /** Raft reads this whenever it re-randomizes its election timeout; swapped by setManual. */
  private random: () => number = Math.random;
  /** Raft events of the Readies processed during deliver()/tickOnce(). */
  private collected?: RaftEvent[];

  constructor(
    readonly settings: NodeSettings,
    private readonly log: LogFn,
  ) {
    super();
    this.requestTimeoutMs = 5000 + 2 * settings.electionMs;
  }

  // ------------------------------------------------------------------ lifecycle

  async start(): Promise<void> {
    const s = this.settings;
    const memberDir = path.join(s.dataDir, 'member');
    fs.mkdirSync(memberDir, { recursive: true });
    const file = path.join(memberDir, 'raftlab.db');
    const initialized = fs.existsSync(file) && fs.statSync(file).size > 0;
    if (!initialized && s.initialClusterState === 'new' && !fs.existsSync(markerFileFor(file))) await this.refuseIfBootstrapped();
    // Refuses a data dir whose storage is damaged (StorageDamagedError: checksums, a lost WAL,
    // an emptied database of an initialised member): never a fresh start under an old id.
    this.storage = RaftStorage.open(file);
    let stored;
    try {
      if (initialized) this.resume(file);
      else if (s.initialClusterState === 'new') this.bootstrapNew();
      else await this.joinExisting();
      stored = this.storage.load();
    } catch (err) {
      this.storage.close();
      throw err;
    }

    if (s.manual) this.setManual(true, s.manual);
    const joinPeers = new Map((JSON.parse(this.storage.getMeta('join_members') ?? '[]') as MemberInfo[]).map((m) => [m.id, m.peerURLs]));
    this.durable = { term: stored.hardState.term, vote: stored.hardState.vote };
    if (stored.snapshot) this.sm.restore(stored.snapshot.data);
    this.raft = new Raft(
      {
        id: this.id,
        electionTick: Math.max(2, Math.round(s.electionMs / s.heartbeatMs)),
        heartbeatTick: 1,
        random: () => this.random(),
      },
      stored,
    );
    this.note(etcdserver.startingMember(this.id, this.clusterId));
    this.note(raftLog.becameFollower(this.id, this.raft.term));

    this.transport = new PeerTransport({
      memberId: this.id,
      clusterId: this.clusterId,
      listenURLs: s.listenPeerURLs,
      clock: () => this.clock.now(),
      log: this.log,
      onMessages: (msgs) => this.onPeerMessages(msgs),
      peerURLs: (id) => this.sm.members.get(id)?.peerURLs ?? this.sm.removed.get(id) ?? joinPeers.get(id),
      peerIds: () => [...this.sm.members.keys()].filter((id) => id !== this.id),
      isRemoved: (id) => this.sm.removed.has(id),
      // Members as applied, those being added (in the log, effective once appended), and,
      // for a member still joining, those the cluster told it of.
      isMember: (id) => this.sm.members.has(id) || this.raft.isVoter(id) || joinPeers.has(id),
      maxTerm: () => maxAcceptableTerm(this.raft.term),
      onRemovedFromCluster: () => this.onRemoved(),
      isLinkCut: s.isLinkCut,
      outbound: s.outbound,
      extraRoutes: (req, res) => {
        if (req.method === 'GET' && req.url === '/members') {
          res.writeHead(200, { 'Content-Type': 'application/json', 'X-Etcd-Cluster-Id': this.clusterId });
          res.end(JSON.stringify(this.sm.list()));
          return true;
        }
        return false;
      },
    });
    await this.transport.start();
    for (const u of this.transport.boundURLs()) this.note(embed.listeningForPeers(new URL(u).host));

    this.processReady();
    if (!this.manual) {
      this.startTimers();
      void this.adjustTicks();
    }
  }

  /**
   * etcd's adjustTicks (--initial-election-tick-advance): a node that just started need not
   * wait a whole election timeout before its first campaign. Alone in its cluster it advances
   * electionTicks-1 ticks at once; otherwise, as soon as its peers answer (checked every 50 ms
   * for up to 5 s), electionTicks-2, leaving time for a live leader's heartbeat to arrive first.
   */
  private async adjustTicks(): Promise<void> {
    const electionTicks = Math.max(2, Math.round(this.settings.electionMs / this.settings.heartbeatMs));
    const advance = (n: number) => {
      if (this.stopped || this.manual) return;
      for (let i = 0; i < n; i++) this.raft.tick();
      this.schedule();
    };
    const peers = () => [...this.sm.members.keys()].filter((id) => id !== this.id);
    if (peers().length === 0) return advance(electionTicks - 1);
    for (let waited = 0; waited < 5000 && !this.stopped; waited += 50) {
      await new Promise((r) => setTimeout(r, 50).unref());
      const ids = peers();
      if (ids.length > 0 && ids.filter((id) => this.transport.peerStats(id).active).length > 1) return advance(electionTicks - 2);
      if (ids.length === 1 && this.transport.peerStats(ids[0]).active) return advance(electionTicks - 2);
    }
  }

  /** Real time: the clock ticks Raft, and the publish and TTL timers run. */
  private startTimers(): void {
    const s = this.settings;
    this.stopTicker = startTicker(this.clock, s.heartbeatMs, () => {
      this.raft.tick();
      this.schedule();
    });
    this.stopPublish = startTicker(this.clock, Math.max(100, s.heartbeatMs * 2), () => this.maybePublish());
    this.expiryTimer = setInterval(() => this.expireKeys(), 500);
  }

  private stopTimers(): void {
    this.stopTicker();
    this.stopTicker = () => {};
    this.stopPublish();
    clearInterval(this.expiryTimer);
  }

  /**
   * The app's "kill -9": stop all I/O at once, with no shutdown of Raft or SQLite (what was
   * acknowledged is already durable; nothing else is written).
   */
  abortIO(): void {
    this.stopped = true;
    this.stopTicker();
    this.stopPublish();
    clearInterval(this.expiryTimer);
    void this.transport?.stop();
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.stopTicker();
    this.stopPublish();
    clearInterval(this.expiryTimer);
    for (const w of this.waiters.values()) {
      clearTimeout(w.timer);
      w.reject(new RaftUnavailable('etcdserver: server stopped'));
    }
    this.waiters.clear();
    await this.transport?.stop();
    this.storage?.close();
    this.emit('stopped');
  }

  /** Restart from the data dir: the node's identity and log come from its database. */
  private resume(file: string): void {
    const id = this.storage.getMeta('member_id');
    const cid = this.storage.getMeta('cluster_id');
    if (!id || !cid) throw new NodeStartError(`${file} holds no member identity: it was not initialized by raftlab`);
    const s = this.settings;
    // A member bootstrapped by discovery has no --initial-cluster to compare with (etcd ignores
    // both on a restart; raftlab checks a static one, to catch a data dir of another cluster).
    if (s.initialClusterState === 'new' && s.initialCluster.length > 0) {
      const expected = this.newClusterIds();
      if (expected.clusterId !== cid) {
        throw new NodeStartError(
          `data dir ${s.dataDir} belongs to cluster ${cid}, but --initial-cluster and --initial-cluster-token describe cluster ${expected.clusterId}; use the data dir of this cluster or remove it`,
        );
      }
    }
    const name = this.storage.getMeta('name');
    if (name && name !== s.name) {
      throw new NodeStartError(`data dir ${s.dataDir} belongs to member "${name}", not "${s.name}"`);
    }
    this.id = id;
    this.clusterId = cid;
    this.note(etcdmain.alreadyInitialized());
  }

  private newClusterIds(): { ids: Map<string, string>; clusterId: string } {
    const s = this.settings;
    const ids = new Map<string, string>();
    for (const m of s.initialCluster) ids.set(m.name, computeMemberId(m.peerURLs, s.initialClusterToken));
    return { ids, clusterId: computeClusterId([...ids.values()]) };
  }

  /**
   * etcd's isMemberBootstrapped, before anything is written: a member whose data dir is gone
   * must not start a new log under the id it had, which the other members still know. If a
   * peer lists this member as started (it has client URLs), refuse as etcd does. Unreachable
   * peers (a cluster starting for the first time) are no answer: start.
   */
  private async refuseIfBootstrapped(): Promise<void> {
    const s = this.settings;
    const self = this.newClusterIds().ids.get(s.name);
    const urls = s.initialCluster.filter((m) => m.name !== s.name).flatMap((m) => m.peerURLs);
    if (!self || urls.length === 0) return;
    const lists = await Promise.all(
      urls.map(async (u) => {
        try {
          const res = await fetch(new URL('/members', u), { signal: AbortSignal.timeout(1000) });
          const body: unknown = res.ok ? await res.json() : [];
          return Array.isArray(body) ? (body as Partial<MemberInfo>[]) : [];
        } catch {
          return [];
        }
      }),
    );
    if (lists.some((ms) => ms.some((m) => m?.id === self && Array.isArray(m.clientURLs) && m.clientURLs.length > 0))) {
      throw new NodeStartError(`member ${self} has already been bootstrapped`);
    }
  }

  private bootstrapNew(): void {
    const s = this.settings;
    const { ids, clusterId } = this.newClusterIds();
    const self = ids.get(s.name);
    if (!self) throw new NodeStartError(`couldn't find local name "${s.name}" in the initial cluster configuration`);
    const byId = new Map(s.initialCluster.map((m) => [ids.get(m.name)!, m]));
    const boot = bootstrapState([...byId.keys()], (id) => {
      const m = byId.get(id)!;
      const ctx: ConfContext = { member: { id, name: m.name, peerURLs: m.peerURLs, clientURLs: [] } };
      return JSON.stringify(ctx);
    });
    this.storage.persist({ entries: boot.entries, hardState: boot.hardState });
    this.saveIdentity(self, clusterId);
  }

  /**
   * A member added with `member add` learns its id and the cluster id from the peers. The add
   * may not have reached every peer yet, so ask them all, for a few seconds.
   */
  private async joinExisting(): Promise<void> {
    const s = this.settings;
    const mine = new Set(s.advertisePeerURLs);
    const peers = s.initialCluster.filter((m) => m.name !== s.name).flatMap((m) => m.peerURLs);
    if (peers.length === 0) throw new NodeStartError('--initial-cluster names no other member to join');
    const deadline = Date.now() + 5000;
    let problems: string[] = [];
    while (Date.now() < deadline) {
      problems = [];
      for (const u of peers) {
        try {
          const res = await fetch(new URL('/members', u), { signal: AbortSignal.timeout(2000) });
          const members = (await res.json()) as MemberInfo[];
          const me = members.find((x) => x.peerURLs.some((p) => mine.has(p)));
          const cid = res.headers.get('X-Etcd-Cluster-Id') ?? '';
          if (me) {
            // Until it has applied the log, the new member knows its peers only from this list.
            this.storage.setMeta('join_members', JSON.stringify(members));
            return this.saveIdentity(me.id, cid);
          }
          problems.push(`${u}: cluster ${cid} has no member with peer URLs ${[...mine].join(',')}; add it first with \`etcdctl member add\``);
        } catch (err) {
          problems.push(`${u}: ${(err as Error).message}`);
        }
      }
      await new Promise((r) => setTimeout(r, 200));
    }
    throw new NodeStartError(`cannot join the cluster: ${problems.join('; ')}`);
  }

  private saveIdentity(id: string, cid: string): void {
    this.storage.setIdentity({ memberId: id, clusterId: cid, name: this.settings.name });
    this.id = id;
    this.clusterId = cid;
  }

  /**
   * This member was removed. Like etcd it says so and exits about a second later, which also
   * lets a client's in-flight request (possibly the very `member remove`) get its answer.
   */
  private onRemoved(): void {
    if (this.stopped || this.removing) return;
    this.removing = true;
    this.note(etcdserver.memberRemoved());
    this.note(etcdserver.dataDirMustBeRemoved());
    setTimeout(() => {
      this.emit('removed');
      void this.stop();
    }, 1000).unref();
  }

  private removing = false;

  // ------------------------------------------------------------------ the Ready loop

  private onPeerMessages(msgs: Message[]): void {
    if (this.stopped) return;
    for (const m of msgs) {
      if (m.type === 'MsgApp') this.counts.recvApp++;
      this.raft.step(m);
    }
    this.settings.onStepped?.(msgs);
    this.schedule();
  }

  private schedule(): void {
    if (this.scheduled || this.stopped) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      this.processReady();
    });
  }

  private processReady(): void {
    while (!this.stopped && !this.frozen && this.raft.hasReady()) {
      const rd = this.raft.ready();
      let later = rd.messages;
      if (!this.manual && this.raft.role === 'leader' && this.keepsTermAndVote(rd)) {
        // A leader's appends and heartbeats need not wait for its own disk (Raft thesis
        // §10.2.1, as etcd does): its own copy counts towards commit only once durable
        // (advance), and they depend on no term or vote this Ready changes. On the wire before
        // the fsync, the followers write in parallel with us.
        const { early, rest } = splitEarly(rd.messages);
        if (early.length > 0) this.transport.send(early, { flush: true });
        later = rest;
      }
      // Durable first: nothing else is sent (no ack, no vote) before it is on disk.
      const saved = this.durably(rd.snapshot ? 'failed to save Raft snapshot' : 'failed to save state and entries error:', () =>
        this.storage.persist({ snapshot: rd.snapshot, entries: rd.entries, hardState: rd.hardState }),
      );
      if (!saved) return;
      if (rd.hardState) this.durable = { term: rd.hardState.term, vote: rd.hardState.vote };
      for (const m of rd.messages) if (m.type === 'MsgApp') this.counts.sendApp++;
      if (!this.manual) this.transport.send(later);
      else if (rd.messages.length > 0) this.hold(rd.messages);
      this.emit('ready', rd);
      this.collected?.push(...rd.events);
      this.applyReady(rd);
      for (const e of rd.events) this.onRaftEvent(e);
      this.noteLeader();
      this.raft.advance(rd);
      this.maybeSnapshot();
    }
  }

  /** Nothing in this Ready changes what is durable of term and vote (nor installs a snapshot). */
  private keepsTermAndVote(rd: Ready): boolean {
    const hs = rd.hardState;
    return !rd.snapshot && (!hs || (hs.term === this.durable.term && hs.vote === this.durable.vote));
  }

  private applyReady(rd: Ready): void {
    if (rd.snapshot) {
      this.sm.restore(rd.snapshot.data);
      this.log('I', 'etcdserver', `applied incoming snapshot at index ${rd.snapshot.meta.index}`);
    }
    for (const e of rd.committedEntries) {
      const out = this.sm.apply(e);
      this.sinceSnapshot++;
      if (out.conf) this.onConfApplied(out.conf.type, out.conf.member);
      if (out.published) {
        const m = out.published;
        if (m.id === this.id) {
          this.note(etcdserver.published(m.name, m.clientURLs, this.clusterId));
        }
      }
      if (out.r) {
        const w = this.waiters.get(out.r);
        if (w) {
          this.waiters.delete(out.r);
          clearTimeout(w.timer);
          w.resolve(out);
        }
      }
    }
    for (const r of rd.readStates) this.readWaiters.get(r.context)?.(r.index);
    const applied = rd.committedEntries.at(-1)?.index ?? rd.snapshot?.meta.index ?? 0;
    if (applied) {
      const ready = this.appliedWaiters.filter((w) => w.index <= applied);
      this.appliedWaiters = this.appliedWaiters.filter((w) => w.index > applied);
      for (const w of ready) w.resolve();
    }
  }

  private onConfApplied(type: 'add' | 'remove' | 'update', m: MemberInfo): void {
    if (type === 'add') this.note(membership.addedMember(m.id, m.peerURLs, this.clusterId));
    if (type === 'update') this.note(membership.updatedMember(m.id, m.peerURLs, this.clusterId));
    if (type === 'remove') {
      this.note(membership.removedMember(m.id, this.clusterId));
      if (m.id === this.id) setImmediate(() => this.onRemoved());
    }
  }

  /** One of etcd's messages (log.ts), through this node's log. */
  private note(m: LogMsg): void {
    if (m.kind === 'raft') this.log(RAFT_LEVEL[m.level], 'raft', m.text);
    else this.log(m.level, m.pkg, m.text);
  }

  private onRaftEvent(e: RaftEvent): void {
    this.emit('raft-event', e);
    switch (e.kind) {
      case 'role':
        if (e.role === 'leader') {
          this.note(raftLog.becameLeader(this.id, e.term));
        } else if (e.role === 'candidate') this.note(raftLog.becameCandidate(this.id, e.term));
        else if (e.role === 'precandidate') this.note(raftLog.becamePreCandidate(this.id, e.term));
        else this.note(raftLog.becameFollower(this.id, e.term));
        break;
      case 'vote':
        if (!e.granted) break;
        this.log('I', 'raft', `${this.id} [logterm: ${this.raft.log.lastTerm()}, index: ${this.raft.log.lastIndex()}, vote: ${this.raft.vote}] cast ${e.pre ? 'MsgPreVote' : 'MsgVote'} for ${e.candidate} at term ${e.term}`);
        break;
      case 'snapshot-created':
        this.log('I', 'etcdserver', `saved snapshot at index ${e.index}`);
        break;
    }
  }

  /** etcd's raft.node lines when the known leader changes; also when leaderInfo.startTime begins. */
  private noteLeader(): void {
    const lead = this.raft.lead;
    if (lead === this.lastLead) return;
    if (lead) this.note(raftLog.electedLeader(this.id, lead, this.raft.term));
    else this.note(raftLog.lostLeader(this.id, this.lastLead, this.raft.term));
    this.lastLead = lead;
    this.leaderSince = lead ? new Date() : undefined;
  }

  private lastLead = '';

  private maybeSnapshot(): void {
    const s = this.settings;
    if (this.sinceSnapshot < s.snapshotCount) return;
    this.sinceSnapshot = 0;
    const applied = this.raft.log.applied;
    const compactTo = Math.max(0, applied - (s.snapshotCatchUpEntries ?? 5000));
    const snap = this.raft.createSnapshot(applied, this.sm.toJSON(), compactTo);
    this.durably('save snapshot error:', () => this.storage.saveSnapshot(snap, compactTo));
  }

  /**
   * A write to the data dir. If it fails (disk full, I/O error) the node cannot go on without
   * breaking a promise made to its peers: like etcd, it says so in one fatal line and stops
   * at once, writing nothing more. Its peers carry on; restarted once there is room, it resumes
   * from what was durable and catches up. Returns false once the node is dead.
   */
  private durably(what: string, write: () => void): boolean {
    if (this.stopped) return false;
    try {
      write();
      return true;
    } catch (err) {
      this.die(`${what} ${err instanceof Error ? err.message : String(err)}`, err);
      return false;
    }
  }

  /** etcd's Fatalf: one `C` line, then nothing more from this node; 'fatal' tells whoever runs it. */
  private die(text: string, err: unknown): void {
    this.log('C', 'etcdserver', text);
    this.abortIO();
    for (const w of this.waiters.values()) {
      clearTimeout(w.timer);
      w.reject(new RaftUnavailable('etcdserver: server stopped'));
    }
    this.waiters.clear();
    // Nobody listening (an embedder that does not know the event): fail loudly as before.
    if (!this.emit('fatal', text)) setImmediate(() => { throw err; });
  }

  // ------------------------------------------------------------------ proposals

  /** Propose and wait until applied here. Without a leader, keep trying until the request times out. */
  private proposeAndWait(make: (r: string) => { conf?: { type: 'add' | 'remove' | 'update'; id: string; ctx: ConfContext }; cmd?: NodeCommand }): Promise<ApplyOutcome> {
    const r = `${this.id}-${++this.reqSeq}`;
    const p = make(r);
    // In slow motion a request takes longer by as much as the cluster is slowed.
    const timeoutMs = this.requestTimeoutMs / this.clock.speed;
    return new Promise<ApplyOutcome>((resolve, reject) => {
      const deadline = Date.now() + timeoutMs;
      const timer = setTimeout(() => {
        this.waiters.delete(r);
        reject(new RaftUnavailable('etcdserver: request timed out'));
      }, timeoutMs);
      this.waiters.set(r, { resolve, reject, timer });
      const attempt = () => {
        if (this.stopped || !this.waiters.has(r)) return;
        try {
          if (p.conf) this.raft.proposeConfChange({ type: p.conf.type, id: p.conf.id, context: JSON.stringify(p.conf.ctx) });
          else this.raft.propose(JSON.stringify(p.cmd));
          this.schedule();
        } catch (err) {
          if (!(err instanceof ProposalDropped)) {
            this.waiters.delete(r);
            clearTimeout(timer);
            return reject(err);
          }
          if (p.conf && !/no leader/.test(err.message)) {
            this.waiters.delete(r);
            clearTimeout(timer);
            return reject(new MemberError(500, `etcdserver: ${err.message}`));
          }
          if (Date.now() < deadline) setTimeout(attempt, 50);
        }
      };
      attempt();
    });
  }

  private waitApplied(index: number): Promise<void> {
    if (this.raft.log.applied >= index) return Promise.resolve();
    return new Promise((resolve) => this.appliedWaiters.push({ index, resolve }));
  }

  /** A linearizable read point (read-index), retried until there is a leader or time runs out. */
  private async readBarrier(): Promise<void> {
    const ctx = `${this.id}-read-${++this.reqSeq}`;
    const index = await new Promise<number>((resolve, reject) => {
      const deadline = Date.now() + this.requestTimeoutMs / this.clock.speed;
      const cleanup = () => this.readWaiters.delete(ctx);
      this.readWaiters.set(ctx, (i) => {
        cleanup();
        resolve(i);
      });
      const attempt = () => {
        if (!this.readWaiters.has(ctx)) return;
        if (this.stopped || Date.now() >= deadline) {
          cleanup();
          return reject(new RaftUnavailable('etcdserver: request timed out'));
        }
        try {
          this.raft.readIndex(ctx);
          this.schedule();
        } catch (err) {
          if (!(err instanceof ProposalDropped)) return reject(err);
        }
        // Read requests are not retried by Raft itself: ask again if no answer came.
        setTimeout(attempt, Math.max(100, this.settings.electionMs / 2) / this.clock.timerRate);
      };
      attempt();
    });
    await this.waitApplied(index);
  }

  /**
   * etcd's publish: once there is a leader, this member's name and client URLs go through the
   * log, on every start (not only when they changed), and the node is ready to serve clients
   * once that entry is applied here: it has then caught up at least to its own publish, so it
   * cannot answer from a store older than what it last served (etcd's ReadyNotify).
   */
  private maybePublish(): void {
    if (this.stopped || !this.raft.lead) return;
    const me = this.sm.members.get(this.id);
    const urls = this.settings.advertiseClientURLs;
    if (!me || (this.ready && me.name === this.settings.name && sameList(me.clientURLs, urls))) return;
    if (this.publishing) return;
    this.publishing = true;
    this.proposeAndWait((r) => ({ cmd: { t: 'publish', r, id: this.id, name: this.settings.name, clientURLs: urls } }))
      .then((out) => {
        if (!out.error) this.markReady();
      })
      .catch(() => {})
      .finally(() => (this.publishing = false));
  }

  private publishing = false;
  private ready = false;
  private readyPromise?: Promise<void>;
  private resolveReady?: () => void;

  private markReady(): void {
    if (this.ready) return;
    this.ready = true;
    this.resolveReady?.();
    this.emit('client-ready');
  }

  /** null once ready to serve clients; until then one shared promise of it (see maybePublish). */
  whenReady(): Promise<void> | null {
    if (this.ready) return null;
    return (this.readyPromise ??= new Promise((resolve) => (this.resolveReady = resolve)));
  }

  /** The leader turns expired TTLs into deletions through the log, so every node expires alike. */
  private expireKeys(): void {
    if (this.stopped || this.raft.role !== 'leader') return;
    for (const key of this.sm.store.expiredKeys(this.clock.now())) {
      if (this.expiring.has(key)) continue;
      this.expiring.add(key);
      this.proposeAndWait((r) => ({ cmd: { t: 'v2', r, c: { op: 'expire', path: key, now: this.clock.now() } } }))
        .catch(() => {})
        .finally(() => this.expiring.delete(key));
    }
  }

  private expiring = new Set<string>();

  // ------------------------------------------------------------------ ClientBackend

  status(): RaftStatus {
    return {
      id: this.id,
      name: this.settings.name,
      clusterId: this.clusterId,
      term: this.raft.term,
      commit: this.raft.log.committed,
      leader: this.raft.lead,
      role: this.raft.role,
      startTime: this.startTime,
      leaderStartTime: this.leaderSince,
    };
  }

  storeIndex(): number {
    return this.sm.store.index;
  }

  async write(cmd: Omit<V2Command, 'now'>): Promise<V2Event> {
    const out = await this.proposeAndWait((r) => ({ cmd: { t: 'v2', r, c: { ...cmd, now: this.clock.now() } as V2Command } }));
    if (out.error) throw out.error;
    return out.event!;
  }

  async read(req: V2ReadRequest): Promise<V2Event> {
    if (req.quorum) await this.readBarrier();
    return this.sm.store.get(req.path, { recursive: req.recursive, sorted: req.sorted }, this.clock.now());
  }

  watch(p: string, opts: { recursive: boolean; waitIndex: number }, onEvent: (e: V2Event) => void): V2WatchHandle {
    return this.sm.store.watch(p, opts, onEvent);
  }

  members(): MemberInfo[] {
    return this.sm.list();
  }

  async addMember(peerURLs: string[]): Promise<MemberInfo> {
    for (const m of this.sm.members.values()) {
      if (m.peerURLs.some((u) => peerURLs.includes(u))) throw new MemberError(409, 'membership: peerURL exists');
    }
    if (this.settings.strictReconfigCheck !== false) {
      // etcd: after the add, the started members must still form a quorum.
      const members = [...this.sm.members.values()];
      const started = members.filter((m) => m.name !== '').length;
      const total = members.length + 1;
      if (!(started === 1 && total === 2) && started < Math.floor(total / 2) + 1) {
        throw new MemberError(500, 'etcdserver: re-configuration failed due to not enough started members');
      }
    }
    // etcd derives a runtime-added member's id from its URLs and the time, without the cluster token.
    const id = computeMemberId(peerURLs, '', new Date(this.clock.now()));
    const member: MemberInfo = { id, name: '', peerURLs, clientURLs: [] };
    const out = await this.proposeAndWait((r) => ({ conf: { type: 'add', id, ctx: { member, r } } }));
    if (out.error) throw out.error;
    return out.member ?? member;
  }

  async removeMember(id: string): Promise<void> {
    const m = this.sm.members.get(id);
    if (!m) throw new MemberError(404, `No such member: ${id}`);
    if (this.settings.strictReconfigCheck !== false) {
      // etcd: the members that remain, counting only those we can reach, must form a quorum.
      const remaining = [...this.sm.members.keys()].filter((x) => x !== id);
      const active = remaining.filter((x) => x === this.id || this.peerStats(x).active).length;
      if (active < Math.floor(remaining.length / 2) + 1) throw new MemberError(500, 'etcdserver: unhealthy cluster');
    }
    const out = await this.proposeAndWait((r) => ({ conf: { type: 'remove', id, ctx: { member: m, r } } }));
    if (out.error) throw out.error;
  }

  async updateMember(id: string, peerURLs: string[]): Promise<void> {
    const m = this.sm.members.get(id);
    if (!m) throw new MemberError(404, `No such member: ${id}`);
    for (const o of this.sm.members.values()) {
      if (o.id !== id && o.peerURLs.some((u) => peerURLs.includes(u))) throw new MemberError(409, 'membership: peerURL exists');
    }
    const out = await this.proposeAndWait((r) => ({ conf: { type: 'update', id, ctx: { member: { ...m, peerURLs }, r } } }));
    if (out.error) throw out.error;
  }

  storeStats(): V2StoreStats {
    return this.sm.store.stats();
  }

  selfStats(): object {
    const role = this.raft.role;
    const state = role === 'leader' ? 'StateLeader' : role === 'candidate' ? 'StateCandidate' : role === 'precandidate' ? 'StatePreCandidate' : 'StateFollower';
    const since = this.leaderSince ?? this.startTime;
    return {
      name: this.settings.name,
      id: this.id,
      state,
      startTime: this.startTime.toISOString(),
      leaderInfo: { leader: this.raft.lead, uptime: goDuration(Date.now() - since.getTime()), startTime: since.toISOString() },
      recvAppendRequestCnt: this.counts.recvApp,
      sendAppendRequestCnt: this.counts.sendApp,
    };
  }

  leaderStats(): object | undefined {
    if (this.raft.role !== 'leader') return undefined;
    const followers: Record<string, object> = {};
    for (const m of this.sm.members.values()) {
      if (m.id === this.id) continue;
      const peer = this.peerStats(m.id);
      followers[m.id] = {
        latency: peer.latency,
        counts: { fail: peer.fail, success: peer.success },
      };
    }
    return { leader: this.id, followers };
  }

  async health(): Promise<boolean> {
    if (!this.raft.lead) return false;
    try {
      await this.readBarrier();
      return true;
    } catch {
      return false;
    }
  }

  // ------------------------------------------------------------------ step mode

  /**
   * Manual (step) mode. On: the ticker and the publish and TTL-expiry timers stop; time moves
   * only by tickOnce(), and the peer messages of each Ready go to settings.onHeld (else a
   * 'held' event) instead of the transport, after being persisted as always. `seed` swaps the
   * election timeout's random source for a seeded PRNG, from its next re-randomization on (the
   * timeout already drawn for this term stays). Off: real time and Math.random again.
   * Messages already on the wire keep arriving, and client requests still propose: both are
   * inputs the stepper does not control.
   */
  setManual(on: boolean, opts: { seed?: number } = {}): void {
    if (on && opts.seed !== undefined) this.random = seededRandom(opts.seed);
    if (!on) this.random = Math.random;
    if (on === this.manual) return;
    this.manual = on;
    // Before start() (settings.manual) there is nothing to pause: start() reads `manual`.
    if (!this.raft || this.stopped) return;
    if (on) this.stopTimers();
    else {
      this.startTimers();
      this.schedule();
    }
  }

  get isManual(): boolean {
    return this.manual;
  }

  /**
   * Steps peer messages in, as the transport would hand them over, and processes the Ready
   * loop synchronously: when this returns, everything they caused is persisted and any answer
   * emitted. Returns the Raft events of that processing.
   */
  deliver(msgs: Message[]): RaftEvent[] {
    if (this.stopped) throw new Error('the node is stopped');
    for (const m of msgs) {
      if (m.type === 'MsgApp') this.counts.recvApp++;
      this.raft.step(m);
    }
    return this.processNow();
  }

  /** One tick of the node's clock, processed synchronously like deliver(). */
  tickOnce(): RaftEvent[] {
    if (this.stopped) throw new Error('the node is stopped');
    this.raft.tick();
    // The publish timer is paused: in step mode a node publishes on the tick after it learns a leader.
    if (this.manual) this.maybePublish();
    return this.processNow();
  }

  /**
   * The window's "time out now" (a click on the node's timer ring): Raft campaigns as if its
   * election timer fired, pre-vote included. Processed synchronously like tickOnce().
   */
  campaignNow(): RaftEvent[] {
    if (this.stopped) throw new Error('the node is stopped');
    this.raft.campaign();
    return this.processNow();
  }

  private processNow(): RaftEvent[] {
    const events: RaftEvent[] = [];
    this.collected = events;
    try {
      this.processReady();
    } finally {
      this.collected = undefined;
    }
    return events;
  }

  private hold(msgs: Message[]): void {
    if (this.settings.onHeld) this.settings.onHeld(msgs);
    else this.emit('held', msgs);
  }

  // ------------------------------------------------------------------ checkpoints

  /**
   * Freezes the node and returns its durable state (the SQLite file's bytes) as of now: one
   * node's part of a consistent cut of the cluster (src-main/cluster/checkpoints.ts explains
   * why). Until thaw() the Ready loop does not run, so nothing is persisted and nothing leaves
   * the node: every message it will send later is "after the cut". Ticks, peer messages and
   * proposals still reach Raft, in memory only; they are persisted and answered after thaw().
   */
  freezeAndCheckpoint(): Buffer {
    if (this.stopped) throw new Error('the node is stopped');
    this.frozen = true;
    // Never frozen for good, whatever becomes of whoever froze it. The supervisor gives up on
    // a cut whose answers take over 5 s (and thaws), so a cut it keeps is over long before this.
    clearTimeout(this.thawTimer);
    this.thawTimer = setTimeout(() => this.thaw(), FREEZE_LIMIT_MS).unref();
    return this.storage.serialize();
  }

  /** Ends a freeze: whatever Raft was given meanwhile is processed now. */
  thaw(): void {
    clearTimeout(this.thawTimer);
    if (!this.frozen) return;
    this.frozen = false;
    this.schedule();
  }

  private frozen = false;
  private thawTimer?: NodeJS.Timeout;

  // ------------------------------------------------------------------ for the app and tests

  /** Hand leadership to member `to` (on the leader). */
  transferLeader(to: string): void {
    this.raft.transferLeader(to);
    this.schedule();
  }

  raftView(): Raft {
    return this.raft;
  }

  peerURLs(): string[] {
    return this.transport.boundURLs();
  }

  /** What this node's transport knows of a peer: reachable, latency, counters, clock difference. */
  peerStats(id: string): PeerStats {
    return this.transport.peerStats(id);
  }
}

/** Longest a node stays frozen for a checkpoint if nobody thaws it (see freezeAndCheckpoint). */
const FREEZE_LIMIT_MS = 10_000;

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

function sameList(a: string[], b: string[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}
