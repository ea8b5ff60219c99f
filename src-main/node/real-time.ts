// What moves a node in real time (as opposed to step mode, where whoever steps the cluster
// ticks it): the ticker that ticks Raft at the node's own clock rate, the publish timer, the
// leader's TTL expiry check, and etcd's initial tick advance.

import { startTicker, type NodeClock } from './clock.js';

export interface RealTimeHost {
  readonly clock: NodeClock;
  readonly heartbeatMs: number;
  /** Raft's election timeout in ticks. */
  readonly electionTicks: number;
  /** `n` ticks of Raft, then the Ready loop. */
  tick(n: number): void;
  publish(): void;
  expireKeys(): void;
  /** The other members, and whether this node reaches one. */
  peerIds(): string[];
  peerActive(id: string): boolean;
  stopped(): boolean;
  /** Step mode: the ticks are the stepper's. */
  manual(): boolean;
}

export class RealTime {
  private stopTicker: () => void = () => {};
  private stopPublish: () => void = () => {};
  private expiryTimer?: NodeJS.Timeout;

  constructor(private readonly host: RealTimeHost) {}

  start(): void {
    const h = this.host;
    this.stopTicker = startTicker(h.clock, h.heartbeatMs, () => h.tick(1));
    this.stopPublish = startTicker(h.clock, Math.max(100, h.heartbeatMs * 2), () => h.publish());
    this.expiryTimer = setInterval(() => h.expireKeys(), 500);
  }

  stop(): void {
    this.stopTicker();
    this.stopTicker = () => {};
    this.stopPublish();
    clearInterval(this.expiryTimer);
  }

  /**
   * etcd's adjustTicks (--initial-election-tick-advance): a node that just started need not
   * wait a whole election timeout before its first campaign. Alone in its cluster it advances
   * electionTicks-1 ticks at once; otherwise, as soon as its peers answer (checked every 50 ms
   * for up to 5 s), electionTicks-2, leaving time for a live leader's heartbeat to arrive first.
   */
  async adjustTicks(): Promise<void> {
    const h = this.host;
    const advance = (n: number) => {
      if (!h.stopped() && !h.manual()) h.tick(n);
    };
    if (h.peerIds().length === 0) return advance(h.electionTicks - 1);
    for (let waited = 0; waited < 5000 && !h.stopped(); waited += 50) {
      await new Promise((r) => setTimeout(r, 50).unref());
      const ids = h.peerIds();
      if (ids.length > 0 && ids.filter((id) => h.peerActive(id)).length > 1) return advance(h.electionTicks - 2);
      if (ids.length === 1 && h.peerActive(ids[0]!)) return advance(h.electionTicks - 2);
    }
  }
}
