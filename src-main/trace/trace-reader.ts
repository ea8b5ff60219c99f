// Reads a trace file line by line (readline over a stream), so a long session is never one
// string in memory. The checks are TraceDecoder's (src-shared/trace.ts): the same file is
// judged the same way here and in the window (readTraceText).

import fs from 'node:fs';
import readline from 'node:readline';
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

/**
 * The whole trace in memory (replay, tests); to go through a big file once, prefer openTrace.
 * Lines are taken from readline's events rather than an async iterator: no promise per line,
 * which is measurably faster on an hour-long trace.
 */
export async function readTraceFile(file: string, options: TraceReadOptions = {}): Promise<Trace> {
  const stream = fs.createReadStream(file, { encoding: 'utf8', highWaterMark: 256 * 1024 });
  const rl = readline.createInterface({ input: stream, crlfDelay: Infinity });
  const decoder = new TraceDecoder(options);
  const records: TraceRecord[] = [];
  let failure: unknown;
  rl.on('line', (line) => {
    if (failure !== undefined) return;
    try {
      const r = decoder.push(line);
      if (r && 'kind' in r) records.push(r);
    } catch (err) {
      failure = err;
      rl.close();
      stream.destroy();
    }
  });
  await new Promise<void>((resolve, reject) => {
    // readline passes on the file's errors (a missing file, say) as its own.
    rl.on('error', (err) => {
      failure ??= err;
      rl.close();
    });
    rl.on('close', () => (failure === undefined ? resolve() : reject(failure)));
  });
  return { header: decoder.end(), records };
}
