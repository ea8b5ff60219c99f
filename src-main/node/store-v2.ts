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

import { posix } from 'node:path';
import { V2Error } from './store-v2/errors.js';
import { compareStrings } from './go/strings.js';

// ---------------------------------------------------------------------------------------------
// Public types

/**
 * Which tree a command or read works on: the user keys (default), or etcd's "/2" tree where the v2
 * auth store keeps users, roles and the enabled flag (paths as etcd writes them: /2/users/root).
 */
export type V2Space = 'keys' | 'auth';

export type V2Op =
  | 'set'
  | 'create'
  | 'update'
  | 'compareAndSwap'
  | 'delete'
  | 'compareAndDelete'
  | 'createInOrder'
  | 'expire';

/** One write, as carried by the Raft log (JSON-serializable). */
export interface V2Command {
  op: V2Op;
  path: string;
  /** File value; absent means "". Ignored when `dir` is set (etcd does the same). */
  value?: string;
  dir?: boolean;
  /**
   * Seconds to live from `now`. Absent or null makes the node permanent: like etcd, a write
   * without a TTL clears an existing one (set/update/compareAndSwap alike).
   */
  ttl?: number | null;
  /** Keep the current value and only reset the TTL; watchers are not woken (etcd `refresh=true`). */
  refresh?: boolean;
  /** compareAndSwap / compareAndDelete conditions; "" / 0 / absent mean "not compared". */
  prevValue?: string;
  prevIndex?: number;
  /** delete: `recursive` implies `dir`; `dir` alone deletes an empty directory. */
  recursive?: boolean;
  /** Response formatting only (etcd `noValueOnSuccess`); ignored by the store. */
  noValueOnSuccess?: boolean;
  /** Absent: the user keys. */
  space?: V2Space;
  /** The proposer's clock, ms since epoch. */
  now: number;
}

/** etcd's NodeExtern; property order and omissions match etcd's JSON encoding. */
export interface V2Node {
  /** Absent only on the root. */
  key?: string;
  value?: string;
  dir?: boolean;
  expiration?: string;
  ttl?: number;
  nodes?: V2Node[];
  /** Absent only on the root (etcd omits zero indexes). */
  modifiedIndex?: number;
  createdIndex?: number;
}

export interface V2Event {
  action: string;
  node: V2Node;
  prevNode?: V2Node;
}

export interface V2StoreStats {
  getsSuccess: number;
  getsFail: number;
  setsSuccess: number;
  setsFail: number;
  deleteSuccess: number;
  deleteFail: number;
  updateSuccess: number;
  updateFail: number;
  createSuccess: number;
  createFail: number;
  compareAndSwapSuccess: number;
  compareAndSwapFail: number;
  compareAndDeleteSuccess: number;
  compareAndDeleteFail: number;
  expireCount: number;
  watchers: number;
}

export interface V2WatchHandle {
  /** The store index when the watch was registered: etcd's X-Etcd-Index for a watch response. */
  startIndex: number;
  cancel(): void;
}

export function isCreated(event: V2Event): boolean {
  return event.action === 'create' || (event.action === 'set' && event.prevNode === undefined);
}

// ---------------------------------------------------------------------------------------------
// Internal tree

interface TreeNode {
  path: string;
  createdIndex: number;
  modifiedIndex: number;
  /** ms since epoch; null = permanent. */
  expireTime: number | null;
  value: string;
  /** Insertion-ordered, so unsorted listings are deterministic; null for files. */
  children: Map<string, TreeNode> | null;
  parent: TreeNode | null;
}

/** The v2 history keeps the last 1000 events for `waitIndex`. */
const HISTORY_CAPACITY = 1000;
/** etcd treats expirations before 2000-01-01 as "permanent" (a zero time sent from JS). */
const MIN_EXPIRE_MS = Date.UTC(2000, 0, 1);
/** Largest instant a JS Date can format; absurd TTLs are clamped to it rather than crash. */
const MAX_EXPIRE_MS = 8.64e15;

