// A node as the window is sent it, for tests of what is drawn, recorded or replayed: an alive
// follower in term 1 with an empty log and no peers; each test sets only what it is about.
import type { NodeState } from '../../src-shared/cluster-state.js';

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
