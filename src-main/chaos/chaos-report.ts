// A chaos run as the window asks for it (the `chaos` command): on the window's own cluster, so
// the faults are seen as they fire, and answered with a JSON-safe ChaosReport.

import type { ChaosReport } from '../../src-shared/history.js';
import type { Command } from '../../src-shared/commands.js';
import type { Supervisor } from '../cluster/supervisor.js';
import { runChaos, type ChaosResult } from './chaos-runner.js';

export async function chaosForWindow(
  supervisor: Supervisor,
  cmd: Extract<Command, { type: 'chaos' }>,
): Promise<ChaosReport> {
  const r = await runChaos({
    supervisor,
    nodes: cmd.nodes ?? 3,
    seconds: cmd.seconds,
    seed: cmd.seed ?? 1,
    breakOnPurpose: cmd.breakOnPurpose ?? false,
    workload: cmd.workload ?? 'v2',
  });
  return toReport(r);
}

export function toReport(r: ChaosResult): ChaosReport {
  return {
    seed: r.seed,
    nodes: r.nodes,
    seconds: r.seconds,
    workload: r.workload,
    ok: r.ok,
    verdict: r.check.verdict,
    violations: r.check.violations.map((v) => ({ key: v.key, ops: [...v.ops], explanation: v.explanation })),
    history: r.history,
    converged: r.converged,
    lostWrites: r.lostWrites,
    divergentKeys: r.divergentKeys,
    problems: r.problems,
    outcomes: r.counts.outcomes,
    faults: r.counts.faults,
    checkMs: r.check.ms,
  };
}
