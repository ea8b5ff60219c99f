// The window's model of the cluster, fed by event batches (live from the bridge, or replayed
// from a trace later): the latest cluster snapshot, the messages in flight, the timeline, the
// etcd-style log lines and a status sentence. Views read it; only `ingest` writes it.

import type { RaftlabBridge } from '../../src-shared/bridge.js';
import { describeCommand, narrate, narrateAttach, type Weight } from '../../src-shared/narrate.js';
import {
  agreedLeader,
  type ClusterState,
  type MessageSummary,
  type NodeState,
} from '../../src-shared/cluster-state.js';
import type { CommandResult, WatchLine } from '../../src-shared/command-results.js';
import type { Command } from '../../src-shared/commands.js';
import type { ServerEvent } from '../../src-shared/protocol.js';
import type { RaftEvent } from '../../src-shared/raft-types.js';
import { flightAt, Playout, timerFill, type DrawnChange, type FlightTimes, type MarkDrawn } from './playout.js';
import { bootstrapSummary } from './bootstrap-view.js';

export type { DrawnChange, MarkDrawn } from './playout.js';

export interface Flight extends MessageSummary, FlightTimes {
  /** The app's message id (undefined: a step-mode delivery, or an old trace). */
  id?: number;
}

export type TimelineKind =
  | 'election'
  | 'vote'
  | 'role'
  | 'log'
  | 'commit'
  | 'membership'
  | 'snapshot'
  | 'key'
  | 'client'
  | 'action'
  | 'warning'
  /** Where the window switched clusters (attach, detach): the lines on either side are about different clusters. Never filtered out. */
  | 'divider';

export interface TimelineItem {
  seq: number;
  at: number;
  node: string;
  kind: TimelineKind;
  text: string;
  weight: Weight;
}

export interface LogLine {
  seq: number;
  node: string;
  level: string;
  line: string;
}

const TIMELINE_MAX = 500;
const LOGLINES_MAX = 400;
/** Flights kept at most (a storm of messages drops the oldest marks, never the newest). */
const FLIGHTS_MAX = 1500;
/** Drawn changes kept for the test hook. */
const DRAWN_MAX = 20_000;

/** Real time with sub-millisecond steps, on the same clock as the events' `at`. */
const realNow = () => performance.timeOrigin + performance.now();

function kindOf(e: RaftEvent): TimelineKind {
  switch (e.kind) {
    case 'election-timeout':
    case 'check-quorum-lost':
    case 'transfer-start':
    case 'transfer-abort':
      return 'election';
    case 'vote':
    case 'vote-result':
      return 'vote';
    case 'role':
    case 'term':
      return 'role';
    case 'append':
    case 'truncate':
      return 'log';
    case 'commit':
    case 'apply':
      return 'commit';
    case 'conf':
    case 'removed':
      return 'membership';
    case 'snapshot-created':
    case 'snapshot-sent':
    case 'snapshot-installed':
      return 'snapshot';
  }
}

/**
 * What the status line says, checked against every snapshot drawn (see checkStatus): a leader
 * (as of supervisor batch `batch`), a clock warning, the state described (`now`: kept up to
 * date with each snapshot), or a sentence about something that happened (left as it is).
 */
type StatusClaim =
  | { kind: 'leader'; node: string; term: number; batch: number }
  | { kind: 'clock'; node: string }
  | { kind: 'now' }
  | { kind: 'other' };

export class Session {
  cluster = $state.raw<ClusterState | null>(null);
  timeline = $state.raw<TimelineItem[]>([]);
  logLines = $state.raw<LogLine[]>([]);
  status = $state('Starting the cluster…');
  connected = $state(false);
  selected = $state<string | null>(null);
  /** The latest clock warning per node (etcd's "clock difference" line), cleared when it heals. */
  clockWarnings = $state.raw<Record<string, string>>({});
  /**
   * Each node's standing warnings, per peer it warned about. A warning goes with etcd's own
   * all-clear line for that peer, or when either end stops: not on a state snapshot, whose clock
   * figures may predate the warning (that cleared it at once, and etcd repeats it only every 30 s).
   */
  private readonly clockWarnedPeers = new Map<string, Map<string, string>>();
  lastError = $state<string | null>(null);

