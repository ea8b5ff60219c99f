// The session trace's shapes (docs/trace-format.md): each record's TypeScript type and the
// valibot schema a line read from a file must pass, side by side. The types are what the
// writer writes; the schemas check what the replay relies on (a node's URLs or a command's
// result are taken as written), and each schema is held to its type at compile time (`Passes`:
// a schema that asks for a field the type lacks, or of another type, does not compile).
//
// The error texts name the field as the reader always has ("event.nodes.n1.set.status is
// "zombie", not one of…"): every message here is written relative to its field (" must be a
// number", ": "term" cannot be unset") and issueText puts the field's path in front. Hot path:
// every record of an hour-long trace, so the schemas are compiled to a guard (schema.ts
// fastGuard) and valibot itself runs only to say what is wrong.

import * as v from 'valibot';
import { NODE_STATUSES, type ClusterState, type MessageSummary, type NodeState } from './cluster-state.js';
import type { CommandResult, ForkInfo } from './command-results.js';
import { CommandSchema, type Command } from './commands.js';
import type { ServerEvent } from './protocol.js';
import { MESSAGE_TYPES, ROLES, type RaftEvent, type RaftEventKind } from './raft-types.js';
import { fastGuard, isPlainObject, looseObject } from './schema.js';
import type { ClusterDeltaEvent } from './trace-delta.js';

export const TRACE_FORMAT = 'raftlab-trace';

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
    { ok: true; result?: CommandResult } | { ok: false; error: string }
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

// ------------------------------------------------------------------ held to the types

/** A type without the `[key: string]: unknown` a loose object's input has (an interface has none), all the way down. */
type Known<T> = T extends readonly (infer E)[]
  ? Known<E>[]
  : T extends object
    ? { [K in keyof T as string extends K ? (unknown extends T[K] ? never : K) : K]: Known<T[K]> }
    : T;
/** `true` when every T is something S accepts as far as types tell: S checks only fields T has, as T types them. */
type Passes<T, S extends v.GenericSchema> = [T] extends [Known<v.InferInput<S>>] ? true : false;
/** …and S checks every field of T, as T types it. */
type Covers<T, S extends v.GenericSchema> =
  Passes<T, S> extends true ? ([Known<v.InferInput<S>>] extends [T] ? true : false) : false;
/** Compile-time only: a check that is `false` does not compile. */
type Holds<T extends true> = T;

/**
 * `first`, then `then` on the same value (when `first` passed): the first problem named is
 * `first`'s. (v.pipe's types want `then` to take what `first` gives; here both take the input.)
 */
const both = <A extends v.GenericSchema, B extends v.GenericSchema>(first: A, then: B) =>
  v.pipe(first, then as unknown as v.GenericSchema<v.InferOutput<A>, v.InferOutput<A> & v.InferOutput<B>>);

// ------------------------------------------------------------------ field schemas

const NUMBER = ' must be a number';
/** A finite number (JSON reads 1e999 as Infinity). */
const num = v.pipe(v.number(NUMBER), v.finite(NUMBER));
/** A whole number ≥ min. */
const whole = (min = 0) =>
  v.pipe(
    v.number(NUMBER),
    v.finite(NUMBER),
    v.integer(` must be a whole number ≥ ${min}`),
    v.minValue(min, ` must be a whole number ≥ ${min}`),
  );
const str = v.string(' must be a string');
const arr = <S extends v.GenericSchema>(item: S) => v.array(item, ' must be an array');
const anyArray = arr(v.unknown());
/** What a value that is none of `options` is told. */
const notOneOf = (options: readonly string[]) => (issue: v.BaseIssue<unknown>) =>
  ` is ${JSON.stringify(issue.input) ?? 'missing'}, not one of ${options.join(', ')}`;
