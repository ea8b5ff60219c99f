// Seeking in a synthetic session of a few hundred snapshots: stateAt must give exactly what
// was recorded at that point, by seq and by time, as a plain scan from the start would; and
// the same session kept as keyframes and deltas must replay exactly as the one kept whole.
import { isDeepStrictEqual } from 'node:util';
import { describe, expect, it } from 'vitest';
import type { ClusterState, NodeState } from '../../src-shared/cluster-state.js';
import type { ServerEvent } from '../../src-shared/protocol.js';
import type { Role } from '../../src-shared/raft-types.js';
import { TraceIndex } from '../../src-shared/replay.js';
import { newTraceHeader, readTraceText, traceLine, type TraceRecord } from '../../src-shared/trace.js';
import { ClusterEncoder } from '../../src-shared/trace-delta.js';
import { nth } from '../helpers/checked.js';
import { nodeState } from '../helpers/node-state.js';

/**
 * A deterministic session: elections (some replacing followers' last entry), commits,
 * messages, kills, cut links, step mode on and off, as JSONL text. Snapshots are written
 * whole, or as `encoder` chooses.
 */
function synthesize(snapshots: number, encoder?: ClusterEncoder): string {
  let seed = 42;
  const rand = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
  const names = ['n1', 'n2', 'n3'];
  const nodes: NodeState[] = names.map((name, i) => nodeState(name, { id: `${i + 1}`.repeat(16) }));
  const lines = [
    traceLine(newTraceHeader({ nodes: names, settings: { heartbeatMs: 100, electionMs: 1000 }, createdAt: 1_000_000 })),
  ];
  let seq = 0;
  let at = 1_000_000;
  let cuts: ClusterState['cuts'] = [];
  let step: ClusterState['step'];
  const push = (r: Record<string, unknown>) => lines.push(traceLine({ seq: ++seq, at, ...r } as TraceRecord));
  const event = (e: ServerEvent) => push({ kind: 'event', event: e });
  // A few records before the first snapshot: seeking there finds no cluster.
  event({ type: 'log', node: 'n1', at, level: 'I', pkg: 'etcdmain', msg: 'starting', line: 'starting' });
  for (let s = 0; s < snapshots; s++) {
    // Several records may share one `at` (one batch), as the writer stamps them.
    if (rand() < 0.7) at += 1 + Math.floor(rand() * 40);
    const leader = nodes.find((n) => n.role === 'leader');
    if (!leader || rand() < 0.03) {
      const c = nth(nodes, Math.floor(rand() * 3), 'a node');
      const term = Math.max(...nodes.map((n) => n.term)) + 1;
      const replace = rand() < 0.5;
      for (const n of nodes) {
        n.term = term;
        n.role = n === c ? 'leader' : ('follower' as Role);
        n.lead = c.name;
        n.status = 'alive';
        // A follower's uncommitted last entry, replaced by the new leader's.
        const last = n.log.at(-1);
        if (replace && n !== c && last)
          n.log = [
            ...n.log.slice(0, -1),
            { index: last.index, term, type: 'normal' as const, data: `replaced ${last.index}` },
          ];
      }
      event({ type: 'raft', node: c.name, at, event: { kind: 'role', role: 'leader', term, lead: c.id } });
      if (rand() < 0.3) {
        const victim = nodes.find((n) => n !== c)!;
        victim.status = 'killed';
        push({ kind: 'action', id: `w${s}`, cmd: { type: 'killNode', name: victim.name } });
        push({ kind: 'result', id: `w${s}`, ok: true });
      }
    } else {
      const index = leader.lastIndex + 1;
      for (const n of nodes) {
        if (n.status !== 'alive') continue;
        n.log = [...n.log, { index, term: leader.term, type: 'normal' as const, data: `set /k${s}=${s}` }].slice(-20);
        n.lastIndex = n.commit = n.applied = index;
        if (n !== leader)
          event({
            type: 'message',
            at,
            from: leader.name,
            to: n.name,
            msgType: 'MsgApp',
            term: leader.term,
            index: index - 1,
            entries: 1,
            commit: index - 1,
          });
        event({ type: 'raft', node: n.name, at, event: { kind: 'commit', index, term: leader.term } });
      }
      push({ kind: 'client', node: leader.name, method: 'PUT', path: `/v2/keys/k${s}`, status: 201, ms: 3 });
    }
    if (rand() < 0.05) cuts = cuts.length ? [] : [{ a: 'n1', b: 'n2' }];
    if (rand() < 0.05) step = step ? undefined : { on: true, held: [] };
    const cluster: ClusterState = {
      dir: '/tmp/s',
      generation: 1,
      nodes: structuredClone(nodes),
      cuts,
      ...(step ? { step } : {}),
    };
    push({ kind: 'event', event: encoder ? encoder.encode(cluster, at) : { type: 'cluster', cluster } });
  }
  event({ type: 'log', node: 'n2', at: at + 5, level: 'W', pkg: 'rafthttp', msg: 'the end', line: 'the end' });
  return lines.join('\n') + '\n';
}

