// etcd's TLSInfo (pkg/transport/listener.go): what a client or peer port is secured with, how
// etcd prints it, and what it becomes for Node's TLS: the server side (certificate, client
// certificates required and checked against the trusted CA) and the client side (the same
// certificate presented to peers, their certificates checked against the same CA).
//
// Files are read when the options are made, with Go's error texts ("open x: no such file or
// directory", "tls: private key does not match public key"), as etcd reads them when it
// builds its tls.Config. etcd re-reads the key pair on every handshake (to pick up renewed
// certificates); raftlab reads it once per start.
import { X509Certificate } from 'node:crypto';
import dns from 'node:dns/promises';
import fs from 'node:fs';
import { isIP } from 'node:net';
import path from 'node:path';
import tls, { type TLSSocket } from 'node:tls';
import { x509Names } from '../net/tls-server.js';
import { crlRevokedSerials, etcdSelfCert, serialBytesHex } from '../tls/certs.js';
import { quote, quoteSlice } from './go/strconv.js';
import { embed, type EtcdMsg } from './log.js';

export interface TLSInfo {
  certFile: string;
  keyFile: string;
  trustedCAFile: string;
  clientCertAuth: boolean;
  crlFile: string;
  /** --peer-cert-allowed-cn: a peer's certificate must carry exactly this CN. */
  allowedCN: string;
  /** --client-cert-allowed-hostname / --peer-cert-allowed-hostname. */
  allowedHostname: string;
  /** --experimental-peer-skip-client-san-verification. */
  skipClientSANVerify: boolean;
  /** Made by --auto-tls / --peer-auto-tls: as a client, nothing about the peer is verified. */
  selfCert: boolean;
  /** --cipher-suites, Go's names (TLS 1.2 and below; TLS 1.3's are not configurable, as in Go). */
  cipherSuites: string[];
}

export const EMPTY_TLS_INFO: TLSInfo = {
  certFile: '',
  keyFile: '',
  trustedCAFile: '',
  clientCertAuth: false,
  crlFile: '',
  allowedCN: '',
  allowedHostname: '',
  skipClientSANVerify: false,
  selfCert: false,
  cipherSuites: [],
};

/** Go's cipher suite names (crypto/tls CipherSuites and InsecureCipherSuites, tlsutil's aliases) → OpenSSL's. */
const GO_CIPHER_SUITES: Record<string, string> = {
  TLS_RSA_WITH_AES_128_CBC_SHA: 'AES128-SHA',
  TLS_RSA_WITH_AES_256_CBC_SHA: 'AES256-SHA',
  TLS_RSA_WITH_AES_128_GCM_SHA256: 'AES128-GCM-SHA256',
  TLS_RSA_WITH_AES_256_GCM_SHA384: 'AES256-GCM-SHA384',
  TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA: 'ECDHE-ECDSA-AES128-SHA',
  TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA: 'ECDHE-ECDSA-AES256-SHA',
  TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA: 'ECDHE-RSA-AES128-SHA',
  TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA: 'ECDHE-RSA-AES256-SHA',
  TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256: 'ECDHE-ECDSA-AES128-GCM-SHA256',
  TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384: 'ECDHE-ECDSA-AES256-GCM-SHA384',
  TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256: 'ECDHE-RSA-AES128-GCM-SHA256',
  TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384: 'ECDHE-RSA-AES256-GCM-SHA384',
  TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256: 'ECDHE-RSA-CHACHA20-POLY1305',
  TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256: 'ECDHE-ECDSA-CHACHA20-POLY1305',
  TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305: 'ECDHE-RSA-CHACHA20-POLY1305',
  TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305: 'ECDHE-ECDSA-CHACHA20-POLY1305',
  TLS_RSA_WITH_RC4_128_SHA: 'RC4-SHA',
  TLS_RSA_WITH_3DES_EDE_CBC_SHA: 'DES-CBC3-SHA',
  TLS_ECDHE_ECDSA_WITH_RC4_128_SHA: 'ECDHE-ECDSA-RC4-SHA',
  TLS_ECDHE_RSA_WITH_RC4_128_SHA: 'ECDHE-RSA-RC4-SHA',
  TLS_ECDHE_RSA_WITH_3DES_EDE_CBC_SHA: 'ECDHE-RSA-DES-CBC3-SHA',
  TLS_RSA_WITH_AES_128_CBC_SHA256: 'AES128-SHA256',
  TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256: 'ECDHE-ECDSA-AES128-SHA256',
  TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256: 'ECDHE-RSA-AES128-SHA256',
  // TLS 1.3's: accepted by name, not configurable (Go always offers all three).
  TLS_AES_128_GCM_SHA256: '',
  TLS_AES_256_GCM_SHA384: '',
  TLS_CHACHA20_POLY1305_SHA256: '',
};
const TLS13_SUITES = 'TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256';

