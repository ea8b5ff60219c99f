// Go's behaviour, each once (src-main/node/go/): strconv, string order, net/url, and the one
// etcd types.NewURLs that both the URL flags and the members API use. The URL table is fed to
// every call site: the node's flag parser, the members API of a running raftlab node over HTTP,
// real etcd 3.4's flag parser and real etcd 3.4's members API (the reference), all in this test.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ETCD_36_FLAGS, newEtcdFlagSet } from '../../src-main/node/config/etcd-flags.js';
import { FlagError, FlagSet, HELP } from '../../src-main/node/go/flag.js';
import { NumError, parseBool, parseInt, parseUint, quote, quoteSlice } from '../../src-main/node/go/strconv.js';
import { cleanPath } from '../../src-main/node/go/http.js';
import { compareStrings } from '../../src-main/node/go/strings.js';
import { parseURL, splitHostPort, unescapeLatin1, urlString } from '../../src-main/node/go/url.js';
import { newURLs } from '../../src-main/node/etcd-urls.js';
import { freePorts } from '../../src-main/net/free-ports.js';
import { TestCluster, until } from '../helpers/cluster.js';
import { ETCD_BIN } from '../helpers/etcd-processes.js';
import { needTools } from '../helpers/window.js';

describe('strconv', () => {
  it('ParseBool takes exactly Go’s twelve spellings', () => {
    for (const s of ['1', 't', 'T', 'TRUE', 'true', 'True']) expect(parseBool(s)).toBe(true);
    for (const s of ['0', 'f', 'F', 'FALSE', 'false', 'False']) expect(parseBool(s)).toBe(false);
    for (const s of ['', 'yes', 'tRUE', 'TrUe', ' true', 'true ', '2', 'on', 'FaLsE']) {
      expect(() => parseBool(s)).toThrow(`strconv.ParseBool: parsing ${quote(s)}: invalid syntax`);
    }
  });

  it('ParseUint and ParseInt with base 0 (flags) and base 10/16 (v2 requests, member ids)', () => {
    const table: [string, number, number, bigint | string][] = [
      ['0', 0, 64, 0n],
      ['10', 0, 64, 10n],
      ['010', 0, 64, 8n],
      ['0x1F', 0, 64, 31n],
      ['0o17', 0, 64, 15n],
      ['0b101', 0, 64, 5n],
      ['1_000', 0, 64, 1000n],
      ['0x_ff', 0, 64, 255n],
      ['1__0', 0, 64, 'invalid syntax'],
      ['_1', 0, 64, 'invalid syntax'],
      ['08', 0, 64, 'invalid syntax'],
      ['18446744073709551615', 0, 64, 18446744073709551615n],
      ['18446744073709551616', 0, 64, 'value out of range'],
      ['4294967296', 0, 32, 'value out of range'],
      ['+1', 0, 64, 'invalid syntax'],
      ['', 10, 64, 'invalid syntax'],
      ['1_0', 10, 64, 'invalid syntax'],
      ['0x10', 10, 64, 'invalid syntax'],
      ['007', 10, 64, 7n],
      ['00ABCdef', 16, 64, 0xabcdefn],
      ['10000000000000000', 16, 64, 'value out of range'],
    ];
    for (const [s, base, bits, want] of table) {
      if (typeof want === 'bigint') expect(parseUint(s, base, bits), s).toBe(want);
      else
        expect(() => parseUint(s, base, bits), s).toThrow(
          new NumError('ParseUint', s, want as NumError['err']).message,
        );
    }
    expect(parseInt('-0x10', 0)).toBe(-16n);
    expect(parseInt('+7', 0)).toBe(7n);
    expect(parseInt('-9223372036854775808', 0)).toBe(-(1n << 63n));
    expect(() => parseInt('9223372036854775808', 0)).toThrow('value out of range');
    expect(() => parseInt('--1', 0)).toThrow('invalid syntax');
  });

  it('Quote is fmt’s %q: named escapes, \\x for ASCII controls, \\u for other non-printables', () => {
    const table: [string, string][] = [
      ['', '""'],
      ['abc', '"abc"'],
      ['a"b\\c', '"a\\"b\\\\c"'],
      ['\x07\b\f\n\r\t\v', '"\\a\\b\\f\\n\\r\\t\\v"'],
      ['\x00\x1b\x7f', '"\\x00\\x1b\\x7f"'],
      ['é日本😀', '"é日本😀"'],
      ['\u0085\u00a0\u200b\u2028\ufeff', '"\\u0085\\u00a0\\u200b\\u2028\\ufeff"'],
      ["'", `"'"`],
    ];
    for (const [s, want] of table) expect(quote(s), JSON.stringify(s)).toBe(want);
    expect(quoteSlice(['a', 'b c'])).toBe('["a" "b c"]');
    expect(quoteSlice([])).toBe('[]');
  });
});

