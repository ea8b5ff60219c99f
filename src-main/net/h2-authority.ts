// Makes Node's HTTP/2 server accept the `:authority` that etcdctl 3.4 sends for `endpoint status`,
// `endpoint hashkv` and `move-leader`: it dials each endpoint with the endpoint URL itself as the
// gRPC target, so its requests carry `:authority: http://127.0.0.1:2379`. Go's server (real etcd)
// takes that; nghttp2 (Node's http2) only allows unreserved, sub-delims, ':', '@', '[', ']' and
// '%' there and resets the stream with PROTOCOL_ERROR, with no option to turn the check off.
//
// So the client→server bytes of an HTTP/2 connection are rewritten before the server reads them:
// in each header block (HEADERS + CONTINUATION frames) an `:authority` literal whose value is not
// a valid authority gets a valid value of the SAME decoded length (each bad byte becomes '@'), so
// the HPACK dynamic table — whose entry sizes count decoded lengths — stays in step with the
// client's encoder. The server never uses :authority (grpc-js routes by :path). Everything else
// passes through byte for byte as it arrives; only a header block is held until its last frame
// (the server cannot act on it earlier anyway). Anything that does not parse is passed on
// untouched, for the server to judge.
import net from 'node:net';
import { Duplex } from 'node:stream';

// --- HTTP/2 framing (RFC 9113 §4, §6.2, §6.10) ---

const PREFACE_LENGTH = 24; // "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", checked by cmux already
const FRAME_HEADER_LENGTH = 9;
const TYPE_HEADERS = 0x1;
const TYPE_CONTINUATION = 0x9;
const FLAG_END_HEADERS = 0x4;
const FLAG_PADDED = 0x8;
const FLAG_PRIORITY = 0x20;
/** SETTINGS_MAX_FRAME_SIZE's default; Node's server (as grpc-js sets it up) does not raise it. */
export const MAX_FRAME_SIZE = 16384;
/** A header block larger than this is not held for rewriting (the server would refuse it anyway). */
const MAX_HELD_BLOCK = 1 << 20;

// --- Huffman code (RFC 7541 Appendix B) ---

// Code lengths of symbols 0..255 and EOS (256). The code is canonical (codes follow in order of
// length, then symbol), so the lengths alone define it.
const HUFFMAN_LENGTHS = [
  13, 23, 28, 28, 28, 28, 28, 28, 28, 24, 30, 28, 28, 30, 28, 28, 28, 28, 28, 28, 28, 28, 30, 28, 28, 28, 28, 28, 28,
  28, 28, 28, 6, 10, 10, 12, 13, 6, 8, 11, 10, 10, 8, 11, 8, 6, 6, 6, 5, 5, 5, 6, 6, 6, 6, 6, 6, 6, 7, 8, 15, 6, 12, 10,
  13, 6, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 8, 7, 8, 13, 19, 13, 14, 6, 15, 5, 6, 5, 6,
  5, 6, 6, 6, 5, 7, 7, 6, 6, 6, 5, 6, 7, 6, 5, 5, 6, 7, 7, 7, 7, 7, 15, 11, 14, 13, 28, 20, 22, 20, 20, 22, 22, 22, 23,
  22, 23, 23, 23, 23, 23, 24, 23, 24, 24, 22, 23, 24, 23, 23, 23, 23, 21, 22, 23, 22, 23, 23, 24, 22, 21, 20, 22, 22,
  23, 23, 21, 23, 22, 22, 24, 21, 22, 23, 23, 21, 21, 22, 21, 23, 22, 23, 23, 20, 22, 22, 22, 23, 22, 22, 23, 26, 26,
  20, 19, 22, 23, 22, 25, 26, 26, 26, 27, 27, 26, 24, 25, 19, 21, 26, 27, 27, 26, 27, 24, 21, 21, 26, 26, 28, 27, 27,
  27, 20, 24, 20, 21, 22, 21, 21, 23, 22, 22, 25, 25, 24, 24, 26, 23, 26, 27, 26, 26, 27, 27, 27, 27, 27, 28, 27, 27,
  27, 27, 27, 26, 30,
];
const EOS = 256;

