// etcd 3.4's v2 discovery (etcdserver/api/v2discovery/discovery.go), against any v2 keys API:
// a real etcd, Debian's etcd-discovery service, or a raftlab cluster.
//
// The discovery URL names a directory: `http://host:2379/v2/keys/discovery/<token>`. Its
// `_config/size` says how many members the cluster has; each member registers itself as
// `<dir>/<member id>` = `name=peerURL[,name=peerURL]` (create-only), then waits with a recursive
// watch until `size` registrations exist. The first `size` registrations by creation index form
// the cluster; a member that finds itself beyond them is told the cluster is full. As in etcd,
// the keys are requested at the discovery URL's own path (etcd uses a keys client with an empty
// prefix), so the URL must include `/v2/keys/...` when the service is a plain etcd.
//
// While the service cannot be reached, etcd retries forever with an exponential backoff
// (2^n seconds, capped at 256 s); so does this, unless `maxRetries` says otherwise (tests).

import { goDuration } from '../log.js';
import { netError } from '../proxy/remote-peers.js';
import { backoffMs, sleep } from './backoff.js';

export class DiscoveryError extends Error {}

// etcd's error texts, word for word.
export const ERR_INVALID_URL = 'discovery: invalid URL';
export const ERR_BAD_SIZE_KEY = 'discovery: size key is bad';
export const ERR_SIZE_NOT_FOUND = 'discovery: size key not found';
export const ERR_DUPLICATE_ID = 'discovery: found duplicate id';
export const ERR_DUPLICATE_NAME = 'discovery: found duplicate name';
export const ERR_FULL_CLUSTER = 'discovery: cluster is full';
export const ERR_TOO_MANY_RETRIES = 'discovery: too many retries';
export const ERR_BAD_DISCOVERY_ENDPOINT = 'discovery: bad discovery endpoint';

export type DiscoveryLog = (level: 'I' | 'N' | 'W' | 'E', pkg: string, msg: string) => void;

export interface DiscoveryOptions {
  /** `--discovery`: the registration directory's URL. */
  url: string;
  /** This member's id (etcd derives it with the discovery URL as the cluster token). */
  id: string;
  log: DiscoveryLog;
  /** Retries while the service is unreachable (etcd: unbounded). */
  maxRetries?: number;
  /** Backoff of the n-th retry in ms (etcd: 2^min(n,8) s). */
  backoffMs?: (retry: number) => number;
  /** Each request's deadline (etcd's client.DefaultRequestTimeout is 5 s). */
  requestTimeoutMs?: number;
  signal?: AbortSignal;
}

interface V2Node {
  key: string;
  value?: string;
  dir?: boolean;
  nodes?: V2Node[];
  createdIndex: number;
  modifiedIndex: number;
}

const PKG = 'discovery';
const MAX_EXPONENTIAL_RETRIES = 8;

/** A network failure (etcd's client.ClusterError, its message what etcd logs: Detail()): retried with backoff. */
class Unreachable extends Error {}

/** A v2 error answer (errorCode 100: key not found, 105: node exists...). */
class KeysError extends Error {
  constructor(
    readonly errorCode: number,
    message: string,
  ) {
    super(message);
  }
}

/**
 * JoinCluster: registers this member (`config` = `name=peerURL[,...]`) and waits for the rest.
 * Resolves with the initial cluster string (`n1=http://...,n2=http://...`), in registration order.
 */
export async function joinCluster(opts: DiscoveryOptions, config: string): Promise<string> {
  const d = new Discovery(opts);
  await d.checkCluster();
  await d.createSelf(config);
  const { nodes, size, index } = await d.checkCluster();
  const all = await d.waitNodes(nodes, size, index);
  return nodesToCluster(all, size);
}

/** GetCluster: the cluster a token describes (for a proxy, or a member that found it full). */
export async function getCluster(opts: Omit<DiscoveryOptions, 'id'>): Promise<string> {
  const d = new Discovery({ ...opts, id: '0' });
  try {
    const { nodes, size, index } = await d.checkCluster();
    return nodesToCluster(await d.waitNodes(nodes, size, index), size);
  } catch (err) {
    if (err instanceof FullCluster) return nodesToCluster(err.nodes, err.size);
    throw err;
  }
}

