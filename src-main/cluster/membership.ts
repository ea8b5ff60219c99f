// The supervisor's membership commands, done as an operator does them with etcdctl: member add
// (then start the new member with --initial-cluster-state existing), member remove, member
// promote of a learner.

import path from 'node:path';
import type { AddMemberResult } from '../../src-shared/command-results.js';
import type { ClusterLauncher } from './cluster-launch.js';
import type { EventQueue } from './event-queue.js';
import { newRecord, type ClusterNodes, type NodeDefaults, type NodeRecord } from './node-records.js';
import type { AddMemberReply } from './worker-protocol.js';
import type { Workers } from './workers.js';

/** What the membership commands work on: the supervisor's parts. */
export interface MembershipHost {
  readonly defaults: NodeDefaults;
  readonly cluster: ClusterNodes;
  readonly workers: Workers;
  readonly events: EventQueue;
  /** The names taken, and the CA of a secured cluster. */
  readonly launcher: ClusterLauncher;
  stopped(): boolean;
}

export class Membership {
  constructor(private readonly host: MembershipHost) {}

  /** `learner`: etcdctl member add --learner (it replicates, does not vote until promoted). */
  async add(start: boolean, learner = false): Promise<AddMemberResult> {
    const h = this.host;
    const c = h.cluster;
    const via = c.pickVia();
    const gen = c.generation;
    const name = h.launcher.nextName();
    const [peerPort, clientPort] = await c.unusedPorts();
    // A member of a secured cluster gets its certificate from the cluster's CA, and https URLs.
    const secure = h.launcher.secureFor(via);
    const scheme = secure ? 'https' : 'http';
    const peerURL = `${scheme}://127.0.0.1:${peerPort}`;
    // Step 1, `etcdctl member add`: the cluster now counts a member that does not run yet.
    const reply = (await h.workers.call(via, {
      op: 'addMember',
      peerURL,
      ...(learner ? { learner } : {}),
    })) as AddMemberReply;
    if (gen !== c.generation) throw new Error('the cluster was replaced meanwhile');
    // etcd prints ETCD_INITIAL_CLUSTER as the started members plus the new one.
    const initialCluster = reply.members
      .filter((m) => m.name !== '')
      .map((m) => ({ name: m.name, peerURLs: m.peerURLs }))
      .concat([{ name, peerURLs: [peerURL] }]);
    const dir = path.dirname(via.dataDir);
    const rec = newRecord(
      h.defaults,
      name,
      peerURL,
      `${scheme}://127.0.0.1:${clientPort}`,
      path.join(dir, `${name}.etcd`),
      initialCluster,
      'existing',
      via.settings.initialClusterToken,
    );
    if (secure) Object.assign(rec.settings, await secure.forMember(name));
    rec.id = reply.member.id;
    rec.status = 'unstarted';
    c.nodes.set(name, rec);
    h.events.markDirty();
    // Step 2: start it with --initial-cluster-state existing, once the window has been told
    // it is unstarted (spawning marks it starting at once; the state would never be seen).
    if (start) {
      await h.events.flushed();
      if (gen === c.generation && !h.stopped()) await h.workers.spawn(rec);
    }
    return { name, id: rec.id };
  }

  async remove(name: string): Promise<undefined> {
    const h = this.host;
    const rec = h.cluster.node(name);
    if (rec.status === 'removed') throw new Error(`${name} was already removed`);
    if (!rec.id) throw new Error(`${name} has no member id yet`);
    const via = h.cluster.pickVia(rec);
    await h.workers.call(via, { op: 'removeMember', id: rec.id });
    rec.status = 'removed';
    h.events.markDirty();
    // A running member learns of its removal, says so and exits about a second later; one cut
    // off from the cluster may never learn, so do not wait for it forever.
    this.killLater(rec, 3000);
    return undefined;
  }

  /**
   * `etcdctl member promote`: asked of the leader, as etcd forwards it there. Refused, in etcd's
   * words, while the learner's log is behind the leader's or when it is not a learner.
   */
  async promote(name: string): Promise<undefined> {
    const h = this.host;
    const rec = h.cluster.node(name);
    if (rec.status === 'removed') throw new Error(`${name} was removed`);
    if (!rec.id) throw new Error(`${name} has no member id yet`);
    const leader = h.cluster.all().find((n) => n.status === 'alive' && n.state?.role === 'leader');
    if (!leader) throw new Error('there is no leader to ask: a promotion is decided by the leader');
    await h.workers.call(leader, { op: 'promoteMember', id: rec.id });
    h.events.markDirty();
    return undefined;
  }

  /** Kills `rec`'s current worker after `ms`, unless it is gone by then. */
  private killLater(rec: NodeRecord, ms: number): void {
    const w = rec.worker;
    if (!w) return;
    setTimeout(() => {
      if (rec.worker === w) void this.host.workers.shutdown(rec, 'kill');
    }, ms).unref();
  }
}
