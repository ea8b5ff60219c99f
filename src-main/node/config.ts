// A node's configuration, read from its command line and environment exactly as etcd 3.4 reads
// its own (etcdmain/config.go, embed/config.go, pkg/flags, pkg/types, etcdserver/config.go).
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
// Not reproduced (runtime concerns): --config-file (rejected), proxy mode and --discovery-proxy (rejected),
// default-host detection for 0.0.0.0 listeners, DNS resolution when comparing peer URLs (only exact
// URL strings match; etcd also never resolves `localhost` or IP literals), port binding.

import { isIP } from 'node:net';
import { clusterId, memberId } from './ids.js';
import { pkgFlags, etcdmain, type EtcdMsg } from './log.js';

export type ClusterState = 'new' | 'existing';

export interface InitialClusterMember {
  name: string;
  /** Normalised and sorted as etcd sorts them (types.NewURLs). */
  peerURLs: string[];
}

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
    | { method: 'dns'; domain: string; serviceName: string }
    | { method: 'discovery-v3'; token: string; endpoints: string[] };
  heartbeatIntervalMs: number;
  electionTimeoutMs: number;
  /** etcd's ElectionTicks(): election timeout / heartbeat interval, rounded down. */
  electionTicks: number;
  snapshotCount: number;
  /** As given (etcd 3.4 defaults it to false); raftlab always serves the v2 API. */
  enableV2: boolean;
  strictReconfigCheck: boolean;
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

// ---------------------------------------------------------------------------------------------
// Defaults (embed.NewConfig)

export const DEFAULT_NAME = 'default';
export const DEFAULT_LISTEN_PEER_URLS = 'http://localhost:2380';
export const DEFAULT_LISTEN_CLIENT_URLS = 'http://localhost:2379';
export const DEFAULT_INITIAL_ADVERTISE_PEER_URLS = 'http://localhost:2380';
export const DEFAULT_ADVERTISE_CLIENT_URLS = 'http://localhost:2379';
export const DEFAULT_INITIAL_CLUSTER_TOKEN = 'etcd-cluster';
export const DEFAULT_HEARTBEAT_MS = 100;
export const DEFAULT_ELECTION_MS = 1000;
export const DEFAULT_SNAPSHOT_COUNT = 100000;
const MAX_ELECTION_MS = 50000;

const ERR_CONFLICT_BOOTSTRAP =
  'multiple discovery or bootstrap flags are set. Choose one of "initial-cluster", "discovery" or "discovery-srv"';
const ERR_UNSET_ADVERTISE_CLIENT_URLS = '--advertise-client-urls is required when --listen-client-urls is set explicitly';

// ---------------------------------------------------------------------------------------------
// Go helpers

/** Go's strconv.Quote (%q) for the characters that matter here. */
export function goQuote(s: string): string {
  let out = '"';
  for (const ch of s) {
    const c = ch.codePointAt(0)!;
    if (ch === '"') out += '\\"';
    else if (ch === '\\') out += '\\\\';
    else if (ch === '\n') out += '\\n';
    else if (ch === '\r') out += '\\r';
    else if (ch === '\t') out += '\\t';
    else if (ch === '\x07') out += '\\a';
    else if (ch === '\b') out += '\\b';
    else if (ch === '\f') out += '\\f';
    else if (ch === '\v') out += '\\v';
    else if (c < 0x20 || c === 0x7f) out += '\\x' + c.toString(16).padStart(2, '0');
    else out += ch;
  }
  return out + '"';
}

/** Go's %q of a []string: ["a" "b"]. */
function goQuoteSlice(items: readonly string[]): string {
  return '[' + items.map(goQuote).join(' ') + ']';
}

/** strconv.ParseUint/ParseInt with base 0, as the flag package uses; throws Go's flag error text. */
function parseGoInt(s: string, signed: boolean, bits: number): bigint {
  let body = s;
  let neg = false;
  if (signed && (body.startsWith('+') || body.startsWith('-'))) {
    neg = body.startsWith('-');
    body = body.slice(1);
  }
  let digits: string;
  let radix: number;
  if (/^0[xX](_?[0-9a-fA-F])+$/.test(body)) {
    radix = 16;
    digits = body.slice(2);
  } else if (/^0[bB](_?[01])+$/.test(body)) {
    radix = 2;
    digits = body.slice(2);
  } else if (/^0[oO](_?[0-7])+$/.test(body)) {
    radix = 8;
    digits = body.slice(2);
  } else if (/^0(_?[0-7])*$/.test(body)) {
    radix = 8;
    digits = body.slice(1) || '0';
  } else if (/^[1-9](_?[0-9])*$/.test(body)) {
    radix = 10;
    digits = body;
  } else {
    throw new Error('parse error');
  }
  digits = digits.replace(/_/g, '');
  let v = 0n;
  for (const d of digits) v = v * BigInt(radix) + BigInt(parseInt(d, radix));
  if (neg) v = -v;
  const max = signed ? (1n << BigInt(bits - 1)) - 1n : (1n << BigInt(bits)) - 1n;
  const min = signed ? -(1n << BigInt(bits - 1)) : 0n;
  if (v > max || v < min) throw new Error('value out of range');
  return v;
}

