// The cluster as the supervisor runs it: one record per node (what it takes to start the node
// again, and its worker while it has one), the links cut on purpose, and the generation (a new
// one per fresh cluster or fork). The supervisor's parts (workers.ts, forks.ts, event-queue.ts)
// all work on this one table.

import { freePorts } from '../net/free-ports.js';
import type { Worker } from 'node:worker_threads';
import type { CutLink, NodeState } from '../../src-shared/cluster-state.js';
import type { NodeSpec } from './checkpoints.js';
import type { WorkerNodeState } from './worker-protocol.js';

/** A node as the supervisor runs it: what it takes to start it again (NodeSpec), and its worker. */
export interface NodeRecord extends NodeSpec {
  worker?: Worker;
  state?: WorkerNodeState;
  calls: Map<number, Pending>;
  /** Told when the worker answers 'stopped' / 'killed', or exits. */
  downWaiters: (() => void)[];
  /** The message ids of the current worker start above this (see Workers.spawn). */
  idBase: number;
}

export type Pending = { resolve: (v: unknown) => void; reject: (e: Error) => void };

/** What every node of a supervisor's clusters is started with. */
export interface NodeDefaults {
  heartbeatMs: number;
  electionMs: number;
  snapshotCount: number;
  snapshotCatchUpEntries: number;
}

export function newRecord(
  d: NodeDefaults,
  name: string,
  peerURL: string,
  clientURL: string,
  dataDir: string,
  initialCluster: { name: string; peerURLs: string[] }[],
  state: 'new' | 'existing',
  token: string,
): NodeRecord {
  return {
    name,
    id: '',
    status: 'unstarted',
    peerURL,
    clientURL,
    dataDir,
    settings: {
      name,
      dataDir,
      initialCluster,
      initialClusterState: state,
      initialClusterToken: token,
      listenPeerURLs: [peerURL],
      advertisePeerURLs: [peerURL],
      listenClientURLs: [clientURL],
      advertiseClientURLs: [clientURL],
      heartbeatMs: d.heartbeatMs,
      electionMs: d.electionMs,
      snapshotCount: d.snapshotCount,
      snapshotCatchUpEntries: d.snapshotCatchUpEntries,
    },
    clock: { offsetMs: 0, rate: 1 },
    calls: new Map(),
    downWaiters: [],
    idBase: 0,
  };
}

/** A node as a checkpoint recorded it, about to be started again (a running one as 'starting'). */
export function restoredRecord(spec: NodeSpec): NodeRecord {
  return {
    ...structuredClone(spec),
    status: spec.status === 'alive' ? 'starting' : spec.status,
    calls: new Map(),
    downWaiters: [],
    // Message ids are handed out per worker start (spawn sets it).
    idBase: 0,
  };
}

export class ClusterNodes {
  nodes = new Map<string, NodeRecord>();
  /** Cut links as "a|b" with a < b. */
  cuts = new Set<string>();
  generation = 0;

  all(): NodeRecord[] {
    return [...this.nodes.values()];
  }

  node(name: string): NodeRecord {
    const rec = this.nodes.get(name);
    if (!rec) throw new Error(`no node named ${name}`);
    return rec;
  }

  nameOf(id: string): string {
    if (!id) return '';
    for (const r of this.nodes.values()) if (r.id === id) return r.name;
    return id;
  }

  isCut(a: string, b: string): boolean {
    return this.cuts.has(cutKey(a, b));
  }

  setCut(a: string, b: string, cut: boolean): void {
    if (cut) this.cuts.add(cutKey(a, b));
    else this.cuts.delete(cutKey(a, b));
  }

  cutLinks(): CutLink[] {
    return [...this.cuts].map(linkOfCutKey);
  }

  /** The member ids `rec` must not exchange messages with. */
  cutIds(rec: NodeRecord): string[] {
    const ids: string[] = [];
    for (const k of this.cuts) {
      const { a, b } = linkOfCutKey(k);
      const other = a === rec.name ? b : b === rec.name ? a : undefined;
      const id = other !== undefined ? this.nodes.get(other)?.id : undefined;
      if (id) ids.push(id);
    }
    return ids;
  }

  /** A running member to ask: the leader if there is one, else any, preferably not `avoid`. */
  pickVia(avoid?: NodeRecord): NodeRecord {
    const alive = this.all().filter((n) => n.status === 'alive');
    const ordered = [
      ...alive.filter((n) => n !== avoid && n.state?.role === 'leader'),
      ...alive.filter((n) => n !== avoid),
      ...alive,
    ];
    const [first] = ordered;
    if (!first) throw new Error('no running member to ask');
    return first;
  }

  /** Two free ports that no node of this cluster uses (a killed node gets its ports back). */
  async unusedPorts(): Promise<[number, number]> {
    const taken = new Set(
      this.all()
        .flatMap((n) => [n.peerURL, n.clientURL])
        .map((u) => Number(new URL(u).port)),
    );
    for (;;) {
      const ports = await freePorts(2);
      const [a, b] = [ports[0]!, ports[1]!]; // two asked, two given
      if (!taken.has(a) && !taken.has(b)) return [a, b];
    }
  }

  /** What the nodes' durable state looks like, as last reported (status, term, vote, commit, log bounds). */
  fingerprint(): string {
    return JSON.stringify([
      this.generation,
      this.all().map((r) => [
        r.name,
        r.status,
        r.state?.term,
        r.state?.vote,
        r.state?.commit,
        r.state?.firstIndex,
        r.state?.lastIndex,
      ]),
    ]);
  }

  /** A node as the window draws it (member ids named). */
  view(r: NodeRecord, d: Pick<NodeDefaults, 'heartbeatMs' | 'electionMs'>): NodeState {
    const s = r.state;
    return {
      name: r.name,
      id: r.id,
      status: r.status,
      role: s?.role ?? 'follower',
      term: s?.term ?? 0,
      vote: this.nameOf(s?.vote ?? ''),
      lead: r.status === 'alive' ? this.nameOf(s?.lead ?? '') : '',
      commit: s?.commit ?? 0,
      applied: s?.applied ?? 0,
      firstIndex: s?.firstIndex ?? 1,
      lastIndex: s?.lastIndex ?? 0,
      clientURL: r.clientURL,
      peerURL: r.peerURL,
      dataDir: r.dataDir,
      clock: r.status === 'alive' && s ? { ...s.clock } : { ...r.clock },
      electionTimeoutMs: s?.electionTimeoutMs ?? d.electionMs,
      heartbeatMs: d.heartbeatMs,
      ...(r.status === 'alive' && s ? { timer: s.timer } : {}),
      log: s?.log ?? [],
      peers: s?.peers ?? [],
      ...(s?.learner ? { learner: true } : {}),
      ...(s?.revision !== undefined ? { revision: s.revision } : {}),
      // Counted down only by a running leader; a stopped node's leases are what it last knew.
      ...(s?.leases?.length
        ? { leases: r.status === 'alive' ? s.leases : s.leases.map(({ expiresAt: _, ...l }) => l) }
        : {}),
    };
  }
}

function cutKey(a: string, b: string): string {
  return [a, b].sort().join('|');
}

/** The link a cutKey stands for (cuts also come back from checkpoints: a malformed one is an error, not a half link). */
function linkOfCutKey(k: string): CutLink {
  const [a, b, ...more] = k.split('|');
  if (a === undefined || b === undefined || more.length > 0) throw new Error(`malformed cut link "${k}"`);
  return { a, b };
}
