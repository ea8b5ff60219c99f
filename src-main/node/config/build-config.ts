// The NodeConfig built from etcd's flag set once it has been read and validated (config.ts):
// typed reads of the flags, and the values etcdmain derives from them (TLS, bootstrap method,
// the default initial cluster, the data dir).

import { parseInitialCluster, type InitialClusterMember } from '../etcd-urls.js';
import type { FlagSet } from '../go/flag.js';
import { durationMs } from '../go/strconv.js';
import type { EtcdMsg } from '../log.js';
import type { TLSInfo } from '../tls-info.js';
import { DEFAULT_INITIAL_CLUSTER, DEFAULT_NAME, USED_FLAGS } from './etcd-flags.js';
import type { ClusterState, EnvUse, NodeConfig } from './node-config.js';

/** Typed reads of the etcd flag set, with configFromCmdLine's direct assignments on top. */
export class Flags {
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
  if (str('discovery') !== '')
    return {
      method: 'discovery',
      url: str('discovery'),
      fallback: str('discovery-fallback') === 'exit' ? 'exit' : 'proxy',
    };
  if (str('discovery-srv') !== '')
    return { method: 'dns', domain: str('discovery-srv'), serviceName: str('discovery-srv-name') };
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

export function build(
  flags: Flags,
  x: { help: boolean; version: boolean; logs: EtcdMsg[]; envUsed: EnvUse[]; acUnset: boolean },
): NodeConfig {
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
