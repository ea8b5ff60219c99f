// An attached view (attach.ts) drawn as a supervised cluster (cluster-state.ts's ClusterState). Its
// own module because it joins the two: cluster-state.ts carries an AttachedView inside ClusterState,
// so attach.ts importing cluster-state.ts back would be an import cycle.

import { memberLabel, type AttachedMember, type AttachedView, type EndpointStatus } from './attach.js';
import type { ClusterState, NodeState } from './cluster-state.js';
import type { Role } from './raft-types.js';

/**
 * An attached view drawn as a supervised cluster. What cannot be seen from outside stays
 * neutral: no data dirs, clocks at offset 0 rate 1, no timers, no log entries, no peer links,
 * no cuts, no votes. `applied` falls back to the commit index where the API does not tell
 * (v2), so no apply lag is drawn that was not observed; `lastIndex` is the commit index (the
 * uncommitted tail is invisible). A started member is 'alive' while its endpoint answers and
 * 'unreachable' when it does not (never 'killed': the observer cannot know whether it crashed,
 * is cut off or refuses us, and it kills nothing); its raft figures are then as last seen.
 */
export function toClusterState(view: AttachedView): ClusterState {
  const nameOf = (id: string | undefined): string => {
    if (!id) return '';
    const m = view.members.find((x) => x.id === id);
    return m && m.name !== '' ? m.name : id;
  };
  const used = new Set<EndpointStatus>();
  const endpointOf = (m: AttachedMember): EndpointStatus | undefined => {
    const e =
      view.endpoints.find((x) => x.memberId === m.id) ??
      view.endpoints.find((x) => x.memberId === undefined && m.clientURLs.some((u) => originOf(u) === x.url));
    if (e) used.add(e);
    return e;
  };
  const node = (
    base: { id: string; name: string; clientURL: string; peerURL: string },
    e: EndpointStatus | undefined,
    unstarted: boolean,
  ): NodeState => {
    const isLeader = !!view.leader && base.id !== '' && view.leader.id === base.id && e?.reachable === true;
    const role: Role = e?.role ?? (isLeader ? 'leader' : 'follower');
    const commit = e?.raftIndex ?? 0;
    return {
      name: base.name,
      id: base.id,
      status: unstarted
        ? 'unstarted'
        : e === undefined || e.reachable === undefined
          ? 'starting'
          : e.reachable
            ? 'alive'
            : 'unreachable',
      role,
      term: e?.raftTerm ?? 0,
      vote: '',
      lead: nameOf(e?.leaderId),
      commit,
      applied: e?.raftAppliedIndex ?? commit,
      firstIndex: 0,
      lastIndex: commit,
      clientURL: base.clientURL,
      peerURL: base.peerURL,
      dataDir: '',
      clock: { offsetMs: 0, rate: 1 },
      electionTimeoutMs: 0,
      heartbeatMs: 0,
      log: [],
      peers: [],
    };
  };
  const nodes: NodeState[] = view.members.map((m) => {
    const e = m.started ? endpointOf(m) : undefined;
    return node(
      { id: m.id, name: memberLabel(m), clientURL: e?.url ?? m.clientURLs[0] ?? '', peerURL: m.peerURLs[0] ?? '' },
      e,
      !m.started,
    );
  });
  // Endpoints no member accounts for (the member list is not known yet, or unreadable): still drawn.
  for (const e of view.endpoints) {
    if (used.has(e)) continue;
    if (e.memberId && view.members.some((m) => m.id === e.memberId)) continue;
    nodes.push(
      node({ id: e.memberId ?? '', name: e.name || hostPort(e.url), clientURL: e.url, peerURL: '' }, e, false),
    );
  }
  return { dir: '', generation: 0, nodes, cuts: [] };
}

function originOf(url: string): string {
  try {
    return new URL(url).origin;
  } catch {
    return url;
  }
}

function hostPort(url: string): string {
  return url.replace(/^[a-z]+:\/\//, '');
}