/** tlsutil.GetCipherSuites: every name known to Go, else etcd's error. */
export function checkCipherSuites(names: readonly string[]): void {
  for (const n of names) if (!(n in GO_CIPHER_SUITES)) throw new Error(`unexpected TLS cipher suite ${quote(n)}`);
}

/** Node's `ciphers` for --cipher-suites: the TLS 1.2 suites in the order given, TLS 1.3 left as Go leaves it. */
function ciphers(i: TLSInfo): { ciphers?: string } {
  if (i.cipherSuites.length === 0) return {};
  checkCipherSuites(i.cipherSuites);
  const tls12 = i.cipherSuites.map((n) => GO_CIPHER_SUITES[n]!).filter((c) => c !== '');
  return { ciphers: [...tls12, TLS13_SUITES].join(':') };
}

/** TLSInfo.Empty: no certificate, so nothing is served over TLS. */
export function tlsInfoEmpty(i: TLSInfo | undefined): boolean {
  return !i || (i.certFile === '' && i.keyFile === '');
}

/** TLSInfo.String, as etcd logs it (`peerTLS: ...`, `ClientTLS: ...`). Never any key material. */
export function tlsInfoString(i: TLSInfo): string {
  return `cert = ${i.certFile}, key = ${i.keyFile}, trusted-ca = ${i.trustedCAFile}, client-cert-auth = ${i.clientCertAuth}, crl-file = ${i.crlFile}`;
}

/** Go's os.ReadFile error text. */
function readFile(file: string): Buffer {
  try {
    return fs.readFileSync(file);
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    const why: Record<string, string> = {
      ENOENT: 'no such file or directory',
      EACCES: 'permission denied',
      EISDIR: 'is a directory',
      ENOTDIR: 'not a directory',
    };
    if (e.code === 'EISDIR') throw new Error(`read ${file}: is a directory`, { cause: err });
    throw new Error(`open ${file}: ${why[e.code ?? ''] ?? e.message}`, { cause: err });
  }
}

/** tlsutil.NewCert: the key pair, checked as tls.X509KeyPair checks it. */
function keyPair(i: TLSInfo): { cert: Buffer; key: Buffer } {
  if (i.allowedCN !== '' && i.allowedHostname !== '') {
    throw new Error(
      `AllowedCN and AllowedHostname are mutually exclusive (cn=${quote(i.allowedCN)}, hostname=${quote(i.allowedHostname)})`,
    );
  }
  if (i.keyFile === '' || i.certFile === '') {
    throw new Error(`KeyFile and CertFile must both be present[key: ${i.keyFile}, cert: ${i.certFile}]`);
  }
  const cert = readFile(i.certFile);
  const key = readFile(i.keyFile);
  if (!/-----BEGIN [A-Z ]*CERTIFICATE-----/.test(cert.toString('latin1')))
    throw new Error('tls: failed to find any PEM data in certificate input');
  if (!/-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(key.toString('latin1')))
    throw new Error('tls: failed to find any PEM data in key input');
  try {
    tls.createSecureContext({ cert, key });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? '';
    if (code === 'ERR_OSSL_X509_KEY_VALUES_MISMATCH')
      throw new Error('tls: private key does not match public key', { cause: err });
    throw new Error(`tls: failed to parse the key pair (${(err as Error).message})`, { cause: err });
  }
  return { cert, key };
}

/** tlsutil.NewCertPool: every CERTIFICATE block of the trusted CA file. */
function caPool(file: string): Buffer[] {
  const text = readFile(file).toString('latin1');
  const blocks = text.match(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g) ?? [];
  return blocks.map((b) => {
    try {
      new X509Certificate(b);
    } catch {
      throw new Error(`x509: malformed certificate`);
    }
    return Buffer.from(b + '\n');
  });
}

/** Whether the server asks for (and requires) a client certificate: ServerConfig's rule. */
export function requiresClientCert(i: TLSInfo): boolean {
  return i.trustedCAFile !== '' || i.clientCertAuth;
}

/**
 * TLSInfo.ServerConfig for node:tls: TLS 1.2 at least; a client certificate required and
 * verified when a trusted CA is given or --client-cert-auth is set (against the trusted CA,
 * or the system's roots when none is given, as Go does).
 */
