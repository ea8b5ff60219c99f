// A node's configuration, read from its command line and environment exactly as etcd 3.4 reads
// its own (etcdmain/config.go, embed/config.go, pkg/flags, pkg/types, etcdserver/config.go).
// The flags themselves are declared once, in config/etcd-flags.ts; this file validates them
// and builds the NodeConfig.
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
import { parseInitialCluster, type InitialClusterMember } from './etcd-urls.js';
import { FlagError, HELP, flagToEnv, type FlagSet } from './go/flag.js';
import { quote, quoteSlice } from './go/strconv.js';
import { parseURL, splitHostPort } from './go/url.js';
import { DEFAULT_INITIAL_CLUSTER, DEFAULT_NAME, USED_FLAGS, newEtcdFlagSet } from './config/etcd-flags.js';
import { pkgFlags, etcdmain, type EtcdMsg } from './log.js';
import { checkCipherSuites, type TLSInfo } from './tls-info.js';
import { durationMs } from './go/strconv.js';
import type { V3DiscoveryTimings } from './discovery/v3-discovery.js';
import type { ProxyTimings } from './proxy/start-proxy.js';

export type ClusterState = 'new' | 'existing';

export interface EnvUse {
  key: string;
  value: string;
}

export interface NodeConfig {
  name: string;
  /** `--data-dir`, or `${name}.etcd` when not given (see dataDirDefaulted). */
  dataDir: string;
  /** True when etcd would log `W | etcdmain: no data-dir provided, using default data-dir ./<dir>` (after its version lines). */
  dataDirDefaulted: boolean;
  listenPeerURLs: string[];
  listenClientURLs: string[];
  initialAdvertisePeerURLs: string[];
  advertiseClientURLs: string[];
  /** The effective --initial-cluster string (after etcd derives it from --name when left at its default). */
  initialClusterString: string;
  /** --initial-cluster parsed, names in order of first appearance (a repeated name collects all its URLs). */
  initialCluster: InitialClusterMember[];
  initialClusterToken: string;
  initialClusterState: ClusterState;
  /**
   * How the initial cluster is found when the member has no data yet: the --initial-cluster
   * flag, etcd's v2 discovery (--discovery URL; the cluster token becomes that URL) or DNS SRV
   * records (--discovery-srv DOMAIN). src-main/node/discovery/ resolves the last two at start.
   */
  bootstrap:
    | { method: 'static' }
    | { method: 'discovery'; url: string; fallback: 'proxy' | 'exit' }
    | { method: 'dns'; domain: string; serviceName: string; /** DNS servers (host:port) instead of the system's: the app's dnsmasq. */ servers?: string[] }
    | ({ method: 'discovery-v3'; token: string; endpoints: string[] } & V3DiscoveryTimings);
  /**
   * --proxy and the --proxy-* timings in ms (etcd 3.4's v2 proxy): with `on` or `readonly` a
   * member whose data dir holds no member yet runs as a proxy in front of its cluster;
   * `readonly` answers anything but GET with 501, as etcd's readonly proxy does.
   */
  proxy: { mode: 'off' | 'on' | 'readonly' } & Required<ProxyTimings>;
  heartbeatIntervalMs: number;
  electionTimeoutMs: number;
  /** etcd's ElectionTicks(): election timeout / heartbeat interval, rounded down. */
  electionTicks: number;
  snapshotCount: number;
  /** --cert-file, --key-file, --trusted-ca-file, --client-cert-auth, --client-cert-allowed-hostname. */
  clientTLS: TLSInfo;
  /** --peer-cert-file, --peer-key-file, --peer-trusted-ca-file, --peer-client-cert-auth, --peer-cert-allowed-*, ... */
  peerTLS: TLSInfo;
  /** --auto-tls / --peer-auto-tls: made at start (tls-info.ts selfCert) unless a key pair is given. */
  clientAutoTLS: boolean;
  peerAutoTLS: boolean;
  /** As given (etcd 3.4 defaults it to false); raftlab always serves the v2 API. */
  enableV2: boolean;
  strictReconfigCheck: boolean;
  /** etcd's --quota-backend-bytes (0: its 2 GiB default; negative: no quota). */
  quotaBackendBytes: number;
  preVote: boolean;
  initialElectionTickAdvance: boolean;
  logLevel: string;
  debug: boolean;
  /** `-h`/`--help` was given: print help and exit 0 (nothing else was validated). */
  help: boolean;
  /** `--version` was given: print the version and exit 0 (environment and validation were skipped). */
  version: boolean;
  /** Environment variables used, in the order etcd logs them. */
  envUsed: EnvUse[];
  /** What etcd logs while parsing (pkg/flags lines), in order; log them before the version lines. */
  logs: EtcdMsg[];
  /** Real etcd flags that were set (flag or env) but that raftlab does not implement. */
  ignoredFlags: string[];
  /** Names of the flags set on the command line or through the environment. */
  explicitlySet: string[];
}

