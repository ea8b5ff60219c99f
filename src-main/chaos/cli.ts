// `raftlab chaos --nodes 5 --seconds 60 --seed N`: a chaos run on a real cluster (see
// chaos-runner.ts), summarized: operations by outcome, the fault timeline, violations with the
// operations that cannot be ordered, lost writes. Exit status 1 on any violation, lost write,
// divergence or failure to converge; 2 on bad arguments.

import fs from 'node:fs';
import { CHAOS_WORKLOADS, formatOp, formatTime, type ChaosWorkload } from '../../src-shared/history.js';
import { runChaos, type ChaosOptions, type ChaosResult } from './chaos-runner.js';
import { ALL_FAULTS, type FaultKind } from './faults.js';
import { intOption, parseCommandArgs, UsageError } from '../command-args.js';

const USAGE = `usage: raftlab chaos [--nodes N] [--seconds S] [--seed N] [options]
  --nodes N           cluster size, 1..7 (default 3)
  --seconds S         how long faults and clients run (default 15)
  --seed N            seeds the fault schedule and the clients (default: random, printed)
  --clients N         concurrent clients (default 5)
  --keys N            keys /k0.. (default 3)
  --workload W        v2 (keys API, default), v3 (Put, linearizable Range, Txn
                      compare-and-swap through the /v3 gateway) or mixed (both)
  --timeout MS        per-request deadline (default 1500)
  --faults a,b,...    only these: ${ALL_FAULTS.join(', ')}
  --break             breaks on purpose: reads without quorum, from cut-off nodes
  --json FILE         write the whole result (history, faults, verdict) as JSON
  --quiet             no progress lines
`;

export async function chaosMain(
  argv: string[],
  out: (s: string) => void = (s) => process.stdout.write(s),
): Promise<number> {
  let parsed: ReturnType<typeof chaosArgs>;
  try {
    parsed = chaosArgs(argv);
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    process.stderr.write(`raftlab chaos: ${err.message}\n${USAGE}`);
    return 2;
  }
  if (parsed === 'help') {
    out(USAGE);
    return 0;
  }
  const { opts, json, quiet } = parsed;
  out(
    `raftlab chaos: ${opts.nodes} nodes, ${opts.seconds} s, seed ${opts.seed}, ${opts.workload ?? 'v2'} workload${opts.breakOnPurpose ? ', BREAKING ON PURPOSE' : ''}\n`,
  );
  const result = await runChaos({ ...opts, log: quiet ? undefined : (line) => out(`  … ${line}\n`) });
  out(summarize(result));
  if (json) fs.writeFileSync(json, `${JSON.stringify(result, null, 2)}\n`);
  return result.ok ? 0 : 1;
}

const OPTIONS = {
  nodes: { type: 'string' },
  seconds: { type: 'string' },
  seed: { type: 'string' },
  clients: { type: 'string' },
  keys: { type: 'string' },
  workload: { type: 'string' },
  timeout: { type: 'string' },
  faults: { type: 'string' },
  break: { type: 'boolean' },
  json: { type: 'string' },
  quiet: { type: 'boolean' },
} as const;

/** The command line as chaos options; throws UsageError. */
export function chaosArgs(argv: string[]): { opts: ChaosOptions; json?: string; quiet: boolean } | 'help' {
  const parsed = parseCommandArgs(argv, OPTIONS, 0);
  if (parsed === 'help') return 'help';
  const v = parsed.values;
  const opts: ChaosOptions = {
    nodes: intOption('nodes', v.nodes, 1, 7, 3),
    seconds: intOption('seconds', v.seconds, 1, 3600, 15),
    seed: intOption('seed', v.seed, 0, 2 ** 31 - 1, Math.floor(Math.random() * 1e6)),
  };
  if (v.clients !== undefined) opts.clients = intOption('clients', v.clients, 1, 64, 0);
  if (v.keys !== undefined) opts.keys = intOption('keys', v.keys, 1, 100, 0);
  if (v.workload !== undefined) {
    if (!(CHAOS_WORKLOADS as readonly string[]).includes(v.workload))
      throw new UsageError(`--workload must be ${CHAOS_WORKLOADS.join(', ')}`);
    opts.workload = v.workload as ChaosWorkload;
  }
  if (v.timeout !== undefined) opts.requestTimeoutMs = intOption('timeout', v.timeout, 50, 60_000, 0);
  if (v.faults !== undefined) {
    const kinds = v.faults.split(',').filter(Boolean);
    const bad = kinds.filter((k) => !(ALL_FAULTS as readonly string[]).includes(k));
    if (bad.length > 0) throw new UsageError(`unknown fault ${bad.join(', ')}`);
    opts.faults = kinds as FaultKind[];
  }
  if (v.break) opts.breakOnPurpose = true;
  if (v.json === '') throw new UsageError('--json wants a file name');
  return { opts, json: v.json, quiet: v.quiet ?? false };
}

