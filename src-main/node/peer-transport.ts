// Raft messages between nodes, over HTTP/1.1 on the peer port, the way etcd 3.4's rafthttp
// behaves as seen from outside: cluster-id and removed-member checks on every request, peers
// becoming active/inactive, and the prober's clock-difference warning.
//
// Why one long-lived stream per peer and direction (as etcd's rafthttp streams): Raft assumes
// a peer's messages arrive in the order they were sent (a follower seeing MsgApp 7 before
// MsgApp 6 just rejects and slows down), and one TCP connection keeps that order without
// waiting for an answer per batch. The stream is GET /raft/stream upgraded to a raw connection
// carrying batches as newline-delimited JSON arrays (JSON never holds a raw newline). A batch
// goes to the socket as soon as it is flushed, so the node can put a leader's appends on the
// wire before its own fsync (RaftNode.processReady). The receiver checks the upgrade like a
// POST (412, 410), and cluster and removal again on every batch: it closes the stream, and
// the reconnect then gets the 412 or 410. A broken stream drops what was queued and is
// reopened after a short backoff. Loss is fine (Raft retries), reordering is not worth it.
// POST /raft (one batch per request) is still served.
//
// No global state: several transports live in one process (tests, worker threads), each
// with its own servers, agent and timers.

// The parts live in peer/: types.ts (options, stats), wire.ts (paths, headers, error kinds),
// codec.ts (framing and the check of every peer batch), links.ts (per-peer state),
// peer-status.ts (active/inactive, latency, clock warning), stream-sender.ts, prober.ts,
// admission.ts (cluster-id, removed and unknown senders), http-handler.ts, stream-receiver.ts.

import http, { type IncomingMessage } from 'node:http';
import type { AddressInfo, Server, Socket } from 'node:net';
import { createSecureServer } from '../net/tls-server.js';
import { embed, type EtcdMsg } from './log.js';
import type { Message } from '../../src-shared/raft-types.js';
import { Admission } from './peer/admission.js';
import { PeerHttpHandler } from './peer/http-handler.js';
import { newStats, PeerLinks, type Peer } from './peer/links.js';
import { Prober } from './peer/prober.js';
import { StreamReceiver } from './peer/stream-receiver.js';
import { StreamSender } from './peer/stream-sender.js';
import type { PeerStats, PeerTransportOptions, SendOptions } from './peer/types.js';
import { errText } from './peer/wire.js';
import { connectionCheck, serverTLSOptions, tlsInfoEmpty, type TLSInfo } from './tls-info.js';

export type { LatencyStats, LogLevel, PeerStats, PeerTransportOptions, SendOptions } from './peer/types.js';
export { parseMessages } from './peer/codec.js';

export class PeerTransport {
  private readonly opts: PeerTransportOptions;
  private readonly links: PeerLinks;
  private readonly sender: StreamSender;
  private readonly prober: Prober;
  private readonly receiver: StreamReceiver;
  private readonly handler: PeerHttpHandler;
  /** What listens, and how to drop every connection it accepted. */
  private readonly servers: { server: Server; destroyConnections(): void }[] = [];
  private bound: string[] = [];
  private probeTimer: NodeJS.Timeout | undefined;

  constructor(opts: PeerTransportOptions) {
    this.opts = opts;
    this.links = new PeerLinks(opts);
    this.sender = new StreamSender(this.links);
    this.prober = new Prober(this.links, this.sender);
    const admission = new Admission(this.links);
    this.receiver = new StreamReceiver(this.links, admission);
    this.handler = new PeerHttpHandler(this.links, admission);
  }

