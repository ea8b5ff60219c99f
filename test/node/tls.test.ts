// Secured clusters as etcd 3.4 runs them: `raftlab node` processes with TLS on the client and the
// peer ports and client-certificate auth, used by Debian's etcdctl (v3 and v2) and curl with the
// right certificates, refused without them, and a real etcd 3.4 started with the same flags and
// certificates in the same test, its refusals logged the same way. A member whose peer
// certificate another CA signed cannot join. --auto-tls makes etcd's self-signed certificates.
import { X509Certificate } from 'node:crypto';
import fs from 'node:fs';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { clientTLSOptions, EMPTY_TLS_INFO, type TLSInfo } from '../../src-main/node/tls-info.js';
import { makeCA, makeCert, makeCRL, type CertAndKey } from '../../src-main/tls/certs.js';
import { nth } from '../helpers/checked.js';
import { TestCluster, until } from '../helpers/cluster.js';
import { DNSMASQ_BIN, srvSslCluster } from '../helpers/dnsmasq.js';
import { ETCD_BIN, EtcdCluster } from '../helpers/etcd-processes.js';
import { ProcessCluster } from '../helpers/processes.js';
import { run, type Run } from '../helpers/run.js';
import { needTools } from '../helpers/window.js';

const ETCDCTL = '/usr/bin/etcdctl';
const CURL = '/usr/bin/curl';
const have = needTools('TLS clusters against etcdctl, curl and a real etcd 3.4', [ETCDCTL, ETCD_BIN, CURL]);

let certDir: string;
const f = (name: string) => path.join(certDir, name);
const write = (name: string, c: CertAndKey) => {
  fs.writeFileSync(f(`${name}.pem`), c.certPem);
  fs.writeFileSync(f(`${name}-key.pem`), c.keyPem, { mode: 0o600 });
};

/** etcdctl v3 with the client certificate (or `auth` instead), short timeouts. */
const v3 = (
  endpoints: string,
  args: string[],
  auth = ['--cacert', 'ca.pem', '--cert', 'client.pem', '--key', 'client-key.pem'],
) =>
  run(
    ETCDCTL,
    [
      '--endpoints',
      endpoints,
      '--dial-timeout',
      '3s',
      '--command-timeout',
      '5s',
      ...auth.map((a) => (a.endsWith('.pem') ? f(a) : a)),
      ...args,
    ],
    { env: { ETCDCTL_API: '3' } },
  );
const v2 = (
  endpoint: string,
  args: string[],
  auth = ['--ca-file', 'ca.pem', '--cert-file', 'client.pem', '--key-file', 'client-key.pem'],
) =>
  run(
    ETCDCTL,
    ['--endpoints', endpoint, '--timeout', '3s', ...auth.map((a) => (a.endsWith('.pem') ? f(a) : a)), ...args],
    { env: { ETCDCTL_API: '2' } },
  );
const curl = (
  url: string,
  args: string[] = [],
  auth = ['--cacert', 'ca.pem', '--cert', 'client.pem', '--key', 'client-key.pem'],
) => run(CURL, ['-sS', '--max-time', '5', ...auth.map((a) => (a.endsWith('.pem') ? f(a) : a)), ...args, url]);

/**
 * The flags of a member of the secured cluster: client and peer TLS, both requiring certificates;
 * `peerPair` names the key pair it presents to its peers (the members' own unless told).
 */
const TLS_FLAGS = (peerPair = 'node') => [
  '--cert-file',
  f('node.pem'),
  '--key-file',
  f('node-key.pem'),
  '--trusted-ca-file',
  f('ca.pem'),
  '--client-cert-auth',
  '--client-crl-file',
  f('crl.pem'),
  '--peer-cert-file',
  f(`${peerPair}.pem`),
  '--peer-key-file',
  f(`${peerPair}-key.pem`),
  '--peer-trusted-ca-file',
  f('ca.pem'),
  '--peer-client-cert-auth',
  // Peers must present a certificate with this CN (the members' own).
  '--peer-cert-allowed-cn',
  'member',
];

