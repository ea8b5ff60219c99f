// Cluster deltas on their own: what diffCluster keeps of a change, that applyClusterDelta
// rebuilds exactly the next state from it (as JSON carries it), and when the encoder writes a
// keyframe instead.
import { describe, expect, it } from 'vitest';
import type { ClusterState, LogEntrySummary, NodeState } from '../../src-shared/cluster-state.js';
import {
  ClusterEncoder,
  applyClusterDelta,
  diffCluster,
  diffLog,
  sameJson,
  type ClusterDeltaEvent,
} from '../../src-shared/trace-delta.js';
import { nth } from '../helpers/checked.js';
import { nodeState } from '../helpers/node-state.js';

const entry = (index: number, term = 2, data = `set /k${index}=v`): LogEntrySummary => ({
  index,
  term,
  type: 'normal',
  data,
});
const tail = (from: number, to: number, term = 2) =>
  Array.from({ length: to - from + 1 }, (_, i) => entry(from + i, term));
const node = (name: string, over: Partial<NodeState> = {}): NodeState =>
  nodeState(name, {
    term: 2,
    vote: 'n1',
    lead: 'n1',
    commit: 20,
    applied: 20,
    lastIndex: 20,
    clientURL: `http://127.0.0.1:1/${name}`,
    peerURL: `http://127.0.0.1:2/${name}`,
    dataDir: `/s/${name}.etcd`,
    log: tail(1, 20),
    peers: [{ id: 'id-x', active: true, clockDiffMs: 0 }],
    ...over,
  });
const cluster = (over: Partial<ClusterState> = {}, names = ['n1', 'n2', 'n3']): ClusterState => ({
  dir: '/s',
  generation: 1,
  nodes: names.map((n) => node(n)),
  cuts: [],
  step: { on: false, held: [] },
  ...over,
});
/** As a reader gets it: through JSON. */
const json = <T>(v: T): T => JSON.parse(JSON.stringify(v)) as T;
/** Diffs, writes and reads back the delta, applies it: must give `next` as JSON carries it. */
function roundTrip(prev: ClusterState, next: ClusterState): ClusterDeltaEvent {
  const d = diffCluster(json(prev), next)!;
  expect(d).toBeDefined();
  const before = JSON.stringify(prev);
  expect(applyClusterDelta(json(prev), json(d))).toStrictEqual(json(next));
  expect(JSON.stringify(prev)).toBe(before);
  return d;
}

describe('diffLog', () => {
  it('says how the tail moved: appended, slid on, replaced, compacted', () => {
    expect(diffLog(tail(1, 20), tail(1, 20))).toBeUndefined();
    expect(diffLog([], [])).toBeUndefined();
    expect(diffLog(tail(1, 3), tail(1, 4))).toEqual({ drop: 0, add: [entry(4)] });
    expect(diffLog(tail(1, 20), tail(2, 21))).toEqual({ drop: 1, add: [entry(21)] });
    expect(diffLog(tail(1, 20), tail(4, 23))).toEqual({ drop: 3, add: tail(21, 23) });
    // A new leader's entries replace the last two: kept up to there, the rest added.
    const replaced = [...tail(1, 18), entry(19, 3), entry(20, 3)];
    expect(diffLog(tail(1, 20), replaced)).toEqual({ drop: 0, keep: 18, add: [entry(19, 3), entry(20, 3)] });
    // Truncated only, or dropped from the front only.
    expect(diffLog(tail(1, 20), tail(1, 15))).toEqual({ drop: 0, keep: 15 });
    expect(diffLog(tail(1, 20), tail(11, 20))).toEqual({ drop: 10 });
    // Nothing in common (a snapshot installed far ahead), or emptied: the whole new tail.
    expect(diffLog(tail(1, 20), tail(500, 519))).toEqual(tail(500, 519));
    expect(diffLog(tail(1, 20), [])).toEqual([]);
    expect(diffLog([], tail(1, 2))).toEqual(tail(1, 2));
  });
});

