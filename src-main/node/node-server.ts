// A node with its client port: what `raftlab node`, the app's worker threads and the tests
// all start. The port serves etcd's v2 API and v3 JSON gateway over HTTP/1.1 and the v3 gRPC
// services over HTTP/2, as etcd's does; nothing is answered before the node is ready.

import { createClientHandler, type ClientRequestRecord } from './api-v2.js';
import { startClientServer, type ClientPortTLS } from './api-v2/server.js';
import type { NodeConfig } from './config/node-config.js';
import { RaftNode, type LogFn, type NodeSettings } from './raft-node.js';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { v3Gateway } from '../v3/gateway.js';
import { V3GrpcServer } from '../v3/grpc-server.js';
import { embed } from './log.js';
import { note } from './node-settings.js';
import { stage, stagesOn } from '../util/stages.js';
import { connectionCheck, serverTLSOptions, tlsInfoEmpty, tlsInfoString, type TLSInfo } from './tls-info.js';

export interface RunningNode {
  node: RaftNode;
  clientURLs: string[];
  stop(): Promise<void>;
  /** Like kill -9: every port closes at once, nothing is shut down gracefully. */
  abort(): Promise<void>;
}

/** A node with its client port: the node's settings and what its client listeners serve. */
export type NodeServerSettings = NodeSettings & {
  listenClientURLs: string[];
  /** etcd's ClientTLSInfo (--cert-file, ..., or --auto-tls's own): serves the https:// client URLs. */
  clientTLS?: TLSInfo;
};

/**
 * What `raftlab node` starts a member with, from its parsed etcd flags; `tls`: the listeners'
 * TLS once --auto-tls and --peer-auto-tls have made their certificates (by default the flags').
 */
export function memberSettings(
  cfg: NodeConfig,
  tls: { peerTLS: TLSInfo; clientTLS: TLSInfo } = { peerTLS: cfg.peerTLS, clientTLS: cfg.clientTLS },
): NodeServerSettings {
  return {
    name: cfg.name,
    dataDir: cfg.dataDir,
    initialCluster: cfg.initialCluster,
    initialClusterState: cfg.initialClusterState,
    initialClusterToken: cfg.initialClusterToken,
    listenPeerURLs: cfg.listenPeerURLs,
    advertisePeerURLs: cfg.initialAdvertisePeerURLs,
    listenClientURLs: cfg.listenClientURLs,
    advertiseClientURLs: cfg.advertiseClientURLs,
    heartbeatMs: cfg.heartbeatIntervalMs,
    electionMs: cfg.electionTimeoutMs,
    snapshotCount: cfg.snapshotCount,
    strictReconfigCheck: cfg.strictReconfigCheck,
    quotaBackendBytes: cfg.quotaBackendBytes,
    peerTLS: tls.peerTLS,
    clientTLS: tls.clientTLS,
  };
}

export async function startNode(
  settings: NodeServerSettings,
  log: LogFn,
  onClientRequest?: (r: ClientRequestRecord) => void,
): Promise<RunningNode> {
  const node = new RaftNode(settings, log);
  // etcd's auth notices (users, roles, enable...) in the member's log, as every member applies them.
  node.sm.v3.auth.log = (level, pkg, text) => log(level, pkg, text);
  await node.start();
  const clientTLS = settings.clientTLS;
  let tls: ClientPortTLS | undefined;
  try {
    tls = clientListenerTLS(settings.listenClientURLs, clientTLS, log);
  } catch (err) {
    await node.stop();
    throw err;
  }
  const v2 = createClientHandler({
    backend: node.v2,
    clock: () => node.clock.now(),
    onRequest: onClientRequest,
    whenReady: () => node.whenReady(),
    readyTimeoutMs: node.requestTimeoutMs,
    log,
    clientCertAuth: clientTLS?.clientCertAuth ?? false,
  });
  const grpc = new V3GrpcServer(node.v3);
  const gateway = v3Gateway(grpc);
  const inject = grpc.connectionHandler();
  // Like every client request, a gRPC connection is taken once the node is ready (it waits).
  const http2 = (socket: Duplex) => {
    const ready = node.whenReady();
    if (ready === null) inject(socket);
    else
      ready.then(
        () => inject(socket),
        () => socket.destroy(),
      );
  };
  const handler = (req: IncomingMessage, res: ServerResponse) => {
    if (stagesOn) {
      stage('http-in', `${req.method} ${req.url}`);
      res.once('finish', () => stage('http-out'));
    }
    if (!/^\/v3(beta|alpha)?\//.test(req.url ?? '')) return v2(req, res);
    void (async () => {
      await node.whenReady();
      if (!(await gateway(req, res))) v2(req, res);
    })();
  };
  let server: Awaited<ReturnType<typeof startClientServer>>;
  try {
    server = await startClientServer(settings.listenClientURLs, handler, { http2, tls });
  } catch (err) {
    await node.stop();
    await grpc.close(0);
    throw err;
  }
  // Both at once: the port's close waits for its connections, gRPC's among them.
  const closePort = () => Promise.all([server.close(), grpc.close(100)]).then(() => undefined);
  // The port is open now, but answers wait for readiness; etcd says so once it is ready.
  const sayReady = () => {
    log('I', 'embed', 'ready to serve client requests');
    for (const u of server.urls) {
      const host = new URL(u).host;
      note(log, u.startsWith('https:') ? embed.servingClientRequests(host) : embed.servingInsecure(host));
    }
  };
  if (node.whenReady() === null) sayReady();
  else node.once('client-ready', sayReady);
  let stopping: Promise<void> | undefined;
  // The node first, which answers every waiting client request; then, a moment later, the
  // client port (closing it drops connections, and with them any answer not yet written).
  const stop = () =>
    (stopping ??= node
      .stop()
      .then(() => new Promise((r) => setTimeout(r, 100)))
      .then(closePort));
  node.once('removed', () => void stop());
  const abort = () => {
    node.abortIO();
    return closePort();
  };
  return { node, clientURLs: server.urls, stop, abort };
}

/**
 * What etcd's configureClientListeners and serveClients say and check of the client TLS info:
 * `ClientTLS: ...`, the http:// URLs that ignore it, and the key pair and trusted CA read (a
 * bad file fails the start). Undefined when no URL is https://.
 */
function clientListenerTLS(urls: readonly string[], info: TLSInfo | undefined, log: LogFn): ClientPortTLS | undefined {
  for (const u of urls) {
    if (!u.startsWith('http:') || !info) continue;
    if (!tlsInfoEmpty(info)) note(log, embed.clientURLIgnoresTLS(u));
    if (info.clientCertAuth) note(log, embed.clientURLIgnoresClientCertAuth(u));
  }
  if (!tlsInfoEmpty(info)) note(log, embed.clientTLS(tlsInfoString(info!)));
  if (!urls.some((u) => u.startsWith('https:'))) return undefined;
  const https = urls.find((u) => u.startsWith('https:'))!;
  if (tlsInfoEmpty(info))
    throw new Error(
      `TLS key/cert (--cert-file, --key-file) must be provided for client url ${https} with HTTPS scheme`,
    );
  return {
    tls: serverTLSOptions(info!),
    check: connectionCheck(info!, { san: false }),
    onRejected: (r) => note(log, embed.rejectedConnection(r)),
  };
}
