// The node's state as its worker reports it (WorkerNodeState): role, term, log tail, members,
// peers, clock, leases, and the election timer re-anchored only when it departs from a viewer's
// extrapolation.

import type { ElectionTimer, PeerView } from '../../src-shared/cluster-state.js';
import type { RunningNode } from '../node/node-server.js';
import { leaseViews } from './v3-views.js';
import type { WorkerInit, WorkerNodeState } from './worker-protocol.js';
import { summarizeEntryData } from './worker-summaries.js';

/**
 * The election timer as reported: re-anchored only when the node's own count departs from what
 * a viewer extrapolates from the last report (a reset, a new timeout, a tick of a stopped clock,
 * a different pace, or a drift of a tick), so a running timer costs no state change per tick.
 */
export class TimerAnchor {
  private last: ElectionTimer | undefined;

  read(elapsedTicks: number, timeout: number, tickMs: number | null, now: number): ElectionTimer {
    // A node that may not campaign (not a voter yet) counts on past its timeout: an empty ring all the same.
    const elapsed = Math.min(elapsedTicks, timeout);
    const a = this.last;
    if (a && a.timeout === timeout && a.tickMs === tickMs) {
      const predicted = Math.min(timeout, a.elapsed + (tickMs === null ? 0 : (now - a.at) / tickMs));
      if (Math.abs(elapsed - predicted) < 1 && elapsed >= a.elapsed) return a;
    }
    this.last = { elapsed, timeout, tickMs, at: now };
    return this.last;
  }
}

export function nodeState(r: RunningNode, init: WorkerInit, anchor: TimerAnchor): WorkerNodeState {
  const st = r.node.status({ logTail: init.logTail });
  const members = r.node.members.list();
  const peers: PeerView[] = members
    .filter((m) => m.id !== r.node.id)
    .map((m) => {
      const ps = r.node.peerStats(m.id);
      const p: PeerView = { id: m.id, active: ps.active };
      // Rounded so that jitter of a millisecond or two does not count as a change.
      if (ps.clockDiffMs !== undefined) p.clockDiffMs = Math.round(ps.clockDiffMs / 10) * 10;
      return p;
    });
  const leading = st.role === 'leader';
  return {
    id: r.node.id,
    role: st.role,
    term: st.term,
    vote: st.vote,
    lead: st.lead,
    commit: st.commit,
    applied: st.applied,
    firstIndex: st.firstIndex,
    lastIndex: st.lastIndex,
    clock: { offsetMs: Math.round(r.node.clock.offsetMs), rate: r.node.clock.rate },
    electionTimeoutMs: st.timer.timeout * init.settings.heartbeatMs,
    // A leader's election timer is not drawn: reported still, so that it costs no updates.
    timer: anchor.read(
      leading ? 0 : st.timer.elapsed,
      st.timer.timeout,
      r.node.isManual || leading ? null : Math.round((init.settings.heartbeatMs / r.node.clock.timerRate) * 100) / 100,
      Date.now(),
    ),
    log: st.log.map((e) => ({ index: e.index, term: e.term, type: e.type, data: summarizeEntryData(e.type, e.data) })),
    members,
    peers,
    // Its own entry in the member list it applied: a learner until the promotion is applied.
    ...(members.find((m) => m.id === r.node.id)?.isLearner ? { learner: true } : {}),
    revision: r.node.v3.state.rev(),
    leases: leaseViews(r.node.v3.state, r.node.clock),
  };
}
