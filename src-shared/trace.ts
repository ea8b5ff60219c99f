// The session trace: a self-describing JSONL file of everything a session showed and everything
// the user did, so it can be replayed, shared and opened in Perfetto (docs/trace-format.md).
// Line 1 is a header; every other line is one record, numbered 1, 2, 3… by `seq`.
//
// Browser-safe (no node imports): the renderer reads traces with readTraceStream (a File's
// stream) or readTraceText, the main process with src-main/trace/trace-reader.ts; all go
// through TraceDecoder, so a file is judged the same way everywhere.

import type { ServerEvent } from './protocol.js';
import {
  checkTraceHeader,
  checkTraceRecord,
  TRACE_FORMAT,
  type TraceHeader,
  type TraceRecord,
  type TraceSettings,
  type TraceSource,
} from './trace-schema.js';

// The shapes, and the schemas that check them, are in trace-schema.ts.
export {
  TRACE_FORMAT,
  type ActionRecord,
  type ClientRecord,
  type EventRecord,
  type ForkRecord,
  type MessageFateRecord,
  type ResultRecord,
  type TracedEvent,
  type TraceHeader,
  type TraceRecord,
  type TraceRecordKind,
  type TraceSettings,
  type TraceSource,
} from './trace-schema.js';

/**
 * The version this raftlab writes and reads; older versions are upgraded on read (TRACE_UPGRADES).
 * 2: cluster snapshots between keyframes are `cluster-delta` events (src-shared/trace-delta.ts).
 * 3: `fork` records: the session went on from an earlier moment, as a new branch.
 */
export const TRACE_VERSION = 3;

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;
/** A record before the writer numbers it (and, unless `at` is given, stamps its time). */
export type TraceEntry = DistributiveOmit<TraceRecord, 'seq' | 'at'> & { at?: number };

/** Turns one ServerEvent into what a trace keeps of it: ack / answered error → result. */
export function entryOfEvent(e: ServerEvent): TraceEntry {
  if (e.type === 'ack')
    return e.result === undefined
      ? { kind: 'result', id: e.id, ok: true }
      : { kind: 'result', id: e.id, ok: true, result: e.result };
  if (e.type === 'error' && e.id !== undefined) return { kind: 'result', id: e.id, ok: false, error: e.message };
  // Requests to a node's client port are `client` records.
  if (e.type === 'client')
    return { kind: 'client', at: e.at, node: e.node, method: e.method, path: e.path, status: e.status, ms: e.ms };
  if (e.type === 'fork') return { kind: 'fork', at: e.at, ...e.fork };
  // Step mode's message fates have record kinds of their own.
  if (e.type === 'step') {
    const { id, ...message } = e.message;
    return { kind: e.fate, at: e.at, msgId: id, message, ...(e.reason ? { reason: e.reason } : {}) };
  }
  return { kind: 'event', event: e };
}

// ------------------------------------------------------------------ errors and versions

/** A trace that cannot be read, saying where (`line`, 1-based) and what is wrong. */
export class TraceError extends Error {
  override name = 'TraceError';
  constructor(
    message: string,
    readonly line?: number,
  ) {
    super(line === undefined ? message : `line ${line}: ${message}`);
  }
}

type Obj = Record<string, unknown>;

/**
 * One step of upgrading an older trace: turns the raw header / records of version `from` into
 * version `from + 1` shapes. Steps chain (0→1→2…) so each is written once, against its
 * neighbour only. `lineNo` lets a step fill in what the old version left implicit (a `seq`).
 */
export interface TraceUpgrade {
  from: number;
  header(h: Obj): Obj;
  record(r: Obj, lineNo: number): Obj;
}

