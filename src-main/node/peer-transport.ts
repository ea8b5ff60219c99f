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

import { readBody } from '../net/read-body.js';
import { goDuration } from './log.js';
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import type { Message, MessageType } from '../../src-shared/raft-types.js';
import { MAX_TERM_OR_INDEX, maxAcceptableTerm } from '../raft/raft.js';

export type LogLevel = 'I' | 'W' | 'E' | 'N';

export interface PeerTransportOptions {
  /** This node's etcd member id (16 hex digits). */
  memberId: string;
  /** The cluster id (hex). '' while a joining node does not know it yet: then nothing is checked. */
  clusterId: string;
  /** e.g. ["http://127.0.0.1:2380"]; port 0 binds an ephemeral port (see boundURLs). */
  listenURLs: string[];
  /** This node's own clock, ms since the epoch (may be skewed on purpose). */
  clock: () => number;
  log: (level: LogLevel, pkg: string, msg: string) => void;
  /** Messages accepted from peers, in arrival order (per peer: in the order the peer sent them). */
  onMessages: (msgs: Message[]) => void;
  /** Where to reach member `id`; consulted on every request, so membership may change at runtime. */
  peerURLs: (id: string) => string[] | undefined;
  /** Members removed from the cluster: their requests get 410, and we stop talking to them. */
  isRemoved: (id: string) => boolean;
  /**
   * Whether `id` may talk to us: a member, or one being added (in the log, not yet applied).
   * Anyone else gets 404 and nothing of theirs reaches Raft. Default: whoever peerURLs knows.
   */
  isMember?: (id: string) => boolean;
  /** A peer answered 410: WE were removed. Called once. */
  onRemovedFromCluster: () => void;
  /** Serve other paths on the peer port (e.g. GET /members); return true if handled. */
  extraRoutes?: (req: IncomingMessage, res: ServerResponse) => boolean;
  /**
   * The other members, so that idle links are probed too (clock check, active/inactive).
   * Without it only peers we have sent to are probed.
   */
  peerIds?: () => string[];
  /**
   * A link the app has cut on purpose: nothing goes to that peer (messages or probes) and
   * nothing from it is delivered, as if the network between us failed.
   */
  isLinkCut?: (peer: string) => boolean;
  /**
   * The app's slow network (slow-network.ts): every message not cut goes through it, and comes
   * back through `send` when it is due (at once at ×1). Without it messages go out at once.
   */
  outbound?: { submit(msgs: Message[], send: (msgs: Message[]) => void): void };
  /** Told when a batch could not be delivered (e.g. to report a failed MsgSnap). */
  onSendFailed?: (peer: string, msgs: Message[], err: string) => void;
  /** The highest term a message may carry now (raft.ts maxAcceptableTerm of our term). */
  maxTerm?: () => number;
  /** Defaults: 4096 queued messages per peer, probe every 1000 ms, 64 MiB per request body or stream batch (MAX_BATCH_BYTES). */
  maxQueue?: number;
  probeIntervalMs?: number;
  maxBodyBytes?: number;
}

/** etcd's v2 follower latency figures, in milliseconds. */
export interface LatencyStats {
  current: number;
  average: number;
  standardDeviation: number;
  minimum: number;
  maximum: number;
}

export interface PeerStats {
  /** Batches written to the peer's stream / streams that failed to open or broke (etcd's follower counts). */
  success: number;
  fail: number;
  /** Round trips of stream handshakes and probes. */
  latency: LatencyStats;
  sentMsgs: number;
  sentBytes: number;
  recvMsgs: number;
  recvBytes: number;
  /** Messages dropped: queue overflow, failed batches, unknown or removed peer. */
  droppedMsgs: number;
  queued: number;
  active: boolean;
  lastError?: string;
  /** Real time (Date.now) of lastError. */
  lastErrorAt?: number;
  /** Peer's clock minus ours, ms (positive: the peer is ahead). */
  clockDiffMs?: number;
}

const PKG = 'rafthttp';
const VERSION = '3.4.0-raftlab';
const REQUEST_TIMEOUT_MS = 2_000;
// A snapshot may be megabytes of JSON; give it time rather than failing it forever.
const SNAPSHOT_TIMEOUT_MS = 30_000;
const BACKOFF_MS = 100;
const CLOCK_LIMIT_MS = 1_000;
// etcd's statusMonitoringInterval: the clock warning repeats at most this often.
const CLOCK_WARN_EVERY_MS = 30_000;
// Receiver-side rejections (wrong cluster, removed sender) would otherwise log 10×/s.
const REJECT_LOG_EVERY_MS = 30_000;
const REMOVED_BODY = 'the member has been permanently removed from the cluster';
/** The Upgrade token of the message stream. */
const STREAM_PROTOCOL = 'raftlab-raft-stream';
const STREAM_PATH = '/raft/stream';
// Past this much unsent data on a stream, batches wait in the (bounded) queue for 'drain'.
const MAX_BUFFERED_BYTES = 4 * 1024 * 1024;
const CLUSTER_MISMATCH_BODY = 'cluster ID mismatch';
/**
 * The most a peer may send us in one request or stream batch: what we hold in memory (bytes,
 * then the string and the parsed messages, about 4× this at worst) before Raft sees it. A
 * sender keeps its batches far below it (FRAME_BYTES; an append carries at most 1 MiB of
 * entries, raft.ts maxBytesPerMsg, or one entry); only a snapshot, which is the whole v2
 * store in one message, comes near it: a store beyond 64 MiB of JSON cannot be sent to a
 * follower that needs it (the follower logs why).
 */
