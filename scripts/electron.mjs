// Everything the Electron front door needs, shared by `npm start` and the Electron e2e test:
// - where Electron's binary is (it is an optional dependency: where npm cannot download the
//   binary, the package is skipped and the app says so and uses browser mode);
// - a better-sqlite3 built for Electron's ABI, kept apart in .native/ so that node_modules keeps
//   the Node build `npm test` needs (the app passes its path in RAFTLAB_SQLITE_BINDING);
// - the electron-vite build of main, preload and renderer into out/.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.dirname(path.dirname(fileURLToPath(import.meta.url)));

/** The Electron binary, or a sentence saying why there is none. */
export function findElectron() {
  const pkg = path.join(root, 'node_modules/electron');
  if (!fs.existsSync(path.join(pkg, 'package.json'))) {
    return {
      reason:
        "Electron's binary is not available here: npm could not download it, so the optional 'electron' package was skipped",
    };
  }
  const version = JSON.parse(fs.readFileSync(path.join(pkg, 'package.json'), 'utf8')).version;
  const pathTxt = path.join(pkg, 'path.txt');
  const bin = fs.existsSync(pathTxt) ? path.join(pkg, 'dist', fs.readFileSync(pathTxt, 'utf8').trim()) : '';
  if (!bin || !fs.existsSync(bin))
    return { reason: `electron ${version} is installed without its binary (the download failed)` };
  if (process.platform === 'linux' && !process.env.DISPLAY && !process.env.WAYLAND_DISPLAY) {
    return { reason: 'there is no display (DISPLAY / WAYLAND_DISPLAY unset) for an Electron window' };
  }
  return { bin, version };
}

function nodeGyp() {
  // npm ships node-gyp; under `npm start` npm_execpath names npm's own cli.
  const candidates = [
    process.env.npm_execpath &&
      path.join(path.dirname(process.env.npm_execpath), '../node_modules/node-gyp/bin/node-gyp.js'),
    path.join(path.dirname(process.execPath), '../lib/node_modules/npm/node_modules/node-gyp/bin/node-gyp.js'),
  ].filter(Boolean);
  const found = candidates.find((p) => fs.existsSync(p));
  if (!found) throw new Error("cannot find npm's node-gyp to build better-sqlite3 for Electron");
  return found;
}

/** Path of a better-sqlite3 binary built for this Electron; builds it once (about a minute). */
export function ensureElectronSqlite(version) {
  const dir = path.join(root, '.native', `electron-${version}-${process.platform}-${process.arch}`);
  const out = path.join(dir, 'better_sqlite3.node');
  if (fs.existsSync(out)) return out;
  console.error(`raftlab: building better-sqlite3 for Electron ${version} (once, about a minute)...`);
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'raftlab-native-'));
  try {
    const src = path.join(root, 'node_modules/better-sqlite3');
    const copy = path.join(work, 'better-sqlite3');
    fs.cpSync(src, copy, { recursive: true, filter: (p) => !p.startsWith(path.join(src, 'build')) });
    const env = { ...process.env };
    // A machine-wide nodedir would hand node-gyp Node's headers instead of Electron's.
    for (const k of Object.keys(env)) if (/^npm_config_nodedir$/i.test(k)) delete env[k];
    const r = spawnSync(
      process.execPath,
      [
        nodeGyp(),
        'rebuild',
        '--release',
        '--runtime=electron',
        `--target=${version}`,
        '--dist-url=https://electronjs.org/headers',
        `--arch=${process.arch}`,
      ],
      { cwd: copy, env, stdio: ['ignore', 'inherit', 'inherit'], timeout: 10 * 60_000 },
    );
    const built = path.join(copy, 'build/Release/better_sqlite3.node');
    if (r.status !== 0 || !fs.existsSync(built)) {
      throw new Error(
        `building better-sqlite3 for Electron ${version} failed (node-gyp exit ${r.status ?? r.signal}); Electron's headers must be downloadable`,
      );
    }
    fs.mkdirSync(dir, { recursive: true });
    fs.copyFileSync(built, out);
    return out;
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
}

/** electron-vite build of main, preload and renderer into out/. */
export function buildElectronApp() {
  const r = spawnSync(process.execPath, [path.join(root, 'node_modules/electron-vite/bin/electron-vite.js'), 'build'], {
    cwd: root,
    stdio: ['ignore', 'inherit', 'inherit'],
    timeout: 5 * 60_000,
  });
  if (r.status !== 0) throw new Error(`electron-vite build failed (exit ${r.status ?? r.signal})`);
  return path.join(root, 'out/main/index.js');
}

/** Arguments for the Electron binary: as root, Chromium refuses to start without --no-sandbox. */
export function electronArgs(main) {
  const args = [main];
  if (process.getuid?.() === 0) args.unshift('--no-sandbox');
  return args;
}