  /** Read every frame by the canvas, so not reactive. */
  flights: Flight[] = [];
  /** Counters for the renderer bench and tests. */
  stats = { batches: 0, events: 0, messages: 0, byLink: {} as Record<string, number> };
  /** The clickable marks of the last frame (for tests). */
  marks: MarkDrawn[] = [];
  /** Every change drawn (marks landed or lost, roles, votes, terms), newest last (bounded). */
  drawn: DrawnChange[] = [];
  /** The frame being drawn (advance): a counter and its performance.now(). */
  private frame = { n: 0, time: 0 };
  private drawnSeq = 0;
  /** Events wait here until their time comes (playout.ts). */
  private readonly playout = new Playout();
  /** Flights by message id, to land them. */
  private flightById = new Map<number, Flight>();
  /** Deliveries drawn before their message arrived (a late batch): landed on arrival. */
  private landedEarly = new Map<number, number>();
  private statusClaim: StatusClaim = { kind: 'other' };
  /** Supervisor batches received, and the batch each event came in (a snapshot speaks for what arrived with or before it). */
  private batchNo = 0;
  private readonly batchOf = new WeakMap<ServerEvent, number>();
  /** The batch of the snapshot drawn. */
  private clusterBatch = 0;
  private lastAdvance = 0;

  private seq = 0;
  private reqSeq = 0;
  /** The timeline line of the last attach or detach asked for: a switch of clusters is marked just before it. */
  private switchAskedSeq: number | undefined;
  /**
   * The latest time of the window's own cluster's events drawn, and that time as it was when the
   * window attached elsewhere: on detach the supervisor's greeting tells its story again, and
   * what was told already is not told twice (what happened while attached is).
   */
  private ownToldUntil = -Infinity;
  private ownToldBeforeAttach: number | undefined;
  private waiting = new Map<string, { resolve: (r: CommandResult) => void; reject: (e: Error) => void }>();
  private nameById = new Map<string, string>();
  /** Who shows each v3 watch the console opened (by watch id). */
  private readonly watchViewers = new Map<string, (line: WatchLine & { at: number }) => void>();

  /** A replayed trace: nothing can be sent, the views only show what was recorded. */
  readonly replay: boolean;

  /** A replay's virtual clock: events are drawn as they are fed, marks move on this time. */
  private readonly clock?: () => number;

  constructor(
    private readonly bridge: RaftlabBridge,
    options: { replay?: boolean; clock?: () => number } = {},
  ) {
    this.replay = options.replay ?? false;
    this.clock = options.clock;
    bridge.onEvents((batch) => this.ingest(batch));
    // Frames drive the playout (ClusterView calls advance); this keeps the model current when
    // no frames are drawn (a hidden tab).
    if (!this.replay && typeof setInterval === 'function') setInterval(() => this.advance(), 250);
  }

  /** The global speed the cluster runs at (1 = real time). */
  get speed(): number {
    return this.cluster?.speed ?? 1;
  }

  /** The time the window shows (real ms): now minus the display lag, or the replay's clock. */
  displayNow(): number {
    return this.clock ? this.clock() : this.playout.displayTime(realNow());
  }

  /** Draws every event whose time has come; called once per frame (and now and then). */
  advance(frameTime?: number): void {
    if (frameTime !== undefined) this.frame = { n: this.frame.n + 1, time: frameTime };
    if (this.replay) return;
    const now = realNow();
    if (this.lastAdvance) this.playout.relax(now - this.lastAdvance);
    this.lastAdvance = now;
    const due = this.playout.take(this.playout.displayTime(now));
    if (due.length > 0) this.apply(due);
  }

  /** Forget everything shown (a replay seeks by starting over from a checkpoint). */
  reset(): void {
    this.cluster = null;
    this.timeline = [];
    this.logLines = [];
    this.clockWarnings = {};
    this.clockWarnedPeers.clear();
    this.flights = [];
    this.flightById.clear();
    this.landedEarly.clear();
    this.playout.drain();
    this.status = '';
    this.statusClaim = { kind: 'other' };
    this.switchAskedSeq = undefined;
    this.ownToldUntil = -Infinity;
    this.ownToldBeforeAttach = undefined;
    this.stats = { batches: 0, events: 0, messages: 0, byLink: {} };
  }