export type ConfigErrorKind =
  /** Go flag syntax error; etcd prints the message and its usage to stderr and exits 2. */
  | 'flag'
  /** etcd logs `E | etcdmain: error verifying flags, <msg>. See 'etcd --help'.` and exits 1. */
  | 'verify'
  /** etcd logs the message at C (Fatal) and exits 1. */
  | 'fatal'
  /** An etcd feature raftlab does not provide. */
  | 'unsupported';

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  constructor(
    message: string,
    readonly kind: ConfigErrorKind,
    readonly exitCode: number,
    /** Everything etcd would have logged up to and including the failure (empty for 'flag'). */
    readonly logs: EtcdMsg[] = [],
  ) {
    super(message);
  }
}

export interface ParseOptions {
  /** The member already has data (a WAL): etcd then ignores the initial cluster entirely. */
  memberInitialized?: boolean;
  /** 'fatal' (etcd 3.4, default) or 'flag-wins' for an ETCD_* variable shadowed by a flag. */
  envConflict?: 'fatal' | 'flag-wins';
}

const MAX_ELECTION_MS = 50000;
const ERR_CONFLICT_BOOTSTRAP =
  'multiple discovery or bootstrap flags are set. Choose one of "initial-cluster", "discovery" or "discovery-srv"';
const ERR_UNSET_ADVERTISE_CLIENT_URLS = '--advertise-client-urls is required when --listen-client-urls is set explicitly';

// ---------------------------------------------------------------------------------------------
// Reading the flag set

