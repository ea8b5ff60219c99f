// The trace schema on its own: headers and records checked line by line, errors that say
// which line and what is wrong, newer versions refused, older ones upgraded.
import { describe, expect, it } from 'vitest';
import {
  TRACE_VERSION, TraceError, entryOfEvent, parseTraceHeader, parseTraceRecord, readTraceText, upgradeRecord,
  type TraceUpgrade,
} from '../../src-shared/trace.js';

const header = { format: 'raftlab-trace', version: 1, createdAt: 1_700_000_000_000, source: 'local', nodes: ['n1', 'n2'], settings: { heartbeatMs: 100, electionMs: 1000 } };
const line = (o: unknown) => JSON.stringify(o);
const raft = (seq: number, at: number) => ({ seq, at, kind: 'event', event: { type: 'raft', node: 'n1', at, event: { kind: 'commit', index: seq, term: 1 } } });

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
  it('reads a v1 header', () => {
    expect(parseTraceHeader(line(header))).toEqual(header);
  });

  it('refuses a newer version, saying which', () => {
    const e = errorOf(() => parseTraceHeader(line({ ...header, version: 3 })));
    expect(e.message).toMatch(/^trace version 3 is newer than this raftlab reads \(1\)/);
  });

  it('refuses what is not a trace, or a header missing a field', () => {
    expect(errorOf(() => parseTraceHeader('{"format":"other"}')).message).toBe('line 1: not a raftlab trace: the header\'s "format" is "other", not "raftlab-trace"');
    expect(errorOf(() => parseTraceHeader('[1,2]')).message).toBe('line 1: the header must be an object');
    const { settings: _s, ...noSettings } = header;
    expect(errorOf(() => parseTraceHeader(line(noSettings))).message).toBe('line 1: header.settings must be an object');
  });
});

