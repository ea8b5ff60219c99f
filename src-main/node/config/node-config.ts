// What a node's configuration is once read (NodeConfig), and how reading it fails (ConfigError).

import type { InitialClusterMember } from '../etcd-urls.js';
import type { EtcdMsg } from '../log.js';
import type { TLSInfo } from '../tls-info.js';
import type { V3DiscoveryTimings } from '../discovery/v3-discovery.js';
import type { ProxyTimings } from '../proxy/start-proxy.js';

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
    | {
        method: 'dns';
        domain: string;
        serviceName: string;
        /** DNS servers (host:port) instead of the system's: the app's dnsmasq. */ servers?: string[];
      }
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
