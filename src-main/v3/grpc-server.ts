// etcd's v3 gRPC services (KV, Watch, Lease) with @grpc/grpc-js over a V3Backend: requests are
// checked as etcd's v3rpc layer checks them, writes are proposed, reads wait for the read barrier
// then read the local state, and every response gets etcd's header (cluster, member, revision,
// term). Status codes and messages are etcd's, so etcdctl and clientv3 print what they print
// against etcd. Mounting this on a node's client port next to the v2 API comes later.
import * as grpc from '@grpc/grpc-js';
import { createHash } from 'node:crypto';
import type { Duplex } from 'node:stream';
import type { V3Backend } from './backend.js';
import { callContextOf, type CallContext, type Msg, type UnaryHandler } from './call.js';
import type { V3Command } from './command.js';
import { beforeDeadline, callDeadline } from './deadline.js';
import { guardAdminMethods } from './auth/admin-methods.js';
import { authHandlers } from './auth/auth-service.js';
import { checkTxnAuth } from './auth/apply-checks.js';
import { watchCancelReason } from './auth/errors.js';
import { RequestAuth } from './auth/request-auth.js';
import type { AuthInfo } from './auth/types.js';
import { Errors, GrpcCode, V3Error } from './errors.js';
import { isTxnReadOnly, isTxnSerializable } from './mvcc/kv.js';
import {
  MAX_TXN_OPS,
  checkDeleteRequest,
  checkPutRequest,
  checkRangeRequest,
  checkTxnRequest,
} from './mvcc/validate.js';
import { ALARM_TYPES } from './maintenance/alarms.js';
import { available, costPut, costTxn, LEASE_OVERHEAD } from './maintenance/quota.js';
import { service } from './proto/load.js';
import { big, deleteRequest, num, putRequest, rangeRequest, toProto, txnRequest } from './proto/messages.js';
import { backendFile, backendHash, etcdBuckets } from './snapshot/etcd-backend.js';
import type { AlarmResponse, V3Response } from './state-machine.js';
import type { WatchCreateRequest, WatchFilter, WatchResponse } from './watch/watch-hub.js';

/** etcd's default --progress-report-interval for watchers with progress_notify: 10 minutes. */
export const PROGRESS_INTERVAL_MS = 10 * 60 * 1000;

export type { UnaryHandler } from './call.js';

function grpcError(e: unknown): Partial<grpc.StatusObject> {
  if (e instanceof V3Error) return { code: e.code, details: e.message };
  return { code: GrpcCode.Unknown, details: e instanceof Error ? e.message : String(e) };
}

export interface V3ServerOptions {
  progressIntervalMs?: number;
  /** etcd's --max-request-bytes: larger proposals are refused. */
  maxRequestBytes?: number;
  /** etcd's --max-txn-ops: most compares, or ops in one branch, of a txn. */
  maxTxnOps?: number;
}

/** etcd's snapshotSendBufferSize: the backend file goes out in pieces of 32 KiB. */
export const SNAPSHOT_CHUNK = 32 * 1024;

/** etcd's default --max-request-bytes (1.5 MiB). */
export const MAX_REQUEST_BYTES = 1.5 * 1024 * 1024;
/** etcd's grpcOverheadBytes: gRPC takes messages up to max-request-bytes plus this. */
export const GRPC_OVERHEAD_BYTES = 512 * 1024;

const varintLength = (n: number) => Math.max(1, Math.ceil(Math.log2(n + 1) / 7));

/**
 * The size etcd checks against --max-request-bytes: the marshaled InternalRaftRequest, i.e. the
 * request plus its field tag and length, plus a RequestHeader with a 64-bit id (about 13 bytes).
 */
function proposalSize(method: grpc.MethodDefinition<unknown, unknown>, m: Msg): number {
  const n = method.requestSerialize(m).length;
  return n + 1 + varintLength(n) + 13;
}

export class V3GrpcServer {
  readonly server: grpc.Server;
  private readonly maxRequestBytes: number;
  private readonly maxTxnOps: number;
  /** The unary RPCs by service and method, for other transports too (the /v3 JSON gateway). */
  readonly handlers: Record<'KV' | 'Lease' | 'Maintenance' | 'Cluster' | 'Auth', Record<string, UnaryHandler>>;
  /** Who each request is from, and the auth checks made before (or instead of) proposing. */
  readonly auth: RequestAuth;
  private readonly progressTimer: NodeJS.Timeout;