/** Each symbol's code (canonical assignment from the lengths). */
export const HUFFMAN_CODES: number[] = (() => {
  const order = HUFFMAN_LENGTHS.map((len, sym) => ({ len, sym })).sort((a, b) => a.len - b.len || a.sym - b.sym);
  const codes = new Array<number>(HUFFMAN_LENGTHS.length);
  let code = 0;
  let len = order[0]!.len; // the table is a constant 257 rows
  for (const e of order) {
    code *= 2 ** (e.len - len); // lengthen the running code to this length
    len = e.len;
    codes[e.sym] = code++;
  }
  return codes;
})();

/** Decoding tree: node i's children are tree[2i] (bit 0) and tree[2i+1] (bit 1); a leaf is -1 - symbol; 0 = none. */
const HUFFMAN_TREE: Int32Array = (() => {
  const tree = new Int32Array(2 * 2 * 257);
  let nodes = 1;
  HUFFMAN_LENGTHS.forEach((len, sym) => {
    let node = 0;
    for (let bit = len - 1; bit >= 0; bit--) {
      const slot = 2 * node + (Math.floor(HUFFMAN_CODES[sym]! / 2 ** bit) & 1); // a code per length
      if (bit === 0) tree[slot] = -1 - sym;
      else node = tree[slot]! > 0 ? tree[slot]! : (tree[slot] = nodes++); // the tree is sized for every code
    }
  });
  return tree;
})();

/** Decodes a Huffman string; null when it is not valid (EOS inside, or padding not a prefix of EOS / over 7 bits). */
export function huffmanDecode(data: Buffer): Buffer | null {
  const out: number[] = [];
  let node = 0;
  let depth = 0; // bits read since the last symbol
  let allOnes = true; // whether those bits are all 1 (a prefix of EOS)
  for (const byte of data) {
    for (let bit = 7; bit >= 0; bit--) {
      const b = (byte >> bit) & 1;
      const next = HUFFMAN_TREE[2 * node + b]!; // node is a node of the tree
      if (next === 0) return null;
      depth++;
      allOnes &&= b === 1;
      if (next < 0) {
        if (-1 - next === EOS) return null;
        out.push(-1 - next);
        node = 0;
        depth = 0;
        allOnes = true;
      } else node = next;
    }
  }
  return depth <= 7 && allOnes ? Buffer.from(out) : null;
}

/** Huffman-encodes (used by tests to build what clients send). */
export function huffmanEncode(data: Buffer): Buffer {
  const out: number[] = [];
  let acc = 0;
  let bits = 0;
  for (const sym of data) {
    // A byte is a symbol below 256: both tables have a row for it.
    for (let bit = HUFFMAN_LENGTHS[sym]! - 1; bit >= 0; bit--) {
      acc = (acc << 1) | (Math.floor(HUFFMAN_CODES[sym]! / 2 ** bit) & 1);
      if (++bits === 8) {
        out.push(acc);
        acc = bits = 0;
      }
    }
  }
  if (bits > 0) out.push(((acc << (8 - bits)) | (0xff >> bits)) & 0xff); // padded with EOS's leading 1s
  return Buffer.from(out);
}

// --- HPACK (RFC 7541 §5, §6) ---

/** Reads an integer with an N-bit prefix at `pos`; null when cut short or absurdly large. */
export function readInt(buf: Buffer, pos: number, prefixBits: number): { value: number; next: number } | null {
  if (pos >= buf.length) return null;
  const max = (1 << prefixBits) - 1;
  let value = buf[pos]! & max; // pos < buf.length just checked
  let p = pos + 1;
  if (value < max) return { value, next: p };
  for (let shift = 0; ; shift += 7) {
    if (p >= buf.length || shift > 28) return null;
    const b = buf[p++]!; // p < buf.length just checked
    value += (b & 0x7f) * 2 ** shift;
    if ((b & 0x80) === 0) return { value, next: p };
  }
}

