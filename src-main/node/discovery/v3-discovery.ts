// etcd 3.6's v3 discovery (server/etcdserver/api/v3discovery/discovery.go), against any etcd v3
// API (a real etcd 3.4+, or a raftlab cluster): --discovery-token and --discovery-endpoints.
//
// Keys, under `/_etcd/registry/<token>`: `_config/size` (how many members), and one
// `members/<member id hex>` = `name=peerURL[,...]` per member. A member reads the size, lists the
// registrations, puts its own (a plain Put, as etcd 3.6 does: a member that registered before and
// lost its data registers again over its old key), lists again, and watches the prefix from the
// next revision until `size` members are registered. The first `size` by create revision form
// the cluster; a member that finds itself beyond them is told the cluster is full.
//
// The discovery cluster is reached through gRPC (@grpc/grpc-js with etcd's vendored rpc.proto),
// as etcd's own clientv3 reaches it: it works with any v3 server, a raftlab one included, needs
// no JSON gateway (whose path prefix differs between versions, /v3beta, /v3alpha, /v3) and
// watches on a real stream.
//
// etcd 3.6 logs with zap only; its messages and fields are kept, written in capnslog's form
// (`I | discovery: found peer from discovery service {"memberKey": "...", ...}`).

import * as grpc from '@grpc/grpc-js';
import { parseInitialCluster } from '../etcd-urls.js';
import { goDuration, zapFields, type LogLevel } from '../log.js';
import { prefixRangeEnd } from '../../v3/mvcc/range-end.js';
import { etcdProto, type ProtoMessage } from '../../v3/proto/load.js';
import { backoffMs, sleep } from './backoff.js';

// etcd's error texts, word for word.
export const ERR_V3_INVALID_URL = 'discovery: invalid peer URL';
export const ERR_V3_BAD_SIZE_KEY = 'discovery: size key is bad';
export const ERR_V3_SIZE_NOT_FOUND = 'discovery: size key not found';
export const ERR_V3_FULL_CLUSTER = 'discovery: cluster is full';
export const ERR_V3_TOO_MANY_RETRIES = 'discovery: too many retries';

export class V3DiscoveryError extends Error {}

/** etcd 3.6's defaults for the --discovery-* client flags, in milliseconds. */
export const V3_DISCOVERY_DEFAULTS = {
  dialTimeoutMs: 2000,
  requestTimeoutMs: 5000,
  keepAliveTimeMs: 2000,
  keepAliveTimeoutMs: 6000,
} as const;

export interface V3DiscoveryOptions {
  /** --discovery-token */
  token: string;
  /** --discovery-endpoints: `host:port` or `http://host:port`. */
  endpoints: string[];
  /** This member's id, hex (etcd derives it with the discovery token as the cluster token). */
  id: string;
  log: (level: LogLevel, pkg: string, msg: string) => void;
  /** --discovery-dial-timeout: how long a call waits for a connection to an endpoint. */
  dialTimeoutMs?: number;
  /** --discovery-request-timeout: each Range / Put. */
  requestTimeoutMs?: number;
  /** --discovery-keepalive-time / --discovery-keepalive-timeout: gRPC keepalive pings. */
  keepAliveTimeMs?: number;
  keepAliveTimeoutMs?: number;
  /** Retries while the service cannot be reached (etcd: 2^32-1). */
  maxRetries?: number;
  /** Backoff of the n-th retry in ms (etcd: 2^min(n,8) s). */
  backoffMs?: (retry: number) => number;
  signal?: AbortSignal;
}

/** The client timings its flags set (--discovery-dial-timeout and the rest), in ms. */
export type V3DiscoveryTimings = Required<
  Pick<V3DiscoveryOptions, 'dialTimeoutMs' | 'requestTimeoutMs' | 'keepAliveTimeMs' | 'keepAliveTimeoutMs'>
>;

const PKG = 'discovery';
const REGISTRY = '/_etcd/registry';
const MAX_EXPONENTIAL_RETRIES = 8;
/** clientv3 resumes a broken watch by itself; this is how long it waits before trying again here. */
const WATCH_RETRY_MS = 500;

interface Member {
  key: string;
  value: string;
  createRev: bigint;
}

/** A discovery service call that failed (retried with etcd's backoff). */
class CallFailed extends Error {}

