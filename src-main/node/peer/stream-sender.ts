// Our side of each peer link: a bounded queue per peer, flushed as one batch per turn to the
// peer's long-lived stream (GET /raft/stream upgraded to a raw connection), opened on demand,
// dropped and reopened after a short backoff when it breaks or stalls. Loss is fine (Raft
// retries), reordering is not: one connection keeps a peer's messages in order.

import type { Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import type { Message } from '../../../src-shared/raft-types.js';
import { frames } from './codec.js';
import type { OutStream, Peer, PeerLinks } from './links.js';
import { failed, observeClock, recordLatency, succeeded } from './peer-status.js';
import { stage, stagesOn } from '../../util/stages.js';
import { errKind, errText, readAnswer, REQUEST_TIMEOUT_MS, SendError, STREAM_PATH, STREAM_PROTOCOL } from './wire.js';

// A snapshot may be megabytes of JSON; give it time rather than failing it forever.
const SNAPSHOT_TIMEOUT_MS = 30_000;
const BACKOFF_MS = 100;
// Past this much unsent data on a stream, batches wait in the (bounded) queue for 'drain'.
const MAX_BUFFERED_BYTES = 4 * 1024 * 1024;

export class StreamSender {
  constructor(private readonly links: PeerLinks) {}

  /**
   * Queues one message for its peer (none for ourselves or no one); the peer it went to. It
   * leaves at the end of this turn, or with `later` on the next turn (unless something else
   * flushes the peer's queue first: the queue keeps the order either way).
   */
  enqueue(m: Message, later = false): Peer | undefined {
    const to = m.to;
    if (typeof to !== 'string' || to === '' || to === this.links.opts.memberId) return undefined;
    const p = this.links.peer(to);
    // A member being removed is still sent what Raft addresses to it (the entry removing it
    // and its commit), so that it learns of its removal; only what it sends us is refused.
    p.queue.push(m);
    const max = this.links.opts.maxQueue ?? 4096;
    if (p.queue.length > max) {
      // Drop the oldest message that is not a snapshot: a lost heartbeat or append is
      // retried by Raft, while a lost snapshot costs a whole new one.
      let i = p.queue.findIndex((x) => x.type !== 'MsgSnap');
      if (i < 0) i = 0;
      p.queue.splice(i, 1);
      p.stats.droppedMsgs++;
      if (!p.dropping) {
        p.dropping = true;
        this.links.log(
          'W',
          `dropped internal raft message to ${to} since sending buffer is full (bad/overloaded network)`,
        );
      }
    }
    if (later) this.scheduleLaterFlush(p);
    else this.scheduleFlush(p);
    return p;
  }

  private scheduleLaterFlush(p: Peer): void {
    if (p.flushScheduled || p.laterFlush || p.backoffTimer || this.links.stopped) return;
    p.laterFlush = setImmediate(() => {
      p.laterFlush = undefined;
      this.flush(p);
    });
  }

  private scheduleFlush(p: Peer): void {
    // A microtask later, so that everything sent in this turn goes out as one batch.
    if (p.flushScheduled || p.backoffTimer || this.links.stopped) return;
    p.flushScheduled = true;
    queueMicrotask(() => {
      p.flushScheduled = false;
      this.flush(p);
    });
  }

  /** Writes the queue to the peer's stream as one batch, opening the stream first if needed. */
  flush(p: Peer): void {
    if (this.links.stopped || p.backoffTimer || p.queue.length === 0) return;
    const s = p.stream;
    if (!s) return this.connect(p);
    // Still upgrading (flushed once upgraded), or the peer reads slower than we write (on 'drain').
    if (!s.socket || s.socket.writableLength > MAX_BUFFERED_BYTES) return;
    const batch = p.queue;
    p.queue = [];
    p.dropping = false;
    const now = performance.now();
    if (batch.some((m) => m.type === 'MsgSnap')) s.snapUntil = now + SNAPSHOT_TIMEOUT_MS;
    if (stagesOn)
      stage('frame-out', batch.map((m) => m.type + (m.entries?.length ? `[${m.entries.length}]` : '')).join(','));
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
    const links = this.links;
    const url = links.pickURL(p);
    if (!url) {
      if (!p.unknownLogged) {
        p.unknownLogged = true;
        links.log('W', `ignored ${p.queue.length} message(s) to unknown peer ${p.id} (no peer URLs)`);
      }
      p.stats.droppedMsgs += p.queue.length;
      p.queue = [];
      return;
    }
    p.unknownLogged = false;
    const target = new URL(STREAM_PATH, url);
    const sentAt = links.opts.clock();
    const t0 = performance.now();
    const req = links.dialer.request(target, {
      method: 'GET',
      // A connection of its own: once upgraded, it belongs to the stream, not to a pool.
      agent: false,
      headers: { ...links.identityHeaders(p.id, sentAt), Connection: 'Upgrade', Upgrade: STREAM_PROTOCOL },
    });
    const s: OutStream = {
      url,
      req,
      socket: undefined,
      handshakeTimer: undefined,
      pending: 0,
      progressAt: t0,
      snapUntil: 0,
    };
    p.stream = s;
    const fail = (err: SendError) => this.streamFailed(p, s, err);
    s.handshakeTimer = setTimeout(
      () => fail(new SendError('timeout', `request to ${target.origin} timed out after ${REQUEST_TIMEOUT_MS}ms`)),
      REQUEST_TIMEOUT_MS,
    );
    s.handshakeTimer.unref();
    req.on('upgrade', (res, socket: Socket) => {
      clearTimeout(s.handshakeTimer);
      if (p.stream !== s || links.stopped) return void socket.destroy();
      s.socket = socket;
      socket.setNoDelay(true);
      socket.resume(); // the peer sends nothing back; reading is how its close is seen
      socket.on('error', (e) => fail(new SendError(errKind(e), errText(e))));
      socket.on('close', () => fail(new SendError('network', 'the stream was closed')));
      socket.on('drain', () => this.flush(p));
      const rtt = performance.now() - t0;
      observeClock(links, p, res.headers['x-raft-clock'], sentAt, rtt);
      recordLatency(p, rtt);
      succeeded(links, p);
      this.flush(p);
    });
    // Not upgraded: refused (412, 410...) like a POST would be.
    req.on('response', (res) =>
      readAnswer(
        res,
        (status, text) =>
          fail(
            status >= 200 && status < 300
              ? new SendError(`http-${status}`, `peer ${p.id} answered ${status} instead of opening a stream`, status)
              : links.answerError(p, status, text, res.headers['x-etcd-cluster-id']),
          ),
        fail,
      ),
    );
    req.on('error', (e) => fail(e instanceof SendError ? e : new SendError(errKind(e), errText(e))));
    req.end();
  }

  /** The stream broke or could not open: drop what waited for it, back off, reopen on demand. */
  private streamFailed(p: Peer, s: OutStream, err: SendError): void {
    if (p.stream !== s) return;
    this.closeStream(p);
    if (this.links.stopped) return;
    p.stats.fail++;
    const dropped = p.queue;
    p.queue = [];
    p.stats.droppedMsgs += dropped.length;
    failed(this.links, p, s.url, err);
    if (dropped.length > 0) {
      try {
        this.links.opts.onSendFailed?.(p.id, dropped, err.message);
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

  closeStream(p: Peer): void {
    const s = p.stream;
    if (!s) return;
    p.stream = undefined;
    clearTimeout(s.handshakeTimer);
    s.req.destroy();
    s.socket?.destroy();
  }

  /** A stream whose writes have not progressed for a while leads to a peer that is gone. */
  checkStalls(): void {
    const now = performance.now();
    for (const p of this.links.peers.values()) {
      const s = p.stream;
      if (!s?.socket || s.pending === 0) continue;
      const limit = now < s.snapUntil ? SNAPSHOT_TIMEOUT_MS : REQUEST_TIMEOUT_MS;
      if (now - s.progressAt > limit) {
        this.streamFailed(
          p,
          s,
          new SendError('timeout', `the stream to ${p.id} made no progress for ${Math.round(now - s.progressAt)}ms`),
        );
      }
    }
  }
}
