// The app's headless core on a real cluster: worker threads, real ports, SQLite files.
// Everything is observed the way the window observes it: through the supervisor's events.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Supervisor } from '../../src-main/cluster/supervisor.js';
import { agreedLeader, type ClusterState, type NodeState } from '../../src-shared/cluster-state.js';
import type { KvResult } from '../../src-shared/command-results.js';
import type { ServerEvent } from '../../src-shared/protocol.js';
import { lastState, nodeIn, recordedSupervisor, untilAgreedLeader } from '../helpers/app-events.js';
import { until } from '../helpers/cluster.js';

let sup: Supervisor;
let events: ServerEvent[];
let states: ClusterState[];
const state = () => lastState(states);
const node = (name: string): NodeState => nodeIn(states, name);
const leaderName = async (timeoutMs?: number) => (await untilAgreedLeader(states, timeoutMs)).name;

beforeEach(() => {
  ({ sup, events, states } = recordedSupervisor());
  sup.on('events', (batch) => expect(batch.length).toBeGreaterThan(0));
});

afterEach(async () => {
  await sup.stop();
});

describe('Supervisor', () => {
  it('starts 3 nodes in workers and one leader emerges, seen through events', async () => {
    await sup.start(3);
    const leader = await leaderName();
    // A leader needs two of three: the third may still be starting.
    await until('every node alive', () => state().nodes.every((n) => n.status === 'alive'));
    const l = node(leader);
    expect(l.id).toMatch(/^[0-9a-f]{1,16}$/);
    expect(l.log.some((e) => e.data === 'no-op')).toBe(true);
    // The election as raft events, the heartbeats as messages, the etcd log as lines.
    expect(
      events.some(
        (e) => e.type === 'raft' && e.node === leader && e.event.kind === 'role' && e.event.role === 'leader',
      ),
    ).toBe(true);
    await until('heartbeats', () =>
      events.some((e) => e.type === 'message' && e.msgType === 'MsgHeartbeat' && e.from === leader),
    );
    expect(
      events.some((e) => e.type === 'log' && e.node === leader && / I \| raft: .* became leader at term /.test(e.line)),
    ).toBe(true);
    // Batches: the cluster snapshot comes last in a batch.
    const t0 = Date.now();
    const sizes: number[] = [];
    const times: number[] = [];
    const onBatch = (b: ServerEvent[]) => {
      sizes.push(b.length);
      times.push(Date.now());
    };
    sup.on('events', onBatch);
    await new Promise((r) => setTimeout(r, 500));
    sup.off('events', onBatch);
    // Coalesced: never two flushes closer than the ~16 ms window (timers never fire early).
    expect(times.length).toBeGreaterThan(3);
    expect(times.length).toBeLessThanOrEqual(Math.ceil((Date.now() - t0) / 15) + 1);
    for (let i = 1; i < times.length; i++) expect(times[i]! - times[i - 1]!).toBeGreaterThanOrEqual(14);
  });

  it('kill the leader: a new leader; restart it: it rejoins from its data dir', async () => {
    await sup.start(3);
    const old = await leaderName();
    await sup.execute({ type: 'killNode', name: old });
    await until('the window sees it killed', () => node(old).status === 'killed');
    const next = await until('a new leader', () => {
      const l = agreedLeader(state());
      return l && l.name !== old ? l.name : undefined;
    });
    await sup.execute({ type: 'restartNode', name: old });
    await until(
      'the old leader follows the new one',
      () => node(old).status === 'alive' && node(old).lead === next && node(old).commit === node(next).commit,
    );
    expect(
      events.some((e) => e.type === 'log' && e.node === old && /already initialized as member before/.test(e.msg)),
    ).toBe(true);
  });

  it('a clock offset on one node shows as the clock difference warning', async () => {
    await sup.start(3);
    await leaderName();
    await sup.execute({ type: 'setClock', name: 'n1', offsetMs: 5000 });
    const warn = await until('the clock warning', () =>
      events.find(
        (e) => e.type === 'log' && e.level === 'W' && /the clock difference against peer .* is too high/.test(e.msg),
      ),
    );
    expect(warn).toBeTruthy();
    await until('n1 reports its offset', () => Math.abs(node('n1').clock.offsetMs - 5000) < 50);
  });

  it('cutting the leader off: messages between them stop and the others elect a new leader', async () => {
    await sup.start(3);
    const old = await leaderName();
    const others = state()
      .nodes.map((n) => n.name)
      .filter((n) => n !== old);
    for (const o of others) await sup.execute({ type: 'cutLink', a: old, b: o });
    const cutAt = Date.now() + 50;
    const next = await until('a leader among the others', () => {
      const ls = others.filter((o) => node(o).role === 'leader');
      return ls.length === 1 && others.every((o) => node(o).lead === ls[0]) ? ls[0] : undefined;
    });
    expect(next).not.toBe(old);
    expect(state().cuts).toHaveLength(2);
    await new Promise((r) => setTimeout(r, 300));
    const across = events.filter((e) => e.type === 'message' && e.at > cutAt && (e.from === old || e.to === old));
    expect(across).toEqual([]);
    // Healed, the old leader hears the new term and follows.
    await sup.execute({ type: 'healAll' });
    await until('the old leader follows', () => node(old).lead === next);
    expect(state().cuts).toEqual([]);
  });

  it('member add shows an unstarted member, then a started one; member remove leaves 3', async () => {
    await sup.start(3);
    await leaderName();
    const added = await sup.execute({ type: 'addMember' });
    expect(added).toMatchObject({ name: 'n4', id: expect.stringMatching(/^[0-9a-f]{1,16}$/) });
    expect(states.some((s) => s.nodes.find((n) => n.name === 'n4')?.status === 'unstarted')).toBe(true);
    await until('n4 has caught up', () => {
      const l = agreedLeader(state());
      return l && node('n4').lead === l.name && node('n4').applied === l.applied;
    });
    expect(state().nodes.filter((n) => n.status === 'alive')).toHaveLength(4);
    expect(node('n4').log.some((e) => e.data === 'add n4' || e.data.startsWith('add '))).toBe(true);

    await sup.execute({ type: 'removeMember', name: 'n4' });
    await until('the window sees it removed', () => node('n4').status === 'removed');
    await until('n4 says it was removed', () =>
      events.some((e) => e.type === 'log' && e.node === 'n4' && /permanently removed from the cluster/.test(e.msg)),
    );
    expect(state().nodes.filter((n) => n.status !== 'removed')).toHaveLength(3);
    await leaderName();
  });

  it('kv: a put on one node is read on another', async () => {
    await sup.start(3);
    await leaderName();
    const put = (await sup.execute({
      type: 'kv',
      name: 'n1',
      method: 'PUT',
      key: '/greeting',
      value: 'hello',
    })) as KvResult;
    expect(put.status).toBe(201);
    const got = await until('the value on n3', async () => {
      const r = (await sup.execute({
        type: 'kv',
        name: 'n3',
        method: 'GET',
        key: '/greeting',
        query: { quorum: 'true' },
      })) as KvResult;
      return r.status === 200 ? r : undefined;
    });
    expect(got.body).toMatchObject({ action: 'get', node: { key: '/greeting', value: 'hello' } });
    await expect(sup.execute({ type: 'kv', name: 'n9', method: 'GET', key: '/x' })).rejects.toThrow(/no node named n9/);
  });

  it('commands answer through events: ack with the id, or error', async () => {
    await sup.start(1);
    await leaderName();
    await sup.handle({ id: 'a1', cmd: { type: 'setClock', name: 'n1', rate: 2 } });
    await sup.handle({ id: 'a2', cmd: { type: 'restartNode', name: 'n1' } });
    await until(
      'both answers',
      () =>
        events.some((e) => e.type === 'ack' && e.id === 'a1') &&
        events.some((e) => e.type === 'error' && e.id === 'a2'),
    );
    await until('the rate shows', () => node('n1').clock.rate === 2);
  });
});
