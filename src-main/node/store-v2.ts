// etcd v2's key tree as a pure, deterministic state machine.
//
// Every node applies the same committed V2Commands in the same order, so nothing in `apply`
// reads the local clock or randomness: each command carries the proposer's time `now` (ms),
// and TTLs, expirations and the `ttl` field of responses are computed from it. Reads take
// `now` as a parameter for the same reason.
//
// Semantics and JSON follow etcd 3.4's v2store (store.go, node.go, event_history.go,
// watcher_hub.go) and v2http's request parsing (client.go). etcd keeps user keys under the
// internal prefix "/1" and trims it on output; here the user tree is rooted at "/" directly,
// which gives the same output (the root has no key and no indexes). etcd's v2 auth keeps its
// users, roles and flag under "/2", next to "/1": that is a second tree here (the `auth` space),
// sharing the index and the counters but never seen through /v2/keys nor by a keys watch.
//
// This file is the store's face (commands, reads, watches, stats, snapshots); the parts are in
// store-v2/: types.ts (the shapes), key-space.ts (the operations on one tree), tree.ts,
// ttl.ts, render.ts (etcd's JSON), watch-hub.ts (history and watchers), stats.ts.

import { V2Error } from './store-v2/errors.js';
import { cloneEvent } from './store-v2/render.js';
import { KeySpace, type SharedState } from './store-v2/key-space.js';
import { newCounters, OP_STAT, type StoreCounters } from './store-v2/stats.js';
import { childrenOf, cleanPath, loadNode, newDir, saveNode, type SavedNode, type TreeNode } from './store-v2/tree.js';
import { TtlNodes } from './store-v2/ttl.js';
import type { V2Command, V2Event, V2Node, V2Space, V2StoreStats, V2WatchHandle } from './store-v2/types.js';
import { WatchHub, type HistoryEntry } from './store-v2/watch-hub.js';

interface Snapshot {
  version: 1;
  index: number;
  root: SavedNode;
  /** The auth space's tree; absent while it is empty (as before it existed). */
  auth?: SavedNode;
  history: HistoryEntry[];
  stats: Omit<StoreCounters, 'getsSuccess' | 'getsFail'>;
}

export class V2Store {
  private readonly shared: SharedState;
  private readonly hub = new WatchHub();
  /** The user keys. */
  private keys: KeySpace;
  /** etcd's "/2" tree (the v2 auth store's). */
  private auth: KeySpace;

  /**
   * `initialIndex`: in etcd, internal membership keys share the index (a fresh 3-member cluster's
   * first user write gets 4). Pass the number of such writes to reproduce etcd's numbering.
   */
  constructor(opts: { initialIndex?: number } = {}) {
    this.shared = { index: opts.initialIndex ?? 0, ttl: new TtlNodes<TreeNode>(), counters: newCounters() };
    this.keys = new KeySpace(newDir('/', 0, null, null), this.shared, this.hub);
    this.auth = new KeySpace(newDir('/', 0, null, null), this.shared, null);
  }

  /** X-Etcd-Index: the index of the last successful write. */
  get index(): number {
    return this.shared.index;
  }

  /** Applies one committed write. Throws V2Error; the index advances on success only. */
  apply(cmd: V2Command): V2Event {
    if (!Object.hasOwn(OP_STAT, cmd.op)) throw new Error(`unknown v2 op ${String(cmd.op)}`);
    const stat = OP_STAT[cmd.op];
    const counters = this.shared.counters;
    let event: V2Event;
    try {
      event = this.space(cmd.space).write(cmd);
    } catch (err) {
      this.hub.discardPending();
      if (err instanceof V2Error && stat) counters[`${stat}Fail` as const]++;
      throw err;
    }
    if (stat) counters[`${stat}Success` as const]++;
    else counters.expireCount++;
    this.hub.flush();
    // The history keeps `event`: the caller gets a copy of its own.
    return cloneEvent(event);
  }