type WriteStat = 'sets' | 'delete' | 'update' | 'create' | 'compareAndSwap' | 'compareAndDelete';

const OP_STAT: Record<V2Op, WriteStat | null> = {
  set: 'sets',
  create: 'create',
  createInOrder: 'create',
  update: 'update',
  compareAndSwap: 'compareAndSwap',
  delete: 'delete',
  compareAndDelete: 'compareAndDelete',
  expire: null, // counted as expireCount on success only
};

interface HistoryEntry {
  index: number;
  /** Refresh events are recorded (they take an index) but never match a watch. */
  refresh: boolean;
  event: V2Event;
}

interface Watcher {
  key: string;
  recursive: boolean;
  sinceIndex: number;
  onEvent: (e: V2Event) => void;
  removed: boolean;
}

interface SavedNode {
  key: string;
  createdIndex: number;
  modifiedIndex: number;
  expireTime: number | null;
  value?: string;
  children?: SavedNode[];
}

interface Snapshot {
  version: 1;
  index: number;
  root: SavedNode;
  /** The auth space's tree; absent while it is empty (as before it existed). */
  auth?: SavedNode;
  history: HistoryEntry[];
  stats: Omit<V2StoreStats, 'getsSuccess' | 'getsFail' | 'watchers'>;
}

// ---------------------------------------------------------------------------------------------
// The store

export class V2Store {
  private currentIndex: number;
  private root: TreeNode;
  /** etcd's "/2" tree (the v2 auth store's). */
  private authRoot: TreeNode;
  /**
   * The tree the operation under way works on (`root` unless it is in the auth space). Auth-space
   * operations take indexes and count in the stats as in etcd, but record no history and wake
   * no watcher: etcd's history and watchers hold "/2" events too, yet no keys watch can match them.
   */
  private tree: TreeNode;
  /** Nodes carrying a TTL, for expiredKeys(). */
  private ttlNodes = new Set<TreeNode>();
  private history: HistoryEntry[] = [];
  private watchers = new Map<string, Watcher[]>();
  /** Notifications collected during one apply, delivered once the store is consistent again. */
  private pending: Array<{ watcher: Watcher; event: V2Event }> = [];
  private counters = newStats();

  /**
   * `initialIndex`: in etcd, internal membership keys share the index (a fresh 3-member cluster's
   * first user write gets 4). Pass the number of such writes to reproduce etcd's numbering.
   */
  constructor(opts: { initialIndex?: number } = {}) {
    this.currentIndex = opts.initialIndex ?? 0;
    this.root = newDir('/', 0, null, null);
    this.authRoot = newDir('/', 0, null, null);
    this.tree = this.root;
  }

  /** X-Etcd-Index: the index of the last successful write. */
  get index(): number {
    return this.currentIndex;
  }

  /** Applies one committed write. Throws V2Error; the index advances on success only. */
  apply(cmd: V2Command): V2Event {
    if (!Object.hasOwn(OP_STAT, cmd.op)) throw new Error(`unknown v2 op ${String(cmd.op)}`);
    const stat = OP_STAT[cmd.op];
    let event: V2Event;
    try {
      event = this.inSpace(cmd.space, () => this.dispatch(cmd));
    } catch (err) {
      this.pending = [];
      if (err instanceof V2Error && stat) this.counters[`${stat}Fail` as const]++;
      throw err;
    }
    if (stat) this.counters[`${stat}Success` as const]++;
    else this.counters.expireCount++;
    this.flushWatchers();
    return structuredClone(event);
  }

  /** etcd's Get: action "get"; a directory lists its children (grandchildren if recursive). */
  get(path: string, opts: { recursive?: boolean; sorted?: boolean; space?: V2Space }, now: number): V2Event {
    try {
      const n = this.inSpace(opts.space, () => this.internalGet(cleanPath(path)));
      const event: V2Event = { action: 'get', node: this.repr(n, { depth: opts.recursive ? Infinity : 1, sorted: !!opts.sorted, now }) };
      this.counters.getsSuccess++;
      return event;
    } catch (err) {
      this.counters.getsFail++;
      throw err;
    }
  }

