// Small helpers around valibot for schemas whose errors people read (the window, a peer's log,
// an operator): every check carries its own text, and a missing field is reported with the
// text its own schema gives, not as a wrong object.

import * as v from 'valibot';

type Message = string | ((issue: v.ObjectIssue | v.LooseObjectIssue) => string);

/** What `schema` says of a missing value: its first issue's message. */
function missingText(schema: v.GenericSchema | undefined, key: string): string {
  return (schema && v.safeParse(schema, undefined, { abortEarly: true }).issues?.[0]?.message) ?? `${key} is missing`;
}

function objectText(entries: v.ObjectEntries, notObject: Message) {
  return (issue: v.ObjectIssue | v.LooseObjectIssue): string => {
    const at = issue.path?.[0];
    if (at?.origin === 'key') return missingText(entries[at.key as string] as v.GenericSchema, String(at.key));
    return typeof notObject === 'string' ? notObject : notObject(issue);
  };
}

/** v.object (unknown keys dropped) whose missing fields say what their schema says. */
export function object<E extends v.ObjectEntries>(entries: E, notObject: Message) {
  return v.object(entries, objectText(entries, notObject));
}

/** v.looseObject (unknown keys kept: a newer writer's fields) whose missing fields say what their schema says. */
export function looseObject<E extends v.ObjectEntries>(entries: E, notObject: Message) {
  return v.looseObject(entries, objectText(entries, notObject));
}

/** The first issue of a failed parse: its message, and the path to it. */
export function firstIssue(issues: readonly [v.BaseIssue<unknown>, ...v.BaseIssue<unknown>[]]): {
  message: string;
  path: (string | number)[];
} {
  const [i] = issues; // valibot's issues are never empty (its own type says so)
  return { message: i.message, path: (i.path ?? []).map((p) => p.key as string | number) };
}

/** An object, not an array (nor null): valibot's objects take arrays too; a `v.custom(isPlainObject, …)` before them says no to those. */
export const isPlainObject = (x: unknown): x is Record<string, unknown> =>
  typeof x === 'object' && x !== null && !Array.isArray(x);

/** A yes/no check of a value, compiled from a schema (fastGuard). */
export type Guard = (x: unknown) => boolean;

// The schema and action kinds fastGuard understands; anything else is refused when compiling.
type Node = { kind: string; type: string; [k: string]: unknown };

/**
 * Keys valibot's loose objects and records never copy to their output (against prototype
 * pollution). A record holding one goes to the schema; a loose object's unknown fields are let
 * through as they are, these too (checking three names on every object of a hot path costs
 * ~10% of reading a trace): where JSON.parse made them they are plain fields, harmful only to
 * code that copies them by assignment.
 */
const UNCOPIED = ['__proto__', 'constructor', 'prototype'];

/**
 * A fast yes/no version of `schema`, for a hot path (every peer message): a value it accepts is
 * one `v.parse(schema, ·)` accepts and returns unchanged (no unknown keys, nothing transformed;
 * a loose object's unknown keys kept, see UNCOPIED).
 * It may say no where the schema would say yes (an unknown key): then ask the schema itself, which
 * also says what is wrong. Built from the schema, so the rules are still written once; a schema
 * using a kind it does not know throws here, at startup, rather than being checked loosely.
 * Why: valibot walks a 14-field message in ~2 µs, the compiled guard in ~0.1 µs (bench/peer-bench.ts).
 */
export function fastGuard(schema: v.GenericSchema): Guard {
  return compile(schema as unknown as Node);
}

