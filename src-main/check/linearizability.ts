// A linearizability checker for key-value register histories (src-shared/history.ts), in the
// manner of Porcupine and Knossos:
//
// - Per-key partitioning: linearizability is local (Herlihy & Wing), so each key's operations
//   are checked on their own, against a single register (absent = null, write, cas, read).
// - Wing & Gong's search with Lowe's just-in-time linearization: the operations' call and
//   return events sit in one time-ordered linked list; the search linearizes any operation whose
//   call comes before the first pending return, and backtracks when it reaches a return whose
//   operation it could not place. Configurations already explored (the bitset of linearized
//   operations + the register's value) are cached, which is what keeps it polynomial in practice.
// - Unknown outcomes (timeouts, resets after sending): the operation may take effect at any time
//   after its call, or never. It has no return event, and the search is done once every `ok`
//   operation is placed. To keep such operations from multiplying the search, an unknown
//   operation is only placed right before an operation that needs it (one that could not be
//   placed in the register's previous value): any linearization can be rewritten into that form,
//   since an unknown operation can always be moved later (its return is at infinity) or dropped
//   (when the next operation would overwrite it anyway). See `dependsOn`.
// - Two more cuts that never lose an order: a callable read (or failed cas) that holds in the
//   current value is placed at once, with no alternative (see `fresh`); of callable operations
//   with the same effect only one is tried (see `survey`). Values nobody reads or compares
//   against are merged into one. Together they keep many concurrent clients on one key cheap.
// - Failed operations never took effect and are left out; so are reads that did not complete.
// - A step budget and a deadline turn a search that would take too long into 'unknown'.
//
// A violation comes with a minimal set of operations that cannot be ordered, found by shrinking
// the key's history (delta debugging) with removals that can never create a violation of their
// own (see `removeSet`), and a one-sentence explanation of why.

import { describeOp, formatTime, formatValue, type Op } from '../../src-shared/history.js';

export interface CheckOptions {
  /** Search steps allowed per key before that key is 'unknown' (default 20 000 000). */
  maxSteps?: number;
  /** Wall-clock budget for the whole check, ms (default 60 000); keys left over are 'unknown'. */
  timeoutMs?: number;
  /** Shrink each violation to a minimal set (default true)... */
  shrink?: boolean;
  /** ...within this budget per violation, ms (default 5000); past it the set is smaller but maybe not minimal. */
  shrinkTimeoutMs?: number;
}

export type Verdict = 'ok' | 'violation' | 'unknown';

export interface Violation {
  key: string;
  /** Operations that cannot be ordered, by invoke time: each one is needed (when `minimal`). */
  ops: Op[];
  /** One sentence: why they cannot be ordered. */
  explanation: string;
  /** Shrinking ran to the end: removing any one of `ops` would leave an orderable history. */
  minimal: boolean;
}

export interface KeyVerdict {
  key: string;
  verdict: Verdict;
  /** Operations searched (failed ones and reads without a result are left out). */
  ops: number;
  steps: number;
  /** Why 'unknown': the step budget or the deadline. */
  reason?: string;
}

export interface CheckResult {
  /** 'violation' if any key has one; else 'unknown' if any key ran out of budget; else 'ok'. */
  verdict: Verdict;
  violations: Violation[];
  keys: KeyVerdict[];
  /** Search steps over all keys (shrinking excluded). */
  steps: number;
  ms: number;
}

const DEFAULTS = { maxSteps: 20_000_000, timeoutMs: 60_000, shrink: true, shrinkTimeoutMs: 5000 };

/** Checks a history (any order of ops, any number of keys). */
export function checkLinearizability(ops: readonly Op[], options: CheckOptions = {}): CheckResult {
  const opts = { ...DEFAULTS, ...options };
  const t0 = performance.now();
  const deadline = t0 + opts.timeoutMs;
  for (const op of ops) validate(op);
  const byKey = new Map<string, Op[]>();
  for (const op of ops) {
    if (!relevant(op)) continue;
    let list = byKey.get(op.key);
    if (!list) byKey.set(op.key, (list = []));
    list.push(op);
  }
  const keys: KeyVerdict[] = [];
  const violations: Violation[] = [];
  let steps = 0;
  for (const key of [...byKey.keys()].sort()) {
    const list = byKey.get(key)!;
    const r = search(list, opts.maxSteps, deadline);
    steps += r.steps;
    const kv: KeyVerdict = { key, verdict: r.verdict, ops: list.length, steps: r.steps };
    if (r.reason) kv.reason = r.reason;
    keys.push(kv);
    if (r.verdict === 'violation') {
      const shrunk = opts.shrink ? shrink(list, opts.maxSteps, performance.now() + opts.shrinkTimeoutMs) : { ops: sortOps(list), minimal: false };
      violations.push({ key, ops: shrunk.ops, explanation: explain(key, shrunk.ops), minimal: shrunk.minimal });
    }
  }
  const verdict: Verdict = violations.length > 0 ? 'violation' : keys.some((k) => k.verdict === 'unknown') ? 'unknown' : 'ok';
  return { verdict, violations, keys, steps, ms: performance.now() - t0 };
}

