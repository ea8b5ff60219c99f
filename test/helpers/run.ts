// A command run to its end, its output collected: for the real clients tests drive (etcdctl,
// curl, etcd's own tools). Asynchronous, so a server in the test's own process keeps answering.

import { spawn } from 'node:child_process';

export interface Run {
  /** null when it was ended after `timeoutMs`. */
  code: number | null;
  out: string;
  err: string;
}

/** This process's environment without ETCD* variables (which etcd and etcdctl would read). */
export const CLEAN_ENV = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('ETCD')));

/** Runs `cmd` (env: CLEAN_ENV plus `env`), feeding it `input`; ended by its pid past `timeoutMs`. */
export function run(
  cmd: string,
  args: string[],
  opts: { env?: Record<string, string>; input?: string; timeoutMs?: number } = {},
): Promise<Run> {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, {
      env: { ...CLEAN_ENV, ...opts.env },
      stdio: [opts.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout!.on('data', (b) => (out += b));
    child.stderr!.on('data', (b) => (err += b));
    const timer = setTimeout(() => process.kill(child.pid!, 'SIGKILL'), opts.timeoutMs ?? 20_000);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, out, err });
    });
    if (opts.input !== undefined) {
      child.stdin!.on('error', () => {}); // it may exit before reading all of it
      child.stdin!.end(opts.input);
    }
  });
}