export function serverTLSOptions(i: TLSInfo): tls.TlsOptions & { trustedCAs: Buffer[] } {
  const { cert, key } = keyPair(i);
  const ca = i.trustedCAFile !== '' ? caPool(i.trustedCAFile) : [];
  const require = requiresClientCert(i);
  return {
    cert,
    key,
    ...(ca.length > 0 ? { ca } : {}),
    minVersion: 'TLSv1.2',
    ...ciphers(i),
    requestCert: require,
    rejectUnauthorized: require,
    trustedCAs: ca,
  };
}

/**
 * TLSInfo.ClientConfig for node:tls: the key pair (when given) as the client certificate, the
 * trusted CA as the roots, and no verification of the server at all for a self-signed
 * (--auto-tls) certificate, as etcd skips it.
 */
export function clientTLSOptions(i: TLSInfo): tls.ConnectionOptions {
  const pair = tlsInfoEmpty(i) ? {} : keyPair(i);
  const ca = i.trustedCAFile !== '' ? caPool(i.trustedCAFile) : [];
  return {
    ...pair,
    ...(ca.length > 0 ? { ca } : {}),
    minVersion: 'TLSv1.2',
    ...ciphers(i),
    rejectUnauthorized: !i.selfCert,
  };
}

/**
 * embed's ClientSelfCert / PeerSelfCert: with --auto-tls (--peer-auto-tls) and no key pair
 * given, a self-signed certificate in <data-dir>/fixtures/client (peer) for the listen URLs'
 * hosts; with a key pair given, etcd's warning and the key pair.
 */
