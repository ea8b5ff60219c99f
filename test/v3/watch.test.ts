// The watch hub: one response per applied txn, history replay from a start revision, prev_kv,
// filters, progress, cancel, ids, and a compacted start revision cancelled with compact_revision.
import { describe, expect, it } from 'vitest';
import { V3StateMachine } from '../../src-main/v3/state-machine.js';
import type { WatchResponse } from '../../src-main/v3/watch/watch-hub.js';
import { prefixRangeEnd } from '../../src-main/v3/mvcc/range-end.js';

const b = (s: string) => Buffer.from(s);

function setup() {
  const m = new V3StateMachine({ minLeaseTTL: 1 });
  const got: WatchResponse[] = [];
  const stream = m.watches.openStream((r) => got.push(r));
  const put = (k: string, v: string) => m.apply({ put: { key: b(k), value: b(v) } });
  const del = (k: string) => m.apply({ delete_range: { key: b(k) } });
  /** Responses as short strings: id, header revision, flags, events. */
  const seen = () =>
    got
      .splice(0)
      .map((r) =>
        [
          `#${r.watch_id}@${r.header.revision}`,
          r.created ? 'created' : '',
          r.canceled ? `canceled${r.cancel_reason ? `(${r.cancel_reason})` : ''}` : '',
          r.compact_revision ? `compact=${r.compact_revision}` : '',
          ...r.events.map(
            (e) =>
              `${e.type} ${e.kv.key}=${e.kv.value}@${e.kv.mod_revision}${e.prev_kv ? ` prev=${e.prev_kv.value}` : ''}`,
          ),
        ]
          .filter(Boolean)
          .join(' '),
      );
  return { m, stream, put, del, seen };
}

describe('watch', () => {
  it('sees each txn as one response, only for its keys', () => {
    const { m, stream, put, del, seen } = setup();
    stream.create({ key: b('a/'), range_end: prefixRangeEnd(b('a/')) });
    put('a/1', 'x');
    put('b', 'y');
    m.apply({
      txn: {
        success: [{ request_put: { key: b('a/2'), value: b('z') } }, { request_delete_range: { key: b('a/1') } }],
      },
    });
    del('a/2');
    expect(seen()).toEqual([
      '#0@1 created',
      '#0@2 PUT a/1=x@2',
      '#0@4 PUT a/2=z@4 DELETE a/1=@4',
      '#0@5 DELETE a/2=@5',
    ]);
  });

  it('replays history from a start revision, then follows', () => {
    const { stream, put, del, seen } = setup();
    put('k', '1'); // 2
    put('k', '2'); // 3
    del('k'); // 4
    put('other', '1'); // 5
    stream.create({ key: b('k'), start_revision: 3, prev_kv: true });
    put('k', '3');
    expect(seen()).toEqual(['#0@5 created', '#0@5 PUT k=2@3 prev=1 DELETE k=@4 prev=2', '#0@6 PUT k=3@6']);
  });

  it('filters puts or deletes, and sends nothing when all are filtered', () => {
    const { stream, put, del, seen } = setup();
    stream.create({ key: b('k'), filters: ['NOPUT'] });
    stream.create({ key: b('k'), filters: ['NODELETE'] });
    put('k', '1');
    del('k');
    expect(seen()).toEqual(['#0@1 created', '#1@1 created', '#1@2 PUT k=1@2', '#0@3 DELETE k=@3']);
  });

  it('cancels a watcher whose start revision was compacted, with compact_revision', () => {
    const { m, stream, put, seen } = setup();
    for (let i = 0; i < 5; i++) put('k', `${i}`); // revisions 2..6
    m.apply({ compaction: { revision: 5 } });
    stream.create({ key: b('k'), start_revision: 4 });
    stream.create({ key: b('k'), start_revision: 5 });
    put('k', 'after');
    expect(seen()).toEqual([
      '#0@6 created',
      '#0@0 canceled compact=5',
      '#1@6 created',
      '#1@6 PUT k=3@5 PUT k=4@6',
      '#1@7 PUT k=after@7',
    ]);
    // Its id stays taken until cancelled, and a cancel is answered, as etcd does.
    expect(stream.ids()).toEqual([0, 1]);
    expect(stream.cancel(0)).toBe(true);
    expect(seen()).toEqual(['#0@7 canceled']);
  });

  it('cancel, ids chosen or given, bad ranges, progress', () => {
    const { m, stream, put, seen } = setup();
    expect(stream.create({ key: b('a'), watch_id: 7 })).toBe(7);
    expect(stream.create({ key: b('a') })).toBe(0);
    expect(stream.create({ key: b('a'), watch_id: 7 })).toBe(-1);
    expect(stream.create({ key: b('b'), range_end: b('a') })).toBe(-1);
    expect(stream.create({ key: b('x'), progress_notify: true })).toBe(1);
    expect(stream.cancel(7)).toBe(true);
    expect(stream.cancel(7)).toBe(false);
    stream.requestProgress();
    m.watches.progressTick();
    put('x', 'v');
    m.watches.progressTick(); // elided: it just had events
    m.watches.progressTick();
    expect(seen()).toEqual([
      '#7@1 created',
      '#0@1 created',
      '#-1@1 created canceled(mvcc: duplicate watch ID provided on the WatchStream)',
      '#-1@1 created canceled(mvcc: watcher range is empty)',
      '#1@1 created',
      '#7@1 canceled',
      '#-1@1',
      '#1@1',
      '#1@2 PUT x=v@2',
      '#1@2',
    ]);
    stream.close();
    put('x', 'w');
    expect(seen()).toEqual([]);
    expect(m.watches.watcherCount()).toBe(0);
  });

  it('sees a lease revoke as the deletes of its keys', () => {
    const { m, stream, seen } = setup();
    m.apply({ lease_grant: { ID: 1n, TTL: 10 } });
    m.apply({ put: { key: b('e1'), value: b('v'), lease: 1n } });
    stream.create({ key: b('e'), range_end: b('f'), prev_kv: true });
    m.apply({ lease_revoke: { ID: 1n } });
    expect(seen()).toEqual(['#0@2 created', '#0@3 DELETE e1=@3 prev=v']);
  });

  it('a member restored from a snapshot brings its watchers up to date', () => {
    const { m, stream, seen } = setup();
    stream.create({ key: b('k'), prev_kv: true });
    // Another member got further; this one catches up from its snapshot.
    const ahead = new V3StateMachine({ minLeaseTTL: 1 });
    ahead.apply({ put: { key: b('k'), value: b('1') } });
    ahead.apply({ put: { key: b('k'), value: b('2') } });
    m.restore(ahead.snapshot());
    m.apply({ put: { key: b('k'), value: b('3') } });
    expect(seen()).toEqual(['#0@1 created', '#0@3 PUT k=1@2 PUT k=2@3 prev=1', '#0@4 PUT k=3@4 prev=2']);
  });
});
