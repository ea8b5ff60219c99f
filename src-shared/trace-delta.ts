// Cluster snapshots as keyframes and deltas (trace format v2, docs/trace-format.md). The
// supervisor sends the whole ClusterState ~10 times a second, and nearly all of it repeats
// from one to the next (URLs, data dirs, peers, the 20-entry log tail). A trace keeps a full
// `cluster` snapshot now and then (a keyframe) and, in between, a `cluster-delta`: only what
// changed since the snapshot before. applyClusterDelta rebuilds from the previous state
// exactly the state that was sent, as JSON carries it. Browser-safe (no node imports).

import type { ClusterState, LogEntrySummary, NodeState } from './cluster-state.js';

/** What changed in one node since the previous snapshot. */
export interface NodePatch {
  /** Fields with a new value (any but `name`, which names the node, and `log`). */
  set?: Partial<Omit<NodeState, 'name' | 'log'>>;
  /** Fields that are gone. */
  unset?: string[];
  /** The log tail: a whole new one (an array), or how it moved (a LogPatch). */
  log?: LogEntrySummary[] | LogPatch;
}

/** The new log tail from the previous one: `prev.slice(drop, drop + keep)`, then `add`. */
export interface LogPatch {
  /** Entries gone from the front: the window moved on (or the log was compacted). */
  drop: number;
  /** Entries kept after those; absent: all the rest. Fewer: the ones after were replaced. */
  keep?: number;
  /** Entries appended after the kept ones (new, or replacing those not kept), oldest first. */
  add?: LogEntrySummary[];
}

/**
 * A cluster snapshot as what changed since the previous one (a `cluster` or `cluster-delta`
 * event) in the same trace. It never changes which nodes there are, or their order: that
 * takes a keyframe.
 */
export interface ClusterDeltaEvent {
  type: 'cluster-delta';
  /** Fields of ClusterState but `nodes` with a new value (cuts, step, attached…). */
  set?: Partial<Omit<ClusterState, 'nodes'>>;
  /** Optional fields of ClusterState that are gone (`attached`, `step`). */
  unset?: string[];
  /** The nodes that changed, by name. */
  nodes?: Record<string, NodePatch>;
}

type Obj = Record<string, unknown>;

/** Equal as JSON writes them: a field holding `undefined` is as good as absent. */
export function sameJson(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a)) {
    if (!Array.isArray(b) || a.length !== b.length) return false;
    for (let i = 0; i < a.length; i++) if (!sameJson(a[i], b[i])) return false;
    return true;
  }
  if (Array.isArray(b)) return false;
  const x = a as Obj;
  const y = b as Obj;
  let n = 0;
  for (const k in x) {
    if (x[k] === undefined) continue;
    n++;
    if (!Object.hasOwn(y, k) || !sameJson(x[k], y[k])) return false;
  }
  for (const k in y) if (y[k] !== undefined) n--;
  return n === 0;
}

/** Sets o[k], even for k = "__proto__" (a node named so must stay a plain field). */
function put(o: Obj, k: string, v: unknown): void {
  if (k === '__proto__')
    Object.defineProperty(o, k, { value: v, enumerable: true, writable: true, configurable: true });
  else o[k] = v;
}

/** The fields that differ between two objects, but `skip`: new values and the ones gone. */
function diffFields(prev: Obj, next: Obj, skip: string): { set?: Obj; unset?: string[] } {
  let set: Obj | undefined;
  let unset: string[] | undefined;
  for (const k in next) {
    if (k === skip || next[k] === undefined) continue;
    if (!Object.hasOwn(prev, k) || !sameJson(prev[k], next[k])) put((set ??= {}), k, next[k]);
  }
  for (const k in prev) {
    if (k !== skip && prev[k] !== undefined && (!Object.hasOwn(next, k) || next[k] === undefined))
      (unset ??= []).push(k);
  }
  return { ...(set ? { set } : {}), ...(unset ? { unset } : {}) };
}

/** How the log tail moved, or undefined when it did not. */
export function diffLog(
  prev: readonly LogEntrySummary[],
  next: readonly LogEntrySummary[],
): LogEntrySummary[] | LogPatch | undefined {
  if (next.length === 0) return prev.length === 0 ? undefined : [];
  // Where the new tail starts in the old one: a window only moves forward.
  let drop = 0;
  while (drop < prev.length && !sameJson(prev[drop], next[0])) drop++;
  if (drop === prev.length) return [...next];
  let keep = 1;
  while (drop + keep < prev.length && keep < next.length && sameJson(prev[drop + keep], next[keep])) keep++;
  if (drop === 0 && keep === prev.length && keep === next.length) return undefined;
  const patch: LogPatch = { drop };
  if (drop + keep < prev.length) patch.keep = keep;
  if (keep < next.length) patch.add = next.slice(keep);
  return patch;
}

/**
 * What changed from `prev` to `next`, or undefined when a delta cannot say it: the nodes, or
 * their order, differ. `prev` is best the state as a reader rebuilds it (parsed JSON).
 */