/** `embed: rejected connection ...` lines without time stamps and with the client port as PORT. */
function rejections(lines: readonly string[]): string[] {
  return [
    ...new Set(
      lines
        .filter((l) => l.includes('rejected connection from'))
        .map((l) => l.slice(l.indexOf(' I | ') + 1).replace(/"127\.0\.0\.1:\d+"/, '"127.0.0.1:PORT"')),
    ),
  ];
}

/** Waits until etcdctl (with `auth`) finds both healthy: our members at `ours`, the real etcd at `theirs`. */
const untilBothHealthy = (what: string, ours: string, theirs: string, auth?: string[]) =>
  until(
    what,
    async () => {
      const runs = await Promise.all([ours, theirs].map((e) => v3(e, ['endpoint', 'health'], auth)));
      return runs.every((r) => r.code === 0);
    },
    60_000,
  );

beforeAll(async () => {
  if (!have) return;
  certDir = fs.mkdtempSync(path.join(os.tmpdir(), 'raftlab-tls-'));
  const ca = await makeCA({ commonName: 'raftlab test CA' });
  fs.writeFileSync(f('ca.pem'), ca.certPem);
  // One key pair for every member, server and client (peers present it to each other).
  write(
    'node',
    await makeCert(ca, { commonName: 'member', hosts: ['127.0.0.1', 'localhost'], usages: ['server', 'client'] }),
  );
  write('client', await makeCert(ca, { commonName: 'etcdctl', usages: ['client'] }));
  // The right CA, but for another address: the peer port's SAN check refuses it.
  // Signed by the CA, then revoked by its CRL.
  const revoked = await makeCert(ca, { commonName: 'revoked', usages: ['client'] });
  write('revoked', revoked);
  fs.writeFileSync(f('crl.pem'), await makeCRL(ca, [new X509Certificate(revoked.certPem).serialNumber]));
  write('elsewhere', await makeCert(ca, { commonName: 'member', hosts: ['127.0.0.2'], usages: ['server', 'client'] }));
  const other = await makeCA({ commonName: 'another CA' });
  fs.writeFileSync(f('other-ca.pem'), other.certPem);
  write(
    'other',
    await makeCert(other, { commonName: 'intruder', hosts: ['127.0.0.1', 'localhost'], usages: ['server', 'client'] }),
  );
});
afterAll(() => {
  if (certDir) fs.rmSync(certDir, { recursive: true, force: true });
});

