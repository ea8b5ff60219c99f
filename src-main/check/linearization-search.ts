// The search for a linearization of one key's operations: Wing & Gong's search with Lowe's
// just-in-time linearization, over the register model (register-model.ts). The operations' call
// and return events sit in one time-ordered linked list (event-list.ts); the search linearizes any
// operation whose call comes before the first pending return, and backtracks when it reaches a
// return whose operation it could not place. Configurations already explored are remembered
// (explored-configurations.ts). The cuts that keep it cheap, none of which loses an order:
// - Unknown outcomes have no return event, and the search is done once every ok operation is
//   placed. An unknown operation is only placed right before an operation that needs it (one
//   that could not be placed in the register's previous value): any linearization can be
//   rewritten into that form, since an unknown operation can always be moved later (its return is
//   at infinity) or dropped (when the next operation would overwrite it anyway). See `dependsOn`.
// - A callable read (or failed cas) that holds in the current value is placed at once, with no
//   alternative (see `fresh`); of callable operations with the same effect only one is tried
//   (see `survey`).
// - A step budget and a deadline turn a search that would take too long into 'unknown'.

import type { Op } from '../../src-shared/history.js';
import { EventList } from './event-list.js';
import { ExploredConfigurations } from './explored-configurations.js';
import {
  CAS_FAILED,
  CAS_OK,
  CAS_UNKNOWN,
  dependsOn,
  effectOf,
  encodeOps,
  NO_CONSTRAINT,
  observerHolds,
  READ,
  step,
  WRITE_UNKNOWN,
} from './register-model.js';

/** ok: a linearization exists; violation: none does; unknown: the budget ran out first. */
export type Verdict = 'ok' | 'violation' | 'unknown';

export interface SearchResult {
  verdict: Verdict;
  steps: number;
  reason?: string;
}

/** Wing & Gong / Lowe on one key's relevant operations. */
export function search(ops: readonly Op[], maxSteps: number, deadline: number): SearchResult {
  const n = ops.length;
  if (n === 0) return { verdict: 'ok', steps: 0 };
  const { kind, a, b, values: V, required } = encodeOps(ops);
  let requiredLeft = required;
  const events = new EventList(ops);
  const { next, isCall, opOf, retTime } = events;
  const explored = new ExploredConfigurations(n);

  // The stack of placed operations: their call entry, and what to restore on backtracking.
  const stEntry = new Int32Array(n);
  const stState = new Int32Array(n);
  const stCons = new Int32Array(n);
  const stForced = new Uint8Array(n);
  let sp = 0;
  let state = 0;
  // After an unknown operation: the register's value before it (the next one must need it).
  let cons = NO_CONSTRAINT;
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
  const needed = new Int32Array(V);
  let stamp = 0; // needed[v] === stamp: some callable operation needs value v
  let hide = false; // some callable failed cas needs the current value gone
  let levelKnown = false;
  const firstOfKind = new Map<number, number>();
  // Every index below is an entry of the event list (< its length, -1 checked first) or an
  // operation number (< n), which the typed arrays are sized for: the `!`s cannot be undefined.
  const effect = (o: number) => effectOf(kind[o]!, a[o]!, b[o]!, V);
  const survey = () => {
    stamp++;
    hide = false;
    levelKnown = true;
    firstOfKind.clear();
    for (let x = next[0]!; x !== -1 && isCall[x]; x = next[x]!) {
      const o = opOf[x]!;
      const k = effect(o);
      const rep = firstOfKind.get(k);
      if (rep === undefined || (kind[o]! < WRITE_UNKNOWN && retTime[o]! < retTime[opOf[rep]!]!)) firstOfKind.set(k, x);
      const ao = a[o]!;
      switch (kind[o]) {
        case READ:
        case CAS_OK:
          if (state !== ao) needed[ao] = stamp;
          break;
        case CAS_FAILED:
          if (state === ao) hide = true;
          break;
        case CAS_UNKNOWN: // a chain: this one may need another unknown one first
          if (state !== ao) needed[ao] = stamp;
          break;
      }
    }
  };
  /** Places the operation of call entry `e`; false if that configuration was explored before. */
  const place = (e: number, ns: number, nc: number, forced: boolean): boolean => {
    const o = opOf[e]!;
    explored.add(o);
    if (!explored.remember(ns, nc)) {
      explored.remove(o);
      return false;
    }
    stEntry[sp] = e;
    stState[sp] = state;
    stCons[sp] = cons;
    stForced[sp] = forced ? 1 : 0;
    sp++;
    state = ns;
    cons = nc;
    events.lift(e);
    if (kind[o]! < WRITE_UNKNOWN) requiredLeft--;
    levelKnown = false;
    return true;
  };
  let e = next[0]!;
  // At a new level, a callable observer (read, failed cas) that holds in the current value is
  // placed at once, with no alternative tried: moving an observer earlier, to where it holds,
  // never breaks an order (it changes nothing, and being callable it returns after every
  // pending call). This is what keeps reads of the current value from being tried after
  // every combination of concurrent writes.
  let fresh = true;
  for (;;) {
    if (requiredLeft === 0) return { verdict: 'ok', steps };
    if (++steps > maxSteps) return { verdict: 'unknown', steps, reason: `more than ${maxSteps} search steps` };
    if ((steps & 4095) === 1 && performance.now() > deadline)
      return { verdict: 'unknown', steps, reason: 'out of time' };
    if (fresh) {
      fresh = false;
      let forced = -1;
      for (let x = next[0]!; x !== -1 && isCall[x]; x = next[x]!) {
        const o = opOf[x]!;
        if (observerHolds(kind[o]!, a[o]!, state) && (cons === NO_CONSTRAINT || dependsOn(kind[o]!, a[o]!, cons))) {
          forced = x;
          break;
        }
      }
      if (forced !== -1) {
        if (place(forced, state, NO_CONSTRAINT, true)) {
          fresh = true;
          e = next[0]!;
        } else e = -1; // explored before, and it failed: so does this level
        continue;
      }
    }
    if (e !== -1 && isCall[e]) {
      const o = opOf[e]!;
      const ko = kind[o]!;
      const ns = step(ko, a[o]!, b[o]!, state);
      let ok = ns !== -1;
      if (ok) {
        if (!levelKnown) survey();
        if (firstOfKind.get(effect(o)) !== e) ok = false;
        else if (ko >= WRITE_UNKNOWN && cons === NO_CONSTRAINT) ok = hide || needed[ns] === stamp;
      }
      if (ok && cons !== NO_CONSTRAINT) ok = dependsOn(ko, a[o]!, cons);
      if (ok && place(e, ns, ko >= WRITE_UNKNOWN ? state : NO_CONSTRAINT, false)) {
        fresh = true;
        e = next[0]!;
        continue;
      }
      e = next[e]!;
    } else {
      // A return whose operation could not be placed (or the list's end): backtrack.
      if (sp === 0) return { verdict: 'violation', steps };
      sp--;
      const ce = stEntry[sp]!;
      const o = opOf[ce]!;
      state = stState[sp]!;
      cons = stCons[sp]!;
      explored.remove(o);
      events.unlift(ce);
      if (kind[o]! < WRITE_UNKNOWN) requiredLeft++;
      levelKnown = false;
      // A forced placement had no alternative: its level fails with it.
      e = stForced[sp] ? -1 : next[ce]!;
    }
  }
}
