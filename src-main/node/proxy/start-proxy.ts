// etcd 3.4's startProxy (etcdmain/etcd.go): the member runs as a v2 proxy instead of a member.
// No Raft, no member dir: `<data-dir>/proxy/cluster` remembers the cluster's peer URLs (from the
// discovery token the first time, from the file afterwards); the client URLs to forward to are
// learned from the members' peer ports (GET /members) and refreshed; the client listeners
// forward every request (reverse-proxy.ts).

import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import type { LogLevel } from '../log.js';
import { clusterFilePath, readClusterFile, writeClusterFile } from './cluster-file.js';
import { Director } from './director.js';
import { getClusterFromRemotePeers } from './remote-peers.js';
import { proxyHandler } from './reverse-proxy.js';

type Log = (level: LogLevel, pkg: string, msg: string) => void;

/** etcd 3.4's defaults for the --proxy-* flags, in milliseconds. */
export const PROXY_DEFAULTS = {
  failureWaitMs: 5000,
  refreshIntervalMs: 30_000,
  dialTimeoutMs: 1000,
  writeTimeoutMs: 5000,
  readTimeoutMs: 0,
} as const;

export interface ProxyOptions {
  dataDir: string;
  /** --listen-client-urls: where clients reach the proxy. */
  listenClientURLs: string[];
  /** How the member was told to find its cluster (for etcd's "ignored" warning on restart). */
  bootstrap: 'discovery' | 'dns' | 'static';
  /** The cluster's peer URLs when there is no cluster file yet (asks the discovery service, say). */
  initialPeerURLs: () => Promise<string[]>;
  log: Log;
  failureWaitMs?: number;
  refreshIntervalMs?: number;
  dialTimeoutMs?: number;
  writeTimeoutMs?: number;
  readTimeoutMs?: number;
  /** --proxy readonly: anything but GET is answered 501 (etcd's NewReadonlyHandler, outermost). */
  readonly?: boolean;
}

/** The --proxy-* values, in ms. */
export type ProxyTimings = Pick<
  ProxyOptions,
  'failureWaitMs' | 'refreshIntervalMs' | 'dialTimeoutMs' | 'writeTimeoutMs' | 'readTimeoutMs'
>;

export interface RunningProxy {
  /** The bound client URLs (an ephemeral port filled in). */
  clientURLs: string[];
  /** Settles (with the error) when a listener fails after the start, as etcd's plog.Fatal. */
  failed: Promise<Error>;
  stop(): Promise<void>;
}

/** A start-up failure; etcdmain prints it as its fatal line (`C | etcdmain: ...`). */
export class ProxyStartError extends Error {}

