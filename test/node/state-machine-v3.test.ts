// The node's state machine applies v3 commands from the same log as v2 ones: every member that
// applies the same entries (or restores another's snapshot) holds the same v3 state, watchers
// survive a restore, and a snapshot from before v3 restores to an empty v3 state.
import { describe, expect, it } from 'vitest';
import { NodeStateMachine, v3Entry } from '../../src-main/node/state-machine.js';
import type { Entry } from '../../src-shared/raft-types.js';
import type { WatchResponse } from '../../src-main/v3/watch/watch-hub.js';
import { one } from '../helpers/checked.js';

const b = (s: string) => Buffer.from(s);
let index = 0;
const entry = (data: unknown): Entry => ({ index: ++index, term: 1, type: 'normal', data: JSON.stringify(data) });

describe('v3 commands in the node log', () => {
  it('applies v2 and v3 entries alike on every member; a snapshot carries the v3 state to another member', () => {
    const [a, c] = [new NodeStateMachine(), new NodeStateMachine()];
    const log = [
      entry({ t: 'v2', r: 'r1', c: { op: 'set', path: '/v2key', value: 'x', now: 0 } }),
      entry(v3Entry('r2', { put: { key: b('foo'), value: b('bar') } })),
      entry(v3Entry('r3', { lease_grant: { ID: 7n, TTL: 60 } })),
      entry(v3Entry('r4', { put: { key: b('leased'), value: b('1'), lease: 7n } })),
      entry(v3Entry('r5', { put: { key: b('x'), value: b('1'), lease: 99n } })),
    ];
    const outcomes = log.map((e) => a.apply(e));
    for (const e of log) c.apply(e);
    expect(outcomes[1]).toMatchObject({ r: 'r2', v3: { ok: true, response: { header: { revision: 2 } } } });
    // An apply error is the client's answer, not a failed entry.
    expect(outcomes[4]).toMatchObject({
      r: 'r5',
      v3: { ok: false, error: { message: 'etcdserver: requested lease not found' } },
    });
    expect(a.v3.snapshot().equals(c.v3.snapshot())).toBe(true);
    expect(a.store.get('/v2key', {}, 0).node).toMatchObject({ value: 'x' });

    // A third member restored from a's snapshot: same v3 state, same lease with its key.
    const d = new NodeStateMachine();
    const seen: WatchResponse[] = [];
    d.v3.watches.openStream((r) => seen.push(r)).create({ key: b('foo'), start_revision: 1 });
    d.restore(a.toJSON());
    expect(d.v3.snapshot().equals(a.v3.snapshot())).toBe(true);
    expect(one(d.v3.range({ key: b('foo') }).kvs).value.toString()).toBe('bar');
    expect(d.v3.lessor.timeToLive(7n, true).keys.map(String)).toEqual(['leased']);
    // The same entry next applied everywhere, watched on the restored member.
    const next = entry(v3Entry('r6', { put: { key: b('foo'), value: b('baz') } }));
    for (const m of [a, c, d]) m.apply(next);
    expect(d.v3.snapshot().equals(a.v3.snapshot())).toBe(true);
    expect(seen.flatMap((r) => r.events ?? []).map((e) => e.kv.value.toString())).toContain('baz');
  });

  it('a snapshot nests both stores as JSON, and one that nests them as strings (older) restores alike', () => {
    const a = new NodeStateMachine();
    a.apply(entry({ t: 'v2', r: 'r1', c: { op: 'set', path: '/v2key', value: 'say "hi"', now: 0 } }));
    a.apply(entry(v3Entry('r2', { lease_grant: { ID: 7n, TTL: 60 } })));
    a.apply(entry(v3Entry('r3', { put: { key: b('k'), value: b('v'), lease: 7n } })));
    const snap = JSON.parse(a.toJSON()) as Record<string, unknown>;
    // Nested as objects: no store's JSON escaped a second time.
    expect(typeof snap.store).toBe('object');
    expect(typeof snap.v3).toBe('object');
    expect(JSON.stringify(snap.v3)).toBe(a.v3.snapshot().toString());
    const older = JSON.stringify({ ...snap, store: JSON.stringify(snap.store), v3: JSON.stringify(snap.v3) });
    for (const data of [a.toJSON(), older]) {
      const d = new NodeStateMachine();
      d.restore(data);
      expect(d.toJSON()).toBe(a.toJSON());
      expect(d.store.get('/v2key', {}, 0).node).toMatchObject({ value: 'say "hi"' });
      expect(d.v3.lessor.timeToLive(7n, true).keys.map(String)).toEqual(['k']);
    }
  });

  it('a snapshot written before v3 existed restores to an empty v3 state, replacing what was there', () => {
    const a = new NodeStateMachine();
    a.apply(entry(v3Entry('r1', { put: { key: b('k'), value: b('v') } })));
    const old = JSON.parse(new NodeStateMachine().toJSON()) as Record<string, unknown>;
    delete old.v3;
    a.restore(JSON.stringify(old));
    expect(a.v3.rev()).toBe(1);
    expect(a.v3.range({ key: b('k') }).kvs).toEqual([]);
  });
});
