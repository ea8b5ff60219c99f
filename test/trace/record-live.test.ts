// Recording a real cluster: the supervisor's batches and the user's commands go to a
// TraceWriter while an election, a kill of the leader and a new election happen. Read back,
// the trace must replay exactly the cluster the live view was sent at every snapshot, though
// most snapshots are kept as deltas, and so the leader as the live view saw it at every point.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Supervisor } from '../../src-main/cluster/supervisor.js';
import { exportChromeTrace, type ChromeEvent } from '../../src-main/trace/chrome-trace.js';
import { readTraceFile } from '../../src-main/trace/trace-reader.js';
import { TraceWriter } from '../../src-main/trace/trace-writer.js';
import { agreedLeader, type ClusterState } from '../../src-shared/cluster-state.js';
import type { Command } from '../../src-shared/commands.js';
import { TraceIndex } from '../../src-shared/replay.js';
import type { TraceRecord } from '../../src-shared/trace.js';
import { until } from '../helpers/cluster.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'raftlab-live-trace-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

interface Seen {
  seq: number;
  at: number;
  cluster: ClusterState;
  leader: string | undefined;
}

describe('recording a real cluster', () => {
  it('replays the leader at every point as it was seen live', async () => {
    const settings = { heartbeatMs: 50, electionMs: 500 };
    const file = path.join(dir, 'session.jsonl');
    const sup = new Supervisor(settings);
    const w = await TraceWriter.create(file, { nodes: ['n1', 'n2', 'n3'], settings });
    const seen: Seen[] = [];
    sup.on('events', (batch) => {
      for (const e of batch) {
        const r = w.event(e);
        // As the window gets it: JSON (-0 arrives as 0, undefined fields as nothing).
        if (e.type === 'cluster')
          seen.push({
            seq: r.seq,
            at: r.at,
            cluster: JSON.parse(JSON.stringify(e.cluster)),
            leader: agreedLeader(e.cluster)?.name,
          });
      }
    });
    const act = async (id: string, cmd: Command) => {
      w.action({ id, cmd });
      await sup.handle({ id, cmd });
    };
    let first: string;
    let second: string;
    try {
      await act('a1', { type: 'startCluster', size: 3 });
      first = await until('a leader', () => seen.at(-1)?.leader);
      await act('a2', { type: 'killNode', name: first });
      second = await until('a new leader', () => {
        const l = seen.at(-1)?.leader;
        return l !== undefined && l !== first ? l : undefined;
      });
      await act('a3', { type: 'restartNode', name: 'n9' }); // refused: recorded as a failed result
    } finally {
      await sup.stop();
      await w.close();
    }

    const { header, records } = await readTraceFile(file);
    expect(header).toMatchObject({ version: 3, source: 'local', nodes: ['n1', 'n2', 'n3'], settings });
    expect(records).toHaveLength(w.lastSeq);
    const results = records.filter((r) => r.kind === 'result');
    expect(results.map((r) => [r.id, r.ok])).toEqual([
      ['a1', true],
      ['a2', true],
      ['a3', false],
    ]);
    expect(records.filter((r) => r.kind === 'action').map((r) => r.id)).toEqual(['a1', 'a2', 'a3']);
    const kinds = new Set(records.map((r) => (r.kind === 'event' ? r.event.type : r.kind)));
    for (const k of ['cluster', 'raft', 'message', 'log', 'action', 'result']) expect(kinds).toContain(k);

    const index = new TraceIndex(records);
    expect(index.snapshots).toBe(seen.length);
    // Kept compact: a keyframe at the start of each cluster generation (and every few seconds),
    // deltas in between.
    const kept = seen.map((s) => (records[s.seq - 1] as { event: { type: string } }).event.type);
    expect(kept.filter((k) => k === 'cluster')).toHaveLength(index.keyframes);
    expect(kept.filter((k) => k === 'cluster-delta').length).toBeGreaterThan(index.keyframes);
    seen.forEach((s, i) => {
      if (i === 0 || s.cluster.generation !== seen[i - 1]!.cluster.generation)
        expect(kept[i], `snapshot ${i}`).toBe('cluster');
    });
    // By seq, at every snapshot, in order and then backwards and scattered (other paths through
    // the index's caches): exactly the snapshot the live view had, and so the same leader.
    const order = [...seen.keys(), ...[...seen.keys()].reverse(), ...seen.map((_, i) => (i * 7919) % seen.length)];
    for (const i of order) {
      const s = seen[i]!; // i is one of seen's keys
      const st = index.stateAt({ seq: s.seq });
      expect(st.clusterSeq).toBe(s.seq);
      expect(st.cluster, `snapshot ${i} (seq ${s.seq})`).toStrictEqual(s.cluster);
      expect(agreedLeader(st.cluster!)?.name).toBe(s.leader);
    }
    // Played through in steps, as the window plays, the records give the same snapshots: deltas
    // come as the full `cluster` events they stand for.
    const stepped: TraceRecord[] = [];
    for (let a = 0, k = 0; a < index.lastSeq; k++) {
      const b = a + 1 + ((k * 37) % 60);
      stepped.push(...index.eventsBetween(a, b));
      a = b;
    }
    expect(stepped.map((r) => r.seq)).toEqual(records.map((r) => r.seq));
    const played = stepped.flatMap((r) =>
      r.kind === 'event' && (r.event.type === 'cluster' || r.event.type === 'cluster-delta') ? [r] : [],
    );
    expect(played.map((r) => r.seq)).toEqual(seen.map((s) => s.seq));
    played.forEach((r, i) => expect(r.event).toStrictEqual({ type: 'cluster', cluster: seen[i]!.cluster })); // as many as played, just checked
    // By time: the last snapshot the live view had at that moment.
    for (const s of seen) {
      const live = seen.filter((o) => o.at <= s.at).at(-1)!;
      expect(agreedLeader(index.stateAt({ at: s.at }).cluster!)?.name).toBe(live.leader);
    }
    // The story, as replayed: no leader, the first, none (it was killed), the second.
    const story: (string | undefined)[] = [];
    for (const s of seen) {
      const l = agreedLeader(index.stateAt({ seq: s.seq }).cluster!)?.name;
      if (story.at(-1) !== l || story.length === 0) story.push(l);
    }
    expect(story.filter((l) => l !== undefined)).toEqual([first!, second!]);
    const killedAt = records.find((r) => r.kind === 'action' && r.id === 'a2')!.seq;
    expect(index.stateAt({ seq: killedAt }).cluster!.nodes.find((n) => n.name === first!)!.role).toBe('leader');
    expect(index.stateAt({ seq: index.lastSeq }).cluster!.nodes.find((n) => n.name === first!)!.status).toBe('killed');
    // The raft events say the same: each became leader, in that order.
    const won = records.flatMap((r) =>
      r.kind === 'event' && r.event.type === 'raft' && r.event.event.kind === 'role' && r.event.event.role === 'leader'
        ? [r.event.node]
        : [],
    );
    expect(won.slice(-2)).toEqual([first!, second!]);

    // And in Perfetto: a thread per node, each leader's term a slice on its thread.
    const out = path.join(dir, 'session.json');
    await exportChromeTrace(file, out);
    const evs = (JSON.parse(fs.readFileSync(out, 'utf8')) as { traceEvents: ChromeEvent[] }).traceEvents;
    const tid = new Map(evs.filter((e) => e.name === 'thread_name').map((e) => [e.args!.name as string, e.tid]));
    expect([...tid.keys()]).toEqual(['user', 'n1', 'n2', 'n3']);
    for (const l of [first!, second!]) {
      expect(evs.some((e) => e.ph === 'X' && e.tid === tid.get(l) && /^leader term \d+$/.test(e.name))).toBe(true);
    }
    expect(evs.some((e) => e.ph === 'X' && e.tid === tid.get(first!) && e.name === 'killed')).toBe(true);
    expect(evs.filter((e) => e.ph === 's').length).toBeGreaterThan(10);
  });
});
