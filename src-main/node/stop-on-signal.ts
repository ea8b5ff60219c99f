// How a `raftlab node` process (a member or a proxy) ends on SIGINT/SIGTERM, as etcd's
// osutil.HandleInterrupts does: one line naming the signal, a graceful stop, exit code 0.
import type { LogLevel } from './log.js';

export function stopOnSignal(
  log: (level: LogLevel, pkg: string, msg: string) => void,
  stop: () => Promise<void>,
  exit: (code: number) => void,
): void {
  const shutdown = (signal: string) => {
    log('N', 'etcdmain', `received ${signal}, shutting down...`);
    void stop().then(() => exit(0));
  };
  process.once('SIGINT', () => shutdown('interrupt signal'));
  process.once('SIGTERM', () => shutdown('terminated signal'));
}
