// The v2 store's event history and watchers (etcd's event_history.go and watcher_hub.go): the
// last 1000 events for `waitIndex`, one-shot watches woken by a write on their key, an ancestor
// or (deleted) a descendant, and callbacks held until the write that woke them is complete.
import { isHiddenBelow, type ErrorAt } from './tree.js';
import type { V2Event, V2WatchHandle } from './types.js';

/** The v2 history keeps the last 1000 events for `waitIndex`. */
const HISTORY_CAPACITY = 1000;

export interface HistoryEntry {
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

/** etcd's history start: it holds one event per index, the last 1000 of them (0 when empty). */
function historyStart(currentIndex: number): number {
  return currentIndex > 0 ? Math.max(1, currentIndex - HISTORY_CAPACITY + 1) : 0;
}

export class WatchHub {
  private history: HistoryEntry[] = [];
  private readonly watchers = new Map<string, Watcher[]>();
  /** Notifications collected during one apply, delivered once the store is consistent again. */
  private pending: Array<{ watcher: Watcher; event: V2Event }> = [];

  /**
   * Registers a one-shot watch on `key` (clean) at store index `currentIndex`; see V2Store.watch.
   * `error` makes the 401 for an index older than the history.
   */
  watch(
    key: string,
    opts: { recursive: boolean; waitIndex: number },
    currentIndex: number,
    error: ErrorAt,
    onEvent: (e: V2Event) => void,
  ): V2WatchHandle {
    const { recursive } = opts;
    const sinceIndex = opts.waitIndex || currentIndex + 1;
    const startIndex = currentIndex;
    const hit = this.scanHistory(key, recursive, sinceIndex, currentIndex, error);
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

  /** Live watchers, for the store's stats. */
  count(): number {
    let n = 0;
    for (const list of this.watchers.values()) n += list.length;
    return n;
  }

  /** Adds the event of write `index` to the history without waking anyone: used for refreshes. */
  record(event: V2Event, index: number, refresh: boolean): void {
    this.history.push({ index, refresh, event });
    const start = historyStart(index);
    while (this.history.length > 0 && this.history[0]!.index < start) this.history.shift();
  }

  /** Records `event` and wakes watchers on "/", every ancestor of the key, and the key itself. */
  notify(event: V2Event, index: number): void {
    this.record(event, index, false);
    const key = keyOf(event);
    this.notifyWatchers(event, '/', false);
    for (let i = 1; i < key.length; i++) {
      if (key[i] === '/') this.notifyWatchers(event, key.slice(0, i), false);
    }
    if (key.length > 1) this.notifyWatchers(event, key, false);
  }

  /** Wakes the watchers of `path`, a node removed by `event` (itself or below the event's key). */
  notifyRemoved(event: V2Event, path: string): void {
    this.notifyWatchers(event, path, true);
  }

  /** Drops the notifications of a write that failed. */
  discardPending(): void {
    this.pending = [];
  }

  /** Callbacks run after the write is complete, so they may read (or write) the store. */
  flush(): void {
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

  /** The history, for a snapshot (live watchers are node-local and not saved). */
  savedHistory(): HistoryEntry[] {
    return this.history;
  }

  loadHistory(history: HistoryEntry[]): void {
    this.history = history;
  }

  /**
   * Wakes the watchers registered at `watchPath`: those on the key itself, recursive ones
   * (unless the key is hidden below them), and, when `deleted`, those on removed descendants.
   */
  private notifyWatchers(event: V2Event, watchPath: string, deleted: boolean): void {
    const list = this.watchers.get(watchPath);
    if (!list) return;
    const key = keyOf(event);
    const originalPath = key === watchPath;
    const index = event.node.modifiedIndex ?? 0;
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

  /** The first non-refresh event at or after `index` that a watch on `key` would see. */
  private scanHistory(
    key: string,
    recursive: boolean,
    index: number,
    currentIndex: number,
    error: ErrorAt,
  ): V2Event | null {
    const start = historyStart(currentIndex);
    if (index < start) {
      throw error(401, `the requested history has been cleared [${start}/${index}]`);
    }
    const prefix = key.endsWith('/') ? key : `${key}/`;
    for (const { index: i, refresh, event } of this.history) {
      if (i < index || refresh) continue;
      const eventKey = keyOf(event);
      let ok = eventKey === key || (recursive && eventKey.startsWith(prefix));
      // A deleted/expired directory matches watches below it. etcd compares raw prefixes, so
      // deleting /foo also matches a watch on /foobar; kept for fidelity.
      if ((event.action === 'delete' || event.action === 'expire') && event.prevNode?.dir) {
        ok ||= event.prevNode.key !== undefined && key.startsWith(event.prevNode.key);
      }
      if (ok) return event;
    }
    return null;
  }
}

/** An event's key: every write event names one (only the root has none, and it is never written). */
function keyOf(event: V2Event): string {
  const key = event.node.key;
  if (key === undefined) throw new Error(`v2 store: a ${event.action} event without a key`);
  return key;
}
