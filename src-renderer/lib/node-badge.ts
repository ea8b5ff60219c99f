// The words drawn on and under a node (ClusterView): its term, the caption under it, the index
// line. Pure, so tested without a browser. An attached cluster is seen from outside: what an
// endpoint did not tell is not drawn (no "T0" for a term never reported), and an endpoint that
// does not answer reads so, never "killed" (only the app kills, and only its own nodes).

import type { NodeState } from '../../src-shared/cluster-state.js';

export interface NodeBadge {
  /** Inside the shape, large: "T2", or a mark for a term not known. */
  term: string;
  /** Inside the shape, under the term. */
  caption: string;
  /** Under the shape. */
  index: string;
}

export function nodeBadge(n: NodeState, attached: boolean): NodeBadge {
  if (n.status === 'unstarted') return { term: '–', caption: n.status, index: '' };
  if (n.status === 'unreachable')
    // Its figures are as last seen, if it ever answered (a member's commit index is never 0 then).
    return { term: '?', caption: 'no answer', index: n.commit > 0 ? `raft index ${n.commit} (last seen)` : '' };
  if (attached && n.status === 'starting') return { term: '…', caption: 'not asked yet', index: '' };
  const caption =
    n.status !== 'alive' ? n.status : n.role === 'leader' ? 'leader' : n.vote ? `voted ${n.vote}` : n.role;
  return {
    term: `T${n.term}`,
    caption,
    index: attached ? `raft index ${n.commit}` : `log ${n.lastIndex} · commit ${n.commit}`,
  };
}
