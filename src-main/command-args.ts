// Argument parsing for raftlab's own commands (chaos, attach, run): Node's util.parseArgs in
// strict mode, with short error texts and --help/-h on every command. `raftlab node` takes
// etcd's flags instead (node/config/etcd-flags.ts, Go's flag syntax).

import { parseArgs, type ParseArgsConfig } from 'node:util';

type Options = NonNullable<ParseArgsConfig['options']>;

export type Parsed<O extends Options> = ReturnType<
  typeof parseArgs<{ options: O; allowPositionals: true; strict: true }>
>;

/** A bad command line: print `message` and the usage, exit 2. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

/**
 * Parses `argv` against `options` (plus --help/-h). Returns 'help' when asked; throws UsageError
 * for an unknown option, a missing value, a value given to a switch, or positionals when
 * `maxPositionals` is exceeded.
 */
export function parseCommandArgs<O extends Options>(
  argv: string[],
  options: O,
  maxPositionals = Infinity,
): Parsed<O> | 'help' {
  let parsed: Parsed<O>;
  try {
    parsed = parseArgs({
      args: argv,
      options: { ...options, help: { type: 'boolean', short: 'h' } },
      allowPositionals: true,
      strict: true,
    }) as Parsed<O>;
  } catch (err) {
    throw new UsageError(shortParseError(err as Error & { code?: string }));
  }
  if ((parsed.values as Record<string, unknown>).help) return 'help';
  if (parsed.positionals.length > maxPositionals)
    throw new UsageError(`unexpected argument ${parsed.positionals[maxPositionals]}`);
  return parsed;
}

/** util.parseArgs' messages are long; name the option and the problem. */
function shortParseError(err: Error & { code?: string }): string {
  const option = /'(-[^' ]+)/.exec(err.message)?.[1] ?? '';
  switch (err.code) {
    case 'ERR_PARSE_ARGS_UNKNOWN_OPTION':
      return `unknown option ${option}`;
    case 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE':
      return err.message.includes('argument missing') ? `${option} needs a value` : `${option} takes no value`;
    default:
      return err.message;
  }
}

/** An integer option in lo..hi, or its default when absent. */
export function intOption(name: string, v: string | undefined, lo: number, hi: number, def: number): number {
  if (v === undefined) return def;
  const n = Number(v);
  if (v.trim() === '' || !Number.isInteger(n) || n < lo || n > hi)
    throw new UsageError(`--${name} wants an integer in ${lo}..${hi}, not ${JSON.stringify(v)}`);
  return n;
}
