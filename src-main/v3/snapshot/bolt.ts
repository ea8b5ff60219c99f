// A bbolt (go.etcd.io/bbolt 1.3, the version etcd 3.4 links) database file, written whole from
// sorted buckets, and read back. etcd's backend is a bbolt file, and what `etcdctl snapshot save`
// receives is that file plus a sha256: `etcdctl snapshot status` opens it with bbolt (and runs
// its integrity check), `etcdctl snapshot restore` and a real etcd start from it. So the v3
// Snapshot RPC hands out one of these (see etcd-backend.ts for the buckets etcd keeps).
//
// The layout (bbolt's page.go, db.go): pages of PAGE_SIZE bytes; page 0 and 1 are meta pages (the
// one with the higher txid wins), then the freelist, then B+tree pages. Every page starts with a
// 16-byte header {id u64, flags u16, count u16, overflow u32}, little-endian; a node larger than a
// page takes `overflow` more pages. A leaf holds {flags, pos, ksize, vsize} elements (16 bytes
// each; pos counts from the element itself) and then the keys and values; a branch holds {pos,
// ksize, pgid} elements pointing at its children by their first key. The root bucket's leaf maps
// each bucket name (flag 1) to a 16-byte bucket header {root pgid, sequence}; a bucket small
// enough (a quarter page, bbolt's inlineable()) has root 0 and its leaf page right after the
// header, in the value, as bbolt writes it.

export const PAGE_SIZE = 4096;

const MAGIC = 0xed0cdaed;
const VERSION = 2;
const HEADER = 16;
const ELEMENT = 16;
const BRANCH = 0x01;
const LEAF = 0x02;
const META = 0x04;
const FREELIST = 0x10;
const BUCKET_LEAF = 0x01;

export type BoltPair = [key: Buffer, value: Buffer];

/** One bucket: its name and its pairs (any order: they are sorted by key bytes here). */
export interface BoltBucket {
  name: string;
  pairs: BoltPair[];
}

/** FNV-1a 64, bbolt's meta checksum. */
function fnv64a(b: Buffer): bigint {
  let h = 0xcbf29ce484222325n;
  for (const x of b) h = BigInt.asUintN(64, (h ^ BigInt(x)) * 0x100000001b3n);
  return h;
}

interface Node {
  pgid: number;
  first: Buffer;
}

class PageWriter {
  readonly pages: Buffer[] = [];

  /** Next free page id. */
  get next(): number {
    return this.pages.length;
  }

  /** Writes one node (a header plus `body`) at the next page id, with overflow pages as needed. */
  put(flags: number, count: number, body: Buffer): number {
    const id = this.next;
    const size = HEADER + body.length;
    const n = Math.max(1, Math.ceil(size / PAGE_SIZE));
    const p = Buffer.alloc(n * PAGE_SIZE);
    p.writeBigUInt64LE(BigInt(id), 0);
    p.writeUInt16LE(flags, 8);
    p.writeUInt16LE(count, 10);
    p.writeUInt32LE(n - 1, 12);
    body.copy(p, HEADER);
    for (let i = 0; i < n; i++) this.pages.push(p.subarray(i * PAGE_SIZE, (i + 1) * PAGE_SIZE));
    return id;
  }
}

/** A leaf's body: elements, then each key and value. */
function leafBody(pairs: BoltPair[], flags: number): Buffer {
  const els = Buffer.alloc(pairs.length * ELEMENT);
  const data: Buffer[] = [];
  let off = pairs.length * ELEMENT;
  pairs.forEach(([k, v], i) => {
    const at = i * ELEMENT;
    els.writeUInt32LE(flags, at);
    els.writeUInt32LE(off - at, at + 4);
    els.writeUInt32LE(k.length, at + 8);
    els.writeUInt32LE(v.length, at + 12);
    data.push(k, v);
    off += k.length + v.length;
  });
  return Buffer.concat([els, ...data]);
}