/** Encodes an integer with an N-bit prefix; `firstBits` are the representation's bits above the prefix. */
export function encodeInt(value: number, prefixBits: number, firstBits = 0): Buffer {
  const max = (1 << prefixBits) - 1;
  if (value < max) return Buffer.from([firstBits | value]);
  const out = [firstBits | max];
  for (value -= max; value >= 0x80; value = Math.floor(value / 0x80)) out.push((value % 0x80) | 0x80);
  out.push(value);
  return Buffer.from(out);
}

/** A string literal at `pos`: its raw bytes [start, end) and whether they are Huffman-coded. */
function readString(buf: Buffer, pos: number): { huffman: boolean; start: number; end: number } | null {
  const len = readInt(buf, pos, 7);
  if (!len || len.next + len.value > buf.length) return null;
  return { huffman: (buf[pos]! & 0x80) !== 0, start: len.next, end: len.next + len.value }; // readInt read buf[pos]
}

function stringValue(buf: Buffer, s: { huffman: boolean; start: number; end: number }): Buffer | null {
  const raw = buf.subarray(s.start, s.end);
  return s.huffman ? huffmanDecode(raw) : raw;
}

/** The bytes nghttp2 allows in :authority (its check_authority): unreserved, sub-delims, ':', '@', '[', ']', '%'. */
const AUTHORITY_BYTE = (() => {
  const ok = new Uint8Array(256);
  for (const c of "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~!$&'()*+,;=:@[]%")
    ok[c.charCodeAt(0)] = 1;
  return ok;
})();

/** Same length, every byte nghttp2 would refuse turned into '@' ("http://h:1" → "http:@@h:1"); null when already valid. */
export function validAuthority(value: Buffer): Buffer | null {
  if (value.every((b) => AUTHORITY_BYTE[b] === 1)) return null;
  return Buffer.from(value.map((b) => (AUTHORITY_BYTE[b] === 1 ? b : 0x40)));
}

const AUTHORITY = Buffer.from(':authority');

/**
 * The header block with each invalid `:authority` literal's value replaced (written as a plain,
 * non-Huffman string); null when nothing needs changing or the block does not parse. Only
 * literals naming :authority by static index 1 or by a literal name are seen: clients (Go's hpack
 * included) name it by the static index, which always matches before a dynamic one.
 */
export function rewriteHeaderBlock(block: Buffer): Buffer | null {
  const parts: Buffer[] = [];
  let copiedTo = 0; // block[copiedTo..pos) is still to be copied unchanged
  let pos = 0;
  while (pos < block.length) {
    const first = block[pos]!; // pos < block.length
    if (first & 0x80) {
      // Indexed field (§6.1): refers to a table entry, nothing to rewrite there.
      const idx = readInt(block, pos, 7);
      if (!idx) return null;
      pos = idx.next;
      continue;
    }
    if ((first & 0xe0) === 0x20) {
      // Dynamic table size update (§6.3).
      const size = readInt(block, pos, 5);
      if (!size) return null;
      pos = size.next;
      continue;
    }
    // Literal (§6.2): with incremental indexing (01xxxxxx, 6-bit name index), without indexing
    // (0000xxxx) or never indexed (0001xxxx), both with a 4-bit name index; index 0 = literal name.
    const nameIndex = readInt(block, pos, first & 0x40 ? 6 : 4);
    if (!nameIndex) return null;
    let valuePos = nameIndex.next;
    let isAuthority = nameIndex.value === 1;
    if (nameIndex.value === 0) {
      const name = readString(block, valuePos);
      if (!name) return null;
      isAuthority = stringValue(block, name)?.equals(AUTHORITY) ?? false;
      valuePos = name.end;
    }
    const value = readString(block, valuePos);
    if (!value) return null;
    if (isAuthority) {
      const decoded = stringValue(block, value);
      if (!decoded) return null; // bad Huffman: the server will say so
      const fixed = validAuthority(decoded);
      if (fixed) {
        parts.push(block.subarray(copiedTo, valuePos), encodeInt(fixed.length, 7), fixed);
        copiedTo = value.end;
      }
    }
    pos = value.end;
  }
  if (parts.length === 0) return null;
  parts.push(block.subarray(copiedTo));
  return Buffer.concat(parts);
}

