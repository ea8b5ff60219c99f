// Operational failures end the way etcd ends them: one `C |` line in etcd's words, a non-zero
// exit, no stack trace, and nothing written to the data dir when the flags were the problem.
// Each bad start is run through Debian's real etcd 3.4 too, and the two fatal lines compared.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePorts } from '../../src-main/net/free-ports.js';
import { one } from '../helpers/checked.js';
import { ETCD_BIN } from '../helpers/etcd-processes.js';
import { needTools } from '../helpers/window.js';
import { RAFTLAB_BIN } from '../helpers/processes.js';
import { makeCA, makeCert } from '../../src-main/tls/certs.js';

const haveEtcd = needTools("etcd's own fatal lines", [ETCD_BIN]);

let dir: string;
beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'raftlab-fatal-'));
  // A CA and a key pair it signed, for the bad-TLS-file cases.
  const ca = await makeCA({ commonName: 'fatal-errors CA' });
  const pair = await makeCert(ca, { commonName: 'm', hosts: ['127.0.0.1'] });
  fs.writeFileSync(path.join(dir, 'ca.pem'), ca.certPem);
  fs.writeFileSync(path.join(dir, 'cert.pem'), pair.certPem);
  fs.writeFileSync(path.join(dir, 'key.pem'), pair.keyPem);
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

interface Run {
  code: number | null;
  lines: string[];
}

/** Runs a program to its exit (killed after 15 s: a start that did not fail is an answer too). */
function run(cmd: string, args: string[], env: Record<string, string> = {}): Promise<Run> {
  const clean = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('ETCD')));
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { env: { ...clean, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (b: Buffer) => (out += b.toString()));
    child.stderr.on('data', (b: Buffer) => (out += b.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, lines: out.split('\n').filter(Boolean) });
    });
  });
}

/** The fatal lines without their timestamps: `C | pkg: text`. */
function fatalLines(r: Run): string[] {
  return r.lines.filter((l) => / C \| /.test(l)).map((l) => l.slice(l.indexOf(' C | ') + 1));
}

/** A member's flags on fresh loopback ports, with `over` replacing or adding some. */
async function flags(name: string, over: Record<string, string>): Promise<string[]> {
  const [peer, client] = await freePorts(2);
  const base: Record<string, string> = {
    '--name': name,
    '--data-dir': path.join(dir, `${name}.etcd`),
    '--listen-peer-urls': `http://127.0.0.1:${peer}`,
    '--initial-advertise-peer-urls': `http://127.0.0.1:${peer}`,
    '--listen-client-urls': `http://127.0.0.1:${client}`,
    '--advertise-client-urls': `http://127.0.0.1:${client}`,
    '--initial-cluster': `${name}=http://127.0.0.1:${peer}`,
    ...over,
  };
  return Object.entries(base)
    .filter(([, v]) => v !== '')
    .flatMap(([k, v]) => [k, v]);
}

const notAFile = () => {
  const f = path.join(dir, 'a-regular-file');
  fs.writeFileSync(f, 'not a directory');
  return f;
};

const cases: {
  what: string;
  over: (port: number) => Record<string, string>;
  env?: Record<string, string>;
  expected: RegExp;
}[] = [
  {
    what: 'a peer port over 65535',
    over: () => ({
      '--listen-peer-urls': 'http://127.0.0.1:70000',
      '--initial-advertise-peer-urls': 'http://127.0.0.1:70000',
      '--initial-cluster': 'X=http://127.0.0.1:70000',
    }),
    expected: /^C \| etcdmain: listen tcp: address 70000: invalid port$/,
  },
  {
    what: 'a client port over 65535',
    over: () => ({ '--listen-client-urls': 'http://127.0.0.1:70001' }),
    expected: /^C \| etcdmain: listen tcp: address 70001: invalid port$/,
  },
  {
    what: 'an https peer URL without a key and cert',
    over: (p) => ({
      '--listen-peer-urls': `https://127.0.0.1:${p}`,
      '--initial-advertise-peer-urls': `https://127.0.0.1:${p}`,
      '--initial-cluster': `X=https://127.0.0.1:${p}`,
    }),
    expected: /^C \| etcdmain: cannot listen on TLS for 127\.0\.0\.1:\d+: KeyFile and CertFile are not presented$/,
  },
  {
    what: 'an https client URL without a key and cert',
    over: (p) => ({ '--listen-client-urls': `https://127.0.0.1:${p}` }),
    expected:
      /^C \| etcdmain: TLS key\/cert \(--cert-file, --key-file\) must be provided for client url https:\/\/127\.0\.0\.1:\d+ with HTTPS scheme$/,
  },
  ...tlsFileCases(),
  {
    what: 'a cipher suite Go does not know',
    over: () => ({ '--cipher-suites': 'TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,ECDHE-RSA-AES128-SHA' }),
    expected: /^C \| etcdmain: unexpected TLS cipher suite "ECDHE-RSA-AES128-SHA"$/,
  },
  {
    what: '--data-dir naming a regular file',
    over: () => ({ '--data-dir': notAFile() }),
    expected: /^C \| etcdmain: error listing data dir: .*a-regular-file$/,
  },
  {
    what: 'ETCD_NAME set as well as --name',
    over: () => ({}),
    env: { ETCD_NAME: 'other' },
    expected:
      /^C \| pkg\/flags: conflicting environment variable "ETCD_NAME" is shadowed by corresponding command-line flag \(either unset environment variable or disable flag\)$/,
  },
];

