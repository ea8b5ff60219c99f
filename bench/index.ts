// `npm run bench`: every benchmark, printed as figures (speed lives here, not in tests).
import { benchRaft } from './raft-bench.js';

const print = (line: string) => console.log(line);
const only = process.argv[2];
const benches: Record<string, (p: typeof print) => Promise<void>> = {
  raft: benchRaft,
};
for (const [name, run] of Object.entries(benches)) {
  if (only && only !== name) continue;
  await run(print);
}
