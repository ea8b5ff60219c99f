// Go's net/url (Parse, URL.String, unescaping, ParseQuery) and net.SplitHostPort, as etcd 3.4
// uses them: its URL flags and the members API go through types.NewURLs (../etcd-urls.ts),
// which is url.Parse + SplitHostPort; the v2 HTTP layer decodes paths and forms with them.
// Strings hold text; bytes a %-escape produces that are not UTF-8 read as U+FFFD (Go would keep
// the raw byte), which no URL etcd accepts depends on.

import { quote } from './strconv.js';

export interface GoURL {
  scheme: string;
  opaque: string;
  /** Decoded user name and password (password null when the userinfo had no colon). */
  user: { username: string; password: string | null } | null;
  /** Decoded host[:port]. */
  host: string;
  /** Decoded path. */
  path: string;
  omitHost: boolean;
  rawQuery: string;
  forceQuery: boolean;
  /** Decoded fragment, and its raw form when that is how String() writes it. */
  fragment: string;
  rawFragment: string;
}

/** A *url.Error: `parse "<url>": <why>`. */
export class URLError extends Error {
  override readonly name = 'URLError';
  constructor(
    readonly url: string,
    readonly why: string,
  ) {
    super(`parse ${quote(url)}: ${why}`);
  }
}

type Encoding = 'path' | 'pathSegment' | 'host' | 'zone' | 'userPassword' | 'queryComponent' | 'fragment';

const isHex = (c: number): boolean => (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x46) || (c >= 0x61 && c <= 0x66);
const unhex = (c: number): number => Number.parseInt(String.fromCharCode(c), 16);

/** url.shouldEscape. */
function shouldEscape(c: number, mode: Encoding): boolean {
  const ch = String.fromCharCode(c);
  if (/[A-Za-z0-9]/.test(ch)) return false;
  if ((mode === 'host' || mode === 'zone') && `!$&'()*+,;=:[]<>"`.includes(ch)) return false;
  if ('-_.~'.includes(ch)) return false;
  if ('$&+,/:;=?@'.includes(ch)) {
    switch (mode) {
      case 'path':
        return ch === '?';
      case 'pathSegment':
        return '/;,?'.includes(ch);
      case 'userPassword':
        return '@/?:'.includes(ch);
      case 'queryComponent':
        return true;
      case 'fragment':
        return false;
    }
  }
  if (mode === 'fragment' && '!()*'.includes(ch)) return false;
  return true;
}

