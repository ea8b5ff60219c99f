// etcd's v2 API served from the node's log: what api-v2.ts (the HTTP layer) calls. Writes are
// proposed and answered once applied here, quorum reads wait for a read index, the rest reads
// the local v2 store. The leader also turns expired TTLs into deletions through the log.

import type { BackendHost } from './backend-host.js';
import type { ClientBackend, MemberInfo, RaftStatus } from './client-backend.js';
import { goDuration } from './log.js';
import type { MemberChanges } from './member-changes.js';
import type { V2Command, V2Event, V2ReadRequest, V2StoreStats, V2WatchHandle } from './store-v2/types.js';

export class V2Backend implements ClientBackend {
  private expiring = new Set<string>();

  constructor(
    private readonly node: BackendHost,
    private readonly memberChanges: MemberChanges,
  ) {}

  status(): RaftStatus {
    const n = this.node;
    const st = n.brief();
    return {
      id: n.id,
      name: n.name,
      clusterId: n.clusterId,
      term: st.term,
      commit: st.commit,
      leader: st.lead,
      role: st.role,
      startTime: n.startTime,
      leaderStartTime: n.leaderSince(),
    };
  }

  storeIndex(): number {
    return this.node.sm.store.index;
  }

  async write(cmd: Omit<V2Command, 'now'>): Promise<V2Event> {
    const now = this.node.clock.now();
    const out = await this.node.proposeAndWait((r) => ({ cmd: { t: 'v2', r, c: { ...cmd, now } as V2Command } }));
    if (out.error) throw out.error;
    return out.event!;
  }

  async read(req: V2ReadRequest): Promise<V2Event> {
    if (req.quorum) await this.node.readBarrier();
    return this.node.sm.store.get(
      req.path,
      { recursive: req.recursive, sorted: req.sorted, space: req.space },
      this.node.clock.now(),
    );
  }

  lookupLocal(req: Omit<V2ReadRequest, 'quorum'>): V2Event | null {
    return this.node.sm.store.lookup(
      req.path,
      { recursive: req.recursive, sorted: req.sorted, space: req.space },
      this.node.clock.now(),
    );
  }

  watch(p: string, opts: { recursive: boolean; waitIndex: number }, onEvent: (e: V2Event) => void): V2WatchHandle {
    return this.node.sm.store.watch(p, opts, onEvent);
  }

  members(): MemberInfo[] {
    return this.memberChanges.list();
  }

  addMember(peerURLs: string[]): Promise<MemberInfo> {
    return this.memberChanges.add(peerURLs);
  }

  removeMember(id: string): Promise<void> {
    return this.memberChanges.remove(id);
  }

  updateMember(id: string, peerURLs: string[]): Promise<void> {
    return this.memberChanges.update(id, peerURLs);
  }

  storeStats(): V2StoreStats {
    return this.node.sm.store.stats();
  }

  selfStats(): object {
    const n = this.node;
    const st = n.brief();
    const state =
      st.role === 'leader'
        ? 'StateLeader'
        : st.role === 'candidate'
          ? 'StateCandidate'
          : st.role === 'precandidate'
            ? 'StatePreCandidate'
            : 'StateFollower';
    const since = n.leaderSince() ?? n.startTime;
    const counts = n.appendCounts();
    return {
      name: n.name,
      id: n.id,
      state,
      startTime: n.startTime.toISOString(),
      leaderInfo: { leader: st.lead, uptime: goDuration(Date.now() - since.getTime()), startTime: since.toISOString() },
      recvAppendRequestCnt: counts.recvApp,
      sendAppendRequestCnt: counts.sendApp,
    };
  }

  leaderStats(): object | undefined {
    const n = this.node;
    if (n.brief().role !== 'leader') return undefined;
    const followers: Record<string, object> = {};
    for (const m of n.sm.members.values()) {
      if (m.id === n.id) continue;
      const peer = n.peerStats(m.id);
      followers[m.id] = {
        latency: peer.latency,
        counts: { fail: peer.fail, success: peer.success },
      };
    }
    return { leader: n.id, followers };
  }

  async health(): Promise<boolean> {
    if (!this.node.brief().lead) return false;
    try {
      await this.node.readBarrier();
      return true;
    } catch {
      return false;
    }
  }

  /** On the leader: expired TTLs become deletions through the log, so every node expires alike. */
  expireKeys(): void {
    const n = this.node;
    if (n.brief().role !== 'leader') return;
    for (const key of n.sm.store.expiredKeys(n.clock.now())) {
      if (this.expiring.has(key)) continue;
      this.expiring.add(key);
      n.proposeAndWait((r) => ({ cmd: { t: 'v2', r, c: { op: 'expire', path: key, now: n.clock.now() } } }))
        .catch(() => {})
        .finally(() => this.expiring.delete(key));
    }
  }
}
