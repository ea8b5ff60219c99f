// One tree of the v2 store and the operations on it, as etcd's store.go makes them: Get, Set,
// Create (and in-order), Update, CompareAndSwap, Delete, CompareAndDelete and the expiry of a key.
import { posix } from 'node:path';
import { V2Error } from './errors.js';
import { nodeExtern, repr, reprAlone } from './render.js';
import type { StoreCounters } from './stats.js';
import {
  childrenOf,
  cleanPath,
  externalKey,
  find,
  mkdirs,
  newDir,
  newFile,
  unlink,
  walk,
  type ErrorAt,
  type TreeNode,
} from './tree.js';
import { expireTimeOf, formatTime, type TtlNodes } from './ttl.js';
import type { V2Command, V2Event, V2Node } from './types.js';
import type { WatchHub } from './watch-hub.js';

/** What the store's trees share: the index, the nodes with a TTL, the counters. */
export interface SharedState {
  /** X-Etcd-Index: the index of the last successful write, in either tree. */
  index: number;
  readonly ttl: TtlNodes<TreeNode>;
  readonly counters: StoreCounters;
}

export class KeySpace {
  /** A V2Error stamped with the current index. */
  private readonly error: ErrorAt = (code, cause) => new V2Error(code, cause, this.shared.index);

  constructor(
    readonly root: TreeNode,
    private readonly shared: SharedState,
    /**
     * The keys tree's history and watchers; null for the auth tree, whose writes take indexes
     * and count in the stats as in etcd, but record no history and wake no watcher: etcd's
     * history and watchers hold "/2" events too, yet no keys watch can match them.
     */
    private readonly hub: WatchHub | null,
  ) {}

  /** etcd's Get: the node at `path`, its children listed (all levels below if recursive). */
  get(path: string, opts: { recursive: boolean; sorted: boolean }, now: number): V2Node {
    const n = walk(this.root, cleanPath(path), this.error);
    return repr(n, { depth: opts.recursive ? Infinity : 1, sorted: opts.sorted, now });
  }

  /** get, except that a missing key is null instead of error 100 (other errors still throw). */
  find(path: string, opts: { recursive: boolean; sorted: boolean }, now: number): V2Node | null {
    const n = find(this.root, cleanPath(path), this.error);
    return n && repr(n, { depth: opts.recursive ? Infinity : 1, sorted: opts.sorted, now });
  }

  /** Applies one write; throws V2Error, leaving the tree and the index as they were. */
  write(cmd: V2Command): V2Event {
    const path = cleanPath(cmd.path);
    const value = cmd.value ?? '';
    const expireTime = expireTimeOf(cmd);
    switch (cmd.op) {
      case 'set':
        return this.set(path, !!cmd.dir, value, expireTime, !!cmd.refresh, cmd.now);
      case 'create':
        return this.notify(this.create(path, !!cmd.dir, value, false, false, expireTime, 'create', cmd.now));
      case 'createInOrder':
        return this.notify(this.create(path, !!cmd.dir, value, true, false, expireTime, 'create', cmd.now));
      case 'update':
        return this.update(path, value, expireTime, !!cmd.refresh, cmd.now);
      case 'compareAndSwap':
        return this.compareAndSwap(
          path,
          cmd.prevValue ?? '',
          cmd.prevIndex ?? 0,
          value,
          expireTime,
          !!cmd.refresh,
          cmd.now,
        );
      case 'delete':
        return this.delete(path, !!cmd.dir || !!cmd.recursive, !!cmd.recursive, cmd.now);
      case 'compareAndDelete':
        return this.compareAndDelete(path, cmd.prevValue ?? '', cmd.prevIndex ?? 0, cmd.now);
      case 'expire':
        return this.expire(path, cmd.now);
    }
  }

  private set(
    path: string,
    dir: boolean,
    value: string,
    expireTime: number | null,
    refresh: boolean,
    now: number,
  ): V2Event {
    let existing: TreeNode | null = null;
    try {
      existing = walk(this.root, path, this.error);
    } catch (err) {
      // A missing key is fine for a set (not for a refresh); anything else, e.g. 104, is not.
      if (!(err instanceof V2Error) || err.errorCode !== 100 || refresh) throw err;
    }
    // A refresh found the key (a missing one threw above).
    if (refresh && existing) value = existing.value;
    const event = this.create(path, dir, value, false, true, expireTime, 'set', now);
    return refresh ? this.record(event, true) : this.notify(event);
  }

