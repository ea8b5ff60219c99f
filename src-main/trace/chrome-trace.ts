// A trace as a Chrome trace event file ({ traceEvents, displayTimeUnit }), for Perfetto
// (ui.perfetto.dev) and chrome://tracing: one process "raftlab", one thread per node showing
// its role over time ("leader term 3"), Raft events and log lines as instants on it, peer
// messages as flow arrows between node threads, the user's actions on a "user" thread.
// Written as it is converted, so a trace of any length streams through (an hour's, ~150 MB,
// in a few seconds: most of it JSON.parse of the records and JSON.stringify of the events).

import fs from 'node:fs';
import { once } from 'node:events';
import { describeCommand, narrate } from '../../src-shared/narrate.js';
import type { MessageSummary, NodeStatus } from '../../src-shared/cluster-state.js';
import type { Command } from '../../src-shared/commands.js';
import type { RaftEvent, Role } from '../../src-shared/raft-types.js';
import type { TraceHeader, TraceRecord } from '../../src-shared/trace.js';
import { scanTraceFile } from './trace-reader.js';

/** One Chrome trace event (only the fields raftlab uses). `ts` and `dur` are µs. */
export interface ChromeEvent {
  name: string;
  ph: 'M' | 'X' | 'i' | 's' | 'f' | 'b' | 'e';
  ts: number;
  pid: number;
  tid: number;
  cat?: string;
  dur?: number;
  /** Instant scope: thread. */
  s?: 't';
  id?: number;
  /** Flow end binds to the enclosing slice. */
  bp?: 'e';
  args?: Record<string, unknown>;
}

export interface ChromeTraceOptions {
  /**
   * Live peer messages: 'flow' arrows from sender to receiver plus an instant (default),
   * 'instant' only, or 'none'. Step-mode fates (held → delivered) are always drawn.
   */
  messages?: 'flow' | 'instant' | 'none';
}

const PID = 1;
const USER_TID = 1;

/** What role periods need of a node, as of the last cluster snapshot or delta. */
interface NodeLook {
  name: string;
  id: string;
  status: NodeStatus;
  role: Role;
  term: number;
}

interface Period {
  status: NodeStatus;
  role: Role;
  term: number;
  /** ms */
  since: number;
}

/**
 * Turns records into Chrome events, one record at a time (pure; no I/O). Timestamps are µs
 * since the header's createdAt. Role periods are emitted when they end, so call end().
 */
export class ChromeTraceConverter {
  private readonly t0: number;
  private readonly tids = new Map<string, number>();
  private readonly periods = new Map<string, Period>();
  private readonly nameById = new Map<string, string>();
  private readonly actions = new Map<string, Command>();
  /** The nodes as of the last snapshot; deltas patch these few fields (not whole states). */
  private nodes: NodeLook[] = [];
  private nextTid = USER_TID + 1;
  private flowId = 0;
  private lastAt = 0;

  constructor(
    readonly header: TraceHeader,
    private readonly options: ChromeTraceOptions = {},
  ) {
    this.t0 = header.createdAt;
  }

  /** Process and thread names; first in the file. */
  begin(): ChromeEvent[] {
    const out: ChromeEvent[] = [
      meta('process_name', 0, { name: 'raftlab' }),
      meta('thread_name', USER_TID, { name: 'user' }),
      meta('thread_sort_index', USER_TID, { sort_index: 0 }),
    ];
    for (const n of this.header.nodes) this.tid(n, out);
    return out;
  }

