// Which client an etcd URL needs: the v3 gateway's or v2's. Its own module because it names
// both implementations, and they import the interface and helpers of etcd-client.ts: here,
// nothing imports back.

import { AttachError, JSON_TYPE, parseJSON, type Http } from './http.js';
import type { EtcdClient } from './etcd-client.js';
import { V2Client } from './v2-client.js';
import { V3Client } from './v3-client.js';

/**
 * Which API an endpoint serves: the v3 gateway under /v3, /v3beta or /v3alpha, else v2. `only`
 * 'v2': the v2 API even where a v3 gateway answers (an etcd 3.4 with --enable-v2 seen as etcd 2
 * showed it: the v2 store's keys).
 */
export async function detectClient(
  http: Http,
  url: string,
  timeoutMs = http.timeoutMs,
  only?: 'v2',
): Promise<EtcdClient> {
  for (const api of only === 'v2' ? [] : (['v3', 'v3beta', 'v3alpha'] as const)) {
    const a = await http.request(url, `/${api}/maintenance/status`, {
      method: 'POST',
      body: '{}',
      type: JSON_TYPE,
      timeoutMs,
      retry: true,
    });
    const j = a.status === 200 ? parseJSON(a.text) : undefined;
    if (j?.header) return new V3Client(http, url, api, j);
    if (a.status === 400 && GATEWAY_CN.test(a.text)) throw new AttachError('tls', gatewayCNMessage(url));
    if (a.status !== 404) break;
  }
  const v = await http.request(url, '/version', { timeoutMs });
  if (v.status === 200 && parseJSON(v.text)?.etcdserver) return new V2Client(http, url);
  throw new AttachError(
    'unsupported',
    `${url}: not an etcd client URL (no v3 gateway, and /version answered ${v.status})`,
    v.status,
  );
}

/** etcd 3.4's gateway, with auth enabled, refuses a client certificate that has a CommonName. */
const GATEWAY_CN = /CommonName of client sending a request against gateway will be ignored/;

export function gatewayCNMessage(url: string): string {
  return `${url}: etcd refuses this client certificate on its v3 gateway because it has a CommonName while auth is enabled (etcd: "CommonName of client sending a request against gateway will be ignored and not used as expected"): use a client certificate without a CN, and log in with a user and password`;
}
