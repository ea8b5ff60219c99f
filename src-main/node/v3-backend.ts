// etcd's v3 API served from the node's log (the v3 services in src-main/v3 call this): writes are
// proposed as v3 entries and answered with the result of applying them here; linearizable reads
// wait for the read index; the leader's lessor counts leases down and proposes the revoke of an
// expired one through the log, so every member expires it alike (etcd's lessor loop). A member
// that does not lead forwards keep-alives and time-to-live questions to the leader.

import type { V3Backend, V3Header, V3Member, V3Status } from '../v3/backend.js';
import type { V3Command } from '../v3/command.js';
import type { BackendContext } from '../v3/snapshot/etcd-backend.js';
import { Errors, GrpcCode, V3Error } from '../v3/errors.js';
import { IdGenerator, type LeaseTimeToLive } from '../v3/lease/lessor.js';
import type { LeaseId } from '../v3/mvcc/types.js';
import type { V3Result, V3StateMachine } from '../v3/state-machine.js';
import type { BackendHost } from './backend-host.js';
import { MemberError, RaftUnavailable, type MemberInfo } from './client-backend.js';
import { quotaBytes } from '../v3/maintenance/quota.js';
import { newURLs } from './etcd-urls.js';
import { NotLeader, type MemberChanges } from './member-changes.js';
import { v3Entry } from './state-machine.js';

/** etcd's lessor checks for expired leases every 500 ms. */
export const LEASE_CHECK_MS = 500;

/** A uint64 id in 16 hex digits as the decimal the v3 API prints. */
const dec = (hex: string) => (hex ? BigInt(`0x${hex}`).toString() : '0');

/** etcd 3.4's cluster version, which its backend records once every member runs 3.4. */
const CLUSTER_VERSION = '3.4.0';

export interface NodeV3Options {
  electionMs: number;
  heartbeatMs: number;
  version: string;
  forward: LeaderForward;
  paused: () => boolean;
  members: MemberChanges;
  /** etcd's --quota-backend-bytes as given (0: etcd's default, negative: none). */
  quotaBackendBytes?: number;
  /** How long a request may wait (etcd's request timeout). */
  requestTimeoutMs: number;
}

export class NodeV3Backend implements V3Backend {
  private ids?: IdGenerator;
  private timer?: NodeJS.Timeout;
  readonly quotaBytes: number;
  /** The ids as header() prints them, kept while they stay the same (every answer has a header). */
  private decimalIds = { hexId: '', hexCluster: '', id: '0', cluster: '0' };

  constructor(
    private readonly node: BackendHost,
    private readonly opts: NodeV3Options,
  ) {
    this.quotaBytes = quotaBytes(opts.quotaBackendBytes);
  }

  get state(): V3StateMachine {
    return this.node.sm.v3;
  }

  /** Starts the lessor loop (the node must have its id). */
  start(): void {
    this.ids = new IdGenerator(BigInt(`0x${this.node.id}`), Date.now());
    this.timer = setInterval(() => this.leaseTick(), LEASE_CHECK_MS);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
    this.opts.forward.close?.();
  }

  async propose(cmd: V3Command): Promise<V3Result> {
    const out = await this.node.proposeAndWait((r) => ({ cmd: v3Entry(r, cmd) })).catch(toV3Error);
    if (out.error) throw toV3Error(out.error);
    if (!out.v3) throw new Error('a v3 proposal applied without a v3 result');
    return out.v3;
  }

  async readBarrier(serializable: boolean): Promise<void> {
    if (serializable) return;
    await this.node.readBarrier().catch(toV3Error);
  }

  async leaseRenew(id: LeaseId): Promise<number> {
    this.leaseTick(); // a just-elected leader is primary before it answers
    if (this.state.lessor.isPrimary()) return this.state.lessor.renew(id);
    return this.opts.forward.renew(this.leaderClientURLs(), id);
  }

  async leaseTimeToLive(id: LeaseId, keys: boolean): Promise<LeaseTimeToLive> {
    this.leaseTick();
    if (this.state.lessor.isPrimary()) return this.state.lessor.timeToLive(id, keys);
    return this.opts.forward.timeToLive(this.leaderClientURLs(), id, keys);
  }

  newLeaseId(): LeaseId {
    this.ids ??= new IdGenerator(BigInt(`0x${this.node.id || '0'}`), Date.now());
    return this.ids.nextLeaseId();
  }

  header(): V3Header {
    const n = this.node;
    let ids = this.decimalIds;
    if (ids.hexId !== n.id || ids.hexCluster !== n.clusterId)
      ids = this.decimalIds = { hexId: n.id, hexCluster: n.clusterId, id: dec(n.id), cluster: dec(n.clusterId) };
    return { cluster_id: ids.cluster, member_id: ids.id, raft_term: String(n.brief().term) };
  }

  status(): V3Status {
    const st = this.node.brief();
    return {
      version: this.opts.version,
      dbSize: this.state.size(),
      dbSizeInUse: this.state.sizeInUse(),
      leader: dec(st.lead),
      raftIndex: st.commit,
      raftTerm: st.term,
      raftAppliedIndex: st.applied,
      isLearner: this.isLearner(),
      // etcd's Status says so when it knows no leader.
      errors: st.lead ? [] : [Errors.noLeader.message],
    };
  }

  members(): V3Member[] {
    return this.node.sm.list().map(v3Member);
  }

