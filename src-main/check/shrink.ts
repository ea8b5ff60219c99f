// Shrinking a violation to a minimal set of operations that cannot be ordered: delta debugging
// over the key's history, with removals that can never create a violation of their own (see
// `removeSet`), so the set left fails for the history's own reasons. Each candidate is checked
// by the search itself (linearization-search.ts).

import type { Op } from '../../src-shared/history.js';
import { search } from './linearization-search.js';
import { isFailedCas, needs, observerOnly, written } from './register-model.js';

/** By invoke time (then id): the order a violation's operations are shown in. */
export function sortOps(ops: readonly Op[]): Op[] {
  return [...ops].sort((a, b) => a.invoke - b.invoke || a.id - b.id);
}

/**
 * `cur` without `remove`, or null if that removal could turn an orderable history into one
 * that is not (the shrunk set must fail for the history's own reasons). Safe removals:
 * observers (reads, failed cas) always; a writer once nothing left needs its value (an
 * observer, or a cas of unknown outcome that may have swapped from it) and no failed cas left
 * could come after it (that cas might have needed it to fail).
 */
function removeSet(cur: readonly Op[], remove: ReadonlySet<Op>): Op[] | null {
  const observers = new Map<string | null, number>();
  let lastFailedCas = -Infinity;
  for (const op of cur) {
    if (remove.has(op) && observerOnly(op)) continue;
    const v = needs(op);
    if (v !== undefined) observers.set(v, (observers.get(v) ?? 0) + 1);
    if (isFailedCas(op)) lastFailedCas = Math.max(lastFailedCas, op.complete!);
  }
  const writers = [...remove].filter((op) => !observerOnly(op));
  let left = writers.length;
  const gone = new Set<Op>();
  for (let progress = true; progress && left > 0;) {
    progress = false;
    for (const w of writers) {
      if (gone.has(w)) continue;
      const self = needs(w) === written(w) ? 1 : 0; // a cas v→v needs what it writes
      if ((observers.get(written(w)!) ?? 0) > self || lastFailedCas >= w.invoke) continue;
      gone.add(w);
      left--;
      progress = true;
      const v = needs(w);
      if (v !== undefined) observers.set(v, observers.get(v)! - 1);
    }
  }
  if (left > 0) return null;
  return cur.filter((op) => !remove.has(op));
}

/** Delta debugging down to a set where no single safe removal keeps the violation. */
export function shrink(ops: readonly Op[], maxSteps: number, deadline: number): { ops: Op[]; minimal: boolean } {
  let cur = sortOps(ops);
  const fails = (set: Op[]) => search(set, maxSteps, deadline).verdict === 'violation';
  let chunk = Math.max(1, Math.ceil(cur.length / 2));
  for (;;) {
    let removed = false;
    for (let i = 0; i < cur.length;) {
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