class FullCluster extends DiscoveryError {
  constructor(
    readonly nodes: V2Node[],
    readonly size: number,
  ) {
    super(ERR_FULL_CLUSTER);
  }
}

class Discovery {
  private readonly base: URL;
  /** The directory's path, e.g. `/v2/keys/discovery/<token>` (etcd's `d.cluster`). */
  private readonly dir: string;
  private retries = 0;

  constructor(private readonly opts: DiscoveryOptions) {
    let u: URL;
    try {
      u = new URL(opts.url);
    } catch {
      throw new DiscoveryError(ERR_INVALID_URL);
    }
    if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new DiscoveryError(ERR_INVALID_URL);
    this.dir = joinPath('/', u.pathname);
    this.base = new URL(u.origin);
  }

  private selfKey(): string {
    return joinPath('/', this.dir, this.opts.id);
  }

  async createSelf(config: string): Promise<void> {
    let created: V2Node;
    try {
      created = (await this.request('PUT', this.selfKey(), { prevExist: 'false' }, config)).node;
    } catch (err) {
      if (err instanceof KeysError && err.errorCode === 105) throw new DiscoveryError(ERR_DUPLICATE_ID);
      throw err;
    }
    // etcd waits for its own creation to be visible to a watch before going on.
    await this.request('GET', this.selfKey(), { wait: 'true', waitIndex: String(created.createdIndex) });
  }

  async checkCluster(): Promise<{ nodes: V2Node[]; size: number; index: number }> {
    const configKey = joinPath('/', this.dir, '_config');
    let sizeValue: string;
    try {
      sizeValue = (await this.request('GET', joinPath(configKey, 'size'))).node.value ?? '';
    } catch (err) {
      if (err instanceof KeysError && err.errorCode === 100) throw new DiscoveryError(ERR_SIZE_NOT_FOUND);
      if (err instanceof Unreachable) return this.retry('cluster status check', err, () => this.checkCluster());
      throw err;
    }
    // strconv.ParseUint(v, 10, 0)
    if (!/^\d+$/.test(sizeValue) || BigInt(sizeValue) > BigInt(Number.MAX_SAFE_INTEGER))
      throw new DiscoveryError(ERR_BAD_SIZE_KEY);
    const size = Number(sizeValue);
    let listing: { node: V2Node; index: number };
    try {
      listing = await this.request('GET', this.dir);
    } catch (err) {
      if (err instanceof Unreachable) return this.retry('cluster status check', err, () => this.checkCluster());
      throw err;
    }
    const nodes = (listing.node.nodes ?? [])
      .filter((n) => basename(n.key) !== '_config')
      .sort((a, b) => a.createdIndex - b.createdIndex);
    const self = basename(this.selfKey());
    for (const [i, n] of nodes.entries()) {
      if (basename(n.key) === self) break;
      if (i >= size - 1) throw new FullCluster(nodes.slice(0, size), size);
    }
    return { nodes, size, index: listing.index };
  }

  async waitNodes(nodes: V2Node[], size: number, index: number): Promise<V2Node[]> {
    const all = nodes.slice(0, size);
    const self = basename(this.selfKey());
    for (const n of all) {
      if (basename(n.key) === self) this.opts.log('N', PKG, `found self ${self} in the cluster`);
      else this.opts.log('N', PKG, `found peer ${basename(n.key)} in the cluster`);
    }
    let waitIndex = index + 1;
    while (all.length < size) {
      this.opts.log('N', PKG, `found ${all.length} peer(s), waiting for ${size - all.length} more`);
      let event: { node: V2Node };
      try {
        event = await this.request(
          'GET',
          this.dir,
          { wait: 'true', recursive: 'true', waitIndex: String(waitIndex) },
          undefined,
          true,
        );
      } catch (err) {
        if (err instanceof Unreachable) {
          return this.retry('waiting for other nodes', err, async () => {
            const c = await this.checkCluster();
            return this.waitNodes(c.nodes, c.size, c.index);
          });
        }
        throw err;
      }
      waitIndex = event.node.modifiedIndex + 1;
      // A registration (a create); anything else under the directory is not a member.
      if (
        basename(event.node.key) === '_config' ||
        event.node.dir ||
        event.node.createdIndex !== event.node.modifiedIndex
      )
        continue;
      this.opts.log('N', PKG, `found peer ${basename(event.node.key)} in the cluster`);
      all.push(event.node);
    }
    this.opts.log('N', PKG, `found ${all.length} needed peer(s)`);
    return all;
  }

