// Builds the renderer (out/renderer) when it is missing or older than its sources, so that
// `npm start` and `npm test` never serve a stale window. `--force` always builds.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
const built = path.join(root, 'out/renderer/index.html');

/** The newest modification time of any file under `dir` (ms). */
export function newest(dir) {
  let t = 0;
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    t = Math.max(t, e.isDirectory() ? newest(p) : fs.statSync(p).mtimeMs);
  }
  return t;
}

export function rendererIsStale() {
  if (!fs.existsSync(built)) return true;
  const sources = Math.max(
    newest(path.join(root, 'src-renderer')),
    newest(path.join(root, 'src-shared')),
    fs.statSync(path.join(root, 'vite.renderer.config.ts')).mtimeMs,
  );
  return sources > fs.statSync(built).mtimeMs;
}

export async function buildRenderer({ force = false } = {}) {
  if (!force && !rendererIsStale()) return false;
  const { build } = await import('vite');
  await build({ configFile: path.join(root, 'vite.renderer.config.ts') });
  return true;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === path.resolve(process.argv[1])) {
  const force = process.argv.includes('--force');
  const t0 = Date.now();
  const did = await buildRenderer({ force });
  console.log(
    did
      ? `raftlab: renderer built into out/renderer in ${Date.now() - t0} ms`
      : 'raftlab: renderer is up to date (out/renderer)',
  );
}
