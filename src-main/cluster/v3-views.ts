// What the window is shown of a node's v3 state (its log entries in words: v3/command-summary.ts):
// its store's revision, and its leases, on the leader counting down
// to a real-time expiry (the lessor counts on the node's own clock, which may run fast or slow).

import type { LeaseView } from '../../src-shared/cluster-state.js';
import type { NodeClock } from '../node/clock.js';
import type { V3StateMachine } from '../v3/state-machine.js';

/** Leases reported per node at most (the soonest to expire). */
const LEASES_SHOWN = 50;

/** The leases a member knows; `expiresAt` (real ms) where it counts them down (the leader). */
export function leaseViews(v3: V3StateMachine, clock: Pick<NodeClock, 'rate'>): LeaseView[] {
  const realNow = Date.now();
  return v3.lessor
    .views()
    .slice(0, LEASES_SHOWN)
    .map((l) => {
      const view: LeaseView = { id: l.id.toString(16).padStart(16, '0'), ttl: l.ttl, keys: l.keys };
      // Rounded to 100 ms: the same expiry reads the same from one look to the next.
      if (Number.isFinite(l.remainingMs))
        view.expiresAt = Math.round((realNow + l.remainingMs / clock.rate) / 100) * 100;
      return view;
    });
}
