// A member that does not lead forwards lease keep-alives and time-to-live questions to the
// leader, which alone counts leases down, and member promotions, which only the leader can judge
// (it knows how far the learner is): etcd forwards them over the peer port; we ask the leader's
// client port over gRPC, which every member serves. One client per leader URL and service, kept.
import * as grpc from '@grpc/grpc-js';
import { V3Error } from './errors.js';
import type { LeaseTimeToLive } from './lease/lessor.js';
import type { LeaseId } from './mvcc/types.js';
import { etcdProto, type ProtoMessage } from './proto/load.js';

type Msg = ProtoMessage;

interface ClusterClient extends grpc.Client {
  MemberPromote(req: Msg, opts: grpc.CallOptions, cb: (err: grpc.ServiceError | null, res?: Msg) => void): grpc.ClientUnaryCall;
}

interface LeaseClient extends grpc.Client {
  LeaseKeepAlive(opts: grpc.CallOptions): grpc.ClientDuplexStream<Msg, Msg>;
  LeaseTimeToLive(req: Msg, opts: grpc.CallOptions, cb: (err: grpc.ServiceError | null, res?: Msg) => void): grpc.ClientUnaryCall;
}

export class LeaseForwarder {
  private readonly clients = new Map<string, LeaseClient>();
  private readonly clusterClients = new Map<string, ClusterClient>();

  constructor(private readonly timeoutMs: number) {}

  /** The leader's new TTL for `id` (a not-found lease answers TTL ≤ 0, as etcd's does). */
  renew(leaderClientURLs: string[], id: LeaseId): Promise<number> {
    const client = this.client(leaderClientURLs);
    return new Promise((resolve, reject) => {
      const call = client.LeaseKeepAlive({ deadline: Date.now() + this.timeoutMs });
      call.once('data', (m: Msg) => {
        resolve(Number(m.TTL ?? 0));
        call.end();
      });
      call.once('error', (e: grpc.ServiceError) => reject(asV3(e)));
      call.write({ ID: id.toString() });
    });
  }

  timeToLive(leaderClientURLs: string[], id: LeaseId, keys: boolean): Promise<LeaseTimeToLive> {
    const client = this.client(leaderClientURLs);
    return new Promise((resolve, reject) => {
      client.LeaseTimeToLive({ ID: id.toString(), keys }, { deadline: Date.now() + this.timeoutMs }, (err, res) => {
        if (err || !res) return reject(asV3(err));
        resolve({
          ID: BigInt(res.ID ?? 0),
          TTL: Number(res.TTL ?? 0),
          grantedTTL: Number(res.grantedTTL ?? 0),
          keys: (res.keys ?? []).map((k: Buffer) => Buffer.from(k)),
        });
      });
    });
  }

  /** Member `id` (uint64 decimal) promoted by the leader; rejects with the leader's error. */
  promote(leaderClientURLs: string[], id: string): Promise<void> {
    const target = new URL(leaderClientURLs[0]).host;
    let c = this.clusterClients.get(target);
    if (!c) {
      const Cluster = (etcdProto().grpcObject.etcdserverpb as grpc.GrpcObject).Cluster as grpc.ServiceClientConstructor;
      c = new Cluster(target, grpc.credentials.createInsecure()) as unknown as ClusterClient;
      this.clusterClients.set(target, c);
    }
    const client = c;
    return new Promise((resolve, reject) => {
      client.MemberPromote({ ID: id }, { deadline: Date.now() + this.timeoutMs }, (err) => (err ? reject(asV3(err)) : resolve()));
    });
  }

  close(): void {
    for (const c of [...this.clients.values(), ...this.clusterClients.values()]) c.close();
    this.clients.clear();
    this.clusterClients.clear();
  }

  private client(urls: string[]): LeaseClient {
    const target = new URL(urls[0]).host;
    let c = this.clients.get(target);
    if (!c) {
      const Lease = (etcdProto().grpcObject.etcdserverpb as grpc.GrpcObject).Lease as grpc.ServiceClientConstructor;
      c = new Lease(target, grpc.credentials.createInsecure()) as unknown as LeaseClient;
      this.clients.set(target, c);
    }
    return c;
  }
}

/** The leader's error as it gave it (etcd's codes and texts pass through unchanged). */
function asV3(e: grpc.ServiceError | null): Error {
  if (!e) return new V3Error(14, 'etcdserver: request timed out');
  return new V3Error(e.code, e.details || e.message);
}