describe('Go string order', () => {
  it('is UTF-8 byte order, not UTF-16 order', () => {
    // U+FF5E sorts before U+1F600 in UTF-8, after its surrogates in UTF-16.
    expect(compareStrings('\uff5e', '😀')).toBeLessThan(0);
    expect('\uff5e' < '😀').toBe(false);
    const words = ['b', 'a', 'ab', '', 'B', 'é', '\uff5e', '😀', 'a😀', 'a\uffff', 'z', '\u0000'];
    for (const a of words) {
      for (const b of words) {
        expect(Math.sign(compareStrings(a, b)), `${a} ${b}`).toBe(
          Math.sign(Buffer.compare(Buffer.from(a), Buffer.from(b))),
        );
      }
    }
  });
});

describe('net/url and net.SplitHostPort', () => {
  it('round-trips URLs as Go writes them back', () => {
    const table: [string, string][] = [
      ['HTTP://Host:1', 'http://Host:1'],
      ['http://u:p@h:1?q=1#f', 'http://u:p@h:1?q=1#f'],
      ['http://h:1?', 'http://h:1?'],
      ['http://h:1#a b', 'http://h:1#a%20b'],
      ['http://%C3%A9:1', 'http://%C3%A9:1'],
      ['http://[fe80::1%25en0]:1', 'http://[fe80::1%25en0]:1'],
      ['mailto:a@b', 'mailto:a@b'],
      ['/p/a%20th', '/p/a%20th'],
    ];
    for (const [raw, want] of table) expect(urlString(parseURL(raw)), raw).toBe(want);
    expect(() => parseURL('http://h:1/%zz')).toThrow('parse "http://h:1/%zz": invalid URL escape "%zz"');
    expect(() => parseURL('http://h:1#%zz')).toThrow('parse "http://h:1#%zz": invalid URL escape "%zz"');
    expect(() => parseURL('http://h:x#f')).toThrow('parse "http://h:x": invalid port ":x" after host');
  });

  it('PathUnescape and QueryUnescape of request bytes (Node hands them out as latin1)', () => {
    const latin1 = (s: string) => Buffer.from(s, 'utf8').toString('latin1');
    const table: [raw: string, query: boolean, want: string | null][] = [
      ['/v2/keys/plain', false, '/v2/keys/plain'],
      ['a+b', false, 'a+b'],
      ['a+b', true, 'a b'],
      ['a%20b%2Fc', false, 'a b/c'],
      ['%E2%82%AC', true, '€'],
      [latin1('/k/€é'), false, '/k/€é'],
      [latin1('v=€'), true, 'v=€'],
      ['bad%zz', false, null],
      ['bad%2', true, null],
      ['', true, ''],
    ];
    for (const [raw, query, want] of table) expect(unescapeLatin1(raw, query), raw).toBe(want);
  });

  it('ServeMux’s cleanPath: path.Clean keeping a trailing slash', () => {
    const table: [string, string][] = [
      ['', '/'],
      ['/', '/'],
      ['//', '/'],
      ['/v2/keys/a', '/v2/keys/a'],
      ['/v2/keys/a/', '/v2/keys/a/'],
      ['/v2//keys', '/v2/keys'],
      ['/v2/./keys', '/v2/keys'],
      ['/v2/keys/..', '/v2'],
      ['/v2/keys/.', '/v2/keys'],
      ['/v2/keys/./', '/v2/keys/'],
      ['/../a', '/a'],
      ['/a/.b/..c/...', '/a/.b/..c/...'],
      ['v2/keys', '/v2/keys'],
      ['/a//', '/a/'],
    ];
    for (const [raw, want] of table) expect(cleanPath(raw), raw).toBe(want);
  });

  it('SplitHostPort', () => {
    expect(splitHostPort('h:1')).toEqual({ host: 'h', port: '1' });
    expect(splitHostPort('[::1]:2')).toEqual({ host: '::1', port: '2' });
    expect(splitHostPort(':1')).toEqual({ host: '', port: '1' });
    expect(splitHostPort('h')).toEqual({ error: 'address h: missing port in address' });
    expect(splitHostPort('a:1:2')).toEqual({ error: 'address a:1:2: too many colons in address' });
    expect(splitHostPort('[::1]')).toEqual({ error: 'address [::1]: missing port in address' });
    expect(splitHostPort('[::1]x:1')).toEqual({ error: 'address [::1]x:1: missing port in address' });
    expect(splitHostPort('[a]:1]')).toEqual({ error: "address [a]:1]: unexpected ']' in address" });
  });
});

