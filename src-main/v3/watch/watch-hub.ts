// etcd 3.4's watch machinery (mvcc/watchable_store.go, watcher.go, v3rpc/watch.go) over the
// in-memory MVCC store, minus the goroutines: a stream's watchers are told synchronously of each
// applied write txn (one response per txn), a watcher starting in the past first gets the history
// since its start revision (at most 1000 revisions per response, as etcd batches them), and one
// whose start revision was compacted away is cancelled with compact_revision, as etcd does.
import { WatchErrors } from '../errors.js';
import { inRange } from '../mvcc/range-end.js';
import type { MvccStore } from '../mvcc/store.js';
import type { Event } from '../mvcc/types.js';

/** etcd's watchBatchMaxRevs. */
export const WATCH_BATCH_MAX_REVS = 1000;
/** clientv3's InvalidWatchID: a response that belongs to no watcher. */
export const INVALID_WATCH_ID = -1;

export type WatchFilter = 'NOPUT' | 'NODELETE';

export interface WatchCreateRequest {
  key?: Buffer;
  range_end?: Buffer;
  start_revision?: number;
  progress_notify?: boolean;
  filters?: WatchFilter[];
  prev_kv?: boolean;
  /** 0 = let the server choose (clientv3's AutoWatchID). */
  watch_id?: number;
}

/** A WatchResponse as etcd's v3rpc sends it; the server adds cluster_id, member_id, raft_term. */
export interface WatchResponse {
  header: { revision: number };
  watch_id: number;
  created: boolean;
  canceled: boolean;
  compact_revision: number;
  cancel_reason: string;
  events: Event[];
}

interface Watcher {
  id: number;
  key: Buffer;
  /** undefined = single key; empty = every key >= key. */
  end: Buffer | undefined;
  /** The lowest revision it still wants. */
  minRev: number;
  filters: WatchFilter[];
  prevKv: boolean;
  progressNotify: boolean;
  /** Whether it has seen events since the last progress tick (etcd elides that tick). */
  sentSinceTick: boolean;
  stream: WatchStream;
}

const response = (watchId: number, revision: number, extra: Partial<WatchResponse> = {}): WatchResponse => ({
  header: { revision },
  watch_id: watchId,
  created: false,
  canceled: false,
  compact_revision: 0,
  cancel_reason: '',
  events: [],
  ...extra,
});

export class WatchHub {
  /** Watchers caught up with the store, told of each new txn. */
  private readonly synced = new Set<Watcher>();

  constructor(private readonly store: MvccStore) {}

  /** A stream (one gRPC Watch call): its responses go to `send`, in order. */
  openStream(send: (r: WatchResponse) => void): WatchStream {
    return new WatchStream(this, this.store, send);
  }

  /** Call after every applied write txn with its events (all at revision `rev`). */
  notify(rev: number, events: Event[]): void {
    if (events.length === 0) return;
    for (const w of [...this.synced]) {
      const mine = events.filter((e) => e.kv.mod_revision >= w.minRev && inRange(e.kv.key, w.key, w.end));
      if (mine.length === 0) continue;
      w.minRev = rev + 1;
      w.stream.deliver(w, rev, mine);
    }
  }

  /** Every stream's watchers with progress_notify get a progress response unless they just had events. */
  progressTick(): void {
    for (const w of this.synced) {
      if (w.progressNotify && !w.sentSinceTick) w.stream.emit(response(w.id, this.store.rev()));
      w.sentSinceTick = false;
    }
  }

  /**
   * After the store was replaced by a snapshot: every watcher catches up again from the
   * revision it waits for (or is cancelled as compacted), as etcd's watchableStore.Restore.
   */
  resync(): void {
    const all = [...this.synced];
    this.synced.clear();
    for (const w of all) this.add(w);
  }

  watcherCount(): number {
    return this.synced.size;
  }

  /** @internal */
  add(w: Watcher): void {
    // Catch up through history first (etcd's unsynced group), then join the synced group.
    const cur = this.store.rev();
    if (w.minRev <= cur) {
      const compactRev = this.store.compactRev();
      if (w.minRev < compactRev) {
        w.stream.compacted(w, compactRev);
        return;
      }
      const all = this.store.eventsSince(w.minRev, (k) => inRange(k, w.key, w.end));
      for (const batch of batchByRevisions(all, WATCH_BATCH_MAX_REVS)) w.stream.deliver(w, cur, batch);
      w.minRev = cur + 1;
    }
    this.synced.add(w);
  }

  /** @internal */
  remove(w: Watcher): void {
    this.synced.delete(w);
  }
}

