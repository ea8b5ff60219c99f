// The trace's schemas (src-shared/trace-schema.ts) and their compiled fast path (schema.ts
// fastGuard): the guard never passes a record the schema refuses, every sound record passes on
// it, and the texts name the field as the reader always has (those trace-format.test.ts does not
// pin already; each was taken from the hand-written checker these schemas replaced).

import * as v from 'valibot';
import { describe, expect, it } from 'vitest';
import { fastGuard } from '../../src-shared/schema.js';
import { mutations } from '../helpers/mutations.js';
import { nodeState } from '../helpers/node-state.js';
import { TraceRecordSchema } from '../../src-shared/trace-schema.js';
import { parseTraceHeader, parseTraceRecord, TraceError } from '../../src-shared/trace.js';

/** A leader with a log entry and a peer (the fixture's lists are empty: each is walked here). */
const node = (name: string) =>
  nodeState(name, {
    role: 'leader',
    term: 2,
    vote: name,
    lead: name,
    commit: 2,
    applied: 2,
    lastIndex: 2,
    log: [{ index: 1, term: 1, type: 'normal', data: 'no-op' }],
    peers: [{ id: 'x', active: true }],
  });
const base = { seq: 1, at: 10, clocks: { n1: 5010 } };
/** One sound record of every kind and every event type, with optional fields set. */
const SOUND: Record<string, unknown>[] = [
  {
    ...base,
    kind: 'event',
    event: {
      type: 'raft',
      node: 'n1',
      at: 10,
      event: { kind: 'vote-result', term: 2, pre: false, from: 'n2', granted: true, votes: 2, needed: 2 },
    },
  },
  {
    ...base,
    kind: 'event',
    event: {
      type: 'message',
      at: 10,
      id: 4,
      from: 'n1',
      to: 'n2',
      msgType: 'MsgApp',
      term: 2,
      index: 1,
      logTerm: 1,
      entries: 1,
      commit: 1,
      snapshot: 0,
    },
  },
  { ...base, kind: 'event', event: { type: 'delivered', id: 4, from: 'n1', to: 'n2', at: 10 } },
  { ...base, kind: 'event', event: { type: 'lost', id: 4, from: 'n1', to: 'n2', at: 10, reason: 'cut' } },
  { ...base, kind: 'event', event: { type: 'log', node: 'n1', at: 10, level: 'I', pkg: 'raft', msg: 'm', line: 'l' } },
  { ...base, kind: 'event', event: { type: 'error', id: 'w1', message: 'm' } },
  { ...base, kind: 'event', event: { type: 'attach', at: 10, event: { type: 'termBumped', at: 10, from: 1, to: 2 } } },
  {
    ...base,
    kind: 'event',
    event: {
      type: 'cluster',
      cluster: {
        dir: '/s',
        generation: -2,
        nodes: [node('n1'), { ...node('n2'), learner: true }],
        cuts: [{ a: 'n1', b: 'n2' }],
      },
    },
  },
  {
    ...base,
    kind: 'event',
    event: {
      type: 'cluster-delta',
      set: { dir: '/t', generation: 3, cuts: [] },
      unset: ['step'],
      nodes: {
        n1: {
          set: { term: 3, status: 'killed', role: 'follower', clock: {}, learner: false },
          unset: ['timer', 'learner'],
          log: { drop: 1, keep: 0, add: [{ index: 2, term: 3, data: 'x' }] },
        },
        n2: { log: [] },
      },
    },
  },
  {
    ...base,
    kind: 'action',
    id: 'w1',
    cmd: { type: 'kv', method: 'PUT', key: '/a', name: 'n1', value: 'x', query: { prevExist: 'false' } },
  },
  { ...base, kind: 'result', id: 'w1', ok: true, result: { status: 201 } },
  { ...base, kind: 'result', id: 'w1', ok: false, error: 'e' },
  {
    ...base,
    kind: 'held',
    msgId: 3,
    message: { from: 'n1', to: 'n2', msgType: 'MsgVote', term: 2, index: 1, logTerm: 1 },
  },
  {
    ...base,
    kind: 'dropped',
    msgId: 3,
    message: { from: 'n1', to: 'n2', msgType: 'MsgVote', term: 2 },
    reason: 'user',
  },
  { ...base, kind: 'client', node: 'n1', method: 'GET', path: '/v2/keys/a', status: 0, ms: 1.5, error: 'refused' },
  { ...base, kind: 'fork', branch: 2, parent: 1, left: 1, from: 5, asked: 6, leftAt: 7 },
];

const ODD: unknown[] = [undefined, null, -1, 1.5, Infinity, 'x', 'zombie', 'ack', true, [], {}, [1], { a: 1 }];

