// Go's flag package (FlagSet with ContinueOnError), with pkg/flags' SetFlagsFromEnv, so that a
// command declares each flag once (name, value with its default, usage) and parses, reads the
// environment and prints its help from that one row.
//
// Syntax, as Go's: `-flag`, `--flag`, `-flag=value`, `-flag value` (not for booleans: a bool
// takes a value only as `-flag=false`), `--` ends the flags, the first non-flag argument stops
// parsing, an undefined `-h`/`-help` asks for help. Errors carry Go's texts.

import { isDuration, parseBool, parseInt, parseUint, quote as quoteGo } from './strconv.js';
import { compareStrings } from './strings.js';

/** A flag.Value: `set` throws an Error whose message Go would print after the flag. */
export interface Value<T = unknown> {
  set(s: string): void;
  get(): T;
  /** The value as Go's String() writes it (the help's default). */
  string(): string;
  /** flag's boolFlag: takes no argument. */
  readonly isBool?: boolean;
  /** The help's placeholder ("string", "uint", "duration"...; "" for a bool). */
  readonly typeName?: string;
}

export interface Flag {
  name: string;
  usage: string;
  value: Value;
  defValue: string;
}

/** A syntax error in Go's words (etcd prints it and exits 2). */
export class FlagError extends Error {
  override readonly name = 'FlagError';
}

/** Thrown by parse for an undefined -h/-help (flag.ErrHelp). */
export const HELP = Symbol('flag: help requested');

export class FlagSet {
  private readonly formal = new Map<string, Flag>();
  private readonly actual = new Set<string>();
  private remaining: string[] = [];

  constructor(readonly name: string) {}

  /** Defines a flag; a name defined twice is a programming error, as in Go. */
  var<T>(value: Value<T>, name: string, usage: string): Value<T> {
    if (this.formal.has(name)) throw new Error(`${this.name} flag redefined: ${name}`);
    this.formal.set(name, { name, usage, value, defValue: value.string() });
    return value;
  }

  string(name: string, def: string, usage: string): Value<string> {
    return this.var(stringValue(def), name, usage);
  }

  bool(name: string, def: boolean, usage: string): Value<boolean> {
    return this.var(boolValue(def), name, usage);
  }

  uint(name: string, def: bigint, usage: string): Value<bigint> {
    return this.var(uintValue(def), name, usage);
  }

  int(name: string, def: bigint, usage: string): Value<bigint> {
    return this.var(intValue(def), name, usage);
  }

  duration(name: string, def: string, usage: string): Value<string> {
    return this.var(durationValue(def), name, usage);
  }

  lookup(name: string): Flag | undefined {
    return this.formal.get(name);
  }

  /** The flag's value, typed by the caller (who defined it). */
  get<T>(name: string): T {
    const f = this.formal.get(name);
    if (!f) throw new Error(`${this.name}: no flag ${name}`);
    return f.value.get() as T;
  }

  /** Set on the command line or through set() (flag.Visit's set). */
  isSet(name: string): boolean {
    return this.actual.has(name);
  }

  /** Names of the flags set, in Go's (sorted) order. */
  setNames(): string[] {
    return [...this.actual].sort(compareStrings);
  }

  /** Every flag, sorted by name (flag.VisitAll). */
  all(): Flag[] {
    return [...this.formal.values()].sort((a, b) => compareStrings(a.name, b.name));
  }

  /** flag.FlagSet.Set: sets and marks the flag as set; throws the Value's error. */
  set(name: string, value: string): void {
    const f = this.formal.get(name);
    if (!f) throw new Error(`no such flag -${name}`);
    f.value.set(value);
    this.actual.add(name);
  }

  /** The arguments after the flags. */
  args(): string[] {
    return [...this.remaining];
  }

  /** flag.FlagSet.Parse; throws FlagError, or HELP for an undefined -h/-help. */
  parse(argv: readonly string[]): void {
    let args = [...argv];
    try {
      while (args.length > 0) {
        const s = args[0]!;
        if (s.length < 2 || s[0] !== '-') break;
        let minuses = 1;
        if (s[1] === '-') {
          minuses = 2;
          if (s.length === 2) {
            args = args.slice(1);
            break;
          }
        }
        let name = s.slice(minuses);
        if (name.length === 0 || name[0] === '-' || name[0] === '=') throw new FlagError(`bad flag syntax: ${s}`);
        args = args.slice(1);
        let hasValue = false;
        let value = '';
        const eq = name.indexOf('=', 1);
        if (eq > 0) [name, value, hasValue] = [name.slice(0, eq), name.slice(eq + 1), true];
        const flag = this.formal.get(name);
        if (!flag) {
          if (name === 'help' || name === 'h') throw HELP;
          throw new FlagError(`flag provided but not defined: -${name}`);
        }
        if (flag.value.isBool) {
          try {
            flag.value.set(hasValue ? value : 'true');
          } catch (e) {
            const why = (e as Error).message;
            throw new FlagError(
              hasValue
                ? `invalid boolean value ${quoteGo(value)} for -${name}: ${why}`
                : `invalid boolean flag ${name}: ${why}`,
            );
          }
        } else {
          if (!hasValue && args.length > 0) [value, args, hasValue] = [args[0]!, args.slice(1), true];
          if (!hasValue) throw new FlagError(`flag needs an argument: -${name}`);
          try {
            flag.value.set(value);
          } catch (e) {
            throw new FlagError(`invalid value ${quoteGo(value)} for flag -${name}: ${(e as Error).message}`);
          }
        }
        this.actual.add(name);
      }
    } finally {
      this.remaining = args;
    }
  }

