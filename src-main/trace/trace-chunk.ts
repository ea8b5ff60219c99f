// Reads a trace file being written, a piece at a time: whole lines from a byte offset, for the
// window that rewinds the live session (RaftlabBridge.readTrace). A line the writer has only
// half written yet is left for the next read.

import fs from 'node:fs';
import { TRACE_CHUNK_MAX, type TraceChunk } from '../../src-shared/bridge.js';

export async function readTraceChunk(file: string, from: number, max: number): Promise<TraceChunk> {
  if (!Number.isSafeInteger(from) || from < 0) throw new Error('readTrace: from must be a byte offset');
  const want = Math.max(1024, Math.min(Number.isFinite(max) ? max : TRACE_CHUNK_MAX, TRACE_CHUNK_MAX));
  const fh = await fs.promises.open(file, 'r');
  try {
    const size = (await fh.stat()).size;
    if (from >= size) return { text: '', next: Math.min(from, size), size };
    // Grow the read until it holds a whole line (a line longer than `want` is rare: a huge snapshot).
    for (let len = Math.min(want, size - from); ; len = Math.min(len * 2, size - from)) {
      const buf = Buffer.allocUnsafe(len);
      const { bytesRead } = await fh.read(buf, 0, len, from);
      // Cut after the last newline: 0x0A never occurs inside a multi-byte UTF-8 character.
      const end = buf.subarray(0, bytesRead).lastIndexOf(0x0a) + 1;
      if (end > 0) return { text: buf.subarray(0, end).toString('utf8'), next: from + end, size };
      if (from + bytesRead >= size) return { text: '', next: from, size };
    }
  } finally {
    await fh.close();
  }
}
