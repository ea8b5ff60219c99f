// Hostile variants of a sound value, for the schema tests: what a peer, a trace file or a
// window could send instead of it.

/**
 * `sound` with one thing wrong at a time: each value in it (at any depth) replaced by each of
 * `odd` (undefined standing for a deleted field), and in each object an unknown key `extra` and a
 * `"__proto__"` key as JSON.parse makes it (a plain own field).
 */
export function mutations(sound: unknown, odd: readonly unknown[]): unknown[] {
  const out: unknown[] = [];
  const walk = (x: unknown, set: (y: unknown) => unknown): void => {
    if (typeof x !== 'object' || x === null) return;
    const entries = Array.isArray(x) ? x.map((e, i) => [i, e] as const) : Object.entries(x);
    for (const [k, val] of entries) {
      const put = (y: unknown) => set(Array.isArray(x) ? x.map((e, i) => (i === k ? y : e)) : { ...x, [k]: y });
      for (const o of odd) out.push(put(o));
      walk(val, put);
    }
    if (!Array.isArray(x)) {
      const proto = { ...x };
      Object.defineProperty(proto, '__proto__', { value: 1, enumerable: true, writable: true, configurable: true });
      out.push(set({ ...x, extra: 1 }), set(proto));
    }
  };
  walk(sound, (y) => y);
  return out;
}
