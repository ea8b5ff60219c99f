// A member's V8 young generation, the same in both places a member runs: a `raftlab node`
// process launched as a user launches it (the executable itself, whose shebang gives node
// --max-semi-space-size) and an app member thread (cluster/workers.ts's resourceLimits). Each is
// measured from inside, as V8 sizes it once short-lived garbage has made it grow to its limit.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import { afterAll, describe, expect, it } from 'vitest';
import { MEMBER_YOUNG_GENERATION_MB } from '../../src-main/cluster/workers.js';
import { RAFTLAB_BIN } from '../helpers/processes.js';

// Makes garbage until the young generation has grown as far as it may, then says how big it is.
const MEASURE = `
const v8 = require('node:v8');
const keep = [];
for (let i = 0; i < 3e6; i++) { const o = { a: i, b: 'x' + i }; if (i % 10 === 0) keep.push(o); }
const newSpace = v8.getHeapSpaceStatistics().find((s) => s.space_name === 'new_space').space_size;
const say = JSON.stringify({ execArgv: process.execArgv, newSpaceMB: newSpace / 1048576 });
const wt = require('node:worker_threads');
if (wt.isMainThread) process.stderr.write('V8 ' + say + '\\n'); else wt.parentPort.postMessage(say);
`;

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'raftlab-v8-flags-'));
const measure = path.join(dir, 'measure.cjs');
fs.writeFileSync(measure, MEASURE);
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

describe("a member's young generation", () => {
  it('a `raftlab node` run as an executable gets its V8 flags from the shebang, and an app member thread the same size', async () => {
    // The executable itself, as npm's bin link runs it: `env -S` must pass node the flag.
    const r = spawnSync(RAFTLAB_BIN, ['node', '--version'], {
      env: { ...process.env, NODE_OPTIONS: `--require ${measure}` },
      encoding: 'utf8',
      timeout: 30_000,
    });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^etcd Version: /);
    const proc = JSON.parse(/^V8 (.*)$/m.exec(r.stderr)![1]!) as { execArgv: string[]; newSpaceMB: number };
    expect(proc.execArgv).toContain('--max-semi-space-size=4');
    // Two semi-spaces of 4 MiB (V8's default grows to two of 16).
    expect(proc.newSpaceMB).toBe(8);

    const thread = await new Promise<{ newSpaceMB: number }>((resolve, reject) => {
      const w = new Worker(measure, { resourceLimits: { maxYoungGenerationSizeMb: MEMBER_YOUNG_GENERATION_MB } });
      w.once('message', (m: string) => resolve(JSON.parse(m) as { newSpaceMB: number }));
      w.once('error', reject);
    });
    expect(thread.newSpaceMB).toBe(proc.newSpaceMB);
  }, 60_000);
});
