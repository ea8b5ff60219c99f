// A node's configuration, read from its command line and environment exactly as etcd 3.4 reads
// its own (etcdmain/config.go, embed/config.go, pkg/flags, pkg/types, etcdserver/config.go).
// The flags themselves are declared once, in config/etcd-flags.ts; this file validates them,
// config/build-config.ts builds the NodeConfig (config/node-config.ts: its type, ConfigError).
//
// What is reproduced:
// - Go `flag` package syntax: `-flag`, `--flag`, `-flag=value`, `-flag value` (not for booleans:
//   `--enable-v2 false` leaves `false` as a positional argument, which etcd rejects), `--` ends
//   the flags, the first non-flag argument stops parsing, `-h`/`-help` ask for help. Its error texts
//   ("flag provided but not defined: -x", "invalid value ... for flag -x: ...", ...).
// - Every etcd 3.4 flag is known, so a command line written for etcd parses; flags raftlab does not
//   implement are validated by type and listed in `ignoredFlags`.
// - ETCD_<FLAG> environment variables for every flag not given on the command line, visited in flag
//   name order, empty values ignored, with etcd's `recognized and used environment variable` /
//   `unrecognized environment variable` log lines. A variable shadowed by a command-line flag is
//   FATAL in etcd 3.4 (`conflicting environment variable "ETCD_NAME" is shadowed by corresponding
//   command-line flag ...`); pass `{ envConflict: 'flag-wins' }` to let the flag win silently.
// - etcd's defaults, the default initial cluster derived from --name and the advertised peer URLs,
//   the `${name}.etcd` data dir, the "--advertise-client-urls is required" rule, and embed's
//   validation with its messages.
// - The bootstrap checks etcdserver makes when the member has no data yet (unless
//   `memberInitialized`): initial cluster parsing, `couldn't find local name ...`, advertised peer
//   URLs matching the initial cluster, duplicate URLs.
//
// etcd 3.6's v3 discovery flags (--discovery-token, --discovery-endpoints, their timeouts) are
// read too, with 3.6's checks; etcd 3.4's --proxy and --proxy-* go to the v2 proxy (src-main/node/proxy/).
//
// Not reproduced (runtime concerns): --config-file (rejected), --discovery-proxy (rejected),
// default-host detection for 0.0.0.0 listeners, DNS resolution when comparing peer URLs (only exact
// URL strings match; etcd also never resolves `localhost` or IP literals), port binding.

import { isIP } from 'node:net';
import { verifyBootstrap, verifyJoinExisting } from './bootstrap-checks.js';
import { build, Flags } from './config/build-config.js';
import { newEtcdFlagSet } from './config/etcd-flags.js';
import { ConfigError, type EnvUse, type NodeConfig, type ParseOptions } from './config/node-config.js';
import { parseInitialCluster } from './etcd-urls.js';
import { FlagError, HELP, flagToEnv } from './go/flag.js';
import { quote, quoteSlice } from './go/strconv.js';
import { parseURL, splitHostPort } from './go/url.js';
import { pkgFlags, etcdmain, type EtcdMsg } from './log.js';
import { checkCipherSuites } from './tls-info.js';

const MAX_ELECTION_MS = 50000;
const ERR_CONFLICT_BOOTSTRAP =
  'multiple discovery or bootstrap flags are set. Choose one of "initial-cluster", "discovery" or "discovery-srv"';
const ERR_UNSET_ADVERTISE_CLIENT_URLS =
  '--advertise-client-urls is required when --listen-client-urls is set explicitly';

// ---------------------------------------------------------------------------------------------
// embed.Config.Validate pieces

function checkBindURLs(urls: readonly string[]): void {
  for (const raw of urls) {
    const u = parseURL(raw);
    if (u.scheme === 'unix' || u.scheme === 'unixs') continue;
    const hp = splitHostPort(u.host);
    if ('error' in hp) throw new Error(hp.error);
    if (hp.host === 'localhost') continue;
    if (isIP(hp.host) === 0 || hp.host.includes('%')) throw new Error(`expected IP in URL for binding (${raw})`);
  }
}

function checkHostURLs(urls: readonly string[]): string | null {
  for (const raw of urls) {
    const hp = splitHostPort(parseURL(raw).host);
    if ('error' in hp) return hp.error;
    if (hp.host === '') return `unexpected empty host (${raw})`;
  }
  return null;
}

// ---------------------------------------------------------------------------------------------
// parseNodeConfig

/**
 * Reads a node's configuration from its arguments (without the program name) and environment, as
 * etcd 3.4 does. Throws ConfigError on anything etcd would refuse.
 */