  constructor(
    private readonly backend: V3Backend,
    opts: V3ServerOptions = {},
  ) {
    this.maxRequestBytes = opts.maxRequestBytes ?? MAX_REQUEST_BYTES;
    this.maxTxnOps = opts.maxTxnOps ?? MAX_TXN_OPS;
    this.server = new grpc.Server({ 'grpc.max_receive_message_length': this.maxRequestBytes + GRPC_OVERHEAD_BYTES });
    this.auth = new RequestAuth(backend);
    guardAdminMethods(this.server, this.auth);
    this.handlers = {
      KV: this.forLearners(this.kv()),
      Lease: this.forLearners(this.lease()),
      Maintenance: this.forLearners(this.maintenance()),
      Cluster: this.forLearners(this.cluster()),
      Auth: this.forLearners(
        authHandlers({
          auth: this.auth,
          propose: (cmd) => this.proposeOrThrow(cmd),
          withHeader: (r) => this.withHeader(r),
        }),
      ),
    };
    const bind = (hs: Record<string, UnaryHandler>) =>
      Object.fromEntries(Object.entries(hs).map(([k, h]) => [k, this.unary(h)]));
    this.server.addService(service('KV'), bind(this.handlers.KV));
    this.server.addService(service('Watch'), { Watch: (call: grpc.ServerDuplexStream<Msg, Msg>) => this.watch(call) });
    this.server.addService(service('Maintenance'), {
      ...bind(this.handlers.Maintenance),
      Snapshot: (call: grpc.ServerWritableStream<Msg, Msg>) => this.snapshot(call),
    });
    this.server.addService(service('Cluster'), bind(this.handlers.Cluster));
    this.server.addService(service('Auth'), bind(this.handlers.Auth));
    this.server.addService(service('Lease'), {
      ...bind(this.handlers.Lease),
      LeaseKeepAlive: (call: grpc.ServerDuplexStream<Msg, Msg>) => this.leaseKeepAlive(call),
    });
    this.progressTimer = setInterval(
      () => backend.state.watches.progressTick(),
      opts.progressIntervalMs ?? PROGRESS_INTERVAL_MS,
    );
    this.progressTimer.unref();
  }

  /** Listens on host:port (0 = any free port); resolves with the port. */
  listen(host: string, port: number): Promise<number> {
    return new Promise((resolve, reject) => {
      this.server.bindAsync(`${host}:${port}`, grpc.ServerCredentials.createInsecure(), (err, p) =>
        err ? reject(err) : resolve(p),
      );
    });
  }

  /**
   * For a port shared with HTTP/1.1 (net/cmux.ts): takes HTTP/2 connections accepted there
   * instead of listening itself.
   */
  connectionHandler(): (socket: Duplex) => void {
    const injector = this.server.createConnectionInjector(grpc.ServerCredentials.createInsecure());
    this.injectors.push(injector);
    return (socket) => injector.injectConnection(socket);
  }

  private readonly injectors: grpc.ConnectionInjector[] = [];

  /** Stops; open streams (watches, keep-alives) are cut after `graceMs`. */
  async close(graceMs = 1000): Promise<void> {
    clearInterval(this.progressTimer);
    const force = setTimeout(() => {
      this.server.forceShutdown();
      for (const i of this.injectors) i.destroy();
    }, graceMs);
    for (const i of this.injectors) i.drain(graceMs);
    await new Promise<void>((resolve) => this.server.tryShutdown(() => resolve()));
    clearTimeout(force);
    for (const i of this.injectors) i.destroy();
  }

  /** etcd's header: ids and term from the member; the revision the answer's own, else the current one. */
  private withHeader<T extends { header?: { revision?: number } }>(r: T): Msg {
    const rev = r.header?.revision || this.backend.state.rev();
    return toProto({ ...r, header: { ...this.backend.header(), revision: rev } }) as Msg;
  }

  private unary(handler: UnaryHandler) {
    return (call: grpc.ServerUnaryCall<Msg, Msg>, cb: grpc.sendUnaryData<Msg>) => {
      const d = call.getDeadline();
      const deadline = d instanceof Date ? d.getTime() : d;
      callDeadline
        .run(deadline, () => handler(call.request, callContextOf(call.metadata)))
        .then(
          (r) => cb(null, r),
          (e) => cb(grpcError(e) as grpc.ServiceError, null),
        );
    };
  }