export class WatchStream {
  private readonly watchers = new Map<number, Watcher>();
  private nextId = 0;
  private closed = false;

  constructor(
    private readonly hub: WatchHub,
    private readonly store: MvccStore,
    private readonly send: (r: WatchResponse) => void,
  ) {}

  /** A create request: the `created` response, then any history, as etcd orders them. */
  create(req: WatchCreateRequest): number {
    let key = req.key && req.key.length > 0 ? req.key : Buffer.from([0]);
    const re = req.range_end;
    const end = !re || re.length === 0 ? undefined : re.length === 1 && re[0] === 0 ? Buffer.alloc(0) : re;
    const wsrev = this.store.rev();
    const fail = (reason: string) => {
      this.emit(response(INVALID_WATCH_ID, wsrev, { created: true, canceled: true, cancel_reason: reason }));
      return INVALID_WATCH_ID;
    };
    if (this.closed) return fail(WatchErrors.emptyRange);
    if (end && end.length > 0 && Buffer.compare(key, end) >= 0) return fail(WatchErrors.emptyRange);
    let id = req.watch_id ?? 0;
    if (id === 0) {
      while (this.watchers.has(this.nextId)) this.nextId++;
      id = this.nextId++;
    } else if (this.watchers.has(id)) return fail(WatchErrors.duplicateId);
    key = Buffer.from(key);
    const start = req.start_revision ?? 0;
    const w: Watcher = {
      // etcd takes any start but 0 as given (a negative one is then "compacted").
      id,
      key,
      end,
      minRev: start !== 0 ? start : wsrev + 1,
      filters: req.filters ?? [],
      prevKv: !!req.prev_kv,
      progressNotify: !!req.progress_notify,
      sentSinceTick: false,
      stream: this,
    };
    this.watchers.set(id, w);
    this.emit(response(id, wsrev, { created: true }));
    this.hub.add(w);
    return id;
  }

  /** A cancel request: etcd answers only for a watcher that exists. */
  cancel(id: number): boolean {
    const w = this.watchers.get(id);
    if (!w || this.closed) return false;
    this.hub.remove(w);
    this.watchers.delete(id);
    this.emit(response(id, this.store.rev(), { canceled: true }));
    return true;
  }

  /** A progress request: the current revision, for no watcher in particular. */
  requestProgress(): void {
    this.emit(response(INVALID_WATCH_ID, this.store.rev()));
  }

  ids(): number[] {
    return [...this.watchers.keys()];
  }

  close(): void {
    this.closed = true;
    for (const w of this.watchers.values()) this.hub.remove(w);
    this.watchers.clear();
  }

  /** @internal */
  deliver(w: Watcher, rev: number, events: Event[]): void {
    const kept = events.filter((e) => !w.filters.includes(e.type === 'PUT' ? 'NOPUT' : 'NODELETE'));
    if (kept.length === 0) return; // etcd sends nothing when every event is filtered out
    const out = kept.map((e) => {
      const ev: Event = { type: e.type, kv: e.kv };
      const isCreate = e.type === 'PUT' && e.kv.create_revision === e.kv.mod_revision;
      if (w.prevKv && !isCreate) {
        const prev = this.prevAt(e.kv.key, e.kv.mod_revision - 1);
        if (prev) ev.prev_kv = prev;
      }
      return ev;
    });
    w.sentSinceTick = true;
    this.emit(response(w.id, rev, { events: out }));
  }

  /**
   * @internal etcd: the watcher gets no more events and is told the compaction revision (header
   * revision 0). Its id stays taken on the stream until cancelled, as in etcd's watchStream.
   */
  compacted(w: Watcher, compactRev: number): void {
    this.emit(response(w.id, 0, { canceled: true, compact_revision: compactRev }));
  }

  /** @internal */
  emit(r: WatchResponse): void {
    if (!this.closed) this.send(r);
  }

  private prevAt(key: Buffer, rev: number) {
    try {
      return this.store.range(key, undefined, { rev }).kvs[0];
    } catch {
      return undefined; // compacted: etcd sends the event without prev_kv
    }
  }
}

/** Splits events (in revision order) into runs of at most `maxRevs` distinct revisions. */
function batchByRevisions(events: Event[], maxRevs: number): Event[][] {
  const out: Event[][] = [];
  let cur: Event[] = [];
  let revs = 0;
  for (const e of events) {
    const last = cur[cur.length - 1];
    if (!last || e.kv.mod_revision > last.kv.mod_revision) {
      if (revs === maxRevs) {
        out.push(cur);
        cur = [];
        revs = 0;
      }
      revs++;
    }
    cur.push(e);
  }
  if (cur.length > 0) out.push(cur);
  return out;
}