describe('trace records', () => {
  it('reads every kind', () => {
    const records = [
      raft(1, 10),
      { seq: 2, at: 11, clocks: { n1: 5011, n2: 11 }, kind: 'event', event: { type: 'message', at: 11, from: 'n1', to: 'n2', msgType: 'MsgHeartbeat', term: 2, commit: 4 } },
      { seq: 3, at: 12, kind: 'event', event: { type: 'log', node: 'n1', at: 12, level: 'I', pkg: 'raft', msg: 'm', line: 'l' } },
      { seq: 4, at: 13, kind: 'event', event: { type: 'error', message: 'n2 exited unexpectedly' } },
      { seq: 5, at: 14, kind: 'action', id: 'w1', cmd: { type: 'killNode', name: 'n1' } },
      { seq: 6, at: 15, kind: 'result', id: 'w1', ok: true },
      { seq: 7, at: 15, kind: 'result', id: 'w2', ok: false, error: 'n1 is not running' },
      { seq: 8, at: 16, kind: 'held', msgId: 4, message: { from: 'n1', to: 'n2', msgType: 'MsgApp', term: 2, index: 3, logTerm: 2, entries: 1, commit: 3 } },
      { seq: 9, at: 17, kind: 'delivered', msgId: 4, message: { from: 'n1', to: 'n2', msgType: 'MsgApp', term: 2 } },
      { seq: 10, at: 18, kind: 'client', node: 'n1', method: 'PUT', path: '/v2/keys/a', status: 201, ms: 3.5 },
      // Seen on an attached cluster: recorded like everything else.
      { seq: 11, at: 19, kind: 'event', event: { type: 'attach', at: 19, event: { type: 'leaderChanged', at: 19, to: 'a1', toName: 'e1', term: 3 } } },
    ];
    records.forEach((r, i) => expect(parseTraceRecord(line(r), i + 2)).toEqual(r));
  });

  it('names the line and the field that is wrong', () => {
    expect(errorOf(() => parseTraceRecord('{"seq":1,', 7)).message).toMatch(/^line 7: not valid JSON \(/);
    expect(errorOf(() => parseTraceRecord(line({ ...raft(1, 1), seq: 0 }), 2)).message).toBe('line 2: record.seq must be a whole number ≥ 1');
    expect(errorOf(() => parseTraceRecord(line({ ...raft(1, 1), kind: 'bogus' }), 3)).message).toMatch(/^line 3: record.kind is "bogus", not one of event, action/);
    const badRaft = { seq: 1, at: 1, kind: 'event', event: { type: 'raft', node: 'n1', at: 1, event: { kind: 'commit', term: 1 } } };
    expect(errorOf(() => parseTraceRecord(line(badRaft), 4)).message).toBe('line 4: event.event.index must be a number');
    const badNode = { seq: 1, at: 1, kind: 'event', event: { type: 'cluster', cluster: { dir: '', generation: 1, cuts: [], nodes: [{ name: 'n1', status: 'zombie' }] } } };
    expect(errorOf(() => parseTraceRecord(line(badNode), 5)).message).toMatch(/^line 5: event.cluster.nodes\[0\].id must be a string/);
    const badCmd = { seq: 1, at: 1, kind: 'action', id: 'w1', cmd: { type: 'startCluster', size: 99 } };
    expect(errorOf(() => parseTraceRecord(line(badCmd), 6)).message).toBe('line 6: record.cmd: startCluster: size must be 1..7');
    const ack = { seq: 1, at: 1, kind: 'event', event: { type: 'ack', id: 'w1' } };
    expect(errorOf(() => parseTraceRecord(line(ack), 8)).line).toBe(8);
  });

  it('keeps an ack and an answered error as results, other events as events', () => {
    expect(entryOfEvent({ type: 'ack', id: 'w1', result: { status: 201, body: {} } })).toEqual({ kind: 'result', id: 'w1', ok: true, result: { status: 201, body: {} } });
    expect(entryOfEvent({ type: 'error', id: 'w2', message: 'no' })).toEqual({ kind: 'result', id: 'w2', ok: false, error: 'no' });
    expect(entryOfEvent({ type: 'error', message: 'n1 exited' })).toEqual({ kind: 'event', event: { type: 'error', message: 'n1 exited' } });
  });

  it("records step mode's message fates as held / delivered / dropped records that read back", () => {
    const message = { id: 7, from: 'n2', to: 'n1', msgType: 'MsgVote' as const, term: 3, index: 5, logTerm: 2, candidate: { lastIndex: 5, lastTerm: 2 } };
    const dropped = entryOfEvent({ type: 'step', fate: 'dropped', message, at: 40, reason: 'cut' });
    expect(dropped).toEqual({ kind: 'dropped', at: 40, msgId: 7, message: { from: 'n2', to: 'n1', msgType: 'MsgVote', term: 3, index: 5, logTerm: 2, candidate: { lastIndex: 5, lastTerm: 2 } }, reason: 'cut' });
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
    expect(errorOf(() => readTraceText(gap)).message).toBe('line 4: seq 3 where 2 was expected (records are numbered 1, 2, 3… without gaps)');
    const back = [line(header), line(raft(1, 10)), line(raft(2, 9))].join('\n');
    expect(errorOf(() => readTraceText(back)).message).toBe("line 3: at 9 is earlier than the previous record's 10");
    expect(errorOf(() => readTraceText('')).message).toBe('line 1: empty: a trace starts with its header');
  });

  it('refuses a newer version before reading any record', () => {
    const newer = [line({ ...header, version: TRACE_VERSION + 2, nodes: 'whatever' }), '{"a new shape":true}'].join('\n');
    expect(errorOf(() => readTraceText(newer)).message).toMatch(/^trace version 3 is newer than this raftlab reads \(1\)/);
  });

  // A made-up v0, as an older release might have written it: no source or settings in the
  // header, and records numbered by their position only (no `seq`).
  const v0 = [
    line({ format: 'raftlab-trace', version: 0, createdAt: 5, nodes: ['n1'] }),
    line({ at: 10, kind: 'event', event: { type: 'raft', node: 'n1', at: 10, event: { kind: 'role', role: 'leader', term: 1, lead: 'x' } } }),
    line({ at: 11, kind: 'action', id: 'w1', cmd: { type: 'healAll' } }),
  ].join('\n');
  const fromV0: TraceUpgrade = {
    from: 0,
    header: (h) => ({ ...h, source: 'local', settings: { heartbeatMs: 100, electionMs: 1000 } }),
    record: (r, lineNo) => ({ seq: lineNo - 1, ...r }),
  };

  it('upgrades an older version through its upgrade steps', () => {
    const t = readTraceText(v0, { upgrades: [fromV0] });
    expect(t.header).toEqual({ format: 'raftlab-trace', version: 1, createdAt: 5, nodes: ['n1'], source: 'local', settings: { heartbeatMs: 100, electionMs: 1000 } });
    expect(t.records).toEqual([
      { seq: 1, at: 10, kind: 'event', event: { type: 'raft', node: 'n1', at: 10, event: { kind: 'role', role: 'leader', term: 1, lead: 'x' } } },
      { seq: 2, at: 11, kind: 'action', id: 'w1', cmd: { type: 'healAll' } },
    ]);
  });

  it('refuses an older version it has no upgrade for, and leaves current records alone', () => {
    expect(errorOf(() => readTraceText(v0)).message).toBe('trace version 0 is older than this raftlab reads (1) and no upgrade from version 0 is known');
    const r = raft(1, 1);
    expect(upgradeRecord(r, TRACE_VERSION, 2)).toBe(r);
  });
});