  get kind(): 'electron' | 'browser' {
    return this.bridge.kind;
  }

  /** `show` gets each line of watch `id` as it is drawn, until the returned function is called. */
  onWatch(id: string, show: (line: WatchLine & { at: number }) => void): () => void {
    this.watchViewers.set(id, show);
    return () => {
      if (this.watchViewers.get(id) === show) this.watchViewers.delete(id);
    };
  }

  /** Sends a command; resolves with its result or rejects with the supervisor's message. */
  send(cmd: Command): Promise<CommandResult> {
    if (this.replay) return Promise.reject(new Error('this is a replayed trace: the cluster it shows is not running'));
    const id = `w${++this.reqSeq}`;
    this.note('action', '', describeCommand(cmd), 'minor');
    if (cmd.type === 'attach' || cmd.type === 'detach') this.switchAskedSeq = this.seq;
    return new Promise((resolve, reject) => {
      this.waiting.set(id, { resolve, reject });
      this.bridge.send({ id, cmd });
    });
  }

  /** A member's name, by its id as the state gives it (16 digits) or as etcd prints it (no leading zeros). */
  nameOf = (id: string): string => this.nameById.get(id) ?? this.nameById.get(id.padStart(16, '0')) ?? id;

  /** Set while the window shows a cluster raftlab did not start (watched from outside). */
  get attached() {
    return this.cluster?.attached;
  }

  node(name: string | null): NodeState | undefined {
    return name ? this.cluster?.nodes.find((n) => n.name === name) : undefined;
  }

  /** A batch from the supervisor (or a replay): timed events wait for their time to be drawn. */
  ingest(batch: ServerEvent[]): void {
    this.stats.batches++;
    this.stats.events += batch.length;
    const now = this.replay ? 0 : realNow();
    const batchNo = ++this.batchNo;
    for (const e of batch) this.batchOf.set(e, batchNo);
    const immediate = this.playout.push(batch, now);
    if (immediate.length > 0) this.apply(immediate);
    // A replay is fed as its own clock moves: everything it gets is due.
    if (this.replay) this.apply(this.playout.drain());
  }