  push(r: TraceRecord): ChromeEvent[] {
    const out: ChromeEvent[] = [];
    this.lastAt = Math.max(this.lastAt, r.at);
    switch (r.kind) {
      case 'event': {
        const e = r.event;
        switch (e.type) {
          case 'cluster':
            this.nodes = e.cluster.nodes.map((n) => ({
              name: n.name,
              id: n.id,
              status: n.status,
              role: n.role,
              term: n.term,
            }));
            this.snapshot(r.at, out);
            break;
          case 'cluster-delta':
            if (e.nodes) {
              for (const n of this.nodes) {
                const set = Object.hasOwn(e.nodes, n.name) ? e.nodes[n.name]?.set : undefined;
                if (!set) continue;
                if (set.id !== undefined) n.id = set.id;
                if (set.status !== undefined) n.status = set.status;
                if (set.role !== undefined) n.role = set.role;
                if (set.term !== undefined) n.term = set.term;
              }
            }
            this.snapshot(r.at, out);
            break;
          case 'raft': {
            const tid = this.tid(e.node, out);
            const ev = e.event;
            if (ev.kind === 'role') {
              const p = this.periods.get(e.node);
              this.period(
                e.node,
                tid,
                { status: p?.status ?? 'alive', role: ev.role, term: ev.term, since: e.at },
                out,
              );
            }
            const text = narrate(e.node, ev, (id) => this.nameById.get(id) ?? id)?.text;
            out.push(
              this.instant(
                raftName(ev, (id) => this.nameById.get(id) ?? id),
                'raft',
                e.at,
                tid,
                text ? { text, ...ev } : { ...ev },
              ),
            );
            break;
          }
          case 'message':
            this.message(e, e.at, out);
            break;
          case 'log':
            out.push(
              this.instant(`${e.level} ${e.pkg}: ${e.msg}`.slice(0, 120), 'log', e.at, this.tid(e.node, out), {
                line: e.line,
              }),
            );
            break;
          case 'error':
            out.push(
              this.instant(`error: ${e.message}`.slice(0, 120), 'error', r.at, USER_TID, { message: e.message }),
            );
            break;
        }
        break;
      }
      case 'action':
        this.actions.set(r.id, r.cmd);
        out.push(this.instant(describeCommand(r.cmd), 'action', r.at, USER_TID, { id: r.id, ...r.cmd }));
        break;
      case 'result': {
        const what = this.actions.get(r.id);
        this.actions.delete(r.id);
        const label = what ? describeCommand(what) : r.id;
        out.push(
          r.ok
            ? this.instant(`done: ${label}`, 'result', r.at, USER_TID, { id: r.id, result: r.result })
            : this.instant(`failed: ${label}`, 'result', r.at, USER_TID, { id: r.id, error: r.error }),
        );
        break;
      }
      case 'held':
      case 'delivered':
      case 'dropped': {
        const m = r.message;
        const from = this.tids.get(m.from);
        const to = this.tids.get(m.to);
        const tid = (r.kind === 'delivered' ? to : from) ?? USER_TID;
        out.push(this.instant(`${r.kind} ${m.msgType} ${m.from}→${m.to}`, 'step', r.at, tid, { msgId: r.msgId, ...m }));
        // Step-mode flows run from hold to delivery: ids above 2^31 keep clear of live messages'.
        if (r.kind === 'held' && from !== undefined)
          out.push(this.flow('s', 'step', m.msgType, 2 ** 31 + r.msgId, r.at, from));
        if (r.kind === 'delivered' && to !== undefined)
          out.push(this.flow('f', 'step', m.msgType, 2 ** 31 + r.msgId, r.at, to));
        break;
      }
      case 'fork': {
        const { seq: _s, at: _a, kind: _k, clocks: _c, ...fork } = r;
        out.push(this.instant(`branch ${r.branch}: resumed from branch ${r.parent}`, 'fork', r.at, USER_TID, fork));
        break;
      }
      case 'client': {
        // Async slices: concurrent requests overlap freely, which nested slices cannot.
        const id = ++this.flowId;
        const name = `${r.method} ${r.path}`.slice(0, 120);
        const args = { node: r.node, status: r.status, ms: r.ms, ...(r.error ? { error: r.error } : {}) };
        const tid = this.tid(r.node, out);
        out.push({ name, ph: 'b', cat: 'client', id, ts: this.us(r.at - r.ms), pid: PID, tid, args });
        out.push({ name, ph: 'e', cat: 'client', id, ts: this.us(r.at), pid: PID, tid });
        break;
      }
    }
    return out;
  }

  /** A cluster snapshot (whole or as a delta) shown at `at`: `nodes` is up to date. */
  private snapshot(at: number, out: ChromeEvent[]): void {
    for (const n of this.nodes) {
      if (n.id) this.nameById.set(n.id, n.name);
      const tid = this.tid(n.name, out);
      const p = this.periods.get(n.name);
      // Snapshots lag the node's own role events by up to ~100 ms: they change the role
      // only when the status changes or they show a term the events have not told.
      if (!p || p.status !== n.status)
        this.period(n.name, tid, { status: n.status, role: n.role, term: n.term, since: at }, out);
      else if (n.term > p.term) this.period(n.name, tid, { ...p, role: n.role, term: n.term, since: at }, out);
    }
  }

  /** Closes every open role period at the last record's time. */
  end(): ChromeEvent[] {
    const out: ChromeEvent[] = [];
    for (const [name, p] of this.periods) out.push(this.slice(name, p, this.lastAt));
    this.periods.clear();
    return out;
  }

  private tid(node: string, out: ChromeEvent[]): number {
    let t = this.tids.get(node);
    if (t === undefined) {
      t = this.nextTid++;
      this.tids.set(node, t);
      out.push(meta('thread_name', t, { name: node }), meta('thread_sort_index', t, { sort_index: t }));
    }
    return t;
  }