  /**
   * A one-shot watch like etcd's `wait=true`. With `waitIndex`, the first matching event at or
   * after it is served from the history (asynchronously, after this returns); an index older than
   * the history throws V2Error 401. Otherwise `onEvent` fires on the first matching write.
   */
  watch(
    path: string,
    opts: { recursive?: boolean; waitIndex?: number },
    onEvent: (e: V2Event) => void,
  ): V2WatchHandle {
    const key = cleanPath(path);
    const recursive = !!opts.recursive;
    const sinceIndex = opts.waitIndex || this.currentIndex + 1;
    const startIndex = this.currentIndex;
    const hit = this.scanHistory(key, recursive, sinceIndex);
    const watcher: Watcher = { key, recursive, sinceIndex, onEvent, removed: false };
    if (hit) {
      const event = structuredClone(hit);
      queueMicrotask(() => {
        if (!watcher.removed) {
          watcher.removed = true;
          onEvent(event);
        }
      });
      return { startIndex, cancel: () => void (watcher.removed = true) };
    }
    const list = this.watchers.get(key) ?? [];
    list.push(watcher);
    this.watchers.set(key, list);
    return { startIndex, cancel: () => this.removeWatcher(watcher) };
  }

  /**
   * Keys whose TTL has passed at `now`, earliest expiry first. The leader proposes an `expire`
   * command for each (etcd's SYNC does the same from the leader's clock).
   */
  expiredKeys(now: number): string[] {
    return [...this.ttlNodes]
      .filter((n) => n.expireTime! <= now)
      .sort((a, b) => a.expireTime! - b.expireTime! || compareStrings(a.path, b.path))
      .map((n) => n.path);
  }

  /** The /v2/stats/store body, in etcd's field order. */
  stats(): V2StoreStats {
    let watchers = 0;
    for (const list of this.watchers.values()) watchers += list.length;
    return { ...this.counters, watchers };
  }

  /**
   * Snapshot: tree, index, event history and write counters. Read counters and live watchers are
   * node-local and left out, so stores that applied the same commands snapshot identically.
   */
  toJSON(): string {
    const { getsSuccess: _gets, getsFail: _getsFail, ...writeStats } = this.counters;
    const snap: Snapshot = {
      version: 1,
      index: this.currentIndex,
      root: saveNode(this.root),
      history: this.history,
      stats: writeStats,
    };
    if (this.authRoot.children!.size > 0) snap.auth = saveNode(this.authRoot);
    return JSON.stringify(snap);
  }

  static fromJSON(json: string): V2Store {
    const snap = JSON.parse(json) as Snapshot;
    if (snap.version !== 1) throw new Error(`unsupported v2 store snapshot version ${String(snap.version)}`);
    const store = new V2Store({ initialIndex: snap.index });
    store.root = store.tree = store.loadNode(snap.root, null);
    if (snap.auth) store.authRoot = store.loadNode(snap.auth, null);
    store.history = snap.history;
    Object.assign(store.counters, snap.stats);
    return store;
  }

  private inSpace<T>(space: V2Space | undefined, op: () => T): T {
    if (space === undefined || space === 'keys') return op();
    if (space !== 'auth') throw new Error(`unknown v2 store space ${String(space)}`);
    this.tree = this.authRoot;
    try {
      return op();
    } finally {
      this.tree = this.root;
    }
  }

  private get inAuthSpace(): boolean {
    return this.tree === this.authRoot;
  }

  // --- writes ---------------------------------------------------------------------------------