function validate(op: Op): void {
  const where = `operation #${op.id} (${op.type} ${op.key})`;
  if (!Number.isFinite(op.invoke)) throw new Error(`${where}: invoke must be a finite time`);
  if (op.outcome === 'unknown') return;
  if (op.complete === undefined || !Number.isFinite(op.complete)) throw new Error(`${where}: a ${op.outcome} operation needs its complete time`);
  if (op.complete < op.invoke) throw new Error(`${where}: completes before it is invoked`);
  if (op.outcome === 'ok' && op.type === 'read' && op.value === undefined) throw new Error(`${where}: an ok read needs its value (null: absent)`);
  if (op.outcome === 'ok' && op.type === 'cas' && typeof op.succeeded !== 'boolean') throw new Error(`${where}: an ok cas needs succeeded`);
}

/** Operations that constrain the search: failed ones never took effect, unfinished reads say nothing. */
function relevant(op: Op): boolean {
  if (op.outcome === 'fail') return false;
  if (op.type === 'read' && op.outcome !== 'ok') return false;
  return true;
}

function sortOps(ops: readonly Op[]): Op[] {
  return [...ops].sort((a, b) => a.invoke - b.invoke || a.id - b.id);
}

// ------------------------------------------------------------------ the search

// Operation kinds as the search sees them (values are small integers; 0 is absent).
const READ = 0;
const WRITE = 1;
const CAS_OK = 2; // compare held, wrote
const CAS_FAILED = 3; // compare failed, wrote nothing
const WRITE_UNKNOWN = 4;
const CAS_UNKNOWN = 5;
const NO_CONSTRAINT = -1;
const ANON = 1;

interface SearchResult {
  verdict: Verdict;
  steps: number;
  reason?: string;
}

interface CacheEntry {
  bits: Uint32Array;
  state: number;
  cons: number;
}

