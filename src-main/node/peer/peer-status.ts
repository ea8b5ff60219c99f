// A peer's health as the log tells it, in etcd's words: "became active" / "became inactive"
// once per change, one line per new kind of failure, the round-trip figures, and the prober's
// clock-difference warning.

import { performance } from 'node:perf_hooks';
import { goDuration } from '../log.js';
import type { Peer, PeerLinks } from './links.js';
import type { SendError } from './wire.js';

const CLOCK_LIMIT_MS = 1_000;
// etcd's statusMonitoringInterval: the clock warning repeats at most this often.
const CLOCK_WARN_EVERY_MS = 30_000;

export function succeeded(links: PeerLinks, p: Peer): void {
  p.stats.active = true;
  p.loggedFails.clear();
  if (p.active !== true) {
    p.active = true;
    links.log('I', `peer ${p.id} became active`);
  }
}

/**
 * Logs a failure once per state change: when an active peer fails, or for each new kind of
 * failure (refused, timeout, 412...) while it stays inactive. A dead peer retried 10×/s
 * therefore costs one line, not ten a second.
 */
export function failed(links: PeerLinks, p: Peer, url: string, err: SendError): void {
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
      links.log('W', `failed to reach the peer URL ${url} of member ${p.id} (${err.message})`);
    } else {
      links.log('E', err.message);
    }
  }
  if (wasActive === true) links.log('I', `peer ${p.id} became inactive (message send to peer failed)`);
}

export function recordLatency(p: Peer, rttMs: number): void {
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

/** etcd's prober: the peer's clock against ours at the middle of the round trip. */
export function observeClock(
  links: PeerLinks,
  p: Peer,
  header: string | string[] | undefined,
  sentAt: number,
  rttMs: number,
): void {
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
      links.log('W', `the clock difference against peer ${p.id} is too high [${goDuration(Math.abs(diff))} > 1s]`);
    }
  } else if (p.clockTooHigh) {
    p.clockTooHigh = false;
    links.log('I', `the clock difference against peer ${p.id} is back under 1s [${goDuration(Math.abs(diff))}]`);
  }
}