function branchBody(children: Node[]): Buffer {
  const els = Buffer.alloc(children.length * ELEMENT);
  let off = children.length * ELEMENT;
  children.forEach((c, i) => {
    const at = i * ELEMENT;
    els.writeUInt32LE(off - at, at);
    els.writeUInt32LE(c.first.length, at + 4);
    els.writeBigUInt64LE(BigInt(c.pgid), at + 8);
    off += c.first.length;
  });
  return Buffer.concat([els, ...children.map((c) => c.first)]);
}

/** Groups items into nodes that fit a page (one item alone may overflow), at most 0xffff each. */
function chunk<T>(items: T[], size: (x: T) => number): T[][] {
  const out: T[][] = [];
  let cur: T[] = [];
  let used = HEADER;
  for (const x of items) {
    const s = ELEMENT + size(x);
    if (cur.length > 0 && (used + s > PAGE_SIZE || cur.length === 0xffff)) {
      out.push(cur);
      cur = [];
      used = HEADER;
    }
    cur.push(x);
    used += s;
  }
  out.push(cur);
  return out;
}

/** A B+tree of `pairs` (sorted): its leaves, then branch levels up to one root; returns the root's page id. */
function writeTree(w: PageWriter, pairs: BoltPair[], flags: number): number {
  let level: Node[] = chunk(pairs, ([k, v]) => k.length + v.length).map((group) => ({
    pgid: w.put(LEAF, group.length, leafBody(group, flags)),
    first: group[0]?.[0] ?? Buffer.alloc(0),
  }));
  while (level.length > 1) {
    level = chunk(level, (c) => c.first.length).map((group) => ({
      pgid: w.put(BRANCH, group.length, branchBody(group)),
      first: group[0]!.first, // the groups of a non-empty list are non-empty
    }));
  }
  const [root] = level;
  if (!root) throw new Error('bolt: a tree without a root page'); // chunk gives at least one group
  return root.pgid;
}

const byKey = (a: BoltPair, b: BoltPair) => Buffer.compare(a[0], b[0]);

/**
 * The whole database file: the buckets (sorted by name, their pairs by key), an empty freelist
 * and two meta pages, txid `txid` and `txid - 1`. Deterministic: same buckets, same bytes.
 */
export function writeBolt(buckets: BoltBucket[], txid = 2): Buffer {
  const w = new PageWriter();
  const metaPages = [Buffer.alloc(PAGE_SIZE), Buffer.alloc(PAGE_SIZE)]; // pages 0 and 1, written last
  w.pages.push(...metaPages);
  const freelist = w.put(FREELIST, 0, Buffer.alloc(0));
  const sorted = [...buckets].sort((a, b) => Buffer.compare(Buffer.from(a.name), Buffer.from(b.name)));
  const rootPairs: BoltPair[] = sorted.map((b) => {
    const pairs = [...b.pairs].sort(byKey);
    const header = Buffer.alloc(16);
    // bbolt keeps a small bucket inline, in its parent's leaf: header (root 0) and its page.
    if (HEADER + pairs.reduce((n, [k, v]) => n + ELEMENT + k.length + v.length, 0) <= PAGE_SIZE / 4) {
      const body = leafBody(pairs, 0);
      const page = Buffer.alloc(HEADER + body.length);
      page.writeUInt16LE(LEAF, 8);
      page.writeUInt16LE(pairs.length, 10);
      body.copy(page, HEADER);
      return [Buffer.from(b.name), Buffer.concat([header, page])];
    }
    header.writeBigUInt64LE(BigInt(writeTree(w, pairs, 0)), 0);
    return [Buffer.from(b.name), header];
  });
  const root = writeTree(w, rootPairs, BUCKET_LEAF);
  const high = w.next;
  for (const [id, p] of metaPages.entries()) {
    p.writeBigUInt64LE(BigInt(id), 0);
    p.writeUInt16LE(META, 8);
    const m = HEADER;
    p.writeUInt32LE(MAGIC, m);
    p.writeUInt32LE(VERSION, m + 4);
    p.writeUInt32LE(PAGE_SIZE, m + 8);
    p.writeUInt32LE(0, m + 12);
    p.writeBigUInt64LE(BigInt(root), m + 16);
    p.writeBigUInt64LE(0n, m + 24);
    p.writeBigUInt64LE(BigInt(freelist), m + 32);
    p.writeBigUInt64LE(BigInt(high), m + 40);
    // bbolt writes meta txid%2 on page txid%2.
    const tx = txid - ((txid + id) % 2);
    p.writeBigUInt64LE(BigInt(tx), m + 48);
    p.writeBigUInt64LE(fnv64a(p.subarray(m, m + 56)), m + 56);
  }
  return Buffer.concat(w.pages);
}

