// A node with its client port: what `raftlab node`, the app's worker threads and the tests
// all start.

import { createClientHandler, type ClientRequestRecord } from './api-v2.js';
import { startClientServer } from './api-v2/server.js';
import { RaftNode, type LogFn, type NodeSettings } from './raft-node.js';

export interface RunningNode {
  node: RaftNode;
  clientURLs: string[];
  stop(): Promise<void>;
  /** Like kill -9: every port closes at once, nothing is shut down gracefully. */
  abort(): Promise<void>;
}

export async function startNode(
  settings: NodeSettings & { listenClientURLs: string[] },
  log: LogFn,
  onClientRequest?: (r: ClientRequestRecord) => void,
): Promise<RunningNode> {
  const node = new RaftNode(settings, log);
  await node.start();
  let server: Awaited<ReturnType<typeof startClientServer>>;
  try {
    server = await startClientServer(
      settings.listenClientURLs,
      createClientHandler({
        backend: node.v2,
        clock: () => node.clock.now(),
        onRequest: onClientRequest,
        whenReady: () => node.whenReady(),
        readyTimeoutMs: node.requestTimeoutMs,
      }),
    );
  } catch (err) {
    await node.stop();
    throw err;
  }
  // The port is open now, but answers wait for readiness; etcd says so once it is ready.
  const sayReady = () => {
    log('I', 'embed', 'ready to serve client requests');
    for (const u of server.urls) {
      log('I', 'embed', `serving insecure client requests on ${new URL(u).host}, this is strongly discouraged!`);
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
      .then(() => server.close()));
  node.once('removed', () => void stop());
  const abort = () => {
    node.abortIO();
    return server.close();
  };
  return { node, clientURLs: server.urls, stop, abort };
}