/**
 * JoinCluster: registers this member (`config` = `name=peerURL[,...]`) and waits for the rest.
 * Resolves with the initial cluster string, in registration (create revision) order.
 */
export async function joinClusterV3(opts: V3DiscoveryOptions, config: string): Promise<string> {
  const d = new V3Discovery(opts);
  let cs = '';
  try {
    await d.checkCluster();
    await d.registerSelf(config);
    const { cls, size, rev } = await d.checkCluster();
    while (cls.members.length < size) await d.waitPeers(cls, size, rev);
    cs = cls.initialCluster(size);
    d.info('discovery joined cluster successfully', { cluster: cs });
    return cs;
  } catch (err) {
    if (err instanceof V3DiscoveryError) {
      d.log('E', 'discovery failed to join cluster', {
        cluster: (err as { cluster?: string }).cluster ?? cs,
        error: err.message,
      });
    }
    throw err;
  } finally {
    d.close();
  }
}

class ClusterInfo {
  readonly members: Member[] = [];
  constructor(private readonly prefix: string) {}

  /** cls.add: the error text etcd logs as a warning, or undefined when added. */
  add(key: string, value: string, createRev: bigint): string | undefined {
    if (!key.startsWith(this.prefix)) return 'invalid peer registry key';
    if (!value.includes('=')) return 'invalid peer info returned from discovery service';
    if (this.members.some((m) => m.key === key)) return 'found duplicate peer from discovery service';
    this.members.push({ key, value, createRev });
    // Registrations made at once may outnumber the size: the first by create revision win.
    this.members.sort((a, b) => (a.createRev < b.createRev ? -1 : a.createRev > b.createRev ? 1 : 0));
    return undefined;
  }

  initialCluster(size: number): string {
    const us = this.members
      .slice(0, size)
      .map((m) => m.value)
      .join(',');
    try {
      parseInitialCluster(us);
    } catch {
      throw Object.assign(new V3DiscoveryError(ERR_V3_INVALID_URL), { cluster: us });
    }
    return us;
  }
}

type Msg = ProtoMessage;

class V3Discovery {
  private readonly o: Required<Pick<V3DiscoveryOptions, 'dialTimeoutMs' | 'requestTimeoutMs'>> & V3DiscoveryOptions;
  private readonly clients: { addr: string; kv: grpc.Client & Msg; watch: grpc.Client & Msg }[];
  /** The endpoint calls go to; a failed call moves on to the next (clientv3 balances them). */
  private current = 0;
  private retries = 0;
  private readonly memberPrefix: string;

  constructor(opts: V3DiscoveryOptions) {
    this.o = {
      ...V3_DISCOVERY_DEFAULTS,
      ...Object.fromEntries(Object.entries(opts).filter(([, v]) => v !== undefined)),
    } as typeof this.o;
    if (opts.endpoints.length === 0) throw new V3DiscoveryError('etcdclient: no available endpoints');
    const pkg = etcdProto().grpcObject.etcdserverpb as Msg;
    const channelOptions: grpc.ChannelOptions = {
      'grpc.keepalive_time_ms': opts.keepAliveTimeMs ?? V3_DISCOVERY_DEFAULTS.keepAliveTimeMs,
      'grpc.keepalive_timeout_ms': opts.keepAliveTimeoutMs ?? V3_DISCOVERY_DEFAULTS.keepAliveTimeoutMs,
      'grpc.keepalive_permit_without_calls': 1,
    };
    this.clients = opts.endpoints.map((ep) => {
      const addr = endpointAddress(ep);
      const creds = grpc.credentials.createInsecure();
      return { addr, kv: new pkg.KV(addr, creds, channelOptions), watch: new pkg.Watch(addr, creds, channelOptions) };
    });
    this.memberPrefix = `${REGISTRY}/${opts.token}/members`.replace(/\/+/g, '/');
  }

  private sizeKey(): string {
    return `${REGISTRY}/${this.o.token}/_config/size`.replace(/\/+/g, '/');
  }

  private selfKey(): string {
    return `${this.memberPrefix}/${this.o.id}`;
  }

