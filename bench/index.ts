// `npm run bench`: every benchmark, printed as figures (speed lives here, not in tests).
import { runCheckerBench } from './checker-bench.js';
import { benchCluster } from './cluster-bench.js';
import { benchFork } from './fork-bench.js';
import { benchPeer } from './peer-bench.js';
import { benchRaft } from './raft-bench.js';
import { benchRenderer } from './renderer-bench.js';
import { benchStartup } from './startup-bench.js';
import { benchStorage } from './storage-bench.js';
import { runTraceBench } from './trace-bench.js';
import { benchWriteLatency } from './write-latency.js';

const print = (line: string) => console.log(line);
const only = process.argv[2];
const benches: Record<string, (p: typeof print) => Promise<void>> = {
  raft: benchRaft,
  peer: benchPeer,
  storage: benchStorage,
  cluster: benchCluster,
  startup: benchStartup,
  'write-latency': benchWriteLatency,
  trace: () => runTraceBench(),
  fork: benchFork,
  checker: () => runCheckerBench(),
  renderer: benchRenderer,
};
for (const [name, run] of Object.entries(benches)) {
  if (only && only !== name) continue;
  await run(print);
}
