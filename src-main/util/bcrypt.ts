// bcrypt (Provos & Mazières, OpenBSD's $2a$/$2b$), as golang.org/x/crypto/bcrypt computes it:
// etcd's v2 auth stores every password this way (bcrypt.DefaultCost, 10). No npm package is
// needed: Blowfish's initial state is the fractional hex digits of π, computed here once with
// BigInt (Chudnovsky's series, ~20 ms) instead of pasting 1042 constants.
//
// The expensive loop (2^cost key expansions, ~50 ms at cost 10) yields to the event loop every
// few rounds, so a node hashing or checking a password keeps ticking its Raft and its peers.

import { randomBytes, timingSafeEqual } from 'node:crypto';

/** golang.org/x/crypto/bcrypt's DefaultCost, which etcd's v2 auth uses. */
export const BCRYPT_DEFAULT_COST = 10;
const MIN_COST = 4;
const MAX_COST = 31;
/** "OrpheanBeholderScryDoubt", the block bcrypt encrypts 64 times. */
const MAGIC = Buffer.from('OrpheanBeholderScryDoubt', 'latin1');
/** Key expansion rounds between two yields to the event loop. */
const ROUNDS_PER_SLICE = 8;

type Bytes = Uint8Array;

/** A new hash of `password` ("$2a$10$" + 22 salt + 31 hash characters, as Go writes it). */
export async function bcryptHash(password: string | Bytes, cost = BCRYPT_DEFAULT_COST, salt: Bytes = randomBytes(16)): Promise<string> {
  if (!Number.isInteger(cost) || cost < MIN_COST || cost > MAX_COST) throw new Error(`crypto/bcrypt: cost ${cost} is outside allowed range (${MIN_COST},${MAX_COST})`);
  if (salt.length !== 16) throw new Error('bcrypt: the salt must be 16 bytes');
  const digest = await bcryptDigest(toBytes(password), cost, salt);
  return `$2a$${String(cost).padStart(2, '0')}$${encode64(salt)}${encode64(digest)}`;
}

/** Whether `password` is the one `hash` was made from (bcrypt.CompareHashAndPassword == nil). */
export async function bcryptCompare(hash: string, password: string | Bytes): Promise<boolean> {
  const m = /^\$2[abxy]?\$(\d\d)\$([./A-Za-z0-9]{22})([./A-Za-z0-9]{31})$/.exec(hash);
  if (!m) return false;
  const cost = Number(m[1]);
  if (cost < MIN_COST || cost > MAX_COST) return false;
  const salt = decode64(m[2]).subarray(0, 16);
  const digest = await bcryptDigest(toBytes(password), cost, salt);
  const want = Buffer.from(m[3], 'latin1');
  const got = Buffer.from(encode64(digest), 'latin1');
  return want.length === got.length && timingSafeEqual(want, got);
}

function toBytes(p: string | Bytes): Bytes {
  return typeof p === 'string' ? Buffer.from(p, 'utf8') : p;
}

/** The 23 bytes bcrypt keeps of its ciphertext. */
async function bcryptDigest(password: Bytes, cost: number, salt: Bytes): Promise<Bytes> {
  // Go (like C bcrypt) keys with the password and its terminating NUL.
  const key = new Uint8Array(password.length + 1);
  key.set(password);
  const keyWords = cyclicWords(key, 18);
  const saltWords = cyclicWords(salt, 18);
  const state = new Blowfish();
  state.expand(keyWords, salt);
  const rounds = 2 ** cost;
  for (let i = 0; i < rounds; i++) {
    state.expand(keyWords, null);
    state.expand(saltWords, null);
    if ((i + 1) % ROUNDS_PER_SLICE === 0 && i + 1 < rounds) await new Promise<void>((resolve) => setImmediate(resolve));
  }
  const data = new Uint32Array(6);
  for (let i = 0; i < 6; i++) data[i] = MAGIC.readUInt32BE(i * 4);
  const lr = new Uint32Array(2);
  for (let block = 0; block < 6; block += 2) {
    lr[0] = data[block];
    lr[1] = data[block + 1];
    for (let k = 0; k < 64; k++) state.encrypt(lr);
    data[block] = lr[0];
    data[block + 1] = lr[1];
  }
  const out = Buffer.alloc(24);
  for (let i = 0; i < 6; i++) out.writeUInt32BE(data[i], i * 4);
  return out.subarray(0, 23);
}

/** Blowfish's state with bcrypt's salted key schedule (OpenBSD's Blowfish_expandstate). */
class Blowfish {
  private readonly p: Uint32Array;
  /** The four S-boxes, 256 words each, one after the other. */
  private readonly s: Uint32Array;

  constructor() {
    const digits = piWords();
    this.p = digits.slice(0, 18);
    this.s = digits.slice(18);
  }

