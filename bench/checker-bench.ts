// The linearizability checker on a realistic history: 10 000 operations on 5 keys from 8
// concurrent clients (reads, writes, compare-and-swaps; 3 % unknown outcomes, 2 % failures),
// then the same history with one read made stale, which it must find and shrink.
import { checkLinearizability } from '../src-main/check/linearizability.js';
import { randomHistory } from '../src-main/check/random-history.js';
import type { Op, ReadOp } from '../src-shared/history.js';

export async function runCheckerBench(): Promise<void> {
  const print = (line: string) => console.log(line);
  const ops = randomHistory({ seed: 42, ops: 10_000, keys: 5, clients: 8, unknownRate: 0.03, failRate: 0.02 });
  const unknown = ops.filter((o) => o.outcome === 'unknown').length;
  const times: number[] = [];
  let steps = 0;
  for (let run = 0; run < 5; run++) {
    const res = checkLinearizability(ops);
    if (res.verdict !== 'ok') throw new Error(`checker bench: a linearizable history was judged ${res.verdict}`);
    times.push(res.ms);
    steps = res.steps;
  }
  times.sort((a, b) => a - b);
  print(
    `linearizability checker: ${ops.length} ops on 5 keys, 8 clients, ${unknown} unknown outcomes: ` +
      `${times[2]!.toFixed(0)} ms median of 5 (best ${times[0]!.toFixed(0)} ms, ${steps} search steps)`, // five runs timed
  );

  // One stale read: a read that returns the value before a write completed before it began.
  const stale = makeStale(ops);
  const res = checkLinearizability(ops);
  if (res.verdict !== 'violation') throw new Error('checker bench: the stale read was not found');
  print(
    `linearizability checker, one stale read among ${ops.length} ops: found and shrunk to ${res.violations[0]?.ops.length} ops ` +
      `in ${res.ms.toFixed(0)} ms (${stale.key})`,
  );
}

function makeStale(ops: Op[]): ReadOp {
  const done = (o: Op) => o.outcome === 'ok' && (o.type === 'write' || (o.type === 'cas' && o.succeeded === true));
  for (const r of ops) {
    if (r.type !== 'read' || r.outcome !== 'ok' || r.invoke < 1000) continue;
    const before = ops
      .filter((w) => w.key === r.key && done(w) && w.complete! < r.invoke)
      .sort((a, b) => b.complete! - a.complete!);
    const newer = before[0];
    if (!newer) continue;
    const older = before.find((w) => w.complete! < newer.invoke && w.type !== 'read' && w.value !== r.value);
    if (older && older.type !== 'read') {
      r.value = older.value;
      return r;
    }
  }
  throw new Error('checker bench: no read to make stale');
}
