// The session trace at the scale of a long session: a synthetic hour of a busy 3-node cluster,
// written as JSONL through TraceWriter (cluster snapshots as keyframes and deltas), exported
// as the window's "Export trace" does (JSONL: a copy of the file being recorded; Chrome's
// format: a streamed conversion), read back and seeked.
//
// The rates are those measured on a real cluster (3 nodes, heartbeat 100 ms, ~9 PUTs/s: ~125
// messages/s, ~85 Raft events/s, ~10.5 coalesced cluster snapshots/s of ~5.4 KB each), scaled to
// 10 PUTs/s: every 100 ms a heartbeat round (4 messages) and one PUT (8 messages, 9 Raft events,
// a client record, a snapshot), plus a snapshot every 500 ms for peer/clock changes, a log line
// every 2 s and a leader kill + election + restart every 15 minutes.
// TRACE_BENCH_MINUTES=<n> shortens (or lengthens) the hour.

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import v8 from 'node:v8';
import vm from 'node:vm';
import type { ClusterState, LogEntrySummary, MessageSummary, NodeState } from '../src-shared/cluster-state.js';
import type { RaftEvent } from '../src-shared/raft-types.js';
import { TraceIndex } from '../src-shared/replay.js';
import type { TraceEntry } from '../src-shared/trace.js';
import { exportTrace } from '../src-main/trace/trace-export.js';
import { readTraceFile } from '../src-main/trace/trace-reader.js';
import { TraceWriter } from '../src-main/trace/trace-writer.js';

const HEARTBEAT_MS = 100;
const ELECTION_MS = 1000;
const PUT_EVERY_MS = 100;
const ELECTION_EVERY_MS = 15 * 60_000;
const SEEKS = 2000;

type Timed = TraceEntry & { at: number };

