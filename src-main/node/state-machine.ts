// What a node's committed log entries are applied to: the etcd v2 key store, the v3 state (MVCC
// store, leases, watchers: src-main/v3) and the member list. Deterministic: every node applying
// the same entries reaches the same state, so a snapshot of one node restores any other.

import { decodeConfChange, type Entry } from '../../src-shared/raft-types.js';
import type { MemberInfo } from './client-backend.js';
import { V2Store } from './store-v2.js';
import type { V2Command, V2Event } from './store-v2/types.js';
import { V2Error } from './store-v2/errors.js';
import { fromJson, toJson, type V3Command } from '../v3/command.js';
import type { LessorOptions } from '../v3/lease/lessor.js';
import { V3StateMachine, type V3Result } from '../v3/state-machine.js';

/** A normal log entry's payload. `r` is the proposer's request id, so it can answer its client. */
export type NodeCommand =
  | { t: 'v2'; r: string; c: V2Command }
  /** `c` is the V3Command in command.ts's deterministic JSON form (bytes and int64s tagged). */
  | { t: 'v3'; r: string; c: unknown }
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
  /** A v3 command's result (etcd answers apply errors to the client: they are results too). */
  v3?: V3Result;
  member?: MemberInfo;
  error?: Error;
  /** Membership changed (for logging and the transport); 'promote': a learner became a voter. */
  conf?: { type: 'add' | 'remove' | 'update' | 'promote'; member: MemberInfo };
  published?: MemberInfo;
}

/** etcd keeps member records in the v2 store too (so membership moves X-Etcd-Index); ours are hidden keys. */
const MEMBER_KEYS = '/_raftlab/members';

/** The log entry's payload for a v3 command. */
export function v3Entry(r: string, cmd: V3Command): NodeCommand {
  return { t: 'v3', r, c: toJson(cmd) };
}

export class NodeStateMachine {
  store = new V2Store();
  /** Replaced in place on restore (never a new object): watchers hold on to it. */
  readonly v3: V3StateMachine;
  readonly members = new Map<string, MemberInfo>();
  /** Removed member ids, with the peer URLs they had (Raft may still address them once). */
  readonly removed = new Map<string, string[]>();
  private readonly v3Options: LessorOptions;

  /** `v3`: the lessor's minimum TTL (etcd: from the election timeout) and the clock leases count on. */
  constructor(v3: LessorOptions = { minLeaseTTL: 5 }) {
    this.v3Options = v3;
    this.v3 = new V3StateMachine(v3);
  }

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
    if (cmd.t === 'v3') return { r: cmd.r, v3: this.v3.apply(fromJson(cmd.c) as V3Command, e.index) };
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
    // etcd keeps a member's raftAttributes in the v2 store: its peer URLs, and isLearner when set.
    const setKey = (m: MemberInfo) =>
      this.store.apply({
        op: 'set',
        path: `${MEMBER_KEYS}/${cc.id}`,
        value: JSON.stringify({ peerURLs: m.peerURLs, ...(m.isLearner ? { isLearner: true } : {}) }),
        now,
      });
    let type: NonNullable<ApplyOutcome['conf']>['type'] = cc.type === 'add-learner' ? 'add' : cc.type;
    switch (cc.type) {
      case 'add': {
        const learner = this.members.get(cc.id);
        if (learner?.isLearner) {
          // An 'add' of a learner promotes it (etcd: ConfChangeAddNode with IsPromote).
          delete learner.isLearner;
          type = 'promote';
          setKey(learner);
          break;
        }
        const { isLearner: _, ...voter } = member;
        this.members.set(cc.id, { ...voter, id: cc.id });
        setKey(voter);
        break;
      }
      case 'add-learner':
        this.members.set(cc.id, { ...member, id: cc.id, isLearner: true });
        setKey({ ...member, isLearner: true });
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
        setKey(m ?? member);
        break;
      }
    }
    const current = this.members.get(cc.id) ?? member;
    return { r: ctx.r, member: { ...current }, conf: { type, member: { ...current } } };
  }

  /** Members sorted by id, as etcd lists them. */
  list(): MemberInfo[] {
    return [...this.members.values()]
      .sort((a, b) => (BigInt('0x' + a.id) < BigInt('0x' + b.id) ? -1 : 1))
      .map((m) => ({ ...m }));
  }

  /**
   * The snapshot's data. The stores' own JSON is nested as JSON, not as strings: a string of
   * megabytes would be escaped once more, quote by quote (snapshots before that nest strings,
   * and restore still reads them).
   */
  toJSON(): string {
    const members = JSON.stringify([...this.members.values()]);
    const removed = JSON.stringify([...this.removed]);
    return `{"store":${this.store.toJSON()},"members":${members},"removed":${removed},"v3":${this.v3.snapshotText()}}`;
  }

  restore(data: string): void {
    const s = JSON.parse(data) as {
      store: unknown;
      members: MemberInfo[];
      removed: [string, string[]][];
      v3?: unknown;
    };
    const nested = (part: unknown) => (typeof part === 'string' ? (JSON.parse(part) as unknown) : part);
    this.store = V2Store.fromSnapshot(nested(s.store));
    // A snapshot from before the v3 API has no v3 state: an empty one, as etcd 3 upgrading from 2.
    this.v3.restoreParsed(nested(s.v3 ?? new V3StateMachine(this.v3Options).snapshotText()));
    this.members.clear();
    for (const m of s.members) this.members.set(m.id, m);
    this.removed.clear();
    for (const [id, urls] of s.removed) this.removed.set(id, urls);
  }
}
