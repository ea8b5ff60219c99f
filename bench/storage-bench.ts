// Throughput of the SQLite Raft storage: how fast can a node make a Ready durable?

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import type { Entry } from '../src-shared/raft-types.js';
import { RaftStorage } from '../src-main/storage/raft-storage.js';

const PAYLOAD = 'x'.repeat(128); // a small client command
const RUN_MS = 2000;

/** A node's storage: with a member identity, so the marker and its WAL epoch are at work too. */
function openMember(file: string): RaftStorage {
  const s = RaftStorage.open(file);
  s.setIdentity({ memberId: '8e9e05c52164694d', clusterId: 'cdf818194e3a8c32', name: 'bench' });
  return s;
}

function entry(index: number): Entry {
  return { index, term: 1, type: 'normal', data: PAYLOAD };
}

function fmt(n: number): string {
  return Math.round(n).toLocaleString('en-US').padStart(10);
}

export async function benchStorage(print: (line: string) => void): Promise<void> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'raftlab-bench-storage-'));
  try {
    // (a) One entry per persist, as a leader under light load: each call is one fsync'd commit.
    {
      const s = openMember(path.join(dir, 'single.db'));
      let i = 0;
      const t0 = performance.now();
      while (performance.now() - t0 < RUN_MS) {
        i++;
        s.persist({ entries: [entry(i)], hardState: { term: 1, vote: 'n1', commit: i - 1 } });
      }
      const secs = (performance.now() - t0) / 1000;
      s.close();
      print(`storage: single-entry persist (fsync) ${fmt(i / secs)} ops/s`);
    }

    // (b) 64 entries per persist, as a leader batching proposals.
    {
      const s = openMember(path.join(dir, 'batch.db'));
      let last = 0;
      let calls = 0;
      const t0 = performance.now();
      while (performance.now() - t0 < RUN_MS) {
        const batch: Entry[] = [];
        for (let k = 1; k <= 64; k++) batch.push(entry(last + k));
        s.persist({ entries: batch, hardState: { term: 1, vote: 'n1', commit: last } });
        last += 64;
        calls++;
      }
      const secs = (performance.now() - t0) / 1000;
      s.close();
      print(
        `storage: 64-entry batched persist     ${fmt(last / secs)} entries/s (${fmt(calls / secs).trim()} persists/s)`,
      );
    }

    // (c) Restart cost of a long log: open (includes quick_check and the WAL audit) and load()
    // of 100k entries (includes every entry's CRC check).
    {
      const file = path.join(dir, 'load.db');
      const s = openMember(file);
      const N = 100_000;
      for (let first = 1; first <= N; first += 1000) {
        const batch: Entry[] = [];
        for (let k = 0; k < 1000; k++) batch.push(entry(first + k));
        s.persist({ entries: batch });
      }
      s.close();
      const t0 = performance.now();
      const r = RaftStorage.open(file);
      const t1 = performance.now();
      const st = r.load();
      const t2 = performance.now();
      const mb = r.stats().fileBytes / 1e6;
      r.close();
      if (st.entries.length !== N) throw new Error(`expected ${N} entries, loaded ${st.entries.length}`);
      print(`storage: open 100k-entry log          ${fmt(t1 - t0)} ms (${mb.toFixed(1)} MB file)`);
      print(`storage: load() 100k entries          ${fmt(t2 - t1)} ms`);
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
