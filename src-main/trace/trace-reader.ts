// Reads a trace file a chunk or a line at a time, so a long session is never one string in
// memory. The checks are TraceDecoder's (src-shared/trace.ts): the same file is judged the
// same way here and in the window (readTraceText).

import fs from 'node:fs';
import readline from 'node:readline';
import { StringDecoder } from 'node:string_decoder';
import {
  TraceDecoder, type Trace, type TraceHeader, type TraceReadOptions, type TraceRecord,
} from '../../src-shared/trace.js';

export { readTraceStream, readTraceText, TraceError } from '../../src-shared/trace.js';

export interface OpenTrace {
  header: TraceHeader;
  /** The records in order; iterate once. Throws TraceError (with the line) on a bad one. */
  records: AsyncIterable<TraceRecord>;
  /** Stops reading early and closes the file (iterating to the end closes it too). */
  close(): void;
}

/** Opens a trace and reads its header; the records follow as they are iterated. */
export async function openTrace(file: string, options: TraceReadOptions = {}): Promise<OpenTrace> {
  const stream = fs.createReadStream(file, { encoding: 'utf8', highWaterMark: 256 * 1024 });
  const rl = readline.createInterface({ input: stream, crlfDelay: Infinity });
  const lines = rl[Symbol.asyncIterator]();
  const close = () => {
    rl.close();
    stream.destroy();
  };
  const decoder = new TraceDecoder(options);
  try {
    for (;;) {
      const next = await lines.next();
      if (next.done) break;
      if (decoder.push(next.value)) break;
    }
    decoder.end();
  } catch (err) {
    close();
    throw err;
  }
  const header = decoder.header!;
  async function* records(): AsyncGenerator<TraceRecord> {
    try {
      for (;;) {
        const next = await lines.next();
        if (next.done) return;
        const r = decoder.push(next.value);
        if (r) yield r as TraceRecord;
      }
    } finally {
      close();
    }
  }
  return { header, records: records(), close };
}

/** Bytes read at a time by scanTraceFile. */
const CHUNK = 1 << 20;

/**
 * Goes through a whole trace file, checking every line, and hands over its records a chunk
 * (~1 MB) at a time, in order; resolves with the header. `each` may return a promise, waited
 * for before the next chunk is handed over (a writer's backpressure). The next chunk is read
 * while one is handled, and there is no promise or event per line: the fast way through a big
 * file (readTraceFile, the Chrome export). Throws TraceError (with the line) on a bad line.
 */
export async function scanTraceFile(
  file: string,
  each: (records: TraceRecord[], header: TraceHeader) => void | Promise<void>,
  options: TraceReadOptions = {},
): Promise<TraceHeader> {
  const fh = await fs.promises.open(file, 'r');
  const buf = Buffer.allocUnsafe(CHUNK);
  let pending: Promise<{ bytesRead: number }> | undefined;
  try {
    const decoder = new TraceDecoder(options);
    const utf8 = new StringDecoder('utf8');
    const take = (line: string, out: TraceRecord[]) => {
      const r = decoder.push(line.endsWith('\r') ? line.slice(0, -1) : line);
      if (r && 'kind' in r) out.push(r);
    };
    let rest = '';
    let next = fh.read(buf, 0, CHUNK, null);
    pending = next;
    for (;;) {
      const { bytesRead } = await next;
      pending = undefined;
      const text = rest + (bytesRead > 0 ? utf8.write(buf.subarray(0, bytesRead)) : utf8.end());
      // The string is a copy: the buffer can take the next chunk while this one is handled.
      if (bytesRead > 0) pending = next = fh.read(buf, 0, CHUNK, null);
      const out: TraceRecord[] = [];
      let start = 0;
      for (let nl = text.indexOf('\n'); nl >= 0; nl = text.indexOf('\n', start)) {
        take(text.slice(start, nl), out);
        start = nl + 1;
      }
      rest = text.slice(start);
      if (bytesRead === 0 && rest !== '') take(rest, out);
      if (out.length > 0) await each(out, decoder.header!);
      if (bytesRead === 0) return decoder.end();
    }
  } finally {
    await pending?.catch(() => {});
    await fh.close();
  }
}

/** The whole trace in memory (replay, tests); to go through a big file once, prefer scanTraceFile. */
export async function readTraceFile(file: string, options: TraceReadOptions = {}): Promise<Trace> {
  const records: TraceRecord[] = [];
  const header = await scanTraceFile(file, (batch) => {
    for (const r of batch) records.push(r);
  }, options);
  return { header, records };
}
