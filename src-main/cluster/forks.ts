// Checkpoints of the running cluster (checkpoints.ts takes the consistent cut) and "resume from
// here": the cluster restarted from an earlier checkpoint as a new branch.

import type { ForkInfo } from '../../src-shared/command-results.js';
import { clockTime } from '../../src-shared/narrate.js';
import type { Checkpoint, Checkpoints, CutHost } from './checkpoints.js';
import type { EventQueue } from './event-queue.js';
import { restoredRecord, type ClusterNodes } from './node-records.js';
import type { StepController } from './step-controller.js';
import type { Workers } from './workers.js';

export interface ForksHost {
  readonly cluster: ClusterNodes;
  readonly workers: Workers;
  readonly events: EventQueue;
  readonly step: StepController;
  stopped(): boolean;
  /** Step commands running: a cut must not slip in between a step and its answer. */
  stepping(): number;
}

export class Forks {
  private resuming = false;

  constructor(
    /** Undefined: this supervisor keeps no checkpoints. */
    readonly checkpoints: Checkpoints | undefined,
    private readonly host: ForksHost,
  ) {}

  /**
   * A consistent checkpoint of every node now (checkpoints.ts); undefined when none can be
   * taken at this moment (a node starting or going down, or checkpoints off). `ifChanged`:
   * only if some node's durable state (as last reported) moved since the last one.
   */
  async checkpoint(
    reason: string,
    opts: { ifChanged?: boolean; pinned?: boolean } = {},
  ): Promise<Checkpoint | undefined> {
    const h = this.host;
    if (!this.checkpoints || h.stopped() || this.resuming) return undefined;
    if (opts.ifChanged && (h.stepping() > 0 || h.step.view().on)) return undefined;
    const fingerprint = h.cluster.fingerprint();
    return this.checkpoints.take(this.cutHost, reason, {
      ifChanged: opts.ifChanged ? fingerprint : undefined,
      pinned: opts.pinned,
    });
  }

  private readonly cutHost: CutHost = {
    nodes: () =>
      this.host.cluster.all().map((r) => ({
        spec: {
          name: r.name,
          id: r.id,
          status: r.status,
          peerURL: r.peerURL,
          clientURL: r.clientURL,
          dataDir: r.dataDir,
          settings: r.settings,
          clock: { ...r.clock },
        },
        running: r.worker !== undefined && r.status === 'alive',
        moving: r.status === 'starting' || (r.worker !== undefined) !== (r.status === 'alive'),
      })),
    cuts: () => [...this.host.cluster.cuts],
    generation: () => this.host.cluster.generation,
    freeze: async (name) =>
      (await this.host.workers.call(this.host.cluster.node(name), { op: 'freeze' }, 5000)) as Uint8Array,
    thaw: async (name) => void (await this.host.workers.call(this.host.cluster.node(name), { op: 'thaw' }, 5000)),
  };

  need(): Checkpoints {
    if (!this.checkpoints) throw new Error('this cluster keeps no checkpoints');
    return this.checkpoints;
  }

  /**
   * "Resume from here": restores every node's durable state from the last checkpoint at or
   * before `at`, restarts the cluster from it (same member ids, ports, data dirs; each node
   * killed, removed or running as it was then) and goes on live as a new branch.
   */
  async resumeFrom(at: number): Promise<ForkInfo> {
    const cps = this.need();
    const { cluster, workers, events, step } = this.host;
    if (this.resuming) throw new Error('a resume is already under way');
    const cp = cps.nearest(at);
    if (!cp) throw new Error(`there is no checkpoint at or before ${clockTime(at)}`);
    this.resuming = true;
    // It begins the new branch, so it is kept from now on. Unpinned, the cut that ends this
    // branch (below) could thin it away, files and all, and the restore would then fail with
    // ENOENT after every node had been stopped.
    cp.pinned = true;
    try {
      // The branch being left ends here, and stays resumable (at its last checkpoint, if no
      // cut can be taken right now).
      const end = (await cps.take(this.cutHost, `end of branch ${cps.current}`, { pinned: true })) ?? cps.pinLast();
      const leftAt = end?.at ?? Date.now();
      // Stop the nodes (gracefully: their databases closed before the files are replaced).
      const old = cluster.all();
      const wasAlive = new Set(old.filter((r) => r.status === 'alive').map((r) => r.name));
      for (const r of old) if (r.status === 'alive' || r.status === 'starting') r.status = 'killed';
      events.markDirty();
      await Promise.all(old.map((r) => workers.shutdown(r, wasAlive.has(r.name) ? 'stop' : 'kill')));
      const keep = new Set(cp.nodes.map((n) => n.spec.dataDir));
      await cps.restoreFiles(
        cp,
        old.map((r) => r.dataDir).filter((d) => !keep.has(d)),
      );
      // The cluster as the checkpoint saw it: its members, links and clocks.
      cluster.nodes = new Map(cp.nodes.map(({ spec }) => [spec.name, restoredRecord(spec)]));
      cluster.cuts = new Set(cp.cuts);
      cluster.generation++;
      step.reset();
      events.forgetRecent();
      const { at: forkAt, ...fork } = cps.fork(cp, at, leftAt);
      events.queue({ type: 'fork', at: forkAt, fork });
      events.markDirty();
      const starting = cluster.all().filter((r) => r.status === 'starting');
      await Promise.all(starting.map((r) => workers.spawn(r)));
      return fork;
    } finally {
      this.resuming = false;
    }
  }
}
