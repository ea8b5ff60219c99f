// Maps a request's target onto a file of the built window, refusing rather than throwing:
// any page the user visits can send requests to a loopback port, so every odd target (NUL
// bytes, bad percent-encoding, `..`, backslashes, overlong or absolute-form targets, symlinks
// leading out of the folder) must end in a plain status, never in an exception.

import fs from 'node:fs';
import path from 'node:path';

/** Longer request targets are refused (the window's own are well under 200 characters). */
export const MAX_TARGET = 2048;

export type StaticLookup =
  { ok: true; file: string; pathname: string } | { ok: false; status: 400 | 404 | 414; reason: string };

/**
 * The decoded path of an origin-form target ("/a/b?c"), split into its segments, or why not.
 * Pure and total: it returns for every string.
 */
export function targetSegments(
  target: string,
): { segments: string[]; pathname: string } | { status: 400 | 414; reason: string } {
  if (target.length > MAX_TARGET)
    return { status: 414, reason: `a request target is at most ${MAX_TARGET} characters` };
  const [raw = ''] = target.split(/[?#]/, 1);
  if (!raw.startsWith('/') || raw.startsWith('//'))
    return { status: 400, reason: 'a request target is a path starting with one "/"' };
  let pathname: string;
  try {
    pathname = decodeURIComponent(raw);
  } catch {
    return { status: 400, reason: 'bad percent-encoding in the path' };
  }
  // After decoding: %00, %5c and %2f..%2f arrive here as the characters they stand for.
  // eslint-disable-next-line no-control-regex -- control bytes are what this check refuses
  if (/[\0-\x1f\x7f\\]/.test(pathname))
    return { status: 400, reason: 'control characters and backslashes are not allowed in a path' };
  const segments = pathname.split('/').slice(1);
  if (segments.some((s) => s === '..' || s === '.'))
    return { status: 400, reason: '"." and ".." are not allowed in a path' };
  return { segments: segments.filter((s) => s !== ''), pathname };
}

/** The file under `root` a GET for `target` should answer with; never a file outside `root`. */
export async function lookupStatic(root: string, target: string): Promise<StaticLookup> {
  const t = targetSegments(target);
  if ('status' in t) return { ok: false, ...t };
  // Dot-files (an editor's swap file, .DS_Store) are not part of the window.
  if (t.segments.some((s) => s.startsWith('.'))) return { ok: false, status: 404, reason: 'not found' };
  const realRoot = await fs.promises.realpath(root);
  let file = path.join(realRoot, ...t.segments);
  let real: string;
  try {
    real = await fs.promises.realpath(file);
    if ((await fs.promises.stat(real)).isDirectory()) {
      file = path.join(file, 'index.html');
      real = await fs.promises.realpath(file);
    }
    if (!(await fs.promises.stat(real)).isFile()) return { ok: false, status: 404, reason: 'not found' };
  } catch {
    return { ok: false, status: 404, reason: 'not found' };
  }
  // A symlink inside the folder that leads out of it is not part of the window either.
  if (real !== realRoot && !real.startsWith(realRoot + path.sep))
    return { ok: false, status: 404, reason: 'not found' };
  return { ok: true, file: real, pathname: t.pathname };
}