describe('the trace record schema', () => {
  const guard = fastGuard(TraceRecordSchema);

  it('passes every sound record on the fast path', () => {
    for (const r of SOUND) {
      expect(guard(r), JSON.stringify(r)).toBe(true);
      expect(v.safeParse(TraceRecordSchema, r).success).toBe(true);
    }
  });

  it('never lets the fast path pass what the schema refuses', () => {
    let refused = 0;
    let fast = 0;
    const all = SOUND.flatMap((r) => mutations(r, ODD));
    for (const m of all) {
      const slow = v.safeParse(TraceRecordSchema, m, { abortEarly: true });
      if (!slow.success) refused++;
      if (guard(m)) {
        fast++;
        expect(slow.success, JSON.stringify(m)).toBe(true);
      }
    }
    // The corpus really probes both sides.
    expect(all.length).toBeGreaterThan(3000);
    expect(refused).toBeGreaterThan(2000);
    expect(fast).toBeGreaterThan(300);
  });

  it('names the field that is wrong as the reader always has', () => {
    const cases: [string, string][] = [
      [
        '{"seq":1,"at":1,"clocks":{"n1":"5"},"kind":"event","event":{"type":"error","message":"m"}}',
        'record.clocks.n1 must be a number',
      ],
      ['{"seq":1,"at":1e999,"kind":"event","event":{"type":"error","message":"m"}}', 'record.at must be a number'],
      [
        '{"seq":1,"at":1,"kind":"event","event":{"type":"ack","id":"w1"}}',
        'an ack belongs in a "result" record, not an "event"',
      ],
      [
        '{"seq":1,"at":1,"kind":"event","event":{"type":"client"}}',
        'event.type is "client", not one of cluster, cluster-delta, raft, message, delivered, lost, log, error, attach, watch',
      ],
      ['{"seq":1,"at":1,"kind":"result","id":"w1","ok":false}', 'record.error must be a string'],
      ['{"seq":1,"at":1,"kind":"result","id":"w1","ok":"yes"}', 'record.ok must be true or false'],
      [
        '{"seq":1,"at":1,"kind":"event","event":{"type":"cluster","cluster":{"dir":"/s","generation":1,"nodes":[[]],"cuts":[]}}}',
        'event.cluster.nodes[0] must be an object',
      ],
      // The cluster's own fields before its nodes'.
      [
        '{"seq":1,"at":1,"kind":"event","event":{"type":"cluster","cluster":{"dir":"/s","generation":1,"nodes":[{}],"cuts":{}}}}',
        'event.cluster.cuts must be an array',
      ],
      [
        '{"seq":1,"at":1,"kind":"event","event":{"type":"raft","node":"n1","at":1,"event":{"kind":"bogus"}}}',
        'event.event.kind is "bogus", not one of role, term, election-timeout, vote, vote-result, append, truncate, commit, apply, conf, snapshot-created, snapshot-sent, snapshot-installed, check-quorum-lost, transfer-start, transfer-abort, removed',
      ],
      [
        '{"seq":1,"at":1,"kind":"held","msgId":1,"message":{"from":"a","to":"b","msgType":"MsgGossip","term":1}}',
        'record.message.msgType is "MsgGossip", not one of MsgPreVote, MsgPreVoteResp, MsgVote, MsgVoteResp, MsgApp, MsgAppResp, MsgHeartbeat, MsgHeartbeatResp, MsgSnap, MsgProp, MsgTimeoutNow, MsgReadIndex, MsgReadIndexResp',
      ],
      [
        '{"seq":1,"at":1,"kind":"event","event":{"type":"cluster-delta","nodes":{"n1":{"set":{"log":[]}}}}}',
        'event.nodes.n1.set: a node\'s log does not change through "set"',
      ],
      [
        '{"seq":1,"at":1,"kind":"event","event":{"type":"cluster-delta","unset":[3]}}',
        'event.unset[0] must be a field name',
      ],
      [
        '{"seq":1,"at":1,"kind":"event","event":{"type":"cluster-delta","nodes":{"n1":{"log":"x"}}}}',
        'event.nodes.n1.log must be an object',
      ],
      [
        '{"seq":1,"at":1,"kind":"event","event":{"type":"cluster-delta","set":{"generation":1.5}}}',
        'event.set.generation must be a whole number ≥ -9007199254740991',
      ],
      ['{"seq":1,"at":1,"kind":"action","id":"w1"}', 'record.cmd: command must be an object'],
      [
        '{"seq":1,"at":1,"kind":"event","event":{"type":"attach","at":1,"event":{"type":"x"}}}',
        'event.event.at must be a number',
      ],
      // Node names that are also names of Object.prototype's fields are node names like any other.
      [
        '{"seq":1,"at":1,"kind":"event","event":{"type":"cluster-delta","nodes":{"__proto__":{"set":{"term":-1}}}}}',
        'event.nodes.__proto__.set.term must be a whole number ≥ 0',
      ],
      [
        '{"seq":1,"at":1,"kind":"event","event":{"type":"cluster-delta","nodes":{"constructor":{"set":{"status":"x"}}}}}',
        'event.nodes.constructor.set.status is "x", not one of unstarted, starting, alive, killed, removed, unreachable',
      ],
    ];
    for (const [line, text] of cases) {
      let err: unknown;
      try {
        parseTraceRecord(line, 2);
      } catch (e) {
        err = e;
      }
      expect(err, line).toBeInstanceOf(TraceError);
      expect((err as TraceError).message).toBe(`line 2: ${text}`);
    }
    expect(() =>
      parseTraceHeader(
        '{"format":"raftlab-trace","version":3,"createdAt":1,"source":"local","nodes":[1],"settings":{}}',
      ),
    ).toThrow(/^line 1: header.nodes\[0\] must be a node name$/);
  });

  it("keeps a record as written: fields named like Object.prototype's too; an action's command as the window would get it", () => {
    const delta =
      '{"seq":1,"at":1,"kind":"event","event":{"type":"cluster-delta","nodes":{"__proto__":{"set":{"term":2}}},"__proto__":{"x":1}}}';
    const r = parseTraceRecord(delta, 2);
    expect(JSON.stringify(r)).toBe(delta);
    expect(Object.getPrototypeOf(r)).toBe(Object.prototype);
    const action = parseTraceRecord(
      '{"seq":1,"at":1,"kind":"action","id":"w1","cmd":{"type":"killNode","name":"n1","extra":1},"later":2}',
      2,
    );
    expect(action).toEqual({
      seq: 1,
      at: 1,
      kind: 'action',
      id: 'w1',
      cmd: { type: 'killNode', name: 'n1' },
      later: 2,
    });
  });
});
