// etcd's prober: every peer, idle or not, gets GET /raft/probe each interval. Its answer (or
// failure) keeps the peer's active/inactive state and round-trip figures current, and its
// X-Raft-Clock header feeds the clock-difference estimate. Each probe also looks for streams
// that stopped making progress.

import { performance } from 'node:perf_hooks';
import type { Peer, PeerLinks } from './links.js';
import { failed, observeClock, recordLatency, succeeded } from './peer-status.js';
import type { StreamSender } from './stream-sender.js';
import { errKind, errText, readAnswer, REQUEST_TIMEOUT_MS, SendError } from './wire.js';

export class Prober {
  constructor(
    private readonly links: PeerLinks,
    private readonly sender: StreamSender,
  ) {}

  stop(): void {
    // The dialer's keep-alive sockets belong to this transport and die with it.
    this.links.dialer.destroy();
  }

  probeAll(): void {
    const links = this.links;
    if (links.stopped) return;
    this.sender.checkStalls();
    const ids = new Set<string>(links.peers.keys());
    try {
      for (const id of links.opts.peerIds?.() ?? []) ids.add(id);
    } catch {
      /* membership momentarily unavailable: probe who we know */
    }
    for (const id of ids) {
      if (id === links.opts.memberId || links.opts.isRemoved(id) || links.opts.isLinkCut?.(id)) continue;
      const p = links.peer(id);
      if (p.probe) continue;
      const url = links.pickURL(p);
      if (!url) continue;
      this.request(p, url, '/raft/probe', REQUEST_TIMEOUT_MS, (err, rtt) => {
        p.probe = undefined;
        if (links.stopped) return;
        if (err) failed(links, p, url, err);
        else recordLatency(p, rtt);
      });
    }
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
    const links = this.links;
    let done = false;
    let timer: NodeJS.Timeout | undefined;
    const finish = (err: SendError | undefined, rtt: number) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      cb(err, rtt);
    };
    const target = new URL(path, base);
    const sentAt = links.opts.clock();
    const t0 = performance.now();
    const headers = links.identityHeaders(p.id, sentAt);
    const req = links.dialer.request(target, { method: 'GET', headers, agent: 'pooled' });
    req.on('response', (res) =>
      readAnswer(
        res,
        (status, text) => {
          const rtt = performance.now() - t0;
          if (status >= 200 && status < 300) {
            observeClock(links, p, res.headers['x-raft-clock'], sentAt, rtt);
            succeeded(links, p);
            finish(undefined, rtt);
            return;
          }
          finish(links.answerError(p, status, text, res.headers['x-etcd-cluster-id']), rtt);
        },
        (err) => finish(err, 0),
      ),
    );
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
      if (!done && !retried && !links.stopped && req.reusedSocket && e.code === 'ECONNRESET') {
        done = true;
        clearTimeout(timer);
        this.request(p, base, path, timeoutMs, cb, true);
        return;
      }
      finish(e instanceof SendError ? e : new SendError(errKind(e), errText(e)), 0);
    });
    req.end();
  }
}
