// A member that does not lead forwards lease keep-alives and time-to-live questions to the
// leader, which alone counts leases down, and member promotions, which only the leader can judge
// (it knows how far the learner is): etcd forwards them over the peer port; we ask the leader's
// client port over gRPC, which every member serves. One client per leader URL and service, kept.
// gRPC and the .proto files are loaded at the first forward: most members never forward, and
// loading them is most of a node's start-up time.
import type * as grpc from '@grpc/grpc-js';
import { Errors, V3Error } from './errors.js';
import type { LeaseTimeToLive } from './lease/lessor.js';
import type { LeaseId } from './mvcc/types.js';
import type { ProtoMessage, ServiceName } from './proto/load.js';

type Msg = ProtoMessage;

/** A unary method of a proto-loader client. */
type UnaryMethod = (
  req: Msg,
  opts: grpc.CallOptions,
  cb: (err: grpc.ServiceError | null, res?: Msg) => void,
) => grpc.ClientUnaryCall;

interface ClusterClient extends grpc.Client {
  MemberPromote: UnaryMethod;
}

interface LeaseClient extends grpc.Client {
  LeaseKeepAlive(opts: grpc.CallOptions): grpc.ClientDuplexStream<Msg, Msg>;
  LeaseTimeToLive: UnaryMethod;
}

export class LeaseForwarder {
  /** By service and leader host. */
  private readonly clients = new Map<string, grpc.Client>();
  private closed = false;

  constructor(private readonly timeoutMs: number) {}

  /** The leader's new TTL for `id` (a not-found lease answers TTL ≤ 0, as etcd's does). */
  async renew(leaderClientURLs: string[], id: LeaseId): Promise<number> {
    const client = await this.client<LeaseClient>('Lease', leaderClientURLs);
    return new Promise((resolve, reject) => {
      const call = client.LeaseKeepAlive(this.callOptions());
      call.once('data', (m: Msg) => {
        resolve(Number(m.TTL ?? 0));
        call.end();
      });
      call.once('error', (e: grpc.ServiceError) => reject(asV3(e)));
      call.write({ ID: id.toString() });
    });
  }

  async timeToLive(leaderClientURLs: string[], id: LeaseId, keys: boolean): Promise<LeaseTimeToLive> {
    const client = await this.client<LeaseClient>('Lease', leaderClientURLs);
    const res = await this.unary(client.LeaseTimeToLive.bind(client), { ID: id.toString(), keys });
    return {
      ID: BigInt(res.ID ?? 0),
      TTL: Number(res.TTL ?? 0),
      grantedTTL: Number(res.grantedTTL ?? 0),
      keys: (res.keys ?? []).map((k: Buffer) => Buffer.from(k)),
    };
  }

  /** Member `id` (uint64 decimal) promoted by the leader; rejects with the leader's error. */
  async promote(leaderClientURLs: string[], id: string): Promise<void> {
    const client = await this.client<ClusterClient>('Cluster', leaderClientURLs);
    await this.unary(client.MemberPromote.bind(client), { ID: id });
  }

  close(): void {
    this.closed = true;
    for (const c of this.clients.values()) c.close();
    this.clients.clear();
  }

  /** One unary call within the request timeout; rejects with the leader's error. */
  private unary(method: UnaryMethod, req: Msg): Promise<Msg> {
    return new Promise((resolve, reject) => {
      method(req, this.callOptions(), (err, res) => (err || !res ? reject(asV3(err)) : resolve(res)));
    });
  }

  private callOptions(): grpc.CallOptions {
    return { deadline: Date.now() + this.timeoutMs };
  }

  /** The kept client of `service` at the leader's first client URL. */
  private async client<C extends grpc.Client>(service: ServiceName, urls: string[]): Promise<C> {
    const [url] = urls;
    if (url === undefined) throw Errors.noLeader;
    const target = new URL(url).host;
    const key = `${service} ${target}`;
    const [{ credentials }, { serviceClient }] = await Promise.all([
      import('@grpc/grpc-js'),
      import('./proto/load.js'),
    ]);
    if (this.closed) throw Errors.stopped;
    let c = this.clients.get(key);
    if (!c) {
      const Client = serviceClient(service);
      c = new Client(target, credentials.createInsecure());
      this.clients.set(key, c);
    }
    return c as C;
  }
}

/** The leader's error as it gave it (etcd's codes and texts pass through unchanged). */
function asV3(e: grpc.ServiceError | null): Error {
  if (!e) return Errors.timeout;
  return new V3Error(e.code, e.details || e.message);
}
