// What the supervisor tells its windows: everything the workers report, turned into the
// window's events (member ids named), queued and flushed as one batch at most every `flushMs`,
// with a fresh `cluster` snapshot at the end whenever any node's state changed. The latest Raft
// events and log lines are kept for windows that connect late (greeting).

import type { ClusterState } from '../../src-shared/cluster-state.js';
import type { ServerEvent } from '../../src-shared/protocol.js';
import { formatLogLine, type LogLevel } from '../node/log.js';
import type { NodeRecord } from './node-records.js';
import type { WorkerItem } from './worker-protocol.js';

const RECENT_MAX = 300;

export class EventQueue {
  private pending: ServerEvent[] = [];
  private dirty = false;
  private flushTimer?: NodeJS.Timeout;
  private afterFlush: (() => void)[] = [];
  /** The last Raft events and log lines, for windows that connect late (see greeting). */
  private recent: ServerEvent[] = [];

  constructor(
    private readonly flushMs: number,
    private readonly snapshot: () => ClusterState,
    private readonly emit: (batch: ServerEvent[]) => void,
    /** Once the supervisor stops, nothing more is queued. */
    private readonly stopped: () => boolean,
  ) {}

  /** Some node's state changed: the next batch ends with a fresh snapshot. */
  markDirty(): void {
    this.dirty = true;
    this.queue();
  }

  queue(e?: ServerEvent): void {
    if (this.stopped()) return;
    if (e) this.pending.push(e);
    this.flushTimer ??= setTimeout(() => this.flush(), this.flushMs);
  }

  /** What a worker reported, as the window's events; `nameOf` names member ids. */
  fromWorker(rec: NodeRecord, items: WorkerItem[], nameOf: (id: string) => string): void {
    for (const it of items) {
      switch (it.k) {
        case 'raft':
          this.queue({ type: 'raft', node: rec.name, at: it.at, event: it.e });
          break;
        case 'msg': {
          const { from, to, ...rest } = it.m;
          this.queue({ type: 'message', at: it.at, due: it.due, from: nameOf(from), to: nameOf(to), ...rest });
          break;
        }
        case 'delivered':
          this.queue({ type: 'delivered', id: it.id, from: nameOf(it.from), to: rec.name, at: it.at });
          break;
        case 'lost':
          this.queue({ type: 'lost', id: it.id, from: rec.name, to: nameOf(it.to), at: it.at, reason: it.reason });
          break;
        case 'log': {
          const line = formatLogLine(new Date(it.nodeTime), it.level as LogLevel, it.pkg, it.msg);
          this.queue({ type: 'log', node: rec.name, at: it.at, level: it.level, pkg: it.pkg, msg: it.msg, line });
          break;
        }
        case 'state':
          rec.state = it.s;
          this.markDirty();
          break;
        case 'client':
          this.queue({ type: 'client', node: rec.name, at: it.at, ...it.r });
          break;
      }
    }
  }

  /** A line logged in this process for a node (one the app runs itself), as etcd prints it. */
  log(node: string, level: LogLevel, pkg: string, msg: string): void {
    const at = Date.now();
    this.queue({ type: 'log', node, at, level, pkg, msg, line: formatLogLine(new Date(at), level, pkg, msg) });
  }

  /** Resolves right after the next batch went out. */
  flushed(): Promise<void> {
    if (this.stopped()) return Promise.resolve();
    this.queue();
    return new Promise((r) => this.afterFlush.push(r));
  }

  /** A new cluster or branch: the story so far is not its story. */
  forgetRecent(): void {
    this.recent = [];
  }

  /**
   * What a window that opens now should see first: the latest Raft events and log lines (so the
   * election that happened before it connected is on its timeline), then the cluster itself.
   */
  greeting(): ServerEvent[] {
    // The snapshot first: it names the member ids the events carry.
    // Workers flush on their own timers, so batches interleave nodes: put the story in order.
    const story = [...this.recent].sort((a, b) => ('at' in a && 'at' in b ? (a.at ?? 0) - (b.at ?? 0) : 0));
    return [{ type: 'cluster', cluster: this.snapshot() }, ...story];
  }

  /** After the supervisor stopped: nothing more is sent; whoever waits for a flush is let go. */
  close(): void {
    clearTimeout(this.flushTimer);
    this.flushTimer = undefined;
    this.pending = [];
    for (const r of this.afterFlush.splice(0)) r();
  }

  private flush(): void {
    this.flushTimer = undefined;
    const waiting = this.afterFlush;
    this.afterFlush = [];
    for (const r of waiting) queueMicrotask(r);
    if (this.dirty) {
      this.dirty = false;
      this.pending.push({ type: 'cluster', cluster: this.snapshot(), at: Date.now() });
    }
    if (this.pending.length === 0) return;
    const batch = this.pending;
    this.pending = [];
    for (const e of batch) if (e.type === 'raft' || e.type === 'log') this.recent.push(e);
    if (this.recent.length > RECENT_MAX) this.recent.splice(0, this.recent.length - RECENT_MAX);
    this.emit(batch);
  }
}
