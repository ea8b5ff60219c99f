// One sentence on why a shrunk set of operations on one key cannot be ordered, for the person
// reading a chaos report: the classic anomalies (a value nobody wrote, two swaps from a value
// that was there once, a value seen before it was written, a stale value (after a write, or after
// a read of another value), a compare that failed although the value was there), tried in that
// order, else the last observer of a minimal set, else a general sentence. Apart from the
// search because it reasons about the operations as people do, with their times.

import { describeOp, formatTime, formatValue, type CasOp, type Op } from '../../src-shared/history.js';
import { isFailedCas, observed, observerOnly, written } from './register-model.js';

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

/**
 * One sentence on why `ops` (a shrunk set on one key) cannot be ordered. `minimal`: the shrinker
 * found that without any one observer the rest can be ordered, so naming one says something.
 */
export function explain(key: string, ops: readonly Op[], minimal = false): string {
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
      const [c1, c2] = list as [Op, Op, ...Op[]]; // length >= 2 just checked
      const times =
        writersOf(v).length === 1
          ? 'only once'
          : writersOf(v).length === 0
            ? 'never'
            : `only ${writersOf(v).length} times`;
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
  // A stale value: another value was there after every write of this one had completed and
  // before the observer began, so nothing could bring it back. Proved by a write, else a read.
  const staleAfter = (
    other: (x: Op, v: string | null) => boolean,
    say: (o: Op, v: string | null, x: Op) => string,
  ): string | undefined => {
    for (const o of observers) {
      const v = observed(o)!;
      const before = ops.filter((x) => other(x, v) && end(x) < o.invoke).sort((x, y) => end(y) - end(x));
      const proof = before.find((x) => writersOf(v).every((w) => end(w) < x.invoke));
      if (proof) return say(o, v, proof);
    }
    return undefined;
  };
  const staleAfterWrite = staleAfter(
    (w, v) => w.outcome === 'ok' && written(w) !== undefined && written(w) !== v,
    (o, v, w) =>
      `${at(o, end(w))} ${returnedText(o, v)}, but ${describeOp(w)} completed at ${t(end(w), o.invoke)} before it began${v === null ? '' : ` and nothing wrote ${v} after`}`,
  );
  if (staleAfterWrite) return staleAfterWrite;
  const staleAfterRead = staleAfter(
    (r, v) => r.type === 'read' && observed(r) !== undefined && observed(r) !== v,
    (o, v, r) =>
      `${at(o, end(r))} ${returnedText(o, v)}, but ${describeOp(r)} returned ${formatValue(observed(r)!)} at ${t(end(r), o.invoke)} before it began${v === null ? '' : ` and every write of ${v} had completed before that read began`}`,
  );
  if (staleAfterRead) return staleAfterRead;
  // A compare that failed although the value was there.
  for (const c of ops) {
    if (!isFailedCas(c)) continue;
    for (const w of writersOf(c.expected)) {
      if (w.outcome !== 'ok' || end(w) >= c.invoke) continue;
      const between = ops.filter(
        (x) =>
          x !== w && written(x) !== undefined && written(x) !== c.expected && !(end(x) < w.invoke || x.invoke > end(c)),
      );
      if (between.length === 0) {
        return `${at(c, end(w))} failed its compare, but ${describeOp(w)} completed at ${t(end(w), c.invoke)} before it began and nothing else wrote ${key} in between`;
      }
    }
  }
  // No classic shape, but in a minimal set the others can be ordered without the last observer:
  // no such order lets it see what it saw, which names the operation to look at.
  const last = ops
    .filter(observerOnly)
    .reduce<Op | undefined>((x, y) => (x && x.invoke >= y.invoke ? x : y), undefined);
  if (minimal && last && ops.length > 1) {
    const others = `no order of the other ${ops.length - 1} operations on ${key} that respects real time and what they returned`;
    return last.type === 'read'
      ? `${at(last)} returned ${formatValue(last.value)}, but ${others} leaves ${formatValue(last.value)} there while it runs`
      : `${at(last)} failed its compare, but ${others} leaves anything but ${formatValue((last as CasOp).expected)} there while it runs`;
  }
  return `these ${ops.length} operations on ${key} cannot be put in one order that respects both real time and what each of them returned`;
}
