// DNS SRV discovery as etcd 3.4 itself does it, next to raftlab: three real etcd 3.4 members
// (Debian's) find each other in _etcd-server-ssl records with --peer-auto-tls, which is how etcd
// 3.4.23 must be run (with only plain _etcd-server records it fails: a known etcd bug, shown
// here too), and three `raftlab node` processes do the same from the same kind of records; the
// bootstrap lines are compared. etcd uses the system resolver, which reads /etc/resolv.conf (a
// resolv.conf names an address, port 53): each etcd runs in its own mount namespace (unshare,
// as root) where a private resolv.conf names a dnsmasq on a 127.53.x.y address, port 53. The
// machine's own resolv.conf is never touched.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { until } from '../helpers/cluster.js';
import { DNSMASQ_BIN, Dnsmasq, srvSslCluster } from '../helpers/dnsmasq.js';
import { ETCD_BIN } from '../helpers/etcd-processes.js';
import { FAST_RAFT_FLAGS, loopbackSpecs, memberURLFlags, Proc, untimed, type ProcSpec } from '../helpers/processes.js';
import { run } from '../helpers/run.js';
import { needTools } from '../helpers/window.js';

const ETCDCTL = '/usr/bin/etcdctl';
const UNSHARE = '/usr/bin/unshare';
const TOOLS = needTools('real etcd bootstrapped by DNS SRV records', [ETCD_BIN, ETCDCTL, DNSMASQ_BIN, UNSHARE]);
const ROOT = process.getuid?.() === 0;
if (TOOLS && !ROOT) {
  if (process.env.CI)
    throw new Error('the real-etcd DNS SRV test needs root (a private mount namespace for its resolv.conf)');
  console.warn('SKIPPED: real etcd bootstrapped by DNS SRV needs root (a private mount namespace for its resolv.conf)');
}

/**
 * A DNS server etcd's resolver can be pointed at: port 53 on a loopback address of its own. The
 * targets are host names (Go's resolver refuses an SRV answer whose target is an IP), each an A
 * record for 127.0.0.1.
 */
async function dnsOn53(domain: string, records: { service: string; target: string; port: number }[]): Promise<Dnsmasq> {
  const hosts = Object.fromEntries(records.map((r) => [r.target, '127.0.0.1']));
  for (let attempt = 0; ; attempt++) {
    const address = `127.53.${1 + Math.floor(Math.random() * 250)}.${1 + Math.floor(Math.random() * 250)}`;
    try {
      return await Dnsmasq.start(domain, records, hosts, { address, port: 53 });
    } catch (err) {
      if (attempt >= 5) throw err; // (that address was taken: another one)
    }
  }
}

/** `etcd args...` in a mount namespace whose /etc/resolv.conf is `resolvConf`; the pid is etcd's (unshare and sh exec). */
function etcdArgv(resolvConf: string, args: string[]): [string, string[]] {
  return [
    UNSHARE,
    [
      '--mount',
      '--propagation',
      'private',
      'sh',
      '-c',
      'mount --bind "$0" /etc/resolv.conf && exec "$@"',
      resolvConf,
      ETCD_BIN,
      ...args,
    ],
  ];
}

/** A member's peer URL as its SRV record names it: `<scheme>://<name>.<domain>:<port>`. */
const srvPeerURL = (s: ProcSpec, domain: string) => s.peerURL.replace('//127.0.0.1:', `//${s.name}.${domain}:`);

/** etcd as its documentation runs it with DNS discovery: it listens on an IP, advertises its SRV name. */
function etcdFlags(s: ProcSpec, dataDir: string, domain: string): string[] {
  return [
    '--name',
    s.name,
    '--data-dir',
    dataDir,
    ...memberURLFlags(s, srvPeerURL(s, domain)),
    '--discovery-srv',
    domain,
    '--peer-auto-tls',
    ...FAST_RAFT_FLAGS,
    '--logger',
    'capnslog', // etcd 3.4's default, the lines raftlab writes
  ];
}

