// The start of a member bootstrapped by discovery, as etcd 3.4 does it (embed.PeerURLsMapAndToken,
// etcdserver.NewServer, etcdmain's error handling): when the data dir holds no member yet, ask
// the discovery service (or DNS) for the initial cluster, then go on as a static bootstrap. A
// member with data ignores the token, as etcd does.

import fs from 'node:fs';
import path from 'node:path';
import { verifyBootstrap } from '../bootstrap-checks.js';
import type { NodeConfig } from '../config.js';
import { initialClusterToString, parseInitialCluster } from '../etcd-urls.js';
import { memberId } from '../ids.js';
import type { LogLevel } from '../log.js';
import { DiscoveryError, ERR_DUPLICATE_ID, ERR_DUPLICATE_NAME, ERR_FULL_CLUSTER, joinCluster } from './v2-discovery.js';
import { SRVDiscoveryError, srvCluster } from './srv-discovery.js';

type Log = (level: LogLevel, pkg: string, msg: string) => void;

/** Discovery could not give this member a cluster: `lines` say why in etcd's words; exit 1. */
export class BootstrapFailed extends Error {
  constructor(readonly lines: [LogLevel, string, string][]) {
    super(lines.map((l) => l[2]).join('; '));
  }
}

/** Whether the data dir already holds a member (then discovery is not asked again). */
export function memberInitialized(dataDir: string): boolean {
  const member = path.join(dataDir, 'member');
  return fs.existsSync(path.join(member, 'raftlab.marker')) || (fs.existsSync(path.join(member, 'raftlab.db')) && fs.statSync(path.join(member, 'raftlab.db')).size > 0);
}

/**
 * Fills cfg.initialCluster (and, for v2 discovery, the cluster token: etcd uses the discovery
 * URL) from the discovery service or DNS. Static configurations are left as they are.
 */
export async function resolveBootstrap(cfg: NodeConfig, log: Log, opts: { signal?: AbortSignal } = {}): Promise<void> {
  const b = cfg.bootstrap;
  if (b.method === 'static') return;
  if (memberInitialized(cfg.dataDir)) {
    const what = b.method === 'discovery' ? 'discovery token' : 'DNS SRV discovery';
    log('W', 'etcdmain', `${what} ignored since a cluster has already been initialized. Valid log found at "${path.join(cfg.dataDir, 'member')}"`);
    return;
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
      throw new BootstrapFailed(discoveryFailure(cfg, b.url, err.message, b.fallback));
    }
  } else {
    try {
      cluster = await srvCluster({ name: cfg.name, domain: b.domain, serviceName: b.serviceName, advertisePeerURLs: cfg.initialAdvertisePeerURLs, log });
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
    throw new BootstrapFailed([['C', 'etcdmain', b.method === 'discovery' && /duplicate url/.test(msg) ? `discovery cluster ${cluster} has duplicate url` : msg]]);
  }
}

/** etcdmain's words for each discovery error (etcd 3.4, capnslog). */
function discoveryFailure(cfg: NodeConfig, durl: string, err: string, fallback: 'proxy' | 'exit'): [LogLevel, string, string][] {
  switch (err) {
    case ERR_DUPLICATE_ID:
      return [
        ['E', 'etcdmain', `member "${cfg.name}" has previously registered with discovery service token (${durl}).`],
        ['E', 'etcdmain', `But etcd could not find valid cluster configuration in the given data dir (${cfg.dataDir}).`],
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
      if (err === ERR_FULL_CLUSTER && fallback === 'proxy') {
        // etcd 3.4 would start a v2 proxy here (its default fallback); raftlab has none yet.
        lines.push(['N', 'etcdmain', 'discovery cluster full, falling back to proxy']);
        lines.push(['E', 'etcdmain', 'raftlab: a member cannot fall back to a v2 proxy (etcd 3.4 would start one); start it with --discovery-fallback exit, or add it to the cluster with `etcdctl member add`']);
      }
      lines.push(['E', 'etcdmain', `failed to join discovery cluster (${err})`]);
      lines.push(['I', 'etcdmain', `discovery token ${durl} was used, but failed to bootstrap the cluster.`]);
      lines.push(['I', 'etcdmain', 'please generate a new discovery token and try to bootstrap again.']);
      return lines;
    }
  }
}
