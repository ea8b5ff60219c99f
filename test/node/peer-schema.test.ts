// The peer message schema (src-shared/raft-types.ts MessageSchema) and its compiled fast path
// (src-shared/schema.ts fastGuard): what a hostile peer sends is refused with a clear text over
// the real peer port, and the fast path never passes what the schema would refuse or change.

import { isDeepStrictEqual } from 'node:util';
import * as v from 'valibot';
import { afterEach, describe, expect, it } from 'vitest';
import { PeerTransport } from '../../src-main/node/peer-transport.js';
import { MAX_TERM_OR_INDEX, MessageSchema, type Message } from '../../src-shared/raft-types.js';
import { fastGuard } from '../../src-shared/schema.js';
import { mutations } from '../helpers/mutations.js';

const A = '8e9e05c52164694d';
const B = '91bc3c398fb3c146';
const CID = 'cdf818194e3a8c32';

const app: Message = {
  type: 'MsgApp',
  from: A,
  to: B,
  term: 7,
  index: 3,
  logTerm: 6,
  commit: 3,
  reject: false,
  rejectHint: 0,
  context: 'c',
  id: 9,
  entries: [
    { index: 4, term: 7, type: 'normal', data: 'x' },
    { index: 5, term: 7, type: 'conf', data: '{}' },
  ],
};
const snap: Message = {
  type: 'MsgSnap',
  from: A,
  to: B,
  term: 7,
  snapshot: { meta: { index: 10, term: 6, conf: { voters: [A, B] } }, data: '{}' },
};

const ODD: unknown[] = [
  undefined,
  null,
  -1,
  1.5,
  2 ** 52,
  2 ** 52 + 1,
  2 ** 53,
  1e300,
  '7',
  '',
  'x',
  true,
  [],
  {},
  [1],
  { a: 1 },
];

describe('the peer message schema', () => {
  const guard = fastGuard(v.array(MessageSchema));

  it('passes sound messages on the fast path', () => {
    expect(guard([app, snap, { type: 'MsgHeartbeat', from: A, to: B, term: 0 }])).toBe(true);
  });

  it('never lets the fast path pass what the schema refuses or would change', () => {
    let refused = 0;
    let fast = 0;
    const all = [...mutations(app, ODD), ...mutations(snap, ODD)];
    for (const m of all) {
      const slow = v.safeParse(MessageSchema, m);
      if (!slow.success) refused++;
      if (guard([m])) {
        fast++;
        expect(slow.success, JSON.stringify(m)).toBe(true);
        expect(isDeepStrictEqual(slow.output, m), JSON.stringify(m)).toBe(true);
      }
    }
    // The corpus really probes both sides.
    expect(all.length).toBeGreaterThan(500);
    expect(refused).toBeGreaterThan(300);
    expect(fast).toBeGreaterThan(20);
  });

  it('bounds indexes at 2^52 and refuses what a JS number cannot count exactly', () => {
    expect(v.safeParse(MessageSchema, { ...app, index: MAX_TERM_OR_INDEX }).success).toBe(true);
    expect(v.safeParse(MessageSchema, { ...app, index: MAX_TERM_OR_INDEX + 1 }).success).toBe(false);
    expect(v.safeParse(MessageSchema, { ...app, term: 2 ** 53 }).success).toBe(false);
    // Unknown fields are dropped, not handed to Raft.
    const out = v.parse(MessageSchema, { ...app, extra: 'x' });
    expect('extra' in out).toBe(false);
  });
});

describe('a hostile batch over the real peer port', () => {
  let t: PeerTransport | undefined;
  afterEach(async () => {
    await t?.stop();
    t = undefined;
  });

  it('is answered 400 naming what is wrong, and nothing reaches Raft', async () => {
    const got: Message[] = [];
    t = new PeerTransport({
      memberId: B,
      clusterId: CID,
      listenURLs: ['http://127.0.0.1:0'],
      clock: () => Date.now(),
      log: () => {},
      onMessages: (m) => got.push(...m),
      peerURLs: (id) => (id === A ? ['http://127.0.0.1:1'] : undefined),
      isRemoved: () => false,
      onRemovedFromCluster: () => {},
      probeIntervalMs: 60_000,
    });
    await t.start();
    const post = async (body: unknown) => {
      const res = await fetch(`${t!.boundURLs()[0]}/raft`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', 'X-Etcd-Cluster-ID': CID, 'X-Server-From': A, 'X-Raft-To': B },
        body: typeof body === 'string' ? body : JSON.stringify(body),
      });
      return `${res.status} ${(await res.text()).trim()}`;
    };
    const bad = (why: string) => `400 error reading raft message (${why})`;
    expect(await post('{"type":"MsgApp"}')).toBe(bad('body is not a JSON array'));
    expect(await post([7])).toBe(bad('message is not an object'));
    expect(await post([{ ...app, type: 'MsgFormatDisk' }])).toBe(bad('unknown message type MsgFormatDisk'));
    expect(await post([{ ...app, from: undefined }])).toBe(bad('message without from'));
    expect(await post([{ ...app, term: -1 }])).toBe(bad('bad term'));
    expect(await post([{ ...app, term: 1e300 }])).toBe(bad('bad term'));
    expect(await post([{ ...app, term: 2 ** 53 - 1 }])).toBe(
      bad(`bad term: ${2 ** 53 - 1} is beyond ${2 ** 52 + 2 ** 16}`),
    );
    expect(await post([{ ...app, commit: 2 ** 52 + 1 }])).toBe(bad('bad commit'));
    expect(await post([{ ...app, entries: [{ index: 4, term: 8, type: 'normal', data: '' }] }])).toBe(bad('bad entry'));
    expect(await post([{ ...app, entries: [{ index: 4, term: 7, type: 'weird', data: '' }] }])).toBe(bad('bad entry'));
    expect(await post([{ ...snap, snapshot: { meta: { index: 1, term: 1, conf: { voters: [1] } }, data: '' } }])).toBe(
      bad('bad snapshot'),
    );
    expect(await post([app, { ...app, to: 'ffff' }])).toBe(bad(`message to ffff, not to ${B}`));
    expect(got).toEqual([]);
    // A sound batch, with a field a newer peer might add: delivered, the unknown field dropped.
    expect(await post([{ ...app, extra: 1 }])).toBe('204 ');
    expect(got).toEqual([app]);
  });
});