function parseGoBool(s: string): boolean {
  if (['1', 't', 'T', 'TRUE', 'true', 'True'].includes(s)) return true;
  if (['0', 'f', 'F', 'FALSE', 'false', 'False'].includes(s)) return false;
  throw new Error('parse error');
}

const GO_DURATION = /^[-+]?(0|((\d+\.?\d*|\.\d+)(ns|us|µs|μs|ms|s|m|h))+)$/;

/** Go's net.SplitHostPort; returns null on error. */
function splitHostPort(hostport: string): { host: string; port: string } | null {
  let host: string;
  let rest: string;
  if (hostport.startsWith('[')) {
    const end = hostport.indexOf(']');
    if (end < 0) return null;
    host = hostport.slice(1, end);
    rest = hostport.slice(end + 1);
    if (!rest.startsWith(':')) return null;
    if (rest.indexOf(':', 1) >= 0) return null;
  } else {
    const i = hostport.lastIndexOf(':');
    if (i < 0) return null;
    host = hostport.slice(0, i);
    rest = hostport.slice(i);
    if (host.includes(':')) return null;
    if (host.includes('[') || host.includes(']')) return null;
  }
  const port = rest.slice(1);
  if (port.includes('[') || port.includes(']')) return null;
  return { host, port };
}

interface GoURL {
  scheme: string;
  opaque: string;
  userinfo: string | null;
  host: string;
  path: string;
  rawQuery: string;
  forceQuery: boolean;
  fragment: string;
}

function goURLString(u: GoURL): string {
  let s = '';
  if (u.scheme !== '') s += u.scheme + ':';
  if (u.opaque !== '') s += u.opaque;
  else {
    if (u.scheme !== '' || u.host !== '' || u.userinfo !== null) {
      if (u.host !== '' || u.path !== '' || u.userinfo !== null) s += '//';
      if (u.userinfo !== null) s += u.userinfo + '@';
      s += u.host;
    }
    s += u.path;
  }
  if (u.forceQuery || u.rawQuery !== '') s += '?' + u.rawQuery;
  if (u.fragment !== '') s += '#' + u.fragment;
  return s;
}

