// Browser mode serves the built window and nothing else: where out/renderer is missing (a fresh
// clone, `npm run web` before any build), it is built first; where it cannot be built (no
// vite, a failing build), that is said plainly instead of serving some other page.

import fs from 'node:fs';
import path from 'node:path';

export type WindowBuild = { ok: true; dir: string; built: boolean } | { ok: false; message: string };

/**
 * The folder holding the built window (its index.html), building it with `build` when it is
 * missing. `build` is scripts/build-renderer.mjs's buildRenderer in the app.
 */
export async function ensureWindowBuilt(dir: string, build: () => Promise<unknown>): Promise<WindowBuild> {
  const page = path.join(dir, 'index.html');
  if (fs.existsSync(page)) return { ok: true, dir, built: false };
  try {
    await build();
  } catch (err) {
    return {
      ok: false,
      message:
        `the window is not built (${page} is missing) and building it failed: ${err instanceof Error ? err.message : String(err)}. ` +
        'Run `npm run build:web` in the raftlab folder (it needs the dev dependencies: `npm install`), then start again.',
    };
  }
  if (!fs.existsSync(page)) {
    return {
      ok: false,
      message: `the window is not built: the build finished but ${page} is still missing. Run \`npm run build:web\` and look at its output.`,
    };
  }
  return { ok: true, dir, built: true };
}

/** What the page request and the log say where the built window is missing. */
export function windowNotBuilt(dir: string): string {
  return (
    `the window is not built: ${path.join(dir, 'index.html')} is missing. Run \`npm run build\` in the raftlab folder ` +
    '(it needs the dev dependencies: `npm install`), then reload the page.'
  );
}
