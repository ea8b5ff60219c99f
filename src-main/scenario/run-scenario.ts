// Plays a scenario headless on a real cluster (worker-thread nodes, as in the app), recording
// the session trace as the app does: `raftlab run scenario.json --trace out.jsonl`.

import fs from 'node:fs';
import { agreedLeader, type ClusterState, type Command, type CommandResult, type ServerEvent } from '../../src-shared/protocol.js';
import { describeCommand } from '../../src-shared/narrate.js';
import { commandsFor, parseScenario, ScenarioError, type Scenario } from '../../src-shared/scenario.js';
import { WindowCore } from '../app/window-core.js';
import { Supervisor } from '../cluster/supervisor.js';
import { exportChromeTrace } from '../trace/chrome-trace.js';

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
  const errors: string[] = [];
  const t = (ms: number) => `${(ms / 1000).toFixed(3).padStart(8)}s`;
  try {
    if (opts.trace) await core.record(opts.trace);
    const start = await run({ type: 'startCluster', size: scenario.nodes });
    if (!start.ok) throw new Error(`the cluster did not start: ${start.error}`);
    // Time 0 is when the cluster first has a leader: a scenario's times are relative to a
    // working cluster, whatever the machine's speed.
    const deadline = Date.now() + 20_000;
    while (!agreedLeader(cluster)) {
      if (Date.now() > deadline) throw new Error('no leader within 20 s of starting');
      await sleep(20);
    }
    const t0 = Date.now();
    log(`${t(0)}  ${scenario.nodes} nodes, ${agreedLeader(cluster)!.name} leads term ${agreedLeader(cluster)!.term}`);
    for (const step of scenario.steps) {
      await sleep(t0 + step.at - Date.now());
      let cmds: Command[];
      try {
        cmds = commandsFor(step, cluster);
      } catch (err) {
        const msg = `${t(step.at)}  ${Object.keys(step).find((k) => k !== 'at')}: ${(err as Error).message}`;
        errors.push(msg);
        log(`${msg}  (skipped)`);
        continue;
      }
      // Commands of one step go out together (a partition is all its cuts at once).
      const results = await Promise.all(cmds.map((c) => run(c)));
      cmds.forEach((c, i) => {
        const r = results[i];
        const line = `${t(step.at)}  ${describeCommand(c).replace(/^You /, '')}: ${r.ok ? 'ok' : r.error}`;
        if (!r.ok) errors.push(line);
        log(line);
      });
    }
    await sleep(t0 + scenario.end - Date.now());
    const l = agreedLeader(cluster);
    log(`${t(Date.now() - t0)}  end: ${l ? `${l.name} leads term ${l.term}` : 'no agreed leader'}; ${cluster.nodes.map((n) => `${n.name} ${n.status}`).join(', ')}`);
    return { errors, final: cluster };
  } finally {
    await core.stop();
    await supervisor.stop();
    if (opts.trace && opts.chrome) await exportChromeTrace(opts.trace, opts.chrome);
  }
}

function sleep(ms: number): Promise<void> {
  return ms > 0 ? new Promise((r) => setTimeout(r, ms)) : Promise.resolve();
}

const USAGE = `usage: raftlab run SCENARIO.json [--trace OUT.jsonl] [--chrome OUT.json]
  plays a scenario (a list of timed actions, see docs/scenarios.md) on a real cluster, headless`;

/** `raftlab run`: exit 0 when every step ran, 1 when one failed, 2 on a bad file or flag. */
export async function runMain(argv: string[]): Promise<number> {
  let file: string | undefined;
  const opts: RunOptions = { log: (line) => console.log(line) };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--trace' || a === '--chrome') {
      const v = argv[++i];
      if (!v) {
        console.error(`raftlab run: ${a} needs a file\n${USAGE}`);
        return 2;
      }
      if (a === '--trace') opts.trace = v;
      else opts.chrome = v;
    } else if (a === '-h' || a === '--help') {
      console.log(USAGE);
      return 0;
    } else if (a.startsWith('-') || file) {
      console.error(`raftlab run: unexpected ${a}\n${USAGE}`);
      return 2;
    } else file = a;
  }
  if (!file) {
    console.error(USAGE);
    return 2;
  }
  if (opts.chrome && !opts.trace) opts.trace = `${opts.chrome}.jsonl`;
  let scenario: Scenario;
  try {
    scenario = parseScenario(JSON.parse(fs.readFileSync(file, 'utf8')));
  } catch (err) {
    const why = err instanceof ScenarioError ? err.message : err instanceof SyntaxError ? `not JSON: ${err.message}` : (err as Error).message;
    console.error(`raftlab run: ${file}: ${why}`);
    return 2;
  }
  console.log(`raftlab run: ${scenario.name} (${scenario.steps.length} steps, ${(scenario.end / 1000).toFixed(1)} s)`);
  const r = await runScenario(scenario, opts);
  if (opts.trace) console.log(`trace: ${opts.trace}${opts.chrome ? `; Perfetto: ${opts.chrome}` : ''}`);
  return r.errors.length > 0 ? 1 : 0;
}
