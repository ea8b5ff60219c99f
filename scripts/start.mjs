// `npm start`: the Electron window where Electron can run; otherwise say why, plainly, and
// start browser mode (the same cluster core, its window served on 127.0.0.1).
// RAFTLAB_BROWSER=1 asks for browser mode directly.
import { spawn } from 'node:child_process';
import { buildCli } from './build-cli.mjs';
import { buildRenderer } from './build-renderer.mjs';
import { buildElectronApp, electronArgs, ensureElectronSqlite, findElectron } from './electron.mjs';

function run(cmd, args, env = process.env) {
  const child = spawn(cmd, args, { stdio: 'inherit', env });
  for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => child.kill(sig));
  child.on('exit', (code) => process.exit(code ?? 0));
}

async function browserMode(why) {
  if (why) console.error(`raftlab: ${why}; starting browser mode instead.`);
  if (await buildRenderer()) console.error('raftlab: built the window (out/renderer)');
  // So that `npx raftlab node` from this checkout starts at once too.
  await buildCli();
  run(process.execPath, ['--import', 'tsx', 'src-main/web/main.ts']);
}

const electron = process.env.RAFTLAB_BROWSER ? { reason: 'RAFTLAB_BROWSER is set' } : findElectron();
if (!electron.bin) {
  await browserMode(electron.reason);
} else {
  try {
    const binding = ensureElectronSqlite(electron.version);
    const main = buildElectronApp();
    console.error(`raftlab: opening the Electron ${electron.version} window`);
    run(electron.bin, electronArgs(main), { ...process.env, RAFTLAB_SQLITE_BINDING: binding });
  } catch (err) {
    await browserMode(`the Electron window cannot start: ${err instanceof Error ? err.message : String(err)}`);
  }
}
