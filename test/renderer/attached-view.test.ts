// An attached cluster in the window's model: an endpoint that does not answer is drawn as such
// (never "killed", no invented term), and the timeline and status line say which cluster their
// lines are about once the window switches from its own cluster to an attached one and back.

import { describe, expect, it } from 'vitest';
import type { AttachedView, EndpointStatus } from '../../src-shared/attach.js';
import { toClusterState } from '../../src-shared/attached-cluster.js';
import type { ClusterState } from '../../src-shared/cluster-state.js';
import type { RaftlabBridge } from '../../src-shared/bridge.js';
import type { CommandRequest, ServerEvent } from '../../src-shared/protocol.js';
import { nodeBadge } from '../../src-renderer/lib/node-badge.js';
import { STATUS_TEXT } from '../../src-renderer/lib/look.js';
import { Session } from '../../src-renderer/lib/session.svelte.js';
import { defined, one } from '../helpers/checked.js';
import { nodeState } from '../helpers/node-state.js';
import { replaySession } from '../helpers/replay-session.js';

const URL1 = 'https://127.0.0.1:36947';

function endpoint(over: Partial<EndpointStatus>): EndpointStatus {
  return {
    url: URL1,
    origin: 'given',
    reachable: undefined,
    warnings: [],
    health: 'unknown',
    alarms: [],
    unavailable: [],
    ...over,
  };
}

function view(over: Partial<AttachedView>): AttachedView {
  return { source: 'attached', at: 0, urls: [URL1], members: [], endpoints: [], term: 0, problems: [], ...over };
}

function attachedCluster(v: AttachedView): ClusterState {
  return { ...toClusterState(v), generation: 7, attached: v };
}

const OWN: ClusterState = {
  dir: '/tmp/own',
  generation: 1,
  cuts: [],
  nodes: [
    nodeState('n1', { role: 'leader', term: 2 }),
    nodeState('n2', { term: 2, lead: 'n1' }),
    nodeState('n3', { term: 2, lead: 'n1' }),
  ],
};

const refused = endpoint({ reachable: false, error: 'TLS: the server requires a client certificate' });
/** A 3-member etcd whose leader e1 was killed -9 from outside: e2 leads term 3. */
const KILLED_LEADER = view({
  urls: ['http://127.0.0.1:2379'],
  members: ['e1', 'e2', 'e3'].map((name, i) => ({
    id: `${i + 1}a`,
    name,
    peerURLs: [`http://127.0.0.1:238${i}`],
    clientURLs: [`http://127.0.0.1:237${9 + i}`],
    started: true,
    isLearner: false,
  })),
  endpoints: ['e1', 'e2', 'e3'].map((name, i) =>
    endpoint({
      url: `http://127.0.0.1:237${9 + i}`,
      memberId: `${i + 1}a`,
      name,
      ...(name === 'e1'
        ? { reachable: false, error: 'connection refused', role: 'leader', raftTerm: 2, raftIndex: 9 }
        : { reachable: true, role: i === 1 ? 'leader' : 'follower', leaderId: '2a', raftTerm: 3, raftIndex: 12 }),
    }),
  ),
  leader: { id: '2a', name: 'e2', term: 3 },
  term: 3,
});

describe('an attached endpoint that does not answer', () => {
  it('is unreachable, not killed: no term invented, no member id, the panel says it does not answer', () => {
    const c = toClusterState(view({ endpoints: [refused] }));
    const n = one(c.nodes, 'the endpoint drawn');
    expect(n).toMatchObject({ name: '127.0.0.1:36947', id: '', status: 'unreachable' });
    expect(nodeBadge(n, true)).toEqual({ term: '?', caption: 'no answer', index: '' });
    expect(STATUS_TEXT[n.status]).toBe('does not answer');
  });

  it('a known member killed -9 outside reads "does not answer" with its figures as last seen; the others lead on', () => {
    const c = toClusterState(KILLED_LEADER);
    const e1 = defined(
      c.nodes.find((n) => n.name === 'e1'),
      'e1 drawn',
    );
    expect(e1).toMatchObject({ id: '1a', status: 'unreachable', term: 2 });
    const badge = nodeBadge(e1, true);
    expect(badge).toEqual({ term: '?', caption: 'no answer', index: 'raft index 9 (last seen)' });
    expect(JSON.stringify(badge) + STATUS_TEXT.unreachable).not.toMatch(/kill/);
    expect(c.nodes.filter((n) => n.status === 'alive').map((n) => n.name)).toEqual(['e2', 'e3']);
  });

  it('an endpoint not polled yet shows no term either; a node of our own still reads T<n> and killed', () => {
    const asking = one(toClusterState(view({ endpoints: [endpoint({})] })).nodes, 'the endpoint drawn');
    expect(nodeBadge(asking, true)).toMatchObject({ term: '…', caption: 'not asked yet' });
    expect(nodeBadge(nodeState('n2', { status: 'killed', term: 4 }), false)).toMatchObject({
      term: 'T4',
      caption: 'killed',
    });
  });
});

