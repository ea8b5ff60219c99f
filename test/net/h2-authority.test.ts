// The pieces of the :authority fix (net/h2-authority.ts) against RFC 7541's own examples, and the
// frame rewriter against blocks that are split, padded, prioritized, oversized or fed a byte at a
// time: blocks that need no change come out byte for byte, the others with only the value changed.
import net, { type AddressInfo } from 'node:net';
import { describe, expect, it, vi } from 'vitest';
import {
  AuthorityRewriter,
  MAX_FRAME_SIZE,
  encodeInt,
  huffmanDecode,
  huffmanEncode,
  readInt,
  rewriteHeaderBlock,
  validAuthority,
  wrapForAuthority,
} from '../../src-main/net/h2-authority.js';
import { nth } from '../helpers/checked.js';
import { H2_PREFACE, h2Frame } from '../helpers/h2-frames.js';

const hex = (s: string) => Buffer.from(s.replace(/\s+/g, ''), 'hex');

// RFC 7541 Appendix C.4 / C.6: strings and their Huffman encodings, exact bytes.
const HUFFMAN_EXAMPLES: [string, string][] = [
  ['www.example.com', 'f1e3 c2e5 f23a 6ba0 ab90 f4ff'],
  ['no-cache', 'a8eb 1064 9cbf'],
  ['custom-key', '25a8 49e9 5ba9 7d7f'],
  ['custom-value', '25a8 49e9 5bb8 e8b4 bf'],
  ['302', '6402'],
  ['private', 'aec3 771a 4b'],
  ['Mon, 21 Oct 2013 20:13:21 GMT', 'd07a be94 1054 d444 a820 0595 040b 8166 e082 a62d 1bff'],
  ['https://www.example.com', '9d29 ad17 1863 c78f 0b97 c8e9 ae82 ae43 d3'],
  ['gzip', '9bd9 ab'],
  [
    'foo=ASDJKHQKBZXOQWEOPIUAXQWEOIU; max-age=3600; version=1',
    '94e7 821d d7f2 e6c7 b335 dfdf cd5b 3960 d5af 2708 7f36 72c1 ab27 0fb5 291f 9587 3160 65c0 03ed 4ee5 b106 3d50 07',
  ],
];

// RFC 7541 Appendix C.4: three requests' header blocks, Huffman-coded, one shared dynamic table.
const C4_REQUESTS = [
  '8286 8441 8cf1 e3c2 e5f2 3a6b a0ab 90f4 ff',
  '8286 84be 5886 a8eb 1064 9cbf',
  '8287 85bf 4088 25a8 49e9 5ba9 7d7f 8925 a849 e95b b8e8 b4bf',
].map(hex);

/** Splits a byte stream (after the preface) into frames. */
function frames(stream: Buffer): { type: number; flags: number; streamId: number; payload: Buffer }[] {
  const out = [];
  for (let p = 0; p < stream.length;) {
    const len = stream.readUIntBE(p, 3);
    out.push({
      type: stream.readUInt8(p + 3),
      flags: stream.readUInt8(p + 4),
      streamId: stream.readUInt32BE(p + 5),
      payload: stream.subarray(p + 9, p + 9 + len),
    });
    p += 9 + len;
  }
  return out;
}

/** Feeds `input` in pieces of `step` bytes; returns all the rewriter let out (and flushed). */
function through(input: Buffer, step = input.length): Buffer {
  const r = new AuthorityRewriter();
  const out: Buffer[] = [];
  for (let p = 0; p < input.length; p += step) out.push(r.feed(input.subarray(p, p + step)));
  out.push(r.flush());
  return Buffer.concat(out);
}

/** A literal :authority (static name index 1) with incremental indexing, Huffman-coded value. */
const authorityLiteral = (value: string) => {
  const h = huffmanEncode(Buffer.from(value));
  return Buffer.concat([Buffer.from([0x41]), encodeInt(h.length, 7, 0x80), h]);
};

