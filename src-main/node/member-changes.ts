// etcd's member add / remove / update through the log, with the checks etcd makes first
// (a peer URL used twice, and --strict-reconfig-check's quorum rules). Shared by the client
// APIs: the v2 members API today, v3's Cluster service next.

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

  async add(peerURLs: string[]): Promise<MemberInfo> {
    const members = [...this.node.sm.members.values()];
    // etcd's order: its strict checks first (mayAddMember), the URLs when the change is applied.
    if (this.strict) {
      checkAddKeepsQuorum(members);
      const n = this.node;
      checkConnectedToAll(members.map((m) => m.id).filter((x) => x !== n.id), (x) => n.peerStats(x).active);
    }
    refuseTakenURLs(members, peerURLs);
    // etcd derives a runtime-added member's id from its URLs and the time, without the cluster token.
    const id = computeMemberId(peerURLs, '', new Date(this.node.clock.now()));
    const member: MemberInfo = { id, name: '', peerURLs, clientURLs: [] };
    const out = await this.node.proposeAndWait((r) => ({ conf: { type: 'add', id, ctx: { member, r } } }));
    if (out.error) throw out.error;
    return out.member ?? member;
  }

  async remove(id: string): Promise<void> {
    const m = this.member(id);
    if (this.strict) {
      const n = this.node;
      checkRemoveKeepsQuorum([...n.sm.members.keys()], id, (x) => x === n.id || n.peerStats(x).active);
    }
    const out = await this.node.proposeAndWait((r) => ({ conf: { type: 'remove', id, ctx: { member: m, r } } }));
    if (out.error) throw out.error;
  }

  async update(id: string, peerURLs: string[]): Promise<void> {
    const m = this.member(id);
    refuseTakenURLs([...this.node.sm.members.values()].filter((o) => o.id !== id), peerURLs);
    const out = await this.node.proposeAndWait((r) => ({ conf: { type: 'update', id, ctx: { member: { ...m, peerURLs }, r } } }));
    if (out.error) throw out.error;
  }

  private member(id: string): MemberInfo {
    const m = this.node.sm.members.get(id);
    if (!m) throw new MemberError(404, `No such member: ${id}`);
    return m;
  }
}

/** A peer URL names one member only. */
export function refuseTakenURLs(others: MemberInfo[], peerURLs: string[]): void {
  if (others.some((m) => m.peerURLs.some((u) => peerURLs.includes(u)))) throw new MemberError(409, 'membership: peerURL exists');
}

/** etcd (strict reconfig): after the add, the started members must still form a quorum. */
export function checkAddKeepsQuorum(members: MemberInfo[]): void {
  const started = members.filter((m) => m.name !== '').length;
  const total = members.length + 1;
  if (!(started === 1 && total === 2) && started < Math.floor(total / 2) + 1) {
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
