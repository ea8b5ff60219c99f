// What a node's committed log entries are applied to: the etcd v2 key store and the member
// list. Deterministic: every node applying the same entries reaches the same state, so a
// snapshot of one node restores any other.

import { decodeConfChange, type Entry } from '../../src-shared/raft-types.js';
import type { MemberInfo } from './client-backend.js';
import { V2Store, type V2Command, type V2Event } from './store-v2.js';
import { V2Error } from './store-v2/errors.js';

/** A normal log entry's payload. `r` is the proposer's request id, so it can answer its client. */
export type NodeCommand =
  | { t: 'v2'; r: string; c: V2Command }
  | { t: 'publish'; r: string; id: string; name: string; clientURLs: string[] };

/** The context of a conf-change entry: the member record and the proposer's request id. */
export interface ConfContext {
  member: MemberInfo;
  r?: string;
}

export interface ApplyOutcome {
  /** Request id of the proposer, if any. */
  r?: string;
  event?: V2Event;
  member?: MemberInfo;
  error?: Error;
  /** Membership changed (for logging and the transport). */
  conf?: { type: 'add' | 'remove' | 'update'; member: MemberInfo };
  published?: MemberInfo;
}

/** etcd keeps member records in the v2 store too (so membership moves X-Etcd-Index); ours are hidden keys. */
const MEMBER_KEYS = '/_raftlab/members';

export class NodeStateMachine {
  store = new V2Store();
  readonly members = new Map<string, MemberInfo>();
  /** Removed member ids, with the peer URLs they had (Raft may still address them once). */
  readonly removed = new Map<string, string[]>();

  apply(e: Entry): ApplyOutcome {
    if (e.type === 'conf') return this.applyConf(e);
    if (e.data === '') return {}; // a new leader's no-op
    const cmd = JSON.parse(e.data) as NodeCommand;
    if (cmd.t === 'v2') {
      try {
        return { r: cmd.r, event: this.store.apply(cmd.c) };
      } catch (err) {
        if (err instanceof V2Error) return { r: cmd.r, error: err };
        throw err;
      }
    }
    if (cmd.t === 'publish') {
      const m = this.members.get(cmd.id);
      if (!m) return { r: cmd.r, error: new Error(`member ${cmd.id} is not in the cluster`) };
      m.name = cmd.name;
      m.clientURLs = [...cmd.clientURLs];
      return { r: cmd.r, published: { ...m } };
    }
    return {};
  }

  private applyConf(e: Entry): ApplyOutcome {
    const cc = decodeConfChange(e.data);
    const ctx = JSON.parse(cc.context ?? '{}') as Partial<ConfContext>;
    const member: MemberInfo = ctx.member ?? { id: cc.id, name: '', peerURLs: [], clientURLs: [] };
    const now = 0; // member keys never expire; the store wants a time
    switch (cc.type) {
      case 'add':
        this.members.set(cc.id, { ...member, id: cc.id });
        this.store.apply({ op: 'set', path: `${MEMBER_KEYS}/${cc.id}`, value: JSON.stringify({ peerURLs: member.peerURLs }), now });
        break;
      case 'remove':
        this.removed.set(cc.id, this.members.get(cc.id)?.peerURLs ?? member.peerURLs);
        this.members.delete(cc.id);
        try {
          this.store.apply({ op: 'delete', path: `${MEMBER_KEYS}/${cc.id}`, now });
        } catch {
          /* restored from an older snapshot without the key: nothing to delete */
        }
        break;
      case 'update': {
        const m = this.members.get(cc.id);
        if (m) m.peerURLs = [...member.peerURLs];
        this.store.apply({ op: 'set', path: `${MEMBER_KEYS}/${cc.id}`, value: JSON.stringify({ peerURLs: member.peerURLs }), now });
        break;
      }
    }
    const current = this.members.get(cc.id) ?? member;
    return { r: ctx.r, member: { ...current }, conf: { type: cc.type, member: { ...current } } };
  }

  /** Members sorted by id, as etcd lists them. */
  list(): MemberInfo[] {
    return [...this.members.values()].sort((a, b) => (BigInt('0x' + a.id) < BigInt('0x' + b.id) ? -1 : 1)).map((m) => ({ ...m }));
  }

  toJSON(): string {
    return JSON.stringify({ store: this.store.toJSON(), members: [...this.members.values()], removed: [...this.removed] });
  }

  restore(data: string): void {
    const s = JSON.parse(data) as { store: string; members: MemberInfo[]; removed: [string, string[]][] };
    this.store = V2Store.fromJSON(s.store);
    this.members.clear();
    for (const m of s.members) this.members.set(m.id, m);
    this.removed.clear();
    for (const [id, urls] of s.removed) this.removed.set(id, urls);
  }
}
