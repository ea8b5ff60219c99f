// The trace schema on its own: headers and records checked line by line, errors that say
// which line and what is wrong, newer versions refused, older ones upgraded.
import { describe, expect, it } from 'vitest';
import type { ClusterState, NodeState } from '../../src-shared/cluster-state.js';
import { TraceIndex } from '../../src-shared/replay.js';
import {
  TRACE_UPGRADES,
  TRACE_VERSION,
  TraceError,
  entryOfEvent,
  parseTraceHeader,
  parseTraceRecord,
  readTraceText,
  upgradeRecord,
  type TraceUpgrade,
} from '../../src-shared/trace.js';
import { nth } from '../helpers/checked.js';
import { nodeState } from '../helpers/node-state.js';

const header = {
  format: 'raftlab-trace',
  version: 3,
  createdAt: 1_700_000_000_000,
  source: 'local',
  nodes: ['n1', 'n2'],
  settings: { heartbeatMs: 100, electionMs: 1000 },
};
const line = (o: unknown) => JSON.stringify(o);
const node = (name: string, term: number): NodeState =>
  nodeState(name, {
    term,
    commit: 2,
    applied: 2,
    lastIndex: 2,
    log: [
      { index: 1, term: 1, type: 'normal', data: 'no-op' },
      { index: 2, term: 1, type: 'normal', data: 'set /a=1' },
    ],
  });
const cluster = (term = 1): ClusterState => ({
  dir: '/s',
  generation: 1,
  nodes: [node('n1', term), node('n2', term)],
  cuts: [],
  step: { on: false, held: [] },
});
const raft = (seq: number, at: number) => ({
  seq,
  at,
  kind: 'event',
  event: { type: 'raft', node: 'n1', at, event: { kind: 'commit', index: seq, term: 1 } },
});

function errorOf(f: () => unknown): TraceError {
  try {
    f();
  } catch (err) {
    expect(err).toBeInstanceOf(TraceError);
    return err as TraceError;
  }
  throw new Error('did not throw');
}

describe('trace header', () => {
  it('reads a v3 header, and v1 and v2 headers as v3', () => {
    expect(TRACE_VERSION).toBe(3);
    expect(parseTraceHeader(line(header))).toEqual(header);
    expect(parseTraceHeader(line({ ...header, version: 1 }))).toEqual(header);
    expect(parseTraceHeader(line({ ...header, version: 2 }))).toEqual(header);
  });

  it('refuses a newer version, saying which', () => {
    const e = errorOf(() => parseTraceHeader(line({ ...header, version: 4 })));
    expect(e.message).toMatch(/^trace version 4 is newer than this raftlab reads \(3\)/);
  });

  it('refuses what is not a trace, or a header missing a field', () => {
    expect(errorOf(() => parseTraceHeader('{"format":"other"}')).message).toBe(
      'line 1: not a raftlab trace: the header\'s "format" is "other", not "raftlab-trace"',
    );
    expect(errorOf(() => parseTraceHeader('[1,2]')).message).toBe('line 1: the header must be an object');
    const { settings: _s, ...noSettings } = header;
    expect(errorOf(() => parseTraceHeader(line(noSettings))).message).toBe('line 1: header.settings must be an object');
  });
});