describe.runIf(have)('a raftlab cluster with client and peer TLS and client-certificate auth', () => {
  let c: ProcessCluster;
  let etcd: EtcdCluster;
  const members = ['n1', 'n2', 'n3'];
  const endpoints = () => members.map((n) => c.spec(n).clientURL).join(',');

  beforeAll(async () => {
    c = await ProcessCluster.create(3, { scheme: 'https' });
    c.startStatic(members.length, TLS_FLAGS());
    // A real etcd 3.4, one member, the same flags and certificates, logging as raftlab does.
    etcd = await EtcdCluster.create(1, { scheme: 'https' });
    etcd.start('e1', etcd.initialCluster(1), [...TLS_FLAGS(), '--logger', 'capnslog', '--log-level', 'info']);
    await untilBothHealthy('every member and etcd healthy over TLS', endpoints(), etcd.spec('e1').clientURL);
  }, 90_000);
  afterAll(async () => {
    await c?.destroy();
    await etcd?.destroy();
  });

  it('says how it is secured, in etcd’s words', () => {
    const line = (name: string, lines: string[]) =>
      lines.map((l) => l.slice(l.indexOf(' I | ') + 1)).find((l) => l.startsWith(`I | embed: ${name}:`));
    for (const which of ['peerTLS', 'ClientTLS']) {
      const expected = line(which, etcd.output('e1'));
      const crl = which === 'ClientTLS' ? f('crl.pem') : '';
      expect(expected).toBe(
        `I | embed: ${which}: cert = ${f('node.pem')}, key = ${f('node-key.pem')}, trusted-ca = ${f('ca.pem')}, client-cert-auth = true, crl-file = ${crl}`,
      );
      for (const n of members) expect(line(which, c.output(n))).toBe(expected);
    }
    for (const n of members) {
      expect(
        c
          .output(n)
          .some((l) => l.endsWith(`I | embed: serving client requests on ${new URL(c.spec(n).clientURL).host}`)),
      ).toBe(true);
      expect(c.output(n).join('\n')).not.toMatch(/PRIVATE KEY|serving insecure/);
    }
  });

  it('etcdctl v3 with the client certificate: put, get, member list', async () => {
    expect(await v3(endpoints(), ['put', 'secured', 'yes'])).toMatchObject({ code: 0, out: 'OK\n' });
    expect(await v3(c.spec('n3').clientURL, ['get', 'secured', '--consistency', 'l'])).toMatchObject({
      code: 0,
      out: 'secured\nyes\n',
    });
    const list = await v3(endpoints(), ['member', 'list', '-w', 'json']);
    expect(list.code, list.err).toBe(0);
    const ms = (JSON.parse(list.out) as { members: { name: string; peerURLs: string[]; clientURLs: string[] }[] })
      .members;
    expect(ms.map((m) => [m.name, m.peerURLs, m.clientURLs]).sort()).toEqual(
      members.map((n) => [n, [c.spec(n).peerURL], [c.spec(n).clientURL]]),
    );
  });

  it('etcdctl v2 and curl with the client certificate: the v2 keys API and the v3 JSON gateway', async () => {
    const n2 = c.spec('n2').clientURL;
    expect(await v2(n2, ['set', '/v2key', 'v2value'])).toMatchObject({ code: 0, out: 'v2value\n' });
    expect(await v2(c.spec('n1').clientURL, ['get', '/v2key'])).toMatchObject({ code: 0, out: 'v2value\n' });
    const keys = await curl(`${n2}/v2/keys/v2key`);
    expect(keys.code, keys.err).toBe(0);
    expect(JSON.parse(keys.out)).toMatchObject({ action: 'get', node: { key: '/v2key', value: 'v2value' } });
    const range = await curl(`${n2}/v3/kv/range`, [
      '-X',
      'POST',
      '-d',
      JSON.stringify({ key: Buffer.from('secured').toString('base64') }),
    ]);
    expect(range.code, range.err).toBe(0);
    expect(JSON.parse(range.out).kvs[0]).toMatchObject({
      key: Buffer.from('secured').toString('base64'),
      value: Buffer.from('yes').toString('base64'),
    });
  });

  it('refuses clients without a certificate, or with another CA’s, as etcd 3.4 refuses them', async () => {
    const attempts: { what: string; port?: 'peer'; go: (url: string) => Promise<Run> }[] = [
      {
        what: 'etcdctl v3 without a certificate',
        go: (u) => v3(u, ['get', 'secured'], ['--cacert', 'ca.pem', '--dial-timeout', '2s']),
      },
      { what: 'etcdctl v2 without a certificate', go: (u) => v2(u, ['get', '/v2key'], ['--ca-file', 'ca.pem']) },
      { what: 'curl without a certificate', go: (u) => curl(`${u}/v2/keys/v2key`, [], ['--cacert', 'ca.pem']) },
      {
        what: "curl with another CA's certificate",
        go: (u) =>
          curl(`${u}/v2/keys/v2key`, [], ['--cacert', 'ca.pem', '--cert', 'other.pem', '--key', 'other-key.pem']),
      },
      {
        what: 'curl with a revoked certificate (--client-crl-file)',
        go: (u) =>
          curl(`${u}/v2/keys/v2key`, [], ['--cacert', 'ca.pem', '--cert', 'revoked.pem', '--key', 'revoked-key.pem']),
      },
      { what: 'plain HTTP to the TLS port', go: (u) => curl(`${u.replace('https:', 'http:')}/v2/keys/v2key`, [], []) },
      {
        what: 'a peer certificate with another CN (--peer-cert-allowed-cn)',
        port: 'peer',
        go: (u) => curl(`${u}/members`, [], ['--cacert', 'ca.pem', '--cert', 'client.pem', '--key', 'client-key.pem']),
      },
      {
        what: 'a peer whose certificate names another address (the SAN check)',
        port: 'peer',
        go: (u) =>
          curl(`${u}/members`, [], ['--cacert', 'ca.pem', '--cert', 'elsewhere.pem', '--key', 'elsewhere-key.pem']),
      },
    ];
    const ours = { url: c.spec('n1').clientURL, peer: c.spec('n1').peerURL, log: () => c.output('n1') };
    const theirs = { url: etcd.spec('e1').clientURL, peer: etcd.spec('e1').peerURL, log: () => etcd.output('e1') };
    for (const a of attempts) {
      const seen = [rejections(ours.log()).length, rejections(theirs.log()).length];
      const [r1, r2] = await Promise.all([
        a.go(a.port === 'peer' ? ours.peer : ours.url),
        a.go(a.port === 'peer' ? theirs.peer : theirs.url),
      ]);
      // Both refuse, and neither answers anything.
      expect(r1.code, `${a.what} (raftlab): ${r1.out}`).not.toBe(0);
      expect(r2.code, `${a.what} (etcd): ${r2.out}`).not.toBe(0);
      expect(r1.out).not.toMatch(/v2value|yes/);
      // The same line in both logs for this attempt.
      const [mine, real] = await until(
        `${a.what}: a rejected-connection line in both logs`,
        () => {
          const m = rejections(ours.log()).slice(seen[0]);
          const r = rejections(theirs.log()).slice(seen[1]);
          return m.length > 0 && r.length > 0 && [m, r];
        },
        10_000,
      ).catch(() => [rejections(ours.log()).slice(seen[0]), rejections(theirs.log()).slice(seen[1])]);
      expect(mine, a.what).toEqual(real);
    }
    // The refusals said why, in Go's words.
    expect(rejections(ours.log())).toEqual(
      expect.arrayContaining([
        'I | embed: rejected connection from "127.0.0.1:PORT" (error "tls: client didn\'t provide a certificate", ServerName "")',
        'I | embed: rejected connection from "127.0.0.1:PORT" (error "tls: failed to verify client certificate: x509: certificate signed by unknown authority", ServerName "")',
        'I | embed: rejected connection from "127.0.0.1:PORT" (error "tls: first record does not look like a TLS handshake", ServerName "")',
        'I | embed: rejected connection from "127.0.0.1:PORT" (error "x509: certificate is valid for 127.0.0.2, not 127.0.0.1", ServerName "", IPAddresses ["127.0.0.2"], DNSNames [])',
        'I | embed: rejected connection from "127.0.0.1:PORT" (error "client certificate authentication failed", ServerName "", IPAddresses [], DNSNames [])',
        expect.stringMatching(
          /^I \| embed: rejected connection from "127\.0\.0\.1:PORT" \(error "transport: certificate serial [0-9a-f]+ revoked", ServerName "", IPAddresses \[\], DNSNames \[\]\)$/,
        ),
      ]),
    );
    // etcdctl v2 exits as it does against etcd: the cluster is unavailable to it.
    const v2Attempt = nth(attempts, 1, 'the etcdctl v2 attempt');
    const [o, t] = await Promise.all([v2Attempt.go(ours.url), v2Attempt.go(theirs.url)]);
    expect(o.code).toBe(t.code);
  }, 120_000);

  it('a member whose peer certificate another CA signed cannot join', async () => {
    const spare = nth(c.specs, 3, 'the spare spec');
    const add = await v3(endpoints(), ['member', 'add', spare.name, `--peer-urls=${spare.peerURL}`]);
    expect(add.code, add.err).toBe(0);
    const seen = members.map((n) => rejections(c.output(n)).length);
    /** The spare started to join the cluster, presenting key pair `peerPair` to its peers. */
    const join = (peerPair: string) =>
      c.start(spare.name, {}, [
        '--name',
        spare.name,
        '--initial-cluster',
        `${c.initialCluster()},${spare.name}=${spare.peerURL}`,
        '--initial-cluster-state',
        'existing',
        ...TLS_FLAGS(peerPair),
      ]);
    // It trusts the cluster's CA and has a good client-port certificate: only its peer
    // certificate is from elsewhere.
    join('other');
    const code = await c.exited(spare.name, 30_000);
    expect(code, c.output(spare.name).join('\n')).not.toBe(0);
    const fatal = c.output(spare.name).filter((l) => / C \| /.test(l));
    expect(fatal, c.output(spare.name).join('\n')).toHaveLength(1);
    // The members close its connections after their verdict: it reads EOF, as from etcd.
    expect(fatal[0]).toMatch(/C \| etcdmain: cannot join the cluster: https:\/\/127\.0\.0\.1:\d+: EOF; /);
    // Its handshakes were refused by the members, logged as etcd logs them.
    const refused = members.flatMap((n, i) => rejections(c.output(n)).slice(seen[i]));
    expect(refused).toContain(
      'I | embed: rejected connection from "127.0.0.1:PORT" (error "tls: failed to verify client certificate: x509: certificate signed by unknown authority", ServerName "")',
    );
    // The cluster's member for it stays unstarted.
    const list = await v3(endpoints(), ['member', 'list']);
    expect(list.code, list.err).toBe(0);
    expect(list.out).toMatch(new RegExp(`, unstarted, , ${spare.peerURL.replace(/[.]/g, '\\.')}, , false`));
    expect(await v3(endpoints(), ['put', 'after-intruder', 'still-fine'])).toMatchObject({ code: 0 });

    // The same member with the cluster's own certificates joins over TLS (members list fetched
    // over https, streams and probes too), catches up and publishes.
    fs.rmSync(c.dataDir(spare.name), { recursive: true, force: true });
    join('node');
    await until(
      'the fourth member started and serving',
      async () => {
        const r = await v3(spare.clientURL, ['get', 'after-intruder', '--print-value-only', '--consistency', 'l']);
        return r.code === 0 && r.out === 'still-fine\n';
      },
      30_000,
    );
    const after = await v3(endpoints(), ['member', 'list']);
    expect(after.out).toContain(`, started, ${spare.name}, ${spare.peerURL}, ${spare.clientURL}, false`);
  }, 90_000);
});

