// `raftlab <command>`: the standalone entry points.
//   raftlab node [etcd flags]   a raftlab node configured exactly like an etcd 3.4 member
import fs from 'node:fs';
import { parseNodeConfig } from './node/config.js';
import { ConfigError } from './node/config/node-config.js';
import { etcdFlagsHelp } from './node/config/etcd-flags.js';
import { BootstrapFailed, resolveBootstrap } from './node/discovery/bootstrap.js';
import { createLogger, etcdmain, type LogLevel, type RaftLogLevel } from './node/log.js';
import { NodeStartError } from './node/raft-node.js';
import { memberSettings, startNode } from './node/node-server.js';
import { stopOnSignal } from './node/stop-on-signal.js';
import { withAutoTLS, type TLSInfo } from './node/tls-info.js';
import { StorageError } from './storage/raft-storage.js';

const VERSION = '3.4.0-raftlab';
const RAFT_LEVEL: Record<LogLevel, RaftLogLevel> = {
  I: 'INFO',
  N: 'INFO',
  W: 'WARN',
  E: 'ERROR',
  C: 'FATAL',
  D: 'DEBUG',
};

async function runNode(argv: string[]): Promise<number> {
  const logger = createLogger(
    (line) => process.stderr.write(line + '\n'),
    () => new Date(),
  );
  let cfg;
  try {
    // A flag also set as its ETCD_* variable is refused, as etcd 3.4 refuses it.
    cfg = parseNodeConfig(argv, process.env);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    for (const m of err.logs) logger.emit(m);
    if (err.logs.length === 0) process.stderr.write(`raftlab node: ${err.message}\n`);
    return err.exitCode;
  }
  if (cfg.help) {
    process.stdout.write(etcdFlagsHelp());
    return 0;
  }
  if (cfg.version) {
    process.stdout.write(
      `etcd Version: ${VERSION}\nGit SHA: raftlab\nGo Version: node${process.versions.node}\nGo OS/Arch: ${process.platform}/${process.arch}\n`,
    );
    return 0;
  }
  for (const m of cfg.logs) logger.emit(m);
  for (const m of etcdmain.versionLines({
    etcdVersion: VERSION,
    gitSha: 'raftlab',
    goVersion: `node${process.versions.node}`,
    goOs: process.platform,
    goArch: process.arch,
  }))
    logger.emit(m);
  if (cfg.dataDirDefaulted) logger.emit(etcdmain.noDataDir(cfg.dataDir));

  // etcdmain's identifyDataDirOrDie, before anything is started or written.
  const dirProblem = dataDirProblem(cfg.dataDir);
  if (dirProblem) {
    logger.emit(etcdmain.fatal(dirProblem));
    return 1;
  }

  const log = (level: LogLevel, pkg: string, msg: string) => {
    if (pkg === 'raft') logger.raft(RAFT_LEVEL[level], msg);
    else logger.emit({ kind: 'capnslog', level, pkg, text: msg });
  };
  // --discovery / --discovery-srv: the initial cluster comes from the service, or from DNS.
  // A member that finds the cluster full (or whose data dir holds a proxy) runs as a v2 proxy.
  let role: 'member' | 'proxy';
  try {
    role = await resolveBootstrap(cfg, log);
  } catch (err) {
    if (!(err instanceof BootstrapFailed)) throw err;
    for (const [level, pkg, msg] of err.lines) log(level, pkg, msg);
    return 1;
  }
  if (role === 'proxy') return (await import('./node/proxy/run-proxy.js')).runProxy(cfg, log);
  let running;
  try {
    // embed's PeerSelfCert and ClientSelfCert: --peer-auto-tls and --auto-tls certificates.
    const autoTLS = (which: 'peer' | 'client', info: TLSInfo, auto: boolean, listenURLs: string[]) =>
      withAutoTLS(info, { auto, which, dataDir: cfg.dataDir, listenURLs, log: (m) => logger.emit(m) });
    const tls = {
      peerTLS: await autoTLS('peer', cfg.peerTLS, cfg.peerAutoTLS, cfg.listenPeerURLs),
      clientTLS: await autoTLS('client', cfg.clientTLS, cfg.clientAutoTLS, cfg.listenClientURLs),
    };
    running = await startNode(memberSettings(cfg, tls), log);
  } catch (err) {
    // Whatever stopped the start, one fatal line as etcd prints it, never a stack trace.
    logger.emit(etcdmain.fatal(startError(err)));
    return 1;
  }
  return new Promise<number>((resolve) => {
    stopOnSignal(log, () => running.stop(), resolve);
    running.node.once('removed', () => void running.stop().then(() => resolve(0)));
    // Disk full and the like: the node already said why (one `C` line) and stopped writing.
    running.node.once('fatal', () => void running.abort().then(() => resolve(1)));
  });
}

/** etcd's "error listing data dir" when --data-dir names something that is not a directory. */
function dataDirProblem(dir: string): string | undefined {
  try {
    fs.readdirSync(dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') return `error listing data dir: ${dir}`;
  }
  return undefined;
}

/** A start-up failure in etcd's words where etcd has them. */
function startError(err: unknown): string {
  const e = err as NodeJS.ErrnoException & { address?: string; port?: number };
  if (e?.code === 'EADDRINUSE' && e.address !== undefined) {
    // Go's net.Listen error.
    const host = e.address.includes(':') ? `[${e.address}]` : e.address;
    return `listen tcp ${host}:${e.port}: bind: address already in use`;
  }
  if (err instanceof NodeStartError || err instanceof StorageError) return err.message;
  return err instanceof Error ? err.message : String(err);
}

const [command, ...rest] = process.argv.slice(2);
/** `raftlab attach --web URL...`: the window (browser mode) on that cluster instead of text. */
async function attachWeb(urls: string[]): Promise<number> {
  process.env.RAFTLAB_ATTACH = urls.join(',');
  await import('./web/main.js');
  return new Promise<number>(() => {}); // browser mode runs until Ctrl-C (it exits by itself)
}

// Each command's modules are loaded when it runs: a node starts without the others' code.
const commands: Record<string, (argv: string[]) => Promise<number>> = {
  node: runNode,
  attach: async (argv) => (await import('./attach/cli.js')).attachMain(argv, { web: attachWeb }),
  run: async (argv) => (await import('./scenario/run-scenario.js')).runMain(argv),
  chaos: async (argv) => (await import('./chaos/cli.js')).chaosMain(argv),
};
const askedHelp = command === '--help' || command === '-h' || command === 'help';
if (!command || askedHelp || !commands[command]) {
  (askedHelp ? process.stdout : process.stderr).write(
    'usage: raftlab <command>\n' +
      '  node [etcd flags]        run a raftlab node, configured like an etcd 3.4 member\n' +
      '  attach URL[,URL...]      watch a running etcd (or raftlab) cluster through its client URLs\n' +
      '  attach --web URL...      the same in the window (browser mode)\n' +
      '  run SCENARIO.json        play a scenario headless [--trace OUT.jsonl] [--chrome OUT.json]\n' +
      '  chaos [--nodes N] [--seconds S] [--seed N]   faults + clients on a real cluster, then a linearizability check\n',
  );
  process.exit(command && !askedHelp ? 2 : 0);
}
process.exit(await commands[command](rest));
