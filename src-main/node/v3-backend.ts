// etcd's v3 API served from the node's log (the v3 services in src-main/v3 call this): writes are
// proposed as v3 entries and answered with the result of applying them here; linearizable reads
// wait for the read index; the leader's lessor counts leases down and proposes the revoke of an
// expired one through the log, so every member expires it alike (etcd's lessor loop). A member
// that does not lead forwards keep-alives and time-to-live questions to the leader.

import type { V3Backend, V3Header, V3Member, V3Status } from '../v3/backend.js';
import type { V3Command } from '../v3/command.js';
import { Errors, GrpcCode, V3Error } from '../v3/errors.js';
import { IdGenerator, type LeaseTimeToLive } from '../v3/lease/lessor.js';
import type { LeaseId } from '../v3/mvcc/types.js';
import type { V3Result, V3StateMachine } from '../v3/state-machine.js';
import type { BackendHost } from './backend-host.js';
import { MemberError, RaftUnavailable } from './client-backend.js';
import { newURLs } from './etcd-urls.js';
import type { MemberChanges } from './member-changes.js';
import { v3Entry } from './state-machine.js';

/** etcd's lessor checks for expired leases every 500 ms. */
export const LEASE_CHECK_MS = 500;

/** A uint64 id in 16 hex digits as the decimal the v3 API prints. */
const dec = (hex: string) => (hex ? BigInt(`0x${hex}`).toString() : '0');

export class NodeV3Backend implements V3Backend {
  private ids?: IdGenerator;
  private timer?: NodeJS.Timeout;

  constructor(
    private readonly node: BackendHost,
    private readonly opts: { electionMs: number; version: string; forward: LeaderForward; paused: () => boolean; members: MemberChanges },
  ) {}

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
    return { cluster_id: dec(this.node.clusterId), member_id: dec(this.node.id), raft_term: String(this.node.status().term) };
  }

  status(): V3Status {
    const st = this.node.status();
    const size = this.state.snapshot().length;
    return {
      version: this.opts.version,
      dbSize: size,
      dbSizeInUse: size,
      leader: dec(st.lead),
      raftIndex: st.commit,
      raftTerm: st.term,
      raftAppliedIndex: st.applied,
      isLearner: false,
      errors: [],
    };
  }

  members(): V3Member[] {
    return this.node.sm.list().map((m) => ({ ID: dec(m.id), name: m.name, peerURLs: m.peerURLs, clientURLs: m.clientURLs, isLearner: false }));
  }

  async memberAdd(peerURLs: string[], isLearner: boolean): Promise<V3Member> {
    if (isLearner) throw new V3Error(GrpcCode.Unimplemented, 'raftlab: learners are not supported yet (every member votes)');
    const urls = validURLs(peerURLs);
    const m = await this.opts.members.add(urls).catch(memberError);
    return { ID: dec(m.id), name: m.name, peerURLs: m.peerURLs, clientURLs: m.clientURLs, isLearner: false };
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
    const leading = this.node.status().role === 'leader';
    if (leading && !lessor.isPrimary()) lessor.promote(this.opts.electionMs);
    else if (!leading && lessor.isPrimary()) lessor.demote();
    if (!leading) return;
    for (const ID of lessor.expired()) void this.propose({ lease_revoke: { ID }, ...this.state.auth.asRoot() }).catch(() => {});
  }

  private leaderClientURLs(): string[] {
    const lead = this.node.status().lead;
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
  close?(): void;
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