/** The known upgrades, oldest first. */
export const TRACE_UPGRADES: readonly TraceUpgrade[] = [
  // v1 → v2: v2 only added `cluster-delta` events; a v1 trace is a v2 trace whose every
  // snapshot is a keyframe, so nothing changes but the header's version.
  {
    from: 1,
    header: (h) => h,
    record: (r, lineNo) => {
      // …which is why a delta in a file that says version 1 is a broken file, not an old one.
      if (r.kind === 'event' && (r.event as Obj | undefined)?.type === 'cluster-delta')
        throw new TraceError('a version 1 trace has no cluster-delta events', lineNo);
      return r;
    },
  },
  // v2 → v3: v3 only added `fork` records; a v2 trace is a v3 trace of one branch.
  {
    from: 2,
    header: (h) => h,
    record: (r, lineNo) => {
      if (r.kind === 'fork') throw new TraceError('a version 2 trace has no fork records', lineNo);
      return r;
    },
  },
];

export interface TraceReadOptions {
  /** Upgrade steps to use instead of TRACE_UPGRADES (tests, tools reading drafts). */
  upgrades?: readonly TraceUpgrade[];
}

function checkVersion(v: unknown, upgrades: readonly TraceUpgrade[]): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0)
    throw new TraceError('"version" must be a whole number', 1);
  if (v > TRACE_VERSION)
    throw new TraceError(
      `trace version ${v} is newer than this raftlab reads (${TRACE_VERSION}); a newer raftlab opens it`,
    );
  for (let from = v; from < TRACE_VERSION; from++) {
    if (!upgrades.some((u) => u.from === from)) {
      throw new TraceError(
        `trace version ${v} is older than this raftlab reads (${TRACE_VERSION}) and no upgrade from version ${from} is known`,
      );
    }
  }
  return v;
}

function steps(from: number, upgrades: readonly TraceUpgrade[]): TraceUpgrade[] {
  const out: TraceUpgrade[] = [];
  for (let v = from; v < TRACE_VERSION; v++) out.push(upgrades.find((u) => u.from === v)!);
  return out;
}

/** Brings a raw header of `fromVersion` up to TRACE_VERSION (the identity at the current version). */
export function upgradeHeader(raw: Obj, fromVersion: number, upgrades: readonly TraceUpgrade[] = TRACE_UPGRADES): Obj {
  let h = raw;
  for (const s of steps(fromVersion, upgrades)) h = { ...s.header(h), version: s.from + 1 };
  return h;
}

/** Brings a raw record of a `fromVersion` trace up to TRACE_VERSION (the identity at the current version). */
export function upgradeRecord(
  raw: Obj,
  fromVersion: number,
  lineNo: number,
  upgrades: readonly TraceUpgrade[] = TRACE_UPGRADES,
): Obj {
  let r = raw;
  for (const s of steps(fromVersion, upgrades)) r = s.record(r, lineNo);
  return r;
}

// ------------------------------------------------------------------ checking (trace-schema.ts)

function parseJson(line: string, lineNo: number): Obj {
  let v: unknown;
  try {
    v = JSON.parse(line);
  } catch (err) {
    throw new TraceError(`not valid JSON (${err instanceof Error ? err.message : String(err)})`, lineNo);
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v))
    throw new TraceError(`${lineNo === 1 ? 'the header' : 'a record'} must be an object`, lineNo);
  return v as Obj;
}

/** Reads and checks line 1; an older version comes back upgraded, a newer one is refused. */
export function parseTraceHeader(line: string, options: TraceReadOptions = {}): TraceHeader {
  return readHeader(line, options).header;
}

/** The header, upgraded, and the version the file was written in (its records need the same upgrade). */
function readHeader(line: string, options: TraceReadOptions): { header: TraceHeader; fileVersion: number } {
  const raw = parseJson(line, 1);
  if (raw.format !== TRACE_FORMAT) {
    throw new TraceError(
      `not a raftlab trace: the header's "format" is ${JSON.stringify(raw.format) ?? 'missing'}, not "${TRACE_FORMAT}"`,
      1,
    );
  }
  const upgrades = options.upgrades ?? TRACE_UPGRADES;
  const fileVersion = checkVersion(raw.version, upgrades);
  const checked = checkTraceHeader(upgradeHeader(raw, fileVersion, upgrades));
  if (!checked.ok) throw new TraceError(checked.problem, 1);
  return { header: checked.value, fileVersion };
}