/** A bbolt file read back: bucket name to its pairs in key order (nested buckets are not followed). */
export function readBolt(file: Buffer): Map<string, BoltPair[]> {
  const metas = [0, 1]
    .map((id) => {
      const m = id * PAGE_SIZE + HEADER;
      if (file.readUInt32LE(m) !== MAGIC || file.readUInt32LE(m + 4) !== VERSION) return undefined;
      if (fnv64a(file.subarray(m, m + 56)) !== file.readBigUInt64LE(m + 56)) return undefined;
      return {
        pageSize: file.readUInt32LE(m + 8),
        root: Number(file.readBigUInt64LE(m + 16)),
        txid: file.readBigUInt64LE(m + 48),
      };
    })
    .filter((m) => m !== undefined);
  const [meta] = metas.sort((a, b) => (a.txid > b.txid ? -1 : 1));
  if (!meta) throw new Error('not a bbolt file (no valid meta page)');
  const walk = (pgid: number, out: [Buffer, Buffer, number][]) => {
    const at = pgid * meta.pageSize;
    const flags = file.readUInt16LE(at + 8);
    const count = file.readUInt16LE(at + 10);
    for (let i = 0; i < count; i++) {
      const e = at + HEADER + i * ELEMENT;
      if (flags & LEAF) {
        const pos = e + file.readUInt32LE(e + 4);
        const ks = file.readUInt32LE(e + 8);
        const vs = file.readUInt32LE(e + 12);
        out.push([file.subarray(pos, pos + ks), file.subarray(pos + ks, pos + ks + vs), file.readUInt32LE(e)]);
      } else if (flags & BRANCH) {
        walk(Number(file.readBigUInt64LE(e + 8)), out);
      } else throw new Error(`page ${pgid}: not a leaf or branch page (flags ${flags})`);
    }
  };
  const roots: [Buffer, Buffer, number][] = [];
  walk(meta.root, roots);
  const out = new Map<string, BoltPair[]>();
  for (const [name, header, flags] of roots) {
    if (!(flags & BUCKET_LEAF)) continue;
    const pairs: [Buffer, Buffer, number][] = [];
    const root = Number(header.readBigUInt64LE(0));
    if (root === 0) {
      // An inline bucket: its page follows the header in the value.
      const sub = header.subarray(16);
      const count = sub.readUInt16LE(10);
      for (let i = 0; i < count; i++) {
        const e = HEADER + i * ELEMENT;
        const pos = e + sub.readUInt32LE(e + 4);
        const ks = sub.readUInt32LE(e + 8);
        const vs = sub.readUInt32LE(e + 12);
        pairs.push([sub.subarray(pos, pos + ks), sub.subarray(pos + ks, pos + ks + vs), sub.readUInt32LE(e)]);
      }
    } else walk(root, pairs);
    out.set(
      name.toString('latin1'),
      pairs.map(([k, v]) => [Buffer.from(k), Buffer.from(v)]),
    );
  }
  return out;
}
