// etcd 3.4's log output, as a node started with the default `--logger=capnslog` prints it to stderr.
//
// Two formats are interleaved in a real etcd 3.4 log:
// - capnslog's PrettyFormatter, used by every etcd package:
//     2026-11-24 15:35:49.278204 I | etcdserver: published {Name:n1 ClientURLs:[http://127.0.0.1:2379]} to cluster b642fa49c52c2640
//   (local time, microseconds, level letter, package, message; a message already ending in "\n"
//   gets no second newline);
// - raft's own DefaultLogger (log.New(os.Stderr, "raft", log.LstdFlags)), because in capnslog mode
//   etcd 3.4 does not hand raft a logger:
//     raft2026/11/24 15:35:49 INFO: b75827e6d4dfe87e became leader at term 2
//
// Message texts below are copied from etcd 3.4 / raft 3.4 sources; each helper returns the text
// together with the package and level etcd logs it with.
//
// Longer than most files here on purpose: it is the one catalogue of etcd's words, one short
// helper per line etcd prints, looked up by package; split, a line's text would be hunted for.

import { quote as quoteGo, quoteSlice as quoteGoSlice } from './go/strconv.js';
import { idToDecimal } from './ids.js';

/** capnslog level letters: Critical (fatal/panic), Error, Warning, Notice, Info, Debug. */
export type LogLevel = 'C' | 'E' | 'W' | 'N' | 'I' | 'D';
/** raft DefaultLogger level words. */
export type RaftLogLevel = 'DEBUG' | 'INFO' | 'WARN' | 'ERROR' | 'FATAL' | 'PANIC';

/** A capnslog line to be: what etcd would pass to plog.<Level>f. */
export interface EtcdMsg {
  readonly kind: 'capnslog';
  readonly level: LogLevel;
  readonly pkg: string;
  readonly text: string;
}

/** A raft DefaultLogger line to be. */
export interface RaftMsg {
  readonly kind: 'raft';
  readonly level: RaftLogLevel;
  readonly text: string;
}

export type LogMsg = EtcdMsg | RaftMsg;

/** A Date plus the microseconds within its millisecond (Date has only milliseconds). */
export interface LogTime {
  date: Date;
  /** 0..999, appended after the Date's milliseconds. */
  micros: number;
}

const pad = (n: number, w = 2): string => String(n).padStart(w, '0');

function splitTime(t: Date | LogTime): { date: Date; micros: number } {
  return t instanceof Date ? { date: t, micros: 0 } : { date: t.date, micros: t.micros };
}

/** `2006-01-02 15:04:05.000000` in local time, as capnslog prints it. */
export function formatLogTimestamp(t: Date | LogTime): string {
  const { date, micros } = splitTime(t);
  const us = date.getMilliseconds() * 1000 + Math.min(999, Math.max(0, Math.trunc(micros)));
  return (
    `${pad(date.getFullYear(), 4)}-${pad(date.getMonth() + 1)}-${pad(date.getDate())} ` +
    `${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())}.${pad(us, 6)}`
  );
}

function stripOneNewline(msg: string): string {
  return msg.endsWith('\n') ? msg.slice(0, -1) : msg;
}

/**
 * One capnslog line, without the trailing newline. An empty `pkg` prints no `pkg: ` part, as in
 * capnslog; a message that already ends with "\n" (etcd's `etcd Version: %s\n`) is not doubled.
 */
export function formatLogLine(date: Date | LogTime, level: LogLevel, pkg: string, msg: string): string {
  return `${formatLogTimestamp(date)} ${level} | ${pkg === '' ? '' : pkg + ': '}${stripOneNewline(msg)}`;
}

