// `raftlab attach URL[,URL...]`: watch a running etcd (or raftlab) cluster from outside and print
// what is seen, as text lines, until Ctrl-C. A view block is printed whenever something other
// than the indexes changes (members, leader, term, reachability, health, problems); every
// observed event is a line of its own.
import type { AttachedView, AttachEvent, EndpointStatus } from '../../src-shared/attach.js';
import { memberLabel } from '../../src-shared/attach.js';
import { clusterAccess, CredentialsError, type ClusterAccess } from './credentials.js';
import { EtcdObserver, parseEndpoints } from './etcd-observer.js';
import { intOption, parseCommandArgs, UsageError } from '../command-args.js';

const USAGE = `usage: raftlab attach URL[,URL...] [--prefix P] [--no-watch] [--no-discover] [--interval MS] [--web]
  watches an etcd (v3 gateway or v2) or raftlab cluster through its client URLs, until Ctrl-C
  --prefix P      print key changes under P (default "/"; v2 clusters watch it as a directory)
  --no-watch      do not watch keys
  --no-discover   poll only the given URLs, not the client URLs the members advertise
  --interval MS   poll each endpoint every MS milliseconds (default 500)
  --web           show the cluster in the window (browser mode) instead of text
  --cacert FILE   trust this CA for https:// URLs (as etcdctl's --cacert)
  --cert FILE     present this client certificate, with --key FILE its key
  --user NAME[:PASSWORD]  log in (etcd's auth); the password is read from ETCDCTL_PASSWORD when not given
`;

const OPTIONS = {
  prefix: { type: 'string' },
  'no-watch': { type: 'boolean' },
  'no-discover': { type: 'boolean' },
  interval: { type: 'string' },
  web: { type: 'boolean' },
  cacert: { type: 'string' },
  cert: { type: 'string' },
  key: { type: 'string' },
  user: { type: 'string' },
} as const;

/** The command line as attach options; throws UsageError. */
export function attachArgs(argv: string[]):
  | {
      urls: string[];
      prefix: string | null;
      discover: boolean;
      pollMs: number;
      web: boolean;
      tls: { caFile?: string; certFile?: string; keyFile?: string };
      user?: string;
    }
  | 'help' {
  const parsed = parseCommandArgs(argv, OPTIONS);
  if (parsed === 'help') return 'help';
  const v = parsed.values;
  return {
    urls: parsed.positionals,
    prefix: v['no-watch'] ? null : (v.prefix ?? '/'),
    discover: !v['no-discover'],
    pollMs: intOption('interval', v.interval, 50, 60_000, 500),
    web: v.web ?? false,
    tls: { caFile: v.cacert, certFile: v.cert, keyFile: v.key },
    user: v.user,
  };
}

export interface AttachIO {
  /** One printed line (default: stdout). */
  out?: (line: string) => void;
  /** Ends the attach like Ctrl-C (default: SIGINT or SIGTERM). */
  signal?: AbortSignal;
  /** `--web`: open the window (browser mode) on these URLs instead of printing. */
  web?: (urls: string[]) => Promise<number>;
}

export async function attachMain(argv: string[], io: AttachIO = {}): Promise<number> {
  const out = io.out ?? ((line: string) => void process.stdout.write(line + '\n'));
  const err = (line: string) => (io.out ? io.out(line) : void process.stderr.write(line + '\n'));
  let args: ReturnType<typeof attachArgs>;
  try {
    args = attachArgs(argv);
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    err(`raftlab attach: ${e.message}\n${USAGE.trimEnd()}`);
    return 2;
  }
  if (args === 'help') {
    out(USAGE.trimEnd());
    return 0;
  }
  const { urls, prefix, discover, pollMs } = args;
  if (args.web) {
    if (!io.web) {
      err('raftlab attach: --web is not available here');
      return 2;
    }
    if (urls.length === 0) {
      err(`raftlab attach: --web needs the cluster's URLs\n${USAGE.trimEnd()}`);
      return 2;
    }
    return io.web(urls.flatMap((u) => u.split(',')));
  }
  let endpoints: string[];
  try {
    endpoints = parseEndpoints(urls);
  } catch (e) {
    err(`raftlab attach: ${(e as Error).message}\n${USAGE.trimEnd()}`);
    return 2;
  }
  let access: ClusterAccess;
  try {
    // etcdctl's --user name:password (the password may hold ':' itself).
    const colon = args.user?.indexOf(':') ?? -1;
    const user = args.user === undefined ? undefined : colon >= 0 ? args.user.slice(0, colon) : args.user;
    const password =
      args.user === undefined
        ? undefined
        : colon >= 0
          ? args.user.slice(colon + 1)
          : (process.env.ETCDCTL_PASSWORD ?? '');
    access = clusterAccess({ ...args.tls, user, password }, endpoints);
  } catch (e) {
    if (!(e instanceof CredentialsError)) throw e;
    err(`raftlab attach: ${e.message}`);
    return 2;
  }

  const observer = new EtcdObserver(endpoints, { watchPrefix: prefix, discover, pollMs, access });
  const stamp = () => new Date().toISOString().slice(11, 23);
  let shown = '';
  let watching = '';
  observer.on('event', (e) => out(`${stamp()} ${formatEvent(e)}`));
  observer.on('snapshot', (v) => {
    const w = v.watch;
    const now = w?.endpoint && w.next !== undefined ? `${w.endpoint} ${w.api}` : '';
    if (w && now !== watching) {
      watching = now;
      if (now)
        out(
          `${stamp()} watch    keys under ${JSON.stringify(w.prefix)} via ${w.endpoint} (${w.api}), from ${w.api === 'v2' ? 'index' : 'revision'} ${w.next}`,
        );
    }
    // Nothing worth a block until every given URL has answered or failed once.
    if (v.endpoints.some((e) => e.origin === 'given' && e.reachable === undefined)) return;
    const sig = signature(v);
    if (sig === shown) return;
    shown = sig;
    for (const line of formatView(v)) out(`${stamp()} ${line}`);
  });
  out(`${stamp()} attaching to ${endpoints.join(', ')} (Ctrl-C to stop)`);
  observer.start();
  await new Promise<void>((resolve) => {
    if (io.signal) {
      if (io.signal.aborted) resolve();
      else io.signal.addEventListener('abort', () => resolve(), { once: true });
    } else {
      process.once('SIGINT', () => resolve());
      process.once('SIGTERM', () => resolve());
    }
  });
  await observer.stop();
  out(`${stamp()} detached`);
  return 0;
}

