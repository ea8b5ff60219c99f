// The nodes' worker threads: starting one per node (spawn), the calls and posts to it, and
// ending it (shutdown: graceful or kill -9, then terminate). What a worker reports goes to the
// supervisor through the host; a worker of a replaced cluster is no longer listened to.

import { Worker } from 'node:worker_threads';
import type { ServerEvent } from '../../src-shared/protocol.js';
import type { ClusterNodes, NodeRecord, Pending } from './node-records.js';
import type { FromWorker, HeldReport, ToWorker, WorkerCall, WorkerInit, WorkerItem } from './worker-protocol.js';

/** Message ids per worker start: room for 2^32 messages each, 2^21 starts stay safe integers. */
export const IDS_PER_SPAWN = 2 ** 32;

/**
 * A member thread's young generation: 3 × V8's semi-space, so 12 MiB is the 4 MiB semi-spaces a
 * `raftlab node` process runs with (bin/raftlab.mjs's --max-semi-space-size=4, which says why).
 */
export const MEMBER_YOUNG_GENERATION_MB = 12;

export interface WorkersHost {
  readonly cluster: ClusterNodes;
  readonly logTail: number;
  readonly batchMs: number;
  /** The global speed now. */
  speed(): number;
  /** Step mode: how a node starting now starts (StepController.spawnManual). */
  spawnManual(name: string): { seed?: number } | undefined;
  stopped(): boolean;
  queue(e: ServerEvent): void;
  markDirty(): void;
  /** The node serves now (its status and cuts are set already). */
  started(rec: NodeRecord): void;
  items(rec: NodeRecord, items: WorkerItem[]): void;
  held(held: HeldReport[]): void;
}

export class Workers {
  /** Worker starts so far: each gets its own block of message ids. */
  private spawns = 0;
  private callSeq = 0;
  /** Workers this supervisor is ending itself (shutdown): their exit is not "unexpected". */
  private readonly endedOnPurpose = new WeakSet<Worker>();

  constructor(private readonly host: WorkersHost) {}

  /** Start the node's worker; resolves when it serves clients, rejects if it cannot start. */
  spawn(rec: NodeRecord): Promise<void> {
    const h = this.host;
    const init: WorkerInit = {
      raftlabNodeWorker: true,
      settings: rec.settings,
      clock: { ...rec.clock },
      cuts: h.cluster.cutIds(rec),
      logTail: h.logTail,
      stateEveryMs: 100,
      batchMs: h.batchMs,
      manual: h.spawnManual(rec.name),
      speed: h.speed(),
      idBase: ++this.spawns * IDS_PER_SPAWN,
    };
    rec.idBase = init.idBase;
    // execArgv [] : not the parent's flags (tsx's, vitest's); the entry registers tsx itself.
    const w = new Worker(workerEntry(), {
      workerData: init,
      execArgv: [],
      resourceLimits: { maxYoungGenerationSizeMb: MEMBER_YOUNG_GENERATION_MB },
    });
    rec.worker = w;
    rec.status = 'starting';
    h.markDirty();
    return new Promise<void>((resolve, reject) => {
      let settled = false;
      const settle = (err?: Error) => {
        if (settled) return;
        settled = true;
        if (err) reject(err);
        else resolve();
      };
      w.on('message', (m: FromWorker) => {
        if (h.cluster.nodes.get(rec.name) !== rec) return; // a worker of a replaced cluster
        switch (m.t) {
          case 'started':
            rec.id = m.id;
            rec.status = 'alive';
            this.syncCuts();
            h.markDirty();
            h.started(rec);
            settle();
            break;
          case 'start-failed':
            rec.status = 'killed';
            h.markDirty();
            settle(new Error(`${rec.name} could not start: ${m.error}`));
            void this.shutdown(rec, 'kill');
            break;
          case 'batch':
            h.items(rec, m.items);
            break;
          case 'held':
            h.held(m.held);
            break;
          case 'reply': {
            const c = rec.calls.get(m.id);
            rec.calls.delete(m.id);
            if (m.ok) c?.resolve(m.result);
            else c?.reject(new Error(m.error));
            break;
          }
          case 'fatal':
            rec.status = 'killed';
            h.queue({ type: 'error', message: `${rec.name} stopped: ${m.error}` });
            h.markDirty();
            void this.shutdown(rec, 'kill');
            break;
          case 'removed':
            // The node has closed its ports already: nothing left to shut down.
            rec.status = 'removed';
            h.markDirty();
            void w.terminate();
            break;
          case 'stopped':
          case 'killed':
            for (const r of rec.downWaiters.splice(0)) r();
            break;
        }
      });
      w.on('error', (err) => {
        h.queue({ type: 'error', message: `${rec.name}: ${err.message}` });
      });
      w.on('exit', () => {
        settle(new Error(`${rec.name} exited before it could serve`));
        if (rec.worker !== w) return;
        rec.worker = undefined;
        for (const r of rec.downWaiters.splice(0)) r();
        for (const c of rec.calls.values()) c.reject(new Error(`${rec.name} stopped`));
        rec.calls.clear();
        if (rec.status === 'alive' || rec.status === 'starting') {
          rec.status = 'killed';
          // Only an exit nobody asked for is news: a kill, a restart or a new cluster ends workers on purpose.
          const deliberate = this.endedOnPurpose.has(w);
          if (!deliberate && !h.stopped() && h.cluster.nodes.get(rec.name) === rec)
            h.queue({ type: 'error', message: `${rec.name} exited unexpectedly` });
        }
        h.markDirty();
      });
    });
  }

