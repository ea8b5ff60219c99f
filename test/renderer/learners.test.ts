// Learners in the window, on the Session model fed as a replay feeds it: a learner's state
// reaches the view as it came (old traces without the field load as voters), and its promotion
// is a sentence on the timeline and the status line.

import { describe, expect, it } from 'vitest';
import type { ClusterState, NodeState } from '../../src-shared/cluster-state.js';
import type { ServerEvent } from '../../src-shared/protocol.js';
import type { RaftEvent } from '../../src-shared/raft-types.js';
import { checkTraceRecord } from '../../src-shared/trace-schema.js';
import { replaySession } from '../helpers/replay-session.js';
import { memberState } from '../helpers/node-state.js';

const IDS: Record<string, string> = {
  n1: '0a1b2c3d4e5f6071',
  n2: '8899aabbccddeeff',
  n3: '00000000000000c3',
  n4: '1234567890abcdef',
};

function node(name: string, learner = false): NodeState {
  return memberState(name, IDS, 7, learner ? { learner: true } : {});
}

function cluster(nodes: NodeState[]): ServerEvent {
  const c: ClusterState = { dir: '/tmp/x', generation: 1, nodes, cuts: [] };
  return { type: 'cluster', cluster: c };
}

/** The conf event each node emits when it applies entry 8, the promotion of n4 (an 'add' of a learner). */
function promotion(on: string): ServerEvent {
  const event: RaftEvent = {
    kind: 'conf',
    index: 8,
    change: { type: 'add', id: IDS.n4! },
    voters: [IDS.n1!, IDS.n2!, IDS.n3!, IDS.n4!],
    promoted: true,
  };
  return { type: 'raft', node: on, at: 0, event };
}

describe('learners in the window', () => {
  it('a learner is marked as one until its promotion is applied; the promotion is narrated', () => {
    const { session, feed } = replaySession();
    feed([cluster([node('n1'), node('n2'), node('n3'), node('n4', true)])]);
    expect(session.cluster!.nodes.filter((n) => n.learner).map((n) => n.name)).toEqual(['n4']);

    // Every member applies the change; the promoted one says it in the first person.
    feed([promotion('n1'), promotion('n4')]);
    const texts = session.timeline.filter((t) => t.kind !== 'action').map((t) => t.text);
    expect(texts).toContain(
      'n1 takes in the change at 8 that promotes n4 from learner to voting member: voters are now n1, n2, n3, n4',
    );
    expect(texts).toContain('n4 was promoted from learner to voting member (entry 8): voters are now n1, n2, n3, n4');
    expect(session.status).toBe(
      'n4 was promoted from learner to voting member (entry 8): voters are now n1, n2, n3, n4',
    );

    feed([cluster([node('n1'), node('n2'), node('n3'), node('n4')])]);
    expect(session.cluster!.nodes.some((n) => n.learner)).toBe(false);
  });

  it('adding a learner is not a promotion: it is named apart from the voters', () => {
    const { session, feed } = replaySession();
    // The supervisor lists the added member (by name) before it starts.
    feed([cluster([node('n1'), node('n2'), node('n3'), { ...node('n4', true), status: 'unstarted' }])]);
    const event: RaftEvent = {
      kind: 'conf',
      index: 7,
      change: { type: 'add-learner', id: IDS.n4! },
      voters: [IDS.n1!, IDS.n2!, IDS.n3!],
      learners: [IDS.n4!],
    };
    feed([{ type: 'raft', node: 'n1', at: 0, event }]);
    expect(session.status).toBe(
      'n1 takes in the change at 7 that adds a learner, n4: voters are now n1, n2, n3; learners (no vote): n4',
    );
  });

  it('a trace keeps the learner mark, and a trace from before learners still loads', () => {
    const record = (n: object) => ({
      seq: 1,
      at: 10,
      clocks: {},
      kind: 'event',
      event: { type: 'cluster', cluster: { dir: '/s', generation: 1, nodes: [n], cuts: [] } },
    });
    expect(checkTraceRecord(record(node('n4', true)))).toMatchObject({ ok: true });
    expect(checkTraceRecord(record(node('n4')))).toMatchObject({ ok: true });
    expect(checkTraceRecord(record({ ...node('n4'), learner: 'yes' }))).toEqual({
      ok: false,
      problem: expect.stringContaining('learner must be true or false') as string,
    });
  });
});
