// Raft core throughput in the simulated network: how many entries a 3- and a 5-node cluster
// commit per wall-clock second when nothing fails (no I/O: this measures the core itself).
import { SimCluster } from '../src-main/sim/sim-cluster.js';

export async function benchRaft(print: (line: string) => void): Promise<void> {
  for (const nodes of [3, 5]) {
    const sim = new SimCluster({
      seed: 1,
      nodes,
      faults: false,
      chaosMs: 5000,
      settleMs: 2000,
      proposalEveryMs: 0.2,
      snapshotEvery: 1000,
    });
    const t0 = performance.now();
    const stats = sim.run();
    const secs = (performance.now() - t0) / 1000;
    print(
      `raft core (simulated, ${nodes} nodes): ${Math.round(stats.committed / secs)} commits/s ` +
        `(${stats.committed} entries, ${stats.messages} messages in ${secs.toFixed(2)} s wall)`,
    );
  }
}