/** A deterministic synthetic session, one record at a time (nothing accumulates). */
function* synthesize(durationMs: number, t0: number): Generator<Timed> {
  const names = ['n1', 'n2', 'n3'];
  const ids = ['8e9e05c52164694d', '91bc3c398fb3c146', 'fd422379fda50e48'];
  const nodes: NodeState[] = names.map((name, i) => ({
    name,
    id: ids[i]!,
    status: 'alive',
    role: 'follower',
    term: 2,
    vote: 'n1',
    lead: 'n1',
    commit: 1,
    applied: 1,
    firstIndex: 1,
    lastIndex: 1,
    clientURL: `http://127.0.0.1:${2379 + 100 * i}`,
    peerURL: `http://127.0.0.1:${2380 + 100 * i}`,
    dataDir: `/tmp/raftlab-session-bench/cluster-1/${name}.etcd`,
    clock: { offsetMs: 0, rate: 1 },
    electionTimeoutMs: 1000 + 100 * i,
    heartbeatMs: HEARTBEAT_MS,
    log: [{ index: 1, term: 2, type: 'normal', data: 'no-op' }],
    peers: ids.filter((_, j) => j !== i).map((id) => ({ id, active: true, clockDiffMs: 0 })),
  }));
  let leader = nodes[0]!; // three nodes, from the constant tables above
  leader.role = 'leader';
  let key = 0;
  const snapshot = (at: number): Timed => ({
    at,
    kind: 'event',
    event: {
      type: 'cluster',
      cluster: {
        dir: '/tmp/raftlab-session-bench',
        generation: 1,
        nodes: nodes.map((n) => ({ ...n, log: [...n.log], peers: n.peers.map((p) => ({ ...p })) })),
        cuts: [],
      } satisfies ClusterState,
    },
  });
  const raft = (n: NodeState, at: number, event: RaftEvent): Timed => ({
    at,
    kind: 'event',
    event: { type: 'raft', node: n.name, at, event },
  });
  const msg = (at: number, m: MessageSummary): Timed => ({ at, kind: 'event', event: { type: 'message', at, ...m } });
  const log = (n: NodeState, at: number, pkg: string, text: string): Timed => ({
    at,
    kind: 'event',
    event: {
      type: 'log',
      node: n.name,
      at,
      level: 'I',
      pkg,
      msg: text,
      line: `${new Date(at).toISOString().replace('T', ' ').replace('Z', '000')} I | ${pkg}: ${text}`,
    },
  });
  const alive = () => nodes.filter((n) => n.status === 'alive');
  const followers = () => alive().filter((n) => n !== leader);
  const append = (n: NodeState, e: LogEntrySummary) => {
    n.log = [...n.log, e].slice(-20);
    n.lastIndex = e.index;
  };

  for (let t = 0; t < durationMs; t += PUT_EVERY_MS) {
    const at = t0 + t;
    // Every 15 minutes: the leader is killed, a follower wins the election, the old one restarts 10 s later.
    if (t > 0 && t % ELECTION_EVERY_MS === 0) {
      const old = leader;
      yield { at, kind: 'action', id: `b${t}`, cmd: { type: 'killNode', name: old.name } };
      old.status = 'killed';
      yield { at: at + 5, kind: 'result', id: `b${t}`, ok: true };
      yield snapshot(at + 5);
      const next = followers()[0];
      if (!next) throw new Error('trace bench: no follower alive to elect');
      const term = next.term + 1;
      const te = at + ELECTION_MS;
      yield raft(next, te, { kind: 'election-timeout', term: term - 1, pre: true });
      yield raft(next, te, { kind: 'role', role: 'precandidate', term: term - 1, lead: '' });
      for (const f of followers().filter((n) => n !== next)) {
        yield msg(te + 1, {
          from: next.name,
          to: f.name,
          msgType: 'MsgPreVote',
          term,
          index: next.lastIndex,
          logTerm: next.term,
        });
        yield msg(te + 2, { from: f.name, to: next.name, msgType: 'MsgPreVoteResp', term, reject: false });
      }
      yield raft(next, te + 3, { kind: 'role', role: 'candidate', term, lead: '' });
      for (const f of followers().filter((n) => n !== next)) {
        yield msg(te + 3, {
          from: next.name,
          to: f.name,
          msgType: 'MsgVote',
          term,
          index: next.lastIndex,
          logTerm: next.term,
        });
        yield raft(f, te + 4, { kind: 'vote', candidate: next.id, term, pre: false, granted: true });
        yield msg(te + 4, { from: f.name, to: next.name, msgType: 'MsgVoteResp', term, reject: false });
        f.term = term;
        f.vote = next.name;
        f.lead = next.name;
      }
      yield raft(next, te + 5, { kind: 'role', role: 'leader', term, lead: next.id });
      yield log(next, te + 5, 'raft', `${next.id} became leader at term ${term}`);
      next.role = 'leader';
      next.term = term;
      next.lead = next.name;
      next.vote = next.name;
      old.role = 'follower';
      leader = next;
      yield snapshot(te + 10);
      t += ELECTION_MS + PUT_EVERY_MS;
      continue;
    }
    if (t % ELECTION_EVERY_MS === 10_000 && nodes.some((n) => n.status === 'killed')) {
      const back = nodes.find((n) => n.status === 'killed')!;
      yield { at, kind: 'action', id: `r${t}`, cmd: { type: 'restartNode', name: back.name } };
      back.status = 'alive';
      back.term = leader.term;
      back.lead = leader.name;
      yield { at: at + 40, kind: 'result', id: `r${t}`, ok: true };
      yield snapshot(at + 40);
    }
    // A heartbeat round.
    for (const f of followers()) {
      yield msg(at, { from: leader.name, to: f.name, msgType: 'MsgHeartbeat', term: leader.term, commit: f.commit });
      yield msg(at + 1, { from: f.name, to: leader.name, msgType: 'MsgHeartbeatResp', term: leader.term });
    }
    // One PUT, from proposal to every node applying it.
    const p = at + 50;
    const index = leader.lastIndex + 1;
    const e: LogEntrySummary = {
      index,
      term: leader.term,
      type: 'normal',
      data: `set /k${key++ % 1000}=vvvvvvvvvvvvvvvvvvvv`,
    };
    append(leader, e);
    yield raft(leader, p, { kind: 'append', first: index, last: index, term: leader.term });
    for (const f of followers())
      yield msg(p, {
        from: leader.name,
        to: f.name,
        msgType: 'MsgApp',
        term: leader.term,
        index: index - 1,
        logTerm: leader.term,
        entries: 1,
        commit: leader.commit,
      });
    for (const f of followers()) {
      append(f, e);
      yield raft(f, p + 1, { kind: 'append', first: index, last: index, term: leader.term });
      yield msg(p + 1, { from: f.name, to: leader.name, msgType: 'MsgAppResp', term: leader.term, index });
    }
    leader.commit = leader.applied = index;
    yield raft(leader, p + 2, { kind: 'commit', index, term: leader.term });
    yield raft(leader, p + 2, { kind: 'apply', index });
    yield {
      at: p + 3,
      kind: 'client',
      node: leader.name,
      method: 'PUT',
      path: `/v2/keys/k${key % 1000}`,
      status: 201,
      ms: 3,
    };
    for (const f of followers())
      yield msg(p + 3, {
        from: leader.name,
        to: f.name,
        msgType: 'MsgApp',
        term: leader.term,
        index,
        logTerm: leader.term,
        entries: 0,
        commit: index,
      });
    for (const f of followers()) {
      f.commit = f.applied = index;
      yield raft(f, p + 4, { kind: 'commit', index, term: leader.term });
      yield raft(f, p + 4, { kind: 'apply', index });
      yield msg(p + 4, { from: f.name, to: leader.name, msgType: 'MsgAppResp', term: leader.term, index });
    }
    yield snapshot(p + 5);
    if (t % 500 === 0) {
      for (const n of nodes) for (const peer of n.peers) peer.clockDiffMs = (t / 500) % 3;
      yield snapshot(at + 90);
    }
    if (t % 2000 === 0) yield log(leader, at + 95, 'etcdserver', `saved snapshot at index ${index}`);
  }
}

