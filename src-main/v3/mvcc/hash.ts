// etcd 3.4's HashKV (mvcc/kvstore.go HashByRev): a CRC-32C over the key bucket as etcd's backend
// holds it (each revision as 8 bytes main, '_', 8 bytes sub, 't' if a tombstone, then the
// marshaled mvccpb.KeyValue), up to a revision. Members with the same history have the same hash,
// and so does an etcd with the same history: `etcdctl endpoint hashkv` compares them.
import type { KeyValue } from './types.js';

const CASTAGNOLI = (() => {
  const t = new Uint32Array(256);
  for (let i = 0; i < 256; i++) {
    let c = i;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0x82f63b78 ^ (c >>> 1) : c >>> 1;
    t[i] = c >>> 0;
  }
  return t;
})();

export class Crc32c {
  private crc = 0xffffffff;

  update(b: Uint8Array): this {
    let c = this.crc;
    // In range: i by the loop bound, the table's index by the mask (256 entries).
    for (let i = 0; i < b.length; i++) c = CASTAGNOLI[(c ^ b[i]!) & 0xff]! ^ (c >>> 8);
    this.crc = c;
    return this;
  }

  digest(): number {
    return (this.crc ^ 0xffffffff) >>> 0;
  }
}

/** etcd's revision key in the backend: main and sub big-endian around '_', 't' for a tombstone. */
export function revisionKey(main: number, sub: number, tombstone: boolean): Buffer {
  const b = Buffer.alloc(tombstone ? 18 : 17);
  b.writeBigInt64BE(BigInt(main), 0);
  b[8] = 0x5f;
  b.writeBigInt64BE(BigInt(sub), 9);
  if (tombstone) b[17] = 0x74;
  return b;
}

/** A protobuf varint (a negative int64 as its 64-bit two's complement, as Go writes it). */
export function varint(out: number[], v: bigint): void {
  let x = BigInt.asUintN(64, v);
  while (x >= 0x80n) {
    out.push(Number(x & 0x7fn) | 0x80);
    x >>= 7n;
  }
  out.push(Number(x));
}

/** mvccpb.KeyValue as Go marshals it: fields in order, zero values left out. */
export function marshalKeyValue(kv: Pick<KeyValue, 'key'> & Partial<KeyValue>): Buffer {
  const out: number[] = [];
  const bytes = (tag: number, b: Buffer | undefined) => {
    if (!b || b.length === 0) return;
    out.push(tag);
    varint(out, BigInt(b.length));
    for (const x of b) out.push(x);
  };
  const int = (tag: number, v: number | bigint | undefined) => {
    if (!v) return;
    out.push(tag);
    varint(out, BigInt(v));
  };
  bytes(0x0a, kv.key);
  int(0x10, kv.create_revision);
  int(0x18, kv.mod_revision);
  int(0x20, kv.version);
  bytes(0x2a, kv.value);
  int(0x30, kv.lease);
  return Buffer.from(out);
}