  private apply(batch: ServerEvent[]): void {
    const items: TimelineItem[] = [];
    /** A line for the timeline, numbered in the order told. */
    const tell = (at: number, node: string, kind: TimelineKind, text: string, weight: Weight) =>
      void items.push({ seq: ++this.seq, at, node, kind, text, weight });
    const lines: LogLine[] = [];
    let status: string | undefined;
    for (const e of batch) {
      if (OWN_CLUSTER_EVENTS.has(e.type) && 'at' in e && typeof e.at === 'number') {
        if (this.ownToldBeforeAttach !== undefined && e.at <= this.ownToldBeforeAttach) continue;
        if (!this.cluster?.attached) this.ownToldUntil = Math.max(this.ownToldUntil, e.at);
      }
      switch (e.type) {
        case 'cluster':
          this.clusterBatch = this.batchOf.get(e) ?? this.batchNo;
          this.setCluster(e.cluster, e.at);
          break;
        case 'message':
          this.stats.messages++;
          this.stats.byLink[`${e.from}>${e.to}`] = (this.stats.byLink[`${e.from}>${e.to}`] ?? 0) + 1;
          this.addFlight(e);
          break;
        case 'delivered':
          this.land(e.id, e.at);
          break;
        case 'lost': {
          const f = this.flightById.get(e.id);
          if (f) {
            f.lostAt = e.at;
            this.flightById.delete(e.id);
            this.record({
              kind: 'lost',
              at: e.at,
              node: f.to,
              id: e.id,
              msgType: f.msgType,
              from: f.from,
              term: f.term,
            });
          }
          if (e.reason === 'dropped')
            tell(
              e.at,
              e.from,
              'action',
              `${e.from} → ${e.to} message #${e.id} was dropped in flight: it never arrives`,
              'minor',
            );
          break;
        }
        case 'raft': {
          const n = narrate(e.node, e.event, this.nameOf);
          if (n) {
            tell(e.at, e.node, kindOf(e.event), n.text, n.weight);
            if (n.weight === 'major') {
              status = n.text;
              this.statusClaim =
                e.event.kind === 'role' && e.event.role === 'leader'
                  ? { kind: 'leader', node: e.node, term: e.event.term, batch: this.batchOf.get(e) ?? this.batchNo }
                  : { kind: 'other' };
            }
          }
          break;
        }
        case 'log': {
          lines.push({ seq: ++this.seq, node: e.node, level: e.level, line: e.line });
          if (e.msg.includes('clock difference') && e.msg.includes('back under')) {
            // etcd's all-clear for the same peer: the warning goes.
            this.setClockWarning(e.node, peerOfClockLine(e.msg), undefined);
            tell(e.at, e.node, 'warning', `${e.node}: ${e.msg}`, 'minor');
          } else if (e.msg.includes('clock difference')) {
            this.setClockWarning(e.node, peerOfClockLine(e.msg), e.line);
            tell(e.at, e.node, 'warning', `${e.node}: ${e.msg}`, 'major');
            status = `${e.node} warns: ${e.msg}`;
            this.statusClaim = { kind: 'clock', node: e.node };
          } else if (e.level === 'E' || e.level === 'C') {
            tell(e.at, e.node, 'warning', `${e.node}: ${e.msg}`, 'major');
          } else if (isBootstrapLine(e.pkg, e.msg)) {
            // How a member found its cluster (a discovery token, SRV records) is part of the story.
            // Member ids (registration keys) by name, as the node logs show them.
            // etcd prints them with %x: one in sixteen has fewer than 16 digits.
            const text = e.msg.replace(/\b[0-9a-f]{12,16}\b/g, (id) => this.nameOf(id));
            tell(e.at, e.node, 'membership', `${e.node}: ${text}`, 'minor');
          }
          break;
        }
        case 'client':
          tell(e.at, e.node, 'client', `${e.node} answered ${e.method} ${e.path}: ${e.status} in ${e.ms} ms`, 'minor');
          break;
        case 'step':
          if (e.fate === 'dropped') {
            const why =
              e.reason === 'cut'
                ? 'its link is cut'
                : e.reason === 'down'
                  ? `${e.message.to} is not running`
                  : 'you dropped it';
            tell(
              e.at,
              e.message.from,
              'action',
              `${e.message.from} → ${e.message.to} ${e.message.msgType} was dropped: ${why}`,
              'minor',
            );
          }
          break;
        case 'attach': {
          const n = narrateAttach(e.event);
          tell(e.at, '', n.kind, n.text, n.weight);
          if (n.weight === 'major') {
            status = n.text;
            this.statusClaim = { kind: 'other' };
          }
          break;
        }
        case 'watch':
          this.watchViewers.get(e.watch)?.(e);
          if (e.ended) tell(e.at, e.node, 'warning', `${e.node}: the watch ended: ${e.ended}`, 'minor');
          break;
        case 'ack':
          this.waiting.get(e.id)?.resolve(e.result);
          this.waiting.delete(e.id);
          break;
        case 'error':
          if (e.id && this.waiting.has(e.id)) {
            this.waiting.get(e.id)!.reject(new Error(e.message));
            this.waiting.delete(e.id);
          }
          this.lastError = e.message;
          tell(Date.now(), '', 'warning', e.message, 'major');
          break;
      }
    }
    if (items.length > 0) this.timeline = [...this.timeline, ...items].slice(-TIMELINE_MAX);
    if (lines.length > 0) this.logLines = [...this.logLines, ...lines].slice(-LOGLINES_MAX);
    if (status) this.status = status;
    this.checkStatus();
  }

  /** Sets (line) or clears (undefined) `node`'s warning about `peer`; the node shows its latest. */
  private setClockWarning(node: string, peer: string, line: string | undefined): void {
    const warned = this.clockWarnedPeers.get(node) ?? new Map<string, string>();
    warned.delete(peer); // re-set last: the latest line is the one shown
    if (line !== undefined) warned.set(peer, line);
    if (warned.size > 0) this.clockWarnedPeers.set(node, warned);
    else this.clockWarnedPeers.delete(node);
    const { [node]: _gone, ...rest } = this.clockWarnings;
    const latest = [...warned.values()].at(-1);
    this.clockWarnings = latest === undefined ? rest : { ...rest, [node]: latest };
  }