/** An https peer port whose key pair or CA file etcd cannot use (read when its listener is made). */
function tlsFileCases(): typeof cases {
  const peer = (p: number, extra: Record<string, string>) => ({
    '--listen-peer-urls': `https://127.0.0.1:${p}`,
    '--initial-advertise-peer-urls': `https://127.0.0.1:${p}`,
    '--initial-cluster': `X=https://127.0.0.1:${p}`,
    ...extra,
  });
  const f = (name: string) => path.join(dir, name);
  return [
    {
      what: 'a peer cert file that does not exist',
      over: (p) => peer(p, { '--peer-cert-file': f('nope.pem'), '--peer-key-file': f('key.pem') }),
      expected: /^C \| etcdmain: open .*nope\.pem: no such file or directory$/,
    },
    {
      what: 'a peer cert without its key',
      over: (p) => peer(p, { '--peer-cert-file': f('cert.pem') }),
      expected: /^C \| etcdmain: KeyFile and CertFile must both be present\[key: , cert: .*cert\.pem\]$/,
    },
    {
      what: "a peer key that is not the cert's",
      over: (p) => peer(p, { '--peer-cert-file': f('ca.pem'), '--peer-key-file': f('key.pem') }),
      expected: /^C \| etcdmain: tls: private key does not match public key$/,
    },
    {
      what: 'a peer trusted CA file that does not exist',
      over: (p) =>
        peer(p, {
          '--peer-cert-file': f('cert.pem'),
          '--peer-key-file': f('key.pem'),
          '--peer-trusted-ca-file': f('nope-ca.pem'),
        }),
      expected: /^C \| etcdmain: open .*nope-ca\.pem: no such file or directory$/,
    },
  ];
}

describe('a bad start ends in one fatal line, as etcd 3.4 says it', () => {
  for (const [i, c] of cases.entries()) {
    it(
      c.what,
      async () => {
        const name = `m${i}`;
        const over = c.over(one(await freePorts(1), 'a free port'));
        for (const [k, v] of Object.entries(over)) over[k] = v.replace('X=', `${name}=`);
        const args = await flags(name, over);
        const ours = await run(process.execPath, [RAFTLAB_BIN, 'node', ...args], c.env);
        expect(ours.code, ours.lines.join('\n')).not.toBe(0);
        expect(ours.code).not.toBeNull(); // it exited by itself, it was not killed
        const fatal = fatalLines(ours);
        expect(fatal, ours.lines.join('\n')).toHaveLength(1);
        expect(fatal[0]).toMatch(c.expected);
        expect(ours.lines.filter((l) => /^\s+at /.test(l) || /Error:/.test(l))).toEqual([]);
        // Flags are checked before anything touches the disk.
        if (!('--data-dir' in over)) expect(fs.existsSync(path.join(dir, `${name}.etcd`))).toBe(false);

        if (!haveEtcd) return;
        const etcdArgs = args.map((a) =>
          a === path.join(dir, `${name}.etcd`) ? path.join(dir, `${name}.real.etcd`) : a,
        );
        const theirs = await run(ETCD_BIN, etcdArgs, c.env);
        expect(theirs.code).not.toBe(0);
        const expected = fatalLines(theirs).map((l) => l.replace(`${name}.real.etcd`, `${name}.etcd`));
        expect(fatal).toEqual(expected);
        if (!('--data-dir' in over)) expect(fs.existsSync(path.join(dir, `${name}.real.etcd`))).toBe(false);
      },
      40_000,
    );
  }
});
