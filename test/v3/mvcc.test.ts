// The MVCC store's semantics as tables (etcd's behaviour, checked against a real etcd in
// etcd-compare.test.ts), plus what only this store promises: determinism of state and snapshot.
import { describe, expect, it } from 'vitest';
import { seededRandom } from '../../src-main/util/rng.js';
import { decodeCommand, encodeCommand, type V3Command } from '../../src-main/v3/command.js';
import { prefixRangeEnd } from '../../src-main/v3/mvcc/range-end.js';
import { MvccStore } from '../../src-main/v3/mvcc/store.js';
import { V3StateMachine } from '../../src-main/v3/state-machine.js';
import { RandomOps } from './random-ops.js';
import { one } from '../helpers/checked.js';

const b = (s: string) => Buffer.from(s, 'latin1');
const s = (x: Buffer) => x.toString('latin1');
const sm = () => new V3StateMachine({ minLeaseTTL: 1 });
function ok<T>(r: ReturnType<V3StateMachine['apply']>): T {
  if (!r.ok) throw r.error;
  return r.response as T;
}

describe('prefix range end (clientv3 GetPrefixRangeEnd)', () => {
  it.each([
    ['a', 'b'],
    ['a/', 'a0'],
    ['a\u00ff', 'b'],
    ['\u00ff\u00ff', '\0'],
    ['', '\0'],
  ])('%j -> %j', (prefix, end) => {
    expect(s(prefixRangeEnd(b(prefix)))).toBe(end);
  });
});

describe('revisions, versions and history', () => {
  it('counts create/mod revision and version per key; a delete starts a new generation', () => {
    const m = sm();
    expect(m.rev()).toBe(1);
    ok(m.apply({ put: { key: b('k'), value: b('1') } }));
    ok(m.apply({ put: { key: b('k'), value: b('2') } }));
    ok(m.apply({ delete_range: { key: b('k') } }));
    ok(m.apply({ put: { key: b('k'), value: b('3') } }));
    const table = [2, 3, 4, 5].map((rev) => {
      const kv = m.range({ key: b('k'), revision: rev }).kvs[0];
      return kv ? [rev, s(kv.value), kv.create_revision, kv.mod_revision, kv.version] : [rev, 'gone'];
    });
    expect(table).toEqual([
      [2, '1', 2, 2, 1],
      [3, '2', 2, 3, 2],
      [4, 'gone'],
      [5, '3', 5, 5, 1],
    ]);
  });

  it('a txn is one revision; its sub-revisions order its events', () => {
    const m = sm();
    const events: string[] = [];
    m.onEvents = (rev, evs) => events.push(...evs.map((e) => `${rev}:${e.type}:${s(e.kv.key)}`));
    const r = ok<{ header: { revision: number } }>(
      m.apply({
        txn: {
          success: [
            { request_put: { key: b('a'), value: b('1') } },
            { request_put: { key: b('b'), value: b('1') } },
            { request_delete_range: { key: b('a') } },
          ],
        },
      }),
    );
    expect(r.header.revision).toBe(2);
    expect(events).toEqual(['2:PUT:a', '2:PUT:b', '2:DELETE:a']);
  });

  it('a write that changes nothing keeps the revision', () => {
    const m = sm();
    const d = ok<{ header: { revision: number }; deleted: number }>(m.apply({ delete_range: { key: b('none') } }));
    expect([d.header.revision, d.deleted, m.rev()]).toEqual([1, 0, 1]);
  });

  it('compaction keeps what reads at or after it need, and forgets tombstones before it', () => {
    const st = new MvccStore();
    const write = (f: (w: ReturnType<MvccStore['write']>) => void) => {
      const w = st.write();
      f(w);
      w.end();
    };
    write((w) => w.put(b('a'), b('1'), 0n)); // 2
    write((w) => w.put(b('b'), b('1'), 0n)); // 3
    write((w) => w.deleteRange(b('b'), undefined)); // 4
    write((w) => w.put(b('a'), b('2'), 0n)); // 5
    st.compact(4);
    expect(() => st.range(b('a'), undefined, { rev: 3 })).toThrow('required revision has been compacted');
    expect(s(one(st.range(b('a'), undefined, { rev: 4 }).kvs).value)).toBe('1');
    // b's tombstone at 4 is gone with its history; a keeps its live value at 4 and what follows.
    expect(st.eventsSince(0, () => true).map((e) => `${e.type}:${s(e.kv.key)}@${e.kv.mod_revision}`)).toEqual([
      'PUT:a@2',
      'PUT:a@5',
    ]);
    expect(st.toSnapshot().keys.map(([k]) => s(Buffer.from(k, 'base64')))).toEqual(['a']);
    expect(() => st.compact(4)).toThrow('required revision has been compacted');
    expect(() => st.compact(6)).toThrow('required revision is a future revision');
  });

  it('orders keys as bytes, not as UTF-16 or UTF-8 text', () => {
    const m = sm();
    for (const k of ['\u00ff', 'a', '\u0001', 'B']) ok(m.apply({ put: { key: b(k), value: b('') } }));
    expect(m.range({ key: b('\0'), range_end: b('\0') }).kvs.map((kv) => [...kv.key])).toEqual([
      [1],
      [66],
      [97],
      [255],
    ]);
  });
});

describe('determinism (the same log on every member)', () => {
  function commands(seed: number, n: number): V3Command[] {
    const gen = new RandomOps(seededRandom(seed));
    const out: V3Command[] = [];
    while (out.length < n) {
      const op = gen.next();
      if (!('range' in op)) out.push(op);
    }
    return out;
  }

  it('same commands give the same snapshot bytes; a restored member answers the same', () => {
    const cmds = commands(11, 300);
    const [x, y] = [sm(), sm()];
    for (const c of cmds) {
      // Through the log's encoding, as a follower would get it.
      const rx = x.apply(decodeCommand(encodeCommand(c)));
      const ry = y.apply(c);
      expect(rx.ok).toBe(ry.ok);
    }
    const snap = x.snapshot();
    expect(snap.equals(y.snapshot())).toBe(true);
    const z = sm();
    z.restore(snap);
    expect(z.snapshot().equals(snap)).toBe(true);
    // Carry on from the snapshot: both still agree, revisions and all.
    for (const c of commands(12, 100)) {
      expect(JSON.stringify(z.apply(c), (_k, v) => (typeof v === 'bigint' ? `${v}n` : v))).toBe(
        JSON.stringify(x.apply(c), (_k, v) => (typeof v === 'bigint' ? `${v}n` : v)),
      );
    }
    expect(z.snapshot().equals(x.snapshot())).toBe(true);
    // etcd's HashKV agrees too (it is compared with a real etcd's in grpc-compare.test.ts).
    expect(z.store.hashKV(0)).toEqual(x.store.hashKV(0));
    expect(z.store.hashKV(0).hash).not.toBe(sm().store.hashKV(0).hash);
  });

  it('commands round-trip through their encoding (bytes and 63-bit lease ids exact)', () => {
    const c: V3Command = { put: { key: b('\u0000\u00ff'), value: b('v'), lease: 0x7fffffffffffffffn } };
    const back = decodeCommand(encodeCommand(c));
    expect(back).toEqual(c);
    expect(encodeCommand(back).equals(encodeCommand(c))).toBe(true);
  });
});