  /**
   * The status line says what is true now: a leader it names must still lead (and the cluster
   * agree), a clock warning must still stand; otherwise it says how things are.
   */
  private checkStatus(): void {
    const c = this.cluster;
    if (!c) return;
    const claim = this.statusClaim;
    // An attached cluster is told about by the observer's own events (a sentence stays until the
    // next); a description of it ('now', as set on attaching) follows every snapshot until then,
    // and a leader named before attaching (the window's own) is checked, so it is not shown leading there.
    if (c.attached && claim.kind !== 'leader' && claim.kind !== 'now') return;
    let stale = false;
    if (claim.kind === 'leader') {
      // A snapshot from before the win (drawn just before the win's own snapshot) does not count.
      const l = c.nodes.find((n) => n.name === claim.node);
      stale =
        this.clusterBatch >= claim.batch &&
        (!l || l.status !== 'alive' || l.role !== 'leader' || l.term !== claim.term);
    } else if (claim.kind === 'clock') {
      stale = !this.clockWarnings[claim.node];
    } else if (claim.kind === 'now') {
      stale = true;
    }
    if (!stale) return;
    this.status = describeNow(c);
    if (c.attached) {
      this.statusClaim = { kind: 'now' };
      return;
    }
    const l = agreedLeader(c);
    this.statusClaim = l ? { kind: 'leader', node: l.name, term: l.term, batch: this.clusterBatch } : { kind: 'now' };
  }

  /** Adds a line of the user's own doing to the timeline (and the status line if major). */
  note(kind: TimelineKind, node: string, text: string, weight: Weight, at = Date.now()): void {
    this.timeline = [...this.timeline, { seq: ++this.seq, at, node, kind, text, weight }].slice(-TIMELINE_MAX);
    if (weight === 'major') {
      this.status = text;
      this.statusClaim = { kind: 'other' };
    }
  }

  /** How full a node's election timer is (1 = just reset, 0 = fires) at display time `t`, from its own ticks. */
  timerLeft(n: NodeState, t: number): number {
    if (n.status !== 'alive' || n.role === 'leader' || !n.timer) return 1;
    return timerFill(n.timer, t);
  }

  private setCluster(c: ClusterState, at: number | undefined): void {
    const before = this.cluster;
    if (before && before.generation !== c.generation) {
      this.flights = [];
      this.flightById.clear();
      this.landedEarly.clear();
      this.clockWarnings = {};
      this.clockWarnedPeers.clear();
    }
    this.nameById = new Map(c.nodes.filter((n) => n.id).map((n) => [n.id, n.name]));
    const when = at ?? this.displayNow();
    if (before && (before.speed ?? 1) !== (c.speed ?? 1)) this.rescaleFlights(before.speed ?? 1, c.speed ?? 1, when);
    for (const n of c.nodes) {
      const old = before?.nodes.find((o) => o.name === n.name);
      if (n.status === 'alive') {
        if (!old || old.role !== n.role || old.status !== 'alive')
          this.record({ kind: 'role', at: when, node: n.name, role: n.role, term: n.term });
        if (old && old.term !== n.term) this.record({ kind: 'term', at: when, node: n.name, term: n.term });
        if (n.vote && (!old || old.vote !== n.vote || old.term !== n.term))
          this.record({ kind: 'vote', at: when, node: n.name, vote: n.vote, term: n.term });
      }
    }
    // A warning stands while both ends run (etcd's prober stops judging a peer it cannot reach).
    const running = new Set(c.nodes.filter((n) => n.status === 'alive').map((n) => memberKey(n.id)));
    for (const n of c.nodes) {
      for (const peer of this.clockWarnedPeers.get(n.name)?.keys() ?? []) {
        if (n.status !== 'alive' || !running.has(peer)) this.setClockWarning(n.name, peer, undefined);
      }
    }
    if (before && scopeOf(before) !== scopeOf(c)) this.markSwitch(before, c, when);
    this.cluster = c;
    // Members still finding each other (discovery, DNS): the status line follows how far they got.
    if (c.bootstrap && !c.nodes.some((n) => n.status === 'alive')) {
      this.status = describeNow(c);
      this.statusClaim = { kind: 'now' };
    }
    if (this.status === 'Starting the cluster…' && c.nodes.some((n) => n.role === 'leader' && n.status === 'alive')) {
      const l = c.nodes.find((n) => n.role === 'leader' && n.status === 'alive')!;
      this.status = `${l.name} leads term ${l.term}`;
      this.statusClaim = { kind: 'leader', node: l.name, term: l.term, batch: this.clusterBatch };
    }
  }

