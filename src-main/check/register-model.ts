// The model the checker holds a history to: one register per key (absent = null; read, write,
// compare-and-swap), seen two ways. On the history's own operations: what each needs to find and
// what it may write, which the shrinker (shrink.ts) and the explanation (explain.ts) reason with.
// And as the search (linearization-search.ts) sees it: each operation as a small integer kind
// with integer values, and one step of the register per kind. Its own module so that what a
// read, a write or a cas means is written once, apart from how orders are searched.

import type { CasOp, Op } from '../../src-shared/history.js';

// ------------------------------------------------------------------ on the history's operations

/** A cas known to have failed its compare: it took effect, and wrote nothing. */
export function isFailedCas(op: Op): op is CasOp {
  return op.type === 'cas' && op.outcome === 'ok' && !op.succeeded;
}

/** Operations whose only effect is to observe: removing one never makes a history unorderable. */
export function observerOnly(op: Op): boolean {
  return op.type === 'read' || isFailedCas(op);
}

/** The value an operation needs to find (a read's result, a successful cas's expected one). */
export function observed(op: Op): string | null | undefined {
  if (op.outcome !== 'ok') return undefined;
  if (op.type === 'read') return op.value;
  if (op.type === 'cas' && op.succeeded) return op.expected;
  return undefined;
}

/**
 * The value an operation needs to find if it took effect: what it observed, and also the
 * expected value of a cas whose outcome is unknown (were it to have swapped, it found that).
 */
export function needs(op: Op): string | null | undefined {
  if (op.type === 'cas' && op.outcome === 'unknown') return op.expected;
  return observed(op);
}

/** The value it may write (writes and cas, unless known to have failed the compare). */
export function written(op: Op): string | undefined {
  if (op.type === 'read' || isFailedCas(op)) return undefined;
  return op.value;
}

// ------------------------------------------------------------------ as the search sees them

// Operation kinds (values are small integers; 0 is absent).
export const READ = 0;
export const WRITE = 1;
export const CAS_OK = 2; // compare held, wrote
export const CAS_FAILED = 3; // compare failed, wrote nothing
export const WRITE_UNKNOWN = 4; // kinds from here on are unknown outcomes: kind >= WRITE_UNKNOWN
export const CAS_UNKNOWN = 5;
/** No unknown operation was just placed: the next one need not depend on it (dependsOn). */
export const NO_CONSTRAINT = -1;
/** Every value that no read returned and no cas compared against: no operation tells them apart. */
const ANON = 1;

/** One key's operations, encoded. */
export interface EncodedOps {
  kind: Uint8Array;
  /** read: value; write: value; cas: expected. */
  a: Int32Array;
  /** cas: new value. */
  b: Int32Array;
  /** Distinct values: every value is below this. */
  values: number;
  /** Operations that must be placed (the ok ones). */
  required: number;
}

export function encodeOps(ops: readonly Op[]): EncodedOps {
  const n = ops.length;
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
  const a = new Int32Array(n);
  const b = new Int32Array(n);
  let required = 0;
  ops.forEach((op, i) => {
    const known = op.outcome === 'ok';
    if (known) required++;
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
  });
  return { kind, a, b, values: ids.size + 2, required };
}

/**
 * The register's value after operation (k, a, b) takes effect in `state`, or -1 when it cannot
 * take effect there. An unknown operation that would change nothing is never needed: -1 too.
 */
export function step(k: number, a: number, b: number, state: number): number {
  switch (k) {
    case READ:
      return state === a ? state : -1;
    case WRITE:
      return a;
    case CAS_OK:
      return state === a ? b : -1;
    case CAS_FAILED:
      return state !== a ? state : -1;
    case WRITE_UNKNOWN:
      return a !== state ? a : -1;
    default: // CAS_UNKNOWN
      return state === a && b !== state ? b : -1;
  }
}

/** An observer (read, failed cas) that holds in `state`: placing it there changes nothing. */
export function observerHolds(k: number, a: number, state: number): boolean {
  return (k === READ && state === a) || (k === CAS_FAILED && state !== a);
}

/** Operations with the same effect on the register (same kind and values) share this number; a failed cas's new value plays no part. */
export function effectOf(k: number, a: number, b: number, values: number): number {
  return (k * values + a) * values + (k === CAS_FAILED || k === READ || k === WRITE ? 0 : b);
}

/**
 * May this operation come right after an unknown one that found the register holding `before`?
 * Only if it could not have come without it (it needs the value the unknown one wrote);
 * otherwise the unknown operation can be dropped or moved later, and that order is searched too.
 */
export function dependsOn(k: number, a: number, before: number): boolean {
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