describe('diffCluster and applyClusterDelta', () => {
  it('keep only what changed, and rebuild the next state exactly', () => {
    const a = cluster();
    const b = cluster();
    b.nodes[0] = node('n1', { role: 'leader', commit: 21, applied: 21, lastIndex: 21, log: tail(2, 21) });
    b.nodes[2] = node('n3', { peers: [{ id: 'id-x', active: false, clockDiffMs: 3 }] });
    const d = roundTrip(a, b);
    expect(d).toEqual({
      type: 'cluster-delta',
      nodes: {
        n1: { set: { role: 'leader', commit: 21, applied: 21, lastIndex: 21 }, log: { drop: 1, add: [entry(21)] } },
        n3: { set: { peers: [{ id: 'id-x', active: false, clockDiffMs: 3 }] } },
      },
    });
    // Far smaller than the snapshot, and nothing at all when nothing changed.
    expect(JSON.stringify(d).length * 10).toBeLessThan(JSON.stringify(b).length);
    expect(roundTrip(a, cluster())).toEqual({ type: 'cluster-delta' });
  });

  it('sets and unsets top-level and node fields, as JSON would carry them', () => {
    const a = cluster();
    // A cut link, step mode gone, an attached view there, a field a newer supervisor adds.
    const b = {
      ...cluster({ cuts: [{ a: 'n1', b: 'n2' }], step: undefined }),
      attached: { source: 'attached', at: 5 },
    } as unknown as ClusterState;
    (b.nodes[1] as unknown as Record<string, unknown>).extra = { deep: [1, 2] };
    const d = roundTrip(a, b);
    expect(d.set).toEqual({ cuts: [{ a: 'n1', b: 'n2' }], attached: { source: 'attached', at: 5 } });
    expect(d.unset).toEqual(['step']);
    expect(d.nodes).toEqual({ n2: { set: { extra: { deep: [1, 2] } } } });
    // …and back: the field gone from the node.
    expect(roundTrip(b, a).nodes).toEqual({ n2: { unset: ['extra'] } });
    // -0 is 0 in JSON, and a field holding undefined is no field: no change either way.
    const c = cluster();
    const n1 = nth(c.nodes, 0);
    nth(n1.peers, 0).clockDiffMs = -0;
    (n1 as unknown as Record<string, unknown>).later = undefined;
    expect(roundTrip(a, c)).toEqual({ type: 'cluster-delta' });
    expect(sameJson({ a: 1, b: undefined }, { a: 1 })).toBe(true);
    expect(sameJson([1, { a: [2] }], [1, { a: [3] }])).toBe(false);
  });

  it('keeps odd node names as plain names', () => {
    const names = ['__proto__', 'constructor', 'toString'];
    const a = cluster({}, names);
    const b = cluster({}, names);
    b.nodes.forEach((n, i) => (n.term = 3 + i));
    const d = roundTrip(a, b);
    expect(Object.keys(d.nodes!)).toEqual(names);
    expect(applyClusterDelta(json(a), json(d)).nodes.map((n) => n.term)).toEqual([3, 4, 5]);
    // A delta that names none of them changes none of them (no inherited "constructor").
    expect(applyClusterDelta(json(a), { type: 'cluster-delta', nodes: {} })).toStrictEqual(json(a));
  });

  it('cannot say that nodes came, went or moved: that takes a keyframe', () => {
    expect(diffCluster(cluster(), cluster({}, ['n1', 'n2', 'n3', 'n4']))).toBeUndefined();
    expect(diffCluster(cluster(), cluster({}, ['n1', 'n3']))).toBeUndefined();
    expect(diffCluster(cluster(), cluster({}, ['n2', 'n1', 'n3']))).toBeUndefined();
  });
});

describe('ClusterEncoder', () => {
  const type = (e: { type: string }) => e.type;

  it('writes a keyframe first, for a new generation, for new nodes, and every keyframeMs or keyframeEvery', () => {
    const enc = new ClusterEncoder({ keyframeMs: 5000, keyframeEvery: 4 });
    const kinds = [
      enc.encode(cluster(), 0),
      enc.encode(cluster({ cuts: [{ a: 'n1', b: 'n2' }] }), 100),
      enc.encode(cluster(), 200),
      enc.encode(cluster(), 300),
      enc.encode(cluster(), 400), // the 4th after the keyframe
      enc.encode(cluster(), 500),
      enc.encode(cluster(), 5399), // 4999 ms after it
      enc.encode(cluster(), 5400), // 5000 ms after it
      enc.encode(cluster({ generation: 2 }), 5500),
      enc.encode(cluster({ generation: 2 }), 5600),
      enc.encode(cluster({ generation: 2 }, ['n1', 'n2']), 5700),
      enc.encode(cluster({ generation: 2, dir: '/elsewhere' }, ['n1', 'n2']), 5800),
    ].map(type);
    expect(kinds).toEqual([
      'cluster',
      'cluster-delta',
      'cluster-delta',
      'cluster-delta',
      'cluster',
      'cluster-delta',
      'cluster-delta',
      'cluster',
      'cluster',
      'cluster-delta',
      'cluster',
      'cluster',
    ]);
  });

  it('writes a keyframe when a delta would be nearly as big', () => {
    const enc = new ClusterEncoder();
    enc.encode(cluster(), 0);
    const all = cluster();
    for (const n of all.nodes)
      Object.assign(n, {
        log: tail(500, 519, 3),
        term: 3,
        clientURL: 'http://elsewhere',
        peerURL: 'http://elsewhere',
        dataDir: '/elsewhere',
      });
    expect(enc.encode(all, 1).type).toBe('cluster');
  });

  it('diffs against what it wrote, not the caller’s objects, which may change afterwards', () => {
    const enc = new ClusterEncoder();
    const c = cluster();
    enc.encode(c, 0);
    const n1 = nth(c.nodes, 0);
    n1.term = 9; // the same object, changed in place, sent again
    n1.log.push(entry(21));
    expect(enc.encode(c, 1)).toEqual({
      type: 'cluster-delta',
      nodes: { n1: { set: { term: 9 }, log: { drop: 0, add: [entry(21)] } } },
    });
    expect(enc.encode(c, 2)).toEqual({ type: 'cluster-delta' });
  });

  it('moves on by a delta copied from another trace, and needs a snapshot before one', () => {
    expect(() => new ClusterEncoder().follow({ type: 'cluster-delta' })).toThrow(
      'a cluster-delta needs a cluster snapshot before it',
    );
    const enc = new ClusterEncoder();
    enc.encode(cluster(), 0);
    enc.follow({ type: 'cluster-delta', nodes: { n2: { set: { term: 5 } } } });
    const next = cluster();
    nth(next.nodes, 1).term = 5;
    expect(enc.encode(next, 1)).toEqual({ type: 'cluster-delta' });
  });
});
