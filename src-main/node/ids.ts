// Member and cluster ids, derived exactly as etcd 3.4 derives them.
//
// Member id (etcdserver/api/membership/member.go, newMember): sha1 over the member's peer URLs
// sorted with sort.Strings and concatenated without a separator, then the cluster token, then —
// only when a time is given (runtime `member add`) — the decimal Unix seconds; the id is the first
// 8 bytes of the digest read big-endian.
//
// Cluster id (membership/cluster.go, genID): the member ids sorted numerically, each written as
// 8 big-endian bytes, sha1 over the concatenation, first 8 bytes big-endian.
//
// Ids print like etcd's types.ID.String() (strconv.FormatUint(id, 16)) and raft's `%x`: lowercase
// hex with no zero padding, so an id may be shorter than 16 digits.
//
// Which token goes in:
// - bootstrap (`--initial-cluster`): the `--initial-cluster-token` (default "etcd-cluster"), no time;
// - v2 `POST /v2/members` (what `etcdctl member add` uses): the EMPTY token plus the request time
//   (v2http calls `membership.NewMember("", urls, "", &now)`).

import { createHash } from 'node:crypto';
import { compareStrings } from './go/strings.js';
import type { InitialClusterMember } from './etcd-urls.js';

const U64_MAX = (1n << 64n) - 1n;

/** Parses an id as etcd's types.IDFromString does (hex, up to 64 bits). Throws on bad input. */
export function parseId(id: string): bigint {
  if (!/^[0-9a-fA-F]{1,16}$/.test(id)) throw new RangeError(`invalid member id ${JSON.stringify(id)}`);
  return BigInt('0x' + id);
}

/** Formats a 64-bit id as etcd does: lowercase hex, no padding. */
export function formatId(id: bigint): string {
  if (id < 0n || id > U64_MAX) throw new RangeError(`id out of range: ${id}`);
  return id.toString(16);
}

function first8BigEndian(data: Buffer): bigint {
  return createHash('sha1').update(data).digest().readBigUInt64BE(0);
}

/**
 * etcd's member id for a member with these peer URLs (already in etcd's normalised form, i.e.
 * url.URL.String(); order does not matter) under this cluster token. Pass `now` only to mimic a
 * runtime member addition, which mixes in `now`'s Unix seconds.
 */
export function memberId(peerURLs: string[], clusterToken: string, now?: Date): string {
  return formatId(memberIdBig(peerURLs, clusterToken, now));
}

export function memberIdBig(peerURLs: string[], clusterToken: string, now?: Date): bigint {
  const sorted = [...peerURLs].sort(compareStrings);
  let s = sorted.join('') + clusterToken;
  if (now !== undefined) s += String(Math.floor(now.getTime() / 1000));
  return first8BigEndian(Buffer.from(s, 'utf8'));
}

/** etcd's cluster id (genID) for the given member ids (hex strings, any order). */
export function clusterId(memberIds: string[]): string {
  return formatId(clusterIdBig(memberIds.map(parseId)));
}

export function clusterIdBig(memberIds: bigint[]): bigint {
  const sorted = [...memberIds].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  const buf = Buffer.alloc(8 * sorted.length);
  sorted.forEach((id, i) => buf.writeBigUInt64BE(id, 8 * i));
  return first8BigEndian(buf);
}

/** An id in the decimal form raft prints in `switched to configuration voters=(...)`. */
export function idToDecimal(id: string): string {
  return parseId(id).toString(10);
}

/**
 * The ids a new cluster bootstraps with (membership.NewClusterFromURLsMap): one member per initial
 * cluster name, the cluster id over all of them, and this member's own id.
 */
export function bootstrapIds(cfg: {
  name: string;
  initialCluster: readonly InitialClusterMember[];
  initialClusterToken: string;
}): {
  members: { name: string; id: string; peerURLs: string[] }[];
  clusterId: string;
  localId: string | undefined;
} {
  const members = cfg.initialCluster.map((m) => ({
    name: m.name,
    id: memberId(m.peerURLs, cfg.initialClusterToken),
    peerURLs: [...m.peerURLs],
  }));
  return {
    members,
    clusterId: clusterId(members.map((m) => m.id)),
    localId: members.find((m) => m.name === cfg.name)?.id,
  };
}