  /** Proposes `cmd`, made from request `m` of `method`; refused as etcd does when too large. */
  private async proposeOrThrow(
    cmd: V3Command,
    method?: grpc.MethodDefinition<unknown, unknown>,
    m?: Msg,
  ): Promise<V3Response> {
    if (method && m && proposalSize(method, m) > this.maxRequestBytes) throw Errors.requestTooLarge;
    const r = await beforeDeadline(this.backend.propose(cmd));
    if (!r.ok) throw r.error;
    return r.response;
  }

  /**
   * etcd's quotaKVServer/quotaLeaseServer, before anything else: a request that would take the
   * backend past its quota raises NOSPACE (through the log, for every member) and is refused.
   */
  private async checkQuota(cost: number): Promise<void> {
    const b = this.backend;
    if (available(b.state.size(), cost, b.quotaBytes)) return;
    const memberID = BigInt(b.header().member_id);
    await b.propose({ alarm: { action: 'ACTIVATE', memberID, alarm: 'NOSPACE' } }).catch(() => {});
    throw Errors.noSpace;
  }

  /**
   * etcd 3.4's interceptors on a learner: only Status and serializable Range are served
   * (isRPCSupportedForLearner); the gateway calls the handlers, so it is refused alike.
   */
  private forLearners(hs: Record<string, UnaryHandler>): Record<string, UnaryHandler> {
    return Object.fromEntries(
      Object.entries(hs).map(([name, h]) => [
        name,
        async (m: Msg, ctx?: CallContext) => {
          const served = name === 'Status' || (name === 'Range' && !!m.serializable);
          if (!served && this.backend.isLearner()) throw Errors.notSupportedForLearner;
          return h(m, ctx);
        },
      ]),
    );
  }

  /** A learner serves no stream (etcd's stream interceptor): ends the call with that error. */
  private refusedStream(call: grpc.ServerWritableStream<Msg, Msg> | grpc.ServerDuplexStream<Msg, Msg>): boolean {
    if (!this.backend.isLearner()) return false;
    call.emit('error', grpcError(Errors.notSupportedForLearner));
    return true;
  }

  private maintenance(): Record<string, UnaryHandler> {
    const b = this.backend;
    return {
      Status: async () => {
        const st = b.status();
        // etcd adds each raised alarm to the errors, as gogo's text form of the AlarmMember.
        const alarms = b.state.alarms.get('NONE').map((a) => `memberID:${a.memberID} alarm:${a.alarm} `);
        return this.withHeader({ header: { revision: 0 }, ...st, errors: [...st.errors, ...alarms] });
      },
      HashKV: async (m: Msg) => {
        const { hash, rev, compactRev } = b.state.store.hashKV(num(m.revision));
        return this.withHeader({ header: { revision: rev }, hash, compact_revision: compactRev });
      },
      Hash: async () =>
        this.withHeader({ header: { revision: 0 }, hash: backendHash(etcdBuckets(b.state, b.backendContext())) }),
      // etcd answers both with an empty response (no header).
      Defragment: async () => {
        b.state.defragment();
        return {};
      },
      MoveLeader: async (m: Msg) => {
        await b.moveLeader(String(m.targetID ?? '0'));
        return {};
      },
      Alarm: async (m: Msg) => {
        const alarm = { action: m.action ?? 'GET', memberID: big(m.memberID), alarm: m.alarm ?? 'NONE' };
        // The gateway passes enums as given: one etcd does not know is refused as grpc-go refuses it.
        if (!['GET', 'ACTIVATE', 'DEACTIVATE'].includes(alarm.action) || !ALARM_TYPES.includes(alarm.alarm)) {
          throw new V3Error(GrpcCode.InvalidArgument, 'unknown alarm action or type');
        }
        // etcd's applier fills no header in an alarm's answer; its gRPC layer leaves it empty too.
        const r = await this.proposeOrThrow({ alarm });
        return toProto({ alarms: (r as AlarmResponse).alarms }) as Msg;
      },
    };
  }

