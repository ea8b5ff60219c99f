// etcd 3.4's command line, one row per flag (etcdmain/config.go newConfig, defaults from
// embed.NewConfig): name, value kind with its default, usage, and whether raftlab acts on it.
// Every etcd 3.4.23 flag is here, so a command line written for etcd parses; the rest are
// validated by kind and reported as ignored. `--help` is printed from these same rows.

import { boolValue, durationValue, FlagSet, intValue, stringValue, uintValue, type Value } from '../go/flag.js';
import { parseUint } from '../go/strconv.js';
import { compareStrings } from '../go/strings.js';
import { newURLs } from '../etcd-urls.js';
import { pkgFlags, type EtcdMsg } from '../log.js';

export const DEFAULT_NAME = 'default';
export const DEFAULT_LISTEN_PEER_URLS = 'http://localhost:2380';
export const DEFAULT_LISTEN_CLIENT_URLS = 'http://localhost:2379';
export const DEFAULT_INITIAL_ADVERTISE_PEER_URLS = 'http://localhost:2380';
export const DEFAULT_ADVERTISE_CLIENT_URLS = 'http://localhost:2379';
export const DEFAULT_INITIAL_CLUSTER_TOKEN = 'etcd-cluster';
export const DEFAULT_HEARTBEAT_MS = 100;
export const DEFAULT_ELECTION_MS = 1000;
export const DEFAULT_SNAPSHOT_COUNT = 100000;
/** embed.NewConfig: InitialClusterFromName(DefaultName) over the default advertise peer URLs. */
export const DEFAULT_INITIAL_CLUSTER = `${DEFAULT_NAME}=${DEFAULT_INITIAL_ADVERTISE_PEER_URLS}`;

// ---------------------------------------------------------------------------------------------
// pkg/flags' value kinds

/**
 * flags.UniqueURLs: types.NewURLs over a comma-separated list; a value already held, or one of
 * the exceptions, leaves the URLs as they were (etcd's URL flags except "", so `--listen-peer-urls=`
 * keeps the default; --cors excepts "*").
 */
export function uniqueURLsValue(def: string, ...exceptions: string[]): Value<string[]> {
  let values = new Set<string>();
  let urls: string[] = [];
  const set = (s: string) => {
    if (values.has(s)) return;
    if (exceptions.includes(s)) {
      values.add(s);
      return;
    }
    urls = newURLs(s.split(','));
    values = new Set(urls);
  };
  if (def !== '') set(def);
  return { set, get: () => [...urls], string: () => [...values].sort(compareStrings).join(','), typeName: 'value' };
}

/** flags.StringsValue: a comma-separated list as given. */
function stringsValue(): Value<string[]> {
  let v: string[] = [];
  return { set: (s) => void (v = s.split(',')), get: () => [...v], string: () => v.join(','), typeName: 'value' };
}

/** flags.UniqueStringsValue: a comma-separated set, read back sorted. */
function uniqueStringsValue(def: string): Value<string[]> {
  let v: string[] = [];
  const set = (s: string) => void (v = [...new Set(s.split(','))].sort(compareStrings));
  if (def !== '') set(def);
  return { set, get: () => [...v], string: () => v.join(','), typeName: 'value' };
}

/** flags.SelectiveStringValue: one of the valid values (the first is the default). */
function selectiveValue(def: string, ...others: string[]): Value<string> {
  const valids = [def, ...others];
  let v = def;
  const set = (s: string) => {
    if (!valids.includes(s)) throw new Error('invalid value');
    v = s;
  };
  return { set, get: () => v, string: () => v, typeName: 'value' };
}

/** flags.uint32Value: strconv's own error text (etcd does not shorten it). */
function uint32Value(def: bigint): Value<bigint> {
  let v = def;
  return { set: (s) => void (v = parseUint(s, 0, 32)), get: () => v, string: () => String(v), typeName: 'value' };
}