export async function withAutoTLS(
  info: TLSInfo,
  o: {
    auto: boolean;
    which: 'client' | 'peer';
    dataDir: string;
    listenURLs: readonly string[];
    log: (m: EtcdMsg) => void;
  },
): Promise<TLSInfo> {
  if (!o.auto) return info;
  if (!tlsInfoEmpty(info)) {
    o.log(embed.ignoringAutoTLS(o.which));
    return info;
  }
  // Go's url.URL.Host: what follows the scheme, up to the path.
  const hosts = o.listenURLs.map((u) => /^[a-z]+:\/\/([^/?#]*)/i.exec(u)?.[1] ?? '');
  try {
    // updateCipherSuites again, as etcd does after SelfCert.
    return { ...(await selfCert(path.join(o.dataDir, 'fixtures', o.which), hosts)), cipherSuites: info.cipherSuites };
  } catch (err) {
    throw new Error(`could not get certs (${(err as Error).message})`, { cause: err });
  }
}

/**
 * etcd's SelfCert: <dir>/cert.pem and <dir>/key.pem for `hosts` ("host:port"), made once and
 * reused while both files exist. Returns the TLSInfo that replaces the configured one (so, as
 * in etcd 3.4, --auto-tls drops --client-cert-auth and the trusted CA).
 */
export async function selfCert(dir: string, hosts: readonly string[]): Promise<TLSInfo> {
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  const certFile = path.join(dir, 'cert.pem');
  const keyFile = path.join(dir, 'key.pem');
  if (!(fs.existsSync(certFile) && fs.existsSync(keyFile))) {
    const made = await etcdSelfCert(hosts);
    fs.writeFileSync(certFile, made.certPem);
    fs.writeFileSync(keyFile, made.keyPem, { mode: 0o600 });
  }
  return { ...EMPTY_TLS_INFO, certFile, keyFile, selfCert: true };
}

/** A connection refused after its handshake, and whether etcd's line shows the certificate's names. */
export interface CheckFailure {
  error: string;
  withCert: boolean;
}

/**
 * What etcd checks of a client certificate once the handshake is done: the CN or hostname
 * allowed (--peer-cert-allowed-cn, --*-cert-allowed-hostname; Go checks them at the end of the
 * handshake), and, on the peer port, that the
 * certificate names the address it connects from (checkSAN, unless
 * --experimental-peer-skip-client-san-verification). Undefined when nothing is to be checked.
 */
export function connectionCheck(
  i: TLSInfo,
  o: { san: boolean },
): ((s: TLSSocket) => Promise<CheckFailure | null>) | undefined {
  const san = o.san && !i.skipClientSANVerify;
  if (!san && i.allowedCN === '' && i.allowedHostname === '' && i.crlFile === '') return undefined;
  return async (socket) => {
    const cert = socket.getPeerX509Certificate();
    if (!cert) return null;
    const names = x509Names(cert);
    // Go has the certificate in the connection state by then, so its line names it.
    if (i.allowedCN !== '' && commonName(cert) !== i.allowedCN)
      return { error: 'client certificate authentication failed', withCert: true };
    if (i.allowedHostname !== '' && verifyHostname(names, i.allowedHostname) !== null)
      return { error: 'client certificate authentication failed', withCert: true };
    if (san) {
      const why = await checkCertSAN(names, unmapIPv4(socket.remoteAddress ?? ''));
      if (why !== null) return { error: why, withCert: true };
    }
    if (i.crlFile !== '') {
      const why = await checkCRL(i.crlFile, cert);
      if (why !== null) return { error: why, withCert: true };
    }
    return null;
  };
}

/**
 * pkg/transport checkCRL: the CRL file, read for every connection as etcd reads it, must not
 * list the certificate's serial number (its issuer is not checked, as in etcd).
 */
async function checkCRL(file: string, cert: X509Certificate): Promise<string | null> {
  let revoked: string[];
  try {
    revoked = await crlRevokedSerials(readFile(file));
  } catch (err) {
    return (err as Error).message;
  }
  const serial = serialBytesHex(cert.serialNumber);
  return revoked.includes(serial) ? `transport: certificate serial ${serial} revoked` : null;
}

function unmapIPv4(addr: string): string {
  return addr.startsWith('::ffff:') && isIP(addr.slice(7)) === 4 ? addr.slice(7) : addr;
}

function commonName(cert: X509Certificate): string {
  const m = /(?:^|\n)CN=([^\n]*)/.exec(cert.subject);
  return m ? m[1]! : '';
}

/** Go's x509.Certificate.VerifyHostname (SANs only, as Go ≥ 1.15): null when it matches. */
function verifyHostname(names: { ips: string[]; dnsNames: string[] }, host: string): string | null {
  const h = host.replace(/^\[|\]$/g, '');
  if (isIP(h) !== 0) {
    if (names.ips.some((ip) => sameIP(ip, h))) return null;
    if (names.ips.length === 0)
      return `x509: cannot validate certificate for ${h} because it doesn't contain any IP SANs`;
    return `x509: certificate is valid for ${names.ips.join(', ')}, not ${h}`;
  }
  const want = h.toLowerCase().replace(/\.$/, '');
  const match = (pattern: string) => {
    const p = pattern.toLowerCase();
    if (!p.startsWith('*.')) return p === want;
    const dot = want.indexOf('.');
    return dot > 0 && want.slice(dot) === p.slice(1);
  };
  if (names.dnsNames.some(match)) return null;
  return names.dnsNames.length === 0
    ? 'x509: certificate is not valid for any names, but wanted to match ' + h
    : `x509: certificate is valid for ${names.dnsNames.join(', ')}, not ${h}`;
}

function sameIP(a: string, b: string): boolean {
  const norm = (x: string) => (isIP(x) === 6 ? new URL(`http://[${x}]/`).hostname : x);
  return norm(unmapIPv4(a)) === norm(unmapIPv4(b));
}

/** pkg/transport checkCertSAN: the peer's certificate must name the address it comes from. */
async function checkCertSAN(names: { ips: string[]; dnsNames: string[] }, host: string): Promise<string | null> {
  if (names.ips.length === 0 && names.dnsNames.length === 0) return null;
  if (names.ips.length > 0) {
    const err = verifyHostname({ ips: names.ips, dnsNames: [] }, host);
    if (err === null) return null;
    if (names.dnsNames.length === 0) return err;
  }
  const { ok, err } = await isHostInDNS(host, names.dnsNames);
  if (ok) return null;
  return `tls: ${quote(host)} does not match any of DNSNames ${quoteSlice(names.dnsNames)}${err ? ` (${err})` : ''}`;
}

/** pkg/transport isHostInDNS: a reverse lookup of the address, then forward lookups of the names. */
async function isHostInDNS(host: string, dnsNames: readonly string[]): Promise<{ ok: boolean; err?: string }> {
  const wildcards = dnsNames.filter((d) => d.startsWith('*.')).map((d) => d.slice(1));
  const plain = dnsNames.filter((d) => !d.startsWith('*.'));
  let err: string | undefined;
  try {
    for (const name of await dns.reverse(host)) {
      const n = name.replace(/\.$/, '');
      if (wildcards.some((w) => n.endsWith(w)) || plain.includes(n)) return { ok: true };
    }
  } catch (e) {
    err = (e as Error).message;
  }
  for (const name of plain) {
    try {
      const addrs = await dns.lookup(name, { all: true });
      if (addrs.some((a) => sameIP(a.address, host))) return { ok: true };
    } catch (e) {
      err = (e as Error).message;
    }
  }
  return { ok: false, err };
}
