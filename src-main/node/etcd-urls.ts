// etcd's pkg/types URL lists (urls.go, urlsmap.go), the one parser behind every URL etcd takes:
// the URL flags, --initial-cluster, discovery's answers and the members API's peerURLs.

import { parseURL, splitHostPort, urlString } from './go/url.js';
import { compareStrings } from './go/strings.js';

export interface InitialClusterMember {
  name: string;
  /** Normalised and sorted as etcd sorts them (types.NewURLs). */
  peerURLs: string[];
}

/**
 * types.NewURLs: each URL trimmed, parsed (Go's url.Parse), checked (scheme http, https, unix
 * or unixs; a host:port; no path), written back as url.URL.String() and sorted. Throws etcd's
 * error text.
 */
export function newURLs(list: readonly string[]): string[] {
  if (list.length === 0) throw new Error('no valid URLs given');
  const out: string[] = [];
  for (const raw of list) {
    const s = raw.trim();
    const u = parseURL(s);
    if (!['http', 'https', 'unix', 'unixs'].includes(u.scheme))
      throw new Error(`URL scheme must be http, https, unix, or unixs: ${s}`);
    if ('error' in splitHostPort(u.host)) throw new Error(`URL address does not have the form "host:port": ${s}`);
    if (u.path !== '') throw new Error(`URL must not contain a path: ${s}`);
    out.push(urlString(u));
  }
  return out.sort(compareStrings);
}

/** One comma-separated flag value (flags.URLsValue.Set). */
export function parseEtcdURLs(value: string): string[] {
  return newURLs(value.split(','));
}

/** Parses `n1=http://...,n2=http://...` like types.NewURLsMap, keeping names in order of first appearance. */
export function parseInitialCluster(s: string): InitialClusterMember[] {
  const raw = new Map<string, string[]>();
  for (const pair of s.split(',')) {
    if (pair === '') continue;
    const eq = pair.indexOf('=');
    const [name, url] = eq >= 0 ? [pair.slice(0, eq), pair.slice(eq + 1)] : [pair, ''];
    raw.set(name, [...(raw.get(name) ?? []), url]);
  }
  return [...raw].map(([name, urls]) => ({ name, peerURLs: newURLs(urls) }));
}

/** types.URLsMap.String(): `name=url` pairs, sorted. */
export function initialClusterToString(members: readonly InitialClusterMember[]): string {
  const pairs: string[] = [];
  for (const m of members) for (const u of m.peerURLs) pairs.push(`${m.name}=${u}`);
  return pairs.sort(compareStrings).join(',');
}
