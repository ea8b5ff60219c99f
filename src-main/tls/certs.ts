// Making certificates: a CA, certificates it signs, and self-signed ones like etcd's --auto-tls
// (pkg/transport/listener.go SelfCert). The one module that uses @peculiar/x509.
//
// The library (and reflect-metadata, which it needs loaded first) is imported on first use:
// loading it takes about a second, which a node without --auto-tls must not pay at start (a
// static import would be hoisted into the `raftlab node` bundle).
//
// Keys are ECDSA (WebCrypto through Node's crypto); private keys come back as PEM, PKCS#8
// ("PRIVATE KEY") or, where etcd writes them so, SEC1 ("EC PRIVATE KEY"). Nothing here logs.
import { createPrivateKey, randomBytes, webcrypto } from 'node:crypto';
import { isIP } from 'node:net';
import type * as X509 from '@peculiar/x509';

const subtle = webcrypto.subtle;
let library: Promise<typeof X509> | undefined;

function x509lib(): Promise<typeof X509> {
  return (library ??= (async () => {
    await import('reflect-metadata');
    const lib = await import('@peculiar/x509');
    lib.cryptoProvider.set(webcrypto as unknown as Crypto);
    return lib;
  })());
}

export type Curve = 'P-256' | 'P-384' | 'P-521';
/** What a certificate may be used for: serving TLS, presenting itself as a TLS client, or both. */
export type CertUsage = 'server' | 'client';

export interface CertAndKey {
  /** PEM, one CERTIFICATE block. */
  certPem: string;
  /** PEM, the private key (PKCS#8 unless asked for SEC1). */
  keyPem: string;
}

/** A certificate authority: its certificate and the key it signs with. */
export type CertificateAuthority = CertAndKey;

export interface CertOptions {
  commonName?: string;
  organization?: string;
  /** Hostnames and IP addresses the certificate is valid for (subject alternative names). */
  hosts?: string[];
  usages?: CertUsage[];
  validDays?: number;
  curve?: Curve;
  /** Write the key as SEC1 ("EC PRIVATE KEY"), as Go's x509.MarshalECPrivateKey does. */
  sec1Key?: boolean;
}

const DAY_MS = 24 * 60 * 60 * 1000;
const HASH: Record<Curve, string> = { 'P-256': 'SHA-256', 'P-384': 'SHA-384', 'P-521': 'SHA-512' };

function algorithm(curve: Curve) {
  return { name: 'ECDSA', namedCurve: curve, hash: HASH[curve] };
}

/** A random positive serial number of 128 bits (as etcd's SelfCert draws it). */
function serialNumber(): string {
  const b = randomBytes(16);
  b[0] = b[0]! & 0x7f; // positive in DER
  if (b[0] === 0) b[0] = 1; // and no leading zero byte
  return b.toString('hex');
}

