// The Chrome trace export: valid JSON in the object form, every event with the fields the
// format requires, one thread per node with its role periods, flows for messages.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { ClusterState, NodeState } from '../../src-shared/cluster-state.js';
import type { ServerEvent } from '../../src-shared/protocol.js';
import { exportChromeTrace, type ChromeEvent } from '../../src-main/trace/chrome-trace.js';
import { readTraceFile } from '../../src-main/trace/trace-reader.js';
import { TraceWriter } from '../../src-main/trace/trace-writer.js';
import type { TraceRecord } from '../../src-shared/trace.js';
import type { KeyframePolicy } from '../../src-shared/trace-delta.js';
import { nodeState } from '../helpers/node-state.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'raftlab-chrome-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

const node = (name: string, over: Partial<NodeState>): NodeState => nodeState(name, over);
const cluster = (roles: Record<string, Partial<NodeState>>): ServerEvent => ({
  type: 'cluster',
  cluster: {
    dir: '/s',
    generation: 1,
    cuts: [],
    nodes: ['n1', 'n2', 'n3'].map((n) => node(n, roles[n] ?? {})),
  } satisfies ClusterState,
});

/** Checks the fields chrome://tracing and Perfetto need on every event. */
function checkChromeEvents(evs: ChromeEvent[]): void {
  for (const e of evs) {
    expect(typeof e.name, JSON.stringify(e)).toBe('string');
    expect(['M', 'X', 'i', 's', 'f', 'b', 'e']).toContain(e.ph);
    expect(Number.isFinite(e.ts) && e.ts >= 0, JSON.stringify(e)).toBe(true);
    expect(e.pid).toBe(1);
    expect(Number.isInteger(e.tid)).toBe(true);
    if (e.ph === 'X') expect(e.dur! >= 0, JSON.stringify(e)).toBe(true);
    if (e.ph === 'i') expect(e.s).toBe('t');
    if (e.ph === 's' || e.ph === 'f' || e.ph === 'b' || e.ph === 'e') expect(typeof e.id).toBe('number');
  }
  // Flows come in pairs: same id, cat and name; the end binds to its enclosing slice.
  const starts = new Map(evs.filter((e) => e.ph === 's').map((e) => [e.id, e]));
  for (const f of evs.filter((e) => e.ph === 'f')) {
    const s = starts.get(f.id)!;
    expect(s).toBeTruthy();
    expect([s.cat, s.name]).toEqual([f.cat, f.name]);
    expect(f.bp).toBe('e');
  }
  // Role periods on one thread follow each other without overlapping.
  const byTid = new Map<number, ChromeEvent[]>();
  for (const e of evs) if (e.ph === 'X') byTid.set(e.tid, [...(byTid.get(e.tid) ?? []), e]);
  for (const slices of byTid.values()) {
    slices.sort((a, b) => a.ts - b.ts);
    for (let i = 1; i < slices.length; i++)
      expect(slices[i]!.ts).toBeGreaterThanOrEqual(slices[i - 1]!.ts + slices[i - 1]!.dur!);
  }
}

