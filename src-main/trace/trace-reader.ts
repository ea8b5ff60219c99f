// Reads a trace file a chunk or a line at a time, so a long session is never one string in
// memory. The checks are TraceDecoder's (src-shared/trace.ts): the same file is judged the
// same way here and in the window (readTraceText).

import fs from 'node:fs';
import { StringDecoder } from 'node:string_decoder';
import {
  TraceDecoder,
  TraceLineSplitter,
  type Trace,
  type TraceHeader,
  type TraceReadOptions,
  type TraceRecord,
} from '../../src-shared/trace.js';

export { MAX_TRACE_LINE, readTraceStream, readTraceText, TraceError } from '../../src-shared/trace.js';

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
  const chunks = stream[Symbol.asyncIterator]() as AsyncIterator<string>;
  const close = () => stream.destroy();
  const decoder = new TraceDecoder(options);
  // Lines cut from the chunks read so far, not yet decoded (TraceLineSplitter: linear, capped).
  let ready: string[] = [];
  const splitter = new TraceLineSplitter((line) => ready.push(line));
  let ended = false;
  /** The next line, or undefined at the end of the file. */
  async function nextLine(): Promise<string | undefined> {
    while (ready.length === 0) {
      if (ended) return undefined;
      const next = await chunks.next();
      if (next.done) {
        ended = true;
        splitter.end();
      } else splitter.push(next.value);
    }
    return ready.shift();
  }
  try {
    for (;;) {
      const line = await nextLine();
      if (line === undefined) break;
      if (decoder.push(line)) break;
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
        if (ready.length === 0) {
          const line = await nextLine();
          if (line === undefined) return;
          ready.unshift(line);
        }
        // A chunk's worth of lines at a time (no shift() per line on a long queue).
        const batch = ready;
        ready = [];
        for (const line of batch) {
          const r = decoder.push(line);
          if (r) yield r as TraceRecord;
        }
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
    let out: TraceRecord[] = [];
    const lines = new TraceLineSplitter((line) => {
      const r = decoder.push(line);
      if (r && 'kind' in r) out.push(r);
    });
    let next = fh.read(buf, 0, CHUNK, null);
    pending = next;
    for (;;) {
      const { bytesRead } = await next;
      pending = undefined;
      const text = bytesRead > 0 ? utf8.write(buf.subarray(0, bytesRead)) : utf8.end();
      // The string is a copy: the buffer can take the next chunk while this one is handled.
      if (bytesRead > 0) pending = next = fh.read(buf, 0, CHUNK, null);
      lines.push(text);
      if (bytesRead === 0) lines.end();
      if (out.length > 0) {
        const batch = out;
        out = [];
        await each(batch, decoder.header!);
      }
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
  const header = await scanTraceFile(
    file,
    (batch) => {
      for (const r of batch) records.push(r);
    },
    options,
  );
  return { header, records };
}