describe('HPACK pieces (RFC 7541 examples)', () => {
  it('Huffman: every Appendix C string encodes to its exact bytes and decodes back', () => {
    for (const [text, code] of HUFFMAN_EXAMPLES) {
      expect(huffmanEncode(Buffer.from(text)).toString('hex'), text).toBe(hex(code).toString('hex'));
      expect(huffmanDecode(hex(code))?.toString(), text).toBe(text);
    }
    // All 256 byte values round-trip (the whole table, including the 30-bit codes).
    const all = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
    expect(huffmanDecode(huffmanEncode(all))).toEqual(all);
  });

  it('Huffman: padding longer than 7 bits, padding not of 1s, and a whole EOS are refused', () => {
    expect(huffmanDecode(hex('f1e3 c2e5 f23a 6ba0 ab90 f4ff ff'))).toBeNull(); // 8+ bits of padding
    expect(huffmanDecode(hex('f1e3 c2e5 f23a 6ba0 ab90 f4fe'))).toBeNull(); // padding ends in a 0
    expect(huffmanDecode(hex('ffff fffc'))).toBeNull(); // EOS (30 ones) is never a symbol
  });

  it('integers with prefixes: C.1.1-C.1.3 exactly', () => {
    expect(encodeInt(10, 5)).toEqual(hex('0a'));
    expect(encodeInt(1337, 5)).toEqual(hex('1f9a0a'));
    expect(encodeInt(42, 8)).toEqual(hex('2a'));
    expect(readInt(hex('1f9a0a'), 0, 5)).toEqual({ value: 1337, next: 3 });
    expect(readInt(hex('ea'), 0, 5)).toEqual({ value: 10, next: 1 }); // bits above the prefix ignored
    expect(readInt(hex('1f9a'), 0, 5)).toBeNull(); // cut short
  });

  it('valid authorities are left alone; others keep their length, bad bytes becoming "@"', () => {
    expect(validAuthority(Buffer.from('www.example.com'))).toBeNull();
    expect(validAuthority(Buffer.from('[::1]:2379'))).toBeNull();
    expect(validAuthority(Buffer.from('http://127.0.0.1:2379'))?.toString()).toBe('http:@@127.0.0.1:2379');
  });

  it('C.4 request blocks (valid authorities, indexed and literal fields, dynamic refs) need no rewrite', () => {
    for (const block of C4_REQUESTS) expect(rewriteHeaderBlock(block)).toBeNull();
  });

  it('an invalid :authority is rewritten as a plain string of the same length, in every literal form', () => {
    const [rest] = [hex('8286 84')];
    // Incremental indexing, Huffman value (what Go's encoder sends).
    expect(rewriteHeaderBlock(Buffer.concat([rest, authorityLiteral('http://x:1'), hex('be')]))).toEqual(
      Buffer.concat([rest, hex('41 0a'), Buffer.from('http:@@x:1'), hex('be')]),
    );
    // Without indexing / never indexed, plain value.
    for (const first of [0x01, 0x11]) {
      expect(rewriteHeaderBlock(Buffer.concat([Buffer.from([first, 0x03]), Buffer.from('a/b')]))).toEqual(
        Buffer.concat([Buffer.from([first, 0x03]), Buffer.from('a@b')]),
      );
    }
    // A literal name ":authority" (Huffman-coded name), after a dynamic table size update.
    const name = huffmanEncode(Buffer.from(':authority'));
    const block = Buffer.concat([
      hex('3fe1 1f'),
      Buffer.from([0x40, 0x80 | name.length]),
      name,
      hex('03'),
      Buffer.from('a b'),
    ]);
    expect(rewriteHeaderBlock(block)).toEqual(Buffer.concat([block.subarray(0, -4), hex('03'), Buffer.from('a@b')]));
    // Other headers with the same bytes are not touched.
    expect(rewriteHeaderBlock(Buffer.concat([hex('04 03'), Buffer.from('/a/')]))).toBeNull();
  });

  it('a block that does not parse is left to the server', () => {
    expect(rewriteHeaderBlock(hex('41 8a f1'))).toBeNull(); // value longer than the block
    expect(rewriteHeaderBlock(Buffer.concat([hex('41 82'), hex('ffff')]))).toBeNull(); // bad Huffman
  });
});

