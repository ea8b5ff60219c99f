// Go's encoding/json where etcd's answers show it: the encoder's escaping, and the syntax
// errors json.Unmarshal reports, in Go's words.

import { quote } from './strconv.js';

const isHex = (c: number): boolean => (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x46) || (c >= 0x61 && c <= 0x66);

/** encoding/json's output: HTML-sensitive characters and U+2028/9 escaped; \b and \f as \u00XX. */
export function goJSON(value: unknown): string {
  return JSON.stringify(value).replace(/\\[\\"bf]|[<>&\u2028\u2029]/g, (m) => {
    switch (m) {
      case '\\b':
        return '\\u0008';
      case '\\f':
        return '\\u000c';
      case '\\\\':
      case '\\"':
        return m;
      default:
        return `\\u${m.charCodeAt(0).toString(16).padStart(4, '0')}`;
    }
  });
}

/** encoding/json's quoteChar for syntax errors. */
function quoteChar(c: string): string {
  if (c === "'") return "'\\''";
  if (c === '"') return `'"'`;
  const q = quote(c);
  return `'${q.slice(1, -1)}'`;
}

class JsonSyntax extends Error {}

/** encoding/json's checkValid: the first syntax error in Go's words, or null. */
export function goJSONSyntaxError(s: string): string | null {
  const r = scanJSON(s, true);
  return 'error' in r ? r.error : null;
}

/**
 * What a json.Decoder's first Decode reads: the first JSON value of `s` (text after it is left
 * unread, as the decoder leaves the rest of a request body), or Go's error ("EOF" for nothing).
 */
export function goJSONFirstValue(s: string): { value: unknown } | { error: string } {
  if (/^[ \t\r\n]*$/.test(s)) return { error: 'EOF' };
  const r = scanJSON(s, false);
  if ('error' in r) return { error: r.error === 'unexpected end of JSON input' ? 'unexpected EOF' : r.error };
  return { value: JSON.parse(s.slice(0, r.end)) };
}

/** Scans one JSON value from the start of `s`; `whole`: nothing but space may follow it. */
function scanJSON(s: string, whole: boolean): { end: number } | { error: string } {
  // s.charAt(i) is '' past the end, where s[i] would be undefined: no character compares equal to it.
  let i = 0;
  const eof = () => new JsonSyntax('unexpected end of JSON input');
  const bad = (context: string) => new JsonSyntax(`invalid character ${quoteChar(s.charAt(i))} ${context}`);
  const space = () => {
    while (i < s.length && ' \t\r\n'.includes(s.charAt(i))) i++;
  };
  const digits = () => {
    while (i < s.length && s.charAt(i) >= '0' && s.charAt(i) <= '9') i++;
  };
  const str = () => {
    i++; // opening quote
    for (;;) {
      if (i >= s.length) throw eof();
      const c = s.charAt(i);
      if (c === '"') return void i++;
      if (c === '\\') {
        i++;
        if (i >= s.length) throw eof();
        if ('bfnrt\\/"'.includes(s.charAt(i))) i++;
        else if (s.charAt(i) === 'u') {
          i++;
          for (let k = 0; k < 4; k++, i++) {
            if (i >= s.length) throw eof();
            if (!isHex(s.charCodeAt(i))) throw bad('in \\u hexadecimal character escape');
          }
        } else throw bad('in string escape code');
      } else if (c.charCodeAt(0) < 0x20) throw bad('in string literal');
      else i++;
    }
  };
  const num = () => {
    if (s.charAt(i) === '-') {
      i++;
      if (i >= s.length) throw eof();
      if (!(s.charAt(i) >= '0' && s.charAt(i) <= '9')) throw bad('in numeric literal');
    }
    if (s.charAt(i) === '0') i++;
    else digits();
    if (s.charAt(i) === '.') {
      i++;
      if (i >= s.length) throw eof();
      if (!(s.charAt(i) >= '0' && s.charAt(i) <= '9')) throw bad('after decimal point in numeric literal');
      digits();
    }
    if (s.charAt(i) === 'e' || s.charAt(i) === 'E') {
      i++;
      if (s.charAt(i) === '+' || s.charAt(i) === '-') i++;
      if (i >= s.length) throw eof();
      if (!(s.charAt(i) >= '0' && s.charAt(i) <= '9')) throw bad('in exponent of numeric literal');
      digits();
    }
  };
  const literal = (word: string) => {
    for (let k = 0; k < word.length; k++, i++) {
      if (i >= s.length) throw eof();
      if (s.charAt(i) !== word.charAt(k)) throw bad(`in literal ${word} (expecting ${quoteChar(word.charAt(k))})`);
    }
  };
  const value = (): void => {
    space();
    if (i >= s.length) throw eof();
    const c = s.charAt(i);
    if (c === '{') {
      i++;
      space();
      if (i >= s.length) throw eof();
      if (s.charAt(i) === '}') return void i++;
      for (;;) {
        space();
        if (i >= s.length) throw eof();
        if (s.charAt(i) !== '"') throw bad('looking for beginning of object key string');
        str();
        space();
        if (i >= s.length) throw eof();
        if (s.charAt(i) !== ':') throw bad('after object key');
        i++;
        value();
        space();
        if (i >= s.length) throw eof();
        if (s.charAt(i) === '}') return void i++;
        if (s.charAt(i) !== ',') throw bad('after object key:value pair');
        i++;
      }
    }
    if (c === '[') {
      i++;
      space();
      if (i >= s.length) throw eof();
      if (s.charAt(i) === ']') return void i++;
      for (;;) {
        value();
        space();
        if (i >= s.length) throw eof();
        if (s.charAt(i) === ']') return void i++;
        if (s.charAt(i) !== ',') throw bad('after array element');
        i++;
      }
    }
    if (c === '"') return str();
    if (c === '-' || (c >= '0' && c <= '9')) return num();
    if (c === 't') return literal('true');
    if (c === 'f') return literal('false');
    if (c === 'n') return literal('null');
    throw bad('looking for beginning of value');
  };
  try {
    value();
    const end = i;
    if (whole) {
      space();
      if (i < s.length) throw bad('after top-level value');
    }
    return { end };
  } catch (err) {
    if (err instanceof JsonSyntax) return { error: err.message };
    throw err;
  }
}