describe('FlagSet', () => {
  const make = () => {
    const fs = new FlagSet('t');
    return {
      fs,
      name: fs.string('name', 'x', 'a name'),
      on: fs.bool('on', false, 'a switch'),
      n: fs.uint('n', 3n, 'a number'),
    };
  };

  it('reads one or two dashes, =value and a separate value, and stops at the first argument', () => {
    const f = make();
    f.fs.parse(['-name', 'a', '--n=0x10', '--on', 'rest', '-n', '1']);
    expect([f.name.get(), f.n.get(), f.on.get(), f.fs.args()]).toEqual(['a', 16n, true, ['rest', '-n', '1']]);
    expect(f.fs.setNames()).toEqual(['n', 'name', 'on']);
    const g = make();
    g.fs.parse(['--on=false', '--', '-name']);
    expect([g.on.get(), g.fs.isSet('on'), g.fs.args()]).toEqual([false, true, ['-name']]);
  });

  it('a bool takes no separate value (Go’s rule); errors are Go’s', () => {
    const f = make();
    f.fs.parse(['--on', 'false']);
    expect([f.on.get(), f.fs.args()]).toEqual([true, ['false']]);
    const err = (argv: string[]) => {
      try {
        make().fs.parse(argv);
      } catch (e) {
        return e === HELP ? 'HELP' : e instanceof FlagError ? e.message : String(e);
      }
      return 'ok';
    };
    expect(err(['--nope'])).toBe('flag provided but not defined: -nope');
    expect(err(['-n'])).toBe('flag needs an argument: -n');
    expect(err(['-n', 'x'])).toBe('invalid value "x" for flag -n: parse error');
    expect(err(['-n', '-1'])).toBe('invalid value "-1" for flag -n: parse error');
    expect(err(['-n', '99999999999999999999'])).toBe(
      'invalid value "99999999999999999999" for flag -n: value out of range',
    );
    expect(err(['--on=yes'])).toBe('invalid boolean value "yes" for -on: parse error');
    expect(err(['---on'])).toBe('bad flag syntax: ---on');
    expect(err(['-=x'])).toBe('bad flag syntax: -=x');
    expect(err(['-h'])).toBe('HELP');
    expect(err(['--help'])).toBe('HELP');
  });

  it('setFromEnv: only flags not set on the command line, empty values skipped, etcd’s conflict and unrecognized rules', () => {
    const f = make();
    f.fs.parse(['--name', 'cli']);
    const used: string[] = [];
    const unknown: string[] = [];
    const env = { T_N: '7', T_ON: '', T_OTHER: 'x', HOME: '/h' };
    expect(f.fs.setFromEnv('T', env, { used: (k) => used.push(k), unrecognized: (k) => unknown.push(k) })).toEqual({
      error: null,
      conflict: null,
    });
    // An empty variable is not used, so etcd calls it unrecognized.
    expect([f.n.get(), f.on.get(), f.name.get(), used, unknown]).toEqual([
      7n,
      false,
      'cli',
      ['T_N'],
      ['T_ON', 'T_OTHER'],
    ]);
    const g = make();
    g.fs.parse(['--name', 'cli']);
    expect(g.fs.setFromEnv('T', { T_NAME: 'env' })).toEqual({ error: null, conflict: 'T_NAME' });
    expect(make().fs.setFromEnv('T', { T_N: 'x' })).toEqual({
      error: 'invalid value "x" for T_N: parse error',
      conflict: null,
    });
  });

  it('prints its defaults as Go’s PrintDefaults does', () => {
    expect(make().fs.defaults()).toBe(
      '  -n uint\n    \ta number (default 3)\n  -name string\n    \ta name (default "x")\n  -on\n    \ta switch\n',
    );
  });
});

