// net/http's handling of request targets and redirects, as etcd's v2 API inherits it.

/** Splits a request target into its raw path and query; absolute-form targets lose their origin. */
export function splitTarget(url: string): { rawPath: string; rawQuery: string } | null {
  const abs = /^[a-zA-Z][a-zA-Z0-9+.-]*:\/\/[^/?]*/.exec(url);
  if (abs) url = url.slice(abs[0].length);
  const q = url.indexOf('?');
  const rawPath = q === -1 ? url : url.slice(0, q);
  const rawQuery = q === -1 ? '' : url.slice(q + 1);
  return { rawPath: rawPath === '' ? '/' : rawPath, rawQuery };
}

/** An empty, "." or ".." segment (or a trailing slash, which the long way keeps too). */
const UNCLEAN_SEGMENT = /\/\.{0,2}(?:\/|$)/;

/** net/http's cleanPath: path.Clean, keeping a trailing slash. */
export function cleanPath(p: string): string {
  // Nearly every request's path is clean already: rooted, no empty, "." or ".." segment.
  if (p.startsWith('/') && !UNCLEAN_SEGMENT.test(p)) return p;
  if (p === '') return '/';
  if (p[0] !== '/') p = `/${p}`;
  const out: string[] = [];
  for (const seg of p.split('/')) {
    if (seg === '' || seg === '.') continue;
    if (seg === '..') out.pop();
    else out.push(seg);
  }
  let np = `/${out.join('/')}`;
  if (p.endsWith('/') && np !== '/') np += '/';
  return np;
}

/** http's hexEscapeNonASCII over a latin1 (byte) string. */
export function hexEscapeNonASCII(s: string): string {
  let out = '';
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    out += c >= 0x80 ? `%${c.toString(16).toUpperCase()}` : s[i];
  }
  return out;
}

export function htmlEscape(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&#34;', "'": '&#39;' })[c]!);
}

/** A uint64 written in hex (any number of leading zeros, as Go's ParseUint allows), or null. */
