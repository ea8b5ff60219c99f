// `npm start`: the Electron window where Electron can run; otherwise say why, plainly, and
// start browser mode (the same cluster core, its window served on 127.0.0.1).
import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
let electron;
try {
  electron = require('electron'); // the package exports the path of its binary
} catch {
  electron = undefined;
}
if (typeof electron === 'string') {
  console.error('raftlab: the Electron window is not wired up yet; starting browser mode instead.');
} else {
  console.error("raftlab: Electron's binary is not available here (it cannot be downloaded on this machine); starting browser mode instead.");
}
const child = spawn(process.execPath, ['--import', 'tsx', 'src-main/web/main.ts'], { stdio: 'inherit' });
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => child.kill(sig));
child.on('exit', (code) => process.exit(code ?? 0));
