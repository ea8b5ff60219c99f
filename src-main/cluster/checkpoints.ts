// Checkpoints of the cluster's durable state, and forks from them ("resume from here").
//
// A checkpoint holds every node's SQLite file (log, hard state, snapshot, members: all a node
// restarts from) as it was at one moment, plus what the supervisor needs to start the same
// nodes again (names, member ids, ports, data dirs, clocks, status) and the cut links.
//
// THE CUT. The nodes' copies must form a consistent cut, or a restored cluster can break Raft.
// Copies taken one after another while the cluster runs are not enough: say n1's copy is taken,
// then n1 (leader) appends entry 9, n2 stores it and acks, n1 commits it, n2 learns the commit
// and applies it, and only then is n2's copy taken. Restored, n2 holds entry 9 as committed and
// applied while n1 (and n3) never saw it: n1 and n3 are a quorum, one of them can be elected
// without entry 9 and overwrite it on n2, which already applied it. Nothing like that can
// happen in a real run, because durable state never goes back; the restore made n1's go back.
//
// So a cut freezes first: the supervisor asks every running node to freeze; each one, in the
// same synchronous turn, stops its Ready loop (nothing more is persisted, nothing leaves it)
// and copies its database (better-sqlite3's serialize(): the file's bytes, WAL included, in a
// few ms). Only when every node has answered are they thawed. Then every message a node had
// taken in and persisted when its copy was made was sent before its sender froze, hence before
// the sender's copy: no copy reflects a message the other copies say was never sent. That is a
// consistent cut (Chandy and Lamport). Messages still in flight at the cut (sent before it,
// not yet persisted by their target) are simply lost on restore, which Raft tolerates like any
// lost message. Frozen nodes still take in ticks, messages and proposals, in memory only: they
// are persisted and answered after the thaw, on the other side of the cut. A freeze lasts a few
// milliseconds (bench/fork-bench.ts); the cluster never waits for the disk: the copies are
// written to the session folder after the thaw.
//
// Nodes that are not running (killed, unstarted, removed) send and take nothing, so their data
// dir on disk is their part of the cut: it is copied as it is. A cut is not taken while a node
// is starting or going down (it would be neither running nor still); such a moment is skipped.
//
// BOUNDED. Checkpoints are taken at trace keyframes and before each user action, so they are
// thinned: past `maxCount` (or `maxBytes`) the one whose loss leaves the smallest gap relative
// to its age goes, which keeps a geometric spread (dense near now, sparse long ago). The
// checkpoints that begin and end branches are kept, so every branch's end can be resumed.

import fs from 'node:fs';
import path from 'node:path';
import type { NodeStatus } from '../../src-shared/cluster-state.js';
import type { BranchesResult, CheckpointMark, ForkInfo } from '../../src-shared/command-results.js';
import { branchTree } from '../../src-shared/replay.js';
import type { WorkerInit } from './worker-protocol.js';
import { markerFileFor } from '../storage/member-marker.js';

/** A fork and when it happened. */
export type ForkAt = ForkInfo & { at: number };

/** What the supervisor needs to start a node again as it was. */
export interface NodeSpec {
  name: string;
  /** '' until known (an added member's id comes from `member add`). */
  id: string;
  status: NodeStatus;
  peerURL: string;
  clientURL: string;
  dataDir: string;
  settings: WorkerInit['settings'];
  /** Survives restarts: a skewed machine stays skewed. */
  clock: { offsetMs: number; rate: number };
}

/** A node as the cut sees it. */
export interface CutNode {
  spec: NodeSpec;
  /** Its worker serves (it takes freeze and thaw). */
  running: boolean;
  /** Starting, or going down: neither running nor still. */
  moving: boolean;
}

/** What a cut needs from the supervisor. */
export interface CutHost {
  nodes(): CutNode[];
  cuts(): string[];
  generation(): number;
  /** Freezes a running node and answers with its database's bytes. */
  freeze(name: string): Promise<Uint8Array>;
  thaw(name: string): Promise<void>;
}

interface StoredNode {
  spec: NodeSpec;
  /** The database file kept for it, and its WAL when copied from a still node; none: no data yet. */
  db?: string;
  wal?: string;
  /**
   * Its member marker as it was at the cut (storage/member-marker.ts). It guards the database's
   * WAL generation, so a restored database must come back with the marker of its own moment,
   * or it would be refused as a database that lost its WAL.
   */
  marker?: string;
}

export interface Checkpoint {
  id: number;
  /** Wall ms when the freeze was asked for (trace records' `at`). */
  at: number;
  branch: number;
  generation: number;
  reason: string;
  nodes: StoredNode[];
  cuts: string[];
  bytes: number;
  /** How long the nodes were frozen, ms (from the first freeze asked to the last thaw asked). */
  freezeMs: number;
  /** Begins or ends a branch: never thinned. */
  pinned: boolean;
  /** Settles once its files are written. */
  written: Promise<void>;
  /** What the nodes' durable state looked like (status, term, vote, commit, log bounds). */
  fingerprint: string;
}

