// The window's model of the cluster, fed by event batches (live from the bridge, or replayed
// from a trace later): the latest cluster snapshot, the messages in flight, the timeline, the
// etcd-style log lines and a status sentence. Views read it; only `ingest` writes it.

import type { RaftlabBridge } from '../../src-shared/bridge.js';
import { describeCommand, narrate, narrateAttach, type Weight } from '../../src-shared/narrate.js';
import type { ClusterState, Command, CommandResult, MessageSummary, NodeState, ServerEvent } from '../../src-shared/protocol.js';
import type { MessageType, RaftEvent } from '../../src-shared/raft-types.js';

export interface Flight extends MessageSummary {
  /** performance.now() when it left, and how long its mark travels. */
  t0: number;
  dur: number;
}

export type TimelineKind = 'election' | 'vote' | 'role' | 'log' | 'commit' | 'membership' | 'snapshot' | 'key' | 'client' | 'action' | 'warning';

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

function kindOf(e: RaftEvent): TimelineKind {
  switch (e.kind) {
    case 'election-timeout': case 'check-quorum-lost': case 'transfer-start': case 'transfer-abort': return 'election';
    case 'vote': case 'vote-result': return 'vote';
    case 'role': case 'term': return 'role';
    case 'append': case 'truncate': return 'log';
    case 'commit': case 'apply': return 'commit';
    case 'conf': case 'removed': return 'membership';
    case 'snapshot-created': case 'snapshot-sent': case 'snapshot-installed': return 'snapshot';
  }
}

/** Messages that reset a follower's election timer when they reach it. */
const FROM_LEADER: ReadonlySet<MessageType> = new Set(['MsgApp', 'MsgHeartbeat', 'MsgSnap']);

export class Session {
  cluster = $state.raw<ClusterState | null>(null);
  timeline = $state.raw<TimelineItem[]>([]);
  logLines = $state.raw<LogLine[]>([]);
  status = $state('Starting the cluster…');
  connected = $state(false);
  /** Animation speed: 1 = a message mark crosses a link in 400 ms. */
  speed = $state(1);
  selected = $state<string | null>(null);
  /** The latest clock warning per node (etcd's "clock difference" line), cleared when it heals. */
  clockWarnings = $state.raw<Record<string, string>>({});
  lastError = $state<string | null>(null);

  /** Read every frame by the canvas, so not reactive. */
  flights: Flight[] = [];
  /** performance.now() of each node's last election-timer reset. */
  timerResets = new Map<string, number>();
  /** Counters for the renderer bench and tests. */
  stats = { batches: 0, events: 0, messages: 0, byLink: {} as Record<string, number> };

  private seq = 0;
  private reqSeq = 0;
  private waiting = new Map<string, { resolve: (r: CommandResult) => void; reject: (e: Error) => void }>();
  private nameById = new Map<string, string>();

  /** A replayed trace: nothing can be sent, the views only show what was recorded. */
  readonly replay: boolean;

  constructor(
    private readonly bridge: RaftlabBridge,
    options: { replay?: boolean } = {},
  ) {
    this.replay = options.replay ?? false;
    bridge.onEvents((batch) => this.ingest(batch));
  }

  /** Forget everything shown (a replay seeks by starting over from a checkpoint). */
  reset(): void {
    this.cluster = null;
    this.timeline = [];
    this.logLines = [];
    this.clockWarnings = {};
    this.flights = [];
    this.timerResets.clear();
    this.status = '';
    this.stats = { batches: 0, events: 0, messages: 0, byLink: {} };
  }

  get kind(): 'electron' | 'browser' {
    return this.bridge.kind;
  }

  /** Sends a command; resolves with its result or rejects with the supervisor's message. */
  send(cmd: Command): Promise<CommandResult> {
    if (this.replay) return Promise.reject(new Error('this is a replayed trace: the cluster it shows is not running'));
    const id = `w${++this.reqSeq}`;
    this.note('action', '', describeCommand(cmd), 'minor');
    return new Promise((resolve, reject) => {
      this.waiting.set(id, { resolve, reject });
      this.bridge.send({ id, cmd });
    });
  }

  nameOf = (id: string): string => this.nameById.get(id) ?? id;

  /** Set while the window shows a cluster raftlab did not start (watched from outside). */
  get attached() {
    return this.cluster?.attached;
  }

  node(name: string | null): NodeState | undefined {
    return name ? this.cluster?.nodes.find((n) => n.name === name) : undefined;
  }

