// "Export trace": the session trace so far, as a file of its own. JSONL is the recorded file
// itself, so an export is a copy (a reflink where the file system has them); Chrome's format
// is a conversion, streamed (chrome-trace.ts).

import fs from 'node:fs';
import path from 'node:path';
import type { ExportTraceResult } from '../../src-shared/command-results.js';
import type { TraceExportFormat } from '../../src-shared/commands.js';
import { exportChromeTrace } from './chrome-trace.js';
import type { TraceWriter } from './trace-writer.js';

/** Writes what `trace` recorded so far into `dir` (default: beside it), as `format`. */
export async function exportTrace(
  trace: TraceWriter,
  format: TraceExportFormat,
  dir = path.dirname(trace.file),
): Promise<ExportTraceResult> {
  await trace.flush();
  const stamp = new Date().toISOString().replace(/[:.]/g, '-').slice(0, 19);
  if (format === 'jsonl') {
    const out = path.join(dir, `raftlab-session-${stamp}.jsonl`);
    if (path.resolve(out) !== path.resolve(trace.file))
      await fs.promises.copyFile(trace.file, out, fs.constants.COPYFILE_FICLONE);
    return { path: out, bytes: (await fs.promises.stat(out)).size };
  }
  const out = path.join(dir, `raftlab-session-${stamp}.chrome.json`);
  const { bytes } = await exportChromeTrace(trace.file, out);
  return { path: out, bytes };
}
