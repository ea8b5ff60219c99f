// Go's string ordering: `<` on Go strings compares UTF-8 bytes, which is code point order.
// JavaScript's `<` compares UTF-16 units, which differs once a string holds a character above
// U+FFFF next to one in U+E000..U+FFFF. sort.Strings, etcd's URL sorting and the v2 store's
// sorted listings all order this way.

/** Negative, zero or positive as Go's `a < b`, `a == b`, `a > b`. */
export function compareStrings(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x === y) continue;
    // Only here can the two orders differ: compare whole code points.
    return (a.codePointAt(i) ?? x) - (b.codePointAt(i) ?? y);
  }
  return a.length - b.length;
}

/** sort.Strings on a copy. */
export function sortStrings(items: Iterable<string>): string[] {
  return [...items].sort(compareStrings);
}