/** url.escape over the UTF-8 bytes of s. */
export function escape(s: string, mode: Encoding): string {
  let out = '';
  for (const c of Buffer.from(s, 'utf8')) {
    if (!shouldEscape(c, mode)) out += String.fromCharCode(c);
    else if (c === 0x20 && mode === 'queryComponent') out += '+';
    else out += `%${c.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

/** url.unescape over bytes: the decoded bytes, or Go's error text (EscapeError, InvalidHostError). */
export function unescapeBytes(src: Uint8Array, mode: Encoding): Buffer | string {
  const text = (from: number, to: number) => Buffer.from(src.subarray(from, Math.min(to, src.length))).toString('utf8');
  const out = Buffer.alloc(src.length);
  let n = 0;
  for (let i = 0; i < src.length; i++) {
    const c = src[i]!;
    if (c === 0x25) {
      if (i + 2 >= src.length || !isHex(src[i + 1]!) || !isHex(src[i + 2]!))
        return `invalid URL escape ${quote(text(i, i + 3))}`;
      const is25 = src[i + 1] === 0x32 && src[i + 2] === 0x35;
      // RFC 3986: a host %-escapes only non-ASCII bytes; RFC 6874's %25 introduces a zone.
      if (mode === 'host' && unhex(src[i + 1]!) < 8 && !is25) return `invalid URL escape ${quote(text(i, i + 3))}`;
      const v = (unhex(src[i + 1]!) << 4) | unhex(src[i + 2]!);
      if (mode === 'zone' && !is25 && v !== 0x20 && shouldEscape(v, 'host'))
        return `invalid URL escape ${quote(text(i, i + 3))}`;
      out[n++] = v;
      i += 2;
    } else {
      if ((mode === 'host' || mode === 'zone') && c < 0x80 && shouldEscape(c, mode)) {
        return `invalid character ${quote(String.fromCharCode(c))} in host name`;
      }
      out[n++] = mode === 'queryComponent' && c === 0x2b ? 0x20 : c;
    }
  }
  return out.subarray(0, n);
}

function unescape(s: string, mode: Encoding): string {
  const r = unescapeBytes(Buffer.from(s, 'utf8'), mode);
  if (typeof r === 'string') throw new Error(r);
  return r.toString('utf8');
}

/** url.Parse; throws URLError with Go's text. */
export function parseURL(raw: string): GoURL {
  const hash = raw.indexOf('#');
  const before = hash >= 0 ? raw.slice(0, hash) : raw;
  let u: GoURL;
  try {
    u = parseNoFragment(before);
  } catch (e) {
    throw new URLError(before, (e as Error).message);
  }
  if (hash < 0) return u;
  const frag = raw.slice(hash + 1);
  try {
    u.fragment = unescape(frag, 'fragment');
  } catch (e) {
    throw new URLError(raw, (e as Error).message);
  }
  u.rawFragment = escape(u.fragment, 'fragment') === frag ? '' : frag;
  return u;
}

function parseNoFragment(raw: string): GoURL {
  // eslint-disable-next-line no-control-regex -- Go refuses exactly these bytes in a URL
  if (/[\x00-\x1f\x7f]/.test(raw)) throw new Error('net/url: invalid control character in URL');
  const u: GoURL = {
    scheme: '',
    opaque: '',
    user: null,
    host: '',
    path: '',
    omitHost: false,
    rawQuery: '',
    forceQuery: false,
    fragment: '',
    rawFragment: '',
  };
  if (raw === '*') {
    u.path = '*';
    return u;
  }
  let rest = raw;
  // getScheme: letters, then letters, digits, + - . up to a colon.
  for (let i = 0; i < rest.length; i++) {
    const c = rest[i]!;
    if (/[A-Za-z]/.test(c)) continue;
    if (/[0-9+\-.]/.test(c) && i > 0) continue;
    if (c === ':') {
      if (i === 0) throw new Error('missing protocol scheme');
      u.scheme = rest.slice(0, i).toLowerCase();
      rest = rest.slice(i + 1);
    }
    break;
  }
  if (rest.endsWith('?') && rest.indexOf('?') === rest.length - 1) {
    u.forceQuery = true;
    rest = rest.slice(0, -1);
  } else {
    const q = rest.indexOf('?');
    if (q >= 0) [rest, u.rawQuery] = [rest.slice(0, q), rest.slice(q + 1)];
  }
  if (!rest.startsWith('/')) {
    if (u.scheme !== '') {
      u.opaque = rest; // a rootless path (RFC 3986) is opaque
      return u;
    }
    const slash = rest.indexOf('/');
    if ((slash >= 0 ? rest.slice(0, slash) : rest).includes(':'))
      throw new Error('first path segment in URL cannot contain colon');
  }
  if ((u.scheme !== '' || !rest.startsWith('///')) && rest.startsWith('//')) {
    let authority = rest.slice(2);
    rest = '';
    const slash = authority.indexOf('/');
    if (slash >= 0) [authority, rest] = [authority.slice(0, slash), authority.slice(slash)];
    parseAuthority(u, authority);
  } else if (u.scheme !== '' && rest.startsWith('/')) {
    u.omitHost = true;
  }
  u.path = unescape(rest, 'path');
  return u;
}

function parseAuthority(u: GoURL, authority: string): void {
  const at = authority.lastIndexOf('@');
  u.host = parseHost(at < 0 ? authority : authority.slice(at + 1));
  if (at < 0) return;
  const userinfo = authority.slice(0, at);
  if (!/^[A-Za-z0-9\-._:~!$&'()*+,;=%@]*$/.test(userinfo)) throw new Error('net/url: invalid userinfo');
  const colon = userinfo.indexOf(':');
  u.user =
    colon < 0
      ? { username: unescape(userinfo, 'userPassword'), password: null }
      : {
          username: unescape(userinfo.slice(0, colon), 'userPassword'),
          password: unescape(userinfo.slice(colon + 1), 'userPassword'),
        };
}

const validOptionalPort = (p: string): boolean => p === '' || /^:[0-9]*$/.test(p);

function parseHost(host: string): string {
  if (host.startsWith('[')) {
    const end = host.lastIndexOf(']');
    if (end < 0) throw new Error("missing ']' in host");
    const colonPort = host.slice(end + 1);
    if (!validOptionalPort(colonPort)) throw new Error(`invalid port ${quote(colonPort)} after host`);
    const zone = host.slice(0, end).indexOf('%25');
    if (zone >= 0)
      return (
        unescape(host.slice(0, zone), 'host') +
        unescape(host.slice(zone, end), 'zone') +
        unescape(host.slice(end), 'host')
      );
  } else {
    const i = host.lastIndexOf(':');
    if (i >= 0 && !validOptionalPort(host.slice(i))) throw new Error(`invalid port ${quote(host.slice(i))} after host`);
  }
  return unescape(host, 'host');
}

/** url.URL.String(). */
export function urlString(u: GoURL): string {
  let s = '';
  if (u.scheme !== '') s += `${u.scheme}:`;
  if (u.opaque !== '') s += u.opaque;
  else {
    if ((u.scheme !== '' || u.host !== '' || u.user !== null) && !(u.omitHost && u.host === '' && u.user === null)) {
      if (u.host !== '' || u.path !== '' || u.user !== null) s += '//';
      if (u.user !== null) {
        s += escape(u.user.username, 'userPassword');
        if (u.user.password !== null) s += `:${escape(u.user.password, 'userPassword')}`;
        s += '@';
      }
      s += escape(u.host, 'host');
    }
    const path = escape(u.path, 'path');
    if (path !== '' && path[0] !== '/' && u.host !== '') s += '/';
    if (s === '' && /^[^/]*:/.test(path)) s += './'; // a colon in the first segment would read as a scheme
    s += path;
  }
  if (u.forceQuery || u.rawQuery !== '') s += `?${u.rawQuery}`;
  if (u.fragment !== '')
    s += `#${u.rawFragment !== '' && validEncodedFragment(u.rawFragment) ? u.rawFragment : escape(u.fragment, 'fragment')}`;
  return s;
}

function validEncodedFragment(s: string): boolean {
  for (const c of Buffer.from(s, 'utf8')) {
    if (`!$&'()*+,;=:@[]%`.includes(String.fromCharCode(c))) continue;
    if (shouldEscape(c, 'fragment')) return false;
  }
  return true;
}

/** net.SplitHostPort: host and port, or net.AddrError's text. */
export function splitHostPort(hostport: string): { host: string; port: string } | { error: string } {
  const fail = (why: string) => ({ error: `address ${hostport}: ${why}` });
  const i = hostport.lastIndexOf(':');
  if (i < 0) return fail('missing port in address');
  let host: string;
  let j = 0;
  let k = 0;
  if (hostport.startsWith('[')) {
    const end = hostport.indexOf(']');
    if (end < 0) return fail("missing ']' in address");
    if (end + 1 === hostport.length) return fail('missing port in address');
    if (end + 1 !== i)
      return fail(hostport[end + 1] === ':' ? 'too many colons in address' : 'missing port in address');
    host = hostport.slice(1, end);
    [j, k] = [1, end + 1];
  } else {
    host = hostport.slice(0, i);
    if (host.includes(':')) return fail('too many colons in address');
  }
  if (hostport.slice(j).includes('[')) return fail("unexpected '[' in address");
  if (hostport.slice(k).includes(']')) return fail("unexpected ']' in address");
  return { host, port: hostport.slice(i + 1) };
}

// ---------------------------------------------------------------------------------------------
// The server side: request targets and forms arrive as bytes (Node hands them out as latin1).

/** What unescapeLatin1 changes: an escape, a `+` in a query, a byte that is not ASCII (UTF-8 to decode). */
const NEEDS_UNESCAPE_PATH = /[%\u0080-\uffff]/;
const NEEDS_UNESCAPE_QUERY = /[%+\u0080-\uffff]/;

/** A %-decoded request path or query component (`+` is a space in a query), or null on a bad escape. */
export function unescapeLatin1(s: string, query: boolean): string | null {
  // Most paths, keys and values have nothing to unescape: no bytes to copy then (every request has a few).
  if (!(query ? NEEDS_UNESCAPE_QUERY : NEEDS_UNESCAPE_PATH).test(s)) return s;
  const r = unescapeBytes(Buffer.from(s, 'latin1'), query ? 'queryComponent' : 'path');
  return typeof r === 'string' ? null : r.toString('utf8');
}

/** The EscapeError text for the first bad `%` of a latin1 string. */
export function escapeErrorLatin1(s: string): string {
  const r = unescapeBytes(Buffer.from(s, 'latin1'), 'path');
  return typeof r === 'string' ? r : 'invalid URL escape';
}

/** url.ParseQuery (Go 1.17+) into `into`; returns its error text or null. */
export function parseQuery(query: string, into: URLSearchParams): string | null {
  let err: string | null = null;
  for (const pair of query.split('&')) {
    if (pair.includes(';')) {
      err = 'invalid semicolon separator in query';
      continue;
    }
    if (pair === '') continue;
    const eq = pair.indexOf('=');
    const rawKey = eq === -1 ? pair : pair.slice(0, eq);
    const rawValue = eq === -1 ? '' : pair.slice(eq + 1);
    const key = unescapeLatin1(rawKey, true);
    if (key === null) {
      err ??= escapeErrorLatin1(rawKey);
      continue;
    }
    const value = unescapeLatin1(rawValue, true);
    if (value === null) {
      err ??= escapeErrorLatin1(rawValue);
      continue;
    }
    into.append(key, value);
  }
  return err;
}

/** url.URL{Path: p}.EscapedPath(). */
export function escapedPath(p: string): string {
  return escape(p, 'path');
}