  private period(node: string, tid: number, next: Period, out: ChromeEvent[]): void {
    const p = this.periods.get(node);
    if (p && p.status === next.status && p.role === next.role && p.term === next.term) return;
    // Node times and record times interleave: a period never starts before the one it ends.
    if (p) {
      next.since = Math.max(next.since, p.since);
      if (next.since > p.since) out.push(this.slice(node, p, next.since));
    }
    this.periods.set(node, next);
  }

  private slice(node: string, p: Period, until: number): ChromeEvent {
    const name = p.status === 'alive' ? `${p.role} term ${p.term}` : p.status;
    const ts = this.us(p.since);
    return {
      name,
      ph: 'X',
      cat: 'role',
      ts,
      dur: Math.max(0, this.us(until) - ts),
      pid: PID,
      tid: this.tids.get(node)!,
      args: { status: p.status, role: p.role, term: p.term },
    };
  }

  private message(m: MessageSummary, at: number, out: ChromeEvent[]): void {
    const mode = this.options.messages ?? 'flow';
    if (mode === 'none') return;
    const from = this.tids.get(m.from);
    if (from === undefined) return;
    const { from: _f, to: _t, msgType, ...args } = m;
    out.push(this.instant(`${msgType} → ${m.to}`, 'message', at, from, args));
    const to = this.tids.get(m.to);
    if (mode === 'flow' && to !== undefined) {
      const id = ++this.flowId;
      out.push(this.flow('s', 'message', msgType, id, at, from), this.flow('f', 'message', msgType, id, at, to));
    }
  }

  private flow(ph: 's' | 'f', cat: string, name: string, id: number, at: number, tid: number): ChromeEvent {
    const e: ChromeEvent = { name, ph, cat, id, ts: this.us(at), pid: PID, tid };
    if (ph === 'f') e.bp = 'e';
    return e;
  }

  private instant(name: string, cat: string, at: number, tid: number, args?: Record<string, unknown>): ChromeEvent {
    return { name, ph: 'i', s: 't', cat, ts: this.us(at), pid: PID, tid, ...(args ? { args } : {}) };
  }

  /** ms since the trace began → µs (never negative: a node may stamp an event just before). */
  private us(at: number): number {
    return Math.max(0, Math.round((at - this.t0) * 1000));
  }
}

function meta(name: string, tid: number, args: Record<string, unknown>): ChromeEvent {
  return { name, ph: 'M', ts: 0, pid: PID, tid, args };
}

function raftName(e: RaftEvent, nameOf: (id: string) => string): string {
  switch (e.kind) {
    case 'role':
      return `${e.role} term ${e.term}`;
    case 'term':
      return `term ${e.from} → ${e.to}`;
    case 'election-timeout':
      return e.pre ? `election timeout (pre-vote for term ${e.term + 1})` : `election timeout → term ${e.term + 1}`;
    case 'vote':
      return `${e.granted ? 'votes' : 'refuses'}${e.pre ? ' (pre)' : ''} ${nameOf(e.candidate)} term ${e.term}`;
    case 'vote-result':
      return `${e.pre ? 'pre-votes' : 'votes'} ${e.votes}/${e.needed} term ${e.term}`;
    case 'append':
      return e.first === e.last ? `append ${e.first}` : `append ${e.first}–${e.last}`;
    case 'truncate':
      return `truncate from ${e.from}`;
    case 'commit':
      return `commit ${e.index}`;
    case 'apply':
      return `apply ${e.index}`;
    case 'conf':
      return `conf ${e.change.type} ${nameOf(e.change.id)} at ${e.index}`;
    case 'snapshot-created':
      return `snapshot at ${e.index}`;
    case 'snapshot-sent':
      return `snapshot ${e.index} → ${nameOf(e.to)}`;
    case 'snapshot-installed':
      return `installed snapshot ${e.index}`;
    case 'check-quorum-lost':
      return 'check quorum lost';
    case 'transfer-start':
      return `transfer → ${nameOf(e.to)}`;
    case 'transfer-abort':
      return `transfer aborted: ${e.reason}`;
    case 'removed':
      return 'removed';
  }
}

// ------------------------------------------------------------------ streaming to a file

export interface ChromeTraceStats {
  events: number;
  bytes: number;
}

/** Bytes of JSON text gathered before they are handed to the file. */
const WRITE_CHUNK = 1 << 20;

