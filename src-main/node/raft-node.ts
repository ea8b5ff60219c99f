// One raftlab node: the pure Raft core driven by the node's own clock, made durable in SQLite,
// talking to peers over the peer transport, applying committed entries to the v2 store and the
// member list. This class composes the parts, each in its own module:
//
//   open-member.ts     who this member is (new cluster, existing, restart) and its durable state
//   ready-loop.ts      persist, send, apply, advance; freeze for checkpoints
//   waiters.ts         requests waiting on the log (proposals, read index, applied index)
//   backend-host.ts    what a client API needs of the node (the seam for v2 and, next, v3)
//   v2-backend.ts      etcd's v2 API over it (api-v2.ts serves it over HTTP); TTL expiry
//   member-changes.ts  member add/remove/update with etcd's strict-reconfig checks
//   publish.ts         publishing this member, and readiness to serve clients
//   node-status.ts     the core's state as plain values (status())
//
//   real-time.ts       the ticker, publish and TTL timers, etcd's initial tick advance
//
// and switches between real time and manual (step) mode, where the clock stops driving Raft
// and sent messages are handed out instead of going on the wire (setManual).

import { EventEmitter } from 'node:events';
import type { Message, RaftEvent } from '../../src-shared/raft-types.js';
import { maxAcceptableTerm, Raft } from '../raft/raft.js';
import type { RaftStorage } from '../storage/raft-storage.js';
import { seededRandom } from '../util/rng.js';
import type { BackendHost } from './backend-host.js';
import { openMember } from './open-member.js';
import { NodeClock } from './clock.js';
import { embed, etcdserver, raft as raftLog } from './log.js';
import { MemberChanges } from './member-changes.js';
import { electionTicks, note, NodeStartError, type LogFn, type NodeSettings } from './node-settings.js';
import { readBrief, readStatus, type RaftBrief, type RaftNodeStatus } from './node-status.js';
import { PeerTransport, type PeerStats } from './peer-transport.js';
import { encodePeerMembers } from './peer/members-wire.js';
import { Publisher } from './publish.js';
import { RealTime } from './real-time.js';
import { ReadyLoop } from './ready-loop.js';
import { NodeStateMachine, type ApplyOutcome } from './state-machine.js';
import { V2Backend } from './v2-backend.js';
import { NodeV3Backend } from './v3-backend.js';
import { LeaseForwarder } from '../v3/lease-forward.js';
import { minLeaseTTL } from '../v3/lease/lessor.js';
import { VERSION } from './peer/wire.js';
import { serverTLSOptions, tlsInfoEmpty, tlsInfoString } from './tls-info.js';
import { Waiters, type Proposal } from './waiters.js';

export { NodeStartError, type LogFn, type NodeSettings } from './node-settings.js';
export type { RaftNodeStatus } from './node-status.js';

export class RaftNode extends EventEmitter implements BackendHost {
  readonly clock = new NodeClock();
  id = '';
  clusterId = '';
  readonly requestTimeoutMs: number;
  /** etcd's v2 API served from this node's log. */
  readonly v2: V2Backend;
  /** etcd's v3 API served from the same log (src-main/v3's services call it). */
  readonly v3: NodeV3Backend;
  /** Member add/remove/update through the log, and the member list as applied. */
  readonly members: MemberChanges;
  private raft!: Raft;
  private storage!: RaftStorage;
  private transport!: PeerTransport;
  private loop!: ReadyLoop;
  private waiters!: Waiters;
  private readonly publisher: Publisher;
  /** What the log is applied to: the v2 store, the v3 state and the member list (changed by the Ready loop only). */
  readonly sm: NodeStateMachine;
  readonly startTime = new Date();
  private stopped = false;
  private removing = false;
  private readonly realTime: RealTime;
  /** Step mode: no ticker, no publish/expiry timers, Ready messages held (see setManual). */
  private manual = false;
  /** Raft reads this whenever it re-randomizes its election timeout; swapped by setManual. */
  private random: () => number = Math.random;

  constructor(
    readonly settings: NodeSettings,
    private readonly log: LogFn,
  ) {
    super();
    this.requestTimeoutMs = 5000 + 2 * settings.electionMs;
    this.members = new MemberChanges(this, settings.strictReconfigCheck !== false);
    this.v2 = new V2Backend(this, this.members);
    // Leases count on the node's clock, as v2 TTLs do; etcd's minimum TTL from the election timeout.
    this.sm = new NodeStateMachine({
      minLeaseTTL: minLeaseTTL(settings.electionMs, settings.heartbeatMs),
      now: () => this.clock.now(),
    });
    this.v3 = new NodeV3Backend(this, {
      electionMs: settings.electionMs,
      heartbeatMs: settings.heartbeatMs,
      quotaBackendBytes: settings.quotaBackendBytes,
      requestTimeoutMs: this.requestTimeoutMs,
      version: VERSION.replace(/-.*/, ''),
      forward: new LeaseForwarder(this.requestTimeoutMs),
      paused: () => this.manual || this.stopped,
      members: this.members,
    });
    this.publisher = new Publisher(
      this,
      () => this.settings.advertiseClientURLs,
      () => this.emit('client-ready'),
      (name, urls) => note(this.log, etcdserver.published(name, urls, this.clusterId)),
    );
    this.realTime = new RealTime({
      clock: this.clock,
      heartbeatMs: settings.heartbeatMs,
      electionTicks: electionTicks(settings),
      tick: (n) => {
        for (let i = 0; i < n; i++) this.raft.tick();
        this.schedule();
      },
      publish: () => this.maybePublish(),
      expireKeys: () => {
        if (!this.stopped) this.v2.expireKeys();
      },
      peerIds: () => this.peerIds(),
      peerActive: (id) => this.transport.peerStats(id).active,
      stopped: () => this.stopped,
      manual: () => this.manual,
    });
  }

