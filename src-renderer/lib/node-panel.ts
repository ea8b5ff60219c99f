// Which node the node panel shows, and the words around it, from the cluster alone (pure, so
// tested without a browser). The panel must never call a node "the leader" unless every running
// node agrees it is: with no leader it shows some node, and says that is all it is.

import { agreedLeader, type ClusterState, type NodeState } from '../../src-shared/cluster-state.js';

export interface PanelSubject {
  node: NodeState;
  /** Why this node is shown when the user picked none ('' when they did). */
  caption: string;
}

const PICK = 'click a node to pick another';

export function panelSubject(c: ClusterState | null | undefined, selected: string | null): PanelSubject | undefined {
  if (!c) return undefined;
  const picked = selected ? c.nodes.find((n) => n.name === selected) : undefined;
  if (picked) return { node: picked, caption: '' };
  const agreed = agreedLeader(c);
  if (agreed) return { node: agreed, caption: `(the leader; ${PICK})` };
  const alive = c.nodes.filter((n) => n.status === 'alive');
  const claims = alive.find((n) => n.role === 'leader');
  if (claims)
    return {
      node: claims,
      caption: `(it leads term ${claims.term} in its own view, but not every running node follows it; ${PICK})`,
    };
  const some = alive[0] ?? c.nodes.find((n) => n.status !== 'removed') ?? c.nodes[0];
  if (!some) return undefined;
  return { node: some, caption: `(no leader right now; ${PICK})` };
}

/** The "follows" row: a leader follows no one, and a stopped node's view is only what it last knew. */
export function followsText(n: NodeState): string {
  if (n.status !== 'alive') return n.lead ? `${n.lead} (when last seen)` : '—';
  if (n.role === 'leader') return 'no one: it leads';
  return n.lead || 'no one (no leader known)';
}
