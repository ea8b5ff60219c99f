// Raft's rules as data-driven scripts (test/raft/testdata/*.txt), in the manner of
// etcd-io/raft's testdata: each script drives real Raft instances step by step and states
// the messages, Readies, events and states they must print.
//
// Rewrite the expected outputs with: REWRITE=1 npx vitest run test/raft/datadriven.test.ts
// (then read every changed block against Raft's rules before committing it).
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parseCommandLine, parseScript, renderScript, runScript } from './datadriven.js';
import { InteractionEnv } from './interaction-env.js';

const dir = fileURLToPath(new URL('./testdata', import.meta.url));
const rewrite = process.env.REWRITE === '1';

function run(source: string, file: string) {
  const script = parseScript(source, file);
  const env = new InteractionEnv();
  return { script, ...runScript(script, (d) => env.handle(d), source) };
}

describe('Raft scripts (testdata/*.txt)', () => {
  const files = readdirSync(dir)
    .filter((f) => f.endsWith('.txt'))
    .sort();

  it('finds the scripts', () => {
    expect(files.length).toBeGreaterThanOrEqual(8);
  });

  for (const file of files) {
    it(file, () => {
      const path = join(dir, file);
      const source = readFileSync(path, 'utf8');
      const { script, outputs, mismatch } = run(source, file);
      if (rewrite) {
        const next = renderScript(script, outputs, source);
        if (next !== source) writeFileSync(path, next);
        return;
      }
      if (mismatch) {
        expect(mismatch.actual, `${file}:${mismatch.line}: ${mismatch.command}`).toBe(mismatch.expected);
      }
    });
  }
});

describe('the script harness', () => {
  const script = [
    '# a comment',
    'add-nodes 2 voters=(1,2)',
    '----',
    '1: voters=(1 2) Term:1 Commit:2 Applied:2 Last:1/2',
    '2: voters=(1 2) Term:1 Commit:2 Applied:2 Last:1/2',
    '',
    'campaign 1',
    '----',
    'ok',
    '',
  ].join('\n');

  it('reports the first output that differs, with its line', () => {
    const { mismatch } = run(script, 't');
    expect(mismatch).toMatchObject({ line: 7, command: 'campaign 1', expected: 'ok' });
    expect(mismatch!.actual).toContain('1 is starting a new pre-vote election at term 1');
  });

  it('rewrites only the expected blocks, keeping comments and commands', () => {
    const { script: parsed, outputs } = run(script, 't');
    const next = renderScript(parsed, outputs, script);
    expect(next.split('\n').slice(0, 6)).toEqual(script.split('\n').slice(0, 6));
    expect(run(next, 't').mismatch).toBeUndefined();
  });

  it('parses bare words, key=value and key=(list)', () => {
    expect(parseCommandLine('deliver-msgs 1 2 drop=(3, 4) type=MsgApp', 'x')).toEqual({
      cmd: 'deliver-msgs',
      args: [
        { key: '1', vals: [] },
        { key: '2', vals: [] },
        { key: 'drop', vals: ['3', '4'] },
        { key: 'type', vals: ['MsgApp'] },
      ],
    });
  });

  it('refuses a misspelt argument or an unknown command', () => {
    expect(() => run('add-nodes 1 vooters=(1)\n----\nok\n', 't')).toThrow(/unknown argument vooters=/);
    expect(() => run('frobnicate\n----\nok\n', 't')).toThrow(/unknown command frobnicate/);
  });
});