/** Wing & Gong / Lowe on one key's relevant operations. */
function search(ops: readonly Op[], maxSteps: number, deadline: number): SearchResult {
  const n = ops.length;
  if (n === 0) return { verdict: 'ok', steps: 0 };
  // Values as integers: null → 0. A value that no read returned and no cas compared against
  // is told apart by no operation: all of those are one value, ANON (fewer distinct states).
  const named = new Set<string>();
  for (const op of ops) {
    if (op.type === 'read' && typeof op.value === 'string') named.add(op.value);
    if (op.type === 'cas') named.add(op.expected);
  }
  const ids = new Map<string, number>();
  const vid = (v: string | null | undefined): number => {
    if (v === null || v === undefined) return 0;
    if (!named.has(v)) return ANON;
    let i = ids.get(v);
    if (i === undefined) ids.set(v, (i = ids.size + 2));
    return i;
  };
  const kind = new Uint8Array(n);
  const a = new Int32Array(n); // read: value; write: value; cas: expected
  const b = new Int32Array(n); // cas: new value
  let requiredLeft = 0;
  for (let i = 0; i < n; i++) {
    const op = ops[i];
    const known = op.outcome === 'ok';
    if (known) requiredLeft++;
    switch (op.type) {
      case 'read':
        kind[i] = READ;
        a[i] = vid(op.value);
        break;
      case 'write':
        kind[i] = known ? WRITE : WRITE_UNKNOWN;
        a[i] = vid(op.value);
        break;
      case 'cas':
        kind[i] = known ? (op.succeeded ? CAS_OK : CAS_FAILED) : CAS_UNKNOWN;
        a[i] = vid(op.expected);
        b[i] = vid(op.value);
        break;
    }
  }

  // Events: a call per operation, a return per ok one; calls first on equal times (concurrent).
  type Ev = { time: number; call: boolean; op: number };
  const evs: Ev[] = [];
  for (let i = 0; i < n; i++) {
    evs.push({ time: ops[i].invoke, call: true, op: i });
    if (ops[i].outcome === 'ok') evs.push({ time: ops[i].complete!, call: false, op: i });
  }
  evs.sort((x, y) => x.time - y.time || (x.call === y.call ? x.op - y.op : x.call ? -1 : 1));
  // A doubly linked list in arrays; entry 0 is the head sentinel.
  const E = evs.length + 1;
  const next = new Int32Array(E);
  const prev = new Int32Array(E);
  const isCall = new Uint8Array(E);
  const opOf = new Int32Array(E);
  const match = new Int32Array(E).fill(-1);
  const callOf = new Int32Array(n);
  for (let k = 0; k < evs.length; k++) {
    const e = k + 1;
    isCall[e] = evs[k].call ? 1 : 0;
    opOf[e] = evs[k].op;
    if (evs[k].call) callOf[evs[k].op] = e;
  }
  for (let e = 1; e < E; e++) if (!isCall[e]) match[callOf[opOf[e]]] = e;
  for (let e = 0; e < E; e++) {
    next[e] = e + 1 < E ? e + 1 : -1;
    prev[e] = e - 1;
  }
  const unlink = (e: number) => {
    const p = prev[e];
    const x = next[e];
    next[p] = x;
    if (x !== -1) prev[x] = p;
  };
  const relink = (e: number) => {
    const p = prev[e];
    const x = next[e];
    next[p] = e;
    if (x !== -1) prev[x] = e;
  };
  const lift = (e: number) => {
    unlink(e);
    if (match[e] !== -1) unlink(match[e]);
  };
  const unlift = (e: number) => {
    if (match[e] !== -1) relink(match[e]);
    relink(e);
  };

  // Zobrist hashing of the linearized set, updated in O(1) per step.
  const rnd = xorshift(0x9e3779b9 ^ n);
  const z1 = new Int32Array(n);
  const z2 = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    z1[i] = rnd();
    z2[i] = rnd();
  }
  const words = (n + 31) >>> 5;
  const bits = new Uint32Array(words);
  const cache = new Map<number, CacheEntry[]>();
  /** Adds the configuration; false if it was there already (explored, and it failed). */
  const remember = (h1: number, h2: number, state: number, cons: number): boolean => {
    const mixed = (h1 ^ Math.imul(state + 1, 0x9e3779b1) ^ Math.imul(cons + 2, 0x85ebca6b)) >>> 0;
    const key = mixed * 2097152 + (h2 >>> 11);
    let list = cache.get(key);
    if (!list) cache.set(key, (list = []));
    outer: for (const c of list) {
      if (c.state !== state || c.cons !== cons) continue;
      for (let w = 0; w < words; w++) if (c.bits[w] !== bits[w]) continue outer;
      return false;
    }
    list.push({ bits: bits.slice(), state, cons });
    return true;
  };

  // The stack of placed operations: their call entry, and what to restore on backtracking.
  const stEntry = new Int32Array(n);
  const stState = new Int32Array(n);
  const stCons = new Int32Array(n);
  let sp = 0;
  let state = 0;
  // After an unknown operation: the register's value before it (the next one must need it).
  let cons = NO_CONSTRAINT;
  let h1 = 0;
  let h2 = 0;
  let steps = 0;
  // A survey of the callable operations (calls before the first pending return), made lazily
  // once per level:
  // - Of callable operations with the same effect on the register (same kind and values), an
  //   unknown one is interchangeable with the other, so only the first called is tried; of two
  //   ok ones, placing the one that returns first is never worse (an order placing the other
  //   first stays valid with the two swapped), so only that one is tried. Without this, many
  //   concurrent writes nobody reads would be tried in every subset.
  // - What they need and the register lacks: an unknown operation is only worth placing if it
  //   provides that.
  const V = ids.size + 2;
  const retTime = new Float64Array(n).fill(Infinity);
  for (const ev of evs) if (!ev.call) retTime[ev.op] = ev.time;
  const needed = new Int32Array(V);
  let stamp = 0; // needed[v] === stamp: some callable operation needs value v
  let hide = false; // some callable failed cas needs the current value gone
  let levelKnown = false;
  const firstOfKind = new Map<number, number>();
  // A failed cas's new value plays no part.
  const effect = (o: number) => (kind[o] * V + a[o]) * V + (kind[o] === CAS_FAILED || kind[o] === READ || kind[o] === WRITE ? 0 : b[o]);
  const survey = () => {
    stamp++;
    hide = false;
    levelKnown = true;
    firstOfKind.clear();
    for (let x = next[0]; x !== -1 && isCall[x]; x = next[x]) {
      const o = opOf[x];
      const k = effect(o);
      const rep = firstOfKind.get(k);
      if (rep === undefined || (kind[o] < WRITE_UNKNOWN && retTime[o] < retTime[opOf[rep]])) firstOfKind.set(k, x);
      switch (kind[o]) {
        case READ:
        case CAS_OK:
          if (state !== a[o]) needed[a[o]] = stamp;
          break;
        case CAS_FAILED:
          if (state === a[o]) hide = true;
          break;
        case CAS_UNKNOWN: // a chain: this one may need another unknown one first
          if (state !== a[o]) needed[a[o]] = stamp;
          break;
      }
    }
  };
  const stForced = new Uint8Array(n);
  /** Places the operation of call entry `e`; false if that configuration was explored before. */
  const place = (e: number, ns: number, nc: number, forced: boolean): boolean => {
    const o = opOf[e];
    const nh1 = h1 ^ z1[o];
    const nh2 = h2 ^ z2[o];
    bits[o >>> 5] |= 1 << (o & 31);
    if (!remember(nh1, nh2, ns, nc)) {
      bits[o >>> 5] &= ~(1 << (o & 31));
      return false;
    }
    stEntry[sp] = e;
    stState[sp] = state;
    stCons[sp] = cons;
    stForced[sp] = forced ? 1 : 0;
    sp++;
    state = ns;
    cons = nc;
    h1 = nh1;
    h2 = nh2;
    lift(e);
    if (kind[o] < WRITE_UNKNOWN) requiredLeft--;
    levelKnown = false;
    return true;
  };
  let e = next[0];
  // At a new level, a callable observer (read, failed cas) that holds in the current value is
  // placed at once, with no alternative tried: moving an observer earlier, to where it holds,
  // never breaks an order (it changes nothing, and being callable it returns after every
  // pending call). This is what keeps reads of the current value from being tried after
  // every combination of concurrent writes.
  let fresh = true;
  for (;;) {
    if (requiredLeft === 0) return { verdict: 'ok', steps };
    if (++steps > maxSteps) return { verdict: 'unknown', steps, reason: `more than ${maxSteps} search steps` };
    if ((steps & 4095) === 1 && performance.now() > deadline) return { verdict: 'unknown', steps, reason: 'out of time' };
    if (fresh) {
      fresh = false;
      let forced = -1;
      for (let x = next[0]; x !== -1 && isCall[x]; x = next[x]) {
        const o = opOf[x];
        const k = kind[o];
        if (((k === READ && state === a[o]) || (k === CAS_FAILED && state !== a[o])) && (cons === NO_CONSTRAINT || dependsOn(k, a[o], cons))) {
          forced = x;
          break;
        }
      }
      if (forced !== -1) {
        if (place(forced, state, NO_CONSTRAINT, true)) {
          fresh = true;
          e = next[0];
        } else e = -1; // explored before, and it failed: so does this level
        continue;
      }
    }
    if (e !== -1 && isCall[e]) {
      const o = opOf[e];
      let ok: boolean;
      let ns: number;
      switch (kind[o]) {
        case READ:
          ok = state === a[o];
          ns = state;
          break;
        case WRITE:
          ok = true;
          ns = a[o];
          break;
        case CAS_OK:
          ok = state === a[o];
          ns = b[o];
          break;
        case CAS_FAILED:
          ok = state !== a[o];
          ns = state;
          break;
        case WRITE_UNKNOWN:
          ns = a[o];
          ok = ns !== state; // one that changes nothing is never needed
          break;
        default: // CAS_UNKNOWN
          ok = state === a[o] && b[o] !== state;
          ns = ok ? b[o] : state;
      }
      if (ok) {
        if (!levelKnown) survey();
        if (firstOfKind.get(effect(o)) !== e) ok = false;
        else if (kind[o] >= WRITE_UNKNOWN && cons === NO_CONSTRAINT) ok = hide || needed[ns] === stamp;
      }
      if (ok && cons !== NO_CONSTRAINT) ok = dependsOn(kind[o], a[o], cons);
      if (ok && place(e, ns, kind[o] >= WRITE_UNKNOWN ? state : NO_CONSTRAINT, false)) {
        fresh = true;
        e = next[0];
        continue;
      }
      e = next[e];
    } else {
      // A return whose operation could not be placed (or the list's end): backtrack.
      if (sp === 0) return { verdict: 'violation', steps };
      sp--;
      const ce = stEntry[sp];
      const o = opOf[ce];
      state = stState[sp];
      cons = stCons[sp];
      h1 ^= z1[o];
      h2 ^= z2[o];
      bits[o >>> 5] &= ~(1 << (o & 31));
      unlift(ce);
      if (kind[o] < WRITE_UNKNOWN) requiredLeft++;
      levelKnown = false;
      // A forced placement had no alternative: its level fails with it.
      e = stForced[sp] ? -1 : next[ce];
    }
  }
}

