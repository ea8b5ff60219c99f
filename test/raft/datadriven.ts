// A small reader/writer for data-driven test scripts in the format of cockroachdb/datadriven,
// as etcd-io/raft's testdata/*.txt use it:
//
//   # comment
//   command arg key=value key=(a,b,c)
//   optional input lines
//   ----
//   expected output, up to the next blank line
//
// The runner hands each command to a handler and compares what it prints with the expected
// text. In rewrite mode the expected blocks are replaced by what was printed, comments and
// commands kept verbatim (etcd's `-rewrite`); every rewritten block is to be read, not blessed.

export interface Arg {
  key: string;
  /** Empty for a bare word (`campaign 1` has the bare arg `1`). */
  vals: string[];
}

export interface Directive {
  /** 1-based line of the command, for error messages. */
  line: number;
  cmd: string;
  args: Arg[];
  input: string[];
  expected: string;
}

/** A parsed script: directives, and the verbatim text before each one (comments, blank lines). */
export interface Script {
  directives: Directive[];
  /** leading[i] precedes directives[i]; leading[directives.length] is the tail of the file. */
  leading: string[][];
}

export function parseScript(text: string, file = '<script>'): Script {
  const lines = text.split('\n');
  if (lines.length && lines[lines.length - 1] === '') lines.pop();
  const directives: Directive[] = [];
  const leading: string[][] = [];
  let pending: string[] = [];
  let i = 0;
  while (i < lines.length) {
    const line = lines[i]!; // i < lines.length
    if (line.trim() === '' || line.trimStart().startsWith('#')) {
      pending.push(line);
      i++;
      continue;
    }
    const start = i + 1;
    const { cmd, args } = parseCommandLine(line, `${file}:${start}`);
    i++;
    const input: string[] = [];
    for (let l = lines[i]; l !== undefined && l !== '----'; l = lines[++i]) {
      if (l.trim() === '') throw new Error(`${file}:${start}: '${cmd}' has no '----' line before a blank line`);
      input.push(l);
    }
    if (i >= lines.length) throw new Error(`${file}:${start}: '${cmd}' has no '----' line`);
    i++; // the ---- line
    const out: string[] = [];
    for (let l = lines[i]; l !== undefined && l.trim() !== ''; l = lines[++i]) out.push(l);
    directives.push({ line: start, cmd, args, input, expected: out.join('\n') });
    leading.push(pending);
    pending = [];
  }
  leading.push(pending);
  return { directives, leading };
}

/** Splits `cmd a k=v k=(x, y)` into its command and arguments. */
export function parseCommandLine(line: string, where: string): { cmd: string; args: Arg[] } {
  const tokens: string[] = [];
  let cur = '';
  let depth = 0;
  for (const ch of line.trim()) {
    if (ch === '(') depth++;
    if (ch === ')') depth--;
    if (depth < 0) throw new Error(`${where}: unbalanced ')' in: ${line}`);
    if (/\s/.test(ch) && depth === 0) {
      if (cur) tokens.push(cur);
      cur = '';
    } else cur += ch;
  }
  if (depth !== 0) throw new Error(`${where}: unbalanced '(' in: ${line}`);
  if (cur) tokens.push(cur);
  const [cmd, ...rest] = tokens;
  if (cmd === undefined) throw new Error(`${where}: no command in an empty line`);
  const args = rest.map((tok): Arg => {
    const eq = tok.indexOf('=');
    if (eq < 0) return { key: tok, vals: [] };
    const key = tok.slice(0, eq);
    let val = tok.slice(eq + 1);
    if (val.startsWith('(') && val.endsWith(')')) {
      val = val.slice(1, -1);
      return { key, vals: val.split(/[\s,]+/).filter((v) => v !== '') };
    }
    return { key, vals: [val] };
  });
  return { cmd, args };
}

/** Line `n` (1-based) of the source the script was parsed from. */
function sourceLine(srcLines: string[], n: number): string {
  const line = srcLines[n - 1];
  if (line === undefined) throw new Error(`the script's source has no line ${n}`);
  return line;
}

/** Renders a script with each directive's expected block replaced by `outputs[i]`. */
export function renderScript(script: Script, outputs: string[], source: string): string {
  const srcLines = source.split('\n');
  const parts: string[] = [];
  script.directives.forEach((d, i) => {
    parts.push(...(script.leading[i] ?? []));
    parts.push(sourceLine(srcLines, d.line), ...d.input, '----');
    const out = outputs[i] ?? '';
    if (out !== '') parts.push(out);
  });
  parts.push(...(script.leading[script.directives.length] ?? []));
  return parts.join('\n') + '\n';
}

export interface Mismatch {
  line: number;
  command: string;
  expected: string;
  actual: string;
}

/**
 * Runs every directive through `handle` (which returns the printed output), in order, to
 * the end (so rewrite mode has every output). Returns the outputs and the first mismatch
 * with the expected text, if any: later outputs depend on earlier ones, so it is the one
 * to look at.
 */
export function runScript(
  script: Script,
  handle: (d: Directive) => string,
  source: string,
): { outputs: string[]; mismatch?: Mismatch } {
  const outputs: string[] = [];
  let mismatch: Mismatch | undefined;
  const srcLines = source.split('\n');
  for (const d of script.directives) {
    let out: string;
    try {
      out = handle(d);
    } catch (err) {
      // A harness error (bad arguments, unknown command) is not an expected output.
      throw new Error(`line ${d.line}: ${sourceLine(srcLines, d.line)}: ${(err as Error).message}`, { cause: err });
    }
    out = out.replace(/\s+$/, '');
    if (out.split('\n').some((l) => l.trim() === '')) {
      throw new Error(`line ${d.line}: output contains a blank line, which the format cannot hold:\n${out}`);
    }
    outputs.push(out);
    if (!mismatch && out !== d.expected) {
      mismatch = { line: d.line, command: sourceLine(srcLines, d.line), expected: d.expected, actual: out };
    }
  }
  return { outputs, mismatch };
}

/** Accessors for a directive's arguments, with clear errors for bad scripts. */
export class Args {
  private used = new Set<string>();

  constructor(private readonly d: Directive) {}

  /** Bare words (e.g. node ids), in order. */
  bare(): string[] {
    return this.d.args.filter((a) => a.vals.length === 0).map((a) => a.key);
  }

  list(key: string): string[] | undefined {
    const a = this.d.args.find((x) => x.key === key && x.vals.length > 0);
    this.used.add(key);
    return a?.vals;
  }

  str(key: string): string | undefined;
  str(key: string, dflt: string): string;
  str(key: string, dflt?: string): string | undefined {
    const v = this.list(key);
    if (v && v.length !== 1) throw new Error(`${key} takes one value, got (${v.join(',')})`);
    return v ? v[0] : dflt;
  }

  int(key: string): number | undefined;
  int(key: string, dflt: number): number;
  int(key: string, dflt?: number): number | undefined {
    const v = this.str(key);
    if (v === undefined) return dflt;
    if (!/^-?\d+$/.test(v)) throw new Error(`${key}=${v} is not an integer`);
    return Number(v);
  }

  bool(key: string): boolean | undefined {
    const v = this.str(key);
    if (v === undefined) return undefined;
    if (v !== 'true' && v !== 'false') throw new Error(`${key}=${v} is not true or false`);
    return v === 'true';
  }

  /** Throws if the directive carries a key=value argument no accessor asked for (a typo). */
  done(): void {
    for (const a of this.d.args) {
      if (a.vals.length > 0 && !this.used.has(a.key)) throw new Error(`unknown argument ${a.key}=`);
    }
  }
}