  /**
   * pkg/flags' SetFlagsFromEnv: every flag not set on the command line takes PREFIX_NAME
   * (dashes to underscores, upper case) when that variable is non-empty, visited in flag name
   * order; then verifyEnv walks the environment: a variable shadowed by a command-line flag is a
   * conflict (etcd 3.4: fatal), other PREFIX_ variables are unrecognized. The last bad value is
   * the error, as in etcd.
   */
  setFromEnv(
    prefix: string,
    env: Record<string, string | undefined>,
    on: {
      used?(key: string, value: string): void;
      unrecognized?(key: string, value: string): void;
      conflictFatal?: boolean;
    } = {},
  ): { error: string | null; conflict: string | null } {
    const alreadySet = new Set([...this.actual].map((n) => flagToEnv(prefix, n)));
    const usedKeys = new Set<string>();
    let error: string | null = null;
    for (const f of this.all()) {
      const key = flagToEnv(prefix, f.name);
      if (alreadySet.has(key)) continue;
      const val = env[key];
      if (val === undefined || val === '') continue;
      usedKeys.add(key);
      try {
        this.set(f.name, val);
      } catch (e) {
        error = `invalid value ${quoteGo(val)} for ${key}: ${(e as Error).message}`;
        continue;
      }
      on.used?.(key, val);
    }
    for (const [key, val] of Object.entries(env)) {
      if (val === undefined || usedKeys.has(key)) continue;
      if (alreadySet.has(key)) {
        if (on.conflictFatal !== false) return { error, conflict: key };
        continue;
      }
      if (key.startsWith(`${prefix}_`)) on.unrecognized?.(key, val);
    }
    return { error, conflict: null };
  }

  /** flag.PrintDefaults' text, one entry per flag; `note` may add words to a flag's usage. */
  defaults(note: (f: Flag) => string = () => ''): string {
    let out = '';
    for (const f of this.all()) {
      const type = f.value.typeName ?? (f.value.isBool ? '' : 'value');
      let line = `  -${f.name}${type ? ` ${type}` : ''}`;
      line += line.length <= 4 ? '\t' : '\n    \t';
      line += (f.usage + note(f)).replaceAll('\n', '\n    \t');
      if (!isZero(f))
        line += f.value.typeName === 'string' ? ` (default ${quoteGo(f.defValue)})` : ` (default ${f.defValue})`;
      out += `${line}\n`;
    }
    return out;
  }
}

function isZero(f: Flag): boolean {
  return ['', '0', 'false', '0s'].includes(f.defValue);
}

/** pkg/flags' FlagToEnv: ETCD + some-flag = ETCD_SOME_FLAG. */
export function flagToEnv(prefix: string, name: string): string {
  return `${prefix}_${name.replaceAll('-', '_').toUpperCase()}`;
}

// ---------------------------------------------------------------------------------------------
// Go's own flag.Value kinds. Go's flag package reports "parse error" / "value out of range".

function numErr(e: unknown): Error {
  return new Error((e as { err?: string }).err === 'value out of range' ? 'value out of range' : 'parse error');
}

export function stringValue(def: string): Value<string> {
  let v = def;
  return { set: (s) => void (v = s), get: () => v, string: () => v, typeName: 'string' };
}

export function boolValue(def: boolean): Value<boolean> {
  let v = def;
  const set = (s: string) => {
    try {
      v = parseBool(s);
    } catch {
      throw new Error('parse error');
    }
  };
  return { set, get: () => v, string: () => String(v), isBool: true, typeName: '' };
}

/** uint and uint64 (64-bit platforms): strconv.ParseUint(s, 0, 64). */
export function uintValue(def: bigint): Value<bigint> {
  return numberValue(def, (s) => parseUint(s, 0, 64), 'uint');
}

/** int and int64: strconv.ParseInt(s, 0, 64). */
export function intValue(def: bigint): Value<bigint> {
  return numberValue(def, (s) => parseInt(s, 0, 64), 'int');
}

function numberValue(def: bigint, parse: (s: string) => bigint, typeName: string): Value<bigint> {
  let v = def;
  const set = (s: string) => {
    try {
      v = parse(s);
    } catch (e) {
      throw numErr(e);
    }
  };
  return { set, get: () => v, string: () => String(v), typeName };
}

/** time.Duration, kept as written (only its shape is checked). */
export function durationValue(def: string): Value<string> {
  let v = def;
  const set = (s: string) => {
    if (!isDuration(s)) throw new Error('parse error');
    v = s;
  };
  return { set, get: () => v, string: () => v, typeName: 'duration' };
}