// ---------------------------------------------------------------------------------------------
// types.NewURLs through every call site

/** Each URL alone, as a flag value and as a members API body; the answer is the URLs etcd keeps, or its error. */
const URL_TABLE: [input: string, want: string[] | string][] = [
  ['http://127.0.0.1:2380', ['http://127.0.0.1:2380']],
  [' http://127.0.0.1:2380\t', ['http://127.0.0.1:2380']],
  ['HTTP://H:1', ['http://H:1']],
  ['http://h^:1', 'parse "http://h^:1": invalid character "^" in host name'],
  ['http://h:1#f', ['http://h:1#f']],
  ['http://h:1#a b', ['http://h:1#a%20b']],
  ['http://h:1#%zz', 'parse "http://h:1#%zz": invalid URL escape "%zz"'],
  ['http://h:1?q=1', ['http://h:1?q=1']],
  ['http://h:1?', ['http://h:1?']],
  ['http://u:p@h:1', ['http://u:p@h:1']],
  ['http://a b@h:1', 'parse "http://a b@h:1": net/url: invalid userinfo'],
  ['http://[::1]:1', ['http://[::1]:1']],
  ['http://[::1', 'parse "http://[::1": missing \']\' in host'],
  ['http://[::1]x', 'parse "http://[::1]x": invalid port "x" after host'],
  ['http://[fe80::1%25en0]:1', ['http://[fe80::1%25en0]:1']],
  ['http://h:x', 'parse "http://h:x": invalid port ":x" after host'],
  ['http://h', 'URL address does not have the form "host:port": http://h'],
  ['http://a:1:2', 'URL address does not have the form "host:port": http://a:1:2'],
  ['http://:1', ['http://:1']],
  ['http://h:1/', 'URL must not contain a path: http://h:1/'],
  ['http://h:1/%zz', 'parse "http://h:1/%zz": invalid URL escape "%zz"'],
  ['http://h%41:1', 'parse "http://h%41:1": invalid URL escape "%41"'],
  ['http://%C3%A9:1', ['http://%C3%A9:1']],
  ['http://é:1', ['http://%C3%A9:1']],
  ['http://h:1\u0001', 'parse "http://h:1\\x01": net/url: invalid control character in URL'],
  ['http:h:1', 'URL address does not have the form "host:port": http:h:1'],
  ['ftp://h:1', 'URL scheme must be http, https, unix, or unixs: ftp://h:1'],
  ['unix://sock:1', ['unix://sock:1']],
  ['unixs://sock:1', ['unixs://sock:1']],
  ['h:1', 'URL scheme must be http, https, unix, or unixs: h:1'], // scheme "h", opaque "1"
  ['127.0.0.1:2380', 'parse "127.0.0.1:2380": first path segment in URL cannot contain colon'],
  [':1', 'parse ":1": missing protocol scheme'],
  ['', 'URL scheme must be http, https, unix, or unixs: '],
];