function frameHeader(length: number, type: number, flags: number, streamId: Buffer): Buffer {
  const h = Buffer.alloc(FRAME_HEADER_LENGTH);
  h.writeUIntBE(length, 0, 3);
  h[3] = type;
  h[4] = flags;
  streamId.copy(h, 5);
  return h;
}

/** A held header block: its frames as received, and what a rewritten block needs to be re-framed. */
interface HeldBlock {
  frames: Buffer[];
  fragments: Buffer[];
  size: number;
  flags: number; // the HEADERS frame's, less PADDED and END_HEADERS
  streamId: Buffer; // 4 bytes, as received
  priority: Buffer; // the 5 priority bytes when PRIORITY is set, else empty
}

/** The client→server byte stream, rewritten frame by frame. Feed it chunks; it returns what to pass on. */
export class AuthorityRewriter {
  private pending: Buffer = Buffer.alloc(0);
  private prefaceLeft = PREFACE_LENGTH;
  private passLeft = 0; // payload bytes of the current non-header frame still to pass through
  private held: HeldBlock | null = null;

  feed(chunk: Buffer): Buffer {
    const out: Buffer[] = [];
    let data = this.pending.length ? Buffer.concat([this.pending, chunk]) : chunk;
    this.pending = Buffer.alloc(0);
    while (data.length > 0) {
      if (this.prefaceLeft > 0 || this.passLeft > 0) {
        const n = Math.min(data.length, this.prefaceLeft || this.passLeft);
        out.push(data.subarray(0, n));
        data = data.subarray(n);
        if (this.prefaceLeft > 0) this.prefaceLeft -= n;
        else this.passLeft -= n;
        continue;
      }
      if (data.length < FRAME_HEADER_LENGTH) break;
      const length = data.readUIntBE(0, 3);
      const type = data[3]!; // a whole frame header is there
      const isHeaderFrame = type === TYPE_HEADERS || type === TYPE_CONTINUATION;
      if (this.held && type !== TYPE_CONTINUATION) this.release(out); // a client error: let the server see it
      if (!isHeaderFrame || length > MAX_FRAME_SIZE) {
        // Not part of a header block (or one the server will refuse): stream it through as it comes.
        if (isHeaderFrame) this.release(out);
        out.push(data.subarray(0, FRAME_HEADER_LENGTH));
        data = data.subarray(FRAME_HEADER_LENGTH);
        this.passLeft = length;
        continue;
      }
      if (data.length < FRAME_HEADER_LENGTH + length) break;
      this.headerFrame(data.subarray(0, FRAME_HEADER_LENGTH + length), out);
      data = data.subarray(FRAME_HEADER_LENGTH + length);
    }
    this.pending = Buffer.from(data); // an incomplete frame (copied: the chunk is not ours to keep)
    return out.length === 1 ? out[0]! : Buffer.concat(out);
  }

  /** What is left at the end of the stream (an incomplete frame or block), unchanged. */
  flush(): Buffer {
    const out: Buffer[] = [];
    this.release(out);
    out.push(this.pending);
    this.pending = Buffer.alloc(0);
    return Buffer.concat(out);
  }

