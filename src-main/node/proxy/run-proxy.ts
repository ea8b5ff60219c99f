// `raftlab node` as a v2 proxy, until a signal ends it: where etcd 3.4's startEtcdOrProxyV2
// goes when discovery found the cluster full (--discovery-fallback proxy, the default) or the
// data dir already holds a proxy dir.

import type { NodeConfig } from '../config/node-config.js';
import type { BootstrapConfig } from '../discovery/bootstrap.js';
import { parseInitialCluster } from '../etcd-urls.js';
import type { LogLevel } from '../log.js';
import { getCluster } from '../discovery/v2-discovery.js';
import { srvCluster, srvOptionsFor } from '../discovery/srv-discovery.js';
import { startProxy, type ProxyOptions, type RunningProxy } from './start-proxy.js';
import { stopOnSignal } from '../stop-on-signal.js';

type Log = (level: LogLevel, pkg: string, msg: string) => void;

/** The proxy's options from a member's configuration (its --proxy-* flags included). */
export function proxyOptions(cfg: BootstrapConfig & Pick<NodeConfig, 'listenClientURLs'>, log: Log): ProxyOptions {
  const b = cfg.bootstrap;
  // resolveBootstrap never makes a v3 discovery member a proxy (etcd 3.6 has none).
  if (b.method === 'discovery-v3') throw new Error('v2 http proxy has already been deprecated in 3.6');
  const { mode, ...timings } = cfg.proxy;
  return {
    ...timings,
    readonly: mode === 'readonly',
    dataDir: cfg.dataDir,
    listenClientURLs: cfg.listenClientURLs,
    bootstrap: b.method,
    log,
    // etcd's PeerURLsMapAndToken("proxy"), then the discovery token's cluster (v2discovery.GetCluster).
    initialPeerURLs: async () => {
      let cluster: string;
      if (b.method === 'discovery') cluster = await getCluster({ url: b.url, log });
      else if (b.method === 'dns') {
        // A proxy need not be among the records (etcd's PeerURLsMapAndToken("proxy")).
        cluster = await srvCluster({ ...srvOptionsFor(cfg, b, log), requireSelf: false });
      } else cluster = cfg.initialClusterString;
      try {
        return parseInitialCluster(cluster).flatMap((m) => m.peerURLs);
      } catch (err) {
        throw new Error(`error setting up initial cluster: ${(err as Error).message}`, { cause: err });
      }
    },
  };
}

/** Runs the proxy; resolves with the exit code (0 after SIGINT/SIGTERM, 1 when it could not serve). */
export async function runProxy(cfg: NodeConfig, log: Log): Promise<number> {
  let running: RunningProxy;
  try {
    running = await startProxy(proxyOptions(cfg, log));
  } catch (err) {
    // etcd: plog.Fatalf("%v", err) for whatever stopped startProxy.
    log('C', 'etcdmain', err instanceof Error ? err.message : String(err));
    return 1;
  }
  return new Promise<number>((resolve) => {
    stopOnSignal(log, () => running.stop(), resolve);
    void running.failed.then((err) => {
      log('C', 'etcdmain', err.message);
      void running.stop().then(() => resolve(1));
    });
  });
}