/**
 * Reads and checks one record line (`lineNo` is its 1-based line in the file, for messages).
 * Records of an older `version` are upgraded first. Fields a newer writer added are kept.
 */
export function parseTraceRecord(
  line: string,
  lineNo: number,
  options: TraceReadOptions & { version?: number } = {},
): TraceRecord {
  const version = options.version ?? TRACE_VERSION;
  const checked = checkTraceRecord(
    upgradeRecord(parseJson(line, lineNo), version, lineNo, options.upgrades ?? TRACE_UPGRADES),
  );
  if (!checked.ok) throw new TraceError(checked.problem, lineNo);
  return checked.value;
}

// ------------------------------------------------------------------ whole traces

/**
 * Reads a trace one line at a time (streams and whole texts alike): the header first, then
 * records whose `seq` runs on without gaps and whose `at` never goes back. Blank lines are
 * skipped but still counted, so line numbers match an editor's.
 */
export class TraceDecoder {
  header: TraceHeader | undefined;
  /** The version the file was written in (header.version is the upgraded one). */
  fileVersion = TRACE_VERSION;
  private lineNo = 0;
  private lastSeq = 0;
  private lastAt = -Infinity;
  /** The node names of the last `cluster` snapshot: the only ones a delta may patch. */
  private nodeNames: Set<string> | undefined;

  constructor(private readonly options: TraceReadOptions = {}) {}

  /** The next line: the header (line 1), a record, or undefined for a blank line. */
  push(line: string): TraceHeader | TraceRecord | undefined {
    const lineNo = ++this.lineNo;
    if (line.trim() === '') {
      if (lineNo === 1) throw new TraceError('empty: a trace starts with its header', 1);
      return undefined;
    }
    if (!this.header) {
      ({ header: this.header, fileVersion: this.fileVersion } = readHeader(line, this.options));
      return this.header;
    }
    const r = parseTraceRecord(line, lineNo, { ...this.options, version: this.fileVersion });
    if (r.seq !== this.lastSeq + 1) {
      throw new TraceError(
        `seq ${r.seq} where ${this.lastSeq + 1} was expected (records are numbered 1, 2, 3… without gaps)`,
        lineNo,
      );
    }
    if (r.at < this.lastAt)
      throw new TraceError(`at ${r.at} is earlier than the previous record's ${this.lastAt}`, lineNo);
    if (r.kind === 'event') {
      if (r.event.type === 'cluster') this.nodeNames = new Set(r.event.cluster.nodes.map((n) => n.name));
      else if (r.event.type === 'cluster-delta') {
        const names = this.nodeNames;
        if (!names) throw new TraceError('a cluster-delta needs a full cluster snapshot before it', lineNo);
        for (const name of Object.keys(r.event.nodes ?? {})) {
          if (!names.has(name))
            throw new TraceError(
              `event.nodes: no node named ${JSON.stringify(name)} in the last cluster snapshot`,
              lineNo,
            );
        }
      }
    }
    this.lastSeq = r.seq;
    this.lastAt = r.at;
    return r;
  }

  /** After the last line: the header, or a TraceError if there was none. */
  end(): TraceHeader {
    if (!this.header) throw new TraceError('empty: a trace starts with its header', 1);
    return this.header;
  }
}

export interface Trace {
  header: TraceHeader;
  records: TraceRecord[];
}

/**
 * The longest line a trace may have: 16 Mi characters (16 MiB of ASCII; trace lines are JSON).
 * A record is a few KB and a 7-node cluster snapshot with its log tails tens of KB, so a longer
 * line is not a trace's: it is refused as soon as it passes the cap, before it is all read.
 */
export const MAX_TRACE_LINE = 16 * 1024 * 1024;