/** flags.IgnoredFlag: a boolean-style flag that only warns. */
function ignoredValue(name: string, logs: EtcdMsg[]): Value<undefined> {
  return {
    set: () => void logs.push(pkgFlags.ignoredFlag(name)),
    get: () => undefined,
    string: () => '',
    isBool: true,
  };
}

// ---------------------------------------------------------------------------------------------
// The rows

interface Row {
  name: string;
  value: (logs: EtcdMsg[]) => Value;
  usage: string;
  /** raftlab acts on it (otherwise: accepted, validated, reported in ignoredFlags). */
  used: boolean;
  /** The etcd release that added it, when after 3.4 (Debian's etcd 3.4.23 refuses these flags). */
  since?: '3.6';
}

const USED = true;
const str =
  (def = '') =>
  () =>
    stringValue(def);
const bool =
  (def = false) =>
  () =>
    boolValue(def);
const uint =
  (def = 0) =>
  () =>
    uintValue(BigInt(def));
const int =
  (def = 0) =>
  () =>
    intValue(BigInt(def));
const dur =
  (def = '0s') =>
  () =>
    durationValue(def);
const urls =
  (def = '', ...exceptions: string[]) =>
  () =>
    uniqueURLsValue(def, ...exceptions);
const row = (name: string, value: Row['value'], usage: string, used = false): Row => ({ name, value, usage, used });
const ignored = (name: string): Row => row(name, (logs) => ignoredValue(name, logs), '');
/** A flag etcd 3.4 does not have: etcd 3.6 added it. */
const since36 = (r: Row): Row => ({ ...r, since: '3.6' });

/** flag names etcd 3.4 still accepts and ignores (etcdmain/config.go `ignored`). */
const IGNORED = [
  'cluster-active-size',
  'cluster-remove-delay',
  'cluster-sync-interval',
  'config',
  'force',
  'max-result-buffer',
  'max-retry-attempts',
  'peer-heartbeat-interval',
  'peer-election-timeout',
  'retry-interval',
  'snapshot',
  'v',
  'vv',
  'test.coverprofile',
  'test.outputdir',
];