  call(rec: NodeRecord, call: WorkerCall, timeoutMs = 20_000): Promise<unknown> {
    const w = rec.worker;
    if (!w) return Promise.reject(new Error(`${rec.name} is not running`));
    const id = ++this.callSeq;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        rec.calls.delete(id);
        reject(new Error(`${rec.name} did not answer ${call.op} within ${timeoutMs} ms`));
      }, timeoutMs);
      const done: Pending = {
        resolve: (v) => (clearTimeout(timer), resolve(v)),
        reject: (e) => (clearTimeout(timer), reject(e)),
      };
      rec.calls.set(id, done);
      w.postMessage({ t: 'call', id, call } satisfies ToWorker);
    });
  }

  post(rec: NodeRecord, m: ToWorker): void {
    rec.worker?.postMessage(m);
  }

  /** The running node that sent message `id` (each worker start has its own block of ids). */
  senderOf(id: number): NodeRecord | undefined {
    return this.host.cluster.all().find((r) => r.worker && id > r.idBase && id <= r.idBase + IDS_PER_SPAWN);
  }

  /** Both ends of a cut drop the link's messages, so each node's view is consistent. */
  syncCuts(): void {
    const c = this.host.cluster;
    for (const rec of c.nodes.values()) this.post(rec, { t: 'cuts', ids: c.cutIds(rec) });
    this.host.markDirty();
  }

  /** Graceful where possible (the node closes its ports), then terminate regardless. */
  async stopAll(): Promise<void> {
    await Promise.all(
      this.host.cluster.all().map((rec) => this.shutdown(rec, rec.status === 'alive' ? 'stop' : 'kill')),
    );
  }

  /**
   * Ends a node's worker. 'kill' is abrupt (kill -9), 'stop' graceful (SIGTERM). Either way the
   * worker first closes every socket and says so; only then is it terminated, because
   * terminating a worker whose HTTP parser is busy can abort the whole process (node-worker.ts,
   * kill). A worker that does not answer in time is terminated anyway.
   */
  async shutdown(rec: NodeRecord, mode: 'stop' | 'kill'): Promise<void> {
    const w = rec.worker;
    if (!w) return;
    this.endedOnPurpose.add(w);
    const down = new Promise<void>((r) => rec.downWaiters.push(r));
    w.postMessage({ t: mode } satisfies ToWorker);
    await Promise.race([down, sleep(mode === 'stop' ? 2000 : 1000)]);
    await w.terminate();
  }
}

/**
 * The worker's entry. From TypeScript sources (tests, `tsx`, dev) the worker must load tsx
 * itself: Node 20 does not apply `--import tsx` from a Worker's execArgv to the worker's entry
 * module (it fails with ERR_UNKNOWN_FILE_EXTENSION), so the entry is a small data: module that
 * registers tsx, then imports node-worker.ts. Compiled to .js, the worker file runs as is.
 */
function workerEntry(): URL {
  const self = import.meta.url;
  if (!self.endsWith('.ts')) return new URL('./node-worker.js', self);
  const entry = new URL('./node-worker.ts', self).href;
  const tsx = import.meta.resolve('tsx/esm/api');
  const code = `import { register } from ${JSON.stringify(tsx)};\nregister();\nawait import(${JSON.stringify(entry)});\n`;
  return new URL(`data:text/javascript,${encodeURIComponent(code)}`);
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms).unref());
}