  private cluster(): Record<string, UnaryHandler> {
    const b = this.backend;
    // etcd's cluster server fills no revision in its headers.
    const answer = (extra: Msg = {}) => toProto({ header: b.header(), ...extra, members: b.members() }) as Msg;
    return {
      MemberList: async () => answer(),
      MemberAdd: async (m: Msg) =>
        answer({ member: await beforeDeadline(b.memberAdd(m.peerURLs ?? [], m.isLearner === true)) }),
      MemberRemove: async (m: Msg) => {
        await beforeDeadline(b.memberRemove(String(m.ID ?? '0')));
        return answer();
      },
      MemberUpdate: async (m: Msg) => {
        await beforeDeadline(b.memberUpdate(String(m.ID ?? '0'), m.peerURLs ?? []));
        return answer();
      },
      MemberPromote: async (m: Msg) => {
        await beforeDeadline(b.memberPromote(String(m.ID ?? '0')));
        return answer();
      },
    };
  }

  /**
   * etcd's Snapshot: the backend file in 32 KiB pieces, each with the bytes still to come, then
   * its sha256 as a last piece (remaining 0), which `etcdctl snapshot save` keeps at the end.
   */
  private snapshot(call: grpc.ServerWritableStream<Msg, Msg>): void {
    if (this.refusedStream(call)) return;
    const file = backendFile(this.backend.state, this.backend.backendContext());
    for (let sent = 0; sent < file.length;) {
      const blob = file.subarray(sent, sent + SNAPSHOT_CHUNK);
      sent += blob.length;
      call.write(toProto({ remaining_bytes: String(file.length - sent), blob }) as Msg);
    }
    call.write(toProto({ blob: createHash('sha256').update(file).digest() }) as Msg);
    call.end();
  }

  private kv(): Record<string, UnaryHandler> {
    const b = this.backend;
    return {
      Range: async (m: Msg, ctx?: CallContext) => {
        const r = rangeRequest(m);
        checkRangeRequest(r);
        await b.readBarrier(!!r.serializable);
        const check = (ai: AuthInfo) => b.state.auth.isRangePermitted(ai, r.key, r.range_end);
        return this.withHeader(await this.auth.serialized(ctx, check, () => b.state.range(r)));
      },
      Put: async (m: Msg, ctx?: CallContext) => {
        const r = putRequest(m);
        await this.checkQuota(costPut(r));
        checkPutRequest(r);
        return this.withHeader(
          await this.proposeOrThrow({ put: r, ...(await this.auth.header(ctx)) }, service('KV').Put, m),
        );
      },
      DeleteRange: async (m: Msg, ctx?: CallContext) => {
        const r = deleteRequest(m);
        checkDeleteRequest(r);
        return this.withHeader(
          await this.proposeOrThrow(
            { delete_range: r, ...(await this.auth.header(ctx)) },
            service('KV').DeleteRange,
            m,
          ),
        );
      },
      Txn: async (m: Msg, ctx?: CallContext) => {
        const r = txnRequest(m);
        await this.checkQuota(costTxn(r));
        checkTxnRequest(r, this.maxTxnOps);
        if (isTxnReadOnly(r)) {
          await b.readBarrier(isTxnSerializable(r));
          const check = (ai: AuthInfo) => checkTxnAuth(b.state.auth, ai, r);
          return this.withHeader(await this.auth.serialized(ctx, check, () => b.state.readTxn(r)));
        }
        return this.withHeader(
          await this.proposeOrThrow({ txn: r, ...(await this.auth.header(ctx)) }, service('KV').Txn, m),
        );
      },
      Compact: async (m: Msg, ctx?: CallContext) =>
        this.withHeader(
          await this.proposeOrThrow({
            compaction: { revision: num(m.revision), physical: !!m.physical },
            ...(await this.auth.header(ctx)),
          }),
        ),
    };
  }

  private lease(): Record<string, UnaryHandler> {
    const b = this.backend;
    return {
      LeaseGrant: async (m: Msg, ctx?: CallContext) => {
        await this.checkQuota(LEASE_OVERHEAD);
        let ID = big(m.ID);
        while (ID === 0n) ID = b.newLeaseId();
        return this.withHeader(
          await this.proposeOrThrow({ lease_grant: { ID, TTL: num(m.TTL) }, ...(await this.auth.header(ctx)) }),
        );
      },
      LeaseRevoke: async (m: Msg, ctx?: CallContext) =>
        this.withHeader(
          await this.proposeOrThrow({ lease_revoke: { ID: big(m.ID) }, ...(await this.auth.header(ctx)) }),
        ),
      LeaseTimeToLive: async (m: Msg) => {
        try {
          const t = await b.leaseTimeToLive(big(m.ID), !!m.keys);
          return this.withHeader({ header: { revision: 0 }, ...t });
        } catch (e) {
          if (e === Errors.leaseNotFound) return this.withHeader({ header: { revision: 0 }, ID: big(m.ID), TTL: -1 });
          throw e;
        }
      },
      LeaseLeases: async () =>
        this.withHeader({ header: { revision: 0 }, leases: b.state.lessor.list().map((ID) => ({ ID })) }),
    };
  }