/** A full collection before measuring the heap (no --expose-gc flag needed). */
function gc(): void {
  v8.setFlagsFromString('--expose-gc');
  (vm.runInNewContext('gc') as () => void)();
}

function quantile(sorted: number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? NaN; // NaN: nothing measured
}

const ms = (t: number) => `${t.toFixed(t < 10 ? 3 : 0)} ms`;
const mb = (b: number) => `${(b / 2 ** 20).toFixed(b < 10 * 2 ** 20 ? 1 : 0)} MB`;
/** Every this many snapshots, one is also measured whole: what version 1 would have written. */
const SAMPLE_WHOLE = 100;

export async function runTraceBench(): Promise<void> {
  const print = (line: string) => console.log(line);
  const minutes = Number(process.env.TRACE_BENCH_MINUTES ?? 60);
  const durationMs = minutes * 60_000;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'raftlab-trace-bench-'));
  const file = path.join(dir, 'session.jsonl');
  const out = path.join(dir, 'exports');
  fs.mkdirSync(out);
  try {
    print(
      `trace: a synthetic ${minutes}-minute session of 3 nodes (heartbeat ${HEARTBEAT_MS} ms, ${1000 / PUT_EVERY_MS} PUTs/s)`,
    );
    // 1. Record: the generator stands in for the supervisor; the writer is the real one.
    const t0 = 1_800_000_000_000;
    let t = performance.now();
    const w = await TraceWriter.create(file, {
      nodes: ['n1', 'n2', 'n3'],
      settings: { heartbeatMs: HEARTBEAT_MS, electionMs: ELECTION_MS },
      createdAt: t0,
    });
    let peak = 0;
    const counts: Record<string, number> = {};
    const bytes: Record<string, number> = {};
    let wholeSampled = 0;
    let sampled = 0;
    for (const r of synthesize(durationMs, t0)) {
      const written = w.append(r);
      const k = written.kind === 'event' ? written.event.type : written.kind;
      counts[k] = (counts[k] ?? 0) + 1;
      bytes[k] = (bytes[k] ?? 0) + JSON.stringify(written).length + 1;
      if (
        r.kind === 'event' &&
        r.event.type === 'cluster' &&
        ((counts.cluster ?? 0) + (counts['cluster-delta'] ?? 0)) % SAMPLE_WHOLE === 0
      ) {
        wholeSampled += JSON.stringify({ ...written, event: r.event }).length + 1;
        sampled++;
      }
      peak = Math.max(peak, w.pendingBytes);
      // Live, records arrive spread over the hour; here they come at once, so let the disk keep up.
      if (w.pendingBytes > 4 * 2 ** 20) await w.flush();
    }
    await w.flush();
    const writeMs = performance.now() - t;
    const size = fs.statSync(file).size;
    const secs = durationMs / 1000;
    const perHour = (b: number) => mb((b * 60) / minutes);
    const rate = (k: string) => ((counts[k] ?? 0) / secs).toFixed(1);
    const snapshots = (counts.cluster ?? 0) + (counts['cluster-delta'] ?? 0);
    const v1Size = size - (bytes.cluster ?? 0) - (bytes['cluster-delta'] ?? 0) + (wholeSampled / sampled) * snapshots;
    print(
      `  records: ${w.lastSeq} (per second: ${rate('message')} messages, ${rate('raft')} raft events, ${(snapshots / secs).toFixed(1)} cluster snapshots, ${rate('client')} client requests, ${rate('log')} log lines)`,
    );
    print(
      `  write JSONL:   ${ms(writeMs)} for ${mb(size)} (${(w.lastSeq / (writeMs / 1000) / 1000).toFixed(0)}k records/s; writer held at most ${mb(peak)})`,
    );
    print(`  trace size:    ${perHour(size)} per hour (version 1, every snapshot whole: ${perHour(v1Size)} per hour)`);
    const share = (k: string) => `${k} ${perHour(bytes[k] ?? 0)}`;
    print(
      `    of which: ${share('cluster')} (${counts.cluster} keyframes), ${share('cluster-delta')} (${counts['cluster-delta'] ?? 0} deltas, ${((bytes['cluster-delta'] ?? 0) / (counts['cluster-delta'] || 1)).toFixed(0)} B each), ${share('message')}, ${share('raft')}, ${share('client')}`,
    );

    // 2. Export, while the session is still being recorded (the writer is open), as the window does.
    t = performance.now();
    const jsonl = await exportTrace(w, 'jsonl', out);
    const jsonlMs = performance.now() - t;
    print(
      `  export JSONL:  ${ms(jsonlMs)} for ${mb(jsonl.bytes)} (a copy of the file being recorded; target < 1 s for an hour)`,
    );
    fs.rmSync(jsonl.path);
    t = performance.now();
    const chrome = await exportTrace(w, 'chrome', out);
    const chromeMs = performance.now() - t;
    print(`  export Chrome: ${ms(chromeMs)} for ${mb(chrome.bytes)} (converted, streaming)`);
    fs.rmSync(chrome.path);
    await w.close();

    // 3. Replay: load the whole trace (as the window does), index it, seek at random.
    gc();
    const heap0 = process.memoryUsage().heapUsed;
    t = performance.now();
    const { records } = await readTraceFile(file);
    const loadMs = performance.now() - t;
    gc();
    const heap = process.memoryUsage().heapUsed - heap0;
    t = performance.now();
    const index = new TraceIndex(records);
    const indexMs = performance.now() - t;
    print(
      `  load for replay: ${ms(loadMs)} (streaming reader, checked), ${mb(heap)} of heap; index: ${ms(indexMs)}, ${index.snapshots} snapshots of which ${index.keyframes} keyframes`,
    );
    let seed = 7;
    const rand = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    const time = (f: () => unknown): number[] => {
      const out: number[] = [];
      for (let i = 0; i < SEEKS; i++) {
        const s = performance.now();
        f();
        out.push(performance.now() - s);
      }
      return out.sort((a, b) => a - b);
    };
    const bySeq = time(() => index.stateAt({ seq: 1 + Math.floor(rand() * index.lastSeq) }));
    const byTime = time(() => index.stateAt({ at: index.startAt + rand() * (index.endAt - index.startAt) }));
    const play = time(() => {
      const a = index.seqAt(index.startAt + rand() * (index.endAt - index.startAt - 1000));
      return index.eventsBetween(a, index.seqAt(index.record(Math.max(a, 1))!.at + 1000));
    });
    const line = (xs: number[]) =>
      `median ${ms(quantile(xs, 0.5))}, p99 ${ms(quantile(xs, 0.99))}, max ${ms(xs.at(-1)!)}`;
    print(`  seek by seq:   ${line(bySeq)} (${SEEKS} random seeks; target < 50 ms)`);
    print(`  seek by time:  ${line(byTime)}`);
    print(`  1 s of play (eventsBetween): ${line(play)}`);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

// `npx tsx bench/trace-bench.ts` runs it alone.
if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) await runTraceBench();
