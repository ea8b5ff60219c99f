// A small seeded PRNG (mulberry32): the simulator's only source of randomness, so a seed
// replays a schedule exactly; also what a real node in step mode (its election timeouts),
// chaos runs and the checker's random histories draw from, so they replay from a seed too.

export interface Rng {
  (): number;
  int(lo: number, hi: number): number;
  chance(p: number): boolean;
  /** One of `xs`, which must not be empty (every caller checks first: an empty one is a bug). */
  pick<T>(xs: readonly T[]): T;
}

export function seededRandom(seed: number): Rng {
  let a = seed >>> 0;
  const next = (() => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }) as Rng;
  next.int = (lo, hi) => lo + Math.floor(next() * (hi - lo + 1));
  next.chance = (p) => next() < p;
  next.pick = (xs) => {
    if (xs.length === 0) throw new Error('rng.pick: nothing to pick from');
    return xs[Math.floor(next() * xs.length)]!;
  };
  return next;
}