export async function startProxy(opts: ProxyOptions): Promise<RunningProxy> {
  const o = { ...PROXY_DEFAULTS, ...definedOnly(opts) };
  const log = opts.log;
  log('N', 'etcdmain', 'proxy: this proxy supports v2 API only!');

  const proxyDir = path.join(opts.dataDir, 'proxy');
  fs.mkdirSync(proxyDir, { recursive: true, mode: 0o700 });
  const clusterFile = clusterFilePath(proxyDir);

  let peerURLs: string[];
  const saved = (() => {
    try {
      return readClusterFile(clusterFile);
    } catch (err) {
      throw new ProxyStartError((err as Error).message);
    }
  })();
  if (saved !== undefined) {
    if (opts.bootstrap === 'discovery') {
      log(
        'W',
        'etcdmain',
        `discovery token ignored since the proxy has already been initialized. Valid cluster file found at ${JSON.stringify(clusterFile)}`,
      );
    } else if (opts.bootstrap === 'dns') {
      log(
        'W',
        'etcdmain',
        `DNS SRV discovery ignored since the proxy has already been initialized. Valid cluster file found at ${JSON.stringify(clusterFile)}`,
      );
    }
    peerURLs = saved;
    log(
      'I',
      'etcdmain',
      `proxy: using peer urls ${goSlice(peerURLs)} from cluster file ${JSON.stringify(clusterFile)}`,
    );
  } else {
    peerURLs = [...(await opts.initialPeerURLs())].sort();
    // etcd's line ends with a space.
    log('I', 'etcdmain', `proxy: using peer urls ${goSlice(peerURLs)} `);
  }

  // etcd's `uf`: the client URLs from the peers' /members, the peer URLs saved for a restart.
  const clientURLs = async (): Promise<string[]> => {
    let cluster;
    try {
      cluster = await getClusterFromRemotePeers(peerURLs, log);
    } catch (err) {
      log('W', 'etcdmain', `proxy: ${(err as Error).message}`);
      return [];
    }
    try {
      writeClusterFile(clusterFile, cluster.peerURLs);
    } catch (err) {
      log('W', 'etcdmain', `proxy: error on writing urls ${(err as Error).message}`);
      return cluster.clientURLs;
    }
    if (cluster.peerURLs.join('\n') !== peerURLs.join('\n')) {
      log(
        'N',
        'etcdmain',
        `proxy: updated peer urls in cluster file from ${goSlice(peerURLs)} to ${goSlice(cluster.peerURLs)}`,
      );
    }
    peerURLs = cluster.peerURLs;
    return cluster.clientURLs;
  };
  const director = await Director.start(clientURLs, {
    failureWaitMs: o.failureWaitMs,
    refreshIntervalMs: o.refreshIntervalMs,
    log,
  });

  const forward = proxyHandler({
    director,
    log,
    dialTimeoutMs: o.dialTimeoutMs,
    writeTimeoutMs: o.writeTimeoutMs,
    readTimeoutMs: o.readTimeoutMs,
  });
  const handler = opts.readonly ? readonlyHandler(forward) : forward;
  const servers: http.Server[] = [];
  let fail!: (err: Error) => void;
  const failed = new Promise<Error>((resolve) => (fail = resolve));
  const bound: string[] = [];
  try {
    for (const raw of opts.listenClientURLs) {
      const u = new URL(raw);
      if (u.protocol !== 'http:') throw new ProxyStartError(`raftlab: the v2 proxy listens on http only (${raw})`);
      const server = http.createServer(handler);
      // Go's http.Server has no request deadline; a watch may last.
      server.requestTimeout = 0;
      servers.push(server);
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(Number(u.port || 80), u.hostname.replace(/^\[|\]$/g, ''), () => {
          server.off('error', reject);
          server.on('error', (err) => fail(err));
          resolve();
        });
      });
      const port = (server.address() as AddressInfo).port;
      bound.push(u.port === '0' ? `${u.protocol}//${u.hostname}:${port}` : raw);
      log('I', 'etcdmain', `v2 proxy started listening on client requests on ${JSON.stringify(raw)}`);
    }
  } catch (err) {
    director.stop();
    await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
    throw err;
  }
  return {
    clientURLs: bound,
    failed,
    stop: async () => {
      director.stop();
      await Promise.all(
        servers.map(
          (s) =>
            new Promise<void>((resolve) => {
              s.close(() => resolve());
              s.closeAllConnections();
            }),
        ),
      );
    },
  };
}

/** httpproxy.NewReadonlyHandler: only GET goes through; anything else is 501 with no body. */
function readonlyHandler(next: http.RequestListener): http.RequestListener {
  return (req, res) => {
    if (req.method !== 'GET') {
      // Go sends `Content-Length: 0` for an empty answer, except to HEAD (no length at all).
      res.writeHead(501, req.method === 'HEAD' ? {} : { 'Content-Length': '0' });
      res.end();
      return;
    }
    next(req, res);
  };
}

/** Go's %v of a []string. */
function goSlice(items: readonly string[]): string {
  return `[${items.join(' ')}]`;
}

function definedOnly<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
