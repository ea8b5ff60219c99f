// A node as the window is sent it, for tests of what is drawn, recorded or replayed: an alive
// follower in term 1 with an empty log and no peers; each test sets only what it is about.
import type { NodeState, PeerView } from '../../src-shared/cluster-state.js';

export function nodeState(name: string, over: Partial<NodeState> = {}): NodeState {
  return {
    name,
    id: `id-${name}`,
    status: 'alive',
    role: 'follower',
    term: 1,
    vote: '',
    lead: '',
    commit: 0,
    applied: 0,
    firstIndex: 1,
    lastIndex: 0,
    clientURL: '',
    peerURL: '',
    dataDir: '',
    clock: { offsetMs: 0, rate: 1 },
    electionTimeoutMs: 1000,
    heartbeatMs: 100,
    log: [],
    peers: [],
    ...over,
  };
}

/**
 * A member of the cluster `ids` (name → member id) that n1 leads in term 2, everything up to
 * `index` committed and applied, every other member an active peer (`peer` adds to each);
 * `over` sets the rest.
 */
export function memberState(
  name: string,
  ids: Record<string, string>,
  index: number,
  over: Partial<NodeState> = {},
  peer: Partial<PeerView> = {},
): NodeState {
  const id = ids[name];
  if (id === undefined) throw new Error(`no id for ${name} among ${Object.keys(ids).join(', ')}`);
  return nodeState(name, {
    id,
    role: name === 'n1' ? 'leader' : 'follower',
    term: 2,
    lead: 'n1',
    commit: index,
    applied: index,
    lastIndex: index,
    peers: Object.entries(ids)
      .filter(([n]) => n !== name)
      .map(([, peerId]) => ({ id: peerId, active: true, ...peer })),
    ...over,
  });
}