/** The node's flag parser: the etcd flag set newEtcdFlagSet builds for parseNodeConfig. */
function viaFlag(input: string): string[] | string {
  const fs = newEtcdFlagSet([]);
  try {
    fs.parse([`--initial-advertise-peer-urls=${input}`]);
  } catch (e) {
    const prefix = `invalid value ${quote(input)} for flag -initial-advertise-peer-urls: `;
    const msg = (e as Error).message;
    return msg.startsWith(prefix) ? msg.slice(prefix.length) : `unexpected: ${msg}`;
  }
  return fs.get<string[]>('initial-advertise-peer-urls');
}

/** A members API: PUT the member's own peer URLs (the same decoding as POST, without adding a member that never starts), then read them back. */
async function viaMembersAPI(clientURL: string, input: string): Promise<string[] | string> {
  const list = await (await fetch(`${clientURL}/v2/members`)).json();
  const id = list.members[0].id;
  const res = await fetch(`${clientURL}/v2/members/${id}`, {
    method: 'PUT',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ peerURLs: [input] }),
    signal: AbortSignal.timeout(10_000),
  });
  const text = await res.text();
  if (res.status === 400) return JSON.parse(text).message;
  if (res.status !== 204) return `unexpected ${res.status} ${text}`;
  const after = await (await fetch(`${clientURL}/v2/members`)).json();
  return after.members[0].peerURLs;
}

