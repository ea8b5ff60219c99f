// What the window is shown of a node's v3 state: its log entries in words ("put /a=1", "lease
// revoke 694d77aa9e38260f"), its store's revision, and its leases, on the leader counting down
// to a real-time expiry (the lessor counts on the node's own clock, which may run fast or slow).
/* eslint-disable @typescript-eslint/no-explicit-any -- a v3 log entry's encoded command, read field by field defensively */

import type { LeaseView } from '../../src-shared/protocol.js';
import type { NodeClock } from '../node/clock.js';
import type { V3StateMachine } from '../v3/state-machine.js';

/** Leases reported per node at most (the soonest to expire). */
const LEASES_SHOWN = 50;

const text = (b: unknown): string => {
  const x = b as { $b?: string } | undefined;
  return typeof x?.$b === 'string' ? Buffer.from(x.$b, 'base64').toString('utf8') : '';
};
const hex = (n: unknown): string => {
  const x = n as { $n?: string } | number | undefined;
  const dec = typeof x === 'object' && x !== null ? x.$n : x;
  return BigInt.asUintN(64, BigInt(dec ?? 0)).toString(16).padStart(16, '0');
};

/** A v3 log entry's command (its encoded form, src-main/v3/command.ts) in a few words. */
export function summarizeV3(c: Record<string, any>): string {
  if (c.put) return `put ${text(c.put.key)}=${text(c.put.value)}`;
  if (c.delete_range) return `del ${text(c.delete_range.key)}${c.delete_range.range_end ? '…' : ''}`;
  if (c.txn) {
    const keys = [...new Set([...(c.txn.compare ?? []), ...(c.txn.success ?? []), ...(c.txn.failure ?? [])].map((x: any) => text(x.key ?? x.request_put?.key ?? x.request_range?.key ?? x.request_delete_range?.key)).filter(Boolean))];
    return `txn ${keys.join(' ')}`.trim();
  }
  if (c.compaction) return `compact ${Number(c.compaction.revision?.$n ?? c.compaction.revision ?? 0)}`;
  if (c.lease_grant) return `lease grant ${hex(c.lease_grant.ID)} ${c.lease_grant.TTL}s`;
  if (c.lease_revoke) return `lease revoke ${hex(c.lease_revoke.ID)}`;
  return `v3 ${Object.keys(c)[0] ?? '?'}`;
}

/** The leases a member knows; `expiresAt` (real ms) where it counts them down (the leader). */
export function leaseViews(v3: V3StateMachine, clock: Pick<NodeClock, 'rate'>): LeaseView[] {
  const realNow = Date.now();
  return v3.lessor.views().slice(0, LEASES_SHOWN).map((l) => {
    const view: LeaseView = { id: l.id.toString(16).padStart(16, '0'), ttl: l.ttl, keys: l.keys };
    // Rounded to 100 ms: the same expiry reads the same from one look to the next.
    if (Number.isFinite(l.remainingMs)) view.expiresAt = Math.round((realNow + l.remainingMs / clock.rate) / 100) * 100;
    return view;
  });
}
