// Go's strconv, as etcd's flags, error texts and v2 request parsing use it. One copy for the
// whole node; table-tested in test/node/go.test.ts.

/** A strconv failure: `err` is Go's ErrSyntax or ErrRange text. */
export class NumError extends Error {
  override readonly name = 'NumError';
  constructor(
    readonly func: string,
    readonly input: string,
    readonly err: 'invalid syntax' | 'value out of range',
  ) {
    super(`strconv.${func}: parsing ${quote(input)}: ${err}`);
  }
}

const TRUE = new Set(['1', 't', 'T', 'TRUE', 'true', 'True']);
const FALSE = new Set(['0', 'f', 'F', 'FALSE', 'false', 'False']);

/** strconv.ParseBool: exactly 1 t T TRUE true True / 0 f F FALSE false False. */
export function parseBool(s: string): boolean {
  if (TRUE.has(s)) return true;
  if (FALSE.has(s)) return false;
  throw new NumError('ParseBool', s, 'invalid syntax');
}

/**
 * strconv.ParseUint. Base 0 reads Go's prefixes (0x, 0o, 0b, a leading 0 for octal) and
 * underscores between digits, as the flag package does; any other base takes plain digits.
 */
export function parseUint(s: string, base: number, bitSize = 64): bigint {
  const v = digitsOf(s, base, 'ParseUint');
  if (v >= 1n << BigInt(bitSize)) throw new NumError('ParseUint', s, 'value out of range');
  return v;
}

/** strconv.ParseInt: an optional sign, then as parseUint. */
export function parseInt(s: string, base: number, bitSize = 64): bigint {
  let body = s;
  let neg = false;
  if (body.startsWith('+') || body.startsWith('-')) {
    neg = body.startsWith('-');
    body = body.slice(1);
  }
  let v: bigint;
  try {
    v = digitsOf(body, base, 'ParseInt');
  } catch {
    throw new NumError('ParseInt', s, 'invalid syntax');
  }
  if (neg) v = -v;
  const limit = 1n << BigInt(bitSize - 1);
  if (v >= limit || v < -limit) throw new NumError('ParseInt', s, 'value out of range');
  return v;
}

function digitsOf(s: string, base: number, func: string): bigint {
  const syntax = () => new NumError(func, s, 'invalid syntax');
  let radix = base;
  let digits = s;
  if (base === 0) {
    // Base prefixes and underscores ("1_000", "0x_ff") only where Go allows them.
    if (/^0[xX](_?[0-9a-fA-F])+$/.test(s)) [radix, digits] = [16, s.slice(2)];
    else if (/^0[bB](_?[01])+$/.test(s)) [radix, digits] = [2, s.slice(2)];
    else if (/^0[oO](_?[0-7])+$/.test(s)) [radix, digits] = [8, s.slice(2)];
    else if (/^0(_?[0-7])*$/.test(s)) [radix, digits] = [8, s.slice(1) || '0'];
    else if (/^[1-9](_?[0-9])*$/.test(s)) radix = 10;
    else throw syntax();
    digits = digits.replace(/_/g, '');
  }
  if (radix < 2 || radix > 36 || digits === '') throw syntax();
  let v = 0n;
  const big = BigInt(radix);
  for (const d of digits) {
    const n = Number.parseInt(d, 36);
    if (Number.isNaN(n) || n >= radix) throw syntax();
    v = v * big + BigInt(n);
  }
  return v;
}

/** time.ParseDuration's accepted shapes ("1h2m", "1.5s", "300ms", "-2us", "0"). */
export function isDuration(s: string): boolean {
  return /^[-+]?(0|((\d+\.?\d*|\.\d+)(ns|us|µs|μs|ms|s|m|h))+)$/.test(s);
}

/** A Go duration (isDuration's shapes) in milliseconds, as time.ParseDuration would read it. */
export function durationMs(s: string): number {
  if (!isDuration(s)) throw new Error(`time: invalid duration ${quote(s)}`);
  const sign = s.startsWith('-') ? -1 : 1;
  const MS: Record<string, number> = {
    ns: 1e-6,
    us: 1e-3,
    µs: 1e-3,
    μs: 1e-3,
    ms: 1,
    s: 1000,
    m: 60_000,
    h: 3_600_000,
  };
  let total = 0;
  for (const m of s.replace(/^[-+]/, '').matchAll(/(\d+\.?\d*|\.\d+)(ns|us|µs|μs|ms|s|m|h)/g))
    total += Number(m[1]) * MS[m[2]!]!;
  return sign * total;
}

const NAMED_ESCAPES: Record<string, string> = {
  '\x07': '\\a',
  '\b': '\\b',
  '\f': '\\f',
  '\n': '\\n',
  '\r': '\\r',
  '\t': '\\t',
  '\v': '\\v',
  '"': '\\"',
  '\\': '\\\\',
};

/**
 * strconv.Quote (fmt's %q of a string): named escapes, \xNN for the other ASCII control bytes,
 * \u/\U for non-printable runes (C1 controls, separators, lone surrogates as Go's U+FFFD).
 */
export function quote(s: string): string {
  let out = '"';
  for (const ch of s) {
    const c = ch.codePointAt(0)!;
    const named = NAMED_ESCAPES[ch];
    if (named !== undefined) out += named;
    else if (c < 0x20 || c === 0x7f) out += `\\x${c.toString(16).padStart(2, '0')}`;
    else if (c >= 0xd800 && c <= 0xdfff)
      out += '\uFFFD'; // a lone surrogate reaches Go as U+FFFD, which it prints
    else if (!isPrint(c))
      out += c > 0xffff ? `\\U${c.toString(16).padStart(8, '0')}` : `\\u${c.toString(16).padStart(4, '0')}`;
    else out += ch;
  }
  return `${out}"`;
}

/** fmt's %q of a []string: ["a" "b"]. */
export function quoteSlice(items: readonly string[]): string {
  return `[${items.map(quote).join(' ')}]`;
}

/** strconv.IsPrint for the runes that matter in practice: C1 controls and Unicode's Z and C classes. */
function isPrint(c: number): boolean {
  if (c === 0x20) return true;
  return !/[\p{C}\p{Z}]/u.test(String.fromCodePoint(c));
}
