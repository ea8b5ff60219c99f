// Reading what a test expects to be there: a missing element, value or match fails the test with
// a message that says what was expected, instead of a TypeError further down.

/** `arr[i]` (negative counts from the end); fails the test when there is no such element. */
export function nth<T>(arr: readonly T[], i: number, what = 'an element'): T {
  const v = arr.at(i);
  if (v === undefined) throw new Error(`expected ${what} at index ${i}, in ${arr.length} element(s)`);
  return v;
}

/** The one element of `arr`; fails the test unless there is exactly one. */
export function one<T>(arr: readonly T[], what = 'one element'): T {
  const [v] = arr;
  if (arr.length !== 1 || v === undefined) throw new Error(`expected ${what}, got ${arr.length}`);
  return v;
}

/** `v`, failing the test when it is undefined or null. */
export function defined<T>(v: T | undefined | null, what: string): T {
  if (v === undefined || v === null) throw new Error(`expected ${what}, got ${String(v)}`);
  return v;
}

/** Group `i` of `re` matched in `text`; fails the test when it does not match (or the group is unset). */
export function group(re: RegExp, text: string, i = 1): string {
  const g = re.exec(text)?.[i];
  if (g === undefined)
    throw new Error(
      `expected ${String(re)} to match ${JSON.stringify(text.length > 500 ? `${text.slice(0, 500)}…` : text)}${i ? ` with group ${i}` : ''}`,
    );
  return g;
}