describe('trace records', () => {
  it('reads every kind', () => {
    const records = [
      raft(1, 10),
      {
        seq: 2,
        at: 11,
        clocks: { n1: 5011, n2: 11 },
        kind: 'event',
        event: { type: 'message', at: 11, from: 'n1', to: 'n2', msgType: 'MsgHeartbeat', term: 2, commit: 4 },
      },
      {
        seq: 3,
        at: 12,
        kind: 'event',
        event: { type: 'log', node: 'n1', at: 12, level: 'I', pkg: 'raft', msg: 'm', line: 'l' },
      },
      { seq: 4, at: 13, kind: 'event', event: { type: 'error', message: 'n2 exited unexpectedly' } },
      { seq: 5, at: 14, kind: 'action', id: 'w1', cmd: { type: 'killNode', name: 'n1' } },
      { seq: 6, at: 15, kind: 'result', id: 'w1', ok: true },
      { seq: 7, at: 15, kind: 'result', id: 'w2', ok: false, error: 'n1 is not running' },
      {
        seq: 8,
        at: 16,
        kind: 'held',
        msgId: 4,
        message: { from: 'n1', to: 'n2', msgType: 'MsgApp', term: 2, index: 3, logTerm: 2, entries: 1, commit: 3 },
      },
      { seq: 9, at: 17, kind: 'delivered', msgId: 4, message: { from: 'n1', to: 'n2', msgType: 'MsgApp', term: 2 } },
      { seq: 10, at: 18, kind: 'client', node: 'n1', method: 'PUT', path: '/v2/keys/a', status: 201, ms: 3.5 },
      // Seen on an attached cluster: recorded like everything else.
      {
        seq: 11,
        at: 19,
        kind: 'event',
        event: { type: 'attach', at: 19, event: { type: 'leaderChanged', at: 19, to: 'a1', toName: 'e1', term: 3 } },
      },
      // A snapshot, then one as what changed since: n1's term, vote and log tail, a cut link.
      { seq: 12, at: 20, kind: 'event', event: { type: 'cluster', cluster: cluster() } },
      {
        seq: 13,
        at: 21,
        kind: 'event',
        event: {
          type: 'cluster-delta',
          set: { cuts: [{ a: 'n1', b: 'n2' }] },
          nodes: {
            n1: {
              set: { term: 3, vote: 'n1' },
              log: { drop: 1, add: [{ index: 3, term: 3, type: 'normal', data: 'no-op' }] },
            },
          },
        },
      },
      {
        seq: 14,
        at: 22,
        kind: 'event',
        event: { type: 'cluster-delta', unset: ['step'], nodes: { n2: { log: [], unset: ['extra'] } } },
      },
      { seq: 15, at: 23, kind: 'event', event: { type: 'cluster-delta' } },
    ];
    records.forEach((r, i) => expect(parseTraceRecord(line(r), i + 2)).toEqual(r));
  });

  it('names the line and the field that is wrong', () => {
    expect(errorOf(() => parseTraceRecord('{"seq":1,', 7)).message).toMatch(/^line 7: not valid JSON \(/);
    expect(errorOf(() => parseTraceRecord(line({ ...raft(1, 1), seq: 0 }), 2)).message).toBe(
      'line 2: record.seq must be a whole number ≥ 1',
    );
    expect(errorOf(() => parseTraceRecord(line({ ...raft(1, 1), kind: 'bogus' }), 3)).message).toMatch(
      /^line 3: record.kind is "bogus", not one of event, action/,
    );
    const badRaft = {
      seq: 1,
      at: 1,
      kind: 'event',
      event: { type: 'raft', node: 'n1', at: 1, event: { kind: 'commit', term: 1 } },
    };
    expect(errorOf(() => parseTraceRecord(line(badRaft), 4)).message).toBe(
      'line 4: event.event.index must be a number',
    );
    const badNode = {
      seq: 1,
      at: 1,
      kind: 'event',
      event: {
        type: 'cluster',
        cluster: { dir: '', generation: 1, cuts: [], nodes: [{ name: 'n1', status: 'zombie' }] },
      },
    };
    expect(errorOf(() => parseTraceRecord(line(badNode), 5)).message).toMatch(
      /^line 5: event.cluster.nodes\[0\].id must be a string/,
    );
    const badCmd = { seq: 1, at: 1, kind: 'action', id: 'w1', cmd: { type: 'startCluster', size: 99 } };
    expect(errorOf(() => parseTraceRecord(line(badCmd), 6)).message).toBe(
      'line 6: record.cmd: startCluster: size must be 1..7',
    );
    const ack = { seq: 1, at: 1, kind: 'event', event: { type: 'ack', id: 'w1' } };
    expect(errorOf(() => parseTraceRecord(line(ack), 8)).line).toBe(8);
    // A delta's fields are checked as a snapshot's are, and it cannot unset what a snapshot must have.
    const delta = (event: object) => line({ seq: 1, at: 1, kind: 'event', event: { type: 'cluster-delta', ...event } });
    expect(errorOf(() => parseTraceRecord(delta({ nodes: { n1: { set: { term: -1 } } } }), 9)).message).toBe(
      'line 9: event.nodes.n1.set.term must be a whole number ≥ 0',
    );
    expect(errorOf(() => parseTraceRecord(delta({ nodes: { n1: { set: { status: 'zombie' } } } }), 9)).message).toMatch(
      /^line 9: event.nodes.n1.set.status is "zombie", not one of unstarted/,
    );
    expect(errorOf(() => parseTraceRecord(delta({ nodes: { n1: { log: { add: [] } } } }), 9)).message).toBe(
      'line 9: event.nodes.n1.log.drop must be a number',
    );
    expect(
      errorOf(() => parseTraceRecord(delta({ nodes: { n1: { log: { drop: 0, add: [{ index: 1, term: 1 }] } } } }), 9))
        .message,
    ).toBe('line 9: event.nodes.n1.log.add[0].data must be a string');
    expect(errorOf(() => parseTraceRecord(delta({ nodes: { n1: { set: { name: 'n7' } } } }), 9)).message).toBe(
      'line 9: event.nodes.n1.set: a node\'s name does not change through "set"',
    );
    expect(errorOf(() => parseTraceRecord(delta({ nodes: { n1: { unset: ['term'] } } }), 9)).message).toBe(
      'line 9: event.nodes.n1.unset[0]: "term" cannot be unset',
    );
    expect(errorOf(() => parseTraceRecord(delta({ unset: ['generation'] }), 9)).message).toBe(
      'line 9: event.unset[0]: "generation" cannot be unset',
    );
    expect(errorOf(() => parseTraceRecord(delta({ set: { generation: 'two' } }), 9)).message).toBe(
      'line 9: event.set.generation must be a number',
    );
    expect(errorOf(() => parseTraceRecord(delta({ set: { nodes: [] } }), 9)).message).toBe(
      'line 9: event.set.nodes: nodes change through event.nodes',
    );
    expect(errorOf(() => parseTraceRecord(delta({ nodes: [] }), 9)).message).toBe(
      'line 9: event.nodes must be an object',
    );
  });

  it('keeps an ack and an answered error as results, other events as events', () => {
    expect(entryOfEvent({ type: 'ack', id: 'w1', result: { status: 201, body: {} } })).toEqual({
      kind: 'result',
      id: 'w1',
      ok: true,
      result: { status: 201, body: {} },
    });
    expect(entryOfEvent({ type: 'error', id: 'w2', message: 'no' })).toEqual({
      kind: 'result',
      id: 'w2',
      ok: false,
      error: 'no',
    });
    expect(entryOfEvent({ type: 'error', message: 'n1 exited' })).toEqual({
      kind: 'event',
      event: { type: 'error', message: 'n1 exited' },
    });
  });

  it("records step mode's message fates as held / delivered / dropped records that read back", () => {
    const message = {
      id: 7,
      from: 'n2',
      to: 'n1',
      msgType: 'MsgVote' as const,
      term: 3,
      index: 5,
      logTerm: 2,
      candidate: { lastIndex: 5, lastTerm: 2 },
    };
    const dropped = entryOfEvent({ type: 'step', fate: 'dropped', message, at: 40, reason: 'cut' });
    expect(dropped).toEqual({
      kind: 'dropped',
      at: 40,
      msgId: 7,
      message: {
        from: 'n2',
        to: 'n1',
        msgType: 'MsgVote',
        term: 3,
        index: 5,
        logTerm: 2,
        candidate: { lastIndex: 5, lastTerm: 2 },
      },
      reason: 'cut',
    });
    const rec = { seq: 3, ...dropped };
    expect(parseTraceRecord(JSON.stringify(rec), 4)).toEqual(rec);
  });
});

describe('whole traces', () => {
  const text = [line(header), line(raft(1, 10)), line(raft(2, 10)), '', line(raft(3, 12))].join('\n') + '\n';

  it('reads a text, skipping blank lines but counting them', () => {
    const t = readTraceText(text);
    expect(t.header).toEqual(header);
    expect(t.records.map((r) => r.seq)).toEqual([1, 2, 3]);
    expect(readTraceText(text.replaceAll('\n', '\r\n')).records).toHaveLength(3);
    const gap = [line(header), line(raft(1, 10)), '', line(raft(3, 12))].join('\n');
    expect(errorOf(() => readTraceText(gap)).message).toBe(
      'line 4: seq 3 where 2 was expected (records are numbered 1, 2, 3… without gaps)',
    );
    const back = [line(header), line(raft(1, 10)), line(raft(2, 9))].join('\n');
    expect(errorOf(() => readTraceText(back)).message).toBe("line 3: at 9 is earlier than the previous record's 10");
    expect(errorOf(() => readTraceText('')).message).toBe('line 1: empty: a trace starts with its header');
  });

  it('refuses a newer version before reading any record', () => {
    const newer = [line({ ...header, version: TRACE_VERSION + 2, nodes: 'whatever' }), '{"a new shape":true}'].join(
      '\n',
    );
    expect(errorOf(() => readTraceText(newer)).message).toMatch(
      /^trace version 5 is newer than this raftlab reads \(3\)/,
    );
  });

  it('refuses a delta with no snapshot before it, or one patching a node the snapshot does not have', () => {
    const snap = { seq: 1, at: 10, kind: 'event', event: { type: 'cluster', cluster: cluster() } };
    const delta = (seq: number, nodes: object) => ({
      seq,
      at: 10,
      kind: 'event',
      event: { type: 'cluster-delta', nodes },
    });
    expect(
      readTraceText([line(header), line(snap), line(delta(2, { n2: { set: { term: 2 } } }))].join('\n')).records,
    ).toHaveLength(2);
    expect(errorOf(() => readTraceText([line(header), line(raft(1, 10)), line(delta(2, {}))].join('\n'))).message).toBe(
      'line 3: a cluster-delta needs a full cluster snapshot before it',
    );
    expect(
      errorOf(() => readTraceText([line(header), line(snap), line(delta(2, { n3: { set: { term: 2 } } }))].join('\n')))
        .message,
    ).toBe('line 3: event.nodes: no node named "n3" in the last cluster snapshot');
  });

  it('reads a v1 file: every snapshot in it a keyframe, it replays as it always did', () => {
    const snap = (seq: number, term: number) => ({
      seq,
      at: 10 + seq,
      kind: 'event',
      event: { type: 'cluster', cluster: cluster(term) },
    });
    const v1 =
      [line({ ...header, version: 1 }), line(snap(1, 1)), line(raft(2, 12)), line(snap(3, 2)), line(raft(4, 14))].join(
        '\n',
      ) + '\n';
    const t = readTraceText(v1);
    expect(t.header).toEqual(header);
    expect(t.records).toEqual([snap(1, 1), raft(2, 12), snap(3, 2), raft(4, 14)]);
    const index = new TraceIndex(t.records);
    expect([index.snapshots, index.keyframes]).toEqual([2, 2]);
    expect(index.stateAt({ seq: 2 }).cluster).toBe(
      (t.records[0] as { event: { cluster: ClusterState } }).event.cluster,
    );
    expect(nth(index.stateAt({ seq: 4 }).cluster!.nodes, 0).term).toBe(2);
    // A delta cannot be in a v1 file: one there is a broken file, said so.
    const bad = [
      line({ ...header, version: 1 }),
      line(snap(1, 1)),
      line({ seq: 2, at: 12, kind: 'event', event: { type: 'cluster-delta' } }),
    ].join('\n');
    expect(errorOf(() => readTraceText(bad)).message).toBe('line 3: a version 1 trace has no cluster-delta events');
  });

  // A made-up v0, as an older release might have written it: no source or settings in the
  // header, and records numbered by their position only (no `seq`).
  const v0 = [
    line({ format: 'raftlab-trace', version: 0, createdAt: 5, nodes: ['n1'] }),
    line({
      at: 10,
      kind: 'event',
      event: { type: 'raft', node: 'n1', at: 10, event: { kind: 'role', role: 'leader', term: 1, lead: 'x' } },
    }),
    line({ at: 11, kind: 'action', id: 'w1', cmd: { type: 'healAll' } }),
  ].join('\n');
  const fromV0: TraceUpgrade = {
    from: 0,
    header: (h) => ({ ...h, source: 'local', settings: { heartbeatMs: 100, electionMs: 1000 } }),
    record: (r, lineNo) => ({ seq: lineNo - 1, ...r }),
  };

  it('upgrades an older version through its upgrade steps', () => {
    const t = readTraceText(v0, { upgrades: [fromV0, ...TRACE_UPGRADES] });
    expect(t.header).toEqual({
      format: 'raftlab-trace',
      version: 3,
      createdAt: 5,
      nodes: ['n1'],
      source: 'local',
      settings: { heartbeatMs: 100, electionMs: 1000 },
    });
    expect(t.records).toEqual([
      {
        seq: 1,
        at: 10,
        kind: 'event',
        event: { type: 'raft', node: 'n1', at: 10, event: { kind: 'role', role: 'leader', term: 1, lead: 'x' } },
      },
      { seq: 2, at: 11, kind: 'action', id: 'w1', cmd: { type: 'healAll' } },
    ]);
  });

  it('refuses an older version it has no upgrade for, and leaves current records alone', () => {
    expect(errorOf(() => readTraceText(v0)).message).toBe(
      'trace version 0 is older than this raftlab reads (3) and no upgrade from version 0 is known',
    );
    // Every step is needed: v0 → v1 alone does not reach v3.
    expect(errorOf(() => readTraceText(v0, { upgrades: [fromV0] })).message).toBe(
      'trace version 0 is older than this raftlab reads (3) and no upgrade from version 1 is known',
    );
    const r = raft(1, 1);
    expect(upgradeRecord(r, TRACE_VERSION, 2)).toBe(r);
  });
});

describe('fork records (version 3)', () => {
  const fork = (seq: number, at: number, f: object) => ({ seq, at, kind: 'fork', ...f });
  const snap = (seq: number, at: number, term: number) => ({
    seq,
    at,
    kind: 'event',
    event: { type: 'cluster', cluster: cluster(term) },
  });
  const f2 = { branch: 2, parent: 1, from: 12, asked: 13, leftAt: 20, left: 1 };
  const f3 = { branch: 3, parent: 1, from: 20, asked: 20, leftAt: 30, left: 2 };

  it('reads forks, and the branch tree and story they make', () => {
    const text = [
      line(header),
      line(snap(1, 10, 1)),
      line(raft(2, 12)),
      line(snap(3, 20, 2)),
      line(fork(4, 21, f2)),
      line(snap(5, 22, 1)),
      line({ seq: 6, at: 25, kind: 'action', id: 'w1', cmd: { type: 'healAll' } }),
      line(fork(7, 31, f3)),
      line(snap(8, 32, 2)),
    ].join('\n');
    const t = readTraceText(text);
    expect(t.records[3]).toEqual(fork(4, 21, f2));
    const index = new TraceIndex(t.records);
    expect(index.branches()).toEqual([
      { id: 1, parent: 0, from: 10, startAt: 10, endAt: 20 },
      { id: 2, parent: 1, from: 12, startAt: 21, endAt: 30 },
      { id: 3, parent: 1, from: 20, startAt: 31 },
    ]);
    expect([
      index.branchAt({ seq: 3 }),
      index.branchAt({ seq: 4 }),
      index.branchAt({ at: 25 }),
      index.branchAt({ seq: 8 }),
    ]).toEqual([1, 2, 2, 3]);
    // The story before a moment: every record but states and messages, however far back.
    expect(index.story(8).map((r) => r.seq)).toEqual([2, 4, 6, 7]);
    expect(index.story(8, 2).map((r) => r.seq)).toEqual([6, 7]);
    expect(entryOfEvent({ type: 'fork', at: 21, fork: f2 })).toEqual({ kind: 'fork', at: 21, ...f2 });
  });

  it('refuses a fork in a version 2 file, and a fork that names no earlier parent', () => {
    const v2 = [line({ ...header, version: 2 }), line(fork(1, 21, f2))].join('\n');
    expect(errorOf(() => readTraceText(v2)).message).toBe('line 2: a version 2 trace has no fork records');
    expect(errorOf(() => parseTraceRecord(line(fork(1, 1, { ...f2, parent: 2 })), 2)).message).toBe(
      'line 2: record.parent must be an earlier branch than record.branch',
    );
    expect(errorOf(() => parseTraceRecord(line(fork(1, 1, { ...f2, from: 'x' })), 2)).message).toBe(
      'line 2: record.from must be a number',
    );
  });
});
