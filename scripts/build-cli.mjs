// Builds the `raftlab` command into one JavaScript file (out/cli/raftlab.mjs) with esbuild, so
// that `raftlab node` starts without compiling TypeScript on every launch (tsx took 0.5–3 s
// before the first log line; etcd takes ~20 ms). Rebuilt when missing or older than its
// sources: bin/raftlab.mjs checks on every launch (a few ms of stat calls), `npm test` and
// `npm start` build it ahead. Packages stay external (better-sqlite3 is a native addon).
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { newest } from './build-renderer.mjs';

const root = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
export const cliBundle = path.join(root, 'out/cli/raftlab.mjs');

export function cliIsStale() {
  if (!fs.existsSync(cliBundle)) return true;
  const sources = Math.max(newest(path.join(root, 'src-main')), newest(path.join(root, 'src-shared')));
  return sources > fs.statSync(cliBundle).mtimeMs;
}

export async function buildCli({ force = false } = {}) {
  if (!force && !cliIsStale()) return false;
  const { build } = await import('esbuild');
  // Built in a folder of its own and renamed into place (map first), so that a concurrent
  // launch never imports half a file.
  const tmpDir = path.join(path.dirname(cliBundle), `.build-${process.pid}`);
  const tmp = path.join(tmpDir, path.basename(cliBundle));
  await build({
    entryPoints: [path.join(root, 'src-main/cli.ts')],
    outfile: tmp,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    packages: 'external',
    sourcemap: true,
    logLevel: 'error',
  });
  fs.renameSync(`${tmp}.map`, `${cliBundle}.map`);
  fs.renameSync(tmp, cliBundle);
  fs.rmSync(tmpDir, { recursive: true, force: true });
  return true;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === path.resolve(process.argv[1])) {
  const t0 = Date.now();
  const did = await buildCli({ force: process.argv.includes('--force') });
  console.log(
    did ? `raftlab: command built into out/cli in ${Date.now() - t0} ms` : 'raftlab: command is up to date (out/cli)',
  );
}
