// The v2 store's key tree: its nodes, Go's path cleaning, the walks etcd's store makes (with its
// 100/104 errors) and the tree's snapshot form.
import { posix } from 'node:path';

export interface TreeNode {
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

/** A tree node in a snapshot. */
export interface SavedNode {
  key: string;
  createdIndex: number;
  modifiedIndex: number;
  expireTime: number | null;
  value?: string;
  children?: SavedNode[];
}

/** Makes a store error (code, cause) stamped with the store's current index. */
export type ErrorAt = (code: number, cause: string) => Error;

export function newDir(path: string, index: number, parent: TreeNode | null, expireTime: number | null): TreeNode {
  return { path, createdIndex: index, modifiedIndex: index, expireTime, value: '', children: new Map(), parent };
}

export function newFile(
  path: string,
  value: string,
  index: number,
  parent: TreeNode | null,
  expireTime: number | null,
): TreeNode {
  return { path, createdIndex: index, modifiedIndex: index, expireTime, value, children: null, parent };
}

/** Go's path.Clean(path.Join("/", p)): rooted, no "." / ".." / "//" / trailing slash. */
export function cleanPath(p: string): string {
  return posix.resolve('/', p);
}

function components(path: string): string[] {
  return path.split('/').filter((c) => c !== '');
}

/** The root's key is "" in etcd (its internal "/1" minus the prefix), hence omitted. */
export function externalKey(path: string): string {
  return path === '/' ? '' : path;
}

export function isHiddenName(path: string): boolean {
  return posix.basename(path).startsWith('_');
}

/** etcd's isHidden: is `keyPath` hidden from a watcher at `watchPath` (a `_` segment below it)? */
export function isHiddenBelow(watchPath: string, keyPath: string): boolean {
  if (watchPath.length > keyPath.length) return false;
  return cleanPath(`/${keyPath.slice(watchPath.length)}`).includes('/_');
}

/**
 * Walks from `root` to `path`. A missing component is 100 with that component's path as cause
 * (not the whole key); walking through a file is 104 with the file's path.
 */
export function walk(root: TreeNode, path: string, error: ErrorAt): TreeNode {
  const n = descend(root, path, error);
  if (typeof n === 'string') throw error(100, n);
  return n;
}

/** walk, except that a missing key is null instead of error 100 (walking through a file still throws 104). */
export function find(root: TreeNode, path: string, error: ErrorAt): TreeNode | null {
  const n = descend(root, path, error);
  return typeof n === 'string' ? null : n;
}

/** The node at `path`, or the path of its first missing component. */
function descend(root: TreeNode, path: string, error: ErrorAt): TreeNode | string {
  let curr = root;
  for (const name of components(path)) {
    if (!curr.children) throw error(104, curr.path);
    const child = curr.children.get(name);
    if (!child) return posix.join(curr.path, name);
    curr = child;
  }
  return curr;
}

/** Walks to directory `path`, creating missing directories stamped with `index`. */
export function mkdirs(root: TreeNode, path: string, index: number, error: ErrorAt): TreeNode {
  let curr = root;
  for (const name of components(path)) {
    const dir = childrenOf(curr);
    let child = dir.get(name);
    if (!child) {
      child = newDir(posix.join(curr.path, name), index, curr, null);
      dir.set(name, child);
    } else if (!child.children) {
      throw error(104, child.path);
    }
    curr = child;
  }
  return curr;
}

/** A directory's children; a file here is a broken invariant, not a user error. */
export function childrenOf(dir: TreeNode): Map<string, TreeNode> {
  if (!dir.children) throw new Error(`v2 store: ${dir.path} is not a directory`);
  return dir.children;
}

/** Unlinks `n` from its parent. */
export function unlink(n: TreeNode): void {
  n.parent?.children?.delete(posix.basename(n.path));
}

export function saveNode(n: TreeNode): SavedNode {
  const saved: SavedNode = {
    key: n.path,
    createdIndex: n.createdIndex,
    modifiedIndex: n.modifiedIndex,
    expireTime: n.expireTime,
  };
  if (n.children) saved.children = [...n.children.values()].map(saveNode);
  else saved.value = n.value;
  return saved;
}

/** Rebuilds a saved subtree; `loaded` sees every node made (to follow the ones with a TTL). */
export function loadNode(saved: SavedNode, parent: TreeNode | null, loaded: (n: TreeNode) => void): TreeNode {
  const n: TreeNode = saved.children
    ? newDir(saved.key, saved.createdIndex, parent, saved.expireTime)
    : newFile(saved.key, saved.value ?? '', saved.createdIndex, parent, saved.expireTime);
  n.modifiedIndex = saved.modifiedIndex;
  loaded(n);
  for (const child of saved.children ?? []) childrenOf(n).set(posix.basename(child.key), loadNode(child, n, loaded));
  return n;
}