  /** etcd's Get: action "get"; a directory lists its children (grandchildren if recursive). */
  get(path: string, opts: { recursive?: boolean; sorted?: boolean; space?: V2Space }, now: number): V2Event {
    try {
      const node = this.space(opts.space).get(path, { recursive: !!opts.recursive, sorted: !!opts.sorted }, now);
      this.shared.counters.getsSuccess++;
      return { action: 'get', node };
    } catch (err) {
      this.shared.counters.getsFail++;
      throw err;
    }
  }

  /**
   * get, except that a missing key is null instead of error 100 (other errors still throw): for
   * reads that expect a miss often (v2 auth's flag, read before every keys request), where a
   * thrown error would cost more than the read. Counted exactly as get counts (a miss in getsFail).
   */
  lookup(path: string, opts: { recursive?: boolean; sorted?: boolean; space?: V2Space }, now: number): V2Event | null {
    let node: V2Node | null;
    try {
      node = this.space(opts.space).find(path, { recursive: !!opts.recursive, sorted: !!opts.sorted }, now);
    } catch (err) {
      this.shared.counters.getsFail++;
      throw err;
    }
    if (node === null) {
      this.shared.counters.getsFail++;
      return null;
    }
    this.shared.counters.getsSuccess++;
    return { action: 'get', node };
  }

  /**
   * A one-shot watch like etcd's `wait=true`. With `waitIndex`, the first matching event at or
   * after it is served from the history (asynchronously, after this returns); an index older than
   * the history throws V2Error 401. Otherwise `onEvent` fires on the first matching write.
   */
  watch(path: string, opts: { recursive?: boolean; waitIndex?: number }, onEvent: (e: V2Event) => void): V2WatchHandle {
    const index = this.shared.index;
    const error = (code: number, cause: string) => new V2Error(code, cause, index);
    return this.hub.watch(
      cleanPath(path),
      { recursive: !!opts.recursive, waitIndex: opts.waitIndex ?? 0 },
      index,
      error,
      onEvent,
    );
  }

  /**
   * Keys whose TTL has passed at `now`, earliest expiry first. The leader proposes an `expire`
   * command for each (etcd's SYNC does the same from the leader's clock).
   */
  expiredKeys(now: number): string[] {
    return this.shared.ttl.expiredAt(now);
  }

  /** The /v2/stats/store body, in etcd's field order. */
  stats(): V2StoreStats {
    return { ...this.shared.counters, watchers: this.hub.count() };
  }

  /**
   * Snapshot: tree, index, event history and write counters. Read counters and live watchers are
   * node-local and left out, so stores that applied the same commands snapshot identically.
   */
  toJSON(): string {
    const { getsSuccess: _gets, getsFail: _getsFail, ...writeStats } = this.shared.counters;
    const snap: Snapshot = {
      version: 1,
      index: this.shared.index,
      root: saveNode(this.keys.root),
      history: this.hub.savedHistory(),
      stats: writeStats,
    };
    if (childrenOf(this.auth.root).size > 0) snap.auth = saveNode(this.auth.root);
    return JSON.stringify(snap);
  }

  static fromJSON(json: string): V2Store {
    return V2Store.fromSnapshot(JSON.parse(json));
  }

  /** fromJSON of a snapshot already parsed. */
  static fromSnapshot(parsed: unknown): V2Store {
    const snap = parsed as Snapshot;
    if (snap.version !== 1) throw new Error(`unsupported v2 store snapshot version ${String(snap.version)}`);
    const store = new V2Store({ initialIndex: snap.index });
    const track = (n: TreeNode) => store.shared.ttl.track(n);
    store.keys = new KeySpace(loadNode(snap.root, null, track), store.shared, store.hub);
    if (snap.auth) store.auth = new KeySpace(loadNode(snap.auth, null, track), store.shared, null);
    store.hub.loadHistory(snap.history);
    Object.assign(store.shared.counters, snap.stats);
    return store;
  }

  private space(space: V2Space | undefined): KeySpace {
    if (space === undefined || space === 'keys') return this.keys;
    if (space !== 'auth') throw new Error(`unknown v2 store space ${String(space)}`);
    return this.auth;
  }
}