  private dispatch(cmd: V2Command): V2Event {
    const path = cleanPath(cmd.path);
    const value = cmd.value ?? '';
    const expireTime = expireTimeOf(cmd);
    switch (cmd.op) {
      case 'set':
        return this.set(path, !!cmd.dir, value, expireTime, !!cmd.refresh, cmd.now);
      case 'create':
        return this.notify(this.internalCreate(path, !!cmd.dir, value, false, false, expireTime, 'create', cmd.now));
      case 'createInOrder':
        return this.notify(this.internalCreate(path, !!cmd.dir, value, true, false, expireTime, 'create', cmd.now));
      case 'update':
        return this.update(path, value, expireTime, !!cmd.refresh, cmd.now);
      case 'compareAndSwap':
        return this.compareAndSwap(path, cmd.prevValue ?? '', cmd.prevIndex ?? 0, value, expireTime, !!cmd.refresh, cmd.now);
      case 'delete':
        return this.delete(path, !!cmd.dir || !!cmd.recursive, !!cmd.recursive, cmd.now);
      case 'compareAndDelete':
        return this.compareAndDelete(path, cmd.prevValue ?? '', cmd.prevIndex ?? 0, cmd.now);
      case 'expire':
        return this.expire(path, cmd.now);
    }
  }

  private set(path: string, dir: boolean, value: string, expireTime: number | null, refresh: boolean, now: number): V2Event {
    let existing: TreeNode | null = null;
    try {
      existing = this.internalGet(path);
    } catch (err) {
      // A missing key is fine for a set (not for a refresh); anything else, e.g. 104, is not.
      if (!(err instanceof V2Error) || err.errorCode !== 100 || refresh) throw err;
    }
    if (refresh) value = existing!.value;
    const event = this.internalCreate(path, dir, value, false, true, expireTime, 'set', now);
    return refresh ? this.record(event, true) : this.notify(event);
  }

  /**
   * Creates (or with `replace`, replaces a file at) `path`, creating missing parent directories.
   * `unique` appends the next index, zero-padded to 20 digits: POST's in-order keys.
   */
  private internalCreate(
    path: string,
    dir: boolean,
    value: string,
    unique: boolean,
    replace: boolean,
    expireTime: number | null,
    action: string,
    now: number,
  ): V2Event {
    const nextIndex = this.currentIndex + 1;
    if (unique) path = cleanPath(`${path}/${String(nextIndex).padStart(20, '0')}`);
    if (path === '/') throw this.error(107, '/');

    let parent: TreeNode;
    try {
      parent = this.mkdirs(posix.dirname(path), nextIndex);
    } catch (err) {
      this.counters.setsFail++; // etcd counts a failed parent walk as a failed set too, even for create
      throw err;
    }
    // Past this point nothing can fail after mkdirs created a directory: a freshly created
    // parent has no children to conflict with.
    const name = posix.basename(path);
    const existing = parent.children!.get(name);
    let prevNode: V2Node | undefined;
    if (existing) {
      if (!replace) throw this.error(105, path);
      if (existing.children) throw this.error(102, path);
      prevNode = this.repr(existing, { depth: 0, sorted: false, now });
      this.detach(existing);
    }

    const n: TreeNode = dir ? newDir(path, nextIndex, parent, expireTime) : newFile(path, value, nextIndex, parent, expireTime);
    parent.children!.set(name, n);
    if (n.expireTime !== null) this.ttlNodes.add(n);
    this.currentIndex = nextIndex;

    const event: V2Event = { action, node: this.repr(n, { depth: 0, sorted: false, now }) };
    if (prevNode) event.prevNode = prevNode;
    return event;
  }

  /** Updates a file's value and TTL, or only a directory's TTL (a value on a directory is 102). */
  private update(path: string, value: string, expireTime: number | null, refresh: boolean, now: number): V2Event {
    if (path === '/') throw this.error(107, '/');
    const n = this.internalGet(path);
    if (n.children && value !== '') throw this.error(102, path);
    if (refresh) value = n.value;

    const nextIndex = this.currentIndex + 1;
    const prevNode = this.repr(n, { depth: 0, sorted: false, now });
    // etcd 3.4 ignores Write's error on a directory: its modifiedIndex stays, yet the
    // event reports the new index.
    if (!n.children) this.write(n, value, nextIndex);
    this.setExpireTime(n, expireTime);
    const event: V2Event = {
      action: 'update',
      node: nodeExtern({ key: path, value: n.children ? undefined : value, dir: !!n.children, expireTime: n.expireTime, now, modifiedIndex: nextIndex, createdIndex: n.createdIndex }),
      prevNode,
    };
    this.currentIndex = nextIndex;
    return refresh ? this.record(event, true) : this.notify(event);
  }