function compile(s: Node): Guard {
  // A pipe carries its first schema's type: look at the pipe first.
  if (Array.isArray(s.pipe)) {
    const [base, ...items] = s.pipe as [Node, ...Node[]]; // v.pipe takes a schema first
    if (base.type === 'number' && !Array.isArray(base.pipe) && items.every((i) => NUMBER_ACTIONS.includes(i.type)))
      return numberGuard(items);
    // A pipe may go on with another schema (v.pipe(v.custom(isPlainObject), v.looseObject(…))),
    // whose guard may make the custom check already: an object's guard refuses what is no object.
    const subsumed =
      base.type === 'custom' &&
      !Array.isArray(base.pipe) &&
      base.check === isPlainObject &&
      ['object', 'loose_object', 'variant', 'record'].includes(items[0]?.type ?? '');
    const checks = items.map((i) => (i.kind === 'schema' ? compile(i) : compileAction(i)));
    return all(subsumed ? checks : [compile(base), ...checks]);
  }
  switch (s.type) {
    case 'string':
      return (x) => typeof x === 'string';
    case 'number':
      return (x) => typeof x === 'number' && !Number.isNaN(x);
    case 'boolean':
      return (x) => typeof x === 'boolean';
    case 'literal':
      return (x) => x === s.literal;
    case 'picklist': {
      const options = s.options as unknown[];
      if (options.every((o) => typeof o === 'string')) {
        const names = stringTable(options as string[], () => true);
        return (x) => typeof x === 'string' && names[x] === true;
      }
      const set = new Set(options);
      return (x) => set.has(x);
    }
    case 'optional': {
      if (s.default !== undefined) break; // a default transforms: not "unchanged"
      const inner = compile(s.wrapped as Node);
      return (x) => x === undefined || inner(x);
    }
    case 'array': {
      const item = compile(s.item as Node);
      return (x) => {
        if (!Array.isArray(x)) return false;
        for (let i = 0; i < x.length; i++) if (!item(x[i])) return false;
        return true;
      };
    }
    case 'unknown':
      return () => true;
    case 'never':
      return () => false;
    case 'custom':
      return s.check as Guard;
    case 'object':
    case 'loose_object': {
      const entries = s.entries as Record<string, Node>;
      const keys = Object.keys(entries);
      const guards = Object.values(entries).map(compile); // in the keys' order
      const loose = s.type === 'loose_object';
      return (x) => {
        if (typeof x !== 'object' || x === null || Array.isArray(x)) return false;
        const o = x as Record<string, unknown>;
        for (let i = 0; i < keys.length; i++) if (!guards[i]!(o[keys[i]!])) return false; // a guard per key
        // A loose object keeps unknown keys (but see UNCOPIED).
        if (loose) return true;
        // An unknown key: the schema would drop it, so the value would not come back unchanged.
        for (const k in o) if (!Object.hasOwn(entries, k)) return false;
        return true;
      };
    }
    case 'record': {
      const key = compile(s.key as Node);
      const value = compile(s.value as Node);
      return (x) => {
        if (typeof x !== 'object' || x === null || Array.isArray(x)) return false;
        const o = x as Record<string, unknown>;
        for (const k in o) if (!Object.hasOwn(o, k) || UNCOPIED.includes(k) || !key(k) || !value(o[k])) return false;
        return true;
      };
    }
    case 'variant': {
      // The options by the value of their discriminator (a literal or a picklist).
      const key = s.key as string;
      const byValue = new Map<unknown, Guard[]>();
      for (const option of s.options as Node[]) {
        const d = (option.entries as Record<string, Node> | undefined)?.[key];
        const values =
          d?.type === 'literal' ? [d.literal] : d?.type === 'picklist' ? (d.options as unknown[]) : undefined;
        if (!values) throw new Error(`fastGuard: a variant option whose ${key} is a ${d?.type} is not supported`);
        const g = compile(option);
        for (const val of values) byValue.set(val, [...(byValue.get(val) ?? []), g]);
      }
      const one = new Map(
        [...byValue].map(([val, gs]) => [val, gs.length === 1 ? gs[0] : (x: unknown) => gs.some((g) => g(x))]),
      );
      if ([...one.keys()].every((k) => typeof k === 'string')) {
        const byName = stringTable([...one.keys()] as string[], (k) => one.get(k)!);
        return (x) => {
          if (typeof x !== 'object' || x === null) return false;
          const d = (x as Record<string, unknown>)[key];
          return typeof d === 'string' && byName[d] !== undefined && byName[d](x);
        };
      }
      return (x) => {
        if (typeof x !== 'object' || x === null) return false;
        const option = one.get((x as Record<string, unknown>)[key]);
        return option !== undefined && option(x);
      };
    }
    case 'lazy': {
      // Each schema the getter gives, compiled once.
      const compiled = new Map<Node, Guard>();
      return (x) => {
        const schema = (s.getter as (x: unknown) => Node)(x);
        let g = compiled.get(schema);
        if (!g) compiled.set(schema, (g = compile(schema)));
        return g(x);
      };
    }
  }
  throw new Error(`fastGuard: a ${s.type} schema is not supported`);
}

