// Who this member is, and the durable state it starts from: a restart from its data dir, a
// member of a new cluster (its id and the cluster's derived from --initial-cluster and the
// token, as etcd does), or a member joining an existing cluster (its id learnt from the peers).
// etcd's "already bootstrapped" and "belongs to another cluster" refusals are made here, before
// anything is written.

import fs from 'node:fs';
import path from 'node:path';
import { bootstrapState } from '../raft/raft.js';
import { markerFileFor } from '../storage/member-marker.js';
import { RaftStorage, type StoredState } from '../storage/raft-storage.js';
import type { MemberInfo } from './client-backend.js';
import { PeerDialer } from './peer/dial.js';
import { decodePeerMembers } from './peer/members-wire.js';
import { errText } from './peer/wire.js';
import { clusterId as computeClusterId, memberId as computeMemberId } from './ids.js';
import { etcdmain } from './log.js';
import { note, NodeStartError, type LogFn, type NodeSettings } from './node-settings.js';
import type { ConfContext } from './state-machine.js';

export interface OpenedMember {
  id: string;
  clusterId: string;
  /** Open; the caller closes it. */
  storage: RaftStorage;
  stored: StoredState;
  /** A member still joining: the peers the cluster told it of (id → peer URLs). */
  joinPeers: Map<string, string[]>;
}

/** Opens (or creates) the member's data dir; a NodeStartError says why it cannot be used. */
export async function openMember(s: NodeSettings, log: LogFn): Promise<OpenedMember> {
  const memberDir = path.join(s.dataDir, 'member');
  fs.mkdirSync(memberDir, { recursive: true });
  const file = path.join(memberDir, 'raftlab.db');
  const initialized = fs.existsSync(file) && fs.statSync(file).size > 0;
  if (!initialized && s.initialClusterState === 'new' && !fs.existsSync(markerFileFor(file)))
    await refuseIfBootstrapped(s);
  // Refuses a data dir whose storage is damaged (StorageDamagedError: checksums, a lost WAL,
  // an emptied database of an initialised member): never a fresh start under an old id.
  const storage = RaftStorage.open(file);
  try {
    let who: { id: string; clusterId: string };
    if (initialized) who = resume(s, storage, file, log);
    else if (s.initialClusterState === 'new') who = bootstrapNew(s, storage);
    else who = await joinExisting(s, storage);
    const stored = storage.load();
    const joinPeers = new Map(
      (JSON.parse(storage.getMeta('join_members') ?? '[]') as MemberInfo[]).map((m) => [m.id, m.peerURLs]),
    );
    return { ...who, storage, stored, joinPeers };
  } catch (err) {
    storage.close();
    throw err;
  }
}

/** Restart from the data dir: the node's identity and log come from its database. */
function resume(s: NodeSettings, storage: RaftStorage, file: string, log: LogFn): { id: string; clusterId: string } {
  const id = storage.getMeta('member_id');
  const cid = storage.getMeta('cluster_id');
  if (!id || !cid) throw new NodeStartError(`${file} holds no member identity: it was not initialized by raftlab`);
  // A member bootstrapped by discovery has no --initial-cluster to compare with (etcd ignores
  // both on a restart; raftlab checks a static one, to catch a data dir of another cluster).
  if (s.initialClusterState === 'new' && s.initialCluster.length > 0) {
    const expected = newClusterIds(s);
    if (expected.clusterId !== cid) {
      throw new NodeStartError(
        `data dir ${s.dataDir} belongs to cluster ${cid}, but --initial-cluster and --initial-cluster-token describe cluster ${expected.clusterId}; use the data dir of this cluster or remove it`,
      );
    }
  }
  const name = storage.getMeta('name');
  if (name && name !== s.name) {
    throw new NodeStartError(`data dir ${s.dataDir} belongs to member "${name}", not "${s.name}"`);
  }
  note(log, etcdmain.alreadyInitialized());
  return { id, clusterId: cid };
}