describe.runIf(have)('--auto-tls and --peer-auto-tls', () => {
  let c: ProcessCluster;
  let etcd: EtcdCluster;
  // etcdctl 3.4 applies --insecure-skip-tls-verify only when it has a key pair of its own to
  // present (without one it checks the server's certificate anyway: etcd issue #8793), so
  // against an auto-TLS member it is given one; any will do, nothing asks for it.
  const INSECURE = ['--insecure-skip-tls-verify', '--cert', 'client.pem', '--key', 'client-key.pem'];

  beforeAll(async () => {
    c = await ProcessCluster.create(1, { scheme: 'https' });
    // One TLS 1.2 suite allowed (ECDSA keys: etcd's self-signed certificates are P-521).
    const suites = ['--cipher-suites', 'TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256'];
    c.startStatic(1, ['--auto-tls', '--peer-auto-tls', ...suites]);
    etcd = await EtcdCluster.create(1, { scheme: 'https' });
    etcd.start('e1', etcd.initialCluster(1), [
      '--auto-tls',
      '--peer-auto-tls',
      ...suites,
      '--logger',
      'capnslog',
      '--log-level',
      'info',
    ]);
    await untilBothHealthy(
      'both serve over their self-signed certificates',
      c.spec('n1').clientURL,
      etcd.spec('e1').clientURL,
      INSECURE,
    );
  }, 90_000);
  afterAll(async () => {
    await c?.destroy();
    await etcd?.destroy();
  });

  it('serves etcdctl --insecure-skip-tls-verify and curl -k; a client that checks the certificate refuses it, as with etcd', async () => {
    const url = c.spec('n1').clientURL;
    expect(await v3(url, ['put', 'auto', 'tls'], INSECURE)).toMatchObject({ code: 0, out: 'OK\n' });
    expect(await v3(url, ['get', 'auto'], INSECURE)).toMatchObject({ code: 0, out: 'auto\ntls\n' });
    expect((await curl(`${url}/v2/keys/`, [], ['-k'])).code).toBe(0);
    for (const u of [url, etcd.spec('e1').clientURL]) {
      // --cipher-suites limits TLS 1.2 to the suites named; TLS 1.3 is as Go leaves it.
      expect(
        (await curl(`${u}/version`, ['--tls-max', '1.2', '--ciphers', 'ECDHE-ECDSA-AES128-GCM-SHA256'], ['-k'])).code,
        u,
      ).toBe(0);
      expect(
        (await curl(`${u}/version`, ['--tls-max', '1.2', '--ciphers', 'ECDHE-ECDSA-AES256-GCM-SHA384'], ['-k'])).code,
        u,
      ).toBe(35);
      expect((await curl(`${u}/version`, [], [])).code).toBe(60); // curl: the certificate could not be verified
      expect((await v3(u, ['get', 'auto'], ['--insecure-skip-tls-verify', '--dial-timeout', '2s'])).code, u).toBe(1);
    }
  }, 60_000);

  it("makes etcd's self-signed certificates in <data-dir>/fixtures", () => {
    const fixtures = (dataDir: string, which: string) => {
      const dir = path.join(dataDir, 'fixtures', which);
      const cert = new X509Certificate(fs.readFileSync(path.join(dir, 'cert.pem')));
      const keyFile = path.join(dir, 'key.pem');
      return {
        subject: cert.subject,
        issuer: cert.issuer,
        san: cert.subjectAltName,
        ca: cert.ca,
        usages: cert.keyUsage,
        curve: cert.publicKey.asymmetricKeyDetails?.namedCurve,
        days: Math.round((Date.parse(cert.validTo) - Date.parse(cert.validFrom)) / 86_400_000),
        keyPem: fs.readFileSync(keyFile, 'utf8').split('\n')[0],
        keyMode: fs.statSync(keyFile).mode & 0o777,
      };
    };
    for (const which of ['client', 'peer']) {
      const theirs = fixtures(path.join(etcd.dir, 'e1.etcd'), which);
      const ours = fixtures(path.join(c.dir, 'n1.etcd'), which);
      expect(ours).toEqual(theirs);
      expect(ours).toMatchObject({
        subject: 'O=etcd',
        san: 'IP Address:127.0.0.1',
        curve: 'secp521r1',
        keyPem: '-----BEGIN EC PRIVATE KEY-----',
        keyMode: 0o600,
      });
    }
    // And says so, as etcd does (paths aside).
    const tlsLines = (lines: string[], dir: string) =>
      lines
        .filter((l) => /embed: (peerTLS|ClientTLS):/.test(l))
        .map((l) => l.slice(l.indexOf(' I | ') + 1).replaceAll(dir, 'DATA'));
    expect(tlsLines(c.output('n1'), path.join(c.dir, 'n1.etcd'))).toEqual(
      tlsLines(etcd.output('e1'), path.join(etcd.dir, 'e1.etcd')),
    );
  });
});

