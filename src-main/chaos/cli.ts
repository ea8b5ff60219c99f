// `raftlab chaos --nodes 5 --seconds 60 --seed N`: a chaos run on a real cluster (see
// chaos-runner.ts), summarized: operations by outcome, the fault timeline, violations with the
// operations that cannot be ordered, lost writes. Exit status 1 on any violation, lost write,
// divergence or failure to converge; 2 on bad arguments.

import fs from 'node:fs';
import { formatOp, formatTime } from '../../src-shared/history.js';
import { runChaos, type ChaosOptions, type ChaosResult } from './chaos-runner.js';
import { ALL_FAULTS, type FaultKind } from './faults.js';

const USAGE = `usage: raftlab chaos [--nodes N] [--seconds S] [--seed N] [options]
  --nodes N           cluster size, 1..7 (default 3)
  --seconds S         how long faults and clients run (default 15)
  --seed N            seeds the fault schedule and the clients (default: random, printed)
  --clients N         concurrent clients (default 5)
  --keys N            keys /k0.. (default 3)
  --timeout MS        per-request deadline (default 1500)
  --faults a,b,...    only these: ${ALL_FAULTS.join(', ')}
  --break             breaks on purpose: reads without quorum, from cut-off nodes
  --json FILE         write the whole result (history, faults, verdict) as JSON
  --quiet             no progress lines
`;

export async function chaosMain(argv: string[], out: (s: string) => void = (s) => process.stdout.write(s)): Promise<number> {
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs(argv);
  } catch (err) {
    process.stderr.write(`raftlab chaos: ${err instanceof Error ? err.message : String(err)}\n${USAGE}`);
    return 2;
  }
  if (parsed === 'help') {
    out(USAGE);
    return 0;
  }
  const { opts, json, quiet } = parsed;
  out(`raftlab chaos: ${opts.nodes} nodes, ${opts.seconds} s, seed ${opts.seed}${opts.breakOnPurpose ? ', BREAKING ON PURPOSE' : ''}\n`);
  const result = await runChaos({ ...opts, log: quiet ? undefined : (line) => out(`  … ${line}\n`) });
  out(summarize(result));
  if (json) fs.writeFileSync(json, `${JSON.stringify(result, null, 2)}\n`);
  return result.ok ? 0 : 1;
}

function parseArgs(argv: string[]): { opts: ChaosOptions; json?: string; quiet: boolean } | 'help' {
  const opts: ChaosOptions = { nodes: 3, seconds: 15, seed: Math.floor(Math.random() * 1e6) };
  let json: string | undefined;
  let quiet = false;
  const int = (name: string, v: string | undefined, lo: number, hi: number): number => {
    const n = Number(v);
    if (v === undefined || !Number.isInteger(n) || n < lo || n > hi) throw new Error(`${name} wants an integer in ${lo}..${hi}`);
    return n;
  };
  for (let i = 0; i < argv.length; i++) {
    const raw = argv[i];
    const [flag, inline] = raw.replace(/^--?/, '--').split(/=(.*)/s, 2);
    const value = () => inline ?? argv[++i];
    switch (flag) {
      case '--help':
      case '--h':
        return 'help';
      case '--nodes':
        opts.nodes = int(flag, value(), 1, 7);
        break;
      case '--seconds':
        opts.seconds = int(flag, value(), 1, 3600);
        break;
      case '--seed':
        opts.seed = int(flag, value(), 0, 2 ** 31 - 1);
        break;
      case '--clients':
        opts.clients = int(flag, value(), 1, 64);
        break;
      case '--keys':
        opts.keys = int(flag, value(), 1, 100);
        break;
      case '--timeout':
        opts.requestTimeoutMs = int(flag, value(), 50, 60_000);
        break;
      case '--faults': {
        const kinds = (value() ?? '').split(',').filter(Boolean);
        const bad = kinds.filter((k) => !(ALL_FAULTS as readonly string[]).includes(k));
        if (bad.length > 0) throw new Error(`unknown fault ${bad.join(', ')}`);
        opts.faults = kinds as FaultKind[];
        break;
      }
      case '--break':
        opts.breakOnPurpose = true;
        break;
      case '--json':
        json = value();
        if (!json) throw new Error('--json wants a file name');
        break;
      case '--quiet':
        quiet = true;
        break;
      default:
        throw new Error(`unknown argument ${raw}`);
    }
  }
  return { opts, json, quiet };
}

export function summarize(r: ChaosResult): string {
  const c = r.counts;
  const lines: string[] = [];
  const row = (name: string, x: { ok: number; fail: number; unknown: number }) =>
    `  ${name.padEnd(7)} ${String(x.ok).padStart(6)} ok ${String(x.fail).padStart(5)} fail ${String(x.unknown).padStart(5)} unknown`;
  lines.push('operations');
  lines.push(row('read', c.ops.read), row('write', c.ops.write), row('cas', c.ops.cas), row('all', c.outcomes));
  lines.push(`  cas: ${c.casSwapped} swapped, ${c.casCompareFailed} compare failed; ${c.finalReads} final reads`);
  const kinds = Object.entries(c.faults).map(([k, n]) => `${k} ×${n}`);
  lines.push(`faults fired: ${r.history.faults.length}${kinds.length ? ` (${kinds.join(', ')})` : ''}`);
  for (const f of r.history.faults) {
    lines.push(`  ${formatTime(f.at).padStart(8)}${f.until === undefined ? '          ' : ` → ${formatTime(f.until).padStart(8)}`}  ${f.kind.padEnd(15)} ${f.description}`);
  }
  if (r.problems.length > 0) {
    lines.push(`notes (${r.problems.length})`);
    for (const p of r.problems.slice(0, 20)) lines.push(`  ${p}`);
    if (r.problems.length > 20) lines.push(`  … ${r.problems.length - 20} more`);
  }
  lines.push(`converged: ${r.converged ? 'yes' : 'NO'}; members agree: ${r.divergentKeys.length === 0 ? 'yes' : `NO on ${r.divergentKeys.join(', ')}`}`);
  for (const [key, byNode] of Object.entries(r.finalValues)) {
    lines.push(`  ${key}: ${Object.entries(byNode).map(([n, v]) => `${n}=${v ?? '(absent)'}`).join(' ')}`);
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