  isLearner(): boolean {
    return this.node.sm.members.get(this.node.id)?.isLearner === true;
  }

  backendContext(): BackendContext {
    return {
      consistentIndex: this.node.brief().applied,
      members: this.node.sm.list(),
      removed: [...this.node.sm.removed.keys()].sort(),
      clusterVersion: CLUSTER_VERSION,
    };
  }

  /** etcd's MoveLeader: the leader asks Raft to transfer, then waits (polling each tick) for the new leader. */
  async moveLeader(target: string): Promise<void> {
    if (this.node.brief().role !== 'leader') throw Errors.notLeader;
    let to: string;
    try {
      to = BigInt(target).toString(16);
    } catch {
      throw Errors.badLeaderTransferee;
    }
    const m = this.node.sm.members.get(to);
    if (!m || m.isLearner) throw Errors.badLeaderTransferee;
    try {
      this.node.transferLeader(to);
    } catch {
      // Raft refused (no longer leading, a change in flight): etcd's wait times out the same way.
    }
    const deadline = Date.now() + this.opts.requestTimeoutMs;
    while (this.node.brief().lead !== to) {
      if (Date.now() >= deadline) throw Errors.leaderTransferTimeout;
      await new Promise((r) => setTimeout(r, this.opts.heartbeatMs));
    }
  }

  async memberAdd(peerURLs: string[], isLearner: boolean): Promise<V3Member> {
    const urls = validURLs(peerURLs);
    return v3Member(await this.opts.members.add(urls, { learner: isLearner }).catch(memberError));
  }

  /** On the leader; a member that does not lead asks the leader (etcd forwards it over the peer port). */
  async memberPromote(id: string): Promise<void> {
    try {
      await this.opts.members.promote(hex(id));
    } catch (err) {
      if (!(err instanceof NotLeader)) return memberError(err);
      await this.opts.forward.promote(this.leaderClientURLs(), id);
    }
  }

  async memberRemove(id: string): Promise<void> {
    await this.opts.members.remove(hex(id)).catch(memberError);
  }

  async memberUpdate(id: string, peerURLs: string[]): Promise<void> {
    const urls = validURLs(peerURLs);
    await this.opts.members.update(hex(id), urls).catch(memberError);
  }

  /** Leader: primary lessor, revoking what expired; otherwise not primary (etcd's promote/demote). */
  private leaseTick(): void {
    // Step mode: nothing proposes on its own while the user steps (as v2 TTLs wait too).
    if (this.opts.paused()) return;
    const lessor = this.state.lessor;
    const leading = this.node.brief().role === 'leader';
    if (leading && !lessor.isPrimary()) lessor.promote(this.opts.electionMs);
    else if (!leading && lessor.isPrimary()) lessor.demote();
    if (!leading) return;
    for (const ID of lessor.expired())
      void this.propose({ lease_revoke: { ID }, ...this.state.auth.asRoot() }).catch(() => {});
  }

  private leaderClientURLs(): string[] {
    const lead = this.node.brief().lead;
    if (!lead) throw Errors.noLeader;
    const m = this.node.sm.members.get(lead);
    if (!m || m.clientURLs.length === 0) throw Errors.noLeader;
    return m.clientURLs;
  }
}

/** How a member that does not lead asks the leader (over the leader's client port). */
export interface LeaderForward {
  renew(leaderClientURLs: string[], id: LeaseId): Promise<number>;
  timeToLive(leaderClientURLs: string[], id: LeaseId, keys: boolean): Promise<LeaseTimeToLive>;
  /** Member `id` (uint64 decimal) promoted by the leader. */
  promote(leaderClientURLs: string[], id: string): Promise<void>;
  close?(): void;
}

function v3Member(m: MemberInfo): V3Member {
  return {
    ID: dec(m.id),
    name: m.name,
    peerURLs: m.peerURLs,
    clientURLs: m.clientURLs,
    isLearner: m.isLearner === true,
  };
}

/** A v3 member id (uint64 decimal) as the node keeps it (hex). */
function hex(id: string): string {
  try {
    return BigInt(id).toString(16);
  } catch {
    throw Errors.memberNotFound;
  }
}

function validURLs(peerURLs: string[]): string[] {
  try {
    return newURLs(peerURLs);
  } catch {
    throw Errors.memberBadURLs;
  }
}

/** The member checks' errors (v2's texts and statuses) as etcd's v3 API gives them. */
function memberError(err: unknown): never {
  if (err instanceof MemberError) {
    if (err.status === 404) throw Errors.memberNotFound;
    if (/peerURL exists/.test(err.message)) throw Errors.peerURLExist;
    if (/not enough started members/.test(err.message)) throw Errors.memberNotEnoughStarted;
    if (/which is in sync with leader/.test(err.message)) throw Errors.learnerNotReady;
    if (/can only promote a learner member/.test(err.message)) throw Errors.memberNotLearner;
    if (/too many learner members/.test(err.message)) throw Errors.tooManyLearners;
    if (/unhealthy cluster/.test(err.message)) throw Errors.unhealthy;
    throw new V3Error(GrpcCode.Unknown, err.message);
  }
  return toV3Error(err);
}

function toV3Error(err: unknown): never {
  if (err instanceof V3Error) throw err;
  if (err instanceof RaftUnavailable) throw /no leader/.test(err.message) ? Errors.noLeader : Errors.timeout;
  throw err;
}
