// What a window talks to, in Electron or browser mode: the local cluster (the Supervisor) or,
// after an `attach` command, a cluster raftlab did not start. Commands go to the current
// source; `attach` and `detach` switch it, and the window then gets the new source's greeting.

import { EventEmitter } from 'node:events';
import type { NodeState } from '../../src-shared/cluster-state.js';
import type { ExportTraceResult } from '../../src-shared/command-results.js';
import type { TraceExportFormat } from '../../src-shared/commands.js';
import type { CommandRequest, ServerEvent } from '../../src-shared/protocol.js';
import { AttachedSource } from '../attach/attached-source.js';
import { chaosForWindow } from '../chaos/chaos-report.js';
import type { Supervisor } from '../cluster/supervisor.js';
import { exportTrace } from '../trace/trace-export.js';
import type { TraceChunk } from '../../src-shared/bridge.js';
import { readTraceChunk } from '../trace/trace-chunk.js';
import { TraceWriter } from '../trace/trace-writer.js';

/** What a window is served from: the Supervisor itself, an attached cluster, or a WindowCore. */
export interface WindowSource {
  on(event: 'events', listener: (batch: ServerEvent[]) => void): unknown;
  off(event: 'events', listener: (batch: ServerEvent[]) => void): unknown;
  greeting(): ServerEvent[];
  handle(req: CommandRequest): Promise<void>;
  /** The session trace as a file (WindowCore records one; a bare Supervisor does not). */
  exportTrace?(format: TraceExportFormat): Promise<ExportTraceResult>;
  /** The session trace so far, whole lines from a byte offset (RaftlabBridge.readTrace). */
  readTrace?(from: number, max: number): Promise<TraceChunk>;
}

export interface WindowCoreOptions {
  /** Where exportTrace writes its files (default: the session folder). */
  exportDir?: string;
}

export class WindowCore extends EventEmitter<{ events: [ServerEvent[]] }> {
  private current: WindowSource;
  private attached?: AttachedSource;
  private trace?: TraceWriter;
  private chaosRunning = false;
  private readonly relay = (batch: ServerEvent[]) => this.out(batch);

  constructor(
    readonly supervisor: Supervisor,
    private readonly options: WindowCoreOptions = {},
  ) {
    super();
    this.current = supervisor;
    supervisor.on('events', this.relay);
  }

  /**
   * Records the session from now on into `file` (JSONL, see docs/trace-format.md): every event
   * the window is sent and every command it gives. Start it before the cluster, so the first
   * election is in it.
   */
  async record(file: string): Promise<void> {
    const snap = this.supervisor.snapshot();
    this.trace = await TraceWriter.create(file, {
      nodes: snap.nodes.map((n) => n.name),
      settings: this.supervisor.timing,
      source: 'local',
      onError: (err) =>
        this.emit('events', [{ type: 'error', message: `the session trace cannot be written: ${err.message}` }]),
    });
  }

  /** The session trace so far as a file of that format; its path and size. */
  async exportTrace(format: TraceExportFormat): Promise<ExportTraceResult> {
    if (!this.trace) throw new Error('this session is not being recorded');
    return exportTrace(this.trace, format, this.options.exportDir);
  }

  /** The session trace so far, from byte `from` (what the window rewinds through). */
  async readTrace(from: number, max: number): Promise<TraceChunk> {
    if (!this.trace) throw new Error('this session is not being recorded');
    await this.trace.flush();
    return readTraceChunk(this.trace.file, from, max);
  }

  greeting(): ServerEvent[] {
    return this.current.greeting();
  }

  async handle(req: CommandRequest): Promise<void> {
    const { cmd } = req;
    // A question the window asks for itself (the branch list) is not something the user did:
    // neither it nor its answer goes in the trace.
    if (cmd.type === 'branches') {
      if (this.trace) this.quiet.add(req.id);
    } else this.trace?.action(req);
    if (cmd.type === 'exportTrace') {
      try {
        this.out([{ type: 'ack', id: req.id, result: await this.exportTrace(cmd.format) }]);
      } catch (err) {
        this.out([{ type: 'error', id: req.id, message: err instanceof Error ? err.message : String(err) }]);
      }
      return;
    }
    if (cmd.type === 'chaos') {
      try {
        if (this.current !== this.supervisor) throw new Error('chaos needs a cluster raftlab runs; detach first');
        if (this.chaosRunning) throw new Error('a chaos run is already going');
        this.chaosRunning = true;
        this.out([{ type: 'ack', id: req.id, result: await chaosForWindow(this.supervisor, cmd) }]);
      } catch (err) {
        this.out([{ type: 'error', id: req.id, message: err instanceof Error ? err.message : String(err) }]);
      } finally {
        this.chaosRunning = false;
      }
      return;
    }
    if (cmd.type !== 'attach' && cmd.type !== 'detach') return this.current.handle(req);
    try {
      if (cmd.type === 'attach') {
        const { urls, prefix, caFile, certFile, keyFile, user, password } = cmd;
        const next = new AttachedSource(urls, prefix ?? '/', { caFile, certFile, keyFile, user, password });
        this.switchTo(next);
        await this.dropAttached();
        this.attached = next.start();
      } else {
        this.switchTo(this.supervisor);
        await this.dropAttached();
      }
      this.out([...this.current.greeting(), { type: 'ack', id: req.id }]);
    } catch (err) {
      this.out([{ type: 'error', id: req.id, message: err instanceof Error ? err.message : String(err) }]);
    }
  }

  async stop(): Promise<void> {
    this.supervisor.off('events', this.relay);
    await this.dropAttached();
    await this.trace?.close().catch(() => {});
  }

  private switchTo(next: WindowSource): void {
    this.current.off('events', this.relay);
    this.current = next;
    next.on('events', this.relay);
  }

  /**
   * Every batch the window gets goes into the trace too, stamped with the own clock of each
   * node whose clock is skewed by 10 ms or more (the others read the wall time: the record's `at`).
   */
  private out(batch: ServerEvent[]): void {
    if (this.trace) {
      for (const e of batch)
        if (e.type === 'cluster')
          this.skewed = e.cluster.nodes.filter(
            (n) => n.status === 'alive' && (Math.abs(n.clock.offsetMs) >= 10 || n.clock.rate !== 1),
          );
      let clocks: Record<string, number> | undefined;
      if (this.skewed.length > 0) {
        const now = Date.now();
        clocks = Object.fromEntries(this.skewed.map((n) => [n.name, Math.round(now + n.clock.offsetMs)]));
      }
      let keyframe = false;
      for (const e of batch) {
        if ((e.type === 'ack' || e.type === 'error') && e.id !== undefined && this.quiet.delete(e.id)) continue;
        const r = this.trace.event(e, clocks);
        if (r.kind === 'event' && r.event.type === 'cluster') keyframe = true;
      }
      // A keyframe is a moment a replay starts from: the nodes' durable state is kept with it
      // (if it moved since the last checkpoint), so that moment can be resumed from too.
      if (keyframe && this.current === this.supervisor)
        void this.supervisor.checkpoint('keyframe', { ifChanged: true }).catch(() => {});
    }
    this.emit('events', batch);
  }

  /** Ids of the window's own questions, whose answers stay out of the trace. */
  private readonly quiet = new Set<string>();

  /** Nodes whose clock differs from the wall clock, as of the last snapshot. */
  private skewed: NodeState[] = [];

  private async dropAttached(): Promise<void> {
    const a = this.attached;
    this.attached = undefined;
    if (a) {
      a.off('events', this.relay);
      await a.stop();
    }
  }
}