/** One raft DefaultLogger line (Go log.LstdFlags, prefix "raft"), without the trailing newline. */
export function formatRaftLogLine(date: Date | LogTime, level: RaftLogLevel, msg: string): string {
  const { date: d } = splitTime(date);
  const ts =
    `${pad(d.getFullYear(), 4)}/${pad(d.getMonth() + 1)}/${pad(d.getDate())} ` +
    `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
  return `raft${ts} ${level}: ${stripOneNewline(msg)}`;
}

export interface EtcdLogger {
  info(pkg: string, msg: string): void;
  notice(pkg: string, msg: string): void;
  warn(pkg: string, msg: string): void;
  error(pkg: string, msg: string): void;
  /** Logs at C (capnslog's Fatal); the caller is responsible for exiting afterwards. */
  fatal(pkg: string, msg: string): void;
  /** Dropped unless the logger was created with `debug: true` (etcd's `--debug`). */
  debug(pkg: string, msg: string): void;
  /** raft's DefaultLogger (DEBUG lines are dropped unless `debug`). */
  raft(level: RaftLogLevel, msg: string): void;
  /** Logs a message built by one of the helpers below, in the right format. */
  emit(m: LogMsg): void;
}

/**
 * A logger writing etcd-3.4-formatted lines (no trailing newline) to `write`. `clock` may return a
 * plain Date, or a LogTime to give the sub-millisecond digits.
 */
export function createLogger(
  write: (line: string) => void,
  clock: () => Date | LogTime,
  opts: { debug?: boolean } = {},
): EtcdLogger {
  const debug = opts.debug === true;
  const line = (level: LogLevel, pkg: string, msg: string): void => {
    if (level === 'D' && !debug) return;
    write(formatLogLine(clock(), level, pkg, msg));
  };
  const raft = (level: RaftLogLevel, msg: string): void => {
    if (level === 'DEBUG' && !debug) return;
    write(formatRaftLogLine(clock(), level, msg));
  };
  return {
    info: (pkg, msg) => line('I', pkg, msg),
    notice: (pkg, msg) => line('N', pkg, msg),
    warn: (pkg, msg) => line('W', pkg, msg),
    error: (pkg, msg) => line('E', pkg, msg),
    fatal: (pkg, msg) => line('C', pkg, msg),
    debug: (pkg, msg) => line('D', pkg, msg),
    raft,
    emit: (m) => (m.kind === 'raft' ? raft(m.level, m.text) : line(m.level, m.pkg, m.text)),
  };
}

// ---------------------------------------------------------------------------------------------
// Go formatting helpers

const NS_PER_US = 1000n;
const NS_PER_MS = 1_000_000n;
const NS_PER_S = 1_000_000_000n;

/** Go's fmtFrac: the fraction of v / 10^prec without trailing zeros (no '.' when zero). */
function fmtFrac(v: bigint, prec: number): { frac: string; rest: bigint } {
  let digits = '';
  let print = false;
  for (let i = 0; i < prec; i++) {
    const digit = v % 10n;
    print = print || digit !== 0n;
    if (print) digits = digit.toString() + digits;
    v /= 10n;
  }
  return { frac: print ? '.' + digits : '', rest: v };
}

/** Go's time.Duration.String() for a duration in nanoseconds (e.g. 4.377659814s, 1m30s, 1h0m0s, 500ms, 1.5µs). */
export function goDurationNs(ns: bigint | number): string {
  let u = typeof ns === 'bigint' ? ns : BigInt(Math.round(ns));
  const neg = u < 0n;
  if (neg) u = -u;
  let out: string;
  if (u < NS_PER_S) {
    if (u === 0n) return '0s';
    let unit: string;
    let prec: number;
    if (u < NS_PER_US) {
      unit = 'ns';
      prec = 0;
    } else if (u < NS_PER_MS) {
      unit = 'µs';
      prec = 3;
    } else {
      unit = 'ms';
      prec = 6;
    }
    const { frac, rest } = fmtFrac(u, prec);
    out = rest.toString() + frac + unit;
  } else {
    const { frac, rest } = fmtFrac(u, 9);
    let secs = rest;
    out = (secs % 60n).toString() + frac + 's';
    secs /= 60n;
    if (secs > 0n) {
      out = (secs % 60n).toString() + 'm' + out;
      const hours = secs / 60n;
      if (hours > 0n) out = hours.toString() + 'h' + out;
    }
  }
  return neg ? '-' + out : out;
}

/** Go's time.Duration.String() for a duration given in (possibly fractional) milliseconds. */
export function goDuration(ms: number): string {
  return goDurationNs(Math.round(ms * 1e6));
}

/** An id as etcd prints it (types.ID / %x): lowercase hex, no padding. */
function hex(id: string): string {
  return BigInt('0x' + id).toString(16);
}

/** Go's `%v` of a []string: `[a b c]`. */
function goSlice(items: readonly string[]): string {
  return `[${items.join(' ')}]`;
}

const cap = (level: LogLevel, pkg: string, text: string): EtcdMsg => ({ kind: 'capnslog', level, pkg, text });
const raftInfo = (text: string): RaftMsg => ({ kind: 'raft', level: 'INFO', text });

// ---------------------------------------------------------------------------------------------
// etcdmain / pkg/flags / embed

/** Printed raw to stderr (not through capnslog) each time etcd 3.4 validates its config with the default logger. */
export const DEPRECATED_CAPNSLOG_WARNING =
  "[WARNING] Deprecated '--logger=capnslog' flag is set; use '--logger=zap' flag instead";

/** `etcd --version` output (stdout), one line per element. */
export function versionOutput(v: {
  etcdVersion: string;
  gitSha: string;
  goVersion: string;
  goOs: string;
  goArch: string;
}): string[] {
  return [
    `etcd Version: ${v.etcdVersion}`,
    `Git SHA: ${v.gitSha}`,
    `Go Version: ${v.goVersion}`,
    `Go OS/Arch: ${v.goOs}/${v.goArch}`,
  ];
}

export const etcdmain = {
  /** The four start-up lines etcdmain logs before anything else (each is I | etcdmain). */
  versionLines: (v: {
    etcdVersion: string;
    gitSha: string;
    goVersion: string;
    goOs: string;
    goArch: string;
  }): EtcdMsg[] => versionOutput(v).map((t) => cap('I', 'etcdmain', t)),
  maxCpus: (set: number, available: number): EtcdMsg =>
    cap('I', 'etcdmain', `setting maximum number of CPUs to ${set}, total number of available CPUs is ${available}`),
  noDataDir: (dataDir: string): EtcdMsg =>
    cap('W', 'etcdmain', `no data-dir provided, using default data-dir ./${dataDir}`),
  alreadyInitialized: (): EtcdMsg =>
    cap('N', 'etcdmain', 'the server is already initialized as member before, starting as etcd member...'),
  errorVerifyingFlags: (err: string): EtcdMsg =>
    cap('E', 'etcdmain', `error verifying flags, ${err}. See 'etcd --help'.`),
  /** Follows errorVerifyingFlags when the error is the missing --advertise-client-urls one. */
  mustAdvertiseClientURLs: (): EtcdMsg =>
    cap(
      'E',
      'etcdmain',
      'When listening on specific address(es), this etcd process must advertise accessible url(s) to each connected client.',
    ),
  /** Start-up failures (bad initial cluster, ...): plog.Fatalf("%v", err). */
  fatal: (err: string): EtcdMsg => cap('C', 'etcdmain', err),
};

export const pkgFlags = {
  recognizedEnv: (key: string, value: string): EtcdMsg =>
    cap('I', 'pkg/flags', `recognized and used environment variable ${key}=${value}`),
  unrecognizedEnv: (key: string, value: string): EtcdMsg =>
    cap('W', 'pkg/flags', `unrecognized environment variable ${key}=${value}`),
  conflictingEnv: (key: string): EtcdMsg =>
    cap(
      'C',
      'pkg/flags',
      `conflicting environment variable ${JSON.stringify(key)} is shadowed by corresponding command-line flag (either unset environment variable or disable flag)`,
    ),
  ignoredFlag: (name: string): EtcdMsg => cap('W', 'pkg/flags', `flag "-${name}" is no longer supported - ignoring.`),
};

export const embed = {
  /** `addr` is the listener's address (host:port as bound, e.g. 127.0.0.1:2380), not the URL. */
  listeningForPeers: (addr: string): EtcdMsg => cap('I', 'embed', `listening for peers on ${addr}`),
  /**
   * etcd 3.3 logged this (with the URL's host:port) when opening each client listener; etcd 3.4 in
   * capnslog mode no longer does (it logs only `stopping listening for client requests on ...`).
   */
  listeningForClientRequests: (host: string): EtcdMsg => cap('I', 'embed', `listening for client requests on ${host}`),
  readyToServeClientRequests: (): EtcdMsg => cap('I', 'embed', 'ready to serve client requests'),
  /** `addr` is the client listener's address (e.g. 127.0.0.1:2379). */
  servingInsecure: (addr: string): EtcdMsg =>
    cap('N', 'embed', `serving insecure client requests on ${addr}, this is strongly discouraged!`),
  /** Secure client listener (embed/serve.go): etcd says where, without "insecure". */
  servingClientRequests: (addr: string): EtcdMsg => cap('I', 'embed', `serving client requests on ${addr}`),
  /** `info` is TLSInfo.String() (tls-info.ts): file names and flags, never key material. */
  peerTLS: (info: string): EtcdMsg => cap('I', 'embed', `peerTLS: ${info}`),
  clientTLS: (info: string): EtcdMsg => cap('I', 'embed', `ClientTLS: ${info}`),
  ignoringAutoTLS: (which: 'client' | 'peer'): EtcdMsg =>
    cap('W', 'embed', `ignoring ${which} auto TLS since certs given`),
  /** An https listener's failed handshake (embed/config.go logTLSHandshakeFailure). */
  rejectedConnection: (r: {
    remote: string;
    error: string;
    serverName: string;
    cert?: { ips: string[]; dnsNames: string[] };
  }): EtcdMsg =>
    cap(
      'I',
      'embed',
      `rejected connection from ${quoteGo(r.remote)} (error ${quoteGo(r.error)}, ServerName ${quoteGo(r.serverName)}` +
        (r.cert ? `, IPAddresses ${quoteGoSlice(r.cert.ips)}, DNSNames ${quoteGoSlice(r.cert.dnsNames)})` : ')'),
    ),
  /** An http:// URL while TLS files or client-cert auth are configured (configurePeerListeners / configureClientListeners). */
  peerURLIgnoresTLS: (url: string): EtcdMsg =>
    cap(
      'W',
      'embed',
      `The scheme of peer url ${url} is HTTP while peer key/cert files are presented. Ignored peer key/cert files.`,
    ),
  peerURLIgnoresClientCertAuth: (url: string): EtcdMsg =>
    cap(
      'W',
      'embed',
      `The scheme of peer url ${url} is HTTP while client cert auth (--peer-client-cert-auth) is enabled. Ignored client cert auth for this url.`,
    ),
  clientURLIgnoresTLS: (url: string): EtcdMsg =>
    cap(
      'W',
      'embed',
      `The scheme of client url ${url} is HTTP while peer key/cert files are presented. Ignored key/cert files.`,
    ),
  clientURLIgnoresClientCertAuth: (url: string): EtcdMsg =>
    cap(
      'W',
      'embed',
      `The scheme of client url ${url} is HTTP while client cert auth (--client-cert-auth) is enabled. Ignored client cert auth for this url.`,
    ),
  /** The configuration summary embed prints before starting the server (each I | embed). */
  configSummary: (c: {
    name: string;
    dataDir: string;
    heartbeatMs: number;
    electionMs: number;
    snapshotCount: number;
    advertiseClientURLs: string[];
    /** Only for a member restarting from its data dir. */
    restart?: { initialAdvertisePeerURLs: string[]; initialCluster: string };
  }): EtcdMsg[] => {
    const out = [
      cap('I', 'embed', `name = ${c.name}`),
      cap('I', 'embed', `data dir = ${c.dataDir}`),
      cap('I', 'embed', `member dir = ${c.dataDir}/member`),
      cap('I', 'embed', `heartbeat = ${c.heartbeatMs}ms`),
      cap('I', 'embed', `election = ${c.electionMs}ms`),
      cap('I', 'embed', `snapshot count = ${c.snapshotCount}`),
      cap('I', 'embed', `advertise client URLs = ${c.advertiseClientURLs.join(',')}`),
    ];
    if (c.restart) {
      out.push(cap('I', 'embed', `initial advertise peer URLs = ${c.restart.initialAdvertisePeerURLs.join(',')}`));
      out.push(cap('I', 'embed', `initial cluster = ${c.restart.initialCluster}`));
    }
    return out;
  },
};

// ---------------------------------------------------------------------------------------------
// etcdserver, membership, rafthttp

export const etcdserver = {
  startingMember: (id: string, cluster: string): EtcdMsg =>
    cap('I', 'etcdserver', `starting member ${hex(id)} in cluster ${hex(cluster)}`),
  restartingMember: (id: string, cluster: string, commit: number): EtcdMsg =>
    cap('I', 'etcdserver', `restarting member ${hex(id)} in cluster ${hex(cluster)} at commit index ${commit}`),
  startingServer: (version: string, clusterVersion = 'to_be_decided'): EtcdMsg =>
    cap('I', 'etcdserver', `starting server... [version: ${version}, cluster version: ${clusterVersion}]`),
  singleNodeFastForward: (id: string, ticks: number, electionTicks: number): EtcdMsg =>
    cap(
      'I',
      'etcdserver',
      `${hex(id)} as single-node; fast-forwarding ${ticks} ticks (election ticks ${electionTicks})`,
    ),
  settingUpInitialClusterVersion: (v: string): EtcdMsg =>
    cap('I', 'etcdserver', `setting up the initial cluster version to ${v}`),
  /** `{Name:n1 ClientURLs:[http://127.0.0.1:2379]}` is Go's %+v of the member attributes. */
  published: (name: string, clientURLs: readonly string[], cluster: string): EtcdMsg =>
    cap('I', 'etcdserver', `published {Name:${name} ClientURLs:${goSlice(clientURLs)}} to cluster ${hex(cluster)}`),
  /** Logged (E) when a removed member stops; followed by dataDirMustBeRemoved. */
  memberRemoved: (): EtcdMsg => cap('E', 'etcdserver', 'the member has been permanently removed from the cluster'),
  dataDirMustBeRemoved: (): EtcdMsg => cap('I', 'etcdserver', 'the data-dir used by this member must be removed.'),
};

export const membership = {
  addedMember: (id: string, peerURLs: readonly string[], cluster: string): EtcdMsg =>
    cap('I', 'etcdserver/membership', `added member ${hex(id)} ${goSlice(peerURLs)} to cluster ${hex(cluster)}`),
  removedMember: (id: string, cluster: string): EtcdMsg =>
    cap('I', 'etcdserver/membership', `removed member ${hex(id)} from cluster ${hex(cluster)}`),
  promotedMember: (id: string, cluster: string): EtcdMsg =>
    cap('N', 'etcdserver/membership', `promote member ${hex(id)} in cluster ${hex(cluster)}`),
  updatedMember: (id: string, peerURLs: readonly string[], cluster: string): EtcdMsg =>
    cap('N', 'etcdserver/membership', `updated member ${hex(id)} ${goSlice(peerURLs)} in cluster ${hex(cluster)}`),
  setInitialClusterVersion: (v: string): EtcdMsg =>
    cap('N', 'etcdserver/membership', `set the initial cluster version to ${v}`),
};

export const etcdserverApi = {
  enabledCapabilities: (v: string): EtcdMsg => cap('I', 'etcdserver/api', `enabled capabilities for version ${v}`),
};

export const rafthttp = {
  /**
   * rafthttp/probing_status.go: `the clock difference against peer %s is too high [%v > %v]`, both
   * durations in Go's format (e.g. `[4.377659814s > 1s]`). etcd warns when the difference exceeds 1s.
   */
  clockDifference: (peer: string, diffMs: number, thresholdMs = 1000): EtcdMsg =>
    cap(
      'W',
      'rafthttp',
      `the clock difference against peer ${hex(peer)} is too high [${goDuration(diffMs)} > ${goDuration(thresholdMs)}]`,
    ),
  healthCheckFailed: (peer: string, err: string): EtcdMsg =>
    cap('W', 'rafthttp', `health check for peer ${hex(peer)} could not connect: ${err}`),
  peerBecameActive: (peer: string): EtcdMsg => cap('I', 'rafthttp', `peer ${hex(peer)} became active`),
  peerBecameInactive: (peer: string): EtcdMsg =>
    cap('I', 'rafthttp', `peer ${hex(peer)} became inactive (message send to peer failed)`),
};

// ---------------------------------------------------------------------------------------------
// raft (printed through raft's DefaultLogger, see formatRaftLogLine)

type VoteType = 'MsgVote' | 'MsgPreVote';
type VoteRespType = 'MsgVoteResp' | 'MsgPreVoteResp';

type VoteLineArgs = [
  id: string,
  lastLogTerm: number,
  lastIndex: number,
  vote: string,
  type: VoteType,
  candidate: string,
  candLogTerm: number,
  candIndex: number,
  term: number,
];

/** raft's "cast MsgVote for" / "rejected MsgVote from" lines share one shape. */
function voteLine(
  verb: 'cast' | 'rejected',
  prep: 'for' | 'from',
  ...[id, lastLogTerm, lastIndex, vote, type, candidate, candLogTerm, candIndex, term]: VoteLineArgs
): RaftMsg {
  return raftInfo(
    `${hex(id)} [logterm: ${lastLogTerm}, index: ${lastIndex}, vote: ${hex(vote || '0')}] ${verb} ${type} ${prep} ${hex(candidate)} [logterm: ${candLogTerm}, index: ${candIndex}] at term ${term}`,
  );
}

export const raft = {
  becameFollower: (id: string, term: number): RaftMsg => raftInfo(`${hex(id)} became follower at term ${term}`),
  becameCandidate: (id: string, term: number): RaftMsg => raftInfo(`${hex(id)} became candidate at term ${term}`),
  becamePreCandidate: (id: string, term: number): RaftMsg =>
    raftInfo(`${hex(id)} became pre-candidate at term ${term}`),
  becameLeader: (id: string, term: number): RaftMsg => raftInfo(`${hex(id)} became leader at term ${term}`),
  startingNewElection: (id: string, term: number): RaftMsg =>
    raftInfo(`${hex(id)} is starting a new election at term ${term}`),
  /** `[logterm: X, index: Y] sent MsgVote request to Z at term N` (term is the campaign's term). */
  sentVoteRequest: (
    id: string,
    lastLogTerm: number,
    lastIndex: number,
    to: string,
    term: number,
    type: VoteType = 'MsgVote',
  ): RaftMsg =>
    raftInfo(
      `${hex(id)} [logterm: ${lastLogTerm}, index: ${lastIndex}] sent ${type} request to ${hex(to)} at term ${term}`,
    ),
  receivedVoteResp: (
    id: string,
    from: string,
    term: number,
    granted = true,
    type: VoteRespType = 'MsgVoteResp',
  ): RaftMsg => raftInfo(`${hex(id)} received ${type}${granted ? '' : ' rejection'} from ${hex(from)} at term ${term}`),
  voteTally: (id: string, granted: number, rejected: number, type: VoteRespType = 'MsgVoteResp'): RaftMsg =>
    raftInfo(`${hex(id)} has received ${granted} ${type} votes and ${rejected} vote rejections`),
  /** `vote` is the voter's current vote ("0" or "" for none). */
  castVote: (...a: VoteLineArgs): RaftMsg => voteLine('cast', 'for', ...a),
  rejectedVote: (...a: VoteLineArgs): RaftMsg => voteLine('rejected', 'from', ...a),
  higherTermMessage: (id: string, term: number, type: string, from: string, msgTerm: number): RaftMsg =>
    raftInfo(
      `${hex(id)} [term: ${term}] received a ${type} message with higher term from ${hex(from)} [term: ${msgTerm}]`,
    ),
  lowerTermIgnored: (id: string, term: number, type: string, from: string, msgTerm: number): RaftMsg =>
    raftInfo(
      `${hex(id)} [term: ${term}] ignored a ${type} message with lower term from ${hex(from)} [term: ${msgTerm}]`,
    ),
  electedLeader: (id: string, leader: string, term: number): RaftMsg =>
    raftInfo(`raft.node: ${hex(id)} elected leader ${hex(leader)} at term ${term}`),
  changedLeader: (id: string, from: string, to: string, term: number): RaftMsg =>
    raftInfo(`raft.node: ${hex(id)} changed leader from ${hex(from)} to ${hex(to)} at term ${term}`),
  lostLeader: (id: string, leader: string, term: number): RaftMsg =>
    raftInfo(`raft.node: ${hex(id)} lost leader ${hex(leader)} at term ${term}`),
  /** `switched to configuration voters=(...)`: voter ids in decimal, ascending, as raft's tracker prints them. */
  switchedToConfiguration: (id: string, voters: readonly string[], learners?: readonly string[]): RaftMsg => {
    const dec = (ids: readonly string[]): string =>
      '(' +
      ids
        .map((v) => BigInt('0x' + v))
        .sort((a, b) => (a < b ? -1 : a > b ? 1 : 0))
        .map((v) => idToDecimal(v.toString(16)))
        .join(' ') +
      ')';
    let cfg = `voters=${dec(voters)}`;
    if (learners && learners.length > 0) cfg += ` learners=${dec(learners)}`;
    return raftInfo(`${hex(id)} switched to configuration ${cfg}`);
  },
  newRaft: (
    id: string,
    peers: readonly string[],
    s: { term: number; commit: number; applied: number; lastIndex: number; lastTerm: number },
  ): RaftMsg =>
    raftInfo(
      `newRaft ${hex(id)} [peers: [${[...peers]
        .map((p) => BigInt('0x' + p))
        .sort((a, b) => (a < b ? -1 : a > b ? 1 : 0))
        .map((p) => p.toString(16))
        .join(
          ',',
        )}], term: ${s.term}, commit: ${s.commit}, applied: ${s.applied}, lastindex: ${s.lastIndex}, lastterm: ${s.lastTerm}]`,
    ),
};

/** zap's console encoding of the fields: `{"key": "value", "n": 3}`. */
export function zapFields(fields: Record<string, unknown>): string {
  return `{${Object.entries(fields)
    .map(([k, v]) => `${JSON.stringify(k)}: ${JSON.stringify(v)}`)
    .join(', ')}}`;
}