/** Typed reads of the etcd flag set, with configFromCmdLine's direct assignments on top. */
class Flags {
  readonly overrides = new Map<string, string>();
  constructor(readonly fs: FlagSet) {}
  str(name: string): string {
    return this.overrides.get(name) ?? this.fs.get<string>(name);
  }
  bool(name: string): boolean {
    return this.fs.get<boolean>(name);
  }
  num(name: string): bigint {
    return this.fs.get<bigint>(name);
  }
  /** A URL or string list flag. */
  list(name: string): string[] {
    return this.fs.get<string[]>(name);
  }
}

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
  if ((durl !== '' || dnsCluster !== '' || str('discovery-srv-name') !== '' || v3Endpoints.length > 0) && !fs.isSet('initial-cluster')) {
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
    if (!['default', 'stderr', 'stdout'].includes(outputs[0]!)) {
      throw verifyError(`unknown log-output ${quote(outputs[0]!)} (only supports "default", "stderr", "stdout")`);
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
  if (apErr !== null) throw verifyError(`--initial-advertise-peer-urls ${quote(ap.join(','))} must be "host:port" (${apErr})`);
  if (!acUnset) {
    const ac = flags.list('advertise-client-urls');
    const acErr = checkHostURLs(ac);
    if (acErr !== null) throw verifyError(`--advertise-client-urls ${quote(ac.join(','))} must be "host:port" (${acErr})`);
  }
  if ([durl !== '', str('initial-cluster') !== '', dnsCluster !== '', v3Endpoints.length > 0].filter(Boolean).length > 1) {
    throw verifyError(ERR_CONFLICT_BOOTSTRAP);
  }
  // etcd 3.6's checks of its v3 discovery flags, next in its Validate.
  if ((v3Token !== '') !== (v3Endpoints.length > 0)) throw verifyError('both --discovery-token and --discovery-endpoints must be set');
  if (v3Endpoints.some((ep) => ep.trim() === '')) throw verifyError('--discovery-endpoints must not contain empty endpoints');
  const tick = flags.num('heartbeat-interval');
  const election = flags.num('election-timeout');
  if (tick <= 0n) throw verifyError(`--heartbeat-interval must be >0 (set to ${tick}ms)`);
  if (election <= 0n) throw verifyError(`--election-timeout must be >0 (set to ${election}ms)`);
  if (5n * tick > election) {
    throw verifyError(`--election-timeout[${election}ms] should be at least as 5 times as --heartbeat-interval[${tick}ms]`);
  }
  if (election > BigInt(MAX_ELECTION_MS)) {
    throw verifyError(`--election-timeout[${election}ms] is too long, and should be set less than ${MAX_ELECTION_MS}ms`);
  }
  if (acUnset) throw verifyError(ERR_UNSET_ADVERTISE_CLIENT_URLS, [etcdmain.mustAdvertiseClientURLs()]);
  const compactionMode = str('auto-compaction-mode');
  if (!['', 'periodic', 'revision'].includes(compactionMode)) {
    throw verifyError(`unknown auto-compaction-mode ${quote(compactionMode)}`);
  }

  // 8. What raftlab does not do.
  if (str('discovery-proxy') !== '') {
    throw new ConfigError(`raftlab: --discovery-proxy (${str('discovery-proxy')}) is not supported; reach the discovery service directly`, 'unsupported', 1, [...logs]);
  }

  // 9. What etcd's listeners refuse (embed.StartEtcd: peers, then clients), before any data
  //    dir is touched: etcd fails there too, with nothing written.
  const listenProblem = listenerProblem(flags);
  if (listenProblem !== null) {
    if (listenProblem.startsWith('raftlab:')) throw new ConfigError(listenProblem, 'unsupported', 1, [...logs, etcdmain.fatal(listenProblem)]);
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
  const tls = (prefix: string) => flags.str(`${prefix}cert-file`) !== '' || flags.str(`${prefix}key-file`) !== '' || flags.bool(`${prefix}auto-tls`);
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
    if (u.scheme === 'https' && !tls('peer-')) return `cannot listen on TLS for ${u.host}: KeyFile and CertFile are not presented`;
  }
  for (const raw of flags.list('listen-client-urls')) {
    const u = parseURL(raw);
    if ((u.scheme === 'https' || u.scheme === 'unixs') && !tls('')) {
      return `TLS key/cert (--cert-file, --key-file) must be provided for client url ${raw} with HTTPS scheme`;
    }
    if (u.scheme === 'unix' || u.scheme === 'unixs') return `raftlab: unix socket client URLs (${raw}) are not supported`;
    const bad = port(raw);
    if (bad) return bad;
  }
  return null;
}

/** The client ('') or peer ('peer-') TLSInfo as etcdmain fills it from the flags. */
function tlsInfoFrom(flags: Flags, prefix: '' | 'peer-'): TLSInfo {
  const peer = prefix === 'peer-';
  return {
    certFile: flags.str(`${prefix}cert-file`),
    keyFile: flags.str(`${prefix}key-file`),
    trustedCAFile: flags.str(peer ? 'peer-trusted-ca-file' : 'trusted-ca-file'),
    clientCertAuth: flags.bool(`${prefix}client-cert-auth`),
    crlFile: flags.str(peer ? 'peer-crl-file' : 'client-crl-file'),
    allowedCN: peer ? flags.str('peer-cert-allowed-cn') : '',
    allowedHostname: flags.str(peer ? 'peer-cert-allowed-hostname' : 'client-cert-allowed-hostname'),
    skipClientSANVerify: peer && flags.bool('experimental-peer-skip-client-san-verification'),
    selfCert: false,
    cipherSuites: flags.list('cipher-suites'),
  };
}

/** embed.Config.InitialClusterFromName. */
function initialClusterFromName(name: string, apurls: readonly string[]): string {
  const n = name === '' ? DEFAULT_NAME : name;
  return apurls.map((u) => `${n}=${u}`).join(',');
}

/** Which of etcd's four ways finds the initial cluster (validation allowed at most one). */
function bootstrapMethod(flags: Flags): NodeConfig['bootstrap'] {
  const str = (n: string): string => flags.str(n);
  if (str('discovery') !== '') return { method: 'discovery', url: str('discovery'), fallback: str('discovery-fallback') === 'exit' ? 'exit' : 'proxy' };
  if (str('discovery-srv') !== '') return { method: 'dns', domain: str('discovery-srv'), serviceName: str('discovery-srv-name') };
  const endpoints = flags.list('discovery-endpoints');
  if (endpoints.length > 0) {
    return {
      method: 'discovery-v3',
      token: str('discovery-token'),
      endpoints,
      dialTimeoutMs: durationMs(str('discovery-dial-timeout')),
      requestTimeoutMs: durationMs(str('discovery-request-timeout')),
      keepAliveTimeMs: durationMs(str('discovery-keepalive-time')),
      keepAliveTimeoutMs: durationMs(str('discovery-keepalive-timeout')),
    };
  }
  return { method: 'static' };
}

function build(flags: Flags, x: { help: boolean; version: boolean; logs: EtcdMsg[]; envUsed: EnvUse[]; acUnset: boolean }): NodeConfig {
  const str = (n: string): string => flags.str(n);
  const name = str('name');
  const ap = flags.list('initial-advertise-peer-urls');
  let initialClusterString = str('initial-cluster');
  // UpdateDefaultClusterFromName: only the name was given, so the cluster is this member alone.
  if (name !== DEFAULT_NAME && initialClusterString === DEFAULT_INITIAL_CLUSTER) {
    initialClusterString = initialClusterFromName(name, ap);
  }
  let initialCluster: InitialClusterMember[] = [];
  try {
    initialCluster = parseInitialCluster(initialClusterString);
  } catch {
    // Reported by the bootstrap checks when they apply; an initialized member ignores it.
  }
  const dataDirDefaulted = str('data-dir') === '';
  const heartbeat = Number(flags.num('heartbeat-interval'));
  const election = Number(flags.num('election-timeout'));
  const setFlags = flags.fs.setNames();
  const ignoredFlags = setFlags.filter((f) => !USED_FLAGS.has(f));
  if (str('logger') !== 'capnslog' && !ignoredFlags.includes('logger')) ignoredFlags.push('logger');
  return {
    name,
    dataDir: dataDirDefaulted ? `${name}.etcd` : str('data-dir'),
    dataDirDefaulted,
    listenPeerURLs: flags.list('listen-peer-urls'),
    listenClientURLs: flags.list('listen-client-urls'),
    initialAdvertisePeerURLs: ap,
    advertiseClientURLs: x.acUnset ? [] : flags.list('advertise-client-urls'),
    initialClusterString,
    initialCluster,
    initialClusterToken: str('initial-cluster-token'),
    initialClusterState: str('initial-cluster-state') as ClusterState,
    bootstrap: bootstrapMethod(flags),
    proxy: {
      mode: str('proxy') as 'off' | 'on' | 'readonly',
      failureWaitMs: Number(flags.num('proxy-failure-wait')),
      refreshIntervalMs: Number(flags.num('proxy-refresh-interval')),
      dialTimeoutMs: Number(flags.num('proxy-dial-timeout')),
      writeTimeoutMs: Number(flags.num('proxy-write-timeout')),
      readTimeoutMs: Number(flags.num('proxy-read-timeout')),
    },
    heartbeatIntervalMs: heartbeat,
    electionTimeoutMs: election,
    electionTicks: heartbeat > 0 ? Math.floor(election / heartbeat) : 0,
    snapshotCount: Number(flags.num('snapshot-count')),
    clientTLS: tlsInfoFrom(flags, ''),
    peerTLS: tlsInfoFrom(flags, 'peer-'),
    clientAutoTLS: flags.bool('auto-tls'),
    peerAutoTLS: flags.bool('peer-auto-tls'),
    enableV2: flags.bool('enable-v2'),
    strictReconfigCheck: flags.bool('strict-reconfig-check'),
    quotaBackendBytes: Number(flags.num('quota-backend-bytes')),
    preVote: flags.bool('pre-vote'),
    initialElectionTickAdvance: flags.bool('initial-election-tick-advance'),
    logLevel: str('log-level'),
    debug: flags.bool('debug'),
    help: x.help,
    version: x.version,
    envUsed: x.envUsed,
    logs: [...x.logs],
    ignoredFlags,
    explicitlySet: setFlags,
  };
}
