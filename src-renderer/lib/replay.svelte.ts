// Plays a recorded session through the very same views as a live cluster: a Session that no
// bridge feeds, fed instead from the trace's records as a virtual clock moves (play, pause,
// speed), or rebuilt from the nearest snapshot and the story before it when the user seeks.
//
// Two kinds: a trace file the user opened, and the live session itself, rewound. The live
// session's trace is read back through the bridge (RaftlabBridge.readTrace), each time only
// what was written since the last read (LiveTrace), while the real cluster keeps running.

import type { RaftlabBridge } from '../../src-shared/bridge.js';
import { clockTime, describeCommand } from '../../src-shared/narrate.js';
import type { BranchInfo } from '../../src-shared/command-results.js';
import type { ServerEvent } from '../../src-shared/protocol.js';
import { TraceIndex } from '../../src-shared/replay.js';
import {
  readTraceStream,
  TraceDecoder,
  type Trace,
  type TraceHeader,
  type TraceRecord,
} from '../../src-shared/trace.js';
import { Session } from './session.svelte.js';

const silent: RaftlabBridge = {
  kind: 'browser',
  send: () => {},
  onEvents: () => () => {},
  readTrace: () => Promise.reject(new Error('a replay has no session trace of its own')),
};

/** Bytes asked for per readTrace call. */
const CHUNK = 4 * 1024 * 1024;

/** The live session's trace as far as it has been read, read on from where it stopped. */
export class LiveTrace {
  header: TraceHeader | undefined;
  readonly records: TraceRecord[] = [];
  private readonly decoder = new TraceDecoder();
  private offset = 0;
  private pulling: Promise<number> | undefined;

  constructor(private readonly bridge: RaftlabBridge) {}

  /** Reads what was written since the last pull; resolves with how many records came. */
  pull(): Promise<number> {
    this.pulling ??= this.readOn().finally(() => (this.pulling = undefined));
    return this.pulling;
  }

  private async readOn(): Promise<number> {
    const before = this.records.length;
    for (;;) {
      const chunk = await this.bridge.readTrace(this.offset, CHUNK);
      let start = 0;
      const text = chunk.text;
      for (let nl = text.indexOf('\n'); nl >= 0; nl = text.indexOf('\n', start)) {
        const out = this.decoder.push(text.slice(start, nl));
        start = nl + 1;
        if (out && 'kind' in out) this.records.push(out);
        else if (out) this.header = out;
      }
      if (chunk.next === this.offset || chunk.next >= chunk.size) {
        this.offset = chunk.next;
        break;
      }
      this.offset = chunk.next;
    }
    return this.records.length - before;
  }
}

export class Replay {
  // Marks move on the replay's own clock (the recorded wall time now shown).
  readonly session = new Session(silent, { replay: true, clock: () => this.at });
  index = $state.raw<TraceIndex>(new TraceIndex([]));
  /** Virtual time: the wall time of the recording now shown. */
  at = $state(0);
  playing = $state(false);
  speed = $state(1);
  /** The branches of the session (one unless it forked). */
  branches = $state.raw<BranchInfo[]>([]);
  private seq = 0;
  private raf = 0;
  private lastFrame = 0;

  constructor(
    readonly name: string,
    readonly trace: Trace,
    /** A rewind of the live session (its trace grows; it can be resumed from). */
    readonly live = false,
    at?: number,
  ) {
    this.reindex();
    this.seek(at ?? this.index.startAt);
  }

  static async open(file: File): Promise<Replay> {
    return new Replay(file.name, await readTraceStream(file.stream()));
  }

  /** The live session rewound to `at`, its trace read as far as it goes now. */
  static async rewind(trace: LiveTrace, at: number): Promise<Replay> {
    await trace.pull();
    if (!trace.header) throw new Error('the session trace has no header yet');
    return new Replay('live session', { header: trace.header, records: trace.records }, true, at);
  }

  /** The live trace grew: take in what it recorded since (the moment shown stays). */
  async refresh(trace: LiveTrace): Promise<void> {
    if ((await trace.pull()) > 0) this.reindex();
  }

  get startAt(): number {
    return this.index.startAt;
  }

  get endAt(): number {
    return this.index.endAt;
  }

  /** The branch the moment shown belongs to. */
  get branch(): number {
    return this.index.branchAt({ seq: this.seq });
  }

  /** Shows the session as it was at wall time `at`: its cluster, and the story that led there. */
  seek(at: number): void {
    const st = this.index.stateAt({ at });
    this.session.reset();
    const batch: ServerEvent[] = [];
    if (st.cluster) batch.push({ type: 'cluster', cluster: st.cluster });
    for (const r of this.index.story(st.seq)) this.feedInto(batch, r, false);
    // The snapshot again, last: the story's older events must not outdate what it shows.
    if (st.cluster) batch.push({ type: 'cluster', cluster: st.cluster });
    this.session.ingest(batch);
    this.seq = st.seq;
    this.at = at;
  }

  /** Shows the next record, whatever it is. */
  stepEvent(): void {
    const next = this.index.record(this.seq + 1);
    if (!next) return;
    this.advanceTo(next.seq);
    this.at = next.at;
  }

  play(): void {
    if (this.playing) return;
    if (this.at >= this.endAt) this.seek(this.startAt);
    this.playing = true;
    this.lastFrame = performance.now();
    const frame = (t: number) => {
      if (!this.playing) return;
      this.at = Math.min(this.endAt, this.at + (t - this.lastFrame) * this.speed);
      this.lastFrame = t;
      this.advanceTo(this.index.seqAt(this.at));
      if (this.at >= this.endAt) this.playing = false;
      else this.raf = requestAnimationFrame(frame);
    };
    this.raf = requestAnimationFrame(frame);
  }

  pause(): void {
    this.playing = false;
    cancelAnimationFrame(this.raf);
  }

  private reindex(): void {
    this.index = new TraceIndex(this.trace.records);
    this.branches = this.index.branches();
  }

  private advanceTo(seq: number): void {
    if (seq <= this.seq) return;
    const batch: ServerEvent[] = [];
    for (const r of this.index.eventsBetween(this.seq, seq)) this.feedInto(batch, r, true);
    this.seq = seq;
    if (batch.length > 0) this.session.ingest(batch);
  }

  private feedInto(batch: ServerEvent[], r: TraceRecord, live: boolean): void {
    if (r.kind === 'event') {
      // Seeking rebuilds state, not motion: message marks only fly while playing.
      if (r.event.type === 'message' && !live) return;
      batch.push(r.event as ServerEvent);
    } else if (r.kind === 'action') {
      if (batch.length > 0) this.session.ingest(batch.splice(0));
      this.session.note('action', '', describeCommand(r.cmd), 'minor', r.at);
    } else if (r.kind === 'client') {
      batch.push({
        type: 'client',
        node: r.node,
        at: r.at,
        method: r.method,
        path: r.path,
        status: r.status,
        ms: r.ms,
      });
    } else if (r.kind === 'fork') {
      if (batch.length > 0) this.session.ingest(batch.splice(0));
      this.session.note('action', '', forkSentence(r), 'major', r.at);
    }
  }
}

/** A fork in words, for the timeline. */
export function forkSentence(f: { branch: number; parent: number; from: number }): string {
  return `Branch ${f.branch} begins: every node restored as it was at ${clockTime(f.from)} on branch ${f.parent}, and restarted`;
}