// One row per flag, as etcd declares them: kept one line each so the table reads as etcd's.
// prettier-ignore
export const ETCD_FLAGS: readonly Row[] = [
  row('config-file', str(), 'Path to the server configuration file. Note that if a configuration file is provided, other command line flags and environment variables will be ignored.'),
  // member
  row('data-dir', str(), 'Path to the data directory.', USED),
  row('wal-dir', str(), 'Path to the dedicated wal directory.'),
  row('listen-peer-urls', urls(DEFAULT_LISTEN_PEER_URLS, ''), 'List of URLs to listen on for peer traffic.', USED),
  row('listen-client-urls', urls(DEFAULT_LISTEN_CLIENT_URLS, ''), 'List of URLs to listen on for client traffic.', USED),
  row('listen-metrics-urls', urls('', ''), 'List of URLs to listen on for the metrics and health endpoints.'),
  row('max-snapshots', uint(5), 'Maximum number of snapshot files to retain (0 is unlimited).'),
  row('max-wals', uint(5), 'Maximum number of wal files to retain (0 is unlimited).'),
  row('name', str(DEFAULT_NAME), 'Human-readable name for this member.', USED),
  row('snapshot-count', uint(DEFAULT_SNAPSHOT_COUNT), 'Number of committed transactions to trigger a snapshot to disk.', USED),
  row('heartbeat-interval', uint(DEFAULT_HEARTBEAT_MS), 'Time (in milliseconds) of a heartbeat interval.', USED),
  row('election-timeout', uint(DEFAULT_ELECTION_MS), 'Time (in milliseconds) for an election to timeout.', USED),
  row('initial-election-tick-advance', bool(true), 'Whether to fast-forward initial election ticks on boot for faster election.', USED),
  row('quota-backend-bytes', int(), 'Raise alarms when backend size exceeds the given quota. 0 means use the default quota.', USED),
  row('backend-batch-interval', dur(), 'BackendBatchInterval is the maximum time before commit the backend transaction.'),
  row('backend-batch-limit', int(), 'BackendBatchLimit is the maximum operations before commit the backend transaction.'),
  row('max-txn-ops', uint(128), 'Maximum number of operations permitted in a transaction.'),
  row('max-request-bytes', uint(1.5 * 1024 * 1024), 'Maximum client request size in bytes the server will accept.'),
  row('grpc-keepalive-min-time', dur('5s'), 'Minimum interval duration that a client should wait before pinging server.'),
  row('grpc-keepalive-interval', dur('2h0m0s'), 'Frequency duration of server-to-client ping to check if a connection is alive (0 to disable).'),
  row('grpc-keepalive-timeout', dur('20s'), 'Additional duration of wait before closing a non-responsive connection (0 to disable).'),
  row('max-concurrent-streams', () => uint32Value(0xffffffffn), 'Maximum concurrent streams that each client can open at a time.'),
  // clustering
  row('initial-advertise-peer-urls', urls(DEFAULT_INITIAL_ADVERTISE_PEER_URLS, ''), "List of this member's peer URLs to advertise to the rest of the cluster.", USED),
  row('advertise-client-urls', urls(DEFAULT_ADVERTISE_CLIENT_URLS, ''), "List of this member's client URLs to advertise to the public.", USED),
  row('discovery', str(), 'Discovery URL used to bootstrap the cluster.', USED),
  row('discovery-fallback', () => selectiveValue('proxy', 'exit'), 'Valid values include ["exit" "proxy"]', USED),
  row('discovery-proxy', str(), 'HTTP proxy to use for traffic to discovery service.'),
  row('discovery-srv', str(), 'DNS domain used to bootstrap initial cluster.', USED),
  row('discovery-srv-name', str(), 'Service name to query when using DNS discovery.', USED),
  // etcd 3.6's v3 discovery (embed.Config.DiscoveryCfg; usage texts as etcd 3.6 prints them)
  since36(row('discovery-token', str(), 'V3 discovery: discovery token for the etcd cluster to be bootstrapped.', USED)),
  since36(row('discovery-endpoints', () => uniqueStringsValue(''), 'V3 discovery: List of gRPC endpoints of the discovery service.', USED)),
  since36(row('discovery-dial-timeout', dur('2s'), 'V3 discovery: dial timeout for client connections.', USED)),
  since36(row('discovery-request-timeout', dur('5s'), 'V3 discovery: timeout for discovery requests (excluding dial timeout).', USED)),
  since36(row('discovery-keepalive-time', dur('2s'), 'V3 discovery: keepalive time for client connections.', USED)),
  since36(row('discovery-keepalive-timeout', dur('6s'), 'V3 discovery: keepalive timeout for client connections.', USED)),
  row('initial-cluster', str(DEFAULT_INITIAL_CLUSTER), 'Initial cluster configuration for bootstrapping.', USED),
  row('initial-cluster-token', str(DEFAULT_INITIAL_CLUSTER_TOKEN), 'Initial cluster token for the etcd cluster during bootstrap.', USED),
  row('initial-cluster-state', () => selectiveValue('new', 'existing'), "Initial cluster state ('new' or 'existing').", USED),
  row('strict-reconfig-check', bool(true), 'Reject reconfiguration requests that would cause quorum loss.', USED),
  row('enable-v2', bool(false), 'Accept etcd V2 client requests.', USED),
  row('pre-vote', bool(false), 'Enable to run an additional Raft election phase.', USED),
  // proxy
  row('proxy', () => selectiveValue('off', 'readonly', 'on'), 'Valid values include ["off" "on" "readonly"]', USED),
  row('proxy-failure-wait', uint(5000), 'Time (in milliseconds) an endpoint will be held in a failed state.', USED),
  row('proxy-refresh-interval', uint(30000), 'Time (in milliseconds) of the endpoints refresh interval.', USED),
  row('proxy-dial-timeout', uint(1000), 'Time (in milliseconds) for a dial to timeout.', USED),
  row('proxy-write-timeout', uint(5000), 'Time (in milliseconds) for a write to timeout.', USED),
  row('proxy-read-timeout', uint(0), 'Time (in milliseconds) for a read to timeout.', USED),
  // security
  row('cert-file', str(), 'Path to the client server TLS cert file.', USED),
  row('key-file', str(), 'Path to the client server TLS key file.', USED),
  row('client-cert-auth', bool(), 'Enable client cert authentication.', USED),
  row('client-crl-file', str(), 'Path to the client certificate revocation list file.', USED),
  row('client-cert-allowed-hostname', str(), 'Allowed TLS hostname for client cert authentication.', USED),
  row('trusted-ca-file', str(), 'Path to the client server TLS trusted CA cert file.', USED),
  row('auto-tls', bool(), 'Client TLS using generated certificates', USED),
  row('peer-cert-file', str(), 'Path to the peer server TLS cert file.', USED),
  row('peer-key-file', str(), 'Path to the peer server TLS key file.', USED),
  row('peer-client-cert-auth', bool(), 'Enable peer client cert authentication.', USED),
  row('peer-trusted-ca-file', str(), 'Path to the peer server TLS trusted CA file.', USED),
  row('peer-auto-tls', bool(), 'Peer TLS using generated certificates', USED),
  row('peer-crl-file', str(), 'Path to the peer certificate revocation list file.', USED),
  row('peer-cert-allowed-cn', str(), 'Allowed CN for inter peer authentication.', USED),
  row('peer-cert-allowed-hostname', str(), 'Allowed TLS hostname for inter peer authentication.', USED),
  row('cipher-suites', () => stringsValue(), 'Comma-separated list of supported TLS cipher suites between client/server and peers (empty will be auto-populated by Go).', USED),
  row('experimental-peer-skip-client-san-verification', bool(), 'Skip verification of SAN field in client certificate for peer connections.', USED),
  row('cors', urls('*', '*'), 'Comma-separated white list of origins for CORS, or cross-origin resource sharing, (empty or * means allow all)'),
  row('host-whitelist', () => uniqueStringsValue('*'), 'Comma-separated acceptable hostnames from HTTP client requests, if server is not secure (empty means allow all).'),
  // logging
  row('logger', str('capnslog'), "Specify 'zap' for structured logging or 'capnslog'. WARN: 'capnslog' is being deprecated in v3.5.", USED),
  row('log-output', () => uniqueStringsValue('default'), "[TO BE DEPRECATED IN v3.5] use '--log-outputs'.", USED),
  row('log-outputs', () => uniqueStringsValue('default'), "Specify 'stdout' or 'stderr' to skip journald logging even when running under systemd, or list of comma separated output targets.", USED),
  row('debug', bool(), "[TO BE DEPRECATED IN v3.5] Enable debug-level logging for etcd. Use '--log-level=debug' instead.", USED),
  row('log-level', str('info'), "Configures log level. Only supports debug, info, warn, error, panic, or fatal. Default 'info'.", USED),
  row('log-package-levels', str(), "[TO BE DEPRECATED IN v3.5] Specify a particular log level for each etcd package (eg: 'etcdmain=CRITICAL,etcdserver=DEBUG')."),
  // version
  row('version', bool(), 'Print the version and exit.', USED),
  row('auto-compaction-retention', str('0'), 'Auto compaction retention for mvcc key value store. 0 means disable auto compaction.'),
  row('auto-compaction-mode', str('periodic'), "interpret 'auto-compaction-retention' one of: periodic|revision. 'periodic' for duration based retention, defaulting to hours if no time unit is provided (e.g. '5m'). 'revision' for revision number based retention."),
  row('enable-pprof', bool(), 'Enable runtime profiling data via HTTP server. Address is at client URL + "/debug/pprof/"'),
  row('metrics', str('basic'), "Set level of detail for exported metrics, specify 'extensive' to include histogram metrics"),
  row('auth-token', str('simple'), 'Specify auth token specific options.'),
  row('bcrypt-cost', uint(10), 'Specify bcrypt algorithm cost factor for auth password hashing.'),
  row('auth-token-ttl', uint(300), 'The lifetime in seconds of the auth token.'),
  row('enable-grpc-gateway', bool(true), 'Enable GRPC gateway.'),
  // experimental
  row('experimental-initial-corrupt-check', bool(), 'Enable to check data corruption before serving any client/peer traffic.'),
  row('experimental-corrupt-check-time', dur(), 'Duration of time between cluster corruption check passes.'),
  row('experimental-enable-v2v3', str(), 'v3 prefix for serving emulated v2 state.'),
  row('experimental-backend-bbolt-freelist-type', str('map'), 'ExperimentalBackendFreelistType specifies the type of freelist that boltdb backend uses(array and map are supported types)'),
  row('experimental-enable-lease-checkpoint', bool(), 'Enable leader to send regular checkpoints to other members to prevent reset of remaining TTL on leader change.'),
  row('experimental-enable-lease-checkpoint-persist', bool(), 'Enable persisting remainingTTL to prevent indefinite auto-renewal of long lived leases. Always enabled in v3.6. Should be used to ensure smooth upgrade from v3.5 clusters with this feature enabled. Requires experimental-enable-lease-checkpoint to be enabled.'),
  row('experimental-compaction-batch-limit', int(), 'Sets the maximum revisions deleted in each compaction batch.'),
  row('experimental-watch-progress-notify-interval', dur('10m0s'), 'Duration of periodic watch progress notifications.'),
  row('experimental-warning-apply-duration', dur('100ms'), 'Time duration after which a warning is generated if request takes more time.'),
  // unsafe
  row('unsafe-no-fsync', bool(), 'Disables fsync, unsafe, will cause data loss.'),
  row('force-new-cluster', bool(), 'Force to create a new one member cluster.'),
  // ignored
  ...IGNORED.map(ignored),
];

