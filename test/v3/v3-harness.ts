// Runs the same v3 KV/lease requests against a real etcd 3.4 (Debian's /usr/bin/etcd, through
// its /v3 JSON gateway) and against our V3StateMachine, and puts both answers in one canonical
// form to compare: zero values dropped (as the gateway's JSON omits them), bytes as base64,
// integers as decimal strings, header fields only etcd's server fills (ids, term) removed.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { nth } from '../helpers/checked.js';
import { EtcdCluster } from '../helpers/etcd-processes.js';
import { until } from '../helpers/cluster.js';
import { V3Error } from '../../src-main/v3/errors.js';
import { V3StateMachine } from '../../src-main/v3/state-machine.js';
import { MemoryBackend } from '../../src-main/v3/memory-backend.js';
import { V3GrpcServer } from '../../src-main/v3/grpc-server.js';
import { v3Gateway } from '../../src-main/v3/gateway.js';
import { minLeaseTTL } from '../../src-main/v3/lease/lessor.js';
import {
  checkDeleteRequest,
  checkPutRequest,
  checkRangeRequest,
  checkTxnRequest,
} from '../../src-main/v3/mvcc/validate.js';
import type { RangeRequest } from '../../src-main/v3/mvcc/types.js';
import type { V3Command } from '../../src-main/v3/command.js';

/** What a test asks: a read, or one of the commands that go through the log. */
export type Op = { range: RangeRequest } | V3Command;

export type Outcome = { ok: unknown } | { error: { code: number; message: string } };

/** Request JSON for etcd's gateway: bytes base64, int64 as decimal strings. */
export function gatewayJson(v: unknown): unknown {
  if (Buffer.isBuffer(v)) return v.toString('base64');
  if (typeof v === 'bigint') return v.toString();
  if (Array.isArray(v)) return v.map(gatewayJson);
  if (v && typeof v === 'object') {
    return Object.fromEntries(
      Object.entries(v)
        .filter(([, x]) => x !== undefined)
        .map(([k, x]) => [k, gatewayJson(x)]),
    );
  }
  return v;
}

/** One canonical form for both sides (see the file comment). */
export function canon(v: unknown): unknown {
  if (Buffer.isBuffer(v)) return v.length === 0 ? undefined : v.toString('base64');
  if (typeof v === 'bigint' || typeof v === 'number') return v === 0 || v === 0n ? undefined : v.toString();
  if (v === false || v === '' || v === null || v === undefined) return undefined;
  if (Array.isArray(v)) {
    const xs = v.map((x) => canon(x) ?? {});
    return xs.length === 0 ? undefined : xs;
  }
  if (typeof v === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) {
      if (k === 'cluster_id' || k === 'member_id' || k === 'raft_term') continue;
      const c = canon(x);
      if (c !== undefined) out[k] = c;
    }
    return Object.keys(out).length === 0 ? undefined : out;
  }
  return v;
}

export const PATHS: Record<string, string> = {
  range: '/v3/kv/range',
  put: '/v3/kv/put',
  delete_range: '/v3/kv/deleterange',
  txn: '/v3/kv/txn',
  compaction: '/v3/kv/compaction',
  lease_grant: '/v3/lease/grant',
  lease_revoke: '/v3/lease/revoke',
};

export class RealEtcd {
  private constructor(
    private readonly cluster: EtcdCluster,
    readonly url: string,
  ) {}

  static async start(): Promise<RealEtcd> {
    const cluster = await EtcdCluster.create(1);
    cluster.start('e1', cluster.initialCluster(1));
    const e = new RealEtcd(cluster, cluster.spec('e1').clientURL);
    await until(
      'etcd answers /v3/kv/range',
      async () => {
        try {
          const r = await fetch(`${e.url}/v3/kv/range`, { method: 'POST', body: '{"key":"AA=="}' });
          return r.ok;
        } catch {
          return false;
        }
      },
      20_000,
    );
    return e;
  }

  async call(op: Op): Promise<Outcome> {
    const [kind, req] = nth(Object.entries(op), 0, 'an operation in a txn op');
    const r = await fetch(`${this.url}${PATHS[kind]}`, { method: 'POST', body: JSON.stringify(gatewayJson(req)) });
    const body = (await r.json()) as Record<string, unknown>;
    if (!r.ok || 'error' in body) return { error: { code: body.code as number, message: body.error as string } };
    return { ok: canon(body) ?? {} };
  }

  output(): string {
    return this.cluster.output('e1').join('\n');
  }

  async stop(): Promise<void> {
    await this.cluster.destroy();
  }
}

/**
 * What etcd's gateway passes on: it re-marshals the request in Go, where empty bytes are not
 * sent, so an empty range_end arrives absent.
 */
export function asGatewayPassesOn<T>(v: T): T {
  if (Buffer.isBuffer(v) || v === null || typeof v !== 'object') return v;
  if (Array.isArray(v)) return v.map(asGatewayPassesOn) as T;
  return Object.fromEntries(
    Object.entries(v)
      .filter(([k, x]) => !(k === 'range_end' && Buffer.isBuffer(x) && x.length === 0))
      .map(([k, x]) => [k, asGatewayPassesOn(x)]),
  ) as T;
}

/** Our side: etcd's gRPC checks, then the command applied (writes) or a local read. */
export class OurStore {
  // The same timers as the etcd the tests start (heartbeat 50 ms, election 500 ms).
  readonly sm = new V3StateMachine({ minLeaseTTL: minLeaseTTL(500, 50) });

  call(gatewayOp: Op): Outcome {
    const op = asGatewayPassesOn(gatewayOp);
    try {
      if ('range' in op) {
        checkRangeRequest(op.range);
        return { ok: canon(this.sm.range(op.range)) ?? {} };
      }
      if ('put' in op) checkPutRequest(op.put);
      if ('delete_range' in op) checkDeleteRequest(op.delete_range);
      if ('txn' in op) checkTxnRequest(op.txn);
      const r = this.sm.apply(op);
      return r.ok ? { ok: canon(r.response) ?? {} } : { error: { code: r.error.code, message: r.error.message } };
    } catch (e) {
      if (e instanceof V3Error) return { error: { code: e.code, message: e.message } };
      throw e;
    }
  }
}

/** Readable form of an op for failure messages. */
export function describe(op: Op): string {
  return JSON.stringify(gatewayJson(op), (_k, v) => v);
}

/** One member of our own (an in-memory backend) behind our /v3 gateway, on a loopback port. */
export async function ourGateway() {
  const backend = new MemoryBackend({ minLeaseTTL: minLeaseTTL(500, 50), electionMs: 500 });
  const grpcServer = new V3GrpcServer(backend);
  const handle = v3Gateway(grpcServer);
  const server = http.createServer((req, res) => {
    void handle(req, res).then((done) => {
      if (!done) {
        res.writeHead(404);
        res.end();
      }
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    backend,
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    async close() {
      await new Promise((r) => server.close(r));
      await grpcServer.close(0);
      backend.close();
    },
  };
}
