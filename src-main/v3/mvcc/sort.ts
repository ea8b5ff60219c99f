// Range's sort (etcd's kvSortBy* with Go's sort.Sort). Go's sort is not stable in general, but
// for up to 12 elements it is an insertion sort, which is; this sort is stable at every size, so
// ties in a sort by version/create/mod/value among more than 12 keys may be ordered differently
// from etcd's (same multiset, same order of the sorted field).
import type { KeyValue, SortTarget } from './types.js';

export function sortKvs(kvs: KeyValue[], target: SortTarget, order: 'ASCEND' | 'DESCEND'): KeyValue[] {
  const less = lessBy(target);
  const cmp = (a: KeyValue, b: KeyValue) => (less(a, b) ? -1 : less(b, a) ? 1 : 0);
  const sign = order === 'ASCEND' ? 1 : -1;
  return kvs
    .map((kv, i) => ({ kv, i }))
    .sort((a, b) => sign * cmp(a.kv, b.kv) || a.i - b.i)
    .map((x) => x.kv);
}

function lessBy(target: SortTarget): (a: KeyValue, b: KeyValue) => boolean {
  switch (target) {
    case 'KEY':
      return (a, b) => Buffer.compare(a.key, b.key) < 0;
    case 'VERSION':
      return (a, b) => a.version < b.version;
    case 'CREATE':
      return (a, b) => a.create_revision < b.create_revision;
    case 'MOD':
      return (a, b) => a.mod_revision < b.mod_revision;
    case 'VALUE':
      return (a, b) => Buffer.compare(a.value, b.value) < 0;
  }
}