const MAX_BATCH_BYTES = 64 * 1024 * 1024;
/** A sender's batch is cut into frames of about this much, so none nears the receiver's limit. */
const FRAME_BYTES = 4 * 1024 * 1024;

const MESSAGE_TYPES: ReadonlySet<MessageType> = new Set<MessageType>([
  'MsgPreVote', 'MsgPreVoteResp', 'MsgVote', 'MsgVoteResp', 'MsgApp', 'MsgAppResp',
  'MsgHeartbeat', 'MsgHeartbeatResp', 'MsgSnap', 'MsgProp', 'MsgTimeoutNow',
  'MsgReadIndex', 'MsgReadIndexResp',
]);

/** Why a request failed; the kind decides whether a new log line is worth it. */
class SendError extends Error {
  constructor(readonly kind: string, message: string, readonly status?: number) {
    super(message);
  }
}

/** Our stream to one peer: the upgrade request, then (once upgraded) its socket. */
interface OutStream {
  url: string;
  req: http.ClientRequest;
  socket: Socket | undefined;
  handshakeTimer: NodeJS.Timeout | undefined;
  /** Batches handed to the socket whose write has not completed yet. */
  pending: number;
  /** performance.now() of the last completed write (or of the first pending one). */
  progressAt: number;
  /** A snapshot went out: until then (performance.now()) a slow write is not a dead peer. */
  snapUntil: number;
}

interface Peer {
  id: string;
  queue: Message[];
  stream: OutStream | undefined;
  flushScheduled: boolean;
  backoffTimer: NodeJS.Timeout | undefined;
  probe: http.ClientRequest | undefined;
  /** undefined until the first exchange: a peer never reached is not "inactive" yet. */
  active: boolean | undefined;
  /** Kinds of failure already logged since the peer was last active. */
  loggedFails: Set<string>;
  urlIndex: number;
  dropping: boolean;
  unknownLogged: boolean;
  clockDiff: number | undefined;
  clockTooHigh: boolean;
  clockWarnedAt: number;
  stats: PeerStats;
  latN: number;
  latSum: number;
  latSqSum: number;
}

function newStats(): PeerStats {
  return {
    success: 0, fail: 0,
    // etcd starts the minimum at 1<<63 so the first sample always replaces it.
    latency: { current: 0, average: 0, standardDeviation: 0, minimum: 2 ** 63, maximum: 0 },
    sentMsgs: 0, sentBytes: 0, recvMsgs: 0, recvBytes: 0, droppedMsgs: 0, queued: 0, active: false,
  };
}

export class PeerTransport {
  private readonly opts: PeerTransportOptions;
  private clusterId: string;
  private readonly servers: http.Server[] = [];
  private bound: string[] = [];
  // Our own agent: keep-alive sockets belong to this transport and die with it.
  private readonly agent = new http.Agent({ keepAlive: true, maxSockets: 4 });
  private readonly peers = new Map<string, Peer>();
  private probeTimer: NodeJS.Timeout | undefined;
  private readonly rejectLogged = new Map<string, number>();
  private readonly loggedOnce = new Set<string>();
  /** Streams peers opened to us: upgraded sockets are no longer the HTTP server's to close. */
  private readonly inbound = new Set<Socket>();
  private removedReported = false;
  private stopped = false;

  constructor(opts: PeerTransportOptions) {
    this.opts = opts;
    this.clusterId = opts.clusterId;
  }