  /**
   * The window now shows another cluster (attached, detached): a divider says which lines are
   * about which, placed before the user's own attach/detach line when there is one; and the
   * status line speaks of the cluster shown (what it said was about the other one).
   */
  private markSwitch(before: ClusterState, after: ClusterState, at: number): void {
    const divider: TimelineItem = {
      seq: ++this.seq,
      at,
      node: '',
      kind: 'divider',
      text: switchText(before, after),
      weight: 'minor',
    };
    if (after.attached && !before.attached) this.ownToldBeforeAttach = this.ownToldUntil;
    const asked = this.timeline.findIndex((t) => t.seq === this.switchAskedSeq);
    this.switchAskedSeq = undefined;
    const timeline = [...this.timeline];
    if (asked >= 0) timeline.splice(asked, 0, { ...divider, at: timeline[asked]?.at ?? at });
    else timeline.push(divider);
    this.timeline = timeline.slice(-TIMELINE_MAX);
    // The first attached snapshot is taken before any endpoint answers: the words follow the snapshots.
    this.status = describeNow(after);
    this.statusClaim = { kind: 'now' };
  }

  private addFlight(m: Extract<ServerEvent, { type: 'message' }>): void {
    const { type: _t, at, id, due, ...summary } = m;
    const f: Flight = { ...summary, id, sentAt: at, dueAt: due ?? at };
    if (id === undefined)
      f.landedAt = at; // a step-mode delivery: it arrives as it is drawn
    else {
      const early = this.landedEarly.get(id);
      if (early !== undefined) {
        this.landedEarly.delete(id);
        f.landedAt = Math.max(at, early);
        this.record({ kind: 'landed', at: f.landedAt, node: f.to, id, msgType: f.msgType, from: f.from, term: f.term });
      } else this.flightById.set(id, f);
    }
    this.flights.push(f);
    if (this.flights.length > FLIGHTS_MAX) {
      for (const old of this.flights.splice(0, this.flights.length - FLIGHTS_MAX))
        if (old.id !== undefined) this.flightById.delete(old.id);
    }
  }

  /**
   * The cluster's speed changed at `t`: as in its senders (slow-network.ts), each message in
   * flight keeps the share of its flight already done, the rest stretched or shrunk (back at ×1
   * it leaves at once). Only the drawing's plan: a mark still lands on its real delivery.
   */
  private rescaleFlights(from: number, to: number, t: number): void {
    for (const f of this.flightById.values()) {
      if (f.landedAt !== undefined || f.lostAt !== undefined || f.dueAt <= t) continue;
      const left = f.dueAt - t;
      const done = Math.max(0, Math.min(1, (t - f.sentAt) / Math.max(1, f.dueAt - f.sentAt)));
      const newLeft = to >= 1 ? 0 : (left * from) / to;
      // Keep the mark where it is: a new start such that `done` of the new span is behind it.
      const span = newLeft / Math.max(1e-6, 1 - done);
      f.dueAt = t + newLeft;
      f.sentAt = f.dueAt - span;
    }
  }

  /** Its target stepped the message in: the mark lands now. */
  private land(id: number, at: number): void {
    const f = this.flightById.get(id);
    if (!f) {
      if (this.landedEarly.size > FLIGHTS_MAX) this.landedEarly.clear();
      this.landedEarly.set(id, at);
      return;
    }
    this.flightById.delete(id);
    f.landedAt = at;
    this.record({ kind: 'landed', at, node: f.to, id, msgType: f.msgType, from: f.from, term: f.term });
  }

  /** Marks still to draw at display time `t`, with where they are; the others are forgotten. */
  visibleFlights(t: number): { f: Flight; p: number; alpha: number; landed: boolean }[] {
    const out: { f: Flight; p: number; alpha: number; landed: boolean }[] = [];
    const keep: Flight[] = [];
    for (const f of this.flights) {
      // Not sent yet on the drawn timeline (a replay seeking back): not drawn, kept.
      if (f.sentAt > t) {
        keep.push(f);
        continue;
      }
      const at = flightAt(f, t);
      if (!at) {
        if (f.id !== undefined) this.flightById.delete(f.id);
        continue;
      }
      keep.push(f);
      out.push({ f, ...at });
    }
    this.flights = keep;
    return out;
  }