  /**
   * A keep-alive stream, transport-free: `request` for each LeaseKeepAliveRequest, `write` gets
   * each answer, `fail` the error that ends the stream.
   */
  openKeepAlive(write: (m: Msg) => void, fail: (e: V3Error) => void): { request(m: Msg): void } {
    return {
      request: (m: Msg) => {
        // The header is taken before the renewal, as etcd does.
        const resp = this.withHeader({ header: { revision: 0 }, ID: big(m.ID) });
        this.backend.leaseRenew(big(m.ID)).then(
          (TTL) => write({ ...resp, TTL: String(TTL) }),
          (e) => {
            if (e === Errors.leaseNotFound) write(resp);
            // A member that lost the lead mid-stream: the client reconnects, as with etcd's no leader.
            else fail(e instanceof V3Error ? e : Errors.noLeader);
          },
        );
      },
    };
  }

  /**
   * A watch stream, transport-free: `request` for each WatchRequest, `write` gets each answer.
   * A watch the stream's token (`ctx`) may not read is answered created and canceled at once,
   * with the reason (etcd's isWatchPermitted).
   */
  openWatch(write: (m: Msg) => void, ctx?: CallContext): { request(m: Msg): void; close(): void } {
    const stream = this.backend.state.watches.openStream((r: WatchResponse) => {
      write(toProto({ ...r, header: { ...this.backend.header(), revision: r.header.revision } }) as Msg);
    });
    const refuse = (e: unknown) =>
      write(
        toProto({
          header: { ...this.backend.header(), revision: this.backend.state.rev() },
          watch_id: -1,
          created: true,
          canceled: true,
          cancel_reason: watchCancelReason(e),
        }) as Msg,
      );
    /** Requests wait behind a create whose token this member has yet to learn, in order. */
    let queue: Promise<void> | undefined;
    const handle = (m: Msg): void | Promise<void> => {
      switch (m.request_union) {
        case 'create_request': {
          const c = m.create_request;
          const req: WatchCreateRequest = {
            key: c.key,
            range_end: c.range_end,
            start_revision: num(c.start_revision),
            progress_notify: c.progress_notify,
            filters: (c.filters ?? []) as WatchFilter[],
            prev_kv: c.prev_kv,
            watch_id: num(c.watch_id),
          };
          const create = (ai: AuthInfo | undefined) => {
            try {
              this.backend.state.auth.isRangePermitted(
                ai ?? { username: '', revision: 0 },
                req.key ?? Buffer.alloc(0),
                req.range_end,
              );
            } catch (e) {
              return refuse(e);
            }
            stream.create(req);
          };
          if (ctx?.token === undefined) return create(undefined);
          return this.auth.info(ctx).then(create, refuse);
        }
        case 'cancel_request':
          stream.cancel(num(m.cancel_request.watch_id));
          break;
        case 'progress_request':
          stream.requestProgress();
          break;
        default:
          break; // etcd ignores what it does not know
      }
    };
    return {
      request: (m: Msg) => {
        if (queue) {
          queue = queue.then(() => handle(m)).catch(() => {});
          return;
        }
        const pending = handle(m);
        if (pending) queue = pending;
      },
      close: () => stream.close(),
    };
  }

  private leaseKeepAlive(call: grpc.ServerDuplexStream<Msg, Msg>): void {
    if (this.refusedStream(call)) return;
    const ka = this.openKeepAlive(
      (m) => call.write(m),
      (e) => call.emit('error', grpcError(e)),
    );
    call.on('data', (m: Msg) => ka.request(m));
    call.on('end', () => call.end());
    call.on('error', () => {});
  }

  private watch(call: grpc.ServerDuplexStream<Msg, Msg>): void {
    if (this.refusedStream(call)) return;
    const w = this.openWatch((m) => call.write(m), callContextOf(call.metadata));
    call.on('data', (m: Msg) => w.request(m));
    call.on('end', () => {
      w.close();
      call.end();
    });
    call.on('error', () => w.close());
    call.on('cancelled', () => w.close());
  }
}