describe('Chrome trace export', () => {
  /** The session, recorded with the writer's keyframe policy (or another). */
  async function record(file: string, policy: KeyframePolicy = {}): Promise<TraceRecord[]> {
    let now = 10_000;
    const w = await TraceWriter.create(file, {
      nodes: ['n1', 'n2', 'n3'],
      settings: { heartbeatMs: 100, electionMs: 1000 },
      now: () => now,
      ...policy,
    });
    w.event(cluster({}));
    now += 1000;
    w.events([
      { type: 'raft', node: 'n1', at: now - 2, event: { kind: 'election-timeout', term: 1, pre: false } },
      { type: 'message', at: now - 1, from: 'n1', to: 'n2', msgType: 'MsgVote', term: 2, index: 0, logTerm: 0 },
      {
        type: 'raft',
        node: 'n2',
        at: now,
        event: { kind: 'vote', candidate: 'id-n1', term: 2, pre: false, granted: true },
      },
      { type: 'raft', node: 'n1', at: now, event: { kind: 'role', role: 'leader', term: 2, lead: 'id-n1' } },
      // A lagging snapshot (role still follower, same term) must not end the leader period.
      cluster({ n1: { term: 2 }, n2: { term: 2 }, n3: { term: 2 } }),
    ]);
    now += 500;
    w.events([
      {
        type: 'log',
        node: 'n1',
        at: now,
        level: 'I',
        pkg: 'raft',
        msg: 'n1 became leader at term 2',
        line: 'I | raft: n1 became leader at term 2',
      },
      { type: 'raft', node: 'n2', at: now, event: { kind: 'commit', index: 3, term: 2 } },
      cluster({
        n1: { term: 2, role: 'leader', lead: 'n1' },
        n2: { term: 2, lead: 'n1' },
        n3: { term: 2, lead: 'n1' },
      }),
    ]);
    w.action({ id: 'w1', cmd: { type: 'killNode', name: 'n1' } });
    now += 100;
    w.events([
      { type: 'ack', id: 'w1' },
      cluster({ n1: { status: 'killed', term: 2, role: 'leader' }, n2: { term: 2 }, n3: { term: 2 } }),
    ]);
    w.append({ kind: 'held', msgId: 7, message: { from: 'n2', to: 'n3', msgType: 'MsgApp', term: 3, entries: 1 } });
    now += 50;
    w.append({
      kind: 'delivered',
      msgId: 7,
      message: { from: 'n2', to: 'n3', msgType: 'MsgApp', term: 3, entries: 1 },
    });
    w.append({ kind: 'client', node: 'n2', method: 'PUT', path: '/v2/keys/a', status: 201, ms: 20 });
    await w.close();
    return (await readTraceFile(file)).records;
  }

  it('converts a session into node threads, role periods, instants and flows', async () => {
    const file = path.join(dir, 's.jsonl');
    const records = await record(file);
    // Snapshots after the first are deltas: the role periods below come from them too.
    expect(records.filter((r) => r.kind === 'event' && r.event.type === 'cluster-delta')).toHaveLength(3);

    const out = path.join(dir, 's.json');
    const stats = await exportChromeTrace(file, out);
    const json = JSON.parse(fs.readFileSync(out, 'utf8')) as { traceEvents: ChromeEvent[]; displayTimeUnit: string };
    expect(json.displayTimeUnit).toBe('ms');
    const evs = json.traceEvents;
    expect(stats.events).toBe(evs.length);
    expect(stats.bytes).toBe(fs.statSync(out).size);
    checkChromeEvents(evs);

    const threads = new Map(
      evs.filter((e) => e.ph === 'M' && e.name === 'thread_name').map((e) => [e.args!.name as string, e.tid]),
    );
    expect([...threads.keys()]).toEqual(['user', 'n1', 'n2', 'n3']);
    expect(evs.find((e) => e.name === 'process_name')!.args).toEqual({ name: 'raftlab' });
    const roles = (n: string) =>
      evs
        .filter((e) => e.ph === 'X' && e.tid === threads.get(n))
        .sort((a, b) => a.ts - b.ts)
        .map((e) => [e.name, e.ts, e.dur]);
    // n1: follower from the first snapshot, leader from its role event (node time), killed till the end.
    expect(roles('n1')).toEqual([
      ['follower term 1', 0, 1_000_000],
      ['leader term 2', 1_000_000, 600_000],
      ['killed', 1_600_000, 50_000],
    ]);
    expect(roles('n2').map((r) => r[0])).toEqual(['follower term 1', 'follower term 2']);
    const instant = (name: string) => evs.find((e) => e.ph === 'i' && e.name === name)!;
    expect(instant('election timeout → term 2')).toMatchObject({ tid: threads.get('n1'), ts: 998_000, cat: 'raft' });
    expect(instant('votes n1 term 2')).toMatchObject({
      tid: threads.get('n2'),
      args: { text: 'n2 granted its vote to n1 for term 2' },
    });
    expect(instant('commit 3')).toMatchObject({ tid: threads.get('n2') });
    expect(instant('I raft: n1 became leader at term 2')).toMatchObject({ tid: threads.get('n1'), cat: 'log' });
    expect(instant('You killed n1 (like kill -9)')).toMatchObject({ tid: threads.get('user'), cat: 'action' });
    expect(instant('done: You killed n1 (like kill -9)')).toMatchObject({ tid: threads.get('user'), ts: 1_600_000 });
    expect(instant('MsgVote → n2')).toMatchObject({ tid: threads.get('n1'), ts: 999_000, args: { term: 2 } });
    // Messages: an arrow from sender to receiver; step mode: from hold to delivery.
    const flows = evs.filter((e) => e.ph === 's' || e.ph === 'f').map((e) => [e.ph, e.name, e.tid, e.ts]);
    expect(flows).toEqual([
      ['s', 'MsgVote', threads.get('n1'), 999_000],
      ['f', 'MsgVote', threads.get('n2'), 999_000],
      ['s', 'MsgApp', threads.get('n2'), 1_600_000],
      ['f', 'MsgApp', threads.get('n3'), 1_650_000],
    ]);
    const client = evs.filter((e) => e.cat === 'client');
    expect(client.map((e) => [e.ph, e.name, e.ts])).toEqual([
      ['b', 'PUT /v2/keys/a', 1_630_000],
      ['e', 'PUT /v2/keys/a', 1_650_000],
    ]);

    // Fewer events on request: no messages at all.
    await exportChromeTrace(file, out, { messages: 'none' });
    const quiet = (JSON.parse(fs.readFileSync(out, 'utf8')) as { traceEvents: ChromeEvent[] }).traceEvents;
    expect(quiet.filter((e) => e.cat === 'message')).toEqual([]);
    expect(quiet.length).toBe(evs.length - 3);
    expect(quiet.filter((e) => e.cat === 'step')).toHaveLength(4);

    // The same session with every snapshot whole (as version 1 kept them) exports the same.
    const whole = path.join(dir, 'whole.jsonl');
    expect(
      (await record(whole, { keyframeEvery: 1 })).some((r) => r.kind === 'event' && r.event.type === 'cluster-delta'),
    ).toBe(false);
    await exportChromeTrace(file, out);
    const fromDeltas = fs.readFileSync(out, 'utf8');
    await exportChromeTrace(whole, out);
    expect(fs.readFileSync(out, 'utf8')).toBe(fromDeltas);
  });
});