  private compareAndSwap(
    path: string,
    prevValue: string,
    prevIndex: number,
    value: string,
    expireTime: number | null,
    refresh: boolean,
    now: number,
  ): V2Event {
    if (path === '/') throw this.error(107, '/');
    const n = this.internalGet(path);
    if (n.children) throw this.error(102, path);
    this.compare(n, prevValue, prevIndex);
    if (refresh) value = n.value;

    this.currentIndex++;
    const prevNode = this.repr(n, { depth: 0, sorted: false, now });
    this.write(n, value, this.currentIndex);
    this.setExpireTime(n, expireTime);
    const event: V2Event = { action: 'compareAndSwap', node: this.repr(n, { depth: 0, sorted: false, now }), prevNode };
    return refresh ? this.record(event, true) : this.notify(event);
  }

  private delete(path: string, dir: boolean, recursive: boolean, now: number): V2Event {
    if (path === '/') throw this.error(107, '/');
    const n = this.internalGet(path);
    const nextIndex = this.currentIndex + 1;
    const event: V2Event = {
      action: 'delete',
      node: nodeExtern({ key: path, dir: !!n.children, now, modifiedIndex: nextIndex, createdIndex: n.createdIndex }),
      prevNode: this.repr(n, { depth: 0, sorted: false, now }),
    };
    this.remove(n, dir, recursive, event);
    this.currentIndex = nextIndex;
    return this.notify(event);
  }

  private compareAndDelete(path: string, prevValue: string, prevIndex: number, now: number): V2Event {
    // No read-only check here in etcd: the root simply fails as "Not a file" (with an empty cause).
    const n = this.internalGet(path);
    if (n.children) throw this.error(102, externalKey(path));
    this.compare(n, prevValue, prevIndex);

    this.currentIndex++;
    const event: V2Event = {
      action: 'compareAndDelete',
      node: nodeExtern({ key: path, now, modifiedIndex: this.currentIndex, createdIndex: n.createdIndex }),
      prevNode: this.repr(n, { depth: 0, sorted: false, now }),
    };
    this.remove(n, false, false, event);
    return this.notify(event);
  }

  /**
   * Deletes a node whose TTL passed at `now` (action "expire"). A key that is gone, or was given
   * a new TTL since the leader proposed this, is left alone and reported as an error.
   */
  private expire(path: string, now: number): V2Event {
    const n = this.internalGet(path);
    if (n.expireTime === null || n.expireTime > now) {
      throw this.error(101, `[${path} has not expired at ${formatTime(now)}]`);
    }
    this.currentIndex++;
    const event: V2Event = {
      action: 'expire',
      node: nodeExtern({ key: path, dir: !!n.children, now, modifiedIndex: this.currentIndex, createdIndex: n.createdIndex }),
      prevNode: this.repr(n, { depth: 0, sorted: false, now }),
    };
    this.remove(n, true, true, event);
    return this.notify(event);
  }

  // --- tree helpers ---------------------------------------------------------------------------

  /**
   * Walks to `path`. A missing component is 100 with that component's path as cause (not the
   * whole key); walking through a file is 104 with the file's path.
   */
  private internalGet(path: string): TreeNode {
    let curr = this.tree;
    for (const name of components(path)) {
      if (!curr.children) throw this.error(104, curr.path);
      const child = curr.children.get(name);
      if (!child) throw this.error(100, posix.join(curr.path, name));
      curr = child;
    }
    return curr;
  }

  /** Walks to directory `path`, creating missing directories stamped with `index`. */
  private mkdirs(path: string, index: number): TreeNode {
    let curr = this.tree;
    for (const name of components(path)) {
      let child = curr.children!.get(name);
      if (!child) {
        child = newDir(posix.join(curr.path, name), index, curr, null);
        curr.children!.set(name, child);
      } else if (!child.children) {
        throw this.error(104, child.path);
      }
      curr = child;
    }
    return curr;
  }