/**
 * Cuts text that arrives in chunks into lines (without "\n" or a trailing "\r"), in time linear
 * in the input: each chunk is searched once, from where the last line ended, and a line that
 * spans chunks is kept as its pieces and joined once (not grown by `+=` and searched again
 * from its start on every chunk, which is quadratic on long lines). Lines longer than `max`
 * throw TraceError naming their 1-based line number.
 */
export class TraceLineSplitter {
  private pieces: string[] = [];
  private pending = 0;
  private lineNo = 0;

  constructor(
    private readonly each: (line: string) => void,
    private readonly max = MAX_TRACE_LINE,
  ) {}

  push(chunk: string): void {
    let start = 0;
    for (let nl = chunk.indexOf('\n'); nl >= 0; nl = chunk.indexOf('\n', start)) {
      this.grow(nl - start);
      const tail = chunk.slice(start, nl);
      start = nl + 1;
      if (this.pieces.length === 0) this.emit(tail);
      else {
        this.pieces.push(tail);
        const line = this.pieces.join('');
        this.pieces = [];
        this.pending = 0;
        this.emit(line);
      }
    }
    if (start < chunk.length) {
      this.grow(chunk.length - start);
      this.pieces.push(chunk.slice(start));
      this.pending += chunk.length - start;
    }
  }

  /** After the last chunk: the last line, if it had no newline. */
  end(): void {
    if (this.pieces.length === 0) return;
    const line = this.pieces.join('');
    this.pieces = [];
    this.pending = 0;
    this.emit(line);
  }

  private grow(more: number): void {
    if (this.pending + more <= this.max) return;
    throw new TraceError(
      `longer than ${this.max / (1024 * 1024)} MiB, the longest line a trace may have (is this a trace?)`,
      this.lineNo + 1,
    );
  }

  private emit(line: string): void {
    this.lineNo++;
    this.each(line.endsWith('\r') ? line.slice(0, -1) : line);
  }
}

/** A whole trace from its text (a file the window was given); throws TraceError. */
export function readTraceText(text: string, options: TraceReadOptions = {}): Trace {
  const d = new TraceDecoder(options);
  const records: TraceRecord[] = [];
  const lines = new TraceLineSplitter((line) => {
    const out = d.push(line);
    if (out && 'kind' in out) records.push(out);
  });
  lines.push(text);
  lines.end();
  return { header: d.end(), records };
}

/**
 * A whole trace from a byte stream (the window's `File.stream()`): line by line, so a long
 * session never has to be one string (a JS string tops out near 512 M characters).
 */
export async function readTraceStream(
  stream: ReadableStream<Uint8Array>,
  options: TraceReadOptions = {},
): Promise<Trace> {
  const d = new TraceDecoder(options);
  const records: TraceRecord[] = [];
  const lines = new TraceLineSplitter((line) => {
    const out = d.push(line);
    if (out && 'kind' in out) records.push(out);
  });
  const utf8 = new TextDecoder();
  const reader = stream.getReader();
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      lines.push(utf8.decode(value, { stream: true }));
    }
    lines.push(utf8.decode());
    lines.end();
  } finally {
    // Refused early (a bad or overlong line): stop reading the rest of the file.
    await reader.cancel().catch(() => {});
  }
  return { header: d.end(), records };
}

/** One line of a trace file (without its newline). */
export function traceLine(item: TraceHeader | TraceRecord): string {
  return JSON.stringify(item);
}

/** The header a new trace begins with. */
export function newTraceHeader(init: {
  source?: TraceSource;
  nodes: string[];
  settings: TraceSettings;
  createdAt?: number;
}): TraceHeader {
  return {
    format: TRACE_FORMAT,
    version: TRACE_VERSION,
    createdAt: init.createdAt ?? Date.now(),
    source: init.source ?? 'local',
    nodes: [...init.nodes],
    settings: { heartbeatMs: init.settings.heartbeatMs, electionMs: init.settings.electionMs },
  };
}