describe.runIf(have && needTools('DNS SRV discovery of TLS peers', [DNSMASQ_BIN]))(
  'DNS SRV discovery of https peers (_etcd-server-ssl) with --peer-auto-tls',
  () => {
    it('three members find each other in the records and talk TLS with their self-signed certificates', async () => {
      const { c, dns } = await srvSslCluster('example.test');
      try {
        const leader = await c.leader(60_000);
        const list = await run(ETCDCTL, ['--endpoints', c.spec(leader).clientURL, 'member', 'list', '-w', 'json'], {
          env: { ETCDCTL_API: '3' },
        });
        expect(list.code, list.err).toBe(0);
        const ms = (JSON.parse(list.out) as { members: { name: string; peerURLs: string[] }[] }).members;
        expect(ms.map((m) => [m.name, m.peerURLs[0]]).sort()).toEqual(
          ['n1', 'n2', 'n3'].map((n) => [n, c.spec(n).peerURL]),
        );
        for (const n of ['n1', 'n2', 'n3']) {
          const out = c.output(n).join('\n');
          expect(out).toContain(`N | embed: got bootstrap from DNS for etcd-server at ${n}=${c.spec(n).peerURL}`);
          expect(out).toContain(
            `I | embed: peerTLS: cert = ${path.join(c.dir, `${n}.etcd`, 'fixtures', 'peer', 'cert.pem')}`,
          );
          // (A handshake a peer gave up on at start-up, busy making keys, is logged as EOF, as etcd logs it.)
          expect(out, out).not.toMatch(/rejected connection .*error "(tls|x509|remote error)/);
        }
        expect(
          (
            await run(ETCDCTL, ['--endpoints', c.spec('n1').clientURL, 'put', 'srv', 'ssl'], {
              env: { ETCDCTL_API: '3' },
            })
          ).code,
        ).toBe(0);
        expect(
          (
            await run(ETCDCTL, ['--endpoints', c.spec('n3').clientURL, 'get', 'srv', '--print-value-only'], {
              env: { ETCDCTL_API: '3' },
            })
          ).out,
        ).toBe('ssl\n');
      } finally {
        await dns.stop();
        await c.destroy();
      }
    }, 120_000);
  },
);

describe('nodes started in this process with TLS settings, as the app’s workers start them', () => {
  it('elect a leader over https peers, serve https clients with certificates, refuse the others', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'raftlab-tls-inproc-'));
    const c = await TestCluster.create(3, { start: false });
    try {
      const ca = await makeCA({ commonName: 'in-process CA' });
      const node = await makeCert(ca, { hosts: ['127.0.0.1'], usages: ['server', 'client'] });
      const file = (name: string, text: string) => (fs.writeFileSync(path.join(dir, name), text), path.join(dir, name));
      const info: TLSInfo = {
        ...EMPTY_TLS_INFO,
        certFile: file('node.pem', node.certPem),
        keyFile: file('node-key.pem', node.keyPem),
        trustedCAFile: file('ca.pem', ca.certPem),
        clientCertAuth: true,
      };
      for (const s of c.specs)
        Object.assign(s, {
          peerURL: s.peerURL.replace('http:', 'https:'),
          clientURL: s.clientURL.replace('http:', 'https:'),
        });
      await Promise.all(c.specs.map((s) => c.start(s.name, { ...c.settings(s.name), peerTLS: info, clientTLS: info })));
      const leader = await c.leader(20_000);
      const ask = (name: string, p: string, o: { method?: string; body?: string; tls?: TLSInfo } = {}) =>
        new Promise<{ status: number; body: string }>((resolve, reject) => {
          const req = https.request(new URL(p, c.url(name)), {
            method: o.method ?? 'GET',
            ...clientTLSOptions(o.tls ?? { ...EMPTY_TLS_INFO, trustedCAFile: info.trustedCAFile }),
            agent: false,
            headers: o.body ? { 'Content-Type': 'application/x-www-form-urlencoded' } : {},
          });
          req.on('error', reject);
          req.on('response', (res) => {
            let body = '';
            res.on('data', (b) => (body += b));
            res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
          });
          req.end(o.body);
        });
      expect((await ask(leader, '/v2/keys/k', { method: 'PUT', body: 'value=in-process', tls: info })).status).toBe(
        201,
      );
      const other = c.specs.map((s) => s.name).find((n) => n !== leader)!;
      expect(JSON.parse((await ask(other, '/v2/keys/k?quorum=true', { tls: info })).body).node.value).toBe(
        'in-process',
      );
      // Without a certificate: refused at the handshake, and logged.
      await expect(ask(other, '/v2/keys/k')).rejects.toThrow();
      await until('the refusal logged', () =>
        c.logs
          .get(other)!
          .some((l) =>
            /^I \| embed: rejected connection from "127\.0\.0\.1:\d+" \(error "tls: client didn't provide a certificate", ServerName ""\)$/.test(
              l,
            ),
          ),
      );
      expect(c.logs.get(leader)!.join('\n')).not.toContain('PRIVATE KEY');
    } finally {
      await c.destroy();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);
});
