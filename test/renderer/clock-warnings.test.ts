// The window's clock warnings (etcd's "clock difference" lines) and its status line, on the Session model itself, fed
// as a replay feeds it: every event is drawn at once, in order, with no timing involved.

import { describe, expect, it } from 'vitest';
import type { ClusterState, NodeState } from '../../src-shared/cluster-state.js';
import type { ServerEvent } from '../../src-shared/protocol.js';
import { replaySession } from '../helpers/replay-session.js';
import { memberState } from '../helpers/node-state.js';

const IDS: Record<string, string> = { n1: '0a1b2c3d4e5f6071', n2: '8899aabbccddeeff', n3: '00000000000000c3' };

function node(name: string, status: NodeState['status'], clockDiffMs = 0): NodeState {
  return memberState(name, IDS, 5, { status }, { clockDiffMs });
}

function cluster(nodes: NodeState[]): ServerEvent {
  const c: ClusterState = { dir: '/tmp/x', generation: 1, nodes, cuts: [] };
  return { type: 'cluster', cluster: c };
}

// etcd prints member ids with %x: no leading zeros.
const peerId = (name: string) => IDS[name]!.replace(/^0+/, '');
function clockLine(node: string, peer: string, healed: boolean): ServerEvent {
  const msg = healed
    ? `the clock difference against peer ${peerId(peer)} is back under 1s [12ms]`
    : `the clock difference against peer ${peerId(peer)} is too high [3.001s > 1s]`;
  return { type: 'log', node, at: 0, level: healed ? 'I' : 'W', pkg: 'rafthttp', msg, line: `2026-11-30 ${msg}` };
}

describe('clock warnings in the window', () => {
  it("a state snapshot taken before the warning does not clear it; etcd's all-clear does, per peer", () => {
    const { session, feed } = replaySession();
    feed([cluster([node('n1', 'alive'), node('n2', 'alive'), node('n3', 'alive')])]);
    // n3 is skewed: it warns about both peers, n1 about n3.
    feed([clockLine('n3', 'n1', false), clockLine('n3', 'n2', false), clockLine('n1', 'n3', false)]);
    expect(Object.keys(session.clockWarnings).sort()).toEqual(['n1', 'n3']);
    // A snapshot whose clock figures predate the skew (every diff 0) leaves the warnings standing.
    feed([cluster([node('n1', 'alive'), node('n2', 'alive'), node('n3', 'alive')])]);
    expect(Object.keys(session.clockWarnings).sort()).toEqual(['n1', 'n3']);
    // The all-clear for one peer keeps the warning about the other.
    feed([clockLine('n3', 'n1', true)]);
    expect(session.clockWarnings.n3).toContain(`against peer ${peerId('n2')} is too high`);
    feed([clockLine('n3', 'n2', true), clockLine('n1', 'n3', true)]);
    expect(session.clockWarnings).toEqual({});
    expect(session.timeline.filter((t) => t.kind === 'warning')).toHaveLength(6);
  });

  it('a warning goes when either end stops running', () => {
    const { session, feed } = replaySession();
    feed([cluster([node('n1', 'alive'), node('n2', 'alive'), node('n3', 'alive')])]);
    feed([clockLine('n1', 'n3', false), clockLine('n2', 'n1', false)]);
    expect(Object.keys(session.clockWarnings).sort()).toEqual(['n1', 'n2']);
    // n3 (the peer n1 warned about) stops; n2 (which warned about n1) stops too.
    feed([cluster([node('n1', 'alive'), node('n2', 'killed'), node('n3', 'killed')])]);
    expect(session.clockWarnings).toEqual({});
  });
});

describe('member ids in the lines the window retells', () => {
  it('an id etcd prints without its leading zero (%x) is named as the 16-digit one is', () => {
    const { session, feed } = replaySession();
    feed([cluster([node('n1', 'alive'), node('n2', 'alive'), node('n3', 'alive')])]);
    const msg = `found self ${IDS.n1!.replace(/^0+/, '')} in the cluster`;
    feed([{ type: 'log', node: 'n1', at: 0, level: 'N', pkg: 'discovery', msg, line: msg }]);
    expect(session.timeline.map((t) => t.text)).toContain('n1: found self n1 in the cluster');
  });
});

describe('the status line when the window attaches', () => {
  it("a leader of the window's own cluster is not shown as leading the attached one", () => {
    const { session, feed } = replaySession();
    feed([
      cluster([node('n1', 'alive'), node('n2', 'alive'), node('n3', 'alive')]),
      { type: 'raft', node: 'n1', at: 0, event: { kind: 'role', role: 'leader', term: 2, lead: 'n1' } },
    ]);
    expect(session.status).toBe('n1 won the election and leads term 2');
    // Attached: the nodes drawn are the attached cluster's members, e1 leading term 7.
    const e = (name: string, role: NodeState['role']): NodeState => ({
      ...node('n1', 'alive'),
      name,
      role,
      lead: '',
      term: 7,
    });
    const attached: ClusterState = {
      dir: '',
      generation: 2,
      nodes: [e('e1', 'leader'), e('e2', 'follower'), e('e3', 'follower')],
      cuts: [],
      attached: {
        source: 'attached',
        at: 0,
        urls: [],
        members: [],
        endpoints: [],
        leader: { id: 'e1id', name: 'e1', term: 7 },
        term: 7,
        problems: [],
      },
    };
    feed([{ type: 'cluster', cluster: attached }]);
    expect(session.status).toBe('e1 leads term 7');
  });
});
