// Where one client's write spends its time: a 3-member raftlab cluster whose members record the
// write path's stages (src-main/util/stages.ts, RAFTLAB_STAGES), one client writing v2 PUTs to
// the leader in a closed loop, then, from the leader's record, each write cut into its stages:
// p50, p90, p99 and mean of each, and the means over the slowest tenth of the writes.
import fs from 'node:fs';
import path from 'node:path';
import { Cluster, percentile } from './cluster-bench.js';

// Members start cold (V8 compiles in tiers, sizes its young generation as it goes): the warm-up's
// writes are left out of the figures (see cluster-bench.ts's WARMUP_MS).
const WARMUP_MS = Number(process.env.WRITE_LATENCY_WARMUP_MS ?? 20_000);
const RUN_MS = Number(process.env.WRITE_LATENCY_MS ?? 8000);

/** The leader's stages of one write, in order; each segment ends at the next. */
const SEGMENTS = [
  ['HTTP in → proposed', 'http-in', 'proposed'],
  ['proposed → Ready', 'proposed', 'ready'],
  ['Ready → appends on the wire', 'ready', 'sent-early'],
  ['→ its own write + fdatasync done', 'sent-early', 'persisted'],
  ['→ committed and applied (a follower acked)', 'persisted', 'settled'],
  ['→ answer written', 'settled', 'http-out'],
] as const;

interface Stage {
  at: number;
  name: string;
  detail: string;
}

function readStages(file: string): Stage[] {
  return fs
    .readFileSync(file, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((line) => {
      const [at = '0', name = '', ...rest] = line.split(' ');
      return { at: Number(at), name, detail: rest.join(' ') };
    });
}

/**
 * Each PUT's segment durations (ms), from its http-in to its http-out, in the leader's record:
 * the PUTs that came in from `from` on (wall-clock ms, as stages record them).
 */
function writesOf(stages: Stage[], from: number): number[][] {
  const out: number[][] = [];
  for (let i = 0; i < stages.length; i++) {
    const s = stages[i]!;
    if (s.name !== 'http-in' || !s.detail.startsWith('PUT') || s.at < from) continue;
    const times: number[] = [s.at];
    let j = i + 1;
    for (const [, , end] of SEGMENTS) {
      // The Ready of this write is the one that carries its entry.
      while (j < stages.length && stages[j]!.name !== 'http-in') {
        const e = stages[j]!;
        j++;
        if (e.name === end && (end !== 'ready' || /^e=[1-9]/.test(e.detail))) {
          times.push(e.at);
          break;
        }
      }
    }
    if (times.length === SEGMENTS.length + 1) out.push(times.slice(1).map((t, k) => t - times[k]!));
    i = j - 1;
  }
  return out;
}

const pct = (xs: number[], p: number) =>
  percentile(
    [...xs].sort((a, b) => a - b),
    p,
  );
const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
const ms = (n: number) => n.toFixed(2).padStart(6);

export async function benchWriteLatency(print: (line: string) => void): Promise<void> {
  const cluster = await Cluster.create('raftlab');
  const stagesFile = (name: string) => path.join(cluster.dir, `stages-${name}`);
  cluster.envFor = (name) => ({ RAFTLAB_STAGES: stagesFile(name) });
  try {
    cluster.startAll();
    const leader = await cluster.leader();
    const url = `${cluster.member(leader).clientURL}/v2/keys/latency`;
    const put = async () => {
      const r = await fetch(url, { method: 'PUT', body: new URLSearchParams({ value: 'v'.repeat(100) }) });
      await r.arrayBuffer();
      if (r.status !== 200 && r.status !== 201) throw new Error(`PUT answered ${r.status}`);
    };
    let warmUpWrites = 0;
    for (const end = Date.now() + WARMUP_MS; Date.now() < end; warmUpWrites++) await put();
    const measuredFrom = performance.timeOrigin + performance.now();
    for (const end = Date.now() + RUN_MS; Date.now() < end;) await put();
    // Stopped as Ctrl-C stops them: each writes its record on the way out.
    await Promise.all(cluster.names.map((n) => cluster.stop(n)));
    const rows = writesOf(readStages(stagesFile(leader)), measuredFrom);
    if (rows.length === 0) throw new Error('the leader recorded no complete write after the warm-up');
    const totals = rows.map((r) => r.reduce((a, b) => a + b, 0));
    const slowest = rows.filter((_, k) => totals[k]! >= pct(totals, 90));
    print(
      `write-latency: 1 client, v2 PUT to the leader, ${rows.length} writes after ${warmUpWrites} of warm-up (${WARMUP_MS / 1000} s), ms:`,
    );
    print(`write-latency: ${'stage'.padEnd(44)}    p50    p90    p99   mean  mean of slowest 10%`);
    const line = (label: string, xs: number[], slow: number[]) =>
      print(
        `write-latency: ${label.padEnd(44)} ${ms(pct(xs, 50))} ${ms(pct(xs, 90))} ${ms(pct(xs, 99))} ${ms(mean(xs))} ${ms(mean(slow))}`,
      );
    SEGMENTS.forEach(([label], k) =>
      line(
        label,
        rows.map((r) => r[k]!),
        slowest.map((r) => r[k]!),
      ),
    );
    line(
      'total (leader: HTTP in → answer written)',
      totals,
      slowest.map((r) => r.reduce((a, b) => a + b, 0)),
    );
  } finally {
    await cluster.destroy();
  }
}