  // ------------------------------------------------------------------ lifecycle

  async start(): Promise<void> {
    const s = this.settings;
    // etcd's configurePeerListeners says how peers are secured before anything else happens.
    if (!tlsInfoEmpty(s.peerTLS)) note(this.log, embed.peerTLS(tlsInfoString(s.peerTLS!)));
    // ...and fails on a missing or bad certificate file before the data dir is touched.
    if (s.listenPeerURLs.some((u) => u.startsWith('https:'))) {
      if (tlsInfoEmpty(s.peerTLS))
        throw new NodeStartError(
          `cannot listen on TLS for ${new URL(s.listenPeerURLs.find((u) => u.startsWith('https:'))!).host}: KeyFile and CertFile are not presented`,
        );
      serverTLSOptions(s.peerTLS!);
    }
    const { id, clusterId, storage, stored, joinPeers } = await openMember(s, this.log);
    this.id = id;
    this.clusterId = clusterId;
    this.storage = storage;

    if (s.manual) this.setManual(true, s.manual);
    if (stored.snapshot) this.sm.restore(stored.snapshot.data);
    this.raft = new Raft({ id, electionTick: electionTicks(s), heartbeatTick: 1, random: () => this.random() }, stored);
    note(this.log, etcdserver.startingMember(id, clusterId));
    note(this.log, raftLog.becameFollower(id, this.raft.term));

    this.transport = new PeerTransport({
      memberId: id,
      clusterId,
      listenURLs: s.listenPeerURLs,
      tls: s.peerTLS,
      clock: () => this.clock.now(),
      log: this.log,
      onMessages: (msgs) => this.onPeerMessages(msgs),
      peerURLs: (peer) => this.sm.members.get(peer)?.peerURLs ?? this.sm.removed.get(peer) ?? joinPeers.get(peer),
      peerIds: () => this.peerIds(),
      isRemoved: (peer) => this.sm.removed.has(peer),
      // Members as applied, those being added (in the log, effective once appended), and,
      // for a member still joining, those the cluster told it of.
      isMember: (peer) => this.sm.members.has(peer) || this.raft.isMember(peer) || joinPeers.has(peer),
      maxTerm: () => maxAcceptableTerm(this.raft.term),
      onRemovedFromCluster: () => this.onRemoved(),
      isLinkCut: s.isLinkCut,
      outbound: s.outbound,
      extraRoutes: (req, res) => {
        if (req.method === 'GET' && req.url === '/members') {
          res.writeHead(200, { 'Content-Type': 'application/json', 'X-Etcd-Cluster-Id': this.clusterId });
          res.end(encodePeerMembers(this.sm.list()));
          return true;
        }
        return false;
      },
    });
    this.waiters = new Waiters({
      id,
      raft: this.raft,
      stopped: () => this.stopped,
      schedule: () => this.schedule(),
      // In slow motion a request takes longer by as much as the cluster is slowed.
      timeoutMs: () => this.requestTimeoutMs / this.clock.speed,
      readRetryMs: () => Math.max(100, s.electionMs / 2) / this.clock.timerRate,
    });
    this.loop = new ReadyLoop({
      id,
      clusterId,
      raft: this.raft,
      storage,
      sm: this.sm,
      waiters: this.waiters,
      log: this.log,
      snapshotCount: s.snapshotCount,
      snapshotCatchUpEntries: s.snapshotCatchUpEntries ?? 5000,
      events: this,
      send: (msgs, opts) => this.transport.send(msgs, opts),
      hold: (msgs) => this.hold(msgs),
      stopped: () => this.stopped,
      manual: () => this.manual,
      removedSelf: () => this.onRemoved(),
      die: (text, err) => this.die(text, err),
    });
    await this.transport.start();
    for (const u of this.transport.boundURLs()) note(this.log, embed.listeningForPeers(new URL(u).host));

    // etcd publishes as soon as there is a leader (its publish blocks until then): a node that
    // learns of one publishes at once, not at the publish timer's next round.
    this.on('raft-event', (e: RaftEvent) => {
      if (e.kind === 'role' && e.lead && !this.manual) setImmediate(() => this.maybePublish());
    });
    this.loop.runNow();
    this.v3.start();
    if (!this.manual) {
      this.realTime.start();
      void this.realTime.adjustTicks();
    }
  }