const whole = synthesize(400);
const { header, records } = readTraceText(whole);
const index = new TraceIndex(records, { recentMax: 30, recentMs: 200 });

/** The oracle: scan from the start. */
function scan(upTo: (r: TraceRecord) => boolean): { seq: number; cluster: ClusterState | null; clusterSeq: number } {
  let seq = 0;
  let cluster: ClusterState | null = null;
  let clusterSeq = 0;
  for (const r of records) {
    if (!upTo(r)) break;
    seq = r.seq;
    if (r.kind === 'event' && r.event.type === 'cluster') {
      cluster = r.event.cluster;
      clusterSeq = r.seq;
    }
  }
  return { seq, cluster, clusterSeq };
}

describe('TraceIndex', () => {
  it('indexes every snapshot', () => {
    expect(header.nodes).toEqual(['n1', 'n2', 'n3']);
    expect(index.snapshots).toBe(400);
    expect(index.keyframes).toBe(400);
    expect(index.firstSeq).toBe(1);
    expect(index.lastSeq).toBe(records.length);
    expect(records.length).toBeGreaterThan(1500);
  });

  it('stateAt(seq) is exactly the state recorded at that seq', () => {
    const seqs = [0, 1, 2, 3, 50, 51, 777, 1000, 1234, records.length - 1, records.length, records.length + 10];
    for (let i = 0; i < 40; i++) seqs.push(1 + Math.floor((i * 7919) % records.length));
    for (const seq of seqs) {
      const want = scan((r) => r.seq <= seq);
      const got = index.stateAt({ seq });
      expect(got.seq).toBe(want.seq);
      expect(got.clusterSeq).toBe(want.clusterSeq);
      expect(got.cluster).toEqual(want.cluster);
      // The same object the trace holds, not a rebuilt copy: cheap to hand to the view.
      if (want.cluster) expect(got.cluster).toBe(want.cluster);
    }
    expect(index.stateAt({ seq: 1 }).cluster).toBeNull();
  });

  it('stateAt(at) is the state as of the last record made at or before that time', () => {
    const times = [index.startAt - 1, index.startAt, index.endAt, index.endAt + 1000];
    for (let i = 0; i < 40; i++)
      times.push(index.startAt + Math.floor((i * 104729) % (index.endAt - index.startAt + 1)));
    // Exactly a record's time where several records share it: all of them count.
    const shared = records.find((r, i) => i > 0 && records[i - 1]!.at === r.at)!;
    times.push(shared.at);
    for (const at of times) {
      const want = scan((r) => r.at <= at);
      const got = index.stateAt({ at });
      expect(got.seq).toBe(want.seq);
      expect(got.cluster).toEqual(want.cluster);
      expect(got.clusterSeq).toBe(want.clusterSeq);
    }
    expect(index.stateAt({ at: shared.at }).seq).toBe(records.filter((r) => r.at === shared.at).at(-1)!.seq);
  });

  it('shows the leader, terms, log tails and commits as recorded', () => {
    const mid = nth(
      records.filter((r) => r.kind === 'event' && r.event.type === 'cluster'),
      200,
      'a 201st cluster snapshot',
    );
    const c = index.stateAt({ seq: mid.seq }).cluster!;
    const leader = c.nodes.find((n) => n.role === 'leader')!;
    expect(leader).toBeTruthy();
    expect(c.nodes.every((n) => n.term === leader.term)).toBe(true);
    expect(leader.log.length).toBeGreaterThan(0);
    expect(leader.log.at(-1)!.index).toBe(leader.commit);
  });

  it('gives the recent window: non-snapshot records, newest last, bounded by count and age', () => {
    for (const seq of [2, 300, 901, records.length]) {
      const s = index.stateAt({ seq });
      const want = records
        .slice(0, seq)
        .filter((r) => !(r.kind === 'event' && r.event.type === 'cluster'))
        .filter((r) => r.at >= s.at - 200)
        .slice(-30);
      expect(s.recent).toEqual(want);
      expect(s.recent.at(-1)?.seq ?? seq).toBeLessThanOrEqual(seq);
    }
  });

  it('eventsBetween(a, b) is what happened after a up to b', () => {
    expect(index.eventsBetween(10, 15).map((r) => r.seq)).toEqual([11, 12, 13, 14, 15]);
    expect(index.eventsBetween(0, 2).map((r) => r.seq)).toEqual([1, 2]);
    expect(index.eventsBetween(records.length - 1, records.length + 5).map((r) => r.seq)).toEqual([records.length]);
    expect(index.eventsBetween(15, 10)).toEqual([]);
    expect(index.eventsBetween(7, 7)).toEqual([]);
  });

  it('replays a session kept as keyframes and deltas exactly as the one kept whole', () => {
    // The writer's policy, tighter (a keyframe every 10 snapshots or 5 s); and one keyframe
    // only, which leaves the index to keep checkpoints of its own along 399 deltas.
    for (const policy of [{ keyframeEvery: 10 }, { keyframeMs: Infinity, keyframeEvery: Infinity }]) {
      const text = synthesize(400, new ClusterEncoder(policy));
      expect(text.length).toBeLessThan(whole.length / 3);
      const d = readTraceText(text).records;
      expect(d.map((r) => r.seq)).toEqual(records.map((r) => r.seq));
      const dIndex = new TraceIndex(d, { recentMax: 30, recentMs: 200 });
      expect(dIndex.snapshots).toBe(400);
      const kept = d.flatMap((r) =>
        r.kind === 'event' && (r.event.type === 'cluster' || r.event.type === 'cluster-delta') ? [r.event.type] : [],
      );
      expect(kept.filter((k) => k === 'cluster')).toHaveLength(dIndex.keyframes);
      let run = 0;
      let longest = 0;
      for (const k of kept) longest = Math.max(longest, (run = k === 'cluster' ? 0 : run + 1));
      if (policy.keyframeEvery === 10) expect([dIndex.keyframes, longest]).toEqual([40, 9]);
      // (A delta bigger than half the last keyframe is written whole too: here, once, early on.)
      else expect(longest).toBeGreaterThan(300);
      // Every point, in order, backwards and scattered: the very state, seq and recent window.
      const seqs = [
        ...records.keys(),
        ...[...records.keys()].reverse(),
        ...records.map((_, i) => (i * 7919) % (records.length + 2)),
      ];
      for (const seq of seqs) {
        const want = index.stateAt({ seq });
        const got = dIndex.stateAt({ seq });
        // (isDeepStrictEqual first: vitest's deep equality is slow across 10,000 states.)
        if (!isDeepStrictEqual(got.cluster, want.cluster))
          expect(got.cluster, `seq ${seq}`).toStrictEqual(want.cluster);
        expect([got.seq, got.clusterSeq, got.at]).toEqual([want.seq, want.clusterSeq, want.at]);
        expect(got.recent.map((r) => r.seq)).toEqual(want.recent.map((r) => r.seq));
      }
      // Played, deltas come as the whole snapshots they stand for: the records of the whole session.
      expect(dIndex.eventsBetween(0, dIndex.lastSeq)).toStrictEqual(records);
      expect(dIndex.eventsBetween(100, 160)).toStrictEqual(records.slice(100, 160));
    }
  });

  it('refuses records out of order', () => {
    expect(() => new TraceIndex([nth(records, 0), nth(records, 2)])).toThrow(/seq 3, expected 2/);
    const delta = { seq: 1, at: 5, kind: 'event', event: { type: 'cluster-delta' } } as const;
    expect(() => new TraceIndex([delta])).toThrow(
      'replay: record seq 1 is a cluster-delta with no cluster snapshot before it',
    );
    expect(new TraceIndex([]).stateAt({ seq: 5 })).toEqual({ seq: 0, at: 0, cluster: null, clusterSeq: 0, recent: [] });
  });
});