  private async retry<T>(step: string, err: Unreachable, again: () => Promise<T>): Promise<T> {
    const max = this.opts.maxRetries ?? Number.MAX_SAFE_INTEGER;
    if (this.retries >= max) throw new DiscoveryError(ERR_TOO_MANY_RETRIES);
    this.retries++;
    const n = Math.min(this.retries, MAX_EXPONENTIAL_RETRIES);
    const ms = this.opts.backoffMs?.(n) ?? backoffMs(n);
    this.opts.log('E', PKG, err.message);
    this.opts.log('I', PKG, `${step}: error connecting to ${this.base.origin}, retrying in ${goDuration(ms)}`);
    await sleep(ms, this.opts.signal);
    return again();
  }

  /** One v2 keys request; `wait` requests have no deadline (etcd's watcher has none either). */
  private async request(
    method: 'GET' | 'PUT',
    key: string,
    query: Record<string, string> = {},
    value?: string,
    long = false,
  ): Promise<{ node: V2Node; index: number }> {
    const url = new URL(key, this.base);
    for (const [k, v] of Object.entries(query)) url.searchParams.set(k, v);
    const signals = [
      this.opts.signal,
      long || query.wait ? undefined : AbortSignal.timeout(this.opts.requestTimeoutMs ?? 5000),
    ].filter((s): s is AbortSignal => s !== undefined);
    let res: Response;
    try {
      res = await fetch(url, {
        method,
        signal: signals.length > 0 ? AbortSignal.any(signals) : undefined,
        headers: value === undefined ? undefined : { 'Content-Type': 'application/x-www-form-urlencoded' },
        body: value === undefined ? undefined : new URLSearchParams({ value }).toString(),
      });
    } catch (err) {
      if (this.opts.signal?.aborted) throw err;
      throw new Unreachable(`error #0: ${netError(err, url.href)}`);
    }
    const text = await res.text();
    let body: Record<string, unknown>;
    try {
      body = JSON.parse(text) as Record<string, unknown>;
    } catch {
      // etcd's client.ErrInvalidJSON: the URL is not a v2 keys API.
      throw new DiscoveryError(ERR_BAD_DISCOVERY_ENDPOINT);
    }
    if (typeof body.errorCode === 'number') throw new KeysError(body.errorCode, String(body.message ?? ''));
    if (res.status >= 500)
      throw new Unreachable(
        `error #0: client: etcd member ${this.base.origin} returns server error [${res.statusText}]`,
      );
    const node = body.node as V2Node | undefined;
    if (!node || typeof node.key !== 'string') throw new DiscoveryError(ERR_BAD_DISCOVERY_ENDPOINT);
    return { node, index: Number(res.headers.get('x-etcd-index') ?? node.modifiedIndex) };
  }
}

/** etcd's nodesToCluster: the registrations' values joined; a name twice means a duplicate. */
function nodesToCluster(nodes: V2Node[], size: number): string {
  const joined = nodes.map((n) => n.value ?? '').join(',');
  const names = new Set<string>();
  for (const pair of joined.split(',')) {
    const eq = pair.indexOf('=');
    if (eq <= 0) throw new DiscoveryError(ERR_INVALID_URL);
    const u = pair.slice(eq + 1);
    if (!/^https?:\/\/[^/\s]+/.test(u)) throw new DiscoveryError(ERR_INVALID_URL);
    names.add(pair.slice(0, eq));
  }
  if (names.size !== size) throw new DiscoveryError(ERR_DUPLICATE_NAME);
  return joined;
}

function joinPath(...parts: string[]): string {
  const p = parts.join('/').replace(/\/+/g, '/');
  return p.length > 1 ? p.replace(/\/$/, '') : p;
}

function basename(key: string): string {
  return key.slice(key.lastIndexOf('/') + 1);
}