function subjectName(o: { commonName?: string; organization?: string }): string {
  // @peculiar/x509's string form is RFC 4514: escape what would split it.
  const esc = (s: string) => s.replace(/([,+"\\<>;=])/g, '\\$1');
  const parts: string[] = [];
  if (o.commonName) parts.push(`CN=${esc(o.commonName)}`);
  if (o.organization) parts.push(`O=${esc(o.organization)}`);
  return parts.join(', ');
}

function altNames(x509: typeof X509, hosts: readonly string[]): X509.SubjectAlternativeNameExtension | null {
  const names = hosts.map((h) => {
    const bare = h.replace(/^\[|\]$/g, '');
    return isIP(bare) ? { type: 'ip' as const, value: bare } : { type: 'dns' as const, value: h };
  });
  return names.length > 0 ? new x509.SubjectAlternativeNameExtension(names) : null;
}

async function exportKey(key: CryptoKey, sec1: boolean): Promise<string> {
  const der = Buffer.from(await subtle.exportKey('pkcs8', key));
  if (!sec1)
    return createPrivateKey({ key: der, format: 'der', type: 'pkcs8' })
      .export({ type: 'pkcs8', format: 'pem' })
      .toString();
  return createPrivateKey({ key: der, format: 'der', type: 'pkcs8' })
    .export({ type: 'sec1', format: 'pem' })
    .toString();
}

async function importSigningKey(
  x509: typeof X509,
  ca: CertificateAuthority,
): Promise<{ key: CryptoKey; curve: Curve; cert: X509.X509Certificate }> {
  const cert = new x509.X509Certificate(ca.certPem);
  const k = createPrivateKey(ca.keyPem);
  const curve = ({ prime256v1: 'P-256', secp384r1: 'P-384', secp521r1: 'P-521' } as Record<string, Curve>)[
    k.asymmetricKeyDetails?.namedCurve ?? ''
  ];
  if (!curve) throw new Error('the CA key is not an ECDSA key on P-256, P-384 or P-521');
  const der = k.export({ type: 'pkcs8', format: 'der' });
  const key = await subtle.importKey('pkcs8', der, { name: 'ECDSA', namedCurve: curve }, false, ['sign']);
  return { key, curve, cert };
}

/** A self-signed CA certificate (it signs certificates, nothing else). */
export async function makeCA(o: {
  commonName: string;
  organization?: string;
  validDays?: number;
  curve?: Curve;
}): Promise<CertificateAuthority> {
  const x509 = await x509lib();
  const curve = o.curve ?? 'P-256';
  const keys = (await subtle.generateKey(algorithm(curve), true, ['sign', 'verify'])) as CryptoKeyPair;
  const now = Date.now();
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: serialNumber(),
    name: subjectName(o),
    notBefore: new Date(now - 60_000),
    notAfter: new Date(now + (o.validDays ?? 3650) * DAY_MS),
    signingAlgorithm: algorithm(curve),
    keys,
    extensions: [
      new x509.BasicConstraintsExtension(true, undefined, true),
      new x509.KeyUsagesExtension(
        x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign | x509.KeyUsageFlags.digitalSignature,
        true,
      ),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  return { certPem: cert.toString('pem'), keyPem: await exportKey(keys.privateKey, false) };
}

/**
 * A leaf certificate: signed by `ca`, or self-signed when `ca` is null (then it is its own
 * issuer, as etcd's auto-TLS certificates are). Not a CA.
 */
export async function makeCert(ca: CertificateAuthority | null, o: CertOptions = {}): Promise<CertAndKey> {
  const x509 = await x509lib();
  const curve = o.curve ?? 'P-256';
  const keys = (await subtle.generateKey(algorithm(curve), true, ['sign', 'verify'])) as CryptoKeyPair;
  const usages = o.usages ?? ['server', 'client'];
  const now = Date.now();
  const extensions: X509.Extension[] = [
    new x509.BasicConstraintsExtension(false, undefined, true),
    new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment, true),
    new x509.ExtendedKeyUsageExtension(
      usages.map((u) => (u === 'server' ? x509.ExtendedKeyUsage.serverAuth : x509.ExtendedKeyUsage.clientAuth)),
    ),
  ];
  const san = altNames(x509, o.hosts ?? []);
  if (san) extensions.push(san);
  const common = {
    serialNumber: serialNumber(),
    notBefore: new Date(now - 60_000),
    notAfter: new Date(now + (o.validDays ?? 365) * DAY_MS),
    extensions,
  };
  let cert: X509.X509Certificate;
  if (ca === null) {
    cert = await x509.X509CertificateGenerator.createSelfSigned({
      ...common,
      name: subjectName(o),
      keys,
      signingAlgorithm: algorithm(curve),
    });
  } else {
    const issuer = await importSigningKey(x509, ca);
    extensions.push(await x509.AuthorityKeyIdentifierExtension.create(issuer.cert.publicKey));
    cert = await x509.X509CertificateGenerator.create({
      ...common,
      subject: subjectName(o),
      issuer: issuer.cert.subject,
      publicKey: keys.publicKey,
      signingKey: issuer.key,
      signingAlgorithm: algorithm(issuer.curve),
    });
  }
  return { certPem: cert.toString('pem'), keyPem: await exportKey(keys.privateKey, o.sec1Key ?? false) };
}

/**
 * etcd's SelfCert certificate for `hosts` ("host:port", as etcd passes its listen URLs' hosts):
 * subject O=etcd, valid a year from now, ECDSA P-521 signed with SHA-512, key usage digital
 * signature and key encipherment, extended usage server auth, the hosts as IP or DNS names.
 */
export function etcdSelfCert(hosts: readonly string[], validDays = 365): Promise<CertAndKey> {
  const names = hosts.map((h) => {
    // Go's net.SplitHostPort; a host without a port gives "" (and etcd adds the empty DNS name).
    const m = /^\[([^\]]*)\]:[^:]*$/.exec(h) ?? /^([^:]*):[^:]*$/.exec(h);
    return m ? m[1]! : '';
  });
  return makeCert(null, {
    organization: 'etcd',
    hosts: names,
    usages: ['server'],
    validDays,
    curve: 'P-521',
    sec1Key: true,
  });
}

/** A CRL signed by `ca` revoking the certificates with these serial numbers (hex), PEM ("X509 CRL"). */
export async function makeCRL(ca: CertificateAuthority, revokedSerials: readonly string[]): Promise<string> {
  const x509 = await x509lib();
  const issuer = await importSigningKey(x509, ca);
  const now = Date.now();
  const crl = await x509.X509CrlGenerator.create({
    issuer: issuer.cert.subject,
    thisUpdate: new Date(now - 60_000),
    nextUpdate: new Date(now + 30 * DAY_MS),
    signingAlgorithm: algorithm(issuer.curve),
    signingKey: issuer.key,
    entries: revokedSerials.map((serialNumber) => ({ serialNumber, revocationDate: new Date(now - 60_000) })),
  });
  // RFC 7468's label, the one Go's x509.ParseCRL looks for (the library writes "CRL").
  const b64 = Buffer.from(crl.rawData)
    .toString('base64')
    .replace(/(.{64})/g, '$1\n')
    .replace(/\n$/, '');
  return `-----BEGIN X509 CRL-----\n${b64}\n-----END X509 CRL-----\n`;
}

/**
 * The serial numbers a CRL (PEM or DER, as Go's x509.ParseCRL takes it) revokes, as lower-case
 * hex of their big-endian bytes without leading zero bytes (Go's big.Int.Bytes()).
 */
export async function crlRevokedSerials(data: Buffer): Promise<string[]> {
  const x509 = await x509lib();
  // Go's ParseCRL: PEM when it starts so, else DER.
  const text = data.toString('latin1');
  let der: Buffer = data;
  if (text.startsWith('-----BEGIN X509 CRL')) {
    const m = /-----BEGIN X509 CRL-----([\s\S]*?)-----END X509 CRL-----/.exec(text);
    if (!m) throw new Error('x509: malformed crl');
    der = Buffer.from(m[1]!.replace(/\s+/g, ''), 'base64');
  }
  let crl: X509.X509Crl;
  try {
    crl = new x509.X509Crl(new Uint8Array(der).buffer);
  } catch {
    throw new Error('x509: malformed crl');
  }
  return crl.entries.map((e) => serialBytesHex(e.serialNumber));
}

/** A serial number's hex as Go's big.Int.Bytes() would print it with %x. */
export function serialBytesHex(hex: string): string {
  let h = hex.toLowerCase().replace(/[^0-9a-f]/g, '');
  if (h.length % 2 === 1) h = `0${h}`;
  while (h.startsWith('00') && h.length > 2) h = h.slice(2);
  return h;
}
