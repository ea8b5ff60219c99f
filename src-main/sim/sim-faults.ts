// The faults a chaotic run injects, one drawn every ~120 simulated ms: crashes and restarts, partitions, lossy links, clock skew, leader transfers, membership changes.

import type { NodeId } from '../../src-shared/raft-types.js';
import { ProposalDropped } from '../raft/raft.js';
import type { Rng } from '../util/rng.js';
import { MemoryStorage } from './memory-storage.js';
import type { SimNetwork } from './sim-network.js';
import type { SimNode, SimStats } from './sim-types.js';

/** What the faults act on: the cluster (sim-cluster.ts). */
export interface FaultTarget {
  readonly rng: Rng;
  readonly stats: SimStats;
  readonly network: SimNetwork;
  readonly nodes: ReadonlyMap<NodeId, SimNode>;
  /** Running nodes (not crashed, not removed). */
  alive(): SimNode[];
  leader(): SimNode | undefined;
  crash(node: SimNode): void;
  /** (Re)start a node from its durable state only. */
  start(node: SimNode): void;
  /** Runs the node's Ready loop until it has nothing left. */
  drain(node: SimNode): void;
  addNode(id: NodeId, storage: MemoryStorage): SimNode;
  newId(): NodeId;
  schedule(delay: number, fn: () => void): void;
  log(line: string): void;
}

export function randomFault(c: FaultTarget, membership: boolean): void {
  const r = c.rng();
  const live = c.alive();
  if (r < 0.2 && live.length) {
    const node = c.rng.pick(live);
    c.crash(node);
    c.schedule(c.rng.int(30, 600), () => {
      if (!node.raft && !node.removed) {
        c.log(`${node.id} restarted`);
        c.start(node);
      }
    });
  } else if (r < 0.4) {
    partition(c);
  } else if (r < 0.5) {
    c.network.randomizeRates();
  } else if (r < 0.6) {
    const node = c.rng.pick([...c.nodes.values()]);
    node.rate = 0.5 + c.rng() * 1.5;
    c.stats.clockChanges++;
  } else if (r < 0.7) {
    const lead = c.leader();
    if (lead) {
      c.stats.transfers++;
      const target = c.rng.pick(lead.raft!.voters());
      try {
        lead.raft!.transferLeader(target);
        c.drain(lead);
      } catch (err) {
        if (!(err instanceof ProposalDropped)) throw err;
      }
    }
  } else if (r < 0.85 && membership) {
    changeMembership(c);
  }
}

function partition(c: FaultTarget): void {
  const ids = [...c.nodes.values()].filter((n) => !n.removed).map((n) => n.id);
  const side = c.network.partition(ids);
  c.log(`partition {${[...side]}} | rest`);
}

function changeMembership(c: FaultTarget): void {
  const lead = c.leader();
  if (!lead) return;
  const { voters, learners } = lead.raft!.config();
  try {
    if (learners.length > 0 && c.rng.chance(0.6)) {
      // A learner: promoted (an 'add' of it) or removed.
      const id = c.rng.pick(learners);
      const type = voters.length < 5 && c.rng.chance(0.7) ? 'add' : 'remove';
      lead.raft!.proposeConfChange({ type, id });
      c.drain(lead);
      c.log(`${type === 'add' ? 'promote' : 'remove'} learner ${id} proposed`);
      c.stats.learnerChanges++;
    } else if (voters.length < 5 && c.rng.chance(0.5)) {
      const id = c.newId();
      const type = c.rng.chance(0.4) ? 'add-learner' : 'add';
      lead.raft!.proposeConfChange({ type, id });
      c.drain(lead);
      c.addNode(id, new MemoryStorage());
      c.log(`${type} ${id} proposed`);
      if (type === 'add-learner') c.stats.learnerChanges++;
    } else if (voters.length > 3) {
      const id = c.rng.pick(voters);
      lead.raft!.proposeConfChange({ type: 'remove', id });
      c.drain(lead);
      c.log(`remove ${id} proposed`);
    } else return;
    c.stats.confChanges++;
  } catch (err) {
    if (!(err instanceof ProposalDropped)) throw err;
  }
}
