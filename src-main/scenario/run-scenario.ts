// Plays a scenario headless on a real cluster (worker-thread nodes, as in the app), recording
// the session trace as the app does: `raftlab run scenario.json --trace out.jsonl`.

import fs from 'node:fs';
import type { ClusterState } from '../../src-shared/cluster-state.js';
import type { CommandResult } from '../../src-shared/command-results.js';
import type { Command } from '../../src-shared/commands.js';
import type { ServerEvent } from '../../src-shared/protocol.js';
import { parseScenario, playScenario, ScenarioError, type Scenario } from '../../src-shared/scenario.js';
import { WindowCore } from '../app/window-core.js';
import { Supervisor } from '../cluster/supervisor.js';
import { exportChromeTrace } from '../trace/chrome-trace.js';
import { parseCommandArgs, UsageError } from '../command-args.js';

export interface RunOptions {
  /** Write the session trace here (JSONL). */
  trace?: string;
  /** Also write it in Chrome's trace format here. */
  chrome?: string;
  heartbeatMs?: number;
  electionMs?: number;
  /** One line per step and outcome (default: nothing). */
  log?: (line: string) => void;
}

export interface RunResult {
  /** Steps (or commands) that failed, with the reason. */
  errors: string[];
  /** The cluster when the scenario ended. */
  final: ClusterState;
}

export async function runScenario(scenario: Scenario, opts: RunOptions = {}): Promise<RunResult> {
  const log = opts.log ?? (() => {});
  const supervisor = new Supervisor({ heartbeatMs: opts.heartbeatMs, electionMs: opts.electionMs });
  const core = new WindowCore(supervisor);
  let cluster: ClusterState = supervisor.snapshot();
  const waiting = new Map<string, (r: { ok: boolean; result?: CommandResult; error?: string }) => void>();
  core.on('events', (batch: ServerEvent[]) => {
    for (const e of batch) {
      if (e.type === 'cluster') cluster = e.cluster;
      else if (e.type === 'ack') waiting.get(e.id)?.({ ok: true, result: e.result });
      else if (e.type === 'error' && e.id) waiting.get(e.id)?.({ ok: false, error: e.message });
    }
  });
  let seq = 0;
  const run = (cmd: Command) =>
    new Promise<{ ok: boolean; error?: string }>((resolve) => {
      const id = `scenario-${++seq}`;
      waiting.set(id, (r) => {
        waiting.delete(id);
        resolve(r);
      });
      void core.handle({ id, cmd });
    });
  try {
    if (opts.trace) await core.record(opts.trace);
    const errors = await playScenario(scenario, { run, cluster: () => cluster, log: (line) => log(line) });
    return { errors, final: cluster };
  } finally {
    await core.stop();
    await supervisor.stop();
    if (opts.trace && opts.chrome) await exportChromeTrace(opts.trace, opts.chrome);
  }
}

const USAGE = `usage: raftlab run SCENARIO.json [--trace OUT.jsonl] [--chrome OUT.json]
  plays a scenario (a list of timed actions, see docs/scenarios.md) on a real cluster, headless`;

const RUN_OPTIONS = { trace: { type: 'string' }, chrome: { type: 'string' } } as const;

/** `raftlab run`: exit 0 when every step ran, 1 when one failed, 2 on a bad file or flag. */
export async function runMain(argv: string[]): Promise<number> {
  let parsed: ReturnType<typeof parseCommandArgs<typeof RUN_OPTIONS>>;
  try {
    parsed = parseCommandArgs(argv, RUN_OPTIONS, 1);
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    console.error(`raftlab run: ${err.message}\n${USAGE}`);
    return 2;
  }
  if (parsed === 'help') {
    console.log(USAGE);
    return 0;
  }
  const file = parsed.positionals[0];
  if (!file) {
    console.error(USAGE);
    return 2;
  }
  const opts: RunOptions = {
    log: (line) => console.log(line),
    trace: parsed.values.trace,
    chrome: parsed.values.chrome,
  };
  for (const name of ['trace', 'chrome'] as const) {
    if (opts[name] === '') {
      console.error(`raftlab run: --${name} needs a file\n${USAGE}`);
      return 2;
    }
  }
  if (opts.chrome && !opts.trace) opts.trace = `${opts.chrome}.jsonl`;
  let scenario: Scenario;
  try {
    scenario = parseScenario(JSON.parse(fs.readFileSync(file, 'utf8')));
  } catch (err) {
    const why =
      err instanceof ScenarioError
        ? err.message
        : err instanceof SyntaxError
          ? `not JSON: ${err.message}`
          : (err as Error).message;
    console.error(`raftlab run: ${file}: ${why}`);
    return 2;
  }
  console.log(`raftlab run: ${scenario.name} (${scenario.steps.length} steps, ${(scenario.end / 1000).toFixed(1)} s)`);
  const r = await runScenario(scenario, opts);
  if (opts.trace) console.log(`trace: ${opts.trace}${opts.chrome ? `; Perfetto: ${opts.chrome}` : ''}`);
  return r.errors.length > 0 ? 1 : 0;
}