function newClusterIds(s: NodeSettings): { ids: Map<string, string>; clusterId: string } {
  const ids = new Map<string, string>();
  for (const m of s.initialCluster) ids.set(m.name, computeMemberId(m.peerURLs, s.initialClusterToken));
  return { ids, clusterId: computeClusterId([...ids.values()]) };
}

/**
 * etcd's isMemberBootstrapped, before anything is written: a member whose data dir is gone
 * must not start a new log under the id it had, which the other members still know. If a
 * peer lists this member as started (it has client URLs), refuse as etcd does. Unreachable
 * peers (a cluster starting for the first time) are no answer: start.
 */
async function refuseIfBootstrapped(s: NodeSettings): Promise<void> {
  const self = newClusterIds(s).ids.get(s.name);
  const urls = s.initialCluster.filter((m) => m.name !== s.name).flatMap((m) => m.peerURLs);
  if (!self || urls.length === 0) return;
  const dialer = new PeerDialer(s.peerTLS);
  const lists = await Promise.all(
    urls.map(async (u) => {
      try {
        const res = await dialer.get(new URL('/members', u), 1000);
        return res.status >= 200 && res.status < 300 ? decodePeerMembers(res.body) : [];
      } catch {
        return [];
      }
    }),
  );
  if (lists.some((ms) => ms.some((m) => m?.id === self && Array.isArray(m.clientURLs) && m.clientURLs.length > 0))) {
    throw new NodeStartError(`member ${self} has already been bootstrapped`);
  }
}

function bootstrapNew(s: NodeSettings, storage: RaftStorage): { id: string; clusterId: string } {
  const { ids, clusterId } = newClusterIds(s);
  const self = ids.get(s.name);
  if (!self) throw new NodeStartError(`couldn't find local name "${s.name}" in the initial cluster configuration`);
  const byId = new Map(s.initialCluster.map((m) => [ids.get(m.name)!, m]));
  const boot = bootstrapState([...byId.keys()], (id) => {
    const m = byId.get(id)!;
    const ctx: ConfContext = { member: { id, name: m.name, peerURLs: m.peerURLs, clientURLs: [] } };
    return JSON.stringify(ctx);
  });
  storage.persist({ entries: boot.entries, hardState: boot.hardState });
  return saveIdentity(s, storage, self, clusterId);
}

/**
 * A member added with `member add` learns its id and the cluster id from the peers. The add
 * may not have reached every peer yet, so ask them all, for a few seconds.
 */
async function joinExisting(s: NodeSettings, storage: RaftStorage): Promise<{ id: string; clusterId: string }> {
  const mine = new Set(s.advertisePeerURLs);
  const peers = s.initialCluster.filter((m) => m.name !== s.name).flatMap((m) => m.peerURLs);
  if (peers.length === 0) throw new NodeStartError('--initial-cluster names no other member to join');
  const deadline = Date.now() + 5000;
  // etcd's getClusterFromRemotePeers dials with the peer TLS info, as rafthttp does.
  const dialer = new PeerDialer(s.peerTLS);
  let problems: string[] = [];
  while (Date.now() < deadline) {
    problems = [];
    for (const u of peers) {
      try {
        const res = await dialer.get(new URL('/members', u), 2000);
        const members = decodePeerMembers(res.body);
        const me = members.find((x) => x.peerURLs.some((p) => mine.has(p)));
        const cid = String(res.headers['x-etcd-cluster-id'] ?? '');
        if (me) {
          // Until it has applied the log, the new member knows its peers only from this list.
          storage.setMeta('join_members', JSON.stringify(members));
          return saveIdentity(s, storage, me.id, cid);
        }
        problems.push(
          `${u}: cluster ${cid} has no member with peer URLs ${[...mine].join(',')}; add it first with \`etcdctl member add\``,
        );
      } catch (err) {
        problems.push(`${u}: ${errText(err)}`);
      }
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new NodeStartError(`cannot join the cluster: ${problems.join('; ')}`);
}

function saveIdentity(
  s: NodeSettings,
  storage: RaftStorage,
  id: string,
  clusterId: string,
): { id: string; clusterId: string } {
  storage.setIdentity({ memberId: id, clusterId, name: s.name });
  return { id, clusterId };
}
