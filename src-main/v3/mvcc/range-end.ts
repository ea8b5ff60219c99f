// etcd's range conventions: no range_end = the single key; range_end "\0" = every key >= key;
// otherwise the half-open [key, range_end). Bytes compare as unsigned bytes (Buffer.compare).

const EMPTY = Buffer.alloc(0);

/** The end of the range of keys starting with `prefix` (clientv3's GetPrefixRangeEnd). */
export function prefixRangeEnd(prefix: Buffer): Buffer {
  const end = Buffer.from(prefix);
  for (let i = end.length - 1; i >= 0; i--) {
    const byte = end[i]!; // i is within end by the loop bound
    if (byte < 0xff) {
      end[i] = byte + 1;
      return end.subarray(0, i + 1);
    }
  }
  // No next prefix (e.g. 0xffff): every key from the prefix on, as WithFromKey.
  return Buffer.from([0]);
}

/**
 * A request's range_end as mvcc takes it (etcd's mkGteRange): undefined = single key,
 * empty = every key >= key, else the exclusive end.
 *
 * An absent range_end is a single key, but one present on the wire with no bytes is "every key
 * >= key" in etcd 3.4: its unmarshaling gives []byte{} (not nil), which mvcc reads as no end.
 * Only where the request is served as received (Range, a read-only Txn): a proposed one goes
 * through the log's marshaling, which drops empty bytes (command.ts). Go clients never send it
 * and etcd's JSON gateway drops it; protobufjs clients do, so absent and empty are kept apart.
 */
export function mvccEnd(rangeEnd: Buffer | undefined): Buffer | undefined {
  if (rangeEnd === undefined) return undefined;
  if (rangeEnd.length === 0) return EMPTY;
  if (rangeEnd.length === 1 && rangeEnd[0] === 0) return EMPTY;
  return rangeEnd;
}

/** Whether `k` is in the mvcc range [key, end). */
export function inRange(k: Buffer, key: Buffer, end: Buffer | undefined): boolean {
  if (end === undefined) return k.equals(key);
  if (Buffer.compare(k, key) < 0) return false;
  return end.length === 0 || Buffer.compare(k, end) < 0;
}
