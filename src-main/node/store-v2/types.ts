// The v2 store's public shapes: the commands the Raft log carries, the nodes and events it answers
// with (etcd's NodeExtern and Event JSON), its stats, and what a keys request asks for.

/**
 * Which tree a command or read works on: the user keys (default), or etcd's "/2" tree where the v2
 * auth store keeps users, roles and the enabled flag (paths as etcd writes them: /2/users/root).
 */
export type V2Space = 'keys' | 'auth';

export type V2Op =
  'set' | 'create' | 'update' | 'compareAndSwap' | 'delete' | 'compareAndDelete' | 'createInOrder' | 'expire';

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
