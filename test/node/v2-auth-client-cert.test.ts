// v2 auth with etcd's --client-cert-auth: without an Authorization header, the verified client
// certificate's common name (or, as in etcd, any common name up its chain) names the user.
// A real TLS connection on loopback, certificates made here with @peculiar/x509.
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { webcrypto } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { V2AuthApi } from '../../src-main/node/api-v2/auth.js';
import { AuthStore } from '../../src-main/node/store-v2/auth-store.js';
import { V2Store } from '../../src-main/node/store-v2.js';
import type { V2Command, V2ReadRequest } from '../../src-main/node/store-v2/types.js';

x509.cryptoProvider.set(webcrypto as unknown as Crypto);
const ALG = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' };

async function keyPair(): Promise<CryptoKeyPair> {
  return (await webcrypto.subtle.generateKey(ALG, true, ['sign', 'verify'])) as CryptoKeyPair;
}

async function pemKey(k: CryptoKey): Promise<string> {
  const der = Buffer.from(await webcrypto.subtle.exportKey('pkcs8', k));
  return `-----BEGIN PRIVATE KEY-----\n${der.toString('base64').replace(/.{64}/g, '$&\n')}\n-----END PRIVATE KEY-----\n`;
}

async function issue(
  ca: { cert: x509.X509Certificate; keys: CryptoKeyPair },
  cn: string,
  server: boolean,
): Promise<{ cert: string; key: string }> {
  const keys = await keyPair();
  const extensions: x509.Extension[] = [
    new x509.ExtendedKeyUsageExtension([server ? x509.ExtendedKeyUsage.serverAuth : x509.ExtendedKeyUsage.clientAuth]),
  ];
  if (server) extensions.push(new x509.SubjectAlternativeNameExtension([{ type: 'ip', value: '127.0.0.1' }]));
  const cert = await x509.X509CertificateGenerator.create({
    subject: `CN=${cn}`,
    issuer: ca.cert.subject,
    publicKey: keys.publicKey,
    signingKey: ca.keys.privateKey,
    signingAlgorithm: ALG,
    extensions,
    notBefore: new Date(Date.now() - 60_000),
    notAfter: new Date(Date.now() + 3_600_000),
  });
  return { cert: cert.toString('pem'), key: await pemKey(keys.privateKey) };
}

let server: https.Server | undefined;
afterEach(async () => {
  await new Promise((r) => (server ? server.close(r) : r(undefined)));
  server = undefined;
});

describe('v2 auth by client certificate', () => {
  it('the certificate’s CN is the user when no Authorization header is sent; Basic auth still wins when sent', async () => {
    const caKeys = await keyPair();
    const caCert = await x509.X509CertificateGenerator.createSelfSigned({
      name: 'CN=raftlab-test-ca',
      keys: caKeys,
      signingAlgorithm: ALG,
      extensions: [
        new x509.BasicConstraintsExtension(true, undefined, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign, true),
      ],
      notBefore: new Date(Date.now() - 60_000),
      notAfter: new Date(Date.now() + 3_600_000),
    });
    const ca = { cert: caCert, keys: caKeys };
    const [srv, alice, carol] = await Promise.all([
      issue(ca, '127.0.0.1', true),
      issue(ca, 'alice', false),
      issue(ca, 'carol', false),
    ]);

    const store = new V2Store();
    const now = Date.now();
    const doer = {
      write: async (c: Omit<V2Command, 'now'>) => store.apply({ ...c, now } as V2Command),
      read: async (r: V2ReadRequest) => store.get(r.path, r, now),
      lookupLocal: (r: Omit<V2ReadRequest, 'quorum'>) => store.lookup(r.path, r, now),
    };
    const auth = new AuthStore(doer, undefined, 4);
    await auth.createUser({ user: 'root', password: 'Root-PW', roles: null, grant: null, revoke: null });
    await auth.createUser({ user: 'alice', password: 'Alice-PW', roles: ['root'], grant: null, revoke: null });
    await auth.createRole({
      role: 'guest',
      permissions: { kv: { read: ['/open'], write: [] } },
      grant: null,
      revoke: null,
    });
    await auth.enableAuth();
    const logs: string[] = [];
    const api = new V2AuthApi(
      auth,
      () => 'cid',
      (level, pkg, msg) => logs.push(`${level} | ${pkg}: ${msg}`),
      true,
    );

    server = https.createServer(
      { key: srv.key, cert: srv.cert, ca: caCert.toString('pem'), requestCert: true, rejectUnauthorized: false },
      (req, res) => {
        const r = { method: req.method!, path: req.url!, rawQuery: '', raw: req };
        void Promise.all([
          api.hasRootAccess(r),
          api.hasKeyPrefixAccess(r, '/open', false),
          api.hasKeyPrefixAccess(r, '/closed', false),
        ]).then((v) => res.end(JSON.stringify(v)));
      },
    );
    await new Promise<void>((r) => server!.listen(0, '127.0.0.1', r));
    const port = (server.address() as AddressInfo).port;
    const ask = (client: { cert: string; key: string } | null, authorization?: string) =>
      new Promise<[boolean, boolean, boolean]>((resolve, reject) => {
        const req = https.request(
          {
            host: '127.0.0.1',
            port,
            path: '/v2/auth/users',
            method: 'GET',
            ca: caCert.toString('pem'),
            ...(client ?? {}),
            headers: authorization ? { Authorization: authorization } : {},
            agent: false,
          },
          (res) => {
            let body = '';
            res.on('data', (b: Buffer) => (body += b.toString()));
            res.on('end', () => resolve(JSON.parse(body) as [boolean, boolean, boolean]));
          },
        );
        req.on('error', reject);
        req.end();
      });
    // [root access, may read /open, may read /closed]
    expect(await ask(alice)).toEqual([true, true, true]);
    expect(await ask(carol)).toEqual([false, true, false]); // no such user: the guest role's
    expect(await ask(null)).toEqual([false, true, false]);
    expect(await ask(alice, `Basic ${Buffer.from('alice:wrong').toString('base64')}`)).toEqual([false, false, false]);
    expect(await ask(carol, `Basic ${Buffer.from('root:Root-PW').toString('base64')}`)).toEqual([true, true, true]);
    expect(logs.filter((l) => l.startsWith('W'))).toContain(
      'W | etcdserver/api/v2http: auth: incorrect password for user: alice',
    );
  });
});
