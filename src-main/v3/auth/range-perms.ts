// etcd 3.4's permission ranges (auth/range_perm_cache.go over pkg/adt's interval tree): a user's
// read and write permissions merged over all its roles, and the two checks etcd makes. Bounds
// compare as adt's BytesAffineComparable: an empty bound is greater than every key (so an
// interval with an empty end reaches every key from its start). A single key k is the interval
// [k, k+"\0"). A request over a range is allowed only when the union of the permissions it
// touches covers it without a gap; a request on one key, when some permission holds that key.
import type { Permission } from './types.js';

interface Interval {
  begin: Buffer;
  end: Buffer;
}

const EMPTY = Buffer.alloc(0);

/** adt.BytesAffineComparable.Compare: empty is greater than everything but empty. */
function cmp(a: Buffer, b: Buffer): number {
  if (a.length === 0) return b.length === 0 ? 0 : 1;
  if (b.length === 0) return -1;
  return Buffer.compare(a, b);
}

/** adt's Interval.Compare(q, x) === 0: q and x overlap. */
function overlaps(q: Interval, x: Interval): boolean {
  if (cmp(q.begin, x.begin) < 0 && cmp(q.end, x.begin) <= 0) return false; // q is left of x
  return cmp(q.begin, x.end) < 0; // else q is right of x when it starts at or after x's end
}

function point(key: Buffer): Interval {
  return { begin: key, end: Buffer.concat([key, Buffer.from([0])]) };
}

const isZeroByte = (b: Buffer | undefined) => !!b && b.length === 1 && b[0] === 0;

/** One role permission's interval (getMergedPerms): "\0" reaches every key from key on. */
function permInterval(p: Permission): Interval {
  const end = p.range_end ?? EMPTY;
  if (end.length === 0) return point(p.key);
  return { begin: p.key, end: isZeroByte(end) ? EMPTY : end };
}

/** A user's permissions, merged over its roles (unifiedRangePermissions). */
export class UnifiedPermissions {
  readonly read: Interval[] = [];
  readonly write: Interval[] = [];

  add(p: Permission): void {
    const ivl = permInterval(p);
    if (p.permType !== 'WRITE') this.read.push(ivl);
    if (p.permType !== 'READ') this.write.push(ivl);
  }

  /**
   * etcd's isRangeOpPermitted: no range end checks the single key (checkKeyPoint: any
   * permission holding it); a range end ("\0" meaning every key >= key) checks the range
   * (checkKeyInterval: the permissions overlapping it, by start, are contiguous and cover it).
   * A range end present with no bytes is "every key >= key" as mvcc reads it (mvcc/range-end.ts),
   * where etcd 3.4 checks the single key only: only non-Go clients send one, and a read of
   * more than the user may read is refused here.
   */
  permits(kind: 'read' | 'write', key: Buffer, rangeEnd: Buffer | undefined): boolean {
    const ivls = kind === 'read' ? this.read : this.write;
    if (rangeEnd === undefined) {
      const p = point(key);
      return ivls.some((x) => overlaps(p, x));
    }
    const q: Interval = { begin: key, end: isZeroByte(rangeEnd) ? EMPTY : rangeEnd };
    return covers(ivls, q);
  }
}

/** adt's IntervalTree.Contains: the intervals overlapping q, visited by start, leave no gap and span q. */
function covers(ivls: Interval[], q: Interval): boolean {
  const [first, ...rest] = ivls.filter((x) => overlaps(q, x)).sort((a, b) => cmp(a.begin, b.begin));
  if (!first) return false;
  const minBegin = first.begin;
  let maxEnd = first.end;
  for (const x of rest) {
    if (cmp(maxEnd, x.begin) < 0) return false;
    if (cmp(x.end, maxEnd) > 0) maxEnd = x.end;
  }
  return cmp(maxEnd, q.end) >= 0 && cmp(minBegin, q.begin) <= 0;
}