  async checkCluster(): Promise<{ cls: ClusterInfo; size: number; rev: bigint }> {
    let size: number;
    try {
      size = await this.clusterSize();
    } catch (err) {
      if (err instanceof CallFailed) return this.retry('cluster status check', () => this.checkCluster());
      throw err;
    }
    let members: { cls: ClusterInfo; rev: bigint };
    try {
      members = await this.clusterMembers();
    } catch (err) {
      if (err instanceof CallFailed) return this.retry('cluster status check', () => this.checkCluster());
      throw err;
    }
    this.retries = 0;
    const self = this.selfKey();
    let idx = 0;
    for (const m of members.cls.members) {
      if (m.key === self) break;
      if (idx >= size - 1) throw new V3DiscoveryError(ERR_V3_FULL_CLUSTER);
      idx++;
    }
    return { ...members, size };
  }

  private async clusterSize(): Promise<number> {
    const key = this.sizeKey();
    let res: Msg;
    try {
      res = await this.unary('kv', 'Range', { key: Buffer.from(key) });
    } catch (err) {
      this.warn('failed to get cluster size from discovery service', {
        clusterSizeKey: key,
        error: (err as Error).message,
      });
      throw err;
    }
    const [sizeKv] = (res.kvs ?? []) as Msg[];
    if (sizeKv === undefined) throw new V3DiscoveryError(ERR_V3_SIZE_NOT_FOUND);
    // strconv.ParseInt(v, 10, 0), then > 0.
    const v = Buffer.from(sizeKv.value ?? []).toString();
    if (!/^[+-]?\d+$/.test(v) || BigInt(v) <= 0n || BigInt(v) > BigInt(Number.MAX_SAFE_INTEGER))
      throw new V3DiscoveryError(ERR_V3_BAD_SIZE_KEY);
    return Number(v);
  }

  private async clusterMembers(): Promise<{ cls: ClusterInfo; rev: bigint }> {
    let res: Msg;
    try {
      res = await this.unary('kv', 'Range', {
        key: Buffer.from(this.memberPrefix),
        range_end: prefixRangeEnd(Buffer.from(this.memberPrefix)),
      });
    } catch (err) {
      this.warn('failed to get cluster members from discovery service', {
        membersKeyPrefix: this.memberPrefix,
        error: (err as Error).message,
      });
      throw err;
    }
    const cls = new ClusterInfo(this.memberPrefix);
    for (const kv of (res.kvs ?? []) as Msg[]) this.found(cls, kv);
    return { cls, rev: BigInt(res.header?.revision ?? 0) };
  }

  async registerSelf(contents: string): Promise<void> {
    const key = this.selfKey();
    try {
      await this.unary('kv', 'Put', { key: Buffer.from(key), value: Buffer.from(contents) });
    } catch (err) {
      if (!(err instanceof CallFailed)) throw err;
      this.warn('failed to register members itself to the discovery service', { memberKey: key, error: err.message });
      return this.retry('register member itself', () => this.registerSelf(contents));
    }
    this.retries = 0;
    this.info('register member itself successfully', { memberKey: key, memberInfo: contents });
  }

  /** waitPeers: watch the registrations from `rev + 1` until `size` are known. */
  async waitPeers(cls: ClusterInfo, size: number, rev: bigint): Promise<void> {
    this.info('waiting for peers from discovery service', { clusterSize: size, 'found-peers': cls.members.length });
    let next = rev + 1n;
    while (cls.members.length < size) {
      next = await this.watchOnce(cls, size, next);
      if (cls.members.length < size) await sleep(WATCH_RETRY_MS, this.o.signal);
    }
    this.info('found all needed peers from discovery service', {
      clusterSize: size,
      'found-peers': cls.members.length,
    });
  }

  /** One watch stream, until enough members or the stream breaks; resolves with the revision to resume from. */
  private watchOnce(cls: ClusterInfo, size: number, from: bigint): Promise<bigint> {
    const client = this.client();
    return new Promise((resolve, reject) => {
      let next = from;
      const call = client.watch.Watch() as grpc.ClientDuplexStream<Msg, Msg>;
      const finish = (err?: unknown) => {
        call.removeAllListeners();
        call.on('error', () => {});
        call.cancel();
        this.o.signal?.removeEventListener('abort', onAbort);
        if (err) reject(err);
        else resolve(next);
      };
      const onAbort = () => finish(this.o.signal!.reason);
      this.o.signal?.addEventListener('abort', onAbort, { once: true });
      call.on('data', (r: Msg) => {
        for (const ev of (r.events ?? []) as Msg[]) {
          this.found(cls, ev.kv ?? {});
          next = BigInt(ev.kv?.mod_revision ?? next) + 1n;
        }
        if (cls.members.length >= size) finish();
        else if (r.canceled) {
          this.rotate();
          finish();
        }
      });
      call.on('error', () => (this.rotate(), finish()));
      call.on('end', () => finish());
      call.write({
        create_request: {
          key: Buffer.from(this.memberPrefix),
          range_end: prefixRangeEnd(Buffer.from(this.memberPrefix)),
          start_revision: String(from),
        },
      });
    });
  }

