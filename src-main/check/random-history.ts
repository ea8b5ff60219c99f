// Linearizable histories by construction, for testing and benchmarking the checker: clients
// run one operation at a time with random latencies; each operation that takes effect does so
// at a random instant within its interval (an unknown one possibly after its client gave up),
// and a sequential register executed in the order of those instants decides what reads return
// and whether compare-and-swaps succeed.

import type { Op, OpOutcome } from '../../src-shared/history.js';
import { byTimeThenSeq, MinHeap } from '../util/heap.js';
import { seededRandom } from '../util/rng.js';

export interface RandomHistoryOptions {
  seed: number;
  ops: number;
  /** Keys "/k0".. (default 3). */
  keys?: number;
  /** Concurrent clients (default 8). */
  clients?: number;
  /** Share of operations whose outcome is unknown (default 0.03); half of them take effect. */
  unknownRate?: number;
  /** Share of writes and cas that fail outright (default 0.02). */
  failRate?: number;
  /** Relative weights of reads, writes and cas (default 5 : 3 : 2). */
  mix?: { read: number; write: number; cas: number };
  /** Latency range, ms (default 1..20). */
  latencyMs?: [number, number];
}

export function randomHistory(o: RandomHistoryOptions): Op[] {
  const rng = seededRandom(o.seed);
  const nKeys = o.keys ?? 3;
  const nClients = o.clients ?? 8;
  const unknownRate = o.unknownRate ?? 0.03;
  const failRate = o.failRate ?? 0.02;
  const mix = o.mix ?? { read: 5, write: 3, cas: 2 };
  const [lo, hi] = o.latencyMs ?? [1, 20];
  const keys = Array.from({ length: nKeys }, (_, i) => `/k${i}`);
  const state = new Map<string, string | null>();
  // What each client last saw of each key: a cas expects it, as a real client's would.
  const seen = Array.from({ length: nClients }, () => new Map<string, string | null>());
  // Events carry a client number c < nClients, so its map is always there.
  const seenBy = (c: number) => seen[c]!;
  const ops: Op[] = [];
  // Events in time order: a client's next call, an operation taking effect, an answer.
  type Ev = { time: number; seq: number } & (
    { t: 'call'; c: number } | { t: 'effect'; op: Op } | { t: 'answer'; op: Op; c: number }
  );
  const heap = new MinHeap<Ev>(byTimeThenSeq);
  let seq = 0;
  for (let c = 0; c < nClients; c++) heap.push({ time: rng() * 5, seq: seq++, t: 'call', c });
  let issued = 0;
  for (let ev = heap.pop(); ev !== undefined; ev = heap.pop()) {
    if (ev.t === 'call') {
      if (issued >= o.ops) continue;
      const c = ev.c;
      const invoke = ev.time;
      const dur = lo + rng() * (hi - lo);
      const key = rng.pick(keys);
      const roll = rng();
      const outcome: OpOutcome = roll < unknownRate ? 'unknown' : 'ok';
      const base: {
        id: number;
        client: string;
        node: string;
        key: string;
        invoke: number;
        complete: number;
        outcome: OpOutcome;
      } = {
        id: 0,
        client: `c${c + 1}`,
        node: `n${1 + (c % 3)}`,
        key,
        invoke,
        complete: invoke + dur,
        outcome,
      };
      const value = String(++issued);
      const r = rng() * (mix.read + mix.write + mix.cas);
      let op: Op;
      if (r < mix.read) op = { ...base, type: 'read' };
      else {
        // Writes and cas may fail outright (refused before anything was proposed).
        if (outcome === 'ok' && roll < unknownRate + failRate) base.outcome = 'fail';
        if (r < mix.read + mix.write) op = { ...base, type: 'write', value };
        else op = { ...base, type: 'cas', expected: seenBy(c).get(key) ?? `never-${value}`, value };
      }
      ops.push(op);
      // An ok operation takes effect within its interval; an unknown one half the time,
      // possibly after its client gave up; a failed one never.
      if (op.outcome === 'ok') heap.push({ time: invoke + rng() * dur, seq: seq++, t: 'effect', op });
      else if (op.outcome === 'unknown' && rng.chance(0.5))
        heap.push({ time: invoke + rng() * 3 * dur, seq: seq++, t: 'effect', op });
      heap.push({ time: invoke + dur, seq: seq++, t: 'answer', op, c });
    } else if (ev.t === 'effect') {
      const op = ev.op;
      const cur = state.get(op.key) ?? null;
      if (op.type === 'read') op.value = cur;
      else if (op.type === 'write') state.set(op.key, op.value);
      else {
        const swapped = cur === op.expected;
        if (swapped) state.set(op.key, op.value);
        if (op.outcome === 'ok') op.succeeded = swapped;
      }
    } else {
      const { op, c } = ev;
      if (op.outcome === 'ok') {
        if (op.type === 'read') seenBy(c).set(op.key, op.value ?? null);
        else if (op.type === 'write' || op.succeeded) seenBy(c).set(op.key, op.value);
      }
      heap.push({ time: ev.time + rng() * 2, seq: seq++, t: 'call', c });
    }
  }
  ops.sort((x, y) => x.invoke - y.invoke);
  ops.forEach((op, i) => (op.id = i + 1));
  return ops;
}
