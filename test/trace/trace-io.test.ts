// TraceWriter and the streaming reader on real temp files.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { ServerEvent } from '../../src-shared/protocol.js';
import { TraceError } from '../../src-shared/trace.js';
import { openTrace, readTraceFile, readTraceStream, readTraceText } from '../../src-main/trace/trace-reader.js';
import { TraceWriter } from '../../src-main/trace/trace-writer.js';
import { nth } from '../helpers/checked.js';
import { until } from '../helpers/cluster.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'raftlab-trace-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
const settings = { heartbeatMs: 100, electionMs: 1000 };

const batch: ServerEvent[] = [
  { type: 'raft', node: 'n1', at: 1000, event: { kind: 'election-timeout', term: 1, pre: false } },
  { type: 'message', at: 1001, from: 'n1', to: 'n2', msgType: 'MsgVote', term: 2, index: 0, logTerm: 0 },
  {
    type: 'log',
    node: 'n1',
    at: 1002,
    level: 'I',
    pkg: 'raft',
    msg: 'n1 became leader at term 2 → ✓ é',
    line: '... I | raft: n1 became leader at term 2 → ✓ é',
  },
  { type: 'ack', id: 'w1' },
  { type: 'error', id: 'w2', message: 'no node named n9' },
  { type: 'error', message: 'n3 exited unexpectedly' },
];

