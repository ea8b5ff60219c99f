// Browser mode: the same supervisor as the desktop app, its window served on 127.0.0.1.
// `npm run web`, and what `npm start` falls back to where Electron cannot run.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { WindowCore } from '../app/window-core.js';
import { Supervisor } from '../cluster/supervisor.js';
import { LEARNING_SPEED } from '../../src-shared/commands.js';
import { startWebServer } from './web-server.js';
import { ensureWindowBuilt } from './window-build.js';

const size = Number(process.env.RAFTLAB_NODES ?? 3);
// The built Svelte window (scripts/build-renderer.mjs), built first where it is missing; before
// the cluster starts, so that a window that cannot be had stops here with a plain message.
const windowBuild = await ensureWindowBuilt(fileURLToPath(new URL('../../out/renderer', import.meta.url)), async () => {
  console.log('raftlab: building the window (out/renderer)...');
  const { buildRenderer } = await import('../../scripts/build-renderer.mjs');
  await buildRenderer({ force: true });
});
if (!windowBuild.ok) {
  console.error(`raftlab: ${windowBuild.message}`);
  process.exit(1);
}
if (windowBuild.built) console.log('raftlab: built the window (out/renderer)');
const supervisor = new Supervisor();
// Recording starts before the cluster, so the first election is in the trace.
const core = new WindowCore(supervisor);
await core.record(path.join(supervisor.dir, 'session.trace.jsonl'));
await supervisor.start(size);
// The window opens in slow motion, where an election takes a few seconds to watch (×1 is one
// click away); the first election runs in real time, so nobody waits 10 s for a first leader.
await supervisor.waitForLeader(10_000);
await supervisor.execute({ type: 'setSpeed', speed: LEARNING_SPEED });
const web = await startWebServer({ core, port: Number(process.env.RAFTLAB_PORT ?? 0), staticDir: windowBuild.dir });
// `raftlab attach --web URL...` (or RAFTLAB_ATTACH=URL,URL): open on that cluster instead.
const attach = (process.env.RAFTLAB_ATTACH ?? '')
  .split(',')
  .map((u) => u.trim())
  .filter(Boolean);
if (attach.length > 0) {
  await core.handle({ id: 'startup-attach', cmd: { type: 'attach', urls: attach } });
  console.log(`raftlab: attached to ${attach.join(', ')}; open ${web.url}`);
} else {
  console.log(`raftlab: a real ${size}-node cluster is running; open ${web.url}`);
}

// Open a browser where one exists; headless machines just print the URL above.
const opener = ['/usr/bin/xdg-open', '/usr/bin/open'].find((p) => fs.existsSync(p));
if (opener && process.env.RAFTLAB_NO_BROWSER === undefined && (process.env.DISPLAY || process.platform === 'darwin')) {
  spawn(opener, [web.url], { stdio: 'ignore', detached: true })
    .on('error', () => {})
    .unref();
}

let stopping = false;
const shutdown = async () => {
  if (stopping) return;
  stopping = true;
  console.log('raftlab: stopping the cluster...');
  await web.close();
  await core.stop();
  await supervisor.stop();
  process.exit(0);
};
process.on('SIGINT', () => void shutdown());
process.on('SIGTERM', () => void shutdown());