describe('the frame rewriter', () => {
  const settings = h2Frame(0x4, 0, 0, hex('0003 0000 0064'));
  const data = h2Frame(0x0, 0x1, 1, Buffer.alloc(40000 % MAX_FRAME_SIZE, 7));

  it('a stream with nothing to fix comes out byte for byte, whole or a byte at a time', () => {
    const input = Buffer.concat([
      H2_PREFACE,
      settings,
      ...C4_REQUESTS.map((b, i) => h2Frame(0x1, 0x5, 2 * i + 1, b)),
      data,
      // A block split over HEADERS (padded, with priority) and a CONTINUATION.
      h2Frame(
        0x1,
        0x8 | 0x20,
        9,
        Buffer.concat([hex('02'), hex('0000 0003 0f'), nth(C4_REQUESTS, 0).subarray(0, 5), hex('0000')]),
      ),
      h2Frame(0x9, 0x4, 9, nth(C4_REQUESTS, 0).subarray(5)),
    ]);
    expect(through(input)).toEqual(input);
    expect(through(input, 1)).toEqual(input);
    expect(through(input, 7)).toEqual(input);
  });

  it('a padded, prioritized block split over CONTINUATIONs is re-framed: priority and END_STREAM kept, padding dropped', () => {
    const block = Buffer.concat([
      hex('8286 84'),
      authorityLiteral('http://127.0.0.1:2379'),
      hex('5886 a8eb 1064 9cbf'),
    ]);
    const input = Buffer.concat([
      H2_PREFACE,
      settings,
      h2Frame(
        0x1,
        0x1 | 0x8 | 0x20,
        3,
        Buffer.concat([hex('03'), hex('8000 0001 ff'), block.subarray(0, 4), hex('000000')]),
      ),
      h2Frame(0x9, 0, 3, block.subarray(4, 10)),
      h2Frame(0x9, 0x4, 3, block.subarray(10)),
      data,
    ]);
    for (const step of [input.length, 1, 5]) {
      const out = through(input, step);
      expect(out.subarray(0, H2_PREFACE.length)).toEqual(H2_PREFACE);
      const fs = frames(out.subarray(H2_PREFACE.length));
      expect(fs.map((f) => [f.type, f.flags, f.streamId])).toEqual([
        [0x4, 0, 0],
        [0x1, 0x1 | 0x20 | 0x4, 3],
        [0x0, 0x1, 1],
      ]);
      expect(fs[1]!.payload.subarray(0, 5)).toEqual(hex('8000 0001 ff'));
      expect(fs[1]!.payload.subarray(5)).toEqual(rewriteHeaderBlock(block));
      expect(rewriteHeaderBlock(block)!.includes(Buffer.from('http:@@127.0.0.1:2379'))).toBe(true);
      expect(fs[2]!.payload).toEqual(data.subarray(9));
    }
  });

  it('a rewritten block that outgrows a frame is split into CONTINUATIONs of at most 16384 bytes', () => {
    // Almost a full frame of other headers, then a Huffman :authority that grows when written plain.
    const authority = authorityLiteral('http://127.0.0.1:2379');
    const n = MAX_FRAME_SIZE - 1 - 5 - authority.length; // user-agent (static 58), 3-byte length
    const block = Buffer.concat([hex('0f 2b'), encodeInt(n, 7), Buffer.alloc(n, 0x61), authority]);
    expect(block.length).toBe(MAX_FRAME_SIZE - 1);
    const out = through(Buffer.concat([H2_PREFACE, h2Frame(0x1, 0x4, 1, block)]));
    const fs = frames(out.subarray(H2_PREFACE.length));
    expect(fs.map((f) => [f.type, f.flags, f.payload.length <= MAX_FRAME_SIZE])).toEqual([
      [0x1, 0, true],
      [0x9, 0x4, true],
    ]);
    expect(fs[0]!.payload.length).toBe(MAX_FRAME_SIZE);
    expect(Buffer.concat(fs.map((f) => f.payload))).toEqual(rewriteHeaderBlock(block));
  });

  it('frames it cannot make sense of go through untouched', () => {
    const stray = h2Frame(0x9, 0x4, 1, authorityLiteral('http://x:1')); // CONTINUATION with no HEADERS
    const cut = h2Frame(0x1, 0, 3, authorityLiteral('http://x:1')); // block never ended: flushed as is
    const shortPriority = h2Frame(0x1, 0x4 | 0x20, 5, hex('8000')); // PRIORITY set, 2 of its 5 bytes
    const overPadded = h2Frame(0x1, 0x4 | 0x8, 7, Buffer.concat([hex('10'), authorityLiteral('http://x:1')])); // pad > payload
    const input = Buffer.concat([H2_PREFACE, stray, shortPriority, overPadded, cut]);
    expect(through(input)).toEqual(input);
    expect(through(input, 3)).toEqual(input);
  });
});