  /**
   * The app's "kill -9": stop all I/O at once, with no shutdown of Raft or SQLite (what was
   * acknowledged is already durable; nothing else is written).
   */
  abortIO(): void {
    this.stopped = true;
    this.realTime.stop();
    this.v3.stop();
    void this.transport?.stop();
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.loop?.saveCommit();
    this.stopped = true;
    this.realTime.stop();
    this.v3.stop();
    this.waiters?.failProposals();
    await this.transport?.stop();
    this.storage?.close();
    this.emit('stopped');
  }

  /** null once ready to serve clients; until then one shared promise of it (see publish.ts). */
  whenReady(): Promise<void> | null {
    return this.publisher.whenReady();
  }

  /**
   * This member was removed. Like etcd it says so and exits about a second later, which also
   * lets a client's in-flight request (possibly the very `member remove`) get its answer.
   */
  private onRemoved(): void {
    if (this.stopped || this.removing) return;
    this.removing = true;
    note(this.log, etcdserver.memberRemoved());
    note(this.log, etcdserver.dataDirMustBeRemoved());
    setTimeout(() => {
      this.emit('removed');
      void this.stop();
    }, 1000).unref();
  }

  /** etcd's Fatalf: one `C` line, then nothing more from this node; 'fatal' tells whoever runs it. */
  private die(text: string, err: unknown): void {
    this.log('C', 'etcdserver', text);
    this.abortIO();
    this.waiters.failProposals();
    // Nobody listening (an embedder that does not know the event): fail loudly as before.
    if (!this.emit('fatal', text))
      setImmediate(() => {
        throw err;
      });
  }

  private onPeerMessages(msgs: Message[]): void {
    if (this.stopped) return;
    this.loop.stepIn(msgs);
    this.settings.onStepped?.(msgs);
    this.schedule();
  }

  private schedule(): void {
    this.loop?.schedule();
  }

  private peerIds(): string[] {
    return [...this.sm.members.keys()].filter((id) => id !== this.id);
  }

  // ------------------------------------------------------------------ real time

  private maybePublish(): void {
    if (!this.stopped) this.publisher.maybePublish();
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
    if (on) this.realTime.stop();
    else {
      this.realTime.start();
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
    this.mustRun();
    this.loop.stepIn(msgs);
    return this.loop.runNow();
  }

  /** One tick of the node's clock, processed synchronously like deliver(). */
  tickOnce(): RaftEvent[] {
    this.mustRun();
    this.raft.tick();
    // The publish timer is paused: in step mode a node publishes on the tick after it learns a leader.
    if (this.manual) this.maybePublish();
    return this.loop.runNow();
  }

  /**
   * The window's "time out now" (a click on the node's timer ring): Raft campaigns as if its
   * election timer fired, pre-vote included. Processed synchronously like tickOnce().
   */
  campaignNow(): RaftEvent[] {
    this.mustRun();
    this.raft.campaign();
    return this.loop.runNow();
  }

  private hold(msgs: Message[]): void {
    if (this.settings.onHeld) this.settings.onHeld(msgs);
    else this.emit('held', msgs);
  }

  private mustRun(): void {
    if (this.stopped) throw new Error('the node is stopped');
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
    this.mustRun();
    // Never frozen for good, whatever becomes of whoever froze it. The supervisor gives up on
    // a cut whose answers take over 5 s (and thaws), so a cut it keeps is over long before this.
    this.loop.freeze(FREEZE_LIMIT_MS);
    this.loop.saveCommit();
    return this.storage.serialize();
  }

  /** Ends a freeze: whatever Raft was given meanwhile is processed now. */
  thaw(): void {
    this.loop?.thaw();
  }

  // ------------------------------------------------------------------ for the client APIs (BackendHost)

  get name(): string {
    return this.settings.name;
  }

  leaderSince(): Date | undefined {
    return this.loop?.leaderSince;
  }

  appendCounts(): { recvApp: number; sendApp: number } {
    return { ...(this.loop?.counts ?? { recvApp: 0, sendApp: 0 }) };
  }

  proposeAndWait(make: (r: string) => Proposal): Promise<ApplyOutcome> {
    return this.waiters.proposeAndWait(make);
  }

  readBarrier(): Promise<void> {
    return this.waiters.readBarrier();
  }

  // ------------------------------------------------------------------ for the app and tests

  /** Hand leadership to member `to` (on the leader). */
  transferLeader(to: string): void {
    this.raft.transferLeader(to);
    this.schedule();
  }

  /** Raft's state as plain values, with the last `logTail` log entries. */
  status(opts: { logTail?: number } = {}): RaftNodeStatus {
    return readStatus(this.raft, opts.logTail);
  }

  brief(): RaftBrief {
    return readBrief(this.raft);
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
