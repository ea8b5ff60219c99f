// Per-stage timestamps of the write path, for measuring where a request's time goes
// (`npm run bench write-latency` reads them: bench/write-latency.ts). Off unless RAFTLAB_STAGES
// names a file: then every stage() is kept in memory, as wall-clock ms with µs precision
// (comparable across processes on one machine), and written to that file when the process exits.

import fs from 'node:fs';
import { performance } from 'node:perf_hooks';

const file = process.env.RAFTLAB_STAGES;
/** True when stages are recorded: callers skip building a detail string otherwise. */
export const stagesOn = !!file;
const lines: string[] = [];

export function stage(name: string, detail = ''): void {
  if (!file) return;
  lines.push(`${(performance.timeOrigin + performance.now()).toFixed(3)} ${name} ${detail}`);
}

if (file) process.on('exit', () => fs.writeFileSync(file, lines.join('\n') + '\n'));