export function parseNodeConfig(
  argv: string[],
  env: Record<string, string | undefined>,
  opts: ParseOptions = {},
): NodeConfig {
  const logs: EtcdMsg[] = [];
  const fs = newEtcdFlagSet(logs);
  const flags = new Flags(fs);

  const verifyError = (msg: string, extra: EtcdMsg[] = []): ConfigError =>
    new ConfigError(msg, 'verify', 1, [...logs, etcdmain.errorVerifyingFlags(msg), ...extra]);
  const fatalError = (msg: string, entry: EtcdMsg = etcdmain.fatal(msg)): ConfigError =>
    new ConfigError(msg, 'fatal', 1, [...logs, entry]);

  // 1. Go flag parsing.
  try {
    fs.parse(argv);
  } catch (e) {
    if (e === HELP) return build(flags, { help: true, version: false, logs, envUsed: [], acUnset: false });
    if (e instanceof FlagError) throw new ConfigError(e.message, 'flag', 2);
    throw e;
  }

  // 2. Positional arguments.
  const rest = fs.args();
  if (rest.length > 0) throw verifyError(`'${rest[0]}' is not a valid flag`);

  // 3. --version prints and exits before the environment is read.
  if (flags.bool('version')) return build(flags, { help: false, version: true, logs, envUsed: [], acUnset: false });

  // 4. A configuration file replaces flags and environment: not supported.
  const configFile = flags.str('config-file') || env[flagToEnv('ETCD', 'config-file')] || '';
  if (configFile !== '') {
    throw new ConfigError(
      `raftlab: --config-file (${configFile}) is not supported; configure the node with flags or ETCD_* environment variables`,
      'unsupported',
      1,
      [...logs],
    );
  }

  // 5. Environment (flags.SetFlagsFromEnv, then verifyEnv).
  const envUsed: EnvUse[] = [];
  const fromEnv = fs.setFromEnv('ETCD', env, {
    used: (key, value) => {
      envUsed.push({ key, value });
      logs.push(pkgFlags.recognizedEnv(key, value));
    },
    unrecognized: (key, value) => logs.push(pkgFlags.unrecognizedEnv(key, value)),
    conflictFatal: opts.envConflict !== 'flag-wins',
  });
  if (fromEnv.conflict !== null) {
    const entry = pkgFlags.conflictingEnv(fromEnv.conflict);
    throw new ConfigError(entry.text, 'fatal', 1, [...logs, entry]);
  }
  if (fromEnv.error !== null) throw verifyError(fromEnv.error);

  // 6. configFromCmdLine's adjustments.
  const str = (n: string): string => flags.str(n);
  const durl = str('discovery');
  const dnsCluster = str('discovery-srv');
  // etcd 3.6: --discovery-token with --discovery-endpoints (v3 discovery).
  const v3Token = str('discovery-token');
  const v3Endpoints = flags.list('discovery-endpoints');
  const mayBeProxy = str('proxy') !== 'off' || (durl !== '' && str('discovery-fallback') === 'proxy');
  const acUnset = fs.isSet('listen-client-urls') && !fs.isSet('advertise-client-urls') && !mayBeProxy;
  if (
    (durl !== '' || dnsCluster !== '' || str('discovery-srv-name') !== '' || v3Endpoints.length > 0) &&
    !fs.isSet('initial-cluster')
  ) {
    flags.overrides.set('initial-cluster', '');
  }

  // 7. embed.Config.Validate.
  const logger = str('logger');
  if (logger !== 'capnslog' && logger !== 'zap') throw verifyError(`unknown logger option ${quote(logger)}`);
  if (logger === 'capnslog') {
    const outputs = flags.list('log-outputs');
    if (outputs.length > 1) {
      throw verifyError(`--logger=capnslog supports only 1 value in '--log-outputs', got ${quoteSlice(outputs)}`);
    }
    const output = outputs[0] ?? '';
    if (!['default', 'stderr', 'stdout'].includes(output)) {
      throw verifyError(`unknown log-output ${quote(output)} (only supports "default", "stderr", "stdout")`);
    }
  }
  try {
    checkBindURLs(flags.list('listen-peer-urls'));
    checkBindURLs(flags.list('listen-client-urls'));
    checkBindURLs(flags.list('listen-metrics-urls'));
  } catch (e) {
    throw verifyError((e as Error).message);
  }
  const ap = flags.list('initial-advertise-peer-urls');
  const apErr = checkHostURLs(ap);
  if (apErr !== null)
    throw verifyError(`--initial-advertise-peer-urls ${quote(ap.join(','))} must be "host:port" (${apErr})`);
  if (!acUnset) {
    const ac = flags.list('advertise-client-urls');
    const acErr = checkHostURLs(ac);
    if (acErr !== null)
      throw verifyError(`--advertise-client-urls ${quote(ac.join(','))} must be "host:port" (${acErr})`);
  }
  if (
    [durl !== '', str('initial-cluster') !== '', dnsCluster !== '', v3Endpoints.length > 0].filter(Boolean).length > 1
  ) {
    throw verifyError(ERR_CONFLICT_BOOTSTRAP);
  }
  // etcd 3.6's checks of its v3 discovery flags, next in its Validate.
  if ((v3Token !== '') !== v3Endpoints.length > 0)
    throw verifyError('both --discovery-token and --discovery-endpoints must be set');
  if (v3Endpoints.some((ep) => ep.trim() === ''))
    throw verifyError('--discovery-endpoints must not contain empty endpoints');
  const tick = flags.num('heartbeat-interval');
  const election = flags.num('election-timeout');
  if (tick <= 0n) throw verifyError(`--heartbeat-interval must be >0 (set to ${tick}ms)`);
  if (election <= 0n) throw verifyError(`--election-timeout must be >0 (set to ${election}ms)`);
  if (5n * tick > election) {
    throw verifyError(
      `--election-timeout[${election}ms] should be at least as 5 times as --heartbeat-interval[${tick}ms]`,
    );
  }
  if (election > BigInt(MAX_ELECTION_MS)) {
    throw verifyError(
      `--election-timeout[${election}ms] is too long, and should be set less than ${MAX_ELECTION_MS}ms`,
    );
  }
  if (acUnset) throw verifyError(ERR_UNSET_ADVERTISE_CLIENT_URLS, [etcdmain.mustAdvertiseClientURLs()]);
  const compactionMode = str('auto-compaction-mode');
  if (!['', 'periodic', 'revision'].includes(compactionMode)) {
    throw verifyError(`unknown auto-compaction-mode ${quote(compactionMode)}`);
  }

  // 8. What raftlab does not do.
  if (str('discovery-proxy') !== '') {
    throw new ConfigError(
      `raftlab: --discovery-proxy (${str('discovery-proxy')}) is not supported; reach the discovery service directly`,
      'unsupported',
      1,
      [...logs],
    );
  }

  // 9. What etcd's listeners refuse (embed.StartEtcd: peers, then clients), before any data
  //    dir is touched: etcd fails there too, with nothing written.
  const listenProblem = listenerProblem(flags);
  if (listenProblem !== null) {
    if (listenProblem.startsWith('raftlab:'))
      throw new ConfigError(listenProblem, 'unsupported', 1, [...logs, etcdmain.fatal(listenProblem)]);
    throw fatalError(listenProblem);
  }

  const cfg = build(flags, { help: false, version: false, logs, envUsed, acUnset });

  // 10. Bootstrap checks, made only when the member has no data yet. With discovery the
  //     initial cluster is only known once it has run (src-main/node/discovery/bootstrap.ts).
  //     A proxy (--proxy on|readonly) is no member: etcdserver never checks it.
  if (!opts.memberInitialized && cfg.bootstrap.method === 'static' && cfg.proxy.mode === 'off') {
    try {
      cfg.initialCluster = parseInitialCluster(cfg.initialClusterString);
    } catch (e) {
      throw fatalError(`error setting up initial cluster: ${(e as Error).message}`);
    }
    try {
      if (cfg.initialClusterState === 'new') verifyBootstrap(cfg);
      else verifyJoinExisting(cfg);
    } catch (e) {
      throw fatalError((e as Error).message);
    }
  }
  return cfg;
}