describe('switching between the window’s own cluster and an attached one', () => {
  const leaderEvent: ServerEvent = {
    type: 'raft',
    node: 'n1',
    at: 1,
    event: { kind: 'role', role: 'leader', term: 2, lead: 'id-n1' },
  };

  it('a divider says which lines are about which cluster; the status line speaks of the cluster shown', () => {
    const { session, feed } = replaySession();
    feed([{ type: 'cluster', cluster: OWN }, leaderEvent]);
    expect(session.status).toMatch(/^n1 /);
    feed([{ type: 'cluster', cluster: attachedCluster(KILLED_LEADER) }]);
    const divider = session.timeline.at(-1);
    expect(divider?.kind).toBe('divider');
    expect(divider?.text).toBe(
      "Attached here: later lines are about the cluster at http://127.0.0.1:2379; earlier ones about the window's own cluster (n1, n2, n3).",
    );
    expect(session.status).toBe('e2 leads term 3');

    // Nothing answers: the status line says so (no "term 0" made up).
    feed([{ type: 'cluster', cluster: OWN }]);
    feed([{ type: 'cluster', cluster: attachedCluster(view({ endpoints: [refused] })) }]);
    expect(session.status).toBe('No endpoint of the attached cluster answers');
    expect(session.status).not.toMatch(/n1/);
    const dividers = session.timeline.filter((t) => t.kind === 'divider').map((t) => t.text);
    expect(dividers).toHaveLength(3);
    expect(dividers[1]).toBe(
      "Detached here: later lines are about the window's own cluster (n1, n2, n3) again; earlier ones about the cluster at http://127.0.0.1:2379.",
    );
  });

  it("on detach, the own cluster's story told again by its greeting is not told twice; what happened meanwhile is", () => {
    const { session, feed } = replaySession();
    feed([{ type: 'cluster', cluster: OWN }, leaderEvent]);
    feed([{ type: 'cluster', cluster: attachedCluster(KILLED_LEADER) }]);
    const meanwhile: ServerEvent = {
      type: 'raft',
      node: 'n2',
      at: 5,
      event: { kind: 'election-timeout', term: 2, pre: false },
    };
    // The supervisor's greeting: its snapshot, then its recent events, old and new.
    feed([{ type: 'cluster', cluster: OWN }, leaderEvent, meanwhile]);
    const told = session.timeline.map((t) => `${t.kind}: ${t.text}`);
    expect(told.filter((t) => t.includes('n1 won the election'))).toHaveLength(1);
    expect(told.at(-2)).toMatch(/^divider: Detached here/);
    expect(told.at(-1)).toMatch(/^election: n2 /);
  });

  it('the divider goes just before the user’s own "You attached…" line', () => {
    let listener: (batch: ServerEvent[]) => void = () => {};
    const sent: CommandRequest[] = [];
    const bridge: RaftlabBridge = {
      kind: 'browser',
      send: (r) => sent.push(r),
      onEvents: (l) => ((listener = l), () => {}),
      readTrace: async () => ({ text: '', next: 0, size: 0 }),
    };
    const session = new Session(bridge, { clock: () => 0 });
    // Snapshots carry no time of their own: they are drawn as they come.
    listener([{ type: 'cluster', cluster: OWN }]);
    session.note('role', 'n1', 'n1 won the election and leads term 2', 'major');
    void session.send({ type: 'attach', urls: [URL1] }).catch(() => {});
    expect(one(sent, 'the attach sent').cmd.type).toBe('attach');
    listener([{ type: 'cluster', cluster: attachedCluster(view({ endpoints: [refused] })) }]);
    expect(session.timeline.map((t) => t.kind)).toEqual(['role', 'divider', 'action']);
    expect(session.timeline.at(-1)?.text).toBe(`You attached to the cluster at ${URL1}`);
    expect(session.status).toBe('No endpoint of the attached cluster answers');
  });

  it('the first attached snapshot (nothing asked yet) is not the last word: the status line follows the next ones', () => {
    const { session, feed } = replaySession();
    feed([{ type: 'cluster', cluster: OWN }, leaderEvent]);
    const unpolled = view({
      ...KILLED_LEADER,
      leader: undefined,
      endpoints: [endpoint({ url: 'http://127.0.0.1:2379' })],
    });
    feed([{ type: 'cluster', cluster: attachedCluster(unpolled) }]);
    expect(session.status).toBe('Asking the attached cluster…');
    feed([{ type: 'cluster', cluster: attachedCluster(KILLED_LEADER) }]);
    expect(session.status).toBe('e2 leads term 3');
    // The observer's own sentence stands until its next one.
    feed([
      {
        type: 'attach',
        at: 2,
        event: { type: 'endpointUnreachable', at: 2, url: 'http://127.0.0.1:2379', error: 'connection refused' },
      },
    ]);
    feed([{ type: 'cluster', cluster: attachedCluster(KILLED_LEADER) }]);
    expect(session.status).toBe('http://127.0.0.1:2379 does not answer: connection refused');
  });
});