export interface CheckpointOptions {
  /** Most checkpoints kept besides the pinned ones (default 64). */
  maxCount?: number;
  /** Most bytes kept in all (default 512 MiB); the pinned ones count but stay. */
  maxBytes?: number;
}

export class Checkpoints {
  private list: Checkpoint[] = [];
  private seq = 0;
  private forks: ForkAt[] = [];
  private branch = 1;
  private readonly startAt = Date.now();
  private taking: Promise<Checkpoint | undefined> | undefined;
  private readonly maxCount: number;
  private readonly maxBytes: number;

  constructor(
    readonly dir: string,
    options: CheckpointOptions = {},
  ) {
    this.maxCount = options.maxCount ?? 64;
    this.maxBytes = options.maxBytes ?? 512 * 1024 * 1024;
  }

  /** The branch running now. */
  get current(): number {
    return this.branch;
  }

  get all(): readonly Checkpoint[] {
    return this.list;
  }

  /**
   * Takes a consistent cut now (see the top of this file). Resolves with the checkpoint, or
   * undefined when none could be taken at this moment (a node starting or going down) or, for
   * `ifChanged`, when nothing durable changed since the last one.
   */
  take(
    host: CutHost,
    reason: string,
    opts: { ifChanged?: string; pinned?: boolean } = {},
  ): Promise<Checkpoint | undefined> {
    // One cut at a time: a second asked meanwhile waits for the first, then takes its own.
    const run = (this.taking ?? Promise.resolve(undefined))
      .catch(() => undefined)
      .then(() => this.cut(host, reason, opts));
    this.taking = run;
    return run;
  }

  private async cut(
    host: CutHost,
    reason: string,
    opts: { ifChanged?: string; pinned?: boolean },
  ): Promise<Checkpoint | undefined> {
    const nodes = host.nodes();
    if (nodes.length === 0 || nodes.some((n) => n.moving)) return undefined;
    const last = this.list.at(-1);
    if (opts.ifChanged !== undefined && last && last.branch === this.branch && last.fingerprint === opts.ifChanged)
      return undefined;
    const at = Date.now();
    const running = nodes.filter((n) => n.running);
    const data = new Map<string, Uint8Array>();
    const markers = new Map<string, Buffer>();
    const t0 = performance.now();
    let freezeMs: number;
    try {
      await Promise.all(
        running.map(async (n) => {
          const bytes = await host.freeze(n.spec.name);
          data.set(n.spec.name, bytes);
          // Read while the node is frozen: it writes its marker only with its database.
          const m = readIfExists(markerFileFor(dbFile(n.spec.dataDir)));
          if (m) markers.set(n.spec.name, m);
        }),
      );
    } finally {
      // Every node asked is thawed, whether or not all answered (a late one too: a worker takes
      // its messages in order, so the thaw comes after its freeze). The thaws are on their way
      // once asked for: the freeze ends there, whenever their answers come.
      const thawed = running.map((n) => host.thaw(n.spec.name).catch(() => {}));
      freezeMs = performance.now() - t0;
      await Promise.all(thawed);
    }
    const id = ++this.seq;
    const where = path.join(this.dir, `c${id}`);
    const stored: StoredNode[] = [];
    let bytes = 0;
    const writes: Promise<void>[] = [];
    fs.mkdirSync(where, { recursive: true });
    for (const n of nodes) {
      const spec = structuredClone(n.spec);
      const got = data.get(spec.name);
      if (got) {
        const db = path.join(where, `${spec.name}.db`);
        const s: StoredNode = { spec, db };
        bytes += got.byteLength;
        writes.push(fs.promises.writeFile(db, got));
        const marker = markers.get(spec.name);
        if (marker) {
          s.marker = `${db}.marker`;
          writes.push(fs.promises.writeFile(s.marker, marker));
        }
        stored.push(s);
        continue;
      }
      // A still node: its files on disk are its part of the cut.
      const src = dbFile(spec.dataDir);
      if (!fs.existsSync(src)) {
        stored.push({ spec });
        continue;
      }
      const s: StoredNode = { spec, db: path.join(where, `${spec.name}.db`) };
      writes.push(fs.promises.copyFile(src, s.db!));
      bytes += fs.statSync(src).size;
      if (fs.existsSync(`${src}-wal`)) {
        s.wal = `${s.db}-wal`;
        writes.push(fs.promises.copyFile(`${src}-wal`, s.wal));
        bytes += fs.statSync(`${src}-wal`).size;
      }
      if (fs.existsSync(markerFileFor(src))) {
        s.marker = `${s.db}.marker`;
        writes.push(fs.promises.copyFile(markerFileFor(src), s.marker));
      }
      stored.push(s);
    }
    const cp: Checkpoint = {
      id,
      at,
      branch: this.branch,
      generation: host.generation(),
      reason,
      nodes: stored,
      cuts: host.cuts(),
      bytes,
      freezeMs,
      pinned: opts.pinned ?? false,
      written: Promise.all(writes).then(() => {}),
      fingerprint: opts.ifChanged ?? '',
    };
    cp.written.catch(() => {});
    this.list.push(cp);
    this.thin();
    return cp;
  }