  private record(c: Omit<DrawnChange, 'seq' | 'frame' | 'time'>): void {
    this.drawn.push({ seq: ++this.drawnSeq, frame: this.frame.n, time: this.frame.time, ...c });
    if (this.drawn.length > DRAWN_MAX) this.drawn.splice(0, this.drawn.length - DRAWN_MAX);
  }
}

/** The status line when what it said is no longer true. */
export function describeNow(c: ClusterState): string {
  // An attached cluster's members are seen from outside: its leader is what the endpoints report.
  if (c.attached) {
    const { leader, endpoints, term } = c.attached;
    if (leader) return `${leader.name} leads term ${leader.term}`;
    if (!endpoints.some((e) => e.reachable === true))
      return endpoints.some((e) => e.reachable === false)
        ? 'No endpoint of the attached cluster answers'
        : 'Asking the attached cluster…';
    return `the attached cluster has no leader (term ${term})`;
  }
  const l = agreedLeader(c);
  if (l) return `${l.name} leads term ${l.term}`;
  const alive = c.nodes.filter((n) => n.status === 'alive');
  const running = alive.filter((n) => n.role === 'candidate' || n.role === 'precandidate');
  const term = Math.max(0, ...alive.map((n) => n.term));
  if (running.length > 0) {
    const who = running.map(
      (n) =>
        `${n.name} ${n.role === 'candidate' ? `is a candidate for term ${n.term}` : `asks for pre-votes for term ${n.term + 1}`}`,
    );
    return `No leader: ${who.join('; ')}`;
  }
  const leaders = alive.filter((n) => n.role === 'leader');
  if (leaders.length > 0) return `No leader the cluster agrees on yet (term ${term})`;
  // Members still finding each other (a discovery token, SRV records): say how far they got.
  if (alive.length === 0 && c.bootstrap) return bootstrapSummary(c.bootstrap, c.nodes);
  return alive.length === 0
    ? 'No node is running'
    : `No leader (term ${term}): the followers wait for their election timers`;
}

/** Events only the window's own cluster sends (its nodes' Raft, logs, messages). */
const OWN_CLUSTER_EVENTS: ReadonlySet<ServerEvent['type']> = new Set<ServerEvent['type']>([
  'raft',
  'log',
  'client',
  'step',
  'message',
  'delivered',
  'lost',
]);

/** Which cluster a snapshot shows: '' the window's own, else the URLs it is attached through. */
function scopeOf(c: ClusterState): string {
  return c.attached ? c.attached.urls.join(', ') : '';
}

/** The divider's words when the window switches from showing `before` to showing `after`. */
export function switchText(before: ClusterState, after: ClusterState): string {
  const own = (c: ClusterState) => {
    const names = c.nodes.filter((n) => n.status !== 'removed').map((n) => n.name);
    return `the window's own cluster${names.length ? ` (${names.join(', ')})` : ''}`;
  };
  const at = (c: ClusterState) => `the cluster at ${scopeOf(c)}`;
  // "later" and "earlier", not "below" or "above": the timeline may be read either way up.
  if (after.attached)
    return `Attached here: later lines are about ${at(after)}; earlier ones about ${before.attached ? at(before) : own(before)}.`;
  return `Detached here: later lines are about ${own(after)} again; earlier ones about ${at(before)}.`;
}

/** The peer id in etcd's clock lines ("the clock difference against peer <id> is …"). */
function peerOfClockLine(msg: string): string {
  return memberKey(/against peer (\S+)/.exec(msg)?.[1] ?? '');
}

/** A member id as etcd prints it (%x: no leading zeros), whatever its padding. */
function memberKey(id: string): string {
  return id.toLowerCase().replace(/^0+(?=.)/, '');
}

/** etcd's lines about finding the cluster: discovery (v2 and v3), the SRV records, the proxy fallback. */
export function isBootstrapLine(pkg: string, msg: string): boolean {
  if (pkg === 'discovery') return true;
  return (pkg === 'embed' && msg.includes('from DNS')) || (pkg === 'etcdmain' && /discovery|proxy/.test(msg));
}