  ingest(batch: ServerEvent[]): void {
    this.stats.batches++;
    this.stats.events += batch.length;
    const now = performance.now();
    const items: TimelineItem[] = [];
    const lines: LogLine[] = [];
    let status: string | undefined;
    for (const e of batch) {
      switch (e.type) {
        case 'cluster':
          this.setCluster(e.cluster, now);
          break;
        case 'message':
          this.stats.messages++;
          this.stats.byLink[`${e.from}>${e.to}`] = (this.stats.byLink[`${e.from}>${e.to}`] ?? 0) + 1;
          this.addFlight(e, now);
          break;
        case 'raft': {
          this.timerEffect(e.node, e.event, now);
          const n = narrate(e.node, e.event, this.nameOf);
          if (n) {
            items.push({ seq: ++this.seq, at: e.at, node: e.node, kind: kindOf(e.event), text: n.text, weight: n.weight });
            if (n.weight === 'major') status = n.text;
          }
          break;
        }
        case 'log': {
          lines.push({ seq: ++this.seq, node: e.node, level: e.level, line: e.line });
          if (e.msg.includes('clock difference') && e.msg.includes('back under')) {
            // etcd's all-clear for the same peer: the warning goes.
            const { [e.node]: _gone, ...rest } = this.clockWarnings;
            this.clockWarnings = rest;
            items.push({ seq: ++this.seq, at: e.at, node: e.node, kind: 'warning', text: `${e.node}: ${e.msg}`, weight: 'minor' });
          } else if (e.msg.includes('clock difference')) {
            this.clockWarnings = { ...this.clockWarnings, [e.node]: e.line };
            items.push({ seq: ++this.seq, at: e.at, node: e.node, kind: 'warning', text: `${e.node}: ${e.msg}`, weight: 'major' });
            status = `${e.node} warns: ${e.msg}`;
          } else if (e.level === 'E' || e.level === 'C') {
            items.push({ seq: ++this.seq, at: e.at, node: e.node, kind: 'warning', text: `${e.node}: ${e.msg}`, weight: 'major' });
          }
          break;
        }
        case 'client':
          items.push({ seq: ++this.seq, at: e.at, node: e.node, kind: 'client', text: `${e.node} answered ${e.method} ${e.path}: ${e.status} in ${e.ms} ms`, weight: 'minor' });
          break;
        case 'step':
          if (e.fate === 'dropped') {
            const why = e.reason === 'cut' ? 'its link is cut' : e.reason === 'down' ? `${e.message.to} is not running` : 'you dropped it';
            items.push({ seq: ++this.seq, at: e.at, node: e.message.from, kind: 'action', text: `${e.message.from} → ${e.message.to} ${e.message.msgType} was dropped: ${why}`, weight: 'minor' });
          }
          break;
        case 'attach': {
          const n = narrateAttach(e.event);
          items.push({ seq: ++this.seq, at: e.at, node: '', kind: n.kind, text: n.text, weight: n.weight });
          if (n.weight === 'major') status = n.text;
          break;
        }
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
          items.push({ seq: ++this.seq, at: Date.now(), node: '', kind: 'warning', text: e.message, weight: 'major' });
          break;
      }
    }
    if (items.length > 0) this.timeline = [...this.timeline, ...items].slice(-TIMELINE_MAX);
    if (lines.length > 0) this.logLines = [...this.logLines, ...lines].slice(-LOGLINES_MAX);
    if (status) this.status = status;
  }

  /** Adds a line of the user's own doing to the timeline (and the status line if major). */
  note(kind: TimelineKind, node: string, text: string, weight: Weight, at = Date.now()): void {
    this.timeline = [...this.timeline, { seq: ++this.seq, at, node, kind, text, weight }].slice(-TIMELINE_MAX);
    if (weight === 'major') this.status = text;
  }

  /** How full a node's election timer is (1 = just reset, 0 = fires), at performance.now() `t`. */
  timerLeft(n: NodeState, t: number): number {
    if (n.status !== 'alive' || n.role === 'leader' || n.electionTimeoutMs === 0) return 1;
    const reset = this.timerResets.get(n.name) ?? t;
    const elapsed = (t - reset) * n.clock.rate;
    return Math.max(0, 1 - elapsed / Math.max(1, n.electionTimeoutMs));
  }

  private setCluster(c: ClusterState, now: number): void {
    const before = this.cluster;
    if (before && before.generation !== c.generation) {
      this.flights = [];
      this.timerResets.clear();
      this.clockWarnings = {};
    }
    this.nameById = new Map(c.nodes.filter((n) => n.id).map((n) => [n.id, n.name]));
    for (const n of c.nodes) {
      const old = before?.nodes.find((o) => o.name === n.name);
      // A node (re)started, or changed role or term: its timer starts over.
      if (!old || old.status !== n.status || old.role !== n.role || old.term !== n.term) this.timerResets.set(n.name, now);
      // etcd's warning stops once the clocks agree again; so does ours.
      if (this.clockWarnings[n.name] && n.peers.every((p) => Math.abs(p.clockDiffMs ?? 0) < 1000)) {
        const { [n.name]: _gone, ...rest } = this.clockWarnings;
        this.clockWarnings = rest;
      }
    }
    this.cluster = c;
    if (this.status === 'Starting the cluster…' && c.nodes.some((n) => n.role === 'leader' && n.status === 'alive')) {
      const l = c.nodes.find((n) => n.role === 'leader' && n.status === 'alive')!;
      this.status = `${l.name} leads term ${l.term}`;
    }
  }

  private addFlight(m: MessageSummary, now: number): void {
    const base = m.msgType === 'MsgHeartbeat' || m.msgType === 'MsgHeartbeatResp' ? 300 : 450;
    this.flights.push({ ...m, t0: now, dur: base / this.speed });
    if (this.flights.length > FLIGHTS_MAX) this.flights.splice(0, this.flights.length - FLIGHTS_MAX);
    if (FROM_LEADER.has(m.msgType)) this.timerResets.set(m.to, now);
  }

  private timerEffect(node: string, e: RaftEvent, now: number): void {
    if ((e.kind === 'vote' && e.granted && !e.pre) || e.kind === 'role' || e.kind === 'election-timeout') this.timerResets.set(node, now);
  }
}