  /**
   * XORs the key's first 18 words into P, then re-encrypts P and S chaining through `salt`'s
   * words (zeros when null).
   */
  expand(keyWords: Uint32Array, salt: Bytes | null): void {
    const { p, s } = this;
    for (let i = 0; i < 18; i++) p[i] ^= keyWords[i];
    const lr = new Uint32Array(2);
    const saltAt = { i: 0 };
    for (let i = 0; i < 18; i += 2) {
      if (salt) {
        lr[0] ^= nextWord(salt, saltAt);
        lr[1] ^= nextWord(salt, saltAt);
      }
      this.encrypt(lr);
      p[i] = lr[0];
      p[i + 1] = lr[1];
    }
    for (let i = 0; i < 1024; i += 2) {
      if (salt) {
        lr[0] ^= nextWord(salt, saltAt);
        lr[1] ^= nextWord(salt, saltAt);
      }
      this.encrypt(lr);
      s[i] = lr[0];
      s[i + 1] = lr[1];
    }
  }

  /** Encrypts the block [left, right] in place. */
  encrypt(lr: Uint32Array): void {
    const { p, s } = this;
    let l = lr[0] ^ p[0];
    let r = lr[1];
    for (let i = 1; i <= 16; i += 2) {
      r ^= (((s[l >>> 24] + s[256 | ((l >>> 16) & 0xff)]) ^ s[512 | ((l >>> 8) & 0xff)]) + s[768 | (l & 0xff)]) ^ p[i];
      l ^= (((s[r >>> 24] + s[256 | ((r >>> 16) & 0xff)]) ^ s[512 | ((r >>> 8) & 0xff)]) + s[768 | (r & 0xff)]) ^ p[i + 1];
    }
    lr[0] = r ^ p[17];
    lr[1] = l;
  }
}

/** The first `n` big-endian words of `data` repeated (Blowfish_stream2word's). */
function cyclicWords(data: Bytes, n: number): Uint32Array {
  const at = { i: 0 };
  const out = new Uint32Array(n);
  for (let k = 0; k < n; k++) out[k] = nextWord(data, at);
  return out;
}

/** The next big-endian word of `data`, read cyclically (Blowfish_stream2word). */
function nextWord(data: Bytes, at: { i: number }): number {
  let w = 0;
  for (let k = 0; k < 4; k++) {
    w = (w << 8) | data[at.i];
    at.i = (at.i + 1) % data.length;
  }
  return w >>> 0;
}

// --- bcrypt's base64: its own alphabet, no padding --------------------------------------------

const STD = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
const BCRYPT = './ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
const TO_BCRYPT = new Map([...STD].map((c, i) => [c, BCRYPT[i]]));
const FROM_BCRYPT = new Map([...BCRYPT].map((c, i) => [c, STD[i]]));

function encode64(b: Bytes): string {
  return [...Buffer.from(b).toString('base64').replace(/=+$/, '')].map((c) => TO_BCRYPT.get(c)!).join('');
}

function decode64(s: string): Buffer {
  return Buffer.from([...s].map((c) => FROM_BCRYPT.get(c)!).join(''), 'base64');
}

// --- π ------------------------------------------------------------------------------------------

/** P-array (18 words) then S-boxes (4 × 256 words). */
const PI_WORDS = 18 + 4 * 256;
let piCache: Uint32Array | undefined;

/** The first PI_WORDS 32-bit words of π's fractional part (0x243f6a88, 0x85a308d3, …). */
export function piWords(): Uint32Array {
  if (!piCache) piCache = computePiWords();
  return piCache.slice();
}

function computePiWords(): Uint32Array {
  const guard = 64n;
  const bits = BigInt(PI_WORDS * 32) + guard;
  const one = 1n << bits;
  // Chudnovsky: π = 426880·√10005·Q / T, each term adding ~47 bits.
  const terms = BigInt(Math.ceil(Number(bits) / 47)) + 2n;
  const c3over24 = 640320n ** 3n / 24n;
  const split = (a: bigint, b: bigint): [bigint, bigint, bigint] => {
    if (b - a === 1n) {
      const p = a === 0n ? 1n : (6n * a - 5n) * (2n * a - 1n) * (6n * a - 1n);
      const q = a === 0n ? 1n : a * a * a * c3over24;
      const t = p * (13591409n + 545140134n * a);
      return [p, q, a & 1n ? -t : t];
    }
    const m = (a + b) / 2n;
    const [p1, q1, t1] = split(a, m);
    const [p2, q2, t2] = split(m, b);
    return [p1 * p2, q1 * q2, t1 * q2 + p1 * t2];
  };
  const [, q, t] = split(0n, terms);
  const pi = (426880n * isqrt(10005n * one * one) * q) / t;
  let frac = (pi & (one - 1n)) >> guard;
  const words = new Uint32Array(PI_WORDS);
  for (let i = PI_WORDS - 1; i >= 0; i--) {
    words[i] = Number(frac & 0xffffffffn);
    frac >>= 32n;
  }
  return words;
}

/** ⌊√n⌋ by Newton's method. */
function isqrt(n: bigint): bigint {
  let x = 1n << BigInt((n.toString(2).length >> 1) + 1);
  for (;;) {
    const y = (x + n / x) >> 1n;
    if (y >= x) return x;
    x = y;
  }
}
