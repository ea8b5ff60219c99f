// A single v3 member without Raft: every proposal applies at once, and this member is the
// lessor's primary, revoking expired leases through propose() as etcd's leader does (it checks
// every 500 ms, as etcd's lessor loop). For tests of the gRPC services with real clients.
import type { V3Backend, V3Header, V3Member, V3Status } from './backend.js';
import { decodeCommand, encodeCommand, type V3Command } from './command.js';
import { Errors, GrpcCode, V3Error } from './errors.js';
import { IdGenerator, type LeaseTimeToLive } from './lease/lessor.js';
import type { LeaseId } from './mvcc/types.js';
import { quotaBytes } from './maintenance/quota.js';
import type { BackendContext } from './snapshot/etcd-backend.js';
import { V3StateMachine, type V3Result } from './state-machine.js';

export const LEASE_CHECK_MS = 500;

export class MemoryBackend implements V3Backend {
  readonly state: V3StateMachine;
  private readonly timer: NodeJS.Timeout;
  private readonly memberId: string;
  private readonly ids: IdGenerator;

  readonly quotaBytes: number;

  /** `quotaBackendBytes`: etcd's --quota-backend-bytes (0: its default, negative: none). */
  constructor(opts: { minLeaseTTL?: number; electionMs?: number; memberId?: string; quotaBackendBytes?: number } = {}) {
    this.quotaBytes = quotaBytes(opts.quotaBackendBytes);
    this.state = new V3StateMachine({ minLeaseTTL: opts.minLeaseTTL ?? 1 });
    this.state.lessor.promote(opts.electionMs ?? 0);
    this.memberId = opts.memberId ?? '10276657743932975437';
    this.ids = new IdGenerator(BigInt(this.memberId), Date.now());
    this.timer = setInterval(() => this.revokeExpired(), LEASE_CHECK_MS);
    this.timer.unref();
  }

  /** Commands applied so far: the index a Raft log would have. */
  private applied = 0;

  async propose(cmd: V3Command): Promise<V3Result> {
    this.applied++;
    // Through the log's encoding, as a Raft member applies it.
    return this.state.apply(decodeCommand(encodeCommand(cmd)), this.applied);
  }

  async readBarrier(): Promise<void> {}

  async leaseRenew(id: LeaseId): Promise<number> {
    return this.state.lessor.renew(id);
  }

  async leaseTimeToLive(id: LeaseId, keys: boolean): Promise<LeaseTimeToLive> {
    return this.state.lessor.timeToLive(id, keys);
  }

  newLeaseId(): LeaseId {
    return this.ids.nextLeaseId();
  }

  header(): V3Header {
    return { cluster_id: '14841639068965178418', member_id: this.memberId, raft_term: '2' };
  }

  status(): V3Status {
    return {
      version: '3.4.0',
      dbSize: this.state.size(),
      dbSizeInUse: this.state.sizeInUse(),
      leader: this.memberId,
      raftIndex: this.applied,
      raftTerm: 2,
      raftAppliedIndex: this.applied,
      isLearner: false,
      errors: [],
    };
  }

  members(): V3Member[] {
    return [
      {
        ID: this.memberId,
        name: 'default',
        peerURLs: ['http://localhost:2380'],
        clientURLs: [this.clientURL],
        isLearner: false,
      },
    ];
  }

  async memberAdd(): Promise<V3Member> {
    throw new V3Error(GrpcCode.Unimplemented, 'a single in-memory member cannot change membership');
  }

  async memberRemove(): Promise<void> {
    throw new V3Error(GrpcCode.Unimplemented, 'a single in-memory member cannot change membership');
  }

  async memberUpdate(): Promise<void> {
    throw new V3Error(GrpcCode.Unimplemented, 'a single in-memory member cannot change membership');
  }

  /** The only member is a voter: promoting it is refused as etcd refuses a voter's promotion. */
  async memberPromote(id: string): Promise<void> {
    throw id === this.memberId ? Errors.memberNotLearner : Errors.memberNotFound;
  }

  isLearner(): boolean {
    return false;
  }

  /** It leads already: moving the lead to itself is done at once, as in etcd. */
  async moveLeader(target: string): Promise<void> {
    if (target !== this.memberId) throw Errors.badLeaderTransferee;
  }

  backendContext(): BackendContext {
    const [m] = this.members();
    if (!m) throw new Error('memory backend: no member');
    return {
      consistentIndex: this.applied,
      members: [{ id: BigInt(m.ID).toString(16), name: m.name, peerURLs: m.peerURLs, clientURLs: m.clientURLs }],
      removed: [],
      clusterVersion: '3.4.0',
    };
  }

  /** The URL clients reach this member at, for MemberList. */
  clientURL = 'http://localhost:2379';

  close(): void {
    clearInterval(this.timer);
  }

  private revokeExpired(): void {
    for (const ID of this.state.lessor.expired())
      void this.propose({ lease_revoke: { ID }, ...this.state.auth.asRoot() });
  }
}