describe.runIf(TOOLS && ROOT)('DNS SRV discovery: real etcd 3.4 and raftlab from the same kind of records', () => {
  let dir: string;
  const procs: Proc[] = [];
  const servers: Dnsmasq[] = [];
  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'raftlab-srv-etcd-'));
  });
  afterAll(async () => {
    await Promise.all(procs.map((p) => p.kill9()));
    await Promise.all(servers.map((s) => s.stop()));
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  function resolvConf(dns: Dnsmasq, name: string): string {
    const file = path.join(dir, `${name}.resolv.conf`);
    fs.writeFileSync(file, `nameserver ${dns.server.replace(/:53$/, '')}\n`);
    return file;
  }

  it('three etcd members from _etcd-server-ssl records with auto-TLS peers form one cluster; three raftlab members say the same lines', async () => {
    const https = (s: ProcSpec) => ({ ...s, peerURL: s.peerURL.replace(/^http:/, 'https:') });
    const specs = (await loopbackSpecs('e', 3)).slice(0, 3).map(https);
    const port = (u: string) => Number(new URL(u).port);
    const dns = await dnsOn53(
      'etcd.test',
      specs.map((s) => ({
        service: '_etcd-server-ssl._tcp.etcd.test',
        target: `${s.name}.etcd.test`,
        port: port(s.peerURL),
      })),
    );
    servers.push(dns);
    const conf = resolvConf(dns, 'ssl');
    const members = specs.map((s) => {
      const [cmd, args] = etcdArgv(conf, etcdFlags(s, path.join(dir, `${s.name}.etcd`), 'etcd.test'));
      const proc = new Proc(cmd, args);
      procs.push(proc);
      return { child: proc.child, output: proc.output, spec: s };
    });
    const [e1] = members;
    if (!e1) throw new Error('three etcd members expected');
    const list = await until(
      'three started etcd members',
      async () => {
        for (const m of members)
          if (m.child.exitCode !== null)
            throw new Error(`${m.spec.name} exited ${m.child.exitCode}:\n${m.output.slice(-10).join('\n')}`);
        const r = await run(ETCDCTL, ['--endpoints', e1.spec.clientURL, 'member', 'list'], {
          env: { ETCDCTL_API: '3' },
          timeoutMs: 5000,
        });
        const rows = r.out.trim().split('\n').filter(Boolean);
        // (Until each has published its name and client URL, the others list it by its temporary name.)
        const published = specs.every((s) =>
          r.out.includes(`, ${s.name}, ${srvPeerURL(s, 'etcd.test')}, ${s.clientURL}, false`),
        );
        return (
          r.code === 0 && rows.length === 3 && rows.every((row) => row.includes(', started, ')) && published && r.out
        );
      },
      60_000,
    );
    expect(list.trim().split('\n')).toHaveLength(3);
    expect(
      (await run(ETCDCTL, ['--endpoints', e1.spec.clientURL, 'put', 'srv', 'etcd'], { env: { ETCDCTL_API: '3' } }))
        .code,
    ).toBe(0);
    const e3 = members[2]?.spec.clientURL ?? '';
    expect(
      (await run(ETCDCTL, ['--endpoints', e3, 'get', 'srv', '--print-value-only'], { env: { ETCDCTL_API: '3' } })).out,
    ).toBe('etcd\n');
    expect(e1.output.join('\n')).toContain(
      `I | embed: peerTLS: cert = ${path.join(dir, 'e1.etcd', 'fixtures', 'peer', 'cert.pem')}`,
    );

    // raftlab from the same kind of records (its own dnsmasq; RAFTLAB_DNS_SERVER instead of resolv.conf).
    const { c, dns: ours } = await srvSslCluster('raftlab.test');
    servers.push(ours);
    try {
      await c.leader(60_000);

      // embed's bootstrap lines: the same for each member, once names and ports are set aside
      // (the others' temporary names "0", "1" follow the records' order, which Go shuffles).
      const bootstrap = (lines: string[], peers: string[], self: string) =>
        untimed(lines)
          .filter((l) => l.includes('embed: got bootstrap from DNS'))
          .map((l) =>
            peers.reduce(
              (t, u, i) => t.replaceAll(u, `PEER${i}`),
              l.replace(` at ${self}=`, ' at SELF=').replace(/ at \d+=/, ' at OTHER='),
            ),
          )
          .sort();
      for (const [i, m] of members.entries()) {
        const n = `n${i + 1}`;
        const theirs = bootstrap(
          m.output,
          specs.map((s) => srvPeerURL(s, 'etcd.test')),
          m.spec.name,
        );
        const mine = bootstrap(
          c.output(n),
          ['n1', 'n2', 'n3'].map((x) => c.spec(x).peerURL),
          n,
        );
        expect(theirs).toHaveLength(3);
        // Which peer is "self" differs by index, so compare the shapes: one SELF, two OTHER, each https.
        expect(mine.map((l) => l.replace(/PEER\d/, 'PEER'))).toEqual(theirs.map((l) => l.replace(/PEER\d/, 'PEER')));
        expect(theirs).toContain(`N | embed: got bootstrap from DNS for etcd-server at SELF=PEER${i}`);
        expect(mine).toContain(`N | embed: got bootstrap from DNS for etcd-server at SELF=PEER${i}`);
      }
    } finally {
      await c.destroy();
    }
  }, 150_000);

  it('etcd 3.4.23 with only plain _etcd-server records fails (the etcd bug raftlab does not copy; bootstrap.test runs raftlab from such records)', async () => {
    const [s] = await loopbackSpecs('p', 0);
    if (!s) throw new Error('no loopback ports');
    const dns = await dnsOn53('plain.test', [
      {
        service: '_etcd-server._tcp.plain.test',
        target: `${s.name}.plain.test`,
        port: Number(new URL(s.peerURL).port),
      },
    ]);
    servers.push(dns);
    const [cmd, args] = etcdArgv(
      resolvConf(dns, 'plain'),
      etcdFlags(s, path.join(dir, 'plain.etcd'), 'plain.test').filter((f) => f !== '--peer-auto-tls'),
    );
    const r = await run(cmd, args, { timeoutMs: 30_000 });
    expect(r.code).toBe(1);
    const lines = untimed(`${r.out}\n${r.err}`.split('\n'));
    // The ssl lookup failed, so the plain records it found are dropped: nothing to bootstrap from.
    expect(lines.find((l) => l.includes("couldn't resolve during SRV discovery"))).toMatch(
      /^E \| embed: couldn't resolve during SRV discovery \(error querying DNS SRV records for _etcd-server-ssl lookup _etcd-server-ssl\._tcp\.plain\.test/,
    );
  });
});