/**
 * May this operation come right after an unknown one that found the register holding `before`?
 * Only if it could not have come without it (it needs the value the unknown one wrote);
 * otherwise the unknown operation can be dropped or moved later, and that order is searched too.
 */
function dependsOn(k: number, a: number, before: number): boolean {
  switch (k) {
    case READ:
    case CAS_OK:
    case CAS_UNKNOWN:
      return before !== a;
    case CAS_FAILED:
      return before === a;
    default: // a write makes the unknown one before it irrelevant
      return false;
  }
}

function xorshift(seed: number): () => number {
  let x = seed | 0 || 1;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return x | 0;
  };
}

// ------------------------------------------------------------------ shrinking

/** Operations whose only effect is to observe: removing one never makes a history unorderable. */
function observerOnly(op: Op): boolean {
  return op.type === 'read' || (op.type === 'cas' && op.outcome === 'ok' && !op.succeeded);
}

/** The value an operation needs to find (a read's result, a successful cas's expected one). */
function observed(op: Op): string | null | undefined {
  if (op.outcome !== 'ok') return undefined;
  if (op.type === 'read') return op.value;
  if (op.type === 'cas' && op.succeeded) return op.expected;
  return undefined;
}

/** The value it may write (writes and cas, unless known to have failed the compare). */
function written(op: Op): string | undefined {
  if (op.type === 'read' || (op.type === 'cas' && op.outcome === 'ok' && !op.succeeded)) return undefined;
  return op.value;
}

