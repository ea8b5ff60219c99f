// A linearizability checker for key-value register histories (src-shared/history.ts), in the
// manner of Porcupine and Knossos. This module is its entry (checkLinearizability and the
// shapes of its answer); its parts:
//   register-model.ts             what a read, write or cas means, and the search's encoding of them
//   linearization-search.ts       Wing & Gong's search with Lowe's just-in-time linearization, per key
//   event-list.ts                 its time-ordered list of call and return events
//   explored-configurations.ts    its memory of configurations that failed
//   shrink.ts                     a violation shrunk to a minimal set (delta debugging)
//   explain.ts                    the one sentence on why that set cannot be ordered
//
// - Per-key partitioning: linearizability is local (Herlihy & Wing), so each key's operations
//   are checked on their own, against a single register (absent = null, write, cas, read).
// - Unknown outcomes (timeouts, resets after sending): the operation may take effect at any time
//   after its call, or never; values nobody reads or compares against are merged into one. The
//   search's cuts that keep many concurrent clients on one key cheap are described in
//   linearization-search.ts.
// - Failed operations never took effect and are left out; so are reads that did not complete.
// - A step budget and a deadline turn a search that would take too long into 'unknown'.
//
// A violation comes with a minimal set of operations that cannot be ordered, found by shrinking
// the key's history with removals that can never create a violation of their own (shrink.ts),
// and a one-sentence explanation of why (explain.ts).

import type { Op } from '../../src-shared/history.js';
import { explain } from './explain.js';
import { search, type Verdict } from './linearization-search.js';
import { shrink, sortOps } from './shrink.js';

export { explain } from './explain.js';
export type { Verdict } from './linearization-search.js';

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
      const shrunk = opts.shrink
        ? shrink(list, opts.maxSteps, performance.now() + opts.shrinkTimeoutMs)
        : { ops: sortOps(list), minimal: false };
      violations.push({
        key,
        ops: shrunk.ops,
        explanation: explain(key, shrunk.ops, shrunk.minimal),
        minimal: shrunk.minimal,
      });
    }
  }
  const verdict: Verdict =
    violations.length > 0 ? 'violation' : keys.some((k) => k.verdict === 'unknown') ? 'unknown' : 'ok';
  return { verdict, violations, keys, steps, ms: performance.now() - t0 };
}

function validate(op: Op): void {
  const where = `operation #${op.id} (${op.type} ${op.key})`;
  if (!Number.isFinite(op.invoke)) throw new Error(`${where}: invoke must be a finite time`);
  if (op.outcome === 'unknown') return;
  if (op.complete === undefined || !Number.isFinite(op.complete))
    throw new Error(`${where}: a ${op.outcome} operation needs its complete time`);
  if (op.complete < op.invoke) throw new Error(`${where}: completes before it is invoked`);
  if (op.outcome === 'ok' && op.type === 'read' && op.value === undefined)
    throw new Error(`${where}: an ok read needs its value (null: absent)`);
  if (op.outcome === 'ok' && op.type === 'cas' && typeof op.succeeded !== 'boolean')
    throw new Error(`${where}: an ok cas needs succeeded`);
}

/** Operations that constrain the search: failed ones never took effect, unfinished reads say nothing. */
function relevant(op: Op): boolean {
  if (op.outcome === 'fail') return false;
  if (op.type === 'read' && op.outcome !== 'ok') return false;
  return true;
}