export function diffCluster(prev: ClusterState, next: ClusterState): ClusterDeltaEvent | undefined {
  const n = next.nodes.length;
  if (prev.nodes.length !== n) return undefined;
  // Both have n nodes (just checked): the `!`s below stay in range.
  for (let i = 0; i < n; i++) if (prev.nodes[i]!.name !== next.nodes[i]!.name) return undefined;
  const delta: ClusterDeltaEvent = {
    type: 'cluster-delta',
    ...diffFields(prev as unknown as Obj, next as unknown as Obj, 'nodes'),
  };
  let nodes: Record<string, NodePatch> | undefined;
  for (let i = 0; i < n; i++) {
    const a = prev.nodes[i]!;
    const b = next.nodes[i]!;
    const patch: NodePatch = diffFields(a as unknown as Obj, b as unknown as Obj, 'log');
    const log = diffLog(a.log ?? [], b.log ?? []);
    if (log) patch.log = log;
    if (patch.set || patch.unset || patch.log) put((nodes ??= {}), b.name, patch);
  }
  if (nodes) delta.nodes = nodes;
  return delta;
}

function applyNodePatch(n: NodeState, p: NodePatch): NodeState {
  const out = { ...n } as unknown as Obj;
  if (p.set) for (const k of Object.keys(p.set)) put(out, k, (p.set as Obj)[k]);
  if (p.unset) for (const k of p.unset) delete out[k];
  if (p.log !== undefined) {
    if (Array.isArray(p.log)) out.log = p.log;
    else {
      const kept = n.log.slice(p.log.drop, p.log.keep === undefined ? undefined : p.log.drop + p.log.keep);
      out.log = p.log.add && p.log.add.length > 0 ? kept.concat(p.log.add) : kept;
    }
  }
  return out as unknown as NodeState;
}

/**
 * The state a delta leads to from the state before it. `prev` is not changed: the result
 * shares whatever did not change with it (and shares the delta's own values), so neither is
 * to be mutated afterwards.
 */
export function applyClusterDelta(prev: ClusterState, d: ClusterDeltaEvent): ClusterState {
  const out = { ...prev } as unknown as Obj;
  if (d.set) for (const k of Object.keys(d.set)) if (k !== 'nodes') put(out, k, (d.set as Obj)[k]);
  if (d.unset) for (const k of d.unset) if (k !== 'nodes') delete out[k];
  const patches = d.nodes;
  if (patches)
    out.nodes = prev.nodes.map((n) => (Object.hasOwn(patches, n.name) ? applyNodePatch(n, patches[n.name]!) : n));
  return out as unknown as ClusterState;
}

// ------------------------------------------------------------------ the writer's side

export interface KeyframePolicy {
  /** Longest time (ms of records' `at`) from one keyframe to the next (default 5000). */
  keyframeMs?: number;
  /** A keyframe at least every this many snapshots (default 100): bounds a seek's work. */
  keyframeEvery?: number;
}

export type EncodedCluster = { type: 'cluster'; cluster: ClusterState } | ClusterDeltaEvent;

/**
 * Chooses, snapshot by snapshot, what a trace keeps: a keyframe (the first snapshot; the first
 * of a new cluster generation or session folder; one every keyframeMs or keyframeEvery; one
 * whenever the nodes change or a delta would not be much smaller) or a delta from the previous
 * snapshot. It diffs against the state as a reader will rebuild it, so what it writes replays
 * exactly, whatever the caller does with its objects afterwards.
 */
export class ClusterEncoder {
  /** The last snapshot as a reader rebuilds it: parsed from the JSON written. */
  private prev: ClusterState | undefined;
  private keyAt = -Infinity;
  private sinceKey = 0;
  private keyBytes = 0;
  private readonly keyframeMs: number;
  private readonly keyframeEvery: number;

  constructor(policy: KeyframePolicy = {}) {
    this.keyframeMs = policy.keyframeMs ?? 5000;
    this.keyframeEvery = policy.keyframeEvery ?? 100;
  }

  /** What to record for `cluster`, shown at `at` (ms, as records' `at`). */
  encode(cluster: ClusterState, at: number): EncodedCluster {
    const p = this.prev;
    if (
      p &&
      p.generation === cluster.generation &&
      p.dir === cluster.dir &&
      at - this.keyAt < this.keyframeMs &&
      this.sinceKey + 1 < this.keyframeEvery
    ) {
      const d = diffCluster(p, cluster);
      if (d) {
        const json = JSON.stringify(d);
        if (json.length * 2 < this.keyBytes) {
          this.follow(JSON.parse(json) as ClusterDeltaEvent);
          return d;
        }
      }
    }
    const json = JSON.stringify(cluster);
    this.prev = JSON.parse(json) as ClusterState;
    this.keyAt = at;
    this.sinceKey = 0;
    this.keyBytes = json.length;
    return { type: 'cluster', cluster };
  }

  /** Moves on by a delta already made (one of encode's, or one copied from another trace). */
  follow(d: ClusterDeltaEvent): void {
    if (!this.prev) throw new Error('a cluster-delta needs a cluster snapshot before it');
    this.prev = applyClusterDelta(this.prev, d);
    this.sinceKey++;
  }
}