describe('one types.NewURLs for the flags and the members API', () => {
  it('newURLs answers the table', () => {
    for (const [input, want] of URL_TABLE) {
      let got: string[] | string;
      try {
        got = newURLs([input]);
      } catch (e) {
        got = (e as Error).message;
      }
      expect(got, JSON.stringify(input)).toEqual(want);
    }
    expect(() => newURLs([])).toThrow('no valid URLs given');
    expect(newURLs(['http://b:1', 'http://a:1'])).toEqual(['http://a:1', 'http://b:1']);
  });

  it('the flag parser gives the table’s answers (an empty value aside: etcd’s URL flags except it)', () => {
    const table = URL_TABLE.filter(([input]) => input !== '');
    expect(table.map(([input]) => viaFlag(input))).toEqual(table.map(([, want]) => want));
    // flags.NewUniqueURLsWithExceptions(default, ""): an empty value keeps the default.
    expect(viaFlag('')).toEqual(['http://localhost:2380']);
  });

  it('the members API of a running raftlab node gives the same answers', async () => {
    const cluster = await TestCluster.create(1);
    try {
      await cluster.leader();
      const url = cluster.url('n1');
      const got: (string[] | string)[] = [];
      for (const [input] of URL_TABLE) got.push(await viaMembersAPI(url, input));
      expect(got).toEqual(URL_TABLE.map(([, want]) => want));
    } finally {
      await cluster.destroy();
    }
  }, 60_000);

  describe.runIf(needTools('real etcd 3.4 as the reference for URL parsing', [ETCD_BIN]))('real etcd 3.4', () => {
    let dir: string;
    let child: ReturnType<typeof spawn> | undefined;
    let clientURL: string;
    const clean = () => Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('ETCD')));

    beforeAll(async () => {
      dir = fs.mkdtempSync(path.join(os.tmpdir(), 'raftlab-go-urls-'));
      const [peer, client] = await freePorts(2);
      const peerURL = `http://127.0.0.1:${peer}`;
      clientURL = `http://127.0.0.1:${client}`;
      // prettier-ignore
      child = spawn(ETCD_BIN, [
        '--name', 'e1', '--data-dir', path.join(dir, 'e1.etcd'), '--enable-v2',
        '--listen-peer-urls', peerURL, '--initial-advertise-peer-urls', peerURL,
        '--listen-client-urls', clientURL, '--advertise-client-urls', clientURL,
        '--initial-cluster', `e1=${peerURL}`, '--logger', 'zap', '--log-level', 'error',
      ], { env: clean(), stdio: 'ignore' });
      await until(
        'real etcd to serve',
        async () => (await fetch(`${clientURL}/health`).catch(() => undefined))?.ok,
        20_000,
      );
    }, 30_000);

    afterAll(async () => {
      if (child?.pid !== undefined && child.exitCode === null) {
        const exited = new Promise((r) => child!.once('exit', r));
        process.kill(child.pid, 'SIGKILL');
        await exited;
      }
      fs.rmSync(dir, { recursive: true, force: true });
    });

    it('its members API answers the table', async () => {
      const got: (string[] | string)[] = [];
      for (const [input] of URL_TABLE) got.push(await viaMembersAPI(clientURL, input));
      expect(got).toEqual(URL_TABLE.map(([, want]) => want));
    }, 60_000);

    it('its flag parser accepts and refuses the same values, in the same words', async () => {
      const run = (input: string) =>
        new Promise<string[] | string>((resolve) => {
          const p = spawn(ETCD_BIN, [`--initial-advertise-peer-urls=${input}`, '--version'], {
            env: clean(),
            stdio: ['ignore', 'ignore', 'pipe'],
          });
          let err = '';
          p.stderr!.on('data', (b: Buffer) => (err += b.toString()));
          p.on('exit', (code) => {
            const prefix = `invalid value ${quote(input)} for flag -initial-advertise-peer-urls: `;
            const first = err.split('\n')[0]!;
            resolve(
              code === 0
                ? 'accepted'
                : first.startsWith(prefix)
                  ? first.slice(prefix.length)
                  : `exit ${code}: ${first}`,
            );
          });
        });
      const got: (string[] | string)[] = [];
      for (const [input] of URL_TABLE) got.push(await run(input));
      expect(got).toEqual(
        URL_TABLE.map(([input, want]) => (typeof want === 'string' && input !== '' ? want : 'accepted')),
      );
    }, 60_000);

    it('knows exactly the flags the etcd flag rows declare', async () => {
      const exit = (args: string[]) =>
        new Promise<number | null>((resolve) =>
          spawn(ETCD_BIN, [...args, '--version'], { env: clean(), stdio: 'ignore' }).on('exit', resolve),
        );
      // etcd 3.6's rows (v3 discovery) are marked so; every other row etcd 3.4 must take.
      const all = newEtcdFlagSet([]).all();
      const rows = all.filter((f) => !ETCD_36_FLAGS.has(f.name));
      expect(ETCD_36_FLAGS.size).toBe(6);
      const refused: string[] = [];
      for (let i = 0; i < rows.length; i += 8) {
        const batch = rows.slice(i, i + 8);
        const codes = await Promise.all(
          batch.map((f) => exit([f.value.isBool ? `--${f.name}` : `--${f.name}=${f.defValue}`])),
        );
        batch.forEach((f, k) => codes[k] !== 0 && refused.push(f.name));
      }
      expect(refused).toEqual([]);
      // Its help names no flag the rows lack.
      const help = await new Promise<string>((resolve) => {
        let out = '';
        const p = spawn(ETCD_BIN, ['--help'], { env: clean(), stdio: ['ignore', 'pipe', 'pipe'] });
        p.stdout!.on('data', (b: Buffer) => (out += b.toString()));
        p.on('exit', () => resolve(out));
      });
      const named = new Set([...help.matchAll(/^\s+--([a-z0-9.-]+)/gm)].map((m) => m[1]!));
      expect(named.size).toBeGreaterThan(60);
      expect([...named].filter((n) => !newEtcdFlagSet([]).lookup(n) && n !== 'help')).toEqual([]);
      // And etcd 3.4 really lacks each row marked 3.6 (exit 2: flag provided but not defined).
      const v36 = all.filter((f) => ETCD_36_FLAGS.has(f.name));
      expect(await Promise.all(v36.map((f) => exit([`--${f.name}=${f.defValue === '' ? 'x' : f.defValue}`])))).toEqual(
        v36.map(() => 2),
      );
      // A 3.5 flag is unknown to both.
      expect(await exit(['--experimental-txn-mode-write-with-shared-buffer'])).toBe(2);
      expect(() => newEtcdFlagSet([]).parse(['--experimental-txn-mode-write-with-shared-buffer'])).toThrow(
        'flag provided but not defined',
      );
    }, 60_000);
  });
});
