// Debian's etcdctl (v3, its default API) for tests against raftlab nodes and real etcd members:
// its exit code, stdout and stderr, never a throw; ended by its pid past a deadline.
import { execFile } from 'node:child_process';

export const ETCDCTL = '/usr/bin/etcdctl';

export interface CtlRun {
  code: number;
  out: string;
  err: string;
}

/** ETCD* variables would reach etcdctl as flags (ETCDCTL_*): a clean environment. */
const clean = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('ETCD')));

export function ctl(
  endpoints: string | string[],
  args: string[],
  opts: { cwd?: string; timeoutMs?: number } = {},
): Promise<CtlRun> {
  const eps = Array.isArray(endpoints) ? endpoints.join(',') : endpoints;
  return new Promise((resolve) => {
    execFile(
      ETCDCTL,
      ['--endpoints', eps, '--dial-timeout', '5s', '--command-timeout', '15s', ...args],
      { env: { ...clean, ETCDCTL_API: '3' }, cwd: opts.cwd, timeout: opts.timeoutMs ?? 40_000, killSignal: 'SIGKILL' },
      (err, out, errOut) => resolve({ code: err ? ((err as { code?: number }).code ?? -1) : 0, out, err: errOut }),
    );
  });
}

/** etcdctl's client-side info/warn lines (zap JSON) say nothing about the answer: dropped. */
export function withoutLogLines(s: string): string {
  return s
    .split('\n')
    .filter((l) => !/^\{"level":/.test(l))
    .join('\n');
}
