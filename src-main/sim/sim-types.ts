// The simulator's options, its statistics, and the hook for what runs above Raft on each node.

import type { Entry, NodeId, ReadState } from '../../src-shared/raft-types.js';
import type { Raft } from '../raft/raft.js';
import type { MemoryStorage } from './memory-storage.js';

export interface SimOptions {
  seed: number;
  /** Initial voters. */
  nodes?: number;
  /** Length of the faulty phase, in simulated ms. */
  chaosMs?: number;
  /** Length of the healed phase at the end, after which the cluster must have converged. */
  settleMs?: number;
  faults?: boolean;
  membership?: boolean;
  /** Snapshot after this many applied entries (0: never). */
  snapshotEvery?: number;
  /** Mean ms between client proposals (0: none). */
  proposalEveryMs?: number;
  tickMs?: number;
  electionTick?: number;
  heartbeatTick?: number;
  /** Largest one-way message delay in ms. */
  maxDelayMs?: number;
}

/**
 * What runs above Raft on every node (sim-clients.ts): a state machine and the clients waiting
 * on it. The cluster calls it as a real node's apply loop would; all optional to the cluster.
 */
export interface SimApp {
  /** The node's state machine starts over from a snapshot's app state (undefined: empty): on boot, restart and install. */
  restore(node: NodeId, state: string | undefined, index: number): void;
  /** A committed entry, applied on `node` in log order. */
  apply(node: NodeId, e: Entry): void;
  /** The node's state machine at its applied index, to keep in a snapshot. */
  snapshot(node: NodeId): string;
  /** A read point released to `node` (after this Ready's entries were applied). */
  readState(node: NodeId, r: ReadState): void;
  /** The node crashed or was removed: what waited on it will never be answered. */
  down(node: NodeId): void;
}

export interface SimStats {
  seed: number;
  simulatedMs: number;
  messages: number;
  dropped: number;
  proposals: number;
  acknowledged: number;
  committed: number;
  leaderChanges: number;
  crashes: number;
  partitions: number;
  confChanges: number;
  /** Of those, learners added, promoted or removed. */
  learnerChanges: number;
  snapshotsInstalled: number;
  reads: number;
  /** Leader transfers asked for, clock-rate changes, drop/duplicate/reorder-rate changes. */
  transfers: number;
  clockChanges: number;
  networkChanges: number;
}

export class SimulationFailure extends Error {}

/** The options with every default filled in. */
export function withDefaults(options: SimOptions): Required<SimOptions> {
  return {
    nodes: 3,
    chaosMs: 3000,
    settleMs: 3000,
    faults: true,
    membership: false,
    snapshotEvery: 25,
    proposalEveryMs: 8,
    tickMs: 10,
    electionTick: 10,
    heartbeatTick: 1,
    maxDelayMs: 8,
    ...options,
  };
}

export function emptyStats(seed: number): SimStats {
  return {
    seed,
    simulatedMs: 0,
    messages: 0,
    dropped: 0,
    proposals: 0,
    acknowledged: 0,
    committed: 0,
    leaderChanges: 0,
    crashes: 0,
    partitions: 0,
    confChanges: 0,
    learnerChanges: 0,
    snapshotsInstalled: 0,
    reads: 0,
    transfers: 0,
    clockChanges: 0,
    networkChanges: 0,
  };
}

/** One simulated node: its durable storage and, while it runs, its Raft core. */
export interface SimNode {
  id: NodeId;
  storage: MemoryStorage;
  raft: Raft | null; // null while crashed
  removed: boolean;
  /** Clock rate: a node with rate 2 ticks twice as often. */
  rate: number;
  applied: number;
  digest: number;
  sinceSnapshot: number;
}