  /** Keeps the running branch's last checkpoint for good (its end, when no cut could be taken). */
  pinLast(): Checkpoint | undefined {
    const last = this.list.filter((c) => c.branch === this.branch).at(-1);
    if (last) last.pinned = true;
    return last;
  }

  /** The last checkpoint at or before `at` (wall ms). */
  nearest(at: number): Checkpoint | undefined {
    let best: Checkpoint | undefined;
    for (const c of this.list) if (c.at <= at && (!best || c.at >= best.at)) best = c;
    return best;
  }

  /**
   * Puts every node's data dir back as `cp` kept it (the nodes must be stopped): the database
   * restored, its old WAL and shared-memory files gone (a stale WAL would be replayed on top).
   * Data dirs of nodes the checkpoint does not know (added later) are removed.
   */
  async restoreFiles(cp: Checkpoint, others: string[]): Promise<void> {
    await cp.written;
    for (const dir of others) fs.rmSync(dir, { recursive: true, force: true });
    for (const n of cp.nodes) {
      const file = dbFile(n.spec.dataDir);
      for (const f of [file, `${file}-wal`, `${file}-shm`, markerFileFor(file)]) fs.rmSync(f, { force: true });
      if (!n.db) continue;
      fs.mkdirSync(path.dirname(file), { recursive: true });
      await fs.promises.copyFile(n.db, file);
      if (n.wal) await fs.promises.copyFile(n.wal, `${file}-wal`);
      if (n.marker) await fs.promises.copyFile(n.marker, markerFileFor(file));
    }
  }

  /**
   * Records a fork from `cp` (asked for the moment `asked`), made at `now`: the branch running
   * until now ends at `leftAt` (its last checkpoint), and a new branch begins from `cp`. The new
   * branch's first checkpoint is `cp`'s files again, at `now`.
   */
  fork(cp: Checkpoint, asked: number, leftAt: number, now = Date.now()): ForkAt {
    const left = this.branch;
    const branch = Math.max(1, ...this.forks.map((f) => f.branch)) + 1;
    const info: ForkAt = { at: now, branch, parent: cp.branch, from: cp.at, asked, leftAt, left };
    this.forks.push(info);
    this.branch = branch;
    this.list.push({
      ...cp,
      id: ++this.seq,
      at: now,
      branch,
      reason: `start of branch ${branch}`,
      pinned: true,
      freezeMs: 0,
    });
    return info;
  }

  /** The branch tree and the moments one can resume from. */
  branches(): BranchesResult {
    return {
      branches: branchTree(this.forks, this.startAt),
      checkpoints: this.list.map((c): CheckpointMark => ({ at: c.at, branch: c.branch })),
      current: this.branch,
    };
  }

  /** Drops checkpoints past the bounds, keeping a geometric spread and the pinned ones. */
  private thin(): void {
    const total = () => this.list.reduce((a, c) => a + (c.pinned ? 0 : 1), 0);
    const bytes = () => this.list.reduce((a, c) => a + c.bytes, 0);
    const now = Date.now();
    while (total() > this.maxCount || (bytes() > this.maxBytes && total() > 1)) {
      // The unpinned one (never the newest) whose neighbours are closest together for its age.
      let worst = -1;
      let score = Infinity;
      for (let i = 1; i < this.list.length - 1; i++) {
        const c = this.list[i]!; // i and its neighbours are within the list
        if (c.pinned) continue;
        const gap = this.list[i + 1]!.at - this.list[i - 1]!.at;
        const s = gap / Math.max(1, now - c.at);
        if (s < score) {
          score = s;
          worst = i;
        }
      }
      if (worst < 0) break;
      this.drop(worst);
    }
  }

  private drop(i: number): void {
    const [gone] = this.list.splice(i, 1);
    if (!gone) return;
    const inUse = new Set(this.list.flatMap((c) => c.nodes.flatMap((n) => [n.db, n.wal, n.marker])));
    void gone.written
      .catch(() => {})
      .finally(() => {
        for (const n of gone.nodes)
          for (const f of [n.db, n.wal, n.marker]) if (f && !inUse.has(f)) fs.rmSync(f, { force: true });
        try {
          fs.rmdirSync(path.join(this.dir, `c${gone.id}`)); // only if nothing else is in it
        } catch {
          // still holds files another checkpoint shares, or already gone
        }
      });
  }
}

/** A node's database file in its data dir (as RaftNode keeps it). */
function readIfExists(file: string): Buffer | undefined {
  try {
    return fs.readFileSync(file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

export function dbFile(dataDir: string): string {
  return path.join(dataDir, 'member', 'raftlab.db');
}
