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
  // Split: what only some runs need (the v3 API with gRPC and its .proto files, the proxy, the
  // other commands) goes into chunks loaded when asked for, so a node starts without them.
  // Built in a folder of its own and moved into place, chunks and map before the entry, so
  // that a concurrent launch never imports half a build.
  const outDir = path.dirname(cliBundle);
  const tmpDir = path.join(outDir, `.build-${process.pid}`);
  fs.rmSync(tmpDir, { recursive: true, force: true });
  await build({
    entryPoints: { [path.basename(cliBundle, '.mjs')]: path.join(root, 'src-main/cli.ts') },
    outdir: tmpDir,
    outExtension: { '.js': '.mjs' },
    chunkNames: 'chunk-[hash]',
    splitting: true,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    packages: 'external',
    sourcemap: true,
    logLevel: 'error',
  });
  const built = fs.readdirSync(tmpDir);
  const entry = path.basename(cliBundle);
  const order = [...built.filter((f) => !f.startsWith(entry)), `${entry}.map`, entry];
  for (const f of order) fs.renameSync(path.join(tmpDir, f), path.join(outDir, f));
  fs.rmSync(tmpDir, { recursive: true, force: true });
  removeOldChunks(outDir, new Set(built));
  return true;
}

/**
 * Chunks of earlier builds. A node started from one may still load its chunks later (a chunk
 * is named by its content hash), so only those a day old go.
 */
function removeOldChunks(outDir, keep) {
  const dayAgo = Date.now() - 24 * 3600 * 1000;
  for (const f of fs.readdirSync(outDir)) {
    if (!f.startsWith('chunk-') || keep.has(f)) continue;
    const file = path.join(outDir, f);
    if (fs.statSync(file).mtimeMs < dayAgo) fs.rmSync(file, { force: true });
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === path.resolve(process.argv[1])) {
  const t0 = Date.now();
  const did = await buildCli({ force: process.argv.includes('--force') });
  console.log(
    did ? `raftlab: command built into out/cli in ${Date.now() - t0} ms` : 'raftlab: command is up to date (out/cli)',
  );
}
