// The real `raftlab` command, as a user runs it: each subcommand's --help, and what it says
// (exit 2) to an unknown option or a bad value. `raftlab node` speaks Go's flag syntax, the
// others Node's util.parseArgs.
import { execFile } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { RAFTLAB_BIN } from '../helpers/processes.js';

function raftlab(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('ETCD_')));
  return new Promise((resolve) =>
    execFile(process.execPath, [RAFTLAB_BIN, ...args], { env, timeout: 60_000 }, (err, stdout, stderr) =>
      resolve({ code: err ? ((err as { code?: number }).code ?? -1) : 0, stdout, stderr }),
    ),
  );
}

describe('raftlab <command> --help and bad options', () => {
  it('node: --help is printed from the etcd flag rows; Go’s errors for bad flags', async () => {
    const [help, unknown, bad, boolArg] = await Promise.all([
      raftlab('node', '--help'),
      raftlab('node', '--bogus'),
      raftlab('node', '--heartbeat-interval', 'x'),
      raftlab('node', '--enable-v2=maybe'),
    ]);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('usage: raftlab node [flags]');
    expect(help.stdout).toContain(
      '  -initial-cluster-token string\n    \tInitial cluster token for the etcd cluster during bootstrap. (default "etcd-cluster")\n',
    );
    expect(help.stdout).toContain(
      '  -heartbeat-interval uint\n    \tTime (in milliseconds) of a heartbeat interval. (default 100)\n',
    );
    expect(help.stdout).toContain('  -auto-tls\n    \tClient TLS using generated certificates\n');
    expect(help.stdout).toMatch(
      / {2}-enable-pprof\n {4}\tEnable runtime profiling data via HTTP server\. .* \[accepted, not used by raftlab\]\n/,
    );
    expect([unknown.code, unknown.stderr]).toEqual([2, 'raftlab node: flag provided but not defined: -bogus\n']);
    expect([bad.code, bad.stderr]).toEqual([
      2,
      'raftlab node: invalid value "x" for flag -heartbeat-interval: parse error\n',
    ]);
    expect([boolArg.code, boolArg.stderr]).toEqual([
      2,
      'raftlab node: invalid boolean value "maybe" for -enable-v2: parse error\n',
    ]);
  }, 60_000);

  it('chaos, attach and run: --help exits 0; an unknown option or a bad value exits 2 and says which', async () => {
    const runs = await Promise.all([
      raftlab('chaos', '--help'),
      raftlab('chaos', '--bogus'),
      raftlab('chaos', '--nodes', '9'),
      raftlab('chaos', '--quiet=yes'),
      raftlab('chaos', 'extra'),
      raftlab('chaos', '--workload', 'v4'),
      raftlab('attach', '-h'),
      raftlab('attach', 'http://127.0.0.1:1', '--nope'),
      raftlab('attach', 'http://127.0.0.1:1', '--interval', '10'),
      raftlab('run', '--help'),
      raftlab('run', 'a.json', '--trace'),
      raftlab('run', 'a.json', 'b.json'),
      raftlab('--help'),
    ]);
    const [
      chaosHelp,
      chaosUnknown,
      chaosRange,
      chaosSwitch,
      chaosExtra,
      chaosWorkload,
      attachHelp,
      attachUnknown,
      attachRange,
      runHelp,
      runMissing,
      runExtra,
      topHelp,
    ] = runs;
    expect([chaosHelp.code, chaosHelp.stdout]).toEqual([0, expect.stringContaining('usage: raftlab chaos')]);
    expect([chaosUnknown.code, chaosUnknown.stderr.split('\n')[0]]).toEqual([
      2,
      'raftlab chaos: unknown option --bogus',
    ]);
    expect(chaosUnknown.stderr).toContain('usage: raftlab chaos');
    expect([chaosRange.code, chaosRange.stderr.split('\n')[0]]).toEqual([
      2,
      'raftlab chaos: --nodes wants an integer in 1..7, not "9"',
    ]);
    expect([chaosSwitch.code, chaosSwitch.stderr.split('\n')[0]]).toEqual([2, 'raftlab chaos: --quiet takes no value']);
    expect([chaosExtra.code, chaosExtra.stderr.split('\n')[0]]).toEqual([
      2,
      'raftlab chaos: unexpected argument extra',
    ]);
    expect([chaosWorkload.code, chaosWorkload.stderr.split('\n')[0]]).toEqual([
      2,
      'raftlab chaos: --workload must be v2, v3, mixed',
    ]);
    expect([attachHelp.code, attachHelp.stdout]).toEqual([0, expect.stringContaining('usage: raftlab attach')]);
    expect([attachUnknown.code, attachUnknown.stderr.split('\n')[0]]).toEqual([
      2,
      'raftlab attach: unknown option --nope',
    ]);
    expect([attachRange.code, attachRange.stderr.split('\n')[0]]).toEqual([
      2,
      'raftlab attach: --interval wants an integer in 50..60000, not "10"',
    ]);
    expect([runHelp.code, runHelp.stdout]).toEqual([0, expect.stringContaining('usage: raftlab run')]);
    expect([runMissing.code, runMissing.stderr.split('\n')[0]]).toEqual([2, 'raftlab run: --trace needs a value']);
    expect([runExtra.code, runExtra.stderr.split('\n')[0]]).toEqual([2, 'raftlab run: unexpected argument b.json']);
    expect([topHelp.code, topHelp.stdout]).toEqual([0, expect.stringContaining('usage: raftlab <command>')]);
  }, 120_000);
});
