// etcd's member add / remove / update / promote through the log, with the checks etcd makes
// first (a peer URL used twice, --strict-reconfig-check's quorum rules, which count voting
// members only, at most one learner, a learner promoted only once in sync with the leader).
// Shared by the client APIs: the v2 members API and v3's Cluster service.

import type { BackendHost } from './backend-host.js';
import { MemberError, type MemberInfo } from './client-backend.js';
import { memberId as computeMemberId } from './ids.js';

export class MemberChanges {
  constructor(
    private readonly node: BackendHost,
    private readonly strict: boolean,
  ) {}

  list(): MemberInfo[] {
    return this.node.sm.list();
  }

  /** `learner`: etcd's `member add --learner` (a member that replicates but does not vote). */
  async add(peerURLs: string[], opts: { learner?: boolean } = {}): Promise<MemberInfo> {
    const members = [...this.node.sm.members.values()];
    const voters = members.filter((m) => !m.isLearner);
    // etcd's order: its strict checks first (mayAddMember), the URLs and the learner count when
    // the change is applied. A learner does not count for quorum: only the connectivity check.
    if (this.strict) {
      if (!opts.learner) checkAddKeepsQuorum(voters);
      const n = this.node;
      checkConnectedToAll(
        voters.map((m) => m.id).filter((x) => x !== n.id),
        (x) => n.peerStats(x).active,
      );
    }
    refuseTakenURLs(members, peerURLs);
    if (opts.learner && members.filter((m) => m.isLearner).length + 1 > MAX_LEARNERS) {
      throw new MemberError(500, 'etcdserver: too many learner members in cluster');
    }
    // etcd derives a runtime-added member's id from its URLs and the time, without the cluster token.
    const id = computeMemberId(peerURLs, '', new Date(this.node.clock.now()));
    const member: MemberInfo = { id, name: '', peerURLs, clientURLs: [], ...(opts.learner ? { isLearner: true } : {}) };
    const type = opts.learner ? 'add-learner' : 'add';
    const out = await this.node.proposeAndWait((r) => ({ conf: { type, id, ctx: { member, r } } }));
    if (out.error) throw out.error;
    return out.member ?? member;
  }

  /**
   * etcd's promoteMember, on the leader (only it knows how far the learner is; `NotLeader`
   * otherwise, for the caller to forward): refused while the learner's log is under 90% of the
   * leader's, then (strict) if the voters started would not make a quorum with it.
   */
  async promote(id: string): Promise<void> {
    const st = this.node.status();
    if (st.role !== 'leader') throw new NotLeader();
    const pr = st.progress.find((p) => p.id === id);
    if (pr && pr.match < st.lastIndex * LEARNER_READY)
      throw new MemberError(500, 'etcdserver: can only promote a learner member which is in sync with leader');
    const members = [...this.node.sm.members.values()];
    if (this.strict) checkPromoteKeepsQuorum(members.filter((m) => !m.isLearner));
    // What etcd's apply-time validation answers.
    const m = this.node.sm.members.get(id);
    if (!m) throw new MemberError(404, `No such member: ${id}`);
    if (!m.isLearner) throw new MemberError(500, 'etcdserver: can only promote a learner member');
    const out = await this.node.proposeAndWait((r) => ({ conf: { type: 'add', id, ctx: { member: m, r } } }));
    if (out.error) throw out.error;
  }

  async remove(id: string): Promise<void> {
    const m = this.member(id);
    // Removing a learner takes no vote away: no quorum check.
    if (this.strict && !m.isLearner) {
      const n = this.node;
      const voters = [...n.sm.members.values()].filter((x) => !x.isLearner).map((x) => x.id);
      checkRemoveKeepsQuorum(voters, id, (x) => x === n.id || n.peerStats(x).active);
    }
    const out = await this.node.proposeAndWait((r) => ({ conf: { type: 'remove', id, ctx: { member: m, r } } }));
    if (out.error) throw out.error;
  }

  async update(id: string, peerURLs: string[]): Promise<void> {
    const m = this.member(id);
    refuseTakenURLs(
      [...this.node.sm.members.values()].filter((o) => o.id !== id),
      peerURLs,
    );
    const out = await this.node.proposeAndWait((r) => ({
      conf: { type: 'update', id, ctx: { member: { ...m, peerURLs }, r } },
    }));
    if (out.error) throw out.error;
  }

  private member(id: string): MemberInfo {
    const m = this.node.sm.members.get(id);
    if (!m) throw new MemberError(404, `No such member: ${id}`);
    return m;
  }
}

/** etcd 3.4's maxLearners. */
export const MAX_LEARNERS = 1;
/** etcd's readyPercent: a learner is promoted once its log holds 90% of the leader's. */
export const LEARNER_READY = 0.9;

/** This member does not lead: only the leader can promote (the caller forwards). */
export class NotLeader extends Error {
  constructor() {
    super('etcdserver: not leader');
  }
}

/** A peer URL names one member only. */
export function refuseTakenURLs(others: MemberInfo[], peerURLs: string[]): void {
  if (others.some((m) => m.peerURLs.some((u) => peerURLs.includes(u))))
    throw new MemberError(409, 'membership: peerURL exists');
}

/** etcd (strict reconfig): after the add, the started members must still form a quorum. */
export function checkAddKeepsQuorum(members: MemberInfo[]): void {
  const started = members.filter((m) => m.name !== '').length;
  const total = members.length + 1;
  if (!(started === 1 && total === 2) && started < Math.floor(total / 2) + 1) {
    throw new MemberError(500, 'etcdserver: re-configuration failed due to not enough started members');
  }
}

/** etcd (strict reconfig): the learner, counted as started, and the started voters make a quorum. */
export function checkPromoteKeepsQuorum(voters: MemberInfo[]): void {
  const started = voters.filter((m) => m.name !== '').length + 1;
  const total = voters.length + 1;
  if (started < Math.floor(total / 2) + 1) {
    throw new MemberError(500, 'etcdserver: re-configuration failed due to not enough started members');
  }
}

/**
 * etcd (strict reconfig): a voting member is added only while this member reaches every other
 * (etcd: connected to all for 5 s; here: connected now). A member added but not yet started
 * blocks the next add, as in etcd.
 */
export function checkConnectedToAll(peers: string[], reachable: (id: string) => boolean): void {
  if (!peers.every(reachable)) throw new MemberError(500, 'etcdserver: unhealthy cluster');
}

/** etcd (strict reconfig): the members that remain, counting only those we can reach, must form a quorum. */
export function checkRemoveKeepsQuorum(memberIds: string[], removed: string, reachable: (id: string) => boolean): void {
  const remaining = memberIds.filter((x) => x !== removed);
  const active = remaining.filter(reachable).length;
  if (active < Math.floor(remaining.length / 2) + 1) throw new MemberError(500, 'etcdserver: unhealthy cluster');
}