const oneOf = <const T extends readonly string[]>(options: T) => v.picklist(options, notOneOf(options));
const NOT_OBJECT = ' must be an object';
/** Any object (not an array), its fields unchecked. */
const anyObject = v.custom<Record<string, unknown>>(isPlainObject, NOT_OBJECT);
/** An object with these fields, and any others (a newer writer's) kept; valibot's objects take arrays too (see obj). */
const fields = <E extends v.ObjectEntries>(entries: E) => looseObject(entries, NOT_OBJECT);
/** An object (not an array) with these fields, and any others kept. */
const obj = <E extends v.ObjectEntries>(entries: E) => {
  const checked = fields(entries);
  return v.pipe(v.custom<v.InferInput<typeof checked>>(isPlainObject, NOT_OBJECT), checked);
};

/** A path as the reader names fields: `.key` and `[index]`. */
function pathText(path: readonly { key: unknown }[] | undefined): string {
  let out = '';
  for (const p of path ?? []) out += typeof p.key === 'number' ? `[${p.key}]` : `.${String(p.key)}`;
  return out;
}

/** A message written relative to its field (" must be…", ": …", ".key…") rather than standing alone. */
const isRelative = (message: string) => /^[ .:[]/.test(message);

/**
 * Objects keyed by node name (a record's clocks, a delta's nodes). Not v.record: that skips keys
 * named "__proto__", "constructor" or "prototype", which are node names like any other.
 */
function byName<S extends v.GenericSchema>(value: S) {
  const fast = fastGuard(value);
  const ok = (x: unknown) => fast(x) || v.is(value, x);
  return v.custom<Record<string, v.InferInput<S>>>(
    (x) => isPlainObject(x) && Object.keys(x).every((k) => ok(x[k])),
    (issue) => {
      const o = issue.input;
      if (!isPlainObject(o)) return NOT_OBJECT;
      const name = Object.keys(o).find((k) => !ok(o[k]))!;
      const inner = v.safeParse(value, o[name], { abortEarly: true }).issues![0];
      return `.${name}${pathText(inner.path)}${inner.message}`;
    },
  );
}

// ------------------------------------------------------------------ the header

// `format` and `version` are read first, before any upgrade (trace.ts readHeader).
export const TraceHeaderSchema = obj({
  createdAt: num,
  source: str,
  nodes: arr(v.string(' must be a node name')),
  settings: obj({ heartbeatMs: num, electionMs: num }),
});
type _HeaderPasses = Holds<Passes<TraceHeader, typeof TraceHeaderSchema>>;
type _HeaderCovered = Holds<Covers<Omit<TraceHeader, 'format' | 'version'>, typeof TraceHeaderSchema>>;

// ------------------------------------------------------------------ events

/** The numbers each Raft event must carry: only number fields of that kind (checked by the compiler), every kind listed. */
type NumberFields<T> = { [K in keyof T]-?: T[K] extends number ? K : never }[keyof T];
const RAFT_NUMBERS: { [K in RaftEventKind]: readonly NumberFields<Extract<RaftEvent, { kind: K }>>[] } = {
  role: ['term'],
  term: ['from', 'to'],
  'election-timeout': ['term'],
  vote: ['term'],
  'vote-result': ['term', 'votes', 'needed'],
  append: ['first', 'last', 'term'],
  truncate: ['from'],
  commit: ['index', 'term'],
  apply: ['index'],
  conf: ['index'],
  'snapshot-created': ['index', 'term'],
  'snapshot-sent': ['index'],
  'snapshot-installed': ['index', 'term'],
  'check-quorum-lost': ['term', 'active', 'needed'],
  'transfer-start': ['term'],
  'transfer-abort': ['term'],
  removed: ['index'],
};
const RAFT_KINDS = Object.keys(RAFT_NUMBERS) as RaftEventKind[];
const RaftEventSchema = v.pipe(
  anyObject,
  v.variant(
    'kind',
    RAFT_KINDS.map((kind) =>
      fields({ kind: v.literal(kind), ...Object.fromEntries(RAFT_NUMBERS[kind].map((k) => [k, num])) }),
    ),
    notOneOf(RAFT_KINDS),
  ),
);

/** A peer message as summarized for the window (MessageSummary), in events and step-mode records. */
const MESSAGE_FIELDS = {
  from: str,
  to: str,
  msgType: oneOf(MESSAGE_TYPES),
  term: num,
  index: v.optional(num),
  logTerm: v.optional(num),
  entries: v.optional(num),
  commit: v.optional(num),
  snapshot: v.optional(num),
};
type _MessagePasses = Holds<Passes<MessageSummary, ReturnType<typeof obj<typeof MESSAGE_FIELDS>>>>;

const LogEntrySchema = obj({ index: whole(), term: whole(), data: str });
const logTail = arr(LogEntrySchema);

// What each field of a snapshot must be. A delta's `set` is checked against the same fields,
// for those it has, so a rebuilt snapshot is as sound as a full one.
const CLUSTER_FIELDS = {
  dir: str,
  generation: whole(-Number.MAX_SAFE_INTEGER), // negative: an attached cluster (each attach its own)
  nodes: anyArray,
  cuts: anyArray,
};
const NODE_FIELDS = {
  name: str,
  id: str,
  status: oneOf(NODE_STATUSES),
  role: oneOf(ROLES),
  term: whole(),
  commit: whole(),
  applied: whole(),
  firstIndex: whole(),
  lastIndex: whole(),
  vote: str,
  lead: str,
  clock: anyObject,
  log: logTail,
  peers: anyArray,
};
/** Checked when present; a delta may unset them. `learner`: traces from before learners have none. */
const NODE_OPTIONAL_FIELDS = {
  learner: v.optional(v.boolean(' must be true or false')),
};
const NodeSchema = obj({ ...NODE_FIELDS, ...NODE_OPTIONAL_FIELDS });
// The cluster's own fields first, then each node's (as the reader always has, so the first
// problem named is the same).
const ClusterSchema = both(obj(CLUSTER_FIELDS), fields({ nodes: arr(NodeSchema) }));
type _ClusterPasses = Holds<Passes<ClusterState, typeof ClusterSchema>>;
type _NodePasses = Holds<Passes<NodeState, typeof NodeSchema>>;

const optional = <E extends v.ObjectEntries>(entries: E) =>
  Object.fromEntries(Object.entries(entries).map(([k, s]) => [k, v.optional(s)])) as {
    [K in keyof E]: v.OptionalSchema<E[K], undefined>;
  };

/** `unset`: names of fields that are gone, none of them one a snapshot must have. */
const unset = (required: v.ObjectEntries) =>
  v.optional(
    arr(
      v.pipe(
        v.string(' must be a field name'),
        v.check(
          (k) => !Object.hasOwn(required, k),
          (issue) => `: "${issue.input}" cannot be unset`,
        ),
      ),
    ),
  );

/** A node's log tail, as a whole new one (an array) or as how it moved (a LogPatch). */
const LogPatchSchema = obj({ drop: whole(), keep: v.optional(whole()), add: v.optional(logTail) });
const logChange = v.lazy((x) => (Array.isArray(x) ? logTail : LogPatchSchema));

const NodePatchSchema = obj({
  set: v.optional(
    v.pipe(
      anyObject,
      v.check(
        (set) => set.name === undefined && set.log === undefined,
        (issue) =>
          `: a node's ${(issue.input as { name?: unknown }).name !== undefined ? 'name' : 'log'} does not change through "set"`,
      ),
      fields({ ...optional(NODE_FIELDS), ...NODE_OPTIONAL_FIELDS }),
    ),
  ),
  unset: unset(NODE_FIELDS),
  log: v.optional(logChange),
});

const { nodes: _nodes, ...clusterSet } = optional(CLUSTER_FIELDS);
const ClusterDeltaSchema = fields({
  type: v.literal('cluster-delta'),
  set: v.optional(obj({ nodes: v.optional(v.never(': nodes change through event.nodes')), ...clusterSet })),
  unset: unset(CLUSTER_FIELDS),
  nodes: v.optional(byName(NodePatchSchema)),
});
type _DeltaPasses = Holds<Passes<ClusterDeltaEvent, typeof ClusterDeltaSchema>>;

const ACK = 'an ack belongs in a "result" record, not an "event"';
const EVENT_SCHEMAS = [
  fields({ type: v.literal('cluster'), cluster: ClusterSchema }),
  ClusterDeltaSchema,
  fields({ type: v.literal('raft'), node: str, at: num, event: RaftEventSchema }),
  fields({ type: v.literal('message'), at: num, ...MESSAGE_FIELDS }),
  // A message (by its id) stepped in by its target, or never to arrive (protocol.ts).
  fields({ type: v.picklist(['delivered', 'lost']), id: num, from: str, to: str, at: num }),
  fields({ type: v.literal('log'), node: str, at: num, level: str, pkg: str, msg: str, line: str }),
  fields({ type: v.literal('error'), message: str, id: v.optional(str) }),
  // What was observed on an attached cluster (src-shared/attach.ts AttachEvent).
  fields({ type: v.literal('attach'), at: num, event: obj({ type: str, at: num }) }),
  // A line (or the end) of a v3 watch the window opened (command-results.ts WatchLine).
  fields({
    type: v.literal('watch'),
    at: num,
    watch: str,
    node: str,
    result: v.optional(v.unknown()),
    ended: v.optional(str),
  }),
] as const;
const EVENT_TYPES: readonly string[] = EVENT_SCHEMAS.flatMap(({ entries: { type } }) =>
  'literal' in type ? [type.literal] : type.options,
);
const TracedEventSchema = v.pipe(
  anyObject,
  v.variant('type', EVENT_SCHEMAS, (issue) => (issue.input === 'ack' ? ACK : notOneOf(EVENT_TYPES)(issue))),
);
/** The events a trace keeps as events (a client request, a step-mode fate and a fork are records of their own). */
type StoredEvent = Exclude<TracedEvent, { type: 'client' | 'step' | 'fork' }>;
type _EventsPass = Holds<Passes<StoredEvent, (typeof EVENT_SCHEMAS)[number]>>;

// ------------------------------------------------------------------ records

const TRACE_RECORD_KINDS = ['event', 'action', 'result', 'held', 'delivered', 'dropped', 'client', 'fork'] as const;
type _KindsAreAll = Holds<
  [(typeof TRACE_RECORD_KINDS)[number], TraceRecordKind] extends [TraceRecordKind, (typeof TRACE_RECORD_KINDS)[number]]
    ? true
    : false
>;

/** What every record has, checked before what its kind has. */
const RECORD_BASE = { seq: whole(1), at: num, clocks: v.optional(byName(num)), kind: oneOf(TRACE_RECORD_KINDS) };
type _BaseCovered = Holds<Covers<RecordBase & { kind: TraceRecordKind }, ReturnType<typeof obj<typeof RECORD_BASE>>>>;

const RECORD_SCHEMAS = [
  fields({ kind: v.literal('event'), event: TracedEventSchema }),
  // A command as the window sends it: CommandSchema's own texts (issueText puts "record.cmd: " before them).
  fields({ kind: v.literal('action'), id: str, cmd: CommandSchema }),
  v.pipe(
    fields({
      kind: v.literal('result'),
      id: str,
      ok: v.boolean(' must be true or false'),
      error: v.optional(v.unknown()),
    }),
    v.forward(
      v.check((r) => r.ok || typeof r.error === 'string', ' must be a string'),
      ['error'],
    ),
  ),
  fields({
    kind: v.picklist(['held', 'delivered', 'dropped']),
    msgId: whole(),
    message: obj(MESSAGE_FIELDS),
    reason: v.optional(str),
  }),
  fields({
    kind: v.literal('client'),
    node: str,
    method: str,
    path: str,
    status: whole(),
    ms: num,
    error: v.optional(str),
  }),
  v.pipe(
    fields({
      kind: v.literal('fork'),
      branch: whole(2),
      parent: whole(1),
      left: whole(1),
      from: num,
      asked: num,
      leftAt: num,
    }),
    v.forward(
      v.check((r) => r.parent < r.branch, ' must be an earlier branch than record.branch'),
      ['parent'],
    ),
  ),
] as const;
type _EventRecordPasses = Holds<Passes<Omit<EventRecord, keyof RecordBase>, (typeof RECORD_SCHEMAS)[0]>>;
type _ActionPasses = Holds<Passes<Omit<ActionRecord, keyof RecordBase>, (typeof RECORD_SCHEMAS)[1]>>;
type _ResultPasses = Holds<Passes<DistributiveOmit<ResultRecord, keyof RecordBase>, (typeof RECORD_SCHEMAS)[2]>>;
type _FatePasses = Holds<Passes<Omit<MessageFateRecord, keyof RecordBase>, (typeof RECORD_SCHEMAS)[3]>>;
type _ClientCovered = Holds<Covers<Omit<ClientRecord, keyof RecordBase>, (typeof RECORD_SCHEMAS)[4]>>;
type _ForkCovered = Holds<Covers<Omit<ForkRecord, keyof RecordBase>, (typeof RECORD_SCHEMAS)[5]>>;

/** A record line, once parsed from JSON and upgraded: its base fields, then those of its kind. */
export const TraceRecordSchema = both(obj(RECORD_BASE), v.variant('kind', RECORD_SCHEMAS));

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;

// ------------------------------------------------------------------ checking

/**
 * An issue's text, naming its field as the reader always has: `record.seq…`, `event.…` for a
 * record's event, `header.…`; a command's own text after "record.cmd: "; a text that is not
 * relative to a field (an ack where an event should be) alone.
 */
function issueText(issue: v.BaseIssue<unknown>, root: 'record' | 'header'): string {
  const path = issue.path ?? [];
  if (root === 'record' && path[0]?.key === 'cmd') return `record.cmd: ${issue.message}`;
  if (!isRelative(issue.message)) return issue.message;
  const text = pathText(path) + issue.message;
  return root === 'record' && path[0]?.key === 'event' ? text.slice(1) : root + text;
}

export type TraceCheck<T> = { ok: true; value: T } | { ok: false; problem: string };

/**
 * `schema` as a function: the value, or what is wrong. The value is the input itself: the
 * schemas only check, and valibot's copy would leave out fields named "__proto__",
 * "constructor" or "prototype" (JSON keeps them as plain fields; a node may be named so).
 * `adopt` takes what is wanted of valibot's output when the guard alone could not say yes.
 */
function traceChecker<T>(
  schema: v.GenericSchema,
  root: 'record' | 'header',
  adopt?: (input: T, output: T) => void,
): (x: unknown) => TraceCheck<T> {
  const fast = fastGuard(schema);
  return (x) => {
    if (fast(x)) return { ok: true, value: x as T };
    const r = v.safeParse(schema, x, { abortEarly: true });
    if (!r.success) return { ok: false, problem: issueText(r.issues[0], root) };
    adopt?.(x as T, r.output as T);
    return { ok: true, value: x as T };
  };
}

/** Checks a header (after its format and version were read, and it was upgraded). */
export const checkTraceHeader = traceChecker<TraceHeader>(TraceHeaderSchema, 'header');
/** Checks a record (parsed from JSON and upgraded). An action's command is what CommandSchema makes of it (unknown fields dropped). */
export const checkTraceRecord = traceChecker<TraceRecord>(TraceRecordSchema, 'record', (input, output) => {
  if (input.kind === 'action' && output.kind === 'action') input.cmd = output.cmd;
});