/**
 * `cur` without `remove`, or null if that removal could turn an orderable history into one
 * that is not (the shrunk set must fail for the history's own reasons). Safe removals:
 * observers (reads, failed cas) always; a writer once nothing left observes its value and no
 * failed cas left could come after it (that cas might have needed it to fail).
 */
function removeSet(cur: readonly Op[], remove: ReadonlySet<Op>): Op[] | null {
  const observers = new Map<string | null, number>();
  let lastFailedCas = -Infinity;
  for (const op of cur) {
    if (remove.has(op) && observerOnly(op)) continue;
    const v = observed(op);
    if (v !== undefined) observers.set(v, (observers.get(v) ?? 0) + 1);
    if (op.type === 'cas' && op.outcome === 'ok' && !op.succeeded) lastFailedCas = Math.max(lastFailedCas, op.complete!);
  }
  const writers = [...remove].filter((op) => !observerOnly(op));
  let left = writers.length;
  const gone = new Set<Op>();
  for (let progress = true; progress && left > 0; ) {
    progress = false;
    for (const w of writers) {
      if (gone.has(w)) continue;
      const self = observed(w) === written(w) ? 1 : 0; // a cas v→v observes what it writes
      if ((observers.get(written(w)!) ?? 0) > self || lastFailedCas >= w.invoke) continue;
      gone.add(w);
      left--;
      progress = true;
      const v = observed(w);
      if (v !== undefined) observers.set(v, observers.get(v)! - 1);
    }
  }
  if (left > 0) return null;
  return cur.filter((op) => !remove.has(op));
}

/** Delta debugging down to a set where no single safe removal keeps the violation. */
function shrink(ops: readonly Op[], maxSteps: number, deadline: number): { ops: Op[]; minimal: boolean } {
  let cur = sortOps(ops);
  const fails = (set: Op[]) => search(set, maxSteps, deadline).verdict === 'violation';
  let chunk = Math.max(1, Math.ceil(cur.length / 2));
  for (;;) {
    let removed = false;
    for (let i = 0; i < cur.length; ) {
      if (performance.now() > deadline) return { ops: cur, minimal: false };
      const candidate = removeSet(cur, new Set(cur.slice(i, i + chunk)));
      if (candidate && fails(candidate)) {
        cur = candidate;
        removed = true;
      } else i += chunk;
    }
    if (chunk > 1) chunk = Math.max(1, Math.floor(chunk / 2));
    else if (!removed) return { ops: cur, minimal: true };
  }
}