/**
 * Writes Chrome events as the JSON object form's text into a file, as they come. Each event's
 * JSON goes straight into a byte buffer: building one big string and encoding it afterwards
 * costs more than all of JSON.stringify on an hour's 1.7 million events.
 */
class ChromeTraceFile {
  events = 0;
  bytes = 0;
  private buf = Buffer.allocUnsafe(WRITE_CHUNK);
  private off = 0;
  private ready: Buffer[] = [];
  private failed: Error | undefined;
  private readonly stream: fs.WriteStream;

  constructor(out: string, header: TraceHeader) {
    // A deep buffer: the disk writes one chunk while the next ones are converted; conversion
    // waits only when the disk is that far behind.
    this.stream = fs.createWriteStream(out, { highWaterMark: 8 * WRITE_CHUNK });
    this.stream.on('error', (err) => (this.failed ??= err));
    this.put(
      '{"displayTimeUnit":"ms","otherData":' +
        JSON.stringify({
          format: 'raftlab',
          createdAt: new Date(header.createdAt).toISOString(),
          source: header.source,
          ...header.settings,
        }) +
        ',"traceEvents":[',
    );
  }

  add(evs: ChromeEvent[]): void {
    for (const e of evs) {
      this.put(this.events++ === 0 ? '\n' : ',\n');
      this.put(JSON.stringify(e));
    }
  }

  /** Hands the chunks filled so far to the file (and, when `all`, the one being filled). */
  async flush(all = false): Promise<void> {
    if (this.failed) throw this.failed;
    if (all) this.seal(0);
    if (this.ready.length === 0) return;
    let ok = true;
    for (const b of this.ready) ok = this.stream.write(b);
    this.ready = [];
    if (!ok) await once(this.stream, 'drain'); // rejects if the stream fails meanwhile
    if (this.failed) throw this.failed;
  }

  async close(): Promise<ChromeTraceStats> {
    this.put('\n]}\n');
    await this.flush(true);
    await new Promise<void>((resolve, reject) =>
      this.stream.end((err?: Error | null) => (err ? reject(err) : resolve())),
    );
    if (this.failed) throw this.failed;
    return { events: this.events, bytes: this.bytes };
  }

  destroy(): void {
    this.stream.destroy();
  }

  private put(s: string): void {
    // UTF-8 takes at most 3 bytes per UTF-16 unit.
    if (this.off + 3 * s.length > this.buf.length) this.seal(3 * s.length);
    const n = this.buf.write(s, this.off);
    this.off += n;
    this.bytes += n;
  }

  /** Sets the chunk being filled aside for the file; the next one holds at least `room` bytes. */
  private seal(room: number): void {
    if (this.off > 0) this.ready.push(this.buf.subarray(0, this.off));
    this.buf = Buffer.allocUnsafe(Math.max(WRITE_CHUNK, room));
    this.off = 0;
  }
}

/**
 * Writes header + records as a Chrome trace JSON file at `out`, streaming: events are written
 * in ~1 MiB chunks as they are made, waiting for the disk when it lags far behind.
 */
export async function writeChromeTrace(
  header: TraceHeader,
  records: AsyncIterable<TraceRecord> | Iterable<TraceRecord>,
  out: string,
  options: ChromeTraceOptions = {},
): Promise<ChromeTraceStats> {
  const conv = new ChromeTraceConverter(header, options);
  const file = new ChromeTraceFile(out, header);
  try {
    file.add(conv.begin());
    for await (const r of records) {
      file.add(conv.push(r));
      await file.flush();
    }
    file.add(conv.end());
    return await file.close();
  } catch (err) {
    file.destroy();
    throw err;
  }
}

/**
 * Converts a trace file to a Chrome trace file, reading and writing as it goes: the trace is
 * read a chunk (~1 MB) at a time (scanTraceFile), each chunk converted before the next.
 */
export async function exportChromeTrace(
  traceFile: string,
  out: string,
  options: ChromeTraceOptions = {},
): Promise<ChromeTraceStats> {
  let sink: { conv: ChromeTraceConverter; file: ChromeTraceFile } | undefined;
  const open = (header: TraceHeader) => {
    if (!sink) {
      sink = { conv: new ChromeTraceConverter(header, options), file: new ChromeTraceFile(out, header) };
      sink.file.add(sink.conv.begin());
    }
    return sink;
  };
  try {
    const header = await scanTraceFile(traceFile, async (records, header) => {
      const { conv, file } = open(header);
      for (const r of records) file.add(conv.push(r));
      await file.flush();
    });
    const { conv, file } = open(header); // (here first for a trace of no records)
    file.add(conv.end());
    return await file.close();
  } catch (err) {
    sink?.file.destroy();
    throw err;
  }
}