  private headerFrame(frame: Buffer, out: Buffer[]): void {
    const type = frame[3]!; // a frame has its 9-byte header
    const flags = frame[4]!;
    const payload = frame.subarray(FRAME_HEADER_LENGTH);
    if (type === TYPE_CONTINUATION && !this.held) {
      out.push(frame); // a stray CONTINUATION: the server's to refuse
      return;
    }
    if (type === TYPE_HEADERS) {
      // HEADERS payload: [pad length] [5 priority bytes] fragment [padding] (§6.2).
      let start = 0;
      let end = payload.length;
      if (flags & FLAG_PADDED) {
        if (payload.length < 1) return void out.push(frame);
        start = 1;
        end -= payload[0]!;
      }
      const priority = flags & FLAG_PRIORITY ? payload.subarray(start, start + 5) : Buffer.alloc(0);
      start += flags & FLAG_PRIORITY ? 5 : 0;
      if (end < start) return void out.push(frame); // malformed: the server's to refuse
      this.held = {
        frames: [],
        fragments: [],
        size: 0,
        flags: flags & ~(FLAG_PADDED | FLAG_END_HEADERS),
        streamId: frame.subarray(5, 9),
        priority,
      };
      this.hold(frame, payload.subarray(start, end));
    } else {
      this.hold(frame, payload);
    }
    if (flags & FLAG_END_HEADERS) this.finishBlock(out);
    else if (this.held && this.held.size > MAX_HELD_BLOCK) this.release(out);
  }

  private hold(frame: Buffer, fragment: Buffer): void {
    const h = this.held!;
    // Copied: both may point into a chunk the socket reuses.
    h.frames.push(Buffer.from(frame));
    h.fragments.push(Buffer.from(fragment));
    h.size += fragment.length;
  }

  /** The held block is whole: pass it on rewritten (re-framed) or, when unchanged, as received. */
  private finishBlock(out: Buffer[]): void {
    const h = this.held!;
    this.held = null;
    const rewritten = rewriteHeaderBlock(Buffer.concat(h.fragments));
    if (!rewritten) {
      out.push(...h.frames);
      return;
    }
    // HEADERS first (with the priority bytes, no padding), then CONTINUATIONs, each ≤ MAX_FRAME_SIZE.
    let rest = rewritten;
    let type = TYPE_HEADERS;
    let prefix = h.priority;
    for (;;) {
      const room = MAX_FRAME_SIZE - prefix.length;
      const part = rest.subarray(0, room);
      rest = rest.subarray(part.length);
      const flags = (type === TYPE_HEADERS ? h.flags : 0) | (rest.length === 0 ? FLAG_END_HEADERS : 0);
      out.push(frameHeader(prefix.length + part.length, type, flags, h.streamId), prefix, part);
      if (rest.length === 0) return;
      type = TYPE_CONTINUATION;
      prefix = Buffer.alloc(0);
    }
  }

  /** Gives up on the held block: its frames go on as received. */
  private release(out: Buffer[]): void {
    if (this.held) out.push(...this.held.frames);
    this.held = null;
  }
}

/**
 * A Duplex in front of an HTTP/2 connection's socket for the server to use instead: what it reads
 * is the client's bytes with bad `:authority` values rewritten; what it writes goes to the socket
 * unchanged. Node's http2 takes any Duplex (it wraps one that is not a net.Socket itself).
 */
export function wrapForAuthority(socket: Duplex): Duplex {
  const rewriter = new AuthorityRewriter();
  // Node's http2 turns Nagle off on the socket it is given; given a Duplex, it cannot reach the
  // real one, and Nagle with delayed ACKs would hold back small frames ~40 ms each round trip.
  if (socket instanceof net.Socket) socket.setNoDelay(true);
  const wrapped = new Duplex({
    read() {
      socket.resume();
    },
    write(chunk: Buffer, encoding, callback) {
      socket.write(chunk, encoding, callback);
    },
    final(callback) {
      socket.end();
      callback();
    },
    destroy(err, callback) {
      socket.destroy(err ?? undefined);
      callback(err);
    },
  });
  socket.on('data', (chunk: Buffer) => {
    const out = rewriter.feed(chunk);
    if (out.length > 0 && !wrapped.push(out)) socket.pause();
  });
  socket.on('end', () => {
    const rest = rewriter.flush();
    if (rest.length > 0) wrapped.push(rest);
    wrapped.push(null);
  });
  socket.on('error', (err) => wrapped.destroy(err));
  socket.on('close', () => wrapped.destroy());
  return wrapped;
}