/** What a view block shows, minus the figures that move all the time. */
function signature(v: AttachedView): string {
  return JSON.stringify([
    v.members,
    v.leader,
    v.membersError,
    v.problems,
    v.endpoints.map((e) => [
      e.url,
      e.reachable,
      e.error,
      e.role,
      e.health,
      e.api,
      e.memberId,
      e.leaderId,
      e.raftTerm,
      e.alarms,
    ]),
  ]);
}

function size(bytes: number | undefined): string {
  if (bytes === undefined) return '';
  return bytes >= 1 << 20 ? `${(bytes / (1 << 20)).toFixed(1)} MiB` : `${(bytes / 1024).toFixed(1)} KiB`;
}

export function formatView(v: AttachedView): string[] {
  const answering = v.endpoints.filter((e) => e.reachable).length;
  const lines = [
    `view     cluster ${v.clusterId ?? '?'} | ${v.leader ? `leader ${v.leader.name} term ${v.leader.term}` : `no leader (term ${v.term})`} | ${v.members.length} members | ${answering}/${v.endpoints.length} endpoints answering`,
  ];
  const used = new Set<EndpointStatus>();
  for (const m of v.members) {
    const e =
      v.endpoints.find((x) => x.memberId === m.id) ??
      v.endpoints.find((x) => x.memberId === undefined && m.clientURLs.includes(x.url));
    if (e) used.add(e);
    if (!m.started) {
      lines.push(`  ${memberLabel(m)} [unstarted] peerURLs=${m.peerURLs.join(',')}`);
      continue;
    }
    lines.push(
      `  ${m.name} ${m.id}${m.isLearner ? ' learner' : ''} ${e ? endpointText(e) : `${m.clientURLs.join(',') || 'no client URL'} (not polled)`}`,
    );
  }
  for (const e of v.endpoints)
    if (!used.has(e)) lines.push(`  ${e.name ?? '?'} ${e.memberId ?? '?'} ${endpointText(e)}`);
  if (v.membersError) lines.push(`  members: ${v.membersError}`);
  for (const p of v.problems) lines.push(`  problem: ${p}`);
  return lines;
}

function endpointText(e: EndpointStatus): string {
  if (e.reachable === undefined) return `${e.url} (not checked yet)`;
  if (!e.reachable) return `${e.url} UNREACHABLE: ${e.error ?? ''}`;
  const parts = [e.url, e.role ?? '?'];
  if (e.raftTerm !== undefined) parts.push(`term ${e.raftTerm}`, `index ${e.raftIndex}`);
  if (e.raftAppliedIndex !== undefined) parts.push(`applied ${e.raftAppliedIndex}`);
  if (e.dbSize !== undefined) parts.push(`db ${size(e.dbSize)}`);
  parts.push(e.health, `${e.api} ${e.version ?? ''}`.trim());
  if (e.alarms.length) parts.push(`alarms: ${e.alarms.join(', ')}`);
  if (e.warnings.length) parts.push(`(${e.warnings.join('; ')})`);
  return parts.join('  ');
}

export function formatEvent(e: AttachEvent): string {
  switch (e.type) {
    case 'leaderChanged':
      return `leader   ${e.from ? e.fromName : 'none'} -> ${e.to ? e.toName : 'none'} (term ${e.term})`;
    case 'termBumped':
      return `term     ${e.from} -> ${e.to}`;
    case 'memberAdded':
      return `member   added ${memberLabel(e.member)}${e.member.started ? '' : ' [unstarted]'} peerURLs=${e.member.peerURLs.join(',')}`;
    case 'memberRemoved':
      return `member   removed ${memberLabel(e.member)} (${e.member.id})`;
    case 'memberStarted':
      return `member   started ${e.member.name} (${e.member.id}) clientURLs=${e.member.clientURLs.join(',')}`;
    case 'keyChanged':
      return `key      ${e.detail} ${e.key}${e.dir ? '/' : ''}${e.value !== undefined ? ` = ${JSON.stringify(e.value)}` : ''} (rev ${e.revision})`;
    case 'endpointUnreachable':
      return `endpoint ${e.url} unreachable: ${e.error}`;
    case 'endpointReachable':
      return `endpoint ${e.url} reachable (${e.api ?? '?'}${e.version ? `, etcd ${e.version}` : ''})`;
    case 'problem':
      return `problem  ${e.message}`;
  }
}
