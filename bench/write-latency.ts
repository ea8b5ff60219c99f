// Where one client's write spends its time: a 3-member raftlab cluster whose members record the
// write path's stages (src-main/util/stages.ts, RAFTLAB_STAGES), one client writing v2 PUTs to
// the leader in a closed loop, then each write cut into its stages: on the leader, and along
// the path of its append through the follower whose ack left first (a write commits when the
// leader's own fdatasync and that ack are both in). p50, p90, p99 and mean of each, and the
// means over the slowest tenth of the writes.
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
  ['→ its own entry written (SQLite transaction)', 'sent-early', 'written'],
  ['→ its fdatasync done', 'written', 'persisted'],
  ['→ committed and applied (a follower acked)', 'persisted', 'settled'],
  ['→ answer written', 'settled', 'http-out'],
] as const;

/** Where a write's stage times (writesOf) have its Ready. */
const READY = 1 + SEGMENTS.findIndex(([, , end]) => end === 'ready');

/** The same write's append at the follower that acked first, from the leader's Ready. */
const FOLLOWER_SEGMENTS = [
  'leader Ready → the follower reads the append',
  '→ its Ready',
  '→ its entry written (SQLite transaction)',
  '→ its fdatasync done',
  '→ its ack on the wire',
  '→ the leader reads the ack',
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

/** A Ready that carries entries (its detail starts e=<count>). */
const withEntries = (s: Stage) => s.name === 'ready' && /^e=[1-9]/.test(s.detail);

/**
 * Each PUT's stage times (wall-clock ms), from its http-in to its http-out, in the leader's
 * record: the PUTs that came in from `from` on (wall-clock ms, as stages record them).
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
        if (e.name === end && (end !== 'ready' || withEntries(e))) {
          times.push(e.at);
          break;
        }
      }
    }
    if (times.length === SEGMENTS.length + 1) out.push(times);
    i = j - 1;
  }
  return out;
}

/** The first stage at or after `at` that `is`, in a record (stages are in time order). */
function firstFrom(stages: Stage[], at: number, is: (s: Stage) => boolean): Stage | undefined {
  let lo = 0;
  let hi = stages.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (stages[mid]!.at < at) lo = mid + 1;
    else hi = mid;
  }
  for (let i = lo; i < stages.length; i++) if (is(stages[i]!)) return stages[i];
  return undefined;
}

/**
 * The stage times of a write's append at the follower whose ack left first, from the leader's
 * Ready (`readyAt`) to the leader reading an ack: undefined when a record misses a stage.
 */
function followerPath(leader: Stage[], followers: Stage[][], readyAt: number): number[] | undefined {
  let first: number[] | undefined;
  for (const f of followers) {
    const appendIn = firstFrom(f, readyAt, (s) => s.name === 'frame-in' && s.detail.includes('MsgApp['));
    // An append read long after is another write's: this follower missed this one's stages.
    if (!appendIn || appendIn.at - readyAt > 100) continue;
    const ready = firstFrom(f, appendIn.at, withEntries);
    const written = ready && firstFrom(f, ready.at, (s) => s.name === 'written');
    const persisted = written && firstFrom(f, written.at, (s) => s.name === 'persisted');
    const ackOut =
      persisted && firstFrom(f, persisted.at, (s) => s.name === 'frame-out' && s.detail.includes('MsgAppResp'));
    if (!ackOut) continue;
    if (!first || ackOut.at < first.at(-1)!)
      first = [readyAt, appendIn.at, ready.at, written.at, persisted.at, ackOut.at];
  }
  if (!first) return undefined;
  const ackIn = firstFrom(leader, first.at(-1)!, (s) => s.name === 'frame-in' && s.detail.includes('MsgAppResp'));
  return ackIn ? [...first, ackIn.at] : undefined;
}

/** Times → the durations between them. */
const spans = (times: number[]) => times.slice(1).map((t, k) => t - times[k]!);

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
    const leaderStages = readStages(stagesFile(leader));
    const followerStages = cluster.names.filter((n) => n !== leader).map((n) => readStages(stagesFile(n)));
    const writes = writesOf(leaderStages, measuredFrom);
    if (writes.length === 0) throw new Error('the leader recorded no complete write after the warm-up');
    const rows = writes.map(spans);
    const totals = rows.map((r) => r.reduce((a, b) => a + b, 0));
    const slowFrom = pct(totals, 90);
    const isSlow = (k: number) => totals[k]! >= slowFrom;
    print(
      `write-latency: 1 client, v2 PUT to the leader, ${rows.length} writes after ${warmUpWrites} of warm-up (${WARMUP_MS / 1000} s), ms:`,
    );
    const header = (title: string) =>
      print(`write-latency: ${title.padEnd(50)}    p50    p90    p99   mean  mean of slowest 10%`);
    const line = (label: string, xs: number[], slow: number[]) =>
      print(
        `write-latency: ${label.padEnd(50)} ${ms(pct(xs, 50))} ${ms(pct(xs, 90))} ${ms(pct(xs, 99))} ${ms(mean(xs))} ${ms(mean(slow))}`,
      );
    const table = (labels: readonly string[], segs: number[][], slow: (k: number) => boolean) =>
      labels.forEach((label, i) =>
        line(
          label,
          segs.map((r) => r[i]!),
          segs.filter((_, k) => slow(k)).map((r) => r[i]!),
        ),
      );
    header('the leader');
    table(
      SEGMENTS.map(([label]) => label),
      rows,
      isSlow,
    );
    line(
      'total (leader: HTTP in → answer written)',
      totals,
      totals.filter((_, k) => isSlow(k)),
    );
    // The write's slowest tenth is the leader's: the same writes in both tables.
    const viaFollower = writes.flatMap((w, k) => {
      const path = followerPath(leaderStages, followerStages, w[READY]!);
      return path ? [{ segs: spans(path), slow: isSlow(k) }] : [];
    });
    header(`the follower that acked first (${viaFollower.length} of these writes)`);
    table(
      FOLLOWER_SEGMENTS,
      viaFollower.map((w) => w.segs),
      (k) => viaFollower[k]!.slow,
    );
    line(
      'total (leader Ready → it reads the ack)',
      viaFollower.map((w) => w.segs.reduce((a, b) => a + b, 0)),
      viaFollower.filter((w) => w.slow).map((w) => w.segs.reduce((a, b) => a + b, 0)),
    );
  } finally {
    await cluster.destroy();
  }
}
