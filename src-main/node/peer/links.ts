// What the transport knows of each peer and of itself, shared by the sender, the prober and
// the receiver: the per-peer state (queue, stream, counters), our cluster id and whether we
// stopped, the headers and URL every request to a peer uses, and how a non-2xx answer reads.

import type http from 'node:http';
import type { Socket } from 'node:net';
import type { Message } from '../../../src-shared/raft-types.js';
import { PeerDialer } from './dial.js';
import type { LogLevel, PeerStats, PeerTransportOptions } from './types.js';
import { CLUSTER_MISMATCH_BODY, errText, PKG, REMOVED_BODY, SendError, VERSION } from './wire.js';

/** Our stream to one peer: the upgrade request, then (once upgraded) its socket. */
export interface OutStream {
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

export interface Peer {
  id: string;
  queue: Message[];
  stream: OutStream | undefined;
  flushScheduled: boolean;
  /** A flush on the next turn (StreamSender.enqueue's `later`). */
  laterFlush?: NodeJS.Immediate;
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

export function newStats(): PeerStats {
  return {
    success: 0,
    fail: 0,
    // etcd starts the minimum at 1<<63 so the first sample always replaces it.
    latency: { current: 0, average: 0, standardDeviation: 0, minimum: 2 ** 63, maximum: 0 },
    sentMsgs: 0,
    sentBytes: 0,
    recvMsgs: 0,
    recvBytes: 0,
    droppedMsgs: 0,
    queued: 0,
    active: false,
  };
}

export class PeerLinks {
  readonly peers = new Map<string, Peer>();
  clusterId: string;
  stopped = false;
  /** Every request to a peer goes through it (http or https by the peer's URL). */
  readonly dialer: PeerDialer;
  private removedReported = false;

  constructor(readonly opts: PeerTransportOptions) {
    this.clusterId = opts.clusterId;
    this.dialer = new PeerDialer(opts.tls);
  }

  log(level: LogLevel, msg: string): void {
    this.opts.log(level, PKG, msg);
  }

  peer(id: string): Peer {
    let p = this.peers.get(id);
    if (!p) {
      p = {
        id,
        queue: [],
        stream: undefined,
        flushScheduled: false,
        backoffTimer: undefined,
        probe: undefined,
        active: undefined,
        loggedFails: new Set(),
        urlIndex: 0,
        dropping: false,
        unknownLogged: false,
        clockDiff: undefined,
        clockTooHigh: false,
        clockWarnedAt: 0,
        stats: newStats(),
        latN: 0,
        latSum: 0,
        latSqSum: 0,
      };
      this.peers.set(id, p);
    }
    return p;
  }

  snapshotStats(p: Peer): PeerStats {
    return { ...p.stats, latency: { ...p.stats.latency }, queued: p.queue.length, clockDiffMs: p.clockDiff };
  }

  identityHeaders(to: string, clock: number): http.OutgoingHttpHeaders {
    return {
      'X-Etcd-Cluster-ID': this.clusterId,
      'X-Server-From': this.opts.memberId,
      'X-Raft-To': to,
      'X-Server-Version': VERSION,
      'X-Raft-Clock': String(clock),
    };
  }

  /** The peer's URL to use now; only http:// and https:// URLs we were given, never anything else. */
  pickURL(p: Peer): string | undefined {
    const urls = (this.opts.peerURLs(p.id) ?? []).filter(
      (u) => URL.canParse(u) && ['http:', 'https:'].includes(new URL(u).protocol),
    );
    if (urls.length === 0) return undefined;
    return urls[p.urlIndex % urls.length];
  }

  /** Turns a non-2xx answer into an error; a 410 means we were removed. */
  answerError(p: Peer, status: number, text: string, remoteCid: string | string[] | undefined): SendError {
    if (status === 410) {
      if (!this.removedReported) {
        this.removedReported = true;
        this.log('E', REMOVED_BODY);
        try {
          this.opts.onRemovedFromCluster();
        } catch (err) {
          this.log('E', `onRemovedFromCluster failed (${errText(err)})`);
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
    return new SendError(
      `http-${status}`,
      `peer ${p.id} answered ${status}${text ? `: ${text.slice(0, 200)}` : ''}`,
      status,
    );
  }
}