/**
 * What opening the listeners would fail on, in etcd's words (embed's configurePeerListeners
 * and configureClientListeners): a port net.Listen refuses; https without a key and cert
 * (TLSInfo.Empty, after --auto-tls would have made them). A bad key or certificate file is
 * found when the listeners are made (raft-node.ts, node-server.ts).
 */
function listenerProblem(flags: Flags): string | null {
  // configurePeerListeners' first step (updateCipherSuites), whether or not anything is TLS.
  try {
    checkCipherSuites(flags.list('cipher-suites'));
  } catch (err) {
    return (err as Error).message;
  }
  const tls = (prefix: string) =>
    flags.str(`${prefix}cert-file`) !== '' || flags.str(`${prefix}key-file`) !== '' || flags.bool(`${prefix}auto-tls`);
  const port = (raw: string): string | null => {
    const hp = splitHostPort(parseURL(raw).host);
    // url.Parse let only digits through; Go's net.Listen takes them up to 65535.
    return !('error' in hp) && Number(hp.port) > 65535 ? `listen tcp: address ${hp.port}: invalid port` : null;
  };
  for (const raw of flags.list('listen-peer-urls')) {
    const u = parseURL(raw);
    if (u.scheme === 'unix' || u.scheme === 'unixs') return `raftlab: unix socket peer URLs (${raw}) are not supported`;
    const bad = port(raw);
    if (bad) return bad;
    if (u.scheme === 'https' && !tls('peer-'))
      return `cannot listen on TLS for ${u.host}: KeyFile and CertFile are not presented`;
  }
  for (const raw of flags.list('listen-client-urls')) {
    const u = parseURL(raw);
    if ((u.scheme === 'https' || u.scheme === 'unixs') && !tls('')) {
      return `TLS key/cert (--cert-file, --key-file) must be provided for client url ${raw} with HTTPS scheme`;
    }
    if (u.scheme === 'unix' || u.scheme === 'unixs')
      return `raftlab: unix socket client URLs (${raw}) are not supported`;
    const bad = port(raw);
    if (bad) return bad;
  }
  return null;
}
