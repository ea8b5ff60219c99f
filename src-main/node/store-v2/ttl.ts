// TTLs in the v2 store: a command's expiry time from the proposer's clock, the nodes that carry
// one (for the leader's expire proposals), and the `ttl`/`expiration` fields as etcd renders them.
import { compareStrings } from '../go/strings.js';

/** etcd treats expirations before 2000-01-01 as "permanent" (a zero time sent from JS). */
const MIN_EXPIRE_MS = Date.UTC(2000, 0, 1);
/** Largest instant a JS Date can format; absurd TTLs are clamped to it rather than crash. */
const MAX_EXPIRE_MS = 8.64e15;

/** A node as far as expiry goes: its path and when it expires (ms since epoch; null = permanent). */
export interface Expiring {
  readonly path: string;
  expireTime: number | null;
}

/** When a write with `ttl` seconds, proposed at `now`, expires; null: permanent. */
export function expireTimeOf(cmd: { ttl?: number | null; now: number }): number | null {
  if (cmd.ttl === undefined || cmd.ttl === null) return null;
  const t = cmd.now + cmd.ttl * 1000;
  return t < MIN_EXPIRE_MS ? null : Math.min(t, MAX_EXPIRE_MS);
}

/** Seconds left, rounded up while positive (1..n, not 1..n+1), toward zero once past. */
export function ttlSeconds(expireTime: number, now: number): number {
  const left = expireTime - now;
  return Math.trunc(left / 1000) + (left % 1000 > 0 ? 1 : 0);
}

/** Go's RFC3339Nano in UTC: trailing zeros of the fraction trimmed ("...50.967Z", "...50Z"). */
export function formatTime(ms: number): string {
  return new Date(ms).toISOString().replace(/\.?0+Z$/, 'Z');
}

/** The nodes carrying a TTL, whichever tree they are in. */
export class TtlNodes<N extends Expiring> {
  private readonly nodes = new Set<N>();

  /** Sets (or with null clears) the node's expiry, keeping the set in step. */
  setExpireTime(n: N, expireTime: number | null): void {
    n.expireTime = expireTime;
    this.track(n);
  }

  /** Follows a node whose expireTime was set elsewhere (a new or loaded node). */
  track(n: N): void {
    if (n.expireTime === null) this.nodes.delete(n);
    else this.nodes.add(n);
  }

  forget(n: N): void {
    this.nodes.delete(n);
  }

  /** Paths whose TTL has passed at `now`, earliest expiry first (ties in Go string order). */
  expiredAt(now: number): string[] {
    const expired: Array<{ path: string; at: number }> = [];
    for (const n of this.nodes)
      if (n.expireTime !== null && n.expireTime <= now) expired.push({ path: n.path, at: n.expireTime });
    return expired.sort((a, b) => a.at - b.at || compareStrings(a.path, b.path)).map((e) => e.path);
  }
}