const HOST_OK = /^[A-Za-z0-9\-._~!$&'()*+,;=:[\]<>"%]*$/;

/** A subset of Go's url.Parse, enough for etcd's URL flags; throws Go's error text. */
function goParseURL(raw: string): GoURL {
  const fail = (why: string): never => {
    throw new Error(`parse ${goQuote(raw)}: ${why}`);
  };
  if (/[\x00-\x1f\x7f]/.test(raw)) fail('net/url: invalid control character in URL');
  const hashAt = raw.indexOf('#');
  const fragment = hashAt >= 0 ? raw.slice(hashAt + 1) : '';
  let rest = hashAt >= 0 ? raw.slice(0, hashAt) : raw;
  const u: GoURL = { scheme: '', opaque: '', userinfo: null, host: '', path: '', rawQuery: '', forceQuery: false, fragment };
  // getScheme
  for (let i = 0; i < rest.length; i++) {
    const c = rest[i];
    if (/[A-Za-z]/.test(c)) continue;
    if (/[0-9+\-.]/.test(c)) {
      if (i === 0) break;
      continue;
    }
    if (c === ':') {
      if (i === 0) fail('missing protocol scheme');
      u.scheme = rest.slice(0, i).toLowerCase();
      rest = rest.slice(i + 1);
    }
    break;
  }
  if (rest.endsWith('?') && rest.split('?').length === 2) {
    u.forceQuery = true;
    rest = rest.slice(0, -1);
  } else {
    const q = rest.indexOf('?');
    if (q >= 0) {
      u.rawQuery = rest.slice(q + 1);
      rest = rest.slice(0, q);
    }
  }
  if (!rest.startsWith('/')) {
    if (u.scheme !== '') {
      u.opaque = rest;
      return u;
    }
    const slash = rest.indexOf('/');
    const seg = slash >= 0 ? rest.slice(0, slash) : rest;
    if (seg.includes(':')) fail('first path segment in URL cannot contain colon');
  }
  if ((u.scheme !== '' || !rest.startsWith('///')) && rest.startsWith('//')) {
    let authority = rest.slice(2);
    const slash = authority.indexOf('/');
    if (slash >= 0) {
      rest = authority.slice(slash);
      authority = authority.slice(0, slash);
    } else rest = '';
    const at = authority.lastIndexOf('@');
    let host = authority;
    if (at >= 0) {
      u.userinfo = authority.slice(0, at);
      host = authority.slice(at + 1);
    }
    if (host.startsWith('[')) {
      const end = host.lastIndexOf(']');
      if (end < 0) fail('missing \']\' in host');
      const colonPort = host.slice(end + 1);
      if (colonPort !== '' && !/^:[0-9]*$/.test(colonPort)) fail(`invalid port ${goQuote(colonPort)} after host`);
    } else {
      const i = host.lastIndexOf(':');
      if (i >= 0) {
        const colonPort = host.slice(i);
        if (!/^:[0-9]*$/.test(colonPort)) fail(`invalid port ${goQuote(colonPort)} after host`);
      }
    }
    if (!HOST_OK.test(host)) {
      const bad = [...host].find((c) => !HOST_OK.test(c))!;
      fail(`invalid character ${goQuote(bad)} in host name`);
    }
    u.host = host;
  }
  u.path = rest;
  return u;
}

/**
 * etcd's types.NewURLs for one comma-separated flag value: each URL trimmed, parsed, checked
 * (scheme http/https/unix/unixs, host:port, no path), normalised, then sorted.
 */
export function parseEtcdURLs(value: string): string[] {
  const out: string[] = [];
  for (const part of value.split(',')) {
    const s = part.trim();
    const u = goParseURL(s);
    if (!['http', 'https', 'unix', 'unixs'].includes(u.scheme)) {
      throw new Error(`URL scheme must be http, https, unix, or unixs: ${s}`);
    }
    if (splitHostPort(u.host) === null) throw new Error(`URL address does not have the form "host:port": ${s}`);
    if (u.path !== '') throw new Error(`URL must not contain a path: ${s}`);
    out.push(goURLString(u));
  }
  return out.sort(compareGoStrings);
}

function compareGoStrings(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

// ---------------------------------------------------------------------------------------------
// The etcd 3.4 flag set

type FlagKind =
  | 'string'
  | 'bool'
  | 'uint'
  | 'uint64'
  | 'int'
  | 'int64'
  | 'duration'
  | 'urls'
  | 'strings'
  | 'uniqueStrings'
  | 'state'
  | 'fallback'
  | 'proxy'
  | 'cors'
  | 'ignored';

/** Flags raftlab implements (the rest are accepted, validated and reported as ignored). */
const IMPLEMENTED = new Set([
  'name',
  'discovery',
  'discovery-fallback',
  'discovery-srv',
  'discovery-srv-name',
  'data-dir',
  'listen-peer-urls',
  'listen-client-urls',
  'initial-advertise-peer-urls',
  'advertise-client-urls',
  'initial-cluster',
  'initial-cluster-token',
  'initial-cluster-state',
  'heartbeat-interval',
  'election-timeout',
  'snapshot-count',
  'enable-v2',
  'strict-reconfig-check',
  'pre-vote',
  'initial-election-tick-advance',
  'log-level',
  'debug',
  'version',
  'logger',
  'log-outputs',
  'log-output',
]);

const FLAGS: Record<string, FlagKind> = {
  'config-file': 'string',
  // member
  'data-dir': 'string',
  'wal-dir': 'string',
  'listen-peer-urls': 'urls',
  'listen-client-urls': 'urls',
  'listen-metrics-urls': 'urls',
  'max-snapshots': 'uint',
  'max-wals': 'uint',
  name: 'string',
  'snapshot-count': 'uint64',
  'heartbeat-interval': 'uint',
  'election-timeout': 'uint',
  'initial-election-tick-advance': 'bool',
  'quota-backend-bytes': 'int64',
  'backend-batch-interval': 'duration',
  'backend-batch-limit': 'int',
  'max-txn-ops': 'uint',
  'max-request-bytes': 'uint',
  'grpc-keepalive-min-time': 'duration',
  'grpc-keepalive-interval': 'duration',
  'grpc-keepalive-timeout': 'duration',
  // clustering
  'initial-advertise-peer-urls': 'urls',
  'advertise-client-urls': 'urls',
  discovery: 'string',
  'discovery-fallback': 'fallback',
  'discovery-proxy': 'string',
  'discovery-srv': 'string',
  'discovery-srv-name': 'string',
  'initial-cluster': 'string',
  'initial-cluster-token': 'string',
  'initial-cluster-state': 'state',
  'strict-reconfig-check': 'bool',
  'enable-v2': 'bool',
  'pre-vote': 'bool',
  // proxy
  proxy: 'proxy',
  'proxy-failure-wait': 'uint',
  'proxy-refresh-interval': 'uint',
  'proxy-dial-timeout': 'uint',
  'proxy-write-timeout': 'uint',
  'proxy-read-timeout': 'uint',
  // security
  'cert-file': 'string',
  'key-file': 'string',
  'client-cert-auth': 'bool',
  'client-crl-file': 'string',
  'client-cert-allowed-hostname': 'string',
  'trusted-ca-file': 'string',
  'auto-tls': 'bool',
  'peer-cert-file': 'string',
  'peer-key-file': 'string',
  'peer-client-cert-auth': 'bool',
  'peer-trusted-ca-file': 'string',
  'peer-auto-tls': 'bool',
  'peer-crl-file': 'string',
  'peer-cert-allowed-cn': 'string',
  'peer-cert-allowed-hostname': 'string',
  'cipher-suites': 'strings',
  'experimental-peer-skip-client-san-verification': 'bool',
  cors: 'cors',
  'host-whitelist': 'uniqueStrings',
  // logging
  logger: 'string',
  'log-output': 'uniqueStrings',
  'log-outputs': 'uniqueStrings',
  debug: 'bool',
  'log-level': 'string',
  'log-package-levels': 'string',
  // version
  version: 'bool',
  'auto-compaction-retention': 'string',
  'auto-compaction-mode': 'string',
  'enable-pprof': 'bool',
  metrics: 'string',
  'auth-token': 'string',
  'bcrypt-cost': 'uint',
  'enable-grpc-gateway': 'bool',
  // experimental
  'experimental-initial-corrupt-check': 'bool',
  'experimental-corrupt-check-time': 'duration',
  'experimental-enable-v2v3': 'string',
  'experimental-backend-bbolt-freelist-type': 'string',
  'experimental-enable-lease-checkpoint': 'bool',
  'experimental-compaction-batch-limit': 'int',
  // later 3.4.x additions
  'experimental-watch-progress-notify-interval': 'duration',
  'experimental-warning-apply-duration': 'duration',
  'experimental-txn-mode-write-with-shared-buffer': 'bool',
  'experimental-bootstrap-defrag-threshold-megabytes': 'uint',
  'unsafe-no-fsync': 'bool',
  // unsafe
  'force-new-cluster': 'bool',
  // ignored (flags.IgnoredFlag: boolean-style, warns when set)
  'cluster-active-size': 'ignored',
  'cluster-remove-delay': 'ignored',
  'cluster-sync-interval': 'ignored',
  config: 'ignored',
  force: 'ignored',
  'max-result-buffer': 'ignored',
  'max-retry-attempts': 'ignored',
  'peer-heartbeat-interval': 'ignored',
  'peer-election-timeout': 'ignored',
  'retry-interval': 'ignored',
  snapshot: 'ignored',
  v: 'ignored',
  vv: 'ignored',
  'test.coverprofile': 'ignored',
  'test.outputdir': 'ignored',
};

const isBoolKind = (k: FlagKind): boolean => k === 'bool' || k === 'ignored';

/** Flag values as the Go flag.Value objects would hold them. */
interface FlagValues {
  str: Map<string, string>;
  urls: Map<string, string[]>;
  bools: Map<string, boolean>;
  nums: Map<string, bigint>;
  lists: Map<string, string[]>;
}

function defaultValues(): FlagValues {
  return {
    str: new Map([
      ['name', DEFAULT_NAME],
      // embed.NewConfig: InitialClusterFromName(DefaultName) over the default advertise peer URLs.
      ['initial-cluster', `${DEFAULT_NAME}=${DEFAULT_INITIAL_ADVERTISE_PEER_URLS}`],
      ['initial-cluster-token', DEFAULT_INITIAL_CLUSTER_TOKEN],
      ['initial-cluster-state', 'new'],
      ['discovery-fallback', 'proxy'],
      ['proxy', 'off'],
      ['logger', 'capnslog'],
      ['log-level', 'info'],
      ['auto-compaction-retention', '0'],
      ['auto-compaction-mode', 'periodic'],
      ['metrics', 'basic'],
      ['auth-token', 'simple'],
    ]),
    urls: new Map([
      ['listen-peer-urls', [DEFAULT_LISTEN_PEER_URLS]],
      ['listen-client-urls', [DEFAULT_LISTEN_CLIENT_URLS]],
      ['listen-metrics-urls', []],
      ['initial-advertise-peer-urls', [DEFAULT_INITIAL_ADVERTISE_PEER_URLS]],
      ['advertise-client-urls', [DEFAULT_ADVERTISE_CLIENT_URLS]],
    ]),
    bools: new Map([
      ['strict-reconfig-check', true],
      ['initial-election-tick-advance', true],
      ['enable-grpc-gateway', true],
    ]),
    nums: new Map([
      ['heartbeat-interval', BigInt(DEFAULT_HEARTBEAT_MS)],
      ['election-timeout', BigInt(DEFAULT_ELECTION_MS)],
      ['snapshot-count', BigInt(DEFAULT_SNAPSHOT_COUNT)],
    ]),
    lists: new Map([
      ['log-outputs', ['default']],
      ['log-output', ['default']],
    ]),
  };
}

/** flag.Value.Set for each kind; throws the Value's error text. `logs` receives IgnoredFlag warnings. */
function setFlag(v: FlagValues, name: string, value: string, logs: EtcdMsg[]): void {
  const kind = FLAGS[name];
  switch (kind) {
    case 'string':
      v.str.set(name, value);
      return;
    case 'bool':
      v.bools.set(name, parseGoBool(value));
      return;
    case 'ignored':
      logs.push(pkgFlags.ignoredFlag(name));
      return;
    case 'uint':
    case 'uint64':
      v.nums.set(name, parseGoInt(value, false, 64));
      return;
    case 'int':
    case 'int64':
      v.nums.set(name, parseGoInt(value, true, 64));
      return;
    case 'duration':
      if (!GO_DURATION.test(value)) throw new Error('parse error');
      v.str.set(name, value);
      return;
    case 'urls': {
      // flags.UniqueURLs.Set: a value equal to one already held is a no-op.
      const cur = v.urls.get(name) ?? [];
      if (cur.includes(value)) return;
      v.urls.set(name, parseEtcdURLs(value));
      return;
    }
    case 'cors':
      if (value !== '*') parseEtcdURLs(value);
      v.str.set(name, value);
      return;
    case 'strings':
      v.lists.set(name, value.split(','));
      return;
    case 'uniqueStrings':
      v.lists.set(name, [...new Set(value.split(','))].sort(compareGoStrings));
      return;
    case 'state':
    case 'fallback':
    case 'proxy': {
      const valids = kind === 'state' ? ['new', 'existing'] : kind === 'fallback' ? ['proxy', 'exit'] : ['off', 'readonly', 'on'];
      if (!valids.includes(value)) throw new Error('invalid value');
      v.str.set(name, value);
      return;
    }
  }
}

const flagToEnv = (name: string): string => 'ETCD_' + name.replace(/-/g, '_').toUpperCase();

// ---------------------------------------------------------------------------------------------
// Initial cluster (types.NewURLsMap) and the bootstrap checks (etcdserver/config.go)

/** Parses `n1=http://...,n2=http://...` like types.NewURLsMap, keeping names in order of first appearance. */
export function parseInitialCluster(s: string): InitialClusterMember[] {
  const raw = new Map<string, string[]>();
  let rest = s;
  while (rest !== '') {
    let key = rest;
    const comma = key.indexOf(',');
    if (comma >= 0) {
      rest = key.slice(comma + 1);
      key = key.slice(0, comma);
    } else rest = '';
    if (key === '') continue;
    let value = '';
    const eq = key.indexOf('=');
    if (eq >= 0) {
      value = key.slice(eq + 1);
      key = key.slice(0, eq);
    }
    const list = raw.get(key) ?? [];
    list.push(value);
    raw.set(key, list);
  }
  const out: InitialClusterMember[] = [];
  for (const [name, urls] of raw) {
    out.push({ name, peerURLs: urls.map((u) => parseEtcdURLs(u)[0]).sort(compareGoStrings) });
  }
  return out;
}

/** types.URLsMap.String(): `name=url` pairs, sorted. */
export function initialClusterToString(members: readonly InitialClusterMember[]): string {
  const pairs: string[] = [];
  for (const m of members) for (const u of m.peerURLs) pairs.push(`${m.name}=${u}`);
  return pairs.sort(compareGoStrings).join(',');
}

function hasLocalMember(cfg: Pick<NodeConfig, 'name' | 'initialCluster'>): void {
  if (!cfg.initialCluster.some((m) => m.name === cfg.name)) {
    throw new Error(`couldn't find local name ${goQuote(cfg.name)} in the initial cluster configuration`);
  }
}

function checkDuplicateURL(members: readonly InitialClusterMember[]): void {
  const seen = new Set<string>();
  for (const m of members) {
    for (const u of m.peerURLs) {
      if (seen.has(u)) throw new Error(`initial cluster ${initialClusterToString(members)} has duplicate url`);
      seen.add(u);
    }
  }
}

/** etcdserver's advertiseMatchesCluster, without DNS (etcd never resolves localhost or IP literals either). */
function advertiseMatchesCluster(cfg: Pick<NodeConfig, 'name' | 'initialCluster' | 'initialAdvertisePeerURLs'>): void {
  const urls = [...(cfg.initialCluster.find((m) => m.name === cfg.name)?.peerURLs ?? [])].sort(compareGoStrings);
  const apurls = [...cfg.initialAdvertisePeerURLs].sort(compareGoStrings);
  let err: string;
  if (apurls.length !== urls.length) {
    err = `len(${goQuoteSlice(apurls)}) != len(${goQuoteSlice(urls)})`;
  } else {
    const i = apurls.findIndex((u, k) => u !== urls[k]);
    if (i < 0) return;
    err = `${goQuote(apurls[i])}(resolved from ${goQuote(apurls[i])}) != ${goQuote(urls[i])}(resolved from ${goQuote(urls[i])})`;
  }
  const self = `${initialClusterToString([{ name: cfg.name, peerURLs: apurls }])}`;
  const missingFromAP = urls.filter((u) => !apurls.includes(u));
  if (missingFromAP.length > 0) {
    const mstr = missingFromAP.map((u) => `${cfg.name}=${u}`).join(',');
    throw new Error(`--initial-cluster has ${mstr} but missing from --initial-advertise-peer-urls=${apurls.join(',')} (${err})`);
  }
  const missingFromIC = apurls.filter((u) => !urls.includes(u));
  if (missingFromIC.length > 0) {
    throw new Error(`--initial-advertise-peer-urls has ${missingFromIC.join(',')} but missing from --initial-cluster=${self}`);
  }
  throw new Error(`failed to resolve ${apurls.join(',')} to match --initial-cluster=${self} (${err})`);
}

/** etcdserver's VerifyBootstrap (new cluster, no data yet). Throws with etcd's message. */
export function verifyBootstrap(cfg: Pick<NodeConfig, 'name' | 'initialCluster' | 'initialAdvertisePeerURLs'>): void {
  hasLocalMember(cfg);
  advertiseMatchesCluster(cfg);
  checkDuplicateURL(cfg.initialCluster);
  if (initialClusterToString(cfg.initialCluster) === '') throw new Error('initial cluster unset and no discovery URL found');
}

/** etcdserver's VerifyJoinExisting (existing cluster, no data yet). Throws with etcd's message. */
export function verifyJoinExisting(cfg: Pick<NodeConfig, 'name' | 'initialCluster'>): void {
  hasLocalMember(cfg);
  checkDuplicateURL(cfg.initialCluster);
}

/**
 * The ids a new cluster bootstraps with (membership.NewClusterFromURLsMap): one member per initial
 * cluster name, the cluster id over all of them, and this member's own id.
 */
export function bootstrapIds(cfg: Pick<NodeConfig, 'name' | 'initialCluster' | 'initialClusterToken'>): {
  members: { name: string; id: string; peerURLs: string[] }[];
  clusterId: string;
  localId: string | undefined;
} {
  const members = cfg.initialCluster.map((m) => ({
    name: m.name,
    id: memberId(m.peerURLs, cfg.initialClusterToken),
    peerURLs: [...m.peerURLs],
  }));
  return {
    members,
    clusterId: clusterId(members.map((m) => m.id)),
    localId: members.find((m) => m.name === cfg.name)?.id,
  };
}

// ---------------------------------------------------------------------------------------------
// embed.Config.Validate pieces

function checkBindURLs(urls: readonly string[]): void {
  for (const raw of urls) {
    const u = goParseURL(raw);
    if (u.scheme === 'unix' || u.scheme === 'unixs') continue;
    const hp = splitHostPort(u.host);
    if (hp === null) throw new Error(`address ${u.host}: missing port in address`);
    if (hp.host === 'localhost') continue;
    if (isIP(hp.host) === 0 || hp.host.includes('%')) throw new Error(`expected IP in URL for binding (${raw})`);
  }
}

function checkHostURLs(urls: readonly string[]): string | null {
  for (const raw of urls) {
    const hp = splitHostPort(goParseURL(raw).host);
    if (hp === null) return `address ${goParseURL(raw).host}: missing port in address`;
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
  const values = defaultValues();
  const logs: EtcdMsg[] = [];
  const onCmdline = new Set<string>();
  const setFlags = new Set<string>();

  const verifyError = (msg: string, extra: EtcdMsg[] = []): ConfigError =>
    new ConfigError(msg, 'verify', 1, [...logs, etcdmain.errorVerifyingFlags(msg), ...extra]);
  const fatalError = (msg: string, entry: EtcdMsg = etcdmain.fatal(msg)): ConfigError =>
    new ConfigError(msg, 'fatal', 1, [...logs, entry]);

  // 1. Go flag parsing.
  let args = [...argv];
  let help = false;
  while (args.length > 0) {
    const s = args[0];
    if (s.length < 2 || s[0] !== '-') break;
    let minuses = 1;
    if (s[1] === '-') {
      minuses = 2;
      if (s.length === 2) {
        args = args.slice(1);
        break;
      }
    }
    let name = s.slice(minuses);
    if (name.length === 0 || name[0] === '-' || name[0] === '=') {
      throw new ConfigError(`bad flag syntax: ${s}`, 'flag', 2);
    }
    args = args.slice(1);
    let hasValue = false;
    let value = '';
    const eq = name.indexOf('=', 1);
    if (eq > 0) {
      value = name.slice(eq + 1);
      hasValue = true;
      name = name.slice(0, eq);
    }
    const kind = Object.hasOwn(FLAGS, name) ? FLAGS[name] : undefined;
    if (kind === undefined) {
      if (name === 'help' || name === 'h') {
        help = true;
        break;
      }
      throw new ConfigError(`flag provided but not defined: -${name}`, 'flag', 2);
    }
    if (isBoolKind(kind)) {
      try {
        setFlag(values, name, hasValue ? value : 'true', logs);
      } catch (e) {
        throw new ConfigError(
          hasValue
            ? `invalid boolean value ${goQuote(value)} for -${name}: ${(e as Error).message}`
            : `invalid boolean flag ${name}: ${(e as Error).message}`,
          'flag',
          2,
        );
      }
    } else {
      if (!hasValue && args.length > 0) {
        hasValue = true;
        value = args[0];
        args = args.slice(1);
      }
      if (!hasValue) throw new ConfigError(`flag needs an argument: -${name}`, 'flag', 2);
      try {
        setFlag(values, name, value, logs);
      } catch (e) {
        throw new ConfigError(`invalid value ${goQuote(value)} for flag -${name}: ${(e as Error).message}`, 'flag', 2);
      }
    }
    onCmdline.add(name);
    setFlags.add(name);
  }

  if (help) return build(values, { help: true, version: false, logs, envUsed: [], setFlags, acUnset: false });

  // 2. Positional arguments.
  if (args.length > 0) throw verifyError(`'${args[0]}' is not a valid flag`);

  // 3. --version prints and exits before the environment is read.
  if (values.bools.get('version') === true) {
    return build(values, { help: false, version: true, logs, envUsed: [], setFlags, acUnset: false });
  }

  // 4. A configuration file replaces flags and environment: not supported.
  const configFile = values.str.get('config-file') || env[flagToEnv('config-file')] || '';
  if (configFile !== '') {
    throw new ConfigError(
      `raftlab: --config-file (${configFile}) is not supported; configure the node with flags or ETCD_* environment variables`,
      'unsupported',
      1,
      [...logs],
    );
  }

  // 5. Environment (flags.SetFlagsFromEnv), then verifyEnv.
  const envUsed: EnvUse[] = [];
  const usedEnvKeys = new Set<string>();
  let envErr: string | null = null;
  for (const name of Object.keys(FLAGS).sort(compareGoStrings)) {
    if (onCmdline.has(name)) continue;
    const key = flagToEnv(name);
    const val = env[key];
    if (val === undefined || val === '') continue;
    usedEnvKeys.add(key);
    try {
      setFlag(values, name, val, logs);
    } catch (e) {
      envErr = `invalid value ${goQuote(val)} for ${key}: ${(e as Error).message}`;
      continue;
    }
    setFlags.add(name);
    envUsed.push({ key, value: val });
    logs.push(pkgFlags.recognizedEnv(key, val));
  }
  const shadowed = new Set([...onCmdline].map(flagToEnv));
  for (const [key, val] of Object.entries(env)) {
    if (val === undefined || usedEnvKeys.has(key)) continue;
    if (shadowed.has(key)) {
      if (opts.envConflict === 'flag-wins') continue;
      const entry = pkgFlags.conflictingEnv(key);
      throw new ConfigError(entry.text, 'fatal', 1, [...logs, entry]);
    }
    if (key.startsWith('ETCD_')) logs.push(pkgFlags.unrecognizedEnv(key, val));
  }
  if (envErr !== null) throw verifyError(envErr);

  // 6. configFromCmdLine's adjustments.
  const str = (n: string): string => values.str.get(n) ?? '';
  const durl = str('discovery');
  const dnsCluster = str('discovery-srv');
  const mayBeProxy = str('proxy') !== 'off' || (durl !== '' && str('discovery-fallback') === 'proxy');
  const acUnset = setFlags.has('listen-client-urls') && !setFlags.has('advertise-client-urls') && !mayBeProxy;
  if ((durl !== '' || dnsCluster !== '' || str('discovery-srv-name') !== '') && !setFlags.has('initial-cluster')) {
    values.str.set('initial-cluster', '');
  }

  // 7. embed.Config.Validate.
  const logger = str('logger');
  if (logger !== 'capnslog' && logger !== 'zap') throw verifyError(`unknown logger option ${goQuote(logger)}`);
  if (logger === 'capnslog') {
    const outputs = values.lists.get('log-outputs') ?? ['default'];
    if (outputs.length > 1) {
      throw verifyError(`--logger=capnslog supports only 1 value in '--log-outputs', got ${goQuoteSlice(outputs)}`);
    }
    if (!['default', 'stderr', 'stdout'].includes(outputs[0])) {
      throw verifyError(`unknown log-output ${goQuote(outputs[0])} (only supports "default", "stderr", "stdout")`);
    }
  }
  try {
    checkBindURLs(urlsOf(values, 'listen-peer-urls'));
    checkBindURLs(urlsOf(values, 'listen-client-urls'));
    checkBindURLs(urlsOf(values, 'listen-metrics-urls'));
  } catch (e) {
    throw verifyError((e as Error).message);
  }
  const ap = urlsOf(values, 'initial-advertise-peer-urls');
  const apErr = checkHostURLs(ap);
  if (apErr !== null) throw verifyError(`--initial-advertise-peer-urls ${goQuote(ap.join(','))} must be "host:port" (${apErr})`);
  if (!acUnset) {
    const ac = urlsOf(values, 'advertise-client-urls');
    const acErr = checkHostURLs(ac);
    if (acErr !== null) throw verifyError(`--advertise-client-urls ${goQuote(ac.join(','))} must be "host:port" (${acErr})`);
  }
  if ([durl !== '', str('initial-cluster') !== '', dnsCluster !== ''].filter(Boolean).length > 1) {
    throw verifyError(ERR_CONFLICT_BOOTSTRAP);
  }
  const tick = values.nums.get('heartbeat-interval')!;
  const election = values.nums.get('election-timeout')!;
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
    throw verifyError(`unknown auto-compaction-mode ${goQuote(compactionMode)}`);
  }

  // 8. What raftlab does not do.
  if (str('proxy') !== 'off') {
    throw new ConfigError(`raftlab: proxy mode (--proxy=${str('proxy')}) is not supported`, 'unsupported', 1, [...logs]);
  }
  if (str('discovery-proxy') !== '') {
    throw new ConfigError(`raftlab: --discovery-proxy (${str('discovery-proxy')}) is not supported; reach the discovery service directly`, 'unsupported', 1, [...logs]);
  }

  // 9. What etcd's listeners refuse (embed.StartEtcd: peers, then clients), before any data
  //    dir is touched: etcd fails there too, with nothing written.
  const listenProblem = listenerProblem(values);
  if (listenProblem !== null) {
    if (listenProblem.startsWith('raftlab:')) throw new ConfigError(listenProblem, 'unsupported', 1, [...logs, etcdmain.fatal(listenProblem)]);
    throw fatalError(listenProblem);
  }

  const cfg = build(values, { help: false, version: false, logs, envUsed, setFlags, acUnset });

  // 10. Bootstrap checks, made only when the member has no data yet. With discovery the
  //     initial cluster is only known once it has run (src-main/node/discovery/bootstrap.ts).
  if (!opts.memberInitialized && cfg.bootstrap.method === 'static') {
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
 * and configureClientListeners): a port net.Listen refuses; https without a key and cert.
 * With a key and cert etcd would serve TLS, which raftlab does not: said so plainly.
 */
function listenerProblem(values: FlagValues): string | null {
  const str = (n: string): string => values.str.get(n) ?? '';
  const tls = (prefix: string) => str(`${prefix}cert-file`) !== '' || str(`${prefix}key-file`) !== '' || values.bools.get(`${prefix}auto-tls`) === true;
  const port = (raw: string): string | null => {
    const hp = splitHostPort(goParseURL(raw).host);
    // url.Parse let only digits through; Go's net.Listen takes them up to 65535.
    return hp && Number(hp.port) > 65535 ? `listen tcp: address ${hp.port}: invalid port` : null;
  };
  for (const raw of urlsOf(values, 'listen-peer-urls')) {
    const u = goParseURL(raw);
    if (u.scheme === 'unix' || u.scheme === 'unixs') return `raftlab: unix socket peer URLs (${raw}) are not supported`;
    const bad = port(raw);
    if (bad) return bad;
    if (u.scheme === 'https') {
      if (!tls('peer-')) return `cannot listen on TLS for ${u.host}: KeyFile and CertFile are not presented`;
      return `raftlab: TLS on the peer port (${raw}) is not supported; use http://`;
    }
  }
  for (const raw of urlsOf(values, 'listen-client-urls')) {
    const u = goParseURL(raw);
    if (u.scheme === 'https' || u.scheme === 'unixs') {
      if (!tls('')) return `TLS key/cert (--cert-file, --key-file) must be provided for client url ${raw} with HTTPS scheme`;
      return `raftlab: TLS on the client port (${raw}) is not supported; use http://`;
    }
    if (u.scheme === 'unix') return `raftlab: unix socket client URLs (${raw}) are not supported`;
    const bad = port(raw);
    if (bad) return bad;
  }
  return null;
}

function urlsOf(values: FlagValues, name: string): string[] {
  return [...(values.urls.get(name) ?? [])];
}

/** embed.Config.InitialClusterFromName. */
function initialClusterFromName(name: string, apurls: readonly string[]): string {
  const n = name === '' ? DEFAULT_NAME : name;
  return apurls.map((u) => `${n}=${u}`).join(',');
}

function build(
  values: FlagValues,
  x: { help: boolean; version: boolean; logs: EtcdMsg[]; envUsed: EnvUse[]; setFlags: Set<string>; acUnset: boolean },
): NodeConfig {
  const str = (n: string): string => values.str.get(n) ?? '';
  const name = str('name');
  const ap = urlsOf(values, 'initial-advertise-peer-urls');
  const defaultInitialCluster = `${DEFAULT_NAME}=${DEFAULT_INITIAL_ADVERTISE_PEER_URLS}`;
  let initialClusterString = str('initial-cluster');
  // UpdateDefaultClusterFromName: only the name was given, so the cluster is this member alone.
  if (name !== DEFAULT_NAME && initialClusterString === defaultInitialCluster) {
    initialClusterString = initialClusterFromName(name, ap);
  }
  let initialCluster: InitialClusterMember[] = [];
  try {
    initialCluster = parseInitialCluster(initialClusterString);
  } catch {
    // Reported by the bootstrap checks when they apply; an initialized member ignores it.
  }
  const dataDirDefaulted = str('data-dir') === '';
  const heartbeat = Number(values.nums.get('heartbeat-interval'));
  const election = Number(values.nums.get('election-timeout'));
  const ignoredFlags = [...x.setFlags].filter((f) => !IMPLEMENTED.has(f)).sort(compareGoStrings);
  if (str('logger') !== 'capnslog' && !ignoredFlags.includes('logger')) ignoredFlags.push('logger');
  return {
    name,
    dataDir: dataDirDefaulted ? `${name}.etcd` : str('data-dir'),
    dataDirDefaulted,
    listenPeerURLs: urlsOf(values, 'listen-peer-urls'),
    listenClientURLs: urlsOf(values, 'listen-client-urls'),
    initialAdvertisePeerURLs: ap,
    advertiseClientURLs: x.acUnset ? [] : urlsOf(values, 'advertise-client-urls'),
    initialClusterString,
    initialCluster,
    initialClusterToken: str('initial-cluster-token'),
    initialClusterState: str('initial-cluster-state') as ClusterState,
    bootstrap:
      str('discovery') !== ''
        ? { method: 'discovery', url: str('discovery'), fallback: str('discovery-fallback') === 'exit' ? 'exit' : 'proxy' }
        : str('discovery-srv') !== ''
          ? { method: 'dns', domain: str('discovery-srv'), serviceName: str('discovery-srv-name') }
          : { method: 'static' },
    heartbeatIntervalMs: heartbeat,
    electionTimeoutMs: election,
    electionTicks: heartbeat > 0 ? Math.floor(election / heartbeat) : 0,
    snapshotCount: Number(values.nums.get('snapshot-count')),
    enableV2: values.bools.get('enable-v2') ?? false,
    strictReconfigCheck: values.bools.get('strict-reconfig-check') ?? true,
    preVote: values.bools.get('pre-vote') ?? false,
    initialElectionTickAdvance: values.bools.get('initial-election-tick-advance') ?? true,
    logLevel: str('log-level'),
    debug: values.bools.get('debug') ?? false,
    help: x.help,
    version: x.version,
    envUsed: x.envUsed,
    logs: [...x.logs],
    ignoredFlags,
    explicitlySet: [...x.setFlags].sort(compareGoStrings),
  };
}
