// Checkpoints and forks on a real cluster (worker threads, SQLite, loopback): for 3 and 7 nodes
// whose logs hold 10,000 entries each, how long a consistent cut takes (and how long the nodes
// stay frozen for it), how big it is, and how long "resume from here" takes: every node stopped,
// its data restored, restarted, a leader elected and a new write committed.
// FORK_BENCH_ENTRIES=<n> changes the log length.

import { Supervisor } from '../src-main/cluster/supervisor.js';
import { agreedLeader } from '../src-shared/cluster-state.js';

const ENTRIES = Number(process.env.FORK_BENCH_ENTRIES ?? 10_000);
const CLIENTS = 48;

async function until<T>(what: string, f: () => T | undefined | false, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = f();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

async function put(url: string, key: string, value: string): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    try {
      const res = await fetch(new URL(`/v2/keys${key}`, url), {
        method: 'PUT',
        body: new URLSearchParams({ value }).toString(),
        headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
      });
      await res.text();
      if (res.status < 300) return;
      throw new Error(`status ${res.status}`);
    } catch (err) {
      if (attempt > 20) throw err;
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}

const median = (xs: number[]) => {
  if (xs.length === 0) throw new Error('median of no figures');
  return [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
};

async function benchSize(size: number, print: (line: string) => void): Promise<void> {
  // No snapshots in the way: every node keeps all its entries in its log.
  const sup = new Supervisor({ heartbeatMs: 100, electionMs: 1000, snapshotCount: ENTRIES * 4 });
  try {
    await sup.start(size);
    const leaderOf = () => agreedLeader(sup.snapshot());
    const leader = await until('a leader', leaderOf);
    const t0 = performance.now();
    let next = 0;
    await Promise.all(
      Array.from({ length: CLIENTS }, async () => {
        for (let i = next++; i < ENTRIES; i = next++) await put(leader.clientURL, `/bench/k${i % 500}`, `value-${i}`);
      }),
    );
    const writeMs = performance.now() - t0;
    const want = leaderOf()!.lastIndex;
    await until('every log full', () => sup.snapshot().nodes.every((n) => n.lastIndex >= want && n.applied >= want));

    // Cuts: a few, as the app takes them (at keyframes and before actions).
    const cuts = [];
    for (let i = 0; i < 5; i++) {
      const c0 = performance.now();
      const cp = (await sup.checkpoint(`bench ${i}`))!;
      const tookMs = performance.now() - c0;
      await cp.written;
      cuts.push({ tookMs, freezeMs: cp.freezeMs, writtenMs: performance.now() - c0, bytes: cp.bytes });
    }
    const cp = sup.checkpoints!.all.at(-1)!;
    await put(leader.clientURL, '/bench/after', 'gone');

    // Fork: resume from the last cut; done when a leader is agreed and a new write committed.
    let restoredMs = 0;
    sup.on('events', (batch) => {
      // The fork event goes out once every node is stopped and its data restored.
      if (!restoredMs && batch.some((e) => e.type === 'fork')) restoredMs = performance.now() - f0;
    });
    const f0 = performance.now();
    await sup.execute({ type: 'resumeFrom', at: cp.at });
    const restartedMs = performance.now() - f0;
    const l2 = await until('a leader after the fork', () => {
      const l = leaderOf();
      return l && sup.snapshot().nodes.every((n) => n.status === 'alive') ? l : undefined;
    });
    const electedMs = performance.now() - f0;
    await put(l2.clientURL, '/bench/branch2', 'yes');
    const writtenMs = performance.now() - f0;
    const restoredLast = Math.min(...sup.snapshot().nodes.map((n) => n.lastIndex));
    print(
      `  ${size} nodes, ${want} log entries each (written in ${(writeMs / 1000).toFixed(1)} s): ` +
        `checkpoint ${median(cuts.map((c) => c.tookMs)).toFixed(1)} ms (nodes frozen ${median(cuts.map((c) => c.freezeMs)).toFixed(1)} ms, ` +
        `on disk after ${median(cuts.map((c) => c.writtenMs)).toFixed(0)} ms, ${(cuts[0]!.bytes / size / 1024 / 1024).toFixed(2)} MB a node); ` +
        `fork: nodes stopped and data restored in ${restoredMs.toFixed(0)} ms, restarted and serving in ${restartedMs.toFixed(0)} ms, leader in ${electedMs.toFixed(0)} ms, ` +
        `first write committed in ${writtenMs.toFixed(0)} ms (logs restored to index ≥ ${restoredLast})`,
    );
  } finally {
    await sup.stop();
  }
}

export async function benchFork(print: (line: string) => void): Promise<void> {
  print(`fork: consistent checkpoints and "resume from here" on a real cluster (median of 5 cuts)`);
  for (const size of [3, 7]) await benchSize(size, print);
}

if (import.meta.url === `file://${process.argv[1]}`) await benchFork(console.log);