  /** etcd's node.Remove: checks first, then removes, notifying watchers of every removed path. */
  private remove(n: TreeNode, dir: boolean, recursive: boolean, event: V2Event): void {
    if (n.children) {
      if (!dir) throw this.error(102, n.path);
      if (n.children.size > 0 && !recursive) throw this.error(108, n.path);
    }
    this.removeTree(n, event);
  }

  private removeTree(n: TreeNode, event: V2Event): void {
    for (const child of [...(n.children?.values() ?? [])]) this.removeTree(child, event);
    this.detach(n);
    if (!this.inAuthSpace) this.notifyWatchers(event, n.path, true);
  }

  private detach(n: TreeNode): void {
    n.parent?.children!.delete(posix.basename(n.path));
    this.ttlNodes.delete(n);
  }

  private write(n: TreeNode, value: string, index: number): void {
    n.value = value;
    n.modifiedIndex = index;
  }

  private setExpireTime(n: TreeNode, expireTime: number | null): void {
    n.expireTime = expireTime;
    if (expireTime === null) this.ttlNodes.delete(n);
    else this.ttlNodes.add(n);
  }

  /** prevValue/prevIndex test; the cause text is etcd's, e.g. "[wrong != one]" or "[1 != 11]". */
  private compare(n: TreeNode, prevValue: string, prevIndex: number): void {
    const indexMatch = prevIndex === 0 || n.modifiedIndex === prevIndex;
    const valueMatch = prevValue === '' || n.value === prevValue;
    if (indexMatch && valueMatch) return;
    const valueCause = `[${prevValue} != ${n.value}]`;
    const indexCause = `[${prevIndex} != ${n.modifiedIndex}]`;
    const cause = !valueMatch && !indexMatch ? `${valueCause} ${indexCause}` : valueMatch ? indexCause : valueCause;
    throw this.error(101, cause);
  }

  /** External form of a node; `depth` is how many directory levels to list below it. */
  private repr(n: TreeNode, opts: { depth: number; sorted: boolean; now: number }): V2Node {
    let nodes: V2Node[] | undefined;
    if (n.children && opts.depth > 0) {
      const childOpts = { ...opts, depth: opts.depth - 1 };
      nodes = [...n.children.values()].filter((c) => !isHiddenName(c.path)).map((c) => this.repr(c, childOpts));
      if (opts.sorted) nodes.sort((a, b) => compareStrings(a.key!, b.key!));
    }
    return nodeExtern({
      key: externalKey(n.path),
      value: n.children ? undefined : n.value,
      dir: !!n.children,
      expireTime: n.expireTime,
      now: opts.now,
      nodes,
      modifiedIndex: n.modifiedIndex,
      createdIndex: n.createdIndex,
    });
  }

  private error(code: number, cause: string): V2Error {
    return new V2Error(code, cause, this.currentIndex);
  }

  // --- history and watchers (event_history.go, watcher_hub.go) ---------------------------------

  /** Adds to the history without waking anyone: used for refreshes. */
  private record(event: V2Event, refresh: boolean): V2Event {
    if (this.inAuthSpace) return event;
    const index = this.currentIndex;
    this.history.push({ index, refresh, event });
    const start = historyStart(index);
    while (this.history.length > 0 && this.history[0].index < start) this.history.shift();
    return event;
  }

  /** Records `event` and wakes watchers on "/", every ancestor of the key, and the key itself. */
  private notify(event: V2Event): V2Event {
    if (this.inAuthSpace) return event;
    this.record(event, false);
    const key = event.node.key!;
    this.notifyWatchers(event, '/', false);
    for (let i = 1; i < key.length; i++) {
      if (key[i] === '/') this.notifyWatchers(event, key.slice(0, i), false);
    }
    if (key.length > 1) this.notifyWatchers(event, key, false);
    return event;
  }