  /** A registration seen (listed or watched): added, or etcd's warning why not. */
  private found(cls: ClusterInfo, kv: Msg): void {
    const key = Buffer.from(kv.key ?? [])
      .toString()
      .trim();
    const value = Buffer.from(kv.value ?? [])
      .toString()
      .trim();
    const problem = cls.add(key, value, BigInt(kv.create_revision ?? 0));
    if (problem) this.warn(problem, { memberKey: key, memberInfo: value });
    else this.info('found peer from discovery service', { memberKey: key, memberInfo: value });
  }

  private async retry<T>(step: string, again: () => Promise<T>): Promise<T> {
    const max = this.o.maxRetries ?? 2 ** 32 - 1;
    if (this.retries >= max) throw new V3DiscoveryError(ERR_V3_TOO_MANY_RETRIES);
    this.retries++;
    const n = Math.min(this.retries, MAX_EXPONENTIAL_RETRIES);
    const ms = this.o.backoffMs?.(n) ?? backoffMs(n);
    this.warn('retry connecting to discovery service', { reason: step, backoff: goDuration(ms) });
    await sleep(ms, this.o.signal);
    return again();
  }

  /** One Range or Put on the current endpoint; a failure moves to the next endpoint and throws CallFailed. */
  private unary(service: 'kv', method: 'Range' | 'Put', req: Msg): Promise<Msg> {
    const client = this.client()[service];
    return new Promise((resolve, reject) => {
      const fail = (text: string) => {
        this.rotate();
        reject(new CallFailed(text));
      };
      // The dial timeout: how long to wait for a connection before the call counts as failed.
      client.waitForReady(Date.now() + this.o.dialTimeoutMs, (err) => {
        if (err) return fail('context deadline exceeded');
        if (this.o.signal?.aborted) return reject(this.o.signal.reason);
        client[method](
          req,
          { deadline: Date.now() + this.o.requestTimeoutMs },
          (e: grpc.ServiceError | null, res: Msg) => {
            if (e)
              return fail(
                e.code === grpc.status.DEADLINE_EXCEEDED
                  ? 'context deadline exceeded'
                  : `rpc error: code = ${statusName(e.code)} desc = ${e.details}`,
              );
            resolve(res);
          },
        );
      });
    });
  }

  private rotate(): void {
    this.current = (this.current + 1) % this.clients.length;
  }

  /** The current endpoint's clients (the constructor refuses no endpoints; rotate stays in range). */
  private client(): V3Discovery['clients'][number] {
    const c = this.clients[this.current];
    if (c === undefined) throw new Error(`v3 discovery: endpoint ${this.current} of ${this.clients.length}`);
    return c;
  }

  close(): void {
    for (const c of this.clients) {
      c.kv.close();
      c.watch.close();
    }
  }

  info(msg: string, fields: Record<string, unknown>): void {
    this.log('I', msg, fields);
  }

  warn(msg: string, fields: Record<string, unknown>): void {
    this.log('W', msg, fields);
  }

  log(level: LogLevel, msg: string, fields: Record<string, unknown>): void {
    this.o.log(level, PKG, `${msg} ${zapFields(fields)}`);
  }
}

/** clientv3 takes `host:port` or a URL; gRPC wants `host:port`. */
function endpointAddress(ep: string): string {
  const m = /^([a-z]+):\/\/(.*)$/i.exec(ep);
  if (!m) return ep;
  const [, scheme, rest = ''] = m;
  if (scheme === 'https' || scheme === 'unixs')
    throw new V3DiscoveryError(`raftlab: v3 discovery over TLS is not supported yet (${ep})`);
  return rest.replace(/\/$/, '');
}

function statusName(code: grpc.status): string {
  const name = grpc.status[code] ?? String(code);
  // Go's codes.Code String(): Unavailable, DeadlineExceeded...
  return name
    .toLowerCase()
    .split('_')
    .map((w) => w.charAt(0).toUpperCase() + w.slice(1))
    .join('');
}
