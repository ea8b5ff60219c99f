// A node with its client port: what `raftlab node`, the app's worker threads and the tests
// all start. The port serves etcd's v2 API and v3 JSON gateway over HTTP/1.1 and the v3 gRPC
// services over HTTP/2, as etcd's does; nothing is answered before the node is ready.

import { createClientHandler, type ClientRequestRecord } from './api-v2.js';
import { startClientServer, type ClientPortTLS } from './api-v2/server.js';
import type { NodeConfig } from './config/node-config.js';
import { RaftNode, type LogFn, type NodeSettings } from './raft-node.js';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import type { V3Backend } from '../v3/backend.js';
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
  // Set once the port is open (below); until then nothing can ask for it.
  let v3: Promise<ClientPortV3> | undefined;
  const withV3 = () => (v3 ??= loadV3(node.v3));
  // Like every client request, a gRPC connection is taken once the node is ready (it waits).
  const http2 = (socket: Duplex) => {
    const ready = node.whenReady();
    const take = () => withV3().then((api) => api.inject(socket));
    (ready === null ? take() : ready.then(take)).catch(() => socket.destroy());
  };
  const handler = (req: IncomingMessage, res: ServerResponse) => {
    if (stagesOn) {
      stage('http-in', `${req.method} ${req.url}`);
      res.once('finish', () => stage('http-out'));
    }
    if (!/^\/v3(beta|alpha)?\//.test(req.url ?? '')) return v2(req, res);
    void (async () => {
      await node.whenReady();
      const api = await withV3();
      if (!(await api.gateway(req, res))) v2(req, res);
    })().catch((err: unknown) => {
      // The node stopped before it was ready, or the v3 API could not load (said in the log
      // once): an answer rather than a hang.
      if (!res.headersSent) res.writeHead(503, { 'Content-Type': 'text/plain' });
      res.end(`${err instanceof Error ? err.message : String(err)}\n`);
    });
  };
  let server: Awaited<ReturnType<typeof startClientServer>>;
  try {
    server = await startClientServer(settings.listenClientURLs, handler, { http2, tls });
  } catch (err) {
    await node.stop();
    throw err;
  }
  // The port is open and the v2 API served: the v3 API loads meanwhile, and what asks for it
  // before it is there waits.
  void withV3().catch((err: unknown) =>
    log('E', 'embed', `cannot load the v3 API: ${err instanceof Error ? err.message : String(err)}`),
  );
  // Both at once: the port's close waits for its connections, gRPC's among them.
  const closePort = () =>
    Promise.all([
      server.close(),
      v3?.then(
        (api) => api.close(100),
        () => undefined,
      ),
    ]).then(() => undefined);
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

/** The v3 API on the client port: gRPC connections handed over, and the JSON gateway. */
interface ClientPortV3 {
  inject(socket: Duplex): void;
  /** False when the request is not one of the gateway's. */
  gateway(req: IncomingMessage, res: ServerResponse): Promise<boolean>;
  close(graceMs: number): Promise<void>;
}

let v3Modules: ReturnType<typeof importV3Modules> | undefined;
const importV3Modules = () => Promise.all([import('../v3/grpc-server.js'), import('../v3/gateway.js')]);

/**
 * The v3 API's modules (gRPC, its .proto files, the gateway), loaded once per process or thread:
 * by startNode after the port opens (they are most of `raftlab node`'s start-up time, and a v2
 * client or a peer needs none of them), or ahead by whoever would rather pay for them before
 * (the app's node workers, whose start is not what a user waits for).
 */
export function loadV3Modules(): ReturnType<typeof importV3Modules> {
  return (v3Modules ??= importV3Modules());
}

async function loadV3(backend: V3Backend): Promise<ClientPortV3> {
  const [{ V3GrpcServer }, { v3Gateway }] = await loadV3Modules();
  const grpc = new V3GrpcServer(backend);
  return { inject: grpc.connectionHandler(), gateway: v3Gateway(grpc), close: (ms) => grpc.close(ms) };
}
