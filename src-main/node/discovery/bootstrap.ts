// The start of a member bootstrapped by discovery, as etcd 3.4 does it (embed.PeerURLsMapAndToken,
// etcdserver.NewServer, etcdmain's error handling): when the data dir holds no member yet, ask
// the discovery service (or DNS) for the initial cluster, then go on as a static bootstrap. A
// member with data ignores the token, as etcd does.

import fs from 'node:fs';
import path from 'node:path';
import { verifyBootstrap } from '../bootstrap-checks.js';
import type { NodeConfig } from '../config/node-config.js';
import { initialClusterToString, parseInitialCluster } from '../etcd-urls.js';
import { memberId } from '../ids.js';
import { zapFields, type LogLevel } from '../log.js';
import { DiscoveryError, ERR_DUPLICATE_ID, ERR_DUPLICATE_NAME, ERR_FULL_CLUSTER, joinCluster } from './v2-discovery.js';
import { SRVDiscoveryError, srvCluster, srvOptionsFor } from './srv-discovery.js';

type Log = (level: LogLevel, pkg: string, msg: string) => void;

/** What bootstrapping reads of a member's configuration (and fills in: the initial cluster and token). */
export type BootstrapConfig = Pick<
  NodeConfig,
  | 'name'
  | 'dataDir'
  | 'bootstrap'
  | 'proxy'
  | 'initialAdvertisePeerURLs'
  | 'initialClusterToken'
  | 'initialClusterString'
  | 'initialCluster'
>;

/** Discovery could not give this member a cluster: `lines` say why in etcd's words; exit 1. */
export class BootstrapFailed extends Error {
  constructor(readonly lines: [LogLevel, string, string][]) {
    super(lines.map((l) => l[2]).join('; '));
  }
}

/** What the data dir holds (etcdmain's identifyDataDirOrDie): a member, a proxy, or neither. */
export function identifyDataDir(dataDir: string): 'member' | 'proxy' | 'empty' {
  let names: string[];
  try {
    names = fs.readdirSync(dataDir);
  } catch {
    return 'empty';
  }
  const m = names.includes('member');
  const p = names.includes('proxy');
  if (m && p)
    throw new BootstrapFailed([['C', 'etcdmain', 'invalid datadir. Both member and proxy directories exist.']]);
  return m ? 'member' : p ? 'proxy' : 'empty';
}

/** Whether the data dir already holds a member (then discovery is not asked again). */
export function memberInitialized(dataDir: string): boolean {
  const member = path.join(dataDir, 'member');
  return (
    fs.existsSync(path.join(member, 'raftlab.marker')) ||
    (fs.existsSync(path.join(member, 'raftlab.db')) && fs.statSync(path.join(member, 'raftlab.db')).size > 0)
  );
}

/**
 * Fills cfg.initialCluster (and, for discovery, the cluster token: etcd 3.4 uses the discovery
 * URL, etcd 3.6 the --discovery-token) from the discovery service or DNS. Static
 * configurations are left as they are. Resolves with what the process is to be, as etcd
 * decides it: a member, or a v2 proxy (the data dir holds one already, or discovery found the
 * cluster full with --discovery-fallback proxy).
 */
