// The session trace: a self-describing JSONL file of everything a session showed and everything
// the user did, so it can be replayed, shared and opened in Perfetto (docs/trace-format.md).
// Line 1 is a header; every other line is one record, numbered 1, 2, 3… by `seq`.
//
// Browser-safe (no node imports): the renderer reads traces with readTraceStream (a File's
// stream) or readTraceText, the main process with src-main/trace/trace-reader.ts; all go
// through TraceDecoder, so a file is judged the same way everywhere.

import { parseCommand, type Command, type CommandResult, type ForkInfo, type MessageSummary, type NodeStatus, type ServerEvent } from './protocol.js';
import { MESSAGE_TYPES, type MessageType, type RaftEventKind, type Role } from './raft-types.js';
import type { ClusterDeltaEvent } from './trace-delta.js';

export const TRACE_FORMAT = 'raftlab-trace';
/**
 * The version this raftlab writes and reads; older versions are upgraded on read (TRACE_UPGRADES).
 * 2: cluster snapshots between keyframes are `cluster-delta` events (src-shared/trace-delta.ts).
 * 3: `fork` records: the session went on from an earlier moment, as a new branch.
 */
export const TRACE_VERSION = 3;

// ------------------------------------------------------------------ shapes

/** Where the session ran: 'local' (the app's own cluster) or 'attached' (a cluster it watched). */
export type TraceSource = 'local' | 'attached' | (string & {});

export interface TraceSettings {
  heartbeatMs: number;
  electionMs: number;
}

export interface TraceHeader {
  format: typeof TRACE_FORMAT;
  version: number;
  /** Wall-clock ms (Date.now()) when recording began. */
  createdAt: number;
  source: TraceSource;
  /** Node names when recording began (later ones appear in `cluster` snapshots). */
  nodes: string[];
  settings: TraceSettings;
}

interface RecordBase {
  /** 1, 2, 3… without gaps, in file order. */
  seq: number;
  /** Wall-clock ms when recorded; never decreases from one record to the next. */
  at: number;
  /** Each node's own clock (ms) at that moment, where known: node name → ms. */
  clocks?: Record<string, number>;
}

/**
 * Every ServerEvent but `ack` (acks, and errors answering an action, are `result` records),
 * and `cluster-delta`: a `cluster` snapshot kept as what changed since the one before.
 */
export type TracedEvent = Exclude<ServerEvent, { type: 'ack' }> | ClusterDeltaEvent;

export interface EventRecord extends RecordBase {
  kind: 'event';
  event: TracedEvent;
}

/** A command the user gave, with the request id its result answers. */
export interface ActionRecord extends RecordBase {
  kind: 'action';
  id: string;
  cmd: Command;
}

export type ResultRecord = RecordBase & { kind: 'result'; id: string } & (
  | { ok: true; result?: CommandResult }
  | { ok: false; error: string }
);

/** Step mode: a peer message held back, then delivered or dropped by the user. */
export interface MessageFateRecord extends RecordBase {
  kind: 'held' | 'delivered' | 'dropped';
  /** Names the message across its held → delivered/dropped records. */
  msgId: number;
  /** As held: the summary plus, for appends and votes, what they carry (HeldMessage). */
  message: MessageSummary;
  /** dropped: why ('user', 'cut': across a cut link, 'down': its target was not running). */
  reason?: string;
}

/** One request to a node's client API and its answer. */
export interface ClientRecord extends RecordBase {
  kind: 'client';
  node: string;
  method: string;
  /** As requested, with the query string: "/v2/keys/a?quorum=true". */
  path: string;
  /** HTTP status; 0 when no answer came (then `error` says why). */
  status: number;
  /** Round trip, ms. */
  ms: number;
  error?: string;
}

/**
 * The session went on from an earlier moment ("resume from here"): every node's durable state
 * was restored from the checkpoint at `from` and the cluster restarted, as branch `branch`.
 * The records after it belong to that branch; those before it, back to the previous fork (or
 * the start), to branch `left`, which ends at `leftAt`.
 */
export interface ForkRecord extends RecordBase, ForkInfo {
  kind: 'fork';
}

export type TraceRecord = EventRecord | ActionRecord | ResultRecord | MessageFateRecord | ClientRecord | ForkRecord;
export type TraceRecordKind = TraceRecord['kind'];

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;
/** A record before the writer numbers it (and, unless `at` is given, stamps its time). */
export type TraceEntry = DistributiveOmit<TraceRecord, 'seq' | 'at'> & { at?: number };

