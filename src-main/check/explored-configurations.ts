// The search's memory (linearization-search.ts): which configurations it has explored, and found
// to fail. A configuration is the set of operations linearized so far (a bitset), the register's
// value, and the constraint an unknown operation just placed leaves. Remembering them is what
// keeps Wing & Gong's search polynomial in practice (Lowe; Porcupine does the same). The set is
// hashed Zobrist-style, two 32-bit words updated in O(1) per operation added or removed; the
// hash only picks a bucket, the bitset itself is compared, so a collision costs time, never a
// wrong answer.

import { seededRandom } from '../util/rng.js';

interface Configuration {
  bits: Uint32Array;
  state: number;
  cons: number;
}

export class ExploredConfigurations {
  private readonly z1: Int32Array;
  private readonly z2: Int32Array;
  private readonly words: number;
  /** The operations linearized now, one bit each. */
  private readonly bits: Uint32Array;
  private h1 = 0;
  private h2 = 0;
  private readonly seen = new Map<number, Configuration[]>();

  /** For `n` operations. */
  constructor(n: number) {
    // Any well-mixed values serve (see the top of this file); seeded so a run replays exactly.
    const rnd = seededRandom(0x9e3779b9 ^ n);
    this.z1 = new Int32Array(n);
    this.z2 = new Int32Array(n);
    for (let i = 0; i < n; i++) {
      this.z1[i] = (rnd() * 4294967296) | 0;
      this.z2[i] = (rnd() * 4294967296) | 0;
    }
    this.words = (n + 31) >>> 5;
    this.bits = new Uint32Array(this.words);
  }

  /** Operation `o` is linearized. */
  add(o: number): void {
    // o < n, which bits, z1 and z2 are sized for.
    this.bits[o >>> 5]! |= 1 << (o & 31);
    this.h1 ^= this.z1[o]!;
    this.h2 ^= this.z2[o]!;
  }

  /** Operation `o` no longer is (undoes add). */
  remove(o: number): void {
    this.bits[o >>> 5]! &= ~(1 << (o & 31));
    this.h1 ^= this.z1[o]!;
    this.h2 ^= this.z2[o]!;
  }

  /** Records the configuration (the linearized set, `state`, `cons`); false if it was there already (explored, and it failed). */
  remember(state: number, cons: number): boolean {
    const mixed = (this.h1 ^ Math.imul(state + 1, 0x9e3779b1) ^ Math.imul(cons + 2, 0x85ebca6b)) >>> 0;
    const key = mixed * 2097152 + (this.h2 >>> 11);
    let list = this.seen.get(key);
    if (!list) this.seen.set(key, (list = []));
    const { bits, words } = this;
    outer: for (const c of list) {
      if (c.state !== state || c.cons !== cons) continue;
      for (let w = 0; w < words; w++) if (c.bits[w] !== bits[w]) continue outer;
      return false;
    }
    list.push({ bits: bits.slice(), state, cons });
    return true;
  }
}