export async function resolveBootstrap(
  cfg: BootstrapConfig,
  log: Log,
  opts: { signal?: AbortSignal } = {},
): Promise<'member' | 'proxy'> {
  const b = cfg.bootstrap;
  const dir = identifyDataDir(cfg.dataDir);
  if (dir === 'proxy') {
    // etcd 3.6 (the v3 discovery flags) has no proxy any more.
    if (b.method === 'discovery-v3')
      throw new BootstrapFailed([
        ['C', 'etcdmain', `v2 http proxy has already been deprecated in 3.6 ${zapFields({ 'dir-type': 'proxy' })}`],
      ]);
    log('N', 'etcdmain', 'the server is already initialized as proxy before, starting as etcd proxy...');
    return 'proxy';
  }
  // etcd 3.4: --proxy on|readonly makes a process whose data dir is empty a proxy (a member dir
  // wins: etcd starts the member), without registering anywhere.
  if (cfg.proxy.mode !== 'off' && dir === 'empty') return 'proxy';
  if (b.method === 'static') return 'member';
  if (memberInitialized(cfg.dataDir)) {
    if (b.method === 'discovery-v3') {
      log(
        'W',
        'etcdserver',
        `discovery token is ignored since cluster already initialized; valid logs are found ${zapFields({ 'wal-dir': path.join(cfg.dataDir, 'member') })}`,
      );
      return 'member';
    }
    const what = b.method === 'discovery' ? 'discovery token' : 'DNS SRV discovery';
    log(
      'W',
      'etcdmain',
      `${what} ignored since a cluster has already been initialized. Valid log found at "${path.join(cfg.dataDir, 'member')}"`,
    );
    return 'member';
  }
  let cluster: string;
  let token = cfg.initialClusterToken;
  if (b.method === 'discovery') {
    // etcd: a temporary cluster of this member alone, its id under the discovery URL as token.
    token = b.url;
    const self = initialClusterToString([{ name: cfg.name, peerURLs: cfg.initialAdvertisePeerURLs }]);
    const id = memberId(cfg.initialAdvertisePeerURLs, token);
    try {
      cluster = await joinCluster({ url: b.url, id, log, signal: opts.signal }, self);
    } catch (err) {
      if (!(err instanceof DiscoveryError)) throw err;
      if (err.message === ERR_FULL_CLUSTER && b.fallback === 'proxy') {
        log('N', 'etcdmain', 'discovery cluster full, falling back to proxy');
        return 'proxy';
      }
      throw new BootstrapFailed(discoveryFailure(cfg, b.url, err.message));
    }
  } else if (b.method === 'discovery-v3') {
    // etcd 3.6: the same temporary cluster, the discovery token as the cluster token.
    token = b.token;
    const self = initialClusterToString([{ name: cfg.name, peerURLs: cfg.initialAdvertisePeerURLs }]);
    log('I', 'etcdserver', 'Bootstrapping cluster using v3 discovery.');
    // Loaded only here: it needs gRPC and the v3 .proto files, most of a node's start-up time.
    const { joinClusterV3, V3DiscoveryError } = await import('./v3-discovery.js');
    try {
      const { dialTimeoutMs, requestTimeoutMs, keepAliveTimeMs, keepAliveTimeoutMs } = b;
      const id = memberId(cfg.initialAdvertisePeerURLs, token);
      cluster = await joinClusterV3(
        {
          token: b.token,
          endpoints: b.endpoints,
          id,
          log,
          signal: opts.signal,
          dialTimeoutMs,
          requestTimeoutMs,
          keepAliveTimeMs,
          keepAliveTimeoutMs,
        },
        self,
      );
    } catch (err) {
      if (!(err instanceof V3DiscoveryError)) throw err;
      throw new BootstrapFailed(v3DiscoveryFailure(b.token, b.endpoints, err.message));
    }
  } else {
    try {
      cluster = await srvCluster(srvOptionsFor(cfg, b, log));
    } catch (err) {
      if (!(err instanceof SRVDiscoveryError)) throw err;
      throw new BootstrapFailed([['C', 'etcdmain', err.message]]);
    }
  }
  cfg.initialClusterString = cluster;
  cfg.initialClusterToken = token;
  try {
    cfg.initialCluster = parseInitialCluster(cluster);
    verifyBootstrap(cfg);
  } catch (err) {
    const msg = (err as Error).message;
    const discovered = b.method === 'discovery' || b.method === 'discovery-v3';
    throw new BootstrapFailed([
      [
        'C',
        'etcdmain',
        discovered && /duplicate url/.test(msg) ? `discovery cluster ${cluster} has duplicate url` : msg,
      ],
    ]);
  }
  return 'member';
}

/** etcd 3.6's etcdmain on any v3 discovery error (zap: its fields written after the message); exit 1. */
function v3DiscoveryFailure(token: string, endpoints: string[], err: string): [LogLevel, string, string][] {
  const fields = {
    'discovery-token': token,
    'discovery-endpoints': endpoints,
    error: `failed to join discovery cluster (${err})`,
  };
  return [
    ['W', 'etcdmain', `failed to bootstrap; discovery token was already used ${zapFields(fields)}`],
    ['W', 'etcdmain', 'do not reuse discovery token; generate a new one to bootstrap a cluster'],
  ];
}

/** etcdmain's words for each discovery error (etcd 3.4, capnslog). */
function discoveryFailure(cfg: BootstrapConfig, durl: string, err: string): [LogLevel, string, string][] {
  switch (err) {
    case ERR_DUPLICATE_ID:
      return [
        ['E', 'etcdmain', `member "${cfg.name}" has previously registered with discovery service token (${durl}).`],
        [
          'E',
          'etcdmain',
          `But etcd could not find valid cluster configuration in the given data dir (${cfg.dataDir}).`,
        ],
        ['I', 'etcdmain', 'Please check the given data dir path if the previous bootstrap succeeded'],
        ['I', 'etcdmain', 'or use a new discovery token if the previous bootstrap failed.'],
      ];
    case ERR_DUPLICATE_NAME:
      return [
        ['E', 'etcdmain', `member with duplicated name has registered with discovery service token(${durl}).`],
        ['E', 'etcdmain', 'please check (cURL) the discovery token for more information.'],
        ['E', 'etcdmain', 'please do not reuse the discovery token and generate a new one to bootstrap the cluster.'],
      ];
    default: {
      const lines: [LogLevel, string, string][] = [];
      lines.push(['E', 'etcdmain', `failed to join discovery cluster (${err})`]);
      lines.push(['I', 'etcdmain', `discovery token ${durl} was used, but failed to bootstrap the cluster.`]);
      lines.push(['I', 'etcdmain', 'please generate a new discovery token and try to bootstrap again.']);
      return lines;
    }
  }
}