  /**
   * Wakes the watchers registered at `watchPath`: those on the key itself, recursive ones
   * (unless the key is hidden below them), and, when `deleted`, those on removed descendants.
   */
  private notifyWatchers(event: V2Event, watchPath: string, deleted: boolean): void {
    const list = this.watchers.get(watchPath);
    if (!list) return;
    const key = event.node.key!;
    const originalPath = key === watchPath;
    const index = event.node.modifiedIndex!;
    for (const w of [...list]) {
      if (!originalPath && isHiddenBelow(watchPath, key)) continue;
      if ((w.recursive || originalPath || deleted) && index >= w.sinceIndex) {
        this.removeWatcher(w);
        this.pending.push({ watcher: w, event });
      }
    }
  }

  private removeWatcher(w: Watcher): void {
    if (w.removed) return;
    w.removed = true;
    const list = this.watchers.get(w.key);
    if (!list) return;
    list.splice(list.indexOf(w), 1);
    if (list.length === 0) this.watchers.delete(w.key);
  }

  /** Callbacks run after the write is complete, so they may read (or write) the store. */
  private flushWatchers(): void {
    const pending = this.pending;
    this.pending = [];
    for (const { watcher, event } of pending) {
      try {
        watcher.onEvent(structuredClone(event));
      } catch (err) {
        // A broken listener must not break the state machine; surface it asynchronously.
        queueMicrotask(() => {
          throw err;
        });
      }
    }
  }

  /** The first non-refresh event at or after `index` that a watch on `key` would see. */
  private scanHistory(key: string, recursive: boolean, index: number): V2Event | null {
    const start = historyStart(this.currentIndex);
    if (index < start) {
      throw this.error(401, `the requested history has been cleared [${start}/${index}]`);
    }
    const prefix = key.endsWith('/') ? key : `${key}/`;
    for (const { index: i, refresh, event } of this.history) {
      if (i < index || refresh) continue;
      const eventKey = event.node.key!;
      let ok = eventKey === key || (recursive && eventKey.startsWith(prefix));
      // A deleted/expired directory matches watches below it. etcd compares raw prefixes, so
      // deleting /foo also matches a watch on /foobar; kept for fidelity.
      if ((event.action === 'delete' || event.action === 'expire') && event.prevNode?.dir) {
        ok ||= key.startsWith(event.prevNode.key!);
      }
      if (ok) return event;
    }
    return null;
  }

  // --- snapshot -------------------------------------------------------------------------------

  private loadNode(saved: SavedNode, parent: TreeNode | null): TreeNode {
    const n: TreeNode = saved.children
      ? newDir(saved.key, saved.createdIndex, parent, saved.expireTime)
      : newFile(saved.key, saved.value ?? '', saved.createdIndex, parent, saved.expireTime);
    n.modifiedIndex = saved.modifiedIndex;
    if (n.expireTime !== null) this.ttlNodes.add(n);
    for (const child of saved.children ?? []) n.children!.set(posix.basename(child.key), this.loadNode(child, n));
    return n;
  }
}

// ---------------------------------------------------------------------------------------------
// Pure helpers

function newStats(): Omit<V2StoreStats, 'watchers'> {
  return {
    getsSuccess: 0,
    getsFail: 0,
    setsSuccess: 0,
    setsFail: 0,
    deleteSuccess: 0,
    deleteFail: 0,
    updateSuccess: 0,
    updateFail: 0,
    createSuccess: 0,
    createFail: 0,
    compareAndSwapSuccess: 0,
    compareAndSwapFail: 0,
    compareAndDeleteSuccess: 0,
    compareAndDeleteFail: 0,
    expireCount: 0,
  };
}

function newDir(path: string, index: number, parent: TreeNode | null, expireTime: number | null): TreeNode {
  return { path, createdIndex: index, modifiedIndex: index, expireTime, value: '', children: new Map(), parent };
}

function newFile(path: string, value: string, index: number, parent: TreeNode | null, expireTime: number | null): TreeNode {
  return { path, createdIndex: index, modifiedIndex: index, expireTime, value, children: null, parent };
}