/** Flags etcd 3.4 does not know (etcd 3.6's v3 discovery). */
export const ETCD_36_FLAGS: ReadonlySet<string> = new Set(
  ETCD_FLAGS.filter((r) => r.since === '3.6').map((r) => r.name),
);

/** Flags raftlab acts on. */
export const USED_FLAGS: ReadonlySet<string> = new Set(ETCD_FLAGS.filter((r) => r.used).map((r) => r.name));

/** A fresh etcd flag set; IgnoredFlag warnings go to `logs` as they are set. */
export function newEtcdFlagSet(logs: EtcdMsg[]): FlagSet {
  const fs = new FlagSet('etcd');
  for (const r of ETCD_FLAGS) fs.var(r.value(logs), r.name, r.usage);
  return fs;
}

/** `raftlab node --help`: the same rows, saying which ones raftlab only accepts. */
export function etcdFlagsHelp(): string {
  const fs = newEtcdFlagSet([]);
  return (
    'usage: raftlab node [flags]\n' +
    '  Runs a raftlab node configured like an etcd 3.4 member: every etcd 3.4 flag is accepted\n' +
    "  (and etcd 3.6's v3 discovery flags), also as an ETCD_<FLAG> environment variable (used\n" +
    '  only when the flag is not given).\n\n' +
    fs.defaults((f) =>
      f.usage === ''
        ? '(ignored, as in etcd)'
        : (ETCD_36_FLAGS.has(f.name) ? ' [etcd 3.6]' : '') +
          (USED_FLAGS.has(f.name) ? '' : ' [accepted, not used by raftlab]'),
    )
  );
}