// ------------------------------------------------------------------ explanations

function at(op: Op, other?: number): string {
  return `${describeOp(op)} at ${t(op.invoke, other)}`;
}

/** A time in seconds, with a third decimal when two decimals would not tell it from `other`. */
function t(ms: number, other?: number): string {
  if (other === undefined || formatTime(ms) !== formatTime(other) || ms === other) return formatTime(ms);
  return `${(ms / 1000).toFixed(3)} s`;
}

function returnedText(op: Op, v: string | null): string {
  return op.type === 'read' ? `returned ${formatValue(v)}` : `succeeded from ${formatValue(v)}`;
}

/** One sentence on why `ops` (a shrunk set on one key) cannot be ordered. */
export function explain(key: string, ops: readonly Op[]): string {
  const writersOf = (v: string | null) => ops.filter((w) => written(w) === v);
  const end = (op: Op) => (op.outcome === 'ok' ? op.complete! : Infinity);
  const observers = ops.filter((o) => observed(o) !== undefined);

  // A value nobody wrote.
  for (const o of observers) {
    const v = observed(o)!;
    if (v !== null && writersOf(v).length === 0) {
      return o.type === 'read'
        ? `${at(o)} returned ${v}, a value no operation wrote`
        : `${at(o)} succeeded, but no operation ever wrote ${v}`;
    }
  }
  // Two swaps from one value that was only there once.
  const casFrom = new Map<string, Op[]>();
  for (const o of ops) {
    if (o.type === 'cas' && o.outcome === 'ok' && o.succeeded && o.value !== o.expected) {
      casFrom.set(o.expected, [...(casFrom.get(o.expected) ?? []), o]);
    }
  }
  for (const [v, list] of casFrom) {
    if (list.length >= 2 && writersOf(v).length < list.length) {
      const [c1, c2] = list;
      const times = writersOf(v).length === 1 ? 'only once' : writersOf(v).length === 0 ? 'never' : `only ${writersOf(v).length} times`;
      return `${at(c1)} and ${at(c2)} both succeeded, but ${key} was set to ${v} ${times}`;
    }
  }
  // A value seen before anyone began to write it.
  for (const o of observers) {
    const v = observed(o)!;
    if (v === null) continue;
    const ws = writersOf(v);
    if (ws.length > 0 && ws.every((w) => w.invoke > end(o))) {
      const first = ws.reduce((x, y) => (y.invoke < x.invoke ? y : x));
      return `${at(o)} ${returnedText(o, v)} and completed at ${t(end(o), first.invoke)}, before ${describeOp(first)} began at ${t(first.invoke, end(o))}`;
    }
  }
  // A stale value: overwritten before the observer began, and not written again since.
  for (const o of observers) {
    const v = observed(o)!;
    const later = ops.filter((w) => w.outcome === 'ok' && written(w) !== undefined && written(w) !== v && end(w) < o.invoke);
    for (const w of later.sort((x, y) => end(y) - end(x))) {
      if (writersOf(v).every((x) => end(x) < w.invoke)) {
        const tail = v === null ? '' : ` and nothing wrote ${v} after`;
        return `${at(o, end(w))} ${returnedText(o, v)}, but ${describeOp(w)} completed at ${t(end(w), o.invoke)} before it began${tail}`;
      }
    }
  }
  // A compare that failed although the value was there.
  for (const c of ops) {
    if (c.type !== 'cas' || c.outcome !== 'ok' || c.succeeded) continue;
    for (const w of writersOf(c.expected)) {
      if (w.outcome !== 'ok' || end(w) >= c.invoke) continue;
      const between = ops.filter((x) => x !== w && written(x) !== undefined && written(x) !== c.expected && !(end(x) < w.invoke || x.invoke > end(c)));
      if (between.length === 0) {
        return `${at(c, end(w))} failed its compare, but ${describeOp(w)} completed at ${t(end(w), c.invoke)} before it began and nothing else wrote ${key} in between`;
      }
    }
  }
  return `these ${ops.length} operations on ${key} cannot be put in one order that respects both real time and what each of them returned`;
}