export function summarize(r: ChaosResult): string {
  const c = r.counts;
  const lines: string[] = [];
  const row = (name: string, x: { ok: number; fail: number; unknown: number }) =>
    `  ${name.padEnd(7)} ${String(x.ok).padStart(6)} ok ${String(x.fail).padStart(5)} fail ${String(x.unknown).padStart(5)} unknown`;
  lines.push(
    `operations (${r.workload === 'v2' ? 'v2 keys API' : r.workload === 'v3' ? 'v3: Put, Range, Txn' : 'v2 and v3 clients, each on its own keys'})`,
  );
  lines.push(row('read', c.ops.read), row('write', c.ops.write), row('cas', c.ops.cas), row('all', c.outcomes));
  lines.push(`  cas: ${c.casSwapped} swapped, ${c.casCompareFailed} compare failed; ${c.finalReads} final reads`);
  const kinds = Object.entries(c.faults).map(([k, n]) => `${k} ×${n}`);
  lines.push(`faults fired: ${r.history.faults.length}${kinds.length ? ` (${kinds.join(', ')})` : ''}`);
  for (const f of r.history.faults) {
    lines.push(
      `  ${formatTime(f.at).padStart(8)}${f.until === undefined ? '          ' : ` → ${formatTime(f.until).padStart(8)}`}  ${f.kind.padEnd(15)} ${f.description}`,
    );
  }
  if (r.problems.length > 0) {
    lines.push(`notes (${r.problems.length})`);
    for (const p of r.problems.slice(0, 20)) lines.push(`  ${p}`);
    if (r.problems.length > 20) lines.push(`  … ${r.problems.length - 20} more`);
  }
  lines.push(
    `converged: ${r.converged ? 'yes' : 'NO'}; members agree: ${r.divergentKeys.length === 0 ? 'yes' : `NO on ${r.divergentKeys.join(', ')}`}`,
  );
  for (const [key, byNode] of Object.entries(r.finalValues)) {
    lines.push(
      `  ${key}: ${Object.entries(byNode)
        .map(([n, v]) => `${n}=${v ?? '(absent)'}`)
        .join(' ')}`,
    );
  }
  const unknownKeys = r.check.keys.filter((k) => k.verdict === 'unknown');
  lines.push(
    `linearizability: ${r.check.verdict} (${r.check.keys.length} keys, ${r.check.steps} steps, ${r.check.ms.toFixed(0)} ms)` +
      (unknownKeys.length ? `; undecided: ${unknownKeys.map((k) => `${k.key} (${k.reason})`).join(', ')}` : ''),
  );
  lines.push(`violations: ${r.check.violations.length}`);
  for (const v of r.check.violations) {
    lines.push(`  ${v.key}: ${v.explanation}`);
    lines.push(`    ${v.minimal ? 'these' : 'these (not fully shrunk)'} ${v.ops.length} operations cannot be ordered:`);
    for (const op of v.ops) lines.push(`      ${formatOp(op)}`);
  }
  lines.push(`lost acknowledged writes: ${r.lostWrites.length}`);
  for (const op of r.lostWrites.slice(0, 10)) lines.push(`  ${formatOp(op)}`);
  lines.push(r.ok ? 'OK' : 'FAILED');
  return `${lines.join('\n')}\n`;
}