/** Turns one ServerEvent into what a trace keeps of it: ack / answered error → result. */
export function entryOfEvent(e: ServerEvent): TraceEntry {
  if (e.type === 'ack') return e.result === undefined ? { kind: 'result', id: e.id, ok: true } : { kind: 'result', id: e.id, ok: true, result: e.result };
  if (e.type === 'error' && e.id !== undefined) return { kind: 'result', id: e.id, ok: false, error: e.message };
  // Requests to a node's client port are `client` records.
  if (e.type === 'client') return { kind: 'client', at: e.at, node: e.node, method: e.method, path: e.path, status: e.status, ms: e.ms };
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
  constructor(message: string, readonly line?: number) {
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
      if (r.kind === 'event' && (r.event as Obj | undefined)?.type === 'cluster-delta') throw new TraceError('a version 1 trace has no cluster-delta events', lineNo);
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
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0) throw new TraceError('"version" must be a whole number', 1);
  if (v > TRACE_VERSION) throw new TraceError(`trace version ${v} is newer than this raftlab reads (${TRACE_VERSION}); a newer raftlab opens it`);
  for (let from = v; from < TRACE_VERSION; from++) {
    if (!upgrades.some((u) => u.from === from)) {
      throw new TraceError(`trace version ${v} is older than this raftlab reads (${TRACE_VERSION}) and no upgrade from version ${from} is known`);
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
export function upgradeRecord(raw: Obj, fromVersion: number, lineNo: number, upgrades: readonly TraceUpgrade[] = TRACE_UPGRADES): Obj {
  let r = raw;
  for (const s of steps(fromVersion, upgrades)) r = s.record(r, lineNo);
  return r;
}

// ------------------------------------------------------------------ validation

// Records<…, true> so that a kind added to raft-types.ts or protocol.ts fails to compile here
// until the trace knows it too.
const RAFT_NUMBERS: Record<RaftEventKind, readonly string[]> = {
  role: ['term'], term: ['from', 'to'], 'election-timeout': ['term'], vote: ['term'],
  'vote-result': ['term', 'votes', 'needed'], append: ['first', 'last', 'term'], truncate: ['from'],
  commit: ['index', 'term'], apply: ['index'], conf: ['index'], 'snapshot-created': ['index', 'term'],
  'snapshot-sent': ['index'], 'snapshot-installed': ['index', 'term'], 'check-quorum-lost': ['term', 'active', 'needed'],
  'transfer-start': ['term'], 'transfer-abort': ['term'], removed: ['index'],
};
const MSG_TYPES = Object.fromEntries(MESSAGE_TYPES.map((t) => [t, true])) as Record<MessageType, true>;
const ROLES: Record<Role, true> = { follower: true, precandidate: true, candidate: true, leader: true };
const STATUSES: Record<NodeStatus, true> = { unstarted: true, starting: true, alive: true, killed: true, removed: true };
const KINDS: Record<TraceRecordKind, true> = { event: true, action: true, result: true, held: true, delivered: true, dropped: true, client: true, fork: true };

/** Field checks that throw a TraceError naming the line and the field's path. */
class Fields {
  constructor(readonly line: number) {}

  fail(what: string): never {
    throw new TraceError(what, this.line);
  }

  obj(v: unknown, path: string): Obj {
    if (typeof v !== 'object' || v === null || Array.isArray(v)) this.fail(`${path} must be an object`);
    return v as Obj;
  }

  arr(o: Obj, k: string, path: string): unknown[] {
    const v = o[k];
    if (!Array.isArray(v)) this.fail(`${path}.${k} must be an array`);
    return v;
  }

  str(o: Obj, k: string, path: string): string {
    const v = o[k];
    if (typeof v !== 'string') this.fail(`${path}.${k} must be a string`);
    return v;
  }

  num(o: Obj, k: string, path: string): number {
    const v = o[k];
    if (typeof v !== 'number' || !Number.isFinite(v)) this.fail(`${path}.${k} must be a number`);
    return v;
  }

  int(o: Obj, k: string, path: string, min = 0): number {
    const v = this.num(o, k, path);
    if (!Number.isInteger(v) || v < min) this.fail(`${path}.${k} must be a whole number ≥ ${min}`);
    return v;
  }

  optStr(o: Obj, k: string, path: string): void {
    if (o[k] !== undefined) this.str(o, k, path);
  }

  optNum(o: Obj, k: string, path: string): void {
    if (o[k] !== undefined) this.num(o, k, path);
  }

  oneOf(o: Obj, k: string, path: string, allowed: Record<string, true>): string {
    const v = o[k];
    if (typeof v !== 'string' || !Object.hasOwn(allowed, v)) {
      this.fail(`${path}.${k} is ${JSON.stringify(v) ?? 'missing'}, not one of ${Object.keys(allowed).join(', ')}`);
    }
    return v;
  }
}

function parseJson(line: string, lineNo: number): Obj {
  let v: unknown;
  try {
    v = JSON.parse(line);
  } catch (err) {
    throw new TraceError(`not valid JSON (${err instanceof Error ? err.message : String(err)})`, lineNo);
  }
  return new Fields(lineNo).obj(v, lineNo === 1 ? 'the header' : 'a record');
}

/** Reads and checks line 1; an older version comes back upgraded, a newer one is refused. */
export function parseTraceHeader(line: string, options: TraceReadOptions = {}): TraceHeader {
  return readHeader(line, options).header;
}

/** The header, upgraded, and the version the file was written in (its records need the same upgrade). */
function readHeader(line: string, options: TraceReadOptions): { header: TraceHeader; fileVersion: number } {
  const raw = parseJson(line, 1);
  if (raw.format !== TRACE_FORMAT) {
    throw new TraceError(`not a raftlab trace: the header's "format" is ${JSON.stringify(raw.format) ?? 'missing'}, not "${TRACE_FORMAT}"`, 1);
  }
  const upgrades = options.upgrades ?? TRACE_UPGRADES;
  const fileVersion = checkVersion(raw.version, upgrades);
  const h = upgradeHeader(raw, fileVersion, upgrades);
  const f = new Fields(1);
  f.num(h, 'createdAt', 'header');
  f.str(h, 'source', 'header');
  f.arr(h, 'nodes', 'header').forEach((n, i) => typeof n === 'string' || f.fail(`header.nodes[${i}] must be a node name`));
  const s = f.obj(h.settings, 'header.settings');
  f.num(s, 'heartbeatMs', 'header.settings');
  f.num(s, 'electionMs', 'header.settings');
  return { header: h as unknown as TraceHeader, fileVersion };
}

function checkMessage(f: Fields, m: Obj, path: string): void {
  f.str(m, 'from', path);
  f.str(m, 'to', path);
  f.oneOf(m, 'msgType', path, MSG_TYPES);
  f.num(m, 'term', path);
  for (const k of ['index', 'logTerm', 'entries', 'commit', 'snapshot']) f.optNum(m, k, path);
}

type Check = (f: Fields, o: Obj, k: string, path: string) => void;
const str: Check = (f, o, k, p) => void f.str(o, k, p);
const int: Check = (f, o, k, p) => void f.int(o, k, p);
const arr: Check = (f, o, k, p) => void f.arr(o, k, p);

function checkLogEntries(f: Fields, entries: unknown[], path: string): void {
  entries.forEach((e, j) => {
    const ep = `${path}[${j}]`;
    const o = f.obj(e, ep);
    f.int(o, 'index', ep);
    f.int(o, 'term', ep);
    f.str(o, 'data', ep);
  });
}

// What each field of a snapshot must be. A delta's `set` is checked with the same table, for
// the fields it has, so a rebuilt snapshot is as sound as a full one.
const CLUSTER_FIELDS: Record<string, Check> = {
  dir: str,
  generation: (f, o, k, p) => void f.int(o, k, p, -Number.MAX_SAFE_INTEGER), // negative: an attached cluster (each attach its own)
  nodes: arr,
  cuts: arr,
};
const NODE_FIELDS: Record<string, Check> = {
  name: str,
  id: str,
  status: (f, o, k, p) => void f.oneOf(o, k, p, STATUSES),
  role: (f, o, k, p) => void f.oneOf(o, k, p, ROLES),
  term: int, commit: int, applied: int, firstIndex: int, lastIndex: int,
  vote: str,
  lead: str,
  clock: (f, o, k, p) => void f.obj(o[k], `${p}.${k}`),
  log: (f, o, k, p) => checkLogEntries(f, f.arr(o, k, p), `${p}.${k}`),
  peers: arr,
};

/** Every field of `table` (only those present when `partial`). */
function checkFields(f: Fields, o: Obj, path: string, table: Record<string, Check>, partial: boolean): void {
  for (const k in table) if (!partial || o[k] !== undefined) table[k](f, o, k, path);
}

function checkCluster(f: Fields, c: Obj): void {
  const p = 'event.cluster';
  checkFields(f, c, p, CLUSTER_FIELDS, false);
  (c.nodes as unknown[]).forEach((raw, i) => {
    const np = `${p}.nodes[${i}]`;
    checkFields(f, f.obj(raw, np), np, NODE_FIELDS, false);
  });
}

/** `unset`, if there: names of fields, none of those a snapshot must have. */
function checkUnset(f: Fields, o: Obj, path: string, required: Record<string, Check>): void {
  if (o.unset === undefined) return;
  f.arr(o, 'unset', path).forEach((k, i) => {
    if (typeof k !== 'string') f.fail(`${path}.unset[${i}] must be a field name`);
    if (Object.hasOwn(required, k)) f.fail(`${path}.unset[${i}]: "${k}" cannot be unset`);
  });
}

function checkClusterDelta(f: Fields, d: Obj): void {
  if (d.set !== undefined) {
    const set = f.obj(d.set, 'event.set');
    if (set.nodes !== undefined) f.fail('event.set.nodes: nodes change through event.nodes');
    checkFields(f, set, 'event.set', CLUSTER_FIELDS, true);
  }
  checkUnset(f, d, 'event', CLUSTER_FIELDS);
  if (d.nodes === undefined) return;
  const nodes = f.obj(d.nodes, 'event.nodes');
  for (const name of Object.keys(nodes)) {
    const np = `event.nodes.${name}`;
    const patch = f.obj(nodes[name], np);
    if (patch.set !== undefined) {
      const set = f.obj(patch.set, `${np}.set`);
      if (set.name !== undefined || set.log !== undefined) f.fail(`${np}.set: a node's ${set.name !== undefined ? 'name' : 'log'} does not change through "set"`);
      checkFields(f, set, `${np}.set`, NODE_FIELDS, true);
    }
    checkUnset(f, patch, np, NODE_FIELDS);
    const log = patch.log;
    if (log === undefined) continue;
    if (Array.isArray(log)) {
      checkLogEntries(f, log, `${np}.log`);
      continue;
    }
    const lp = f.obj(log, `${np}.log`);
    f.int(lp, 'drop', `${np}.log`);
    if (lp.keep !== undefined) f.int(lp, 'keep', `${np}.log`);
    if (lp.add !== undefined) checkLogEntries(f, f.arr(lp, 'add', `${np}.log`), `${np}.log.add`);
  }
}

function checkEvent(f: Fields, e: Obj): void {
  switch (e.type) {
    case 'cluster':
      checkCluster(f, f.obj(e.cluster, 'event.cluster'));
      return;
    case 'cluster-delta':
      checkClusterDelta(f, e);
      return;
    case 'raft': {
      f.str(e, 'node', 'event');
      f.num(e, 'at', 'event');
      const r = f.obj(e.event, 'event.event');
      const kind = f.oneOf(r, 'kind', 'event.event', RAFT_NUMBERS as unknown as Record<string, true>) as RaftEventKind;
      for (const k of RAFT_NUMBERS[kind]) f.num(r, k, 'event.event');
      return;
    }
    case 'message':
      f.num(e, 'at', 'event');
      checkMessage(f, e, 'event');
      return;
    case 'delivered':
    case 'lost':
      // A message (by its id) stepped in by its target, or never to arrive (protocol.ts).
      f.num(e, 'id', 'event');
      f.str(e, 'from', 'event');
      f.str(e, 'to', 'event');
      f.num(e, 'at', 'event');
      return;
    case 'log':
      f.str(e, 'node', 'event');
      f.num(e, 'at', 'event');
      for (const k of ['level', 'pkg', 'msg', 'line']) f.str(e, k, 'event');
      return;
    case 'error':
      f.str(e, 'message', 'event');
      f.optStr(e, 'id', 'event');
      return;
    case 'attach': {
      // What was observed on an attached cluster (src-shared/attach.ts AttachEvent).
      f.num(e, 'at', 'event');
      const a = f.obj(e.event, 'event.event');
      f.str(a, 'type', 'event.event');
      f.num(a, 'at', 'event.event');
      return;
    }
    case 'watch':
      // A line (or the end) of a v3 watch the window opened (protocol.ts WatchLine).
      f.num(e, 'at', 'event');
      f.str(e, 'watch', 'event');
      f.str(e, 'node', 'event');
      f.optStr(e, 'ended', 'event');
      return;
    case 'ack':
      return f.fail('an ack belongs in a "result" record, not an "event"');
    default:
      return f.fail(`event.type is ${JSON.stringify(e.type) ?? 'missing'}, not one of cluster, cluster-delta, raft, message, delivered, lost, log, error, attach, watch`);
  }
}

/**
 * Reads and checks one record line (`lineNo` is its 1-based line in the file, for messages).
 * Records of an older `version` are upgraded first. Fields a newer writer added are kept.
 */
export function parseTraceRecord(line: string, lineNo: number, options: TraceReadOptions & { version?: number } = {}): TraceRecord {
  const version = options.version ?? TRACE_VERSION;
  const r = upgradeRecord(parseJson(line, lineNo), version, lineNo, options.upgrades ?? TRACE_UPGRADES);
  const f = new Fields(lineNo);
  f.int(r, 'seq', 'record', 1);
  f.num(r, 'at', 'record');
  if (r.clocks !== undefined) {
    const c = f.obj(r.clocks, 'record.clocks');
    for (const k of Object.keys(c)) f.num(c, k, 'record.clocks');
  }
  const kind = f.oneOf(r, 'kind', 'record', KINDS) as TraceRecordKind;
  switch (kind) {
    case 'event':
      checkEvent(f, f.obj(r.event, 'event'));
      break;
    case 'action':
      f.str(r, 'id', 'record');
      try {
        r.cmd = parseCommand(r.cmd);
      } catch (err) {
        f.fail(`record.cmd: ${err instanceof Error ? err.message : String(err)}`);
      }
      break;
    case 'result':
      f.str(r, 'id', 'record');
      if (typeof r.ok !== 'boolean') f.fail('record.ok must be true or false');
      if (!r.ok) f.str(r, 'error', 'record');
      break;
    case 'held':
    case 'delivered':
    case 'dropped':
      f.int(r, 'msgId', 'record');
      checkMessage(f, f.obj(r.message, 'record.message'), 'record.message');
      f.optStr(r, 'reason', 'record');
      break;
    case 'client':
      for (const k of ['node', 'method', 'path']) f.str(r, k, 'record');
      f.int(r, 'status', 'record');
      f.num(r, 'ms', 'record');
      f.optStr(r, 'error', 'record');
      break;
    case 'fork':
      f.int(r, 'branch', 'record', 2);
      f.int(r, 'parent', 'record', 1);
      f.int(r, 'left', 'record', 1);
      for (const k of ['from', 'asked', 'leftAt']) f.num(r, k, 'record');
      if ((r.parent as number) >= (r.branch as number)) f.fail('record.parent must be an earlier branch than record.branch');
      break;
  }
  return r as unknown as TraceRecord;
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
      throw new TraceError(`seq ${r.seq} where ${this.lastSeq + 1} was expected (records are numbered 1, 2, 3… without gaps)`, lineNo);
    }
    if (r.at < this.lastAt) throw new TraceError(`at ${r.at} is earlier than the previous record's ${this.lastAt}`, lineNo);
    if (r.kind === 'event') {
      if (r.event.type === 'cluster') this.nodeNames = new Set(r.event.cluster.nodes.map((n) => n.name));
      else if (r.event.type === 'cluster-delta') {
        const names = this.nodeNames;
        if (!names) throw new TraceError('a cluster-delta needs a full cluster snapshot before it', lineNo);
        for (const name of Object.keys(r.event.nodes ?? {})) {
          if (!names.has(name)) throw new TraceError(`event.nodes: no node named ${JSON.stringify(name)} in the last cluster snapshot`, lineNo);
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
    throw new TraceError(`longer than ${this.max / (1024 * 1024)} MiB, the longest line a trace may have (is this a trace?)`, this.lineNo + 1);
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
export async function readTraceStream(stream: ReadableStream<Uint8Array>, options: TraceReadOptions = {}): Promise<Trace> {
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
export function newTraceHeader(init: { source?: TraceSource; nodes: string[]; settings: TraceSettings; createdAt?: number }): TraceHeader {
  return {
    format: TRACE_FORMAT,
    version: TRACE_VERSION,
    createdAt: init.createdAt ?? Date.now(),
    source: init.source ?? 'local',
    nodes: [...init.nodes],
    settings: { heartbeatMs: init.settings.heartbeatMs, electionMs: init.settings.electionMs },
  };
}