  async start(): Promise<void> {
    for (const raw of this.opts.listenURLs) {
      const u = new URL(raw);
      if (u.protocol !== 'http:') throw new Error(`peer transport: only http:// listen URLs are supported, got ${raw}`);
      const host = u.hostname.replace(/^\[|\]$/g, '');
      const server = http.createServer((req, res) => this.handle(req, res));
      server.on('upgrade', (req: IncomingMessage, socket: Socket, head: Buffer) => this.handleUpgrade(req, socket, head));
      // Longer than the probe interval, so the keep-alive socket is rarely closed under us.
      server.keepAliveTimeout = 30_000;
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(Number(u.port || 80), host, () => {
          server.off('error', reject);
          resolve();
        });
      });
      server.on('error', (err) => this.opts.log('E', PKG, `peer listener on ${raw} failed (${err.message})`));
      this.servers.push(server);
      const addr = server.address() as AddressInfo;
      const h = addr.family === 'IPv6' || addr.address.includes(':') ? `[${addr.address}]` : addr.address;
      this.bound.push(`http://${u.hostname === 'localhost' ? 'localhost' : h}:${addr.port}`);
    }
    const every = this.opts.probeIntervalMs ?? 1_000;
    this.probeTimer = setInterval(() => this.probeAll(), every);
    this.probeTimer.unref();
    // Probe right away too: the clock check should not wait a whole interval.
    setImmediate(() => this.probeAll());
  }

  boundURLs(): string[] {
    return [...this.bound];
  }

  setClusterId(id: string): void {
    if (id === this.clusterId) return;
    this.clusterId = id;
    // Our open streams announced the old id: reopen them with the new one.
    for (const p of this.peers.values()) if (p.stream) this.closeStream(p);
  }

  /**
   * Queues messages per peer; never throws, never waits. They go out at the end of this turn
   * (one batch per peer), or with `flush`, to the sockets of open streams right now.
   */
  send(msgs: Message[], opts?: { flush?: boolean }): void {
    if (this.stopped) return;
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

  private sendNow(msgs: Message[], opts?: { flush?: boolean }): void {
    if (this.stopped) return;
    const touched = opts?.flush ? new Set<Peer>() : undefined;
    for (const m of msgs) {
      if (this.opts.isLinkCut?.(m.to)) continue;
      try {
        const p = this.enqueue(m);
        if (p) touched?.add(p);
      } catch (err) {
        this.opts.log('E', PKG, `failed to queue ${m?.type} to ${m?.to} (${errText(err)})`);
      }
    }
    if (touched) for (const p of touched) this.flush(p);
  }

  stats(): Record<string, PeerStats> {
    const out: Record<string, PeerStats> = {};
    for (const p of this.peers.values()) out[p.id] = this.snapshotStats(p);
    return out;
  }

  /** One peer's counters (zeros for a peer we never talked to). */
  peerStats(id: string): PeerStats {
    const p = this.peers.get(id);
    return p ? this.snapshotStats(p) : newStats();
  }

  /** Peer's clock minus ours in ms (positive: the peer is ahead), from the latest exchange. */
  clockDifference(peer: string): number | undefined {
    return this.peers.get(peer)?.clockDiff;
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    clearInterval(this.probeTimer);
    for (const p of this.peers.values()) {
      clearTimeout(p.backoffTimer);
      if (p.stream) this.closeStream(p);
      p.probe?.destroy();
      p.queue = [];
    }
    for (const s of this.inbound) s.destroy();
    this.inbound.clear();
    this.agent.destroy();
    await Promise.all(
      this.servers.map(
        (s) =>
          new Promise<void>((resolve) => {
            s.close(() => resolve());
            s.closeAllConnections();
          }),
      ),
    );
  }

  // ------------------------------------------------------------------ sending

  private peer(id: string): Peer {
    let p = this.peers.get(id);
    if (!p) {
      p = {
        id, queue: [], stream: undefined, flushScheduled: false, backoffTimer: undefined,
        probe: undefined, active: undefined, loggedFails: new Set(), urlIndex: 0,
        dropping: false, unknownLogged: false, clockDiff: undefined, clockTooHigh: false,
        clockWarnedAt: 0, stats: newStats(), latN: 0, latSum: 0, latSqSum: 0,
      };
      this.peers.set(id, p);
    }
    return p;
  }

  private enqueue(m: Message): Peer | undefined {
    const to = m.to;
    if (typeof to !== 'string' || to === '' || to === this.opts.memberId) return undefined;
    const p = this.peer(to);
    // A member being removed is still sent what Raft addresses to it (the entry removing it
    // and its commit), so that it learns of its removal; only what it sends us is refused.
    p.queue.push(m);
    const max = this.opts.maxQueue ?? 4096;
    if (p.queue.length > max) {
      // Drop the oldest message that is not a snapshot: a lost heartbeat or append is
      // retried by Raft, while a lost snapshot costs a whole new one.
      let i = p.queue.findIndex((x) => x.type !== 'MsgSnap');
      if (i < 0) i = 0;
      p.queue.splice(i, 1);
      p.stats.droppedMsgs++;
      if (!p.dropping) {
        p.dropping = true;
        this.opts.log('W', PKG, `dropped internal raft message to ${to} since sending buffer is full (bad/overloaded network)`);
      }
    }
    this.scheduleFlush(p);
    return p;
  }

  private scheduleFlush(p: Peer): void {
    // A microtask later, so that everything sent in this turn goes out as one batch.
    if (p.flushScheduled || p.backoffTimer || this.stopped) return;
    p.flushScheduled = true;
    queueMicrotask(() => {
      p.flushScheduled = false;
      this.flush(p);
    });
  }

  /** Writes the queue to the peer's stream as one batch, opening the stream first if needed. */
  private flush(p: Peer): void {
    if (this.stopped || p.backoffTimer || p.queue.length === 0) return;
    const s = p.stream;
    if (!s) return this.connect(p);
    // Still upgrading (flushed once upgraded), or the peer reads slower than we write (on 'drain').
    if (!s.socket || s.socket.writableLength > MAX_BUFFERED_BYTES) return;
    const batch = p.queue;
    p.queue = [];
    p.dropping = false;
    const now = performance.now();
    if (batch.some((m) => m.type === 'MsgSnap')) s.snapUntil = now + SNAPSHOT_TIMEOUT_MS;
    for (const frame of frames(batch)) {
      if (s.pending === 0) s.progressAt = now;
      s.pending++;
      s.socket.write(frame.text, () => {
        s.pending--;
        s.progressAt = performance.now();
      });
      p.stats.success++;
      p.stats.sentMsgs += frame.count;
      p.stats.sentBytes += Buffer.byteLength(frame.text);
    }
  }

  /** Opens the stream to a peer: GET /raft/stream, upgraded, or an error answer like a POST's. */
  private connect(p: Peer): void {
    const url = this.pickURL(p);
    if (!url) {
      if (!p.unknownLogged) {
        p.unknownLogged = true;
        this.opts.log('W', PKG, `ignored ${p.queue.length} message(s) to unknown peer ${p.id} (no peer URLs)`);
      }
      p.stats.droppedMsgs += p.queue.length;
      p.queue = [];
      return;
    }
    p.unknownLogged = false;
    const target = new URL(STREAM_PATH, url);
    const sentAt = this.opts.clock();
    const t0 = performance.now();
    const req = http.request(target, {
      method: 'GET',
      // A connection of its own: once upgraded, it belongs to the stream, not to a pool.
      agent: false,
      headers: { ...this.identityHeaders(p.id, sentAt), Connection: 'Upgrade', Upgrade: STREAM_PROTOCOL },
    });
    const s: OutStream = { url, req, socket: undefined, handshakeTimer: undefined, pending: 0, progressAt: t0, snapUntil: 0 };
    p.stream = s;
    const fail = (err: SendError) => this.streamFailed(p, s, err);
    s.handshakeTimer = setTimeout(() => fail(new SendError('timeout', `request to ${target.origin} timed out after ${REQUEST_TIMEOUT_MS}ms`)), REQUEST_TIMEOUT_MS);
    s.handshakeTimer.unref();
    req.on('upgrade', (res, socket: Socket) => {
      clearTimeout(s.handshakeTimer);
      if (p.stream !== s || this.stopped) return void socket.destroy();
      s.socket = socket;
      socket.setNoDelay(true);
      socket.resume(); // the peer sends nothing back; reading is how its close is seen
      socket.on('error', (e) => fail(new SendError(errKind(e), errText(e))));
      socket.on('close', () => fail(new SendError('network', 'the stream was closed')));
      socket.on('drain', () => this.flush(p));
      const rtt = performance.now() - t0;
      this.observeClock(p, res.headers['x-raft-clock'], sentAt, rtt);
      this.recordLatency(p, rtt);
      this.succeeded(p);
      this.flush(p);
    });
    req.on('response', (res) => {
      // Not upgraded: refused (412, 410...) like a POST would be.
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (c: Buffer) => {
        if (size < 64 * 1024) chunks.push(c);
        size += c.length;
      });
      res.on('error', (e) => fail(new SendError(errKind(e), errText(e))));
      res.on('close', () => fail(new SendError('network', 'connection closed before the answer was complete')));
      res.on('end', () => {
        const status = res.statusCode ?? 0;
        const text = Buffer.concat(chunks).toString('utf8').trim();
        fail(
          status >= 200 && status < 300
            ? new SendError(`http-${status}`, `peer ${p.id} answered ${status} instead of opening a stream`, status)
            : this.answerError(p, status, text, res.headers['x-etcd-cluster-id']),
        );
      });
    });
    req.on('error', (e) => fail(e instanceof SendError ? e : new SendError(errKind(e), errText(e))));
    req.end();
  }

  /** The stream broke or could not open: drop what waited for it, back off, reopen on demand. */
  private streamFailed(p: Peer, s: OutStream, err: SendError): void {
    if (p.stream !== s) return;
    this.closeStream(p);
    if (this.stopped) return;
    p.stats.fail++;
    const dropped = p.queue;
    p.queue = [];
    p.stats.droppedMsgs += dropped.length;
    this.failed(p, s.url, err);
    if (dropped.length > 0) {
      try {
        this.opts.onSendFailed?.(p.id, dropped, err.message);
      } catch {
        /* the callback's problem, not the link's */
      }
    }
    // Back off briefly so a dead peer costs ~10 attempts a second, not a busy loop.
    p.backoffTimer = setTimeout(() => {
      p.backoffTimer = undefined;
      this.flush(p);
    }, BACKOFF_MS);
    p.backoffTimer.unref();
  }

  private closeStream(p: Peer): void {
    const s = p.stream;
    if (!s) return;
    p.stream = undefined;
    clearTimeout(s.handshakeTimer);
    s.req.destroy();
    s.socket?.destroy();
  }

  /** A stream whose writes have not progressed for a while leads to a peer that is gone. */
  private checkStalls(): void {
    const now = performance.now();
    for (const p of this.peers.values()) {
      const s = p.stream;
      if (!s?.socket || s.pending === 0) continue;
      const limit = now < s.snapUntil ? SNAPSHOT_TIMEOUT_MS : REQUEST_TIMEOUT_MS;
      if (now - s.progressAt > limit) {
        this.streamFailed(p, s, new SendError('timeout', `the stream to ${p.id} made no progress for ${Math.round(now - s.progressAt)}ms`));
      }
    }
  }

  private identityHeaders(to: string, clock: number): http.OutgoingHttpHeaders {
    return {
      'X-Etcd-Cluster-ID': this.clusterId,
      'X-Server-From': this.opts.memberId,
      'X-Raft-To': to,
      'X-Server-Version': VERSION,
      'X-Raft-Clock': String(clock),
    };
  }

  /** The peer's URL to use now; only http:// URLs we were given, never anything else. */
  private pickURL(p: Peer): string | undefined {
    const urls = (this.opts.peerURLs(p.id) ?? []).filter((u) => URL.canParse(u) && new URL(u).protocol === 'http:');
    if (urls.length === 0) return undefined;
    return urls[p.urlIndex % urls.length];
  }

  /**
   * One probe of a peer (GET /raft/probe). `cb` gets an error (timeout, network, non-2xx) or
   * the round-trip time; the peer's clock header feeds the clock-difference estimate.
   */
  private request(
    p: Peer,
    base: string,
    path: string,
    timeoutMs: number,
    cb: (err: SendError | undefined, rttMs: number) => void,
    retried = false,
  ): void {
    let done = false;
    let timer: NodeJS.Timeout | undefined;
    const finish = (err: SendError | undefined, rtt: number) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      cb(err, rtt);
    };
    const target = new URL(path, base);
    const sentAt = this.opts.clock();
    const t0 = performance.now();
    const headers = this.identityHeaders(p.id, sentAt);
    const req = http.request(target, { method: 'GET', headers, agent: this.agent }, (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (c: Buffer) => {
        // Error bodies are short; never buffer a misbehaving peer's endless answer.
        if (size < 64 * 1024) chunks.push(c);
        size += c.length;
      });
      res.on('error', (e) => finish(new SendError(errKind(e), errText(e)), 0));
      // 'close' without 'end': the connection died mid-answer ('end' comes first otherwise).
      res.on('close', () => finish(new SendError('network', 'connection closed before the answer was complete'), 0));
      res.on('end', () => {
        const rtt = performance.now() - t0;
        const status = res.statusCode ?? 0;
        const text = Buffer.concat(chunks).toString('utf8').trim();
        if (status >= 200 && status < 300) {
          this.observeClock(p, res.headers['x-raft-clock'], sentAt, rtt);
          this.succeeded(p);
          finish(undefined, rtt);
          return;
        }
        finish(this.answerError(p, status, text, res.headers['x-etcd-cluster-id']), rtt);
      });
    });
    p.probe = req;
    // Our own deadline, covering connect, upload and answer alike.
    timer = setTimeout(() => {
      finish(new SendError('timeout', `request to ${target.origin} timed out after ${timeoutMs}ms`), 0);
      req.destroy();
    }, timeoutMs);
    timer.unref();
    req.on('error', (e: NodeJS.ErrnoException) => {
      // A keep-alive socket the server closed while idle fails before anything was sent:
      // safe to retry once at once (Node's documented pattern for reusedSocket).
      if (!done && !retried && !this.stopped && req.reusedSocket && e.code === 'ECONNRESET') {
        done = true;
        clearTimeout(timer);
        this.request(p, base, path, timeoutMs, cb, true);
        return;
      }
      finish(e instanceof SendError ? e : new SendError(errKind(e), errText(e)), 0);
    });
    req.end();
  }

  /** Turns a non-2xx answer into an error; a 410 means we were removed. */
  private answerError(p: Peer, status: number, text: string, remoteCid: string | string[] | undefined): SendError {
    if (status === 410) {
      if (!this.removedReported) {
        this.removedReported = true;
        this.opts.log('E', PKG, REMOVED_BODY);
        try {
          this.opts.onRemovedFromCluster();
        } catch (err) {
          this.opts.log('E', PKG, `onRemovedFromCluster failed (${errText(err)})`);
        }
      }
      return new SendError('removed', `peer ${p.id} says we were removed (410)`, status);
    }
    if (status === 412 && text === CLUSTER_MISMATCH_BODY) {
      return new SendError(
        'cluster-mismatch',
        `request sent was ignored (cluster ID mismatch: remote[${p.id}]=${String(remoteCid ?? '')}, local=${this.clusterId})`,
        status,
      );
    }
    return new SendError(`http-${status}`, `peer ${p.id} answered ${status}${text ? `: ${text.slice(0, 200)}` : ''}`, status);
  }

  private succeeded(p: Peer): void {
    p.stats.active = true;
    p.loggedFails.clear();
    if (p.active !== true) {
      p.active = true;
      this.opts.log('I', PKG, `peer ${p.id} became active`);
    }
  }

  /**
   * Logs a failure once per state change: when an active peer fails, or for each new kind of
   * failure (refused, timeout, 412...) while it stays inactive. A dead peer retried 10×/s
   * therefore costs one line, not ten a second.
   */
  private failed(p: Peer, url: string, err: SendError): void {
    p.stats.lastError = err.message;
    p.stats.lastErrorAt = Date.now();
    p.stats.active = false;
    // Try the peer's next URL next time: one of them may be the one that works.
    if (err.status === undefined) p.urlIndex++;
    const wasActive = p.active;
    p.active = false;
    if (wasActive === true || !p.loggedFails.has(err.kind)) {
      p.loggedFails.add(err.kind);
      if (err.status === undefined) {
        this.opts.log('W', PKG, `failed to reach the peer URL ${url} of member ${p.id} (${err.message})`);
      } else {
        this.opts.log('E', PKG, err.message);
      }
    }
    if (wasActive === true) this.opts.log('I', PKG, `peer ${p.id} became inactive (message send to peer failed)`);
  }

  private recordLatency(p: Peer, rttMs: number): void {
    const s = p.stats;
    const l = s.latency;
    p.latN++;
    p.latSum += rttMs;
    p.latSqSum += rttMs * rttMs;
    l.current = rttMs;
    l.average = p.latSum / p.latN;
    l.standardDeviation = Math.sqrt(Math.max(0, p.latSqSum / p.latN - l.average * l.average));
    l.minimum = Math.min(l.minimum, rttMs);
    l.maximum = Math.max(l.maximum, rttMs);
  }

  private snapshotStats(p: Peer): PeerStats {
    return { ...p.stats, latency: { ...p.stats.latency }, queued: p.queue.length, clockDiffMs: p.clockDiff };
  }

  // ------------------------------------------------------------------ probing and clocks

  private probeAll(): void {
    if (this.stopped) return;
    this.checkStalls();
    const ids = new Set<string>(this.peers.keys());
    try {
      for (const id of this.opts.peerIds?.() ?? []) ids.add(id);
    } catch {
      /* membership momentarily unavailable: probe who we know */
    }
    for (const id of ids) {
      if (id === this.opts.memberId || this.opts.isRemoved(id) || this.opts.isLinkCut?.(id)) continue;
      const p = this.peer(id);
      if (p.probe) continue;
      const url = this.pickURL(p);
      if (!url) continue;
      this.request(p, url, '/raft/probe', REQUEST_TIMEOUT_MS, (err, rtt) => {
        p.probe = undefined;
        if (this.stopped) return;
        if (err) this.failed(p, url, err);
        else this.recordLatency(p, rtt);
      });
    }
  }

  /** etcd's prober: the peer's clock against ours at the middle of the round trip. */
  private observeClock(p: Peer, header: string | string[] | undefined, sentAt: number, rttMs: number): void {
    const peerClock = Number(Array.isArray(header) ? header[0] : header);
    if (header === undefined || !Number.isFinite(peerClock)) return;
    // The estimate is only good to ±rtt/2 (a big upload stamps the answer late, too): a
    // sample that slow cannot tell a 1 s skew from a slow link, so it is not taken.
    if (rttMs >= CLOCK_LIMIT_MS) return;
    const diff = peerClock - (sentAt + rttMs / 2);
    p.clockDiff = diff;
    const now = performance.now();
    if (Math.abs(diff) > CLOCK_LIMIT_MS) {
      if (!p.clockTooHigh || now - p.clockWarnedAt >= CLOCK_WARN_EVERY_MS) {
        p.clockTooHigh = true;
        p.clockWarnedAt = now;
        // etcd prints a positive duration; we print the size of the gap either way
        // (clockDifference() keeps the sign).
        this.opts.log('W', PKG, `the clock difference against peer ${p.id} is too high [${goDuration(Math.abs(diff))} > 1s]`);
      }
    } else if (p.clockTooHigh) {
      p.clockTooHigh = false;
      this.opts.log('I', PKG, `the clock difference against peer ${p.id} is back under 1s [${goDuration(Math.abs(diff))}]`);
    }
  }

  // ------------------------------------------------------------------ receiving

  private handle(req: IncomingMessage, res: ServerResponse): void {
    try {
      const path = (req.url ?? '/').split('?')[0];
      if (path === '/raft' || path === '/raft/probe') {
        this.handleRaft(req, res, path);
        return;
      }
      if (this.opts.extraRoutes?.(req, res)) return;
      this.reply(res, 404, '404 page not found');
    } catch (err) {
      this.opts.log('E', PKG, `peer request ${req.method} ${req.url} failed (${errText(err)})`);
      if (!res.headersSent) this.reply(res, 500, 'internal error');
      else res.destroy();
    }
  }

  private handleRaft(req: IncomingMessage, res: ServerResponse, path: string): void {
    const want = path === '/raft' ? 'POST' : 'GET';
    if (req.method !== want) {
      res.setHeader('Allow', want);
      this.reply(res, 405, 'Method Not Allowed');
      req.resume();
      return;
    }
    const who = this.admit(req);
    if ('status' in who) {
      this.reply(res, who.status, who.text);
      req.resume();
      return;
    }
    const from = who.from;
    if (want === 'GET') {
      res.setHeader('Content-Type', 'application/json');
      this.reply(res, 200, '{"health":"true"}');
      return;
    }
    this.readBody(req, res, (body) => {
      let msgs: Message[];
      try {
        msgs = parseMessages(body.toString('utf8'), this.opts.memberId, from, this.maxTerm());
      } catch (err) {
        this.reply(res, 400, `error reading raft message (${errText(err)})`);
        return;
      }
      const s = this.peer(from).stats;
      s.recvMsgs += msgs.length;
      s.recvBytes += body.length;
      try {
        if (msgs.length > 0 && !this.opts.isLinkCut?.(from)) this.opts.onMessages(msgs);
      } catch (err) {
        this.opts.log('E', PKG, `failed to process raft message (${errText(err)})`);
        this.reply(res, 500, 'error processing raft message');
        return;
      }
      this.reply(res, 204, '');
    });
  }

  /** Same order as etcd: cluster compatibility, then who is talking, then to whom. */
  private admit(req: IncomingMessage): { from: string } | { status: number; text: string } {
    const gcid = header(req, 'x-etcd-cluster-id');
    if (!this.sameCluster(gcid)) return { status: 412, text: CLUSTER_MISMATCH_BODY };
    const from = header(req, 'x-server-from');
    if (!from) return { status: 400, text: 'missing X-Server-From header' };
    if (this.senderRemoved(from)) return { status: 410, text: REMOVED_BODY };
    if (!this.isMember(from)) {
      // etcd's streamHandler: an id it cannot find among the members is refused with 404.
      this.logOnce(`unknown:${from}`, 'E', `failed to find member ${from} in cluster ${this.clusterId}`);
      return { status: 404, text: 'error sender not found' };
    }
    const to = header(req, 'x-raft-to');
    if (to !== this.opts.memberId) {
      this.logRejection(`to:${from}:${to}`, 'E', `streaming request ignored (ID mismatch got ${to} want ${this.opts.memberId})`);
      return { status: 412, text: 'to field mismatch' };
    }
    return { from };
  }

  private maxTerm(): number {
    return this.opts.maxTerm?.() ?? maxAcceptableTerm(0);
  }

  private isMember(id: string): boolean {
    try {
      return this.opts.isMember ? this.opts.isMember(id) : this.opts.peerURLs(id) !== undefined;
    } catch {
      return false;
    }
  }

  private sameCluster(gcid: string): boolean {
    if (this.clusterId === '' || gcid === this.clusterId) return true;
    this.logRejection(`cid:${gcid}`, 'E', `request cluster ID mismatch (got ${gcid} want ${this.clusterId})`);
    return false;
  }

  private senderRemoved(from: string): boolean {
    if (!this.opts.isRemoved(from)) return false;
    this.logRejection(`removed:${from}`, 'W', `rejected the stream from peer ${from} since it was removed`);
    return true;
  }

  /** A peer opens its stream to us: the same checks as a POST, then batches until it closes. */
  private handleUpgrade(req: IncomingMessage, socket: Socket, head: Buffer): void {
    this.inbound.add(socket);
    socket.on('close', () => this.inbound.delete(socket));
    socket.on('error', () => socket.destroy());
    try {
      if (this.stopped) return void socket.destroy();
      const path = (req.url ?? '/').split('?')[0];
      if (path !== STREAM_PATH) return this.rawReply(socket, 404, '404 page not found');
      if (req.method !== 'GET' || header(req, 'upgrade').toLowerCase() !== STREAM_PROTOCOL) {
        return this.rawReply(socket, 400, `expected GET with Upgrade: ${STREAM_PROTOCOL}`);
      }
      const who = this.admit(req);
      if ('status' in who) return this.rawReply(socket, who.status, who.text);
      const from = who.from;
      const gcid = header(req, 'x-etcd-cluster-id');
      socket.setNoDelay(true);
      socket.write(
        `HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: ${STREAM_PROTOCOL}\r\n` +
          `X-Etcd-Cluster-ID: ${this.clusterId}\r\nX-Server-Version: ${VERSION}\r\nX-Raft-Clock: ${this.opts.clock()}\r\n\r\n`,
      );
      const max = this.opts.maxBodyBytes ?? MAX_BATCH_BYTES;
      let parts: Buffer[] = [];
      let size = 0;
      const onData = (chunk: Buffer) => {
        let start = 0;
        for (let nl = chunk.indexOf(10); nl !== -1; nl = chunk.indexOf(10, start)) {
          let frame = chunk.subarray(start, nl);
          if (parts.length > 0) {
            parts.push(frame);
            frame = Buffer.concat(parts);
            parts = [];
            size = 0;
          }
          start = nl + 1;
          if (!this.onFrame(from, gcid, frame, socket)) return;
        }
        if (start < chunk.length) {
          parts.push(chunk.subarray(start));
          size += chunk.length - start;
          if (size > max) {
            this.opts.log('E', PKG, `closed the stream from peer ${from}: a batch larger than ${max} bytes`);
            socket.destroy();
          }
        }
      };
      socket.on('data', onData);
      if (head.length > 0) onData(head);
    } catch (err) {
      this.opts.log('E', PKG, `peer stream request ${req.method} ${req.url} failed (${errText(err)})`);
      socket.destroy();
    }
  }

  /** One batch off a stream; false when the stream was closed over it. */
  private onFrame(from: string, gcid: string, frame: Buffer, socket: Socket): boolean {
    // The cluster id may have been learned, or the sender removed, since the stream opened:
    // closing it makes the sender reconnect and get the 412 or 410.
    if (this.stopped || !this.sameCluster(gcid) || this.senderRemoved(from)) {
      socket.destroy();
      return false;
    }
    let msgs: Message[];
    try {
      msgs = parseMessages(frame.toString('utf8'), this.opts.memberId, from, this.maxTerm());
    } catch (err) {
      this.opts.log('E', PKG, `closed the stream from peer ${from}: error reading raft message (${errText(err)})`);
      socket.destroy();
      return false;
    }
    const s = this.peer(from).stats;
    s.recvMsgs += msgs.length;
    s.recvBytes += frame.length + 1;
    try {
      if (msgs.length > 0 && !this.opts.isLinkCut?.(from)) this.opts.onMessages(msgs);
    } catch (err) {
      this.opts.log('E', PKG, `failed to process raft message (${errText(err)})`);
    }
    return true;
  }

  /** An HTTP answer written by hand on a socket not upgraded after all; then it closes. */
  private rawReply(socket: Socket, status: number, text: string): void {
    const body = status >= 400 ? `${text}\n` : text;
    socket.end(
      `HTTP/1.1 ${status} ${http.STATUS_CODES[status] ?? ''}\r\nContent-Type: text/plain; charset=utf-8\r\n` +
        `X-Etcd-Cluster-ID: ${this.clusterId}\r\nX-Server-Version: ${VERSION}\r\nX-Raft-Clock: ${this.opts.clock()}\r\n` +
        `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
    );
  }

  private readBody(req: IncomingMessage, res: ServerResponse, cb: (body: Buffer) => void): void {
    const max = this.opts.maxBodyBytes ?? MAX_BATCH_BYTES;
    if (Number(header(req, 'content-length')) > max) {
      // Said too large up front: refused without reading a byte of it, and the connection
      // closed rather than drained.
      res.setHeader('Connection', 'close');
      this.reply(res, 413, `request body larger than ${max} bytes`);
      res.on('finish', () => req.socket.destroy());
      return;
    }
    void readBody(req, max).then((body) => {
      if (body.aborted) return void res.destroy();
      if (body.tooLarge) return this.reply(res, 413, `request body larger than ${max} bytes`);
      try {
        cb(body.data);
      } catch (err) {
        this.opts.log('E', PKG, `peer request failed (${errText(err)})`);
        if (!res.headersSent) this.reply(res, 500, 'internal error');
      }
    });
  }

  /** Every answer carries our identity and clock, so the sender can check both. */
  private reply(res: ServerResponse, status: number, text: string): void {
    if (res.headersSent) return;
    res.setHeader('X-Etcd-Cluster-ID', this.clusterId);
    res.setHeader('X-Server-Version', VERSION);
    res.setHeader('X-Raft-Clock', String(this.opts.clock()));
    if (status === 204) {
      res.writeHead(204);
      res.end();
      return;
    }
    if (!res.hasHeader('Content-Type')) res.setHeader('Content-Type', 'text/plain; charset=utf-8');
    res.writeHead(status);
    res.end(status >= 400 ? `${text}\n` : text);
  }

  /** Once per key for the transport's life: a hostile or confused sender costs one line. */
  private logOnce(key: string, level: LogLevel, msg: string): void {
    if (this.loggedOnce.has(key)) return;
    if (this.loggedOnce.size < 1024) this.loggedOnce.add(key);
    this.opts.log(level, PKG, msg);
  }

  private logRejection(key: string, level: LogLevel, msg: string): void {
    const now = performance.now();
    const last = this.rejectLogged.get(key);
    if (last !== undefined && now - last < REJECT_LOG_EVERY_MS) return;
    this.rejectLogged.set(key, now);
    this.opts.log(level, PKG, msg);
  }
}

// ------------------------------------------------------------------ helpers

function header(req: IncomingMessage, name: string): string {
  const v = req.headers[name];
  return (Array.isArray(v) ? v[0] : v) ?? '';
}

function errText(err: unknown): string {
  if (err instanceof Error) {
    const code = (err as NodeJS.ErrnoException).code;
    return code && !err.message.includes(code) ? `${err.message} (${code})` : err.message;
  }
  return String(err);
}

function errKind(err: unknown): string {
  return (err as NodeJS.ErrnoException)?.code ?? 'network';
}

/** A batch as newline-terminated JSON arrays of about FRAME_BYTES each (one message may be larger alone). */
function frames(batch: Message[]): { text: string; count: number }[] {
  const out: { text: string; count: number }[] = [];
  let parts: string[] = [];
  let size = 0;
  for (const m of batch) {
    const json = JSON.stringify(m);
    if (parts.length > 0 && size + json.length > FRAME_BYTES) {
      out.push({ text: `[${parts.join(',')}]\n`, count: parts.length });
      parts = [];
      size = 0;
    }
    parts.push(json);
    size += json.length + 1;
  }
  if (parts.length > 0) out.push({ text: `[${parts.join(',')}]\n`, count: parts.length });
  return out;
}

/**
 * Parses and checks a batch: a JSON array of messages addressed to `self`, each from `sender`
 * (the member the request or stream came from: one member cannot speak for another).
 */
export function parseMessages(text: string, self: string, sender?: string, maxTerm = maxAcceptableTerm(0)): Message[] {
  const data: unknown = JSON.parse(text);
  if (!Array.isArray(data)) throw new Error('body is not a JSON array');
  for (const m of data) checkMessage(m, self, sender, maxTerm);
  return data as Message[];
}

/**
 * Terms and indexes are bounded (raft.ts MAX_TERM_OR_INDEX, maxAcceptableTerm: why, against
 * etcd's uint64), and no term inside a message exceeds the message's own: a batch that breaks
 * a bound is refused whole, before Raft sees any of it.
 */
function checkMessage(m: unknown, self: string, sender: string | undefined, maxTerm: number): void {
  if (typeof m !== 'object' || m === null || Array.isArray(m)) throw new Error('message is not an object');
  const o = m as Record<string, unknown>;
  if (!MESSAGE_TYPES.has(o.type as MessageType)) throw new Error(`unknown message type ${String(o.type).slice(0, 40)}`);
  if (typeof o.from !== 'string' || o.from === '') throw new Error('message without from');
  if (sender !== undefined && o.from !== sender) throw new Error(`message from ${o.from.slice(0, 40)} on the link of ${sender}`);
  if (o.to !== self) throw new Error(`message to ${String(o.to).slice(0, 40)}, not to ${self}`);
  if (!isCount(o.term)) throw new Error('bad term');
  const term = o.term as number;
  if (term > maxTerm) throw new Error(`bad term: ${term} is beyond ${maxTerm}`);
  for (const k of ['index', 'commit', 'rejectHint'] as const) {
    if (o[k] !== undefined && !isIndex(o[k])) throw new Error(`bad ${k}`);
  }
  if (o.logTerm !== undefined && !(isCount(o.logTerm) && (o.logTerm as number) <= maxTerm)) throw new Error('bad logTerm');
  if (o.reject !== undefined && typeof o.reject !== 'boolean') throw new Error('bad reject');
  if (o.context !== undefined && typeof o.context !== 'string') throw new Error('bad context');
  if (o.id !== undefined && !isCount(o.id)) throw new Error('bad id');
  if (o.entries !== undefined) {
    if (!Array.isArray(o.entries)) throw new Error('bad entries');
    for (const e of o.entries as unknown[]) {
      const x = e as Record<string, unknown>;
      if (typeof x !== 'object' || x === null || !isIndex(x.index) || !isCount(x.term) || (x.term as number) > term ||
        (x.type !== 'normal' && x.type !== 'conf') || typeof x.data !== 'string') {
        throw new Error('bad entry');
      }
    }
  }
  if (o.snapshot !== undefined) {
    const s = o.snapshot as Record<string, unknown>;
    const meta = (s && typeof s === 'object' ? s.meta : undefined) as Record<string, unknown> | undefined;
    const conf = (meta && typeof meta === 'object' ? meta.conf : undefined) as Record<string, unknown> | undefined;
    if (!meta || !isIndex(meta.index) || !isCount(meta.term) || (meta.term as number) > term || !conf || !Array.isArray(conf.voters) ||
      !(conf.voters as unknown[]).every((v) => typeof v === 'string') || typeof s.data !== 'string') {
      throw new Error('bad snapshot');
    }
  }
}

function isCount(v: unknown): boolean {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
}

/** An index (or commit, hint) as a peer may send it: see MAX_TERM_OR_INDEX in raft.ts. */
function isIndex(v: unknown): boolean {
  return isCount(v) && (v as number) <= MAX_TERM_OR_INDEX;
}

