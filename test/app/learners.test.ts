// Learners through the app's core, as the window drives it: `addMember {learner}` is etcdctl
// member add --learner then start; the learner replicates (appends reach it) but is asked for no
// vote; `promoteMember` is etcdctl member promote, and the promotion is a conf event it narrates.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Supervisor } from '../../src-main/cluster/supervisor.js';
import { agreedLeader, type ClusterState, type NodeState } from '../../src-shared/cluster-state.js';
import type { ServerEvent } from '../../src-shared/protocol.js';
import { narrate } from '../../src-shared/narrate.js';
import { lastState, nodeIn, recordedSupervisor, untilAgreedLeader } from '../helpers/app-events.js';
import { until } from '../helpers/cluster.js';

let sup: Supervisor;
let events: ServerEvent[];
let states: ClusterState[];
const state = () => lastState(states);
const node = (name: string): NodeState => nodeIn(states, name);
const leader = (timeoutMs = 20_000) => untilAgreedLeader(states, timeoutMs);
const caughtUp = (name: string) =>
  until(
    `${name} has caught up`,
    () => {
      const l = agreedLeader(state());
      return l && node(name).status === 'alive' && node(name).lead === l.name && node(name).applied >= l.applied;
    },
    20_000,
  );
const sentTo = (to: string, types: string[]) =>
  events.filter((e) => e.type === 'message' && e.to === to && types.includes(e.msgType));

beforeEach(() => {
  ({ sup, events, states } = recordedSupervisor());
});

afterEach(async () => {
  await sup.stop();
});

describe('learners in the app', () => {
  it('adds a learner: it replicates, is asked for no vote, and is promoted to a voter', async () => {
    await sup.start(3);
    await leader();
    await expect(sup.execute({ type: 'addMember', learner: true })).resolves.toMatchObject({ name: 'n4' });
    await caughtUp('n4');
    await until('n4 is drawn as a learner', () => node('n4').learner === true);
    expect(
      state()
        .nodes.filter((n) => n.learner)
        .map((n) => n.name),
    ).toEqual(['n4']);
    expect(sentTo('n4', ['MsgApp', 'MsgSnap']).length).toBeGreaterThan(0);

    // An election with the learner running: the candidates ask the voters only.
    const old = (await leader()).name;
    await sup.execute({ type: 'killNode', name: old });
    await until(
      'a new leader',
      () => {
        const l = agreedLeader(state());
        return l && l.name !== old && l.name !== 'n4' ? l : undefined;
      },
      20_000,
    );
    const votes = ['MsgVote', 'MsgPreVote'];
    expect(events.some((e) => e.type === 'message' && votes.includes(e.msgType))).toBe(true);
    expect(sentTo('n4', votes)).toEqual([]);
    await sup.execute({ type: 'restartNode', name: old });
    await caughtUp(old);

    // etcd's refusal for a voter, then the promotion once n4 has caught up.
    await expect(sup.execute({ type: 'promoteMember', name: 'n1' })).rejects.toThrow(
      /can only promote a learner member/,
    );
    await caughtUp('n4');
    await sup.execute({ type: 'promoteMember', name: 'n4' });
    await until('n4 is a voter', () => node('n4').learner !== true && node('n4').status === 'alive');
    const promoted = await until('the promotion event on n4', () =>
      events.find((e) => e.type === 'raft' && e.node === 'n4' && e.event.kind === 'conf' && e.event.promoted),
    );
    const nameOf = (id: string) => state().nodes.find((n) => n.id === id)?.name ?? id;
    expect(promoted.type === 'raft' && narrate('n4', promoted.event, nameOf)?.text).toMatch(
      /^n4 was promoted from learner to voting member \(entry \d+\): voters are now n\d, n\d, n\d, n\d$/,
    );
    await expect(sup.execute({ type: 'promoteMember', name: 'n4' })).rejects.toThrow(
      /can only promote a learner member/,
    );
  }, 90_000);
});