describe('TraceWriter → reader', () => {
  it('round-trips every kind through a file, numbering and stamping records', async () => {
    const file = path.join(dir, 'round.jsonl');
    let now = 5000;
    const w = await TraceWriter.create(file, { nodes: ['n1', 'n2', 'n3'], settings, now: () => now });
    w.action({ id: 'w1', cmd: { type: 'killNode', name: 'n2' } });
    now = 4990; // the wall clock stepped back: `at` must not
    w.events(batch);
    now = 5010;
    w.append({ kind: 'held', msgId: 1, message: { from: 'n1', to: 'n2', msgType: 'MsgApp', term: 2, entries: 1 } });
    w.append({ kind: 'dropped', msgId: 1, message: { from: 'n1', to: 'n2', msgType: 'MsgApp', term: 2, entries: 1 } });
    const last = w.append(
      { kind: 'client', node: 'n1', method: 'PUT', path: '/v2/keys/a', status: 201, ms: 2.5, at: 5020 },
      { n1: 10_020, n2: 5020 },
    );
    expect(last).toMatchObject({ seq: 10, at: 5020, clocks: { n1: 10_020 } });
    await w.close();
    await w.close();
    expect(() => w.action({ id: 'w3', cmd: { type: 'healAll' } })).toThrow(/closed/);

    const t = await readTraceFile(file);
    expect(t.header).toMatchObject({
      format: 'raftlab-trace',
      version: 3,
      createdAt: 5000,
      source: 'local',
      nodes: ['n1', 'n2', 'n3'],
      settings,
    });
    expect(t.records.map((r) => r.seq)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    expect(t.records.map((r) => r.at)).toEqual([5000, 5000, 5000, 5000, 5000, 5000, 5000, 5010, 5010, 5020]);
    expect(t.records.map((r) => r.kind)).toEqual([
      'action',
      'event',
      'event',
      'event',
      'result',
      'result',
      'event',
      'held',
      'dropped',
      'client',
    ]);
    expect(t.records[1]).toEqual({ seq: 2, at: 5000, kind: 'event', event: batch[0] });
    expect(t.records[4]).toEqual({ seq: 5, at: 5000, kind: 'result', id: 'w1', ok: true });
    expect(t.records[5]).toEqual({ seq: 6, at: 5000, kind: 'result', id: 'w2', ok: false, error: 'no node named n9' });
    // The browser paths read the very same file the same way: as text, and as a byte stream
    // (File.stream()) in chunks that split lines and multi-byte characters.
    expect(readTraceText(fs.readFileSync(file, 'utf8'))).toEqual(t);
    expect(await readTraceStream((await fs.openAsBlob(file)).stream())).toEqual(t);
    const bytes = fs.readFileSync(file);
    const chunked = new ReadableStream<Uint8Array>({
      start(c) {
        for (let i = 0; i < bytes.length; i += 7) c.enqueue(bytes.subarray(i, i + 7));
        c.close();
      },
    });
    expect(await readTraceStream(chunked)).toEqual(t);
  });

  it('writes within ~200 ms without being asked, and holds nothing once written', async () => {
    const file = path.join(dir, 'live.jsonl');
    const w = await TraceWriter.create(file, { nodes: ['n1'], settings });
    expect(fs.readFileSync(file, 'utf8').split('\n')).toHaveLength(2); // the header is there at once
    const t0 = Date.now();
    w.events(batch.slice(0, 3));
    expect(w.pendingBytes).toBeGreaterThan(0);
    await until('the records on disk', () => fs.readFileSync(file, 'utf8').split('\n').length === 5, 5000);
    const waited = Date.now() - t0;
    expect(waited).toBeGreaterThanOrEqual(150); // buffered, not written one by one…
    expect(waited).toBeLessThan(2000); // …and not long (loose: the machine is shared)
    await until('nothing pending', () => w.pendingBytes === 0);
    // A burst bigger than the buffer is written at once, not after the timer.
    const w2 = await TraceWriter.create(path.join(dir, 'burst.jsonl'), {
      nodes: ['n1'],
      settings,
      maxBufferBytes: 1000,
      flushMs: 60_000,
    });
    for (let i = 0; i < 20; i++) w2.events(batch.slice(0, 3));
    await until('the burst on disk', () => fs.statSync(w2.file).size > 1000, 5000);
    await Promise.all([w.close(), w2.close()]);
  });

  it('streams records and reports a corrupt line by its number', async () => {
    const file = path.join(dir, 'corrupt.jsonl');
    const w = await TraceWriter.create(file, { nodes: ['n1'], settings });
    for (let i = 0; i < 3; i++) w.events(batch.slice(0, 3));
    await w.close();
    const lines = fs.readFileSync(file, 'utf8').split('\n');
    lines[6] = nth(lines, 6).slice(0, 40); // line 7: cut short, as by a crash mid-write
    fs.writeFileSync(file, lines.join('\n'));
    const t = await openTrace(file);
    const seen: number[] = [];
    const err = await (async () => {
      try {
        for await (const r of t.records) seen.push(r.seq);
      } catch (e) {
        return e;
      }
    })();
    expect(seen).toEqual([1, 2, 3, 4, 5]);
    expect(err).toBeInstanceOf(TraceError);
    expect((err as TraceError).line).toBe(7);
    expect((err as TraceError).message).toMatch(/^line 7: not valid JSON/);
  });

  it('reports a gap in seq, a bad shape and a newer version by line', async () => {
    const file = path.join(dir, 'bad.jsonl');
    const w = await TraceWriter.create(file, { nodes: ['n1'], settings });
    w.events(batch.slice(0, 3));
    await w.close();
    const lines = fs.readFileSync(file, 'utf8').trimEnd().split('\n');

    fs.writeFileSync(file, [lines[0], lines[1], lines[3]].join('\n'));
    await expect(readTraceFile(file)).rejects.toThrow('line 3: seq 3 where 2 was expected');

    fs.writeFileSync(
      file,
      [lines[0], lines[1], nth(lines, 2).replace('"msgType":"MsgVote"', '"msgType":"MsgGossip"')].join('\n'),
    );
    await expect(readTraceFile(file)).rejects.toThrow(/^line 3: event.msgType is "MsgGossip", not one of MsgPreVote/);

    fs.writeFileSync(file, [nth(lines, 0).replace('"version":3', '"version":4'), lines[1]].join('\n'));
    await expect(openTrace(file)).rejects.toThrow('trace version 4 is newer than this raftlab reads (3)');
    await expect(readTraceFile(file)).rejects.toThrow('trace version 4 is newer than this raftlab reads (3)');

    fs.writeFileSync(file, '');
    await expect(readTraceFile(file)).rejects.toThrow('line 1: empty: a trace starts with its header');
    await expect(readTraceFile(path.join(dir, 'missing.jsonl'))).rejects.toThrow(/ENOENT/);
    await expect(openTrace(path.join(dir, 'missing.jsonl'))).rejects.toThrow(/ENOENT/);
  });
});
