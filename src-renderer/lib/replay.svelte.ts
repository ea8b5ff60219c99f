// Plays a recorded session (a trace file) through the very same views as a live cluster: a
// Session that no bridge feeds, fed instead from the trace's records as a virtual clock moves
// (play, pause, speed), or rebuilt from the nearest snapshot when the user seeks.

import type { RaftlabBridge } from '../../src-shared/bridge.js';
import { describeCommand } from '../../src-shared/narrate.js';
import type { ServerEvent } from '../../src-shared/protocol.js';
import { TraceIndex } from '../../src-shared/replay.js';
import { readTraceStream, type Trace, type TraceRecord } from '../../src-shared/trace.js';
import { Session } from './session.svelte.js';

const silent: RaftlabBridge = { kind: 'browser', send: () => {}, onEvents: () => () => {} };

export class Replay {
  // Marks move on the replay's own clock (the recorded wall time now shown).
  readonly session = new Session(silent, { replay: true, clock: () => this.at });
  readonly index: TraceIndex;
  /** Virtual time: the wall time of the recording now shown. */
  at = $state(0);
  playing = $state(false);
  speed = $state(1);
  private seq = 0;
  private raf = 0;
  private lastFrame = 0;

  constructor(
    readonly name: string,
    readonly trace: Trace,
  ) {
    this.index = new TraceIndex(trace.records);
    this.seek(this.index.startAt);
  }

  static async open(file: File): Promise<Replay> {
    return new Replay(file.name, await readTraceStream(file.stream()));
  }

  get startAt(): number {
    return this.index.startAt;
  }

  get endAt(): number {
    return this.index.endAt;
  }

  /** Shows the session as it was at wall time `at`. */
  seek(at: number): void {
    const st = this.index.stateAt({ at });
    this.session.reset();
    const batch: ServerEvent[] = [];
    if (st.cluster) batch.push({ type: 'cluster', cluster: st.cluster });
    for (const r of st.recent) this.feedInto(batch, r, false);
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
    }
  }
}