  /**
   * Creates (or with `replace`, replaces a file at) `path`, creating missing parent directories.
   * `unique` appends the next index, zero-padded to 20 digits: POST's in-order keys.
   */
  private create(
    path: string,
    dir: boolean,
    value: string,
    unique: boolean,
    replace: boolean,
    expireTime: number | null,
    action: string,
    now: number,
  ): V2Event {
    const nextIndex = this.shared.index + 1;
    if (unique) path = cleanPath(`${path}/${String(nextIndex).padStart(20, '0')}`);
    if (path === '/') throw this.error(107, '/');

    let parent: TreeNode;
    try {
      parent = mkdirs(this.root, posix.dirname(path), nextIndex, this.error);
    } catch (err) {
      this.shared.counters.setsFail++; // etcd counts a failed parent walk as a failed set too, even for create
      throw err;
    }
    // Past this point nothing can fail after mkdirs created a directory: a freshly created
    // parent has no children to conflict with.
    const name = posix.basename(path);
    const siblings = childrenOf(parent);
    const existing = siblings.get(name);
    let prevNode: V2Node | undefined;
    if (existing) {
      if (!replace) throw this.error(105, path);
      if (existing.children) throw this.error(102, path);
      prevNode = reprAlone(existing, now);
      this.detach(existing);
    }

    const n: TreeNode = dir
      ? newDir(path, nextIndex, parent, expireTime)
      : newFile(path, value, nextIndex, parent, expireTime);
    siblings.set(name, n);
    this.shared.ttl.track(n);
    this.shared.index = nextIndex;

    const event: V2Event = { action, node: reprAlone(n, now) };
    if (prevNode) event.prevNode = prevNode;
    return event;
  }

  /** Updates a file's value and TTL, or only a directory's TTL (a value on a directory is 102). */
  private update(path: string, value: string, expireTime: number | null, refresh: boolean, now: number): V2Event {
    if (path === '/') throw this.error(107, '/');
    const n = walk(this.root, path, this.error);
    if (n.children && value !== '') throw this.error(102, path);
    if (refresh) value = n.value;

    const nextIndex = this.shared.index + 1;
    const prevNode = reprAlone(n, now);
    // etcd 3.4 ignores Write's error on a directory: its modifiedIndex stays, yet the
    // event reports the new index.
    if (!n.children) writeValue(n, value, nextIndex);
    this.shared.ttl.setExpireTime(n, expireTime);
    const event: V2Event = {
      action: 'update',
      node: nodeExtern({
        key: path,
        value: n.children ? undefined : value,
        dir: !!n.children,
        expireTime: n.expireTime,
        now,
        modifiedIndex: nextIndex,
        createdIndex: n.createdIndex,
      }),
      prevNode,
    };
    this.shared.index = nextIndex;
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
    const n = walk(this.root, path, this.error);
    if (n.children) throw this.error(102, path);
    this.compare(n, prevValue, prevIndex);
    if (refresh) value = n.value;

    this.shared.index++;
    const prevNode = reprAlone(n, now);
    writeValue(n, value, this.shared.index);
    this.shared.ttl.setExpireTime(n, expireTime);
    const event: V2Event = { action: 'compareAndSwap', node: reprAlone(n, now), prevNode };
    return refresh ? this.record(event, true) : this.notify(event);
  }

  private delete(path: string, dir: boolean, recursive: boolean, now: number): V2Event {
    if (path === '/') throw this.error(107, '/');
    const n = walk(this.root, path, this.error);
    const nextIndex = this.shared.index + 1;
    const event: V2Event = {
      action: 'delete',
      node: nodeExtern({ key: path, dir: !!n.children, now, modifiedIndex: nextIndex, createdIndex: n.createdIndex }),
      prevNode: reprAlone(n, now),
    };
    this.remove(n, dir, recursive, event);
    this.shared.index = nextIndex;
    return this.notify(event);
  }

  private compareAndDelete(path: string, prevValue: string, prevIndex: number, now: number): V2Event {
    // No read-only check here in etcd: the root simply fails as "Not a file" (with an empty cause).
    const n = walk(this.root, path, this.error);
    if (n.children) throw this.error(102, externalKey(path));
    this.compare(n, prevValue, prevIndex);

    this.shared.index++;
    const event: V2Event = {
      action: 'compareAndDelete',
      node: nodeExtern({ key: path, now, modifiedIndex: this.shared.index, createdIndex: n.createdIndex }),
      prevNode: reprAlone(n, now),
    };
    this.remove(n, false, false, event);
    return this.notify(event);
  }

  /**
   * Deletes a node whose TTL passed at `now` (action "expire"). A key that is gone, or was given
   * a new TTL since the leader proposed this, is left alone and reported as an error.
   */
  private expire(path: string, now: number): V2Event {
    const n = walk(this.root, path, this.error);
    if (n.expireTime === null || n.expireTime > now) {
      throw this.error(101, `[${path} has not expired at ${formatTime(now)}]`);
    }
    this.shared.index++;
    const event: V2Event = {
      action: 'expire',
      node: nodeExtern({
        key: path,
        dir: !!n.children,
        now,
        modifiedIndex: this.shared.index,
        createdIndex: n.createdIndex,
      }),
      prevNode: reprAlone(n, now),
    };
    this.remove(n, true, true, event);
    return this.notify(event);
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
    this.hub?.notifyRemoved(event, n.path);
  }

  private detach(n: TreeNode): void {
    unlink(n);
    this.shared.ttl.forget(n);
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

  /** Adds to the history without waking anyone: used for refreshes. */
  private record(event: V2Event, refresh: boolean): V2Event {
    this.hub?.record(event, this.shared.index, refresh);
    return event;
  }

  /** Records `event` and wakes the watchers it concerns. */
  private notify(event: V2Event): V2Event {
    this.hub?.notify(event, this.shared.index);
    return event;
  }
}

function writeValue(n: TreeNode, value: string, index: number): void {
  n.value = value;
  n.modifiedIndex = index;
}