describe('wrapForAuthority (the Duplex the HTTP/2 server is given)', () => {
  /** A connected loopback pair: [client socket, server socket]. */
  async function socketPair(): Promise<[net.Socket, net.Socket]> {
    const server = net.createServer({ pauseOnConnect: true });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const accepted = new Promise<net.Socket>((r) => server.once('connection', r));
    const client = net.connect((server.address() as AddressInfo).port, '127.0.0.1');
    const serverSide = await accepted;
    server.close();
    return [client, serverSide];
  }

  it('reads come rewritten (a slow reader gets every byte, in order), writes and ends pass through, Nagle is off', async () => {
    const [client, serverSide] = await socketPair();
    const noDelay = vi.spyOn(serverSide, 'setNoDelay');
    const serverClosed = new Promise((r) => serverSide.once('close', r));
    const wrapped = wrapForAuthority(serverSide);
    expect(noDelay).toHaveBeenCalledWith(true);
    const block = Buffer.concat([hex('8286 84'), authorityLiteral('http://127.0.0.1:2379')]);
    const big = h2Frame(0x0, 0, 1, Buffer.alloc(MAX_FRAME_SIZE, 3));
    const input = Buffer.concat([H2_PREFACE, h2Frame(0x1, 0x4, 1, block), ...Array.from({ length: 200 }, () => big)]);
    const expected = Buffer.concat([
      H2_PREFACE,
      h2Frame(0x1, 0x4, 1, rewriteHeaderBlock(block)!),
      ...Array.from({ length: 200 }, () => big),
    ]);
    // Writes reach the client unchanged.
    const fromServer: Buffer[] = [];
    const clientEnded = new Promise<void>((r) => client.on('end', r));
    client.on('data', (b: Buffer) => fromServer.push(b));
    wrapped.write(Buffer.from('server bytes'));
    await vi.waitFor(() => expect(Buffer.concat(fromServer).toString()).toBe('server bytes'), { timeout: 5000 });
    client.end(input);
    // Read slowly (4 kB at a time, only when readable), so the socket is paused and resumed many times.
    const got: Buffer[] = [];
    await new Promise<void>((resolve) => {
      wrapped.on('readable', () => {
        let c: Buffer | null;
        while ((c = wrapped.read(4096) as Buffer | null)) got.push(c);
      });
      wrapped.on('end', resolve);
    });
    expect(Buffer.concat(got).equals(expected)).toBe(true);
    // The client's end came through as the wrapper's end; ending the wrapper ends the connection.
    wrapped.end();
    await clientEnded;
    await serverClosed;
    client.destroy();
  });

  it('destroying the wrapper closes the socket, and a socket closed under it ends it', async () => {
    const [c1, s1] = await socketPair();
    const w1 = wrapForAuthority(s1);
    w1.destroy();
    await new Promise((r) => c1.on('close', r).resume());
    expect(s1.destroyed).toBe(true);
    const [c2, s2] = await socketPair();
    const w2 = wrapForAuthority(s2);
    w2.on('error', () => {});
    c2.destroy();
    await new Promise((r) => w2.once('close', r).resume());
    expect(w2.destroyed).toBe(true);
  });
});
