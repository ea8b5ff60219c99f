// The peer path's message check: every message a peer sends is parsed and checked before Raft
// sees it (src-main/node/peer/codec.ts). Figures for 100k typical MsgApp messages (one 100-byte
// entry each, in batches of 64 as a busy leader's stream frames carry them) and 100k heartbeats.
import * as v from 'valibot';
import { parseMessages } from '../src-main/node/peer-transport.js';
import { MessageSchema, type Message } from '../src-shared/raft-types.js';

const A = '8e9e05c52164694d';
const B = '91bc3c398fb3c146';
const N = 100_000;
const BATCH = 64;

function batches(make: (i: number) => Message): string[] {
  const out: string[] = [];
  for (let i = 0; i < N; i += BATCH) {
    const ms: Message[] = [];
    for (let j = i; j < Math.min(N, i + BATCH); j++) ms.push(make(j));
    out.push(JSON.stringify(ms));
  }
  return out;
}

const batchSchema = v.array(MessageSchema);

function time(texts: string[]): { parseMs: number; totalMs: number; schemaMs: number } {
  const run = (f: (t: string) => unknown) => {
    let best = Infinity;
    for (let round = 0; round < 5; round++) {
      const t0 = performance.now();
      for (const t of texts) f(t);
      best = Math.min(best, performance.now() - t0);
    }
    return best;
  };
  return {
    parseMs: run((t) => JSON.parse(t)),
    totalMs: run((t) => parseMessages(t, B, A)),
    // What the check would cost without the compiled fast path: valibot walking the schema.
    schemaMs: run((t) => v.parse(batchSchema, JSON.parse(t))),
  };
}

export async function benchPeer(print: (line: string) => void): Promise<void> {
  const data = 'x'.repeat(100);
  const cases: [string, string[]][] = [
    [
      'MsgApp (1 entry of 100 B)',
      batches((i) => ({
        type: 'MsgApp',
        from: A,
        to: B,
        term: 7,
        index: i,
        logTerm: 7,
        commit: i,
        entries: [{ index: i + 1, term: 7, type: 'normal', data }],
      })),
    ],
    ['MsgHeartbeat', batches(() => ({ type: 'MsgHeartbeat', from: A, to: B, term: 7, commit: 1000, context: 'r1' }))],
  ];
  for (const [what, texts] of cases) {
    const { parseMs, totalMs, schemaMs } = time(texts);
    const ns = (ms: number) => `${(((ms - parseMs) * 1e6) / N).toFixed(0)} ns/message`;
    print(
      `peer check, 100k ${what}: JSON.parse ${parseMs.toFixed(1)} ms; parseMessages ${totalMs.toFixed(1)} ms ` +
        `(check ${ns(totalMs)}); valibot alone ${schemaMs.toFixed(1)} ms (${ns(schemaMs)})`,
    );
  }
}
