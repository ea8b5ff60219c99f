// Long lines in a trace: read in time linear in their length (the window's reader used to grow
// a partial line with += and search it from its start on every 64 KiB chunk: a 50 MB line took
// 24 s), and a line over MAX_TRACE_LINE (16 MiB) refused with its line number, by every reader.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { newTraceHeader, traceLine, TraceError } from '../../src-shared/trace.js';
import {
  MAX_TRACE_LINE,
  openTrace,
  readTraceFile,
  readTraceStream,
  readTraceText,
} from '../../src-main/trace/trace-reader.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'raftlab-longline-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

/** A valid trace whose second line (a log event) is about `mb` MB long, then one short record. */
function traceWithLongLine(mb: number): Buffer {
  const header = traceLine(
    newTraceHeader({ nodes: ['n1'], settings: { heartbeatMs: 100, electionMs: 1000 }, createdAt: 1 }),
  );
  const msg = 'x'.repeat(Math.round(mb * 1024 * 1024));
  const long = JSON.stringify({
    seq: 1,
    at: 1,
    kind: 'event',
    event: { type: 'log', node: 'n1', at: 1, level: 'I', pkg: 'raft', msg, line: 'l' },
  });
  const short = JSON.stringify({ seq: 2, at: 2, kind: 'result', id: 'a', ok: true });
  return Buffer.from(`${header}\n${long}\n${short}\n`);
}

/** As the window gets a file: File.stream(), in 64 KiB chunks. */
function fileStream(bytes: Buffer): ReadableStream<Uint8Array> {
  let at = 0;
  return new ReadableStream<Uint8Array>({
    pull(c) {
      if (at >= bytes.length) return c.close();
      c.enqueue(bytes.subarray(at, at + 65536));
      at += 65536;
    },
  });
}

/** The quickest of five runs of each, in ms, the runs taken in turn so that a busy spell on the
 * machine slows both alike (its other load only ever adds time). */
async function fastestInTurn(runs: Array<() => Promise<unknown>>): Promise<number[]> {
  const best = runs.map(() => Infinity);
  for (let i = 0; i < 5; i++) {
    for (const [k, f] of runs.entries()) {
      const t0 = performance.now();
      await f();
      best[k] = Math.min(best[k]!, performance.now() - t0);
    }
  }
  return best;
}

describe('long trace lines', () => {
  it('the window reads a long line in linear time, and refuses one over 16 MiB naming its line', async () => {
    expect(MAX_TRACE_LINE).toBe(16 * 1024 * 1024);
    const five = traceWithLongLine(5);
    const fifteen = traceWithLongLine(15);
    const fifty = traceWithLongLine(50);
    const read5 = await readTraceStream(fileStream(five));
    expect(read5.records).toHaveLength(2);
    expect((await readTraceStream(fileStream(fifteen))).records).toHaveLength(2);

    const [t5 = NaN, t15 = NaN, t50 = NaN] = await fastestInTurn([
      () => readTraceStream(fileStream(five)),
      () => readTraceStream(fileStream(fifteen)),
      () => readTraceStream(fileStream(fifty)).catch((e: unknown) => e),
    ]);
    const refusal = await readTraceStream(fileStream(fifty)).catch((e: unknown) => e);
    expect(refusal).toBeInstanceOf(TraceError);
    expect((refusal as TraceError).message).toBe(
      'line 2: longer than 16 MiB, the longest line a trace may have (is this a trace?)',
    );
    console.log(
      `long trace lines: 5 MB ${t5.toFixed(0)} ms, 15 MB ${t15.toFixed(0)} ms, 50 MB refused in ${t50.toFixed(0)} ms`,
    );
    // Linear: 3× the line, about 3× the time (quadratic splitting made it ~9×, and the 50 MB
    // line took 24 s). Generous bounds, so that load on the machine cannot fail them.
    expect(t15).toBeLessThan(6 * t5 + 250);
    // Refused once 16 MiB are in hand: the rest of the 50 MB is never split or parsed.
    expect(t50).toBeLessThan(8 * t5 + 200);
  }, 120_000);

  it('the main process readers and readTraceText refuse it the same way', async () => {
    const file = path.join(dir, 'fifty.jsonl');
    const fifty = traceWithLongLine(50);
    fs.writeFileSync(file, fifty);
    const expected = /^line 2: longer than 16 MiB/;
    await expect(readTraceFile(file)).rejects.toThrow(expected);
    const opened = await openTrace(file);
    await expect(
      (async () => {
        for await (const _ of opened.records) {
          /* reading */
        }
      })(),
    ).rejects.toThrow(expected);
    expect(() => readTraceText(fifty.toString())).toThrow(expected);
    // A long line in the header's place: line 1.
    fs.writeFileSync(file, `${'{'.repeat(17 * 1024 * 1024)}\n`);
    await expect(openTrace(file)).rejects.toThrow(/^line 1: longer than 16 MiB/);

    // Under the cap, every reader reads the same records.
    const small = path.join(dir, 'five.jsonl');
    fs.writeFileSync(small, traceWithLongLine(5));
    const whole = await readTraceFile(small);
    expect(whole.records.map((r) => r.seq)).toEqual([1, 2]);
    const seen: number[] = [];
    for await (const r of (await openTrace(small)).records) seen.push(r.seq);
    expect(seen).toEqual([1, 2]);
    expect(readTraceText(fs.readFileSync(small, 'utf8'))).toEqual(whole);
  }, 120_000);
});
