// The v2 store's nodes as etcd renders them (NodeExtern's JSON): field order, Go's omitempty,
// hidden `_` names left out of listings, Go's string order for sorted ones.
import { compareStrings } from '../go/strings.js';
import { externalKey, isHiddenName, type TreeNode } from './tree.js';
import { formatTime, ttlSeconds } from './ttl.js';
import type { V2Event, V2Node } from './types.js';

/** Builds a node with etcd's field order, omitting what Go's `omitempty` omits. */
export function nodeExtern(f: {
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

export interface ReprOptions {
  /** How many directory levels to list below the node (Infinity: all). */
  depth: number;
  sorted: boolean;
  now: number;
}

/** External form of a tree node. */
export function repr(n: TreeNode, opts: ReprOptions): V2Node {
  let nodes: V2Node[] | undefined;
  if (n.children && opts.depth > 0) {
    const childOpts = { ...opts, depth: opts.depth - 1 };
    nodes = [...n.children.values()].filter((c) => !isHiddenName(c.path)).map((c) => repr(c, childOpts));
    if (opts.sorted) nodes.sort((a, b) => compareStrings(a.key ?? '', b.key ?? ''));
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

/**
 * A deep copy of an event (what structuredClone makes of it, at a fraction of the cost: every
 * applied write is copied once). Nodes hold strings, numbers, booleans and listed nodes only.
 */
export function cloneEvent(e: V2Event): V2Event {
  const out: V2Event = { action: e.action, node: cloneNode(e.node) };
  if (e.prevNode) out.prevNode = cloneNode(e.prevNode);
  return out;
}

function cloneNode(n: V2Node): V2Node {
  const out = { ...n };
  if (n.nodes) out.nodes = n.nodes.map(cloneNode);
  return out;
}

/** The node alone, unlisted, as events show it (node, prevNode). */
export function reprAlone(n: TreeNode, now: number): V2Node {
  return repr(n, { depth: 0, sorted: false, now });
}