  async start(): Promise<void> {
    const tlsInfo = this.opts.tls;
    // Read (and checked) before anything listens: etcd's peer listeners fail on a bad file too.
    const serverTLS = this.opts.listenURLs.some((u) => u.startsWith('https:')) ? this.serverTLS(tlsInfo) : undefined;
    for (const raw of this.opts.listenURLs) {
      const u = new URL(raw);
      if (u.protocol !== 'http:' && u.protocol !== 'https:')
        throw new Error(`peer transport: only http:// and https:// listen URLs are supported, got ${raw}`);
      if (u.protocol === 'http:' && tlsInfo) {
        if (!tlsInfoEmpty(tlsInfo)) this.note(embed.peerURLIgnoresTLS(raw));
        if (tlsInfo.clientCertAuth) this.note(embed.peerURLIgnoresClientCertAuth(raw));
      }
      const host = u.hostname.replace(/^\[|\]$/g, '');
      const http1 = http.createServer((req, res) => this.handler.handle(req, res));
      http1.on('upgrade', (req: IncomingMessage, socket: Socket, head: Buffer) =>
        this.receiver.handleUpgrade(req, socket, head),
      );
      // Longer than the probe interval, so the keep-alive socket is rarely closed under us.
      http1.keepAliveTimeout = 30_000;
      let server: Server;
      if (u.protocol === 'https:') {
        // The HTTP server never listens: it is handed each connection once its TLS handshake passed.
        const secure = createSecureServer({
          tls: serverTLS!.options,
          check: serverTLS!.check,
          onRejected: (r) => this.note(embed.rejectedConnection(r)),
          onSecure: (socket) => http1.emit('connection', socket),
        });
        this.servers.push({ server: secure, destroyConnections: () => secure.destroyConnections() });
        server = secure;
      } else {
        this.servers.push({ server: http1, destroyConnections: () => http1.closeAllConnections() });
        server = http1;
      }
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(Number(u.port || 80), host, () => {
          server.off('error', reject);
          resolve();
        });
      });
      server.on('error', (err) => this.links.log('E', `peer listener on ${raw} failed (${err.message})`));
      const addr = server.address() as AddressInfo;
      const h = addr.family === 'IPv6' || addr.address.includes(':') ? `[${addr.address}]` : addr.address;
      this.bound.push(`${u.protocol}//${u.hostname === 'localhost' ? 'localhost' : h}:${addr.port}`);
    }
    const every = this.opts.probeIntervalMs ?? 1_000;
    this.probeTimer = setInterval(() => this.prober.probeAll(), every);
    this.probeTimer.unref();
    // Probe right away too: the clock check should not wait a whole interval.
    setImmediate(() => this.prober.probeAll());
  }

  /** etcd's peer listener TLS: the server config, and the checks made after each handshake (SAN). */
  private serverTLS(info: TLSInfo | undefined) {
    if (!info || tlsInfoEmpty(info))
      throw new Error('peer transport: https:// listen URLs need a peer certificate and key');
    return { options: serverTLSOptions(info), check: connectionCheck(info, { san: true }) };
  }

  /** One of etcd's embed lines (the transport's log takes I, W, E and N only). */
  private note(m: EtcdMsg): void {
    this.opts.log(m.level === 'C' || m.level === 'D' ? 'E' : m.level, m.pkg, m.text);
  }

  boundURLs(): string[] {
    return [...this.bound];
  }

  setClusterId(id: string): void {
    if (id === this.links.clusterId) return;
    this.links.clusterId = id;
    // Our open streams announced the old id: reopen them with the new one.
    for (const p of this.links.peers.values()) if (p.stream) this.sender.closeStream(p);
  }

  /**
   * Queues messages per peer; never throws, never waits. They go out at the end of this turn
   * (one batch per peer), or with `flush`, to the sockets of open streams right now, or with
   * `later`, on the next turn (what need not hold up the answers this turn writes).
   */
  send(msgs: Message[], opts?: SendOptions): void {
    if (this.links.stopped) return;
    const net = this.opts.outbound;
    if (!net) return this.sendNow(msgs, opts);
    let now = true;
    // Handed back at once (×1) keeps the caller's flush; later (when due) goes out right away.
    net.submit(
      msgs.filter((m) => !this.opts.isLinkCut?.(m.to)),
      (due) => this.sendNow(due, now ? opts : { flush: true }),
    );
    now = false;
  }

  private sendNow(msgs: Message[], opts?: SendOptions): void {
    if (this.links.stopped) return;
    const touched = opts?.flush ? new Set<Peer>() : undefined;
    for (const m of msgs) {
      if (this.opts.isLinkCut?.(m.to)) continue;
      try {
        const p = this.sender.enqueue(m, opts?.later);
        if (p) touched?.add(p);
      } catch (err) {
        this.links.log('E', `failed to queue ${m?.type} to ${m?.to} (${errText(err)})`);
      }
    }
    if (touched) for (const p of touched) this.sender.flush(p);
  }

  stats(): Record<string, PeerStats> {
    const out: Record<string, PeerStats> = {};
    for (const p of this.links.peers.values()) out[p.id] = this.links.snapshotStats(p);
    return out;
  }

  /** One peer's counters (zeros for a peer we never talked to). */
  peerStats(id: string): PeerStats {
    const p = this.links.peers.get(id);
    return p ? this.links.snapshotStats(p) : newStats();
  }

  /** Peer's clock minus ours in ms (positive: the peer is ahead), from the latest exchange. */
  clockDifference(peer: string): number | undefined {
    return this.links.peers.get(peer)?.clockDiff;
  }

  async stop(): Promise<void> {
    if (this.links.stopped) return;
    this.links.stopped = true;
    clearInterval(this.probeTimer);
    for (const p of this.links.peers.values()) {
      clearTimeout(p.backoffTimer);
      if (p.stream) this.sender.closeStream(p);
      p.probe?.destroy();
      p.queue = [];
    }
    this.receiver.stop();
    this.prober.stop();
    await Promise.all(
      this.servers.map(
        (s) =>
          new Promise<void>((resolve) => {
            s.server.close(() => resolve());
            s.destroyConnections();
          }),
      ),
    );
  }
}
