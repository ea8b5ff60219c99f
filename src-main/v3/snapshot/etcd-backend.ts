// What etcd 3.4 keeps in its backend (a bbolt file), built from a member's v3 state: the
// buckets and their keys as etcd writes them, so that `etcdctl snapshot status` counts the same
// kinds of keys and `etcdctl snapshot restore` (and a real etcd started on the result) reads the
// keys, leases and revisions back. Buckets (mvcc/backend, etcdserver/api/membership, v3alarm,
// auth):
//   key         revision (8 bytes main, '_', 8 bytes sub, 't' if a tombstone) -> mvccpb.KeyValue
//   meta        consistent_index -> 8 bytes; scheduledCompactRev, finishedCompactRev -> revision
//   lease       8-byte id -> leasepb.Lease {ID, TTL}
//   members     hex id -> the member as JSON; members_removed: hex id -> "removed"
//   cluster     clusterVersion -> "3.4.0"
//   alarm       etcdserverpb.AlarmMember -> (empty)
//   auth        authRevision -> 8 bytes (1: auth never enabled); authUsers, authRoles (empty)
import { Crc32c, marshalKeyValue, revisionKey, varint } from '../mvcc/hash.js';
import type { V3StateMachine } from '../state-machine.js';
import { ALARM_TYPES } from '../maintenance/alarms.js';
import { writeBolt, type BoltBucket, type BoltPair } from './bolt.js';

/** A member as etcd's membership package stores it (ids as 16-digit-or-fewer hex, as types.ID prints). */
export interface BackendMember {
  id: string;
  name: string;
  peerURLs: string[];
  clientURLs: string[];
  isLearner?: boolean;
}

export interface BackendContext {
  /** The Raft index applied to this state (etcd's consistent index). */
  consistentIndex: number;
  members: BackendMember[];
  /** Hex ids of removed members. */
  removed: string[];
  /** etcd 3.4 writes its cluster version, 3.4.0, once the cluster agrees on it. */
  clusterVersion?: string;
}

const u64 = (n: number | bigint) => {
  const b = Buffer.alloc(8);
  b.writeBigUInt64BE(BigInt.asUintN(64, BigInt(n)));
  return b;
};

/** Protobuf varint fields, zero values left out (as Go marshals proto3). */
function varintFields(fields: [tag: number, v: bigint][]): Buffer {
  const out: number[] = [];
  for (const [tag, v] of fields) {
    if (v === 0n) continue;
    out.push(tag << 3);
    varint(out, v);
  }
  return Buffer.from(out);
}

/**
 * A member as Go's encoding/json writes etcd's membership.Member: "id" a JSON number (the uint64
 * in full: JSON.stringify cannot write one over 2^53 exactly), peerURLs, then isLearner, name and
 * clientURLs, each left out when empty. (Also what a raftlab peer port's GET /members lists.)
 */
export function memberJson(m: BackendMember): string {
  let s = `{"id":${BigInt(`0x${m.id}`).toString()},"peerURLs":${JSON.stringify(m.peerURLs)}`;
  if (m.isLearner) s += ',"isLearner":true';
  if (m.name) s += `,"name":${JSON.stringify(m.name)}`;
  if (m.clientURLs.length > 0) s += `,"clientURLs":${JSON.stringify(m.clientURLs)}`;
  return `${s}}`;
}

export function etcdBuckets(state: V3StateMachine, ctx: BackendContext): BoltBucket[] {
  const key: BoltPair[] = [];
  for (const e of state.store.revisions()) {
    key.push([revisionKey(e.main, e.sub, e.tombstone), marshalKeyValue(e.tombstone ? { key: e.kv.key } : e.kv)]);
  }
  const meta: BoltPair[] = [[Buffer.from('consistent_index'), u64(ctx.consistentIndex)]];
  const compacted = state.store.compactRev();
  if (compacted > 0) {
    meta.push([Buffer.from('scheduledCompactRev'), revisionKey(compacted, 0, false)]);
    meta.push([Buffer.from('finishedCompactRev'), revisionKey(compacted, 0, false)]);
  }
  const lease: BoltPair[] = state.lessor.toSnapshot().map(([id, ttl]) => [
    u64(BigInt(id)),
    varintFields([
      [1, BigInt(id)],
      [2, BigInt(ttl)],
    ]),
  ]);
  const alarm: BoltPair[] = state.alarms.get('NONE').map((a) => [
    varintFields([
      [1, a.memberID],
      [2, BigInt(ALARM_TYPES.indexOf(a.alarm))],
    ]),
    Buffer.alloc(0),
  ]);
  const str = (k: string, v: string | Buffer): BoltPair => [Buffer.from(k), Buffer.isBuffer(v) ? v : Buffer.from(v)];
  return [
    { name: 'alarm', pairs: alarm },
    { name: 'auth', pairs: [str('authRevision', u64(1))] },
    { name: 'authRoles', pairs: [] },
    { name: 'authUsers', pairs: [] },
    { name: 'cluster', pairs: ctx.clusterVersion === undefined ? [] : [str('clusterVersion', ctx.clusterVersion)] },
    { name: 'key', pairs: key },
    { name: 'lease', pairs: lease },
    { name: 'members', pairs: ctx.members.map((m) => str(m.id, memberJson(m))) },
    { name: 'members_removed', pairs: ctx.removed.map((id) => str(id, 'removed')) },
    { name: 'meta', pairs: meta },
  ];
}

/** The backend as a bbolt file: what etcd's Snapshot RPC streams (before its sha256). */
export function backendFile(state: V3StateMachine, ctx: BackendContext): Buffer {
  return writeBolt(etcdBuckets(state, ctx));
}

/**
 * etcd's Maintenance.Hash (backend.Hash with mvcc's DefaultIgnores): a CRC-32C over every bucket,
 * in name order, its name then each key and value in key order, leaving out the consistent index.
 */
export function backendHash(buckets: BoltBucket[]): number {
  const h = new Crc32c();
  const sorted = [...buckets].sort((a, b) => Buffer.compare(Buffer.from(a.name), Buffer.from(b.name)));
  for (const b of sorted) {
    h.update(Buffer.from(b.name));
    for (const [k, v] of [...b.pairs].sort((x, y) => Buffer.compare(x[0], y[0]))) {
      if (b.name === 'meta' && k.toString() === 'consistent_index') continue;
      h.update(k);
      h.update(v);
    }
  }
  return h.digest();
}
