// Records a session to a JSONL trace file as it happens (format: src-shared/trace.ts,
// docs/trace-format.md). Lines are buffered and written at least every ~200 ms, sooner once
// the buffer is large, so a session of any length costs a few hundred KB of memory, and a
// crash loses at most the last fraction of a second. Cluster snapshots are written as
// keyframes now and then and as deltas in between (src-shared/trace-delta.ts): an hour at
// default rates is ~150 MB instead of ~390 MB.

import fs from 'node:fs/promises';
import type { CommandRequest, ServerEvent } from '../../src-shared/protocol.js';
import {
  entryOfEvent,
  newTraceHeader,
  traceLine,
  type TraceEntry,
  type TraceHeader,
  type TraceRecord,
  type TraceSettings,
  type TraceSource,
} from '../../src-shared/trace.js';
import { ClusterEncoder, type ClusterDeltaEvent, type KeyframePolicy } from '../../src-shared/trace-delta.js';
import { redactCommand } from '../../src-shared/redact.js';

export interface TraceWriterOptions extends KeyframePolicy {
  nodes: string[];
  settings: TraceSettings;
  source?: TraceSource;
  /** Default: now(). */
  createdAt?: number;
  /** Longest a record waits in memory before it is written (default 200 ms). */
  flushMs?: number;
  /** Buffered bytes that trigger a write at once (default 256 KiB). */
  maxBufferBytes?: number;
  /** Wall clock for `at` (default Date.now); tests and synthetic sessions pass their own. */
  now?: () => number;
  /** Told once if writing fails; later records are dropped, and flush/close reject. */
  onError?: (err: Error) => void;
}

export class TraceWriter {
  private buffer: string[] = [];
  private bufferBytes = 0;
  private timer: ReturnType<typeof setTimeout> | undefined;
  /** The chain of writes in progress: each write starts after the previous one ended. */
  private writing: Promise<void> = Promise.resolve();
  private writingBytes = 0;
  private seq = 0;
  private lastAt = -Infinity;
  private failure: Error | undefined;
  private closed = false;
  private closing: Promise<void> | undefined;
  private readonly clusters: ClusterEncoder;

  private constructor(
    readonly file: string,
    readonly header: TraceHeader,
    private readonly fh: fs.FileHandle,
    private readonly opts: Required<Pick<TraceWriterOptions, 'flushMs' | 'maxBufferBytes' | 'now'>> &
      Pick<TraceWriterOptions, 'onError'> &
      KeyframePolicy,
  ) {
    this.clusters = new ClusterEncoder(opts);
  }

  /** Creates (or truncates) `file` and writes the header before resolving. */
  static async create(file: string, options: TraceWriterOptions): Promise<TraceWriter> {
    const now = options.now ?? Date.now;
    const header = newTraceHeader({ ...options, createdAt: options.createdAt ?? now() });
    const fh = await fs.open(file, 'w');
    try {
      await fh.writeFile(traceLine(header) + '\n'); // writeFile: loops until all is written
    } catch (err) {
      await fh.close();
      throw err;
    }
    return new TraceWriter(file, header, fh, {
      flushMs: options.flushMs ?? 200,
      maxBufferBytes: options.maxBufferBytes ?? 256 * 1024,
      now,
      onError: options.onError,
      keyframeMs: options.keyframeMs,
      keyframeEvery: options.keyframeEvery,
    });
  }

  /** The seq of the last record appended (0 before the first). */
  get lastSeq(): number {
    return this.seq;
  }

  /** Characters (≈ bytes) held in memory: buffered plus handed to a write not finished yet. */
  get pendingBytes(): number {
    return this.bufferBytes + this.writingBytes;
  }

  /**
   * Numbers and stamps one record, queues it, and returns it as written: a `cluster` snapshot
   * may be written as a `cluster-delta` (what replays rebuild it from).
   */
  append(entry: TraceEntry, clocks?: Record<string, number>): TraceRecord {
    if (this.closed) throw new Error(`the trace ${this.file} is closed`);
    // `at` never goes back, even if the wall clock does: replay seeks by time with a binary search.
    const at = Math.max(entry.at ?? this.opts.now(), this.lastAt);
    this.lastAt = at;
    if (entry.kind === 'event') {
      if (entry.event.type === 'cluster') entry = { ...entry, event: this.clusters.encode(entry.event.cluster, at) };
      // A delta handed in as is (a trace copied over): it follows the snapshot before, as written.
      else if (entry.event.type === 'cluster-delta')
        this.clusters.follow(JSON.parse(JSON.stringify(entry.event)) as ClusterDeltaEvent);
    }
    const { at: _at, ...rest } = entry;
    const record = { seq: ++this.seq, at, ...(clocks ? { clocks } : {}), ...rest } as TraceRecord;
    if (this.failure) return record;
    const line = traceLine(record) + '\n';
    this.buffer.push(line);
    this.bufferBytes += line.length;
    if (this.bufferBytes >= this.opts.maxBufferBytes) void this.flush().catch(() => {});
    else this.timer ??= setTimeout(() => void this.flush().catch(() => {}), this.opts.flushMs);
    return record;
  }

  /** One event from the supervisor; an ack or an error answering a request becomes a `result`. */
  event(e: ServerEvent, clocks?: Record<string, number>): TraceRecord {
    return this.append(entryOfEvent(e), clocks);
  }

  /** A whole batch as the supervisor emitted it, in order. */
  events(batch: readonly ServerEvent[], clocks?: Record<string, number>): void {
    for (const e of batch) this.append(entryOfEvent(e), clocks);
  }

  /** A command the user gave (record it before handing it to the supervisor). */
  action(req: CommandRequest): TraceRecord {
    // A password never goes in the trace.
    return this.append({ kind: 'action', id: req.id, cmd: redactCommand(req.cmd) });
  }

  /** Writes out everything appended so far; resolves once it is in the file. */
  flush(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    if (this.buffer.length > 0 && !this.failure) {
      const chunk = this.buffer.join('');
      this.buffer = [];
      this.bufferBytes = 0;
      this.writingBytes += chunk.length;
      this.writing = this.writing.then(async () => {
        if (this.failure) return;
        try {
          await this.fh.writeFile(chunk);
        } catch (err) {
          this.fail(err);
        } finally {
          this.writingBytes -= chunk.length;
        }
      });
    }
    return this.writing.then(() => {
      if (this.failure) throw this.failure;
    });
  }

  /** Flushes and closes the file; appending afterwards throws. Safe to call twice. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      this.closed = true;
      try {
        await this.flush();
      } finally {
        await this.fh.close();
      }
    })();
    return this.closing;
  }

  private fail(err: unknown): void {
    this.failure = err instanceof Error ? err : new Error(String(err));
    this.failure.message = `writing the trace ${this.file} failed: ${this.failure.message}`;
    this.buffer = [];
    this.bufferBytes = 0;
    this.opts.onError?.(this.failure);
  }
}