/**
 * Names looked up as property keys (not in a Set or Map): V8 then swaps the string a parsed
 * record holds for the one interned copy of that name, so a trace of a million records keeps
 * one "MsgHeartbeat", not a million (~5 MB an hour-long trace, bench/trace-bench.ts).
 */
function stringTable<T>(names: string[], valueOf: (name: string) => T): Record<string, T> {
  const table = Object.create(null) as Record<string, T>;
  for (const n of names) table[n] = valueOf(n);
  return table;
}

/** Every one of `checks`, in order (unrolled for the short pipes most schemas are). */
function all(checks: Guard[]): Guard {
  const [a, b, c] = checks;
  // Each case reads only as many checks as checks.length says there are.
  switch (checks.length) {
    case 1:
      return a!;
    case 2:
      return (x) => a!(x) && b!(x);
    case 3:
      return (x) => a!(x) && b!(x) && c!(x);
  }
  return (x) => {
    for (let i = 0; i < checks.length; i++) if (!checks[i]!(x)) return false;
    return true;
  };
}

const NUMBER_ACTIONS = ['finite', 'integer', 'safe_integer', 'min_value', 'max_value'];

/** A number pipe (v.pipe(v.number(), v.integer(), v.minValue(0)…)) as one test. */
function numberGuard(actions: Node[]): Guard {
  let finite = false;
  let integer = false;
  let safe = false;
  let min = -Infinity;
  let max = Infinity;
  for (const a of actions) {
    const r = a.requirement as number;
    if (a.type === 'finite') finite = true;
    else if (a.type === 'integer') integer = true;
    else if (a.type === 'safe_integer') safe = true;
    else if (a.type === 'min_value') min = Math.max(min, r);
    else max = Math.min(max, r);
  }
  // NaN fails every comparison; isInteger and isSafeInteger are false for it and for ±Infinity.
  if (safe) return (x) => typeof x === 'number' && Number.isSafeInteger(x) && x >= min && x <= max;
  if (integer) return (x) => typeof x === 'number' && Number.isInteger(x) && x >= min && x <= max;
  if (finite) return (x) => typeof x === 'number' && Number.isFinite(x) && x >= min && x <= max;
  return (x) => typeof x === 'number' && !Number.isNaN(x) && x >= min && x <= max;
}

function compileAction(a: Node): Guard {
  const r = a.requirement as number;
  switch (a.type) {
    case 'finite':
      return (x) => Number.isFinite(x);
    case 'check':
      return a.requirement as Guard;
    case 'starts_with':
      return (x) => (x as string).startsWith(a.requirement as string);
    case 'safe_integer':
      return (x) => Number.isSafeInteger(x);
    case 'integer':
      return (x) => Number.isInteger(x);
    case 'min_value':
      return (x) => (x as number) >= r;
    case 'max_value':
      return (x) => (x as number) <= r;
    case 'min_length':
      return (x) => (x as string).length >= r;
    case 'max_length':
      return (x) => (x as string).length <= r;
    case 'regex': {
      const re = a.requirement as RegExp;
      return (x) => re.test(x as string);
    }
  }
  throw new Error(`fastGuard: a ${a.type} action is not supported`);
}

export type Checked<T> = { ok: true; value: T } | { ok: false; problem: string };

/**
 * `schema` as a function: the value (unchanged when the fast path took it), or the first
 * problem's message. The fast path (fastGuard) first; the schema itself when that says no.
 */
export function checker<S extends v.GenericSchema>(schema: S): (x: unknown) => Checked<v.InferOutput<S>> {
  const fast = fastGuard(schema);
  return (x) => {
    if (fast(x)) return { ok: true, value: x as v.InferOutput<S> };
    const r = v.safeParse(schema, x, { abortEarly: true });
    return r.success ? { ok: true, value: r.output } : { ok: false, problem: r.issues[0].message };
  };
}