function saveNode(n: TreeNode): SavedNode {
  const saved: SavedNode = { key: n.path, createdIndex: n.createdIndex, modifiedIndex: n.modifiedIndex, expireTime: n.expireTime };
  if (n.children) saved.children = [...n.children.values()].map(saveNode);
  else saved.value = n.value;
  return saved;
}

/** Go's path.Clean(path.Join("/", p)): rooted, no "." / ".." / "//" / trailing slash. */
export function cleanPath(p: string): string {
  return posix.resolve('/', p);
}

function components(path: string): string[] {
  return path.split('/').filter((c) => c !== '');
}

/** The root's key is "" in etcd (its internal "/1" minus the prefix), hence omitted. */
function externalKey(path: string): string {
  return path === '/' ? '' : path;
}

function isHiddenName(path: string): boolean {
  return posix.basename(path).startsWith('_');
}

/** etcd's isHidden: is `keyPath` hidden from a watcher at `watchPath` (a `_` segment below it)? */
function isHiddenBelow(watchPath: string, keyPath: string): boolean {
  if (watchPath.length > keyPath.length) return false;
  return cleanPath(`/${keyPath.slice(watchPath.length)}`).includes('/_');
}

/** etcd's history start: it holds one event per index, the last 1000 of them (0 when empty). */
function historyStart(currentIndex: number): number {
  return currentIndex > 0 ? Math.max(1, currentIndex - HISTORY_CAPACITY + 1) : 0;
}

function expireTimeOf(cmd: V2Command): number | null {
  if (cmd.ttl === undefined || cmd.ttl === null) return null;
  const t = cmd.now + cmd.ttl * 1000;
  return t < MIN_EXPIRE_MS ? null : Math.min(t, MAX_EXPIRE_MS);
}

/** Builds a node with etcd's field order, omitting what Go's `omitempty` omits. */
function nodeExtern(f: {
  key: string;
  value?: string;
  dir?: boolean;
  expireTime?: number | null;
  now: number;
  nodes?: V2Node[];
  modifiedIndex: number;
  createdIndex: number;
}): V2Node {
  const out: V2Node = {};
  if (f.key !== '') out.key = f.key;
  if (f.value !== undefined) out.value = f.value;
  if (f.dir) out.dir = true;
  if (f.expireTime !== undefined && f.expireTime !== null) {
    out.expiration = formatTime(f.expireTime);
    const ttl = ttlSeconds(f.expireTime, f.now);
    if (ttl !== 0) out.ttl = ttl;
  }
  if (f.nodes && f.nodes.length > 0) out.nodes = f.nodes;
  if (f.modifiedIndex !== 0) out.modifiedIndex = f.modifiedIndex;
  if (f.createdIndex !== 0) out.createdIndex = f.createdIndex;
  return out;
}

/** Seconds left, rounded up while positive (1..n, not 1..n+1), toward zero once past. */
function ttlSeconds(expireTime: number, now: number): number {
  const left = expireTime - now;
  return Math.trunc(left / 1000) + (left % 1000 > 0 ? 1 : 0);
}

/** Go's RFC3339Nano in UTC: trailing zeros of the fraction trimmed ("...50.967Z", "...50Z"). */
function formatTime(ms: number): string {
  return new Date(ms).toISOString().replace(/\.?0+Z$/, 'Z');
}

// ---------------------------------------------------------------------------------------------
// What a keys request asks for (parsed from HTTP by api-v2/keys-request.ts)

export interface V2ReadRequest {
  path: string;
  /** Absent: the user keys. */
  space?: V2Space;
  recursive: boolean;
  sorted: boolean;
  /** `quorum=true`: etcd serves this read through the log (QGET) instead of locally. */
  quorum: boolean;
}

export interface V2WatchRequest {
  path: string;
  recursive: boolean;
  /** 0 = from the next write. */
  waitIndex: number;
  /** etcd's deprecated `stream=true`; V2Store.watch is one-shot only. */
  stream: boolean;
}
