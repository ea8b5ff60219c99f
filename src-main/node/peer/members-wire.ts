// The peer port's `GET /members`, in etcd's own format, so etcd's tools that read it (a v2
// proxy, a member joining) understand a raftlab cluster: a JSON array of etcd's membership.Member
// as Go marshals it: "id" a JSON number (the uint64, in full: JSON.stringify cannot write one
// over 2^53 exactly), then peerURLs, then name and clientURLs left out when empty.
import { memberJson } from '../../v3/snapshot/etcd-backend.js';
import type { MemberInfo } from '../client-backend.js';

export function encodePeerMembers(members: readonly MemberInfo[]): string {
  return `[${members.map(memberJson).join(',')}]`;
}

/**
 * Reads etcd's format (ids as numbers, read exactly) and the hex-string ids older raftlab nodes
 * sent. Throws on anything else.
 */
export function decodePeerMembers(text: string): MemberInfo[] {
  // Numbers after "id": become tagged strings before JSON.parse can round them.
  const body: unknown = JSON.parse(text.replace(/("id"\s*:\s*)(\d+)/g, '$1"#$2"'));
  if (!Array.isArray(body)) throw new Error('the member list is not a JSON array');
  return body.map((m: unknown) => {
    const o = (m ?? {}) as Record<string, unknown>;
    const raw = typeof o.id === 'string' ? o.id : '';
    const id = raw.startsWith('#') ? BigInt(raw.slice(1)).toString(16) : raw;
    if (!/^[0-9a-f]{1,16}$/.test(id)) throw new Error(`a member with no valid id: ${JSON.stringify(o.id)}`);
    const strings = (v: unknown) => (Array.isArray(v) ? v.filter((s): s is string => typeof s === 'string') : []);
    const member: MemberInfo = {
      id,
      name: typeof o.name === 'string' ? o.name : '',
      peerURLs: strings(o.peerURLs),
      clientURLs: strings(o.clientURLs),
    };
    if (o.isLearner === true) member.isLearner = true;
    return member;
  });
}
