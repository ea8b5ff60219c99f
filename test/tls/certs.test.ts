// The lab's own certificates (src-main/tls/certs.ts): what the window will start secured
// clusters with, checked with Node's own X509 (OpenSSL), not with the library that made them.
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  crlRevokedSerials,
  etcdSelfCert,
  makeCA,
  makeCert,
  makeCRL,
  serialBytesHex,
} from '../../src-main/tls/certs.js';

describe('certs', () => {
  it('a CA signs leaf certificates for the given hosts and usages', async () => {
    const ca = await makeCA({ commonName: 'lab CA', organization: 'raftlab' });
    const caCert = new X509Certificate(ca.certPem);
    expect(caCert.ca).toBe(true);
    expect(caCert.subject).toBe('CN=lab CA\nO=raftlab');
    expect(caCert.verify(caCert.publicKey)).toBe(true);

    const leaf = await makeCert(ca, {
      commonName: 'n1',
      hosts: ['127.0.0.1', 'localhost', '::1'],
      usages: ['server', 'client'],
    });
    const cert = new X509Certificate(leaf.certPem);
    expect(cert.ca).toBe(false);
    expect(cert.checkIssued(caCert) && cert.verify(caCert.publicKey)).toBe(true);
    expect(cert.subjectAltName).toBe('IP Address:127.0.0.1, DNS:localhost, IP Address:0:0:0:0:0:0:0:1');
    expect(cert.keyUsage).toEqual(['1.3.6.1.5.5.7.3.1', '1.3.6.1.5.5.7.3.2']);
    expect(cert.checkHost('localhost')).toBe('localhost');
    expect(cert.checkIP('127.0.0.1')).toBe('127.0.0.1');
    // The key is the certificate's, PKCS#8.
    expect(leaf.keyPem.startsWith('-----BEGIN PRIVATE KEY-----')).toBe(true);
    expect(cert.checkPrivateKey(createPrivateKey(leaf.keyPem))).toBe(true);

    const client = new X509Certificate((await makeCert(ca, { commonName: 'etcdctl', usages: ['client'] })).certPem);
    expect(client.keyUsage).toEqual(['1.3.6.1.5.5.7.3.2']);
    expect(client.subjectAltName).toBeUndefined();
    // Another CA's certificate is not this CA's.
    const other = await makeCA({ commonName: 'other' });
    expect(cert.verify(new X509Certificate(other.certPem).publicKey)).toBe(false);
  });

  it("etcd's self-signed certificate: O=etcd, P-521, a year, server auth, the hosts without ports, SEC1 key", async () => {
    const made = await etcdSelfCert(['127.0.0.1:2380', 'localhost:2380', '[::1]:2380']);
    const cert = new X509Certificate(made.certPem);
    expect(cert.subject).toBe('O=etcd');
    expect(cert.issuer).toBe('O=etcd');
    expect(cert.publicKey.asymmetricKeyDetails?.namedCurve).toBe('secp521r1');
    expect(cert.keyUsage).toEqual(['1.3.6.1.5.5.7.3.1']);
    expect(cert.subjectAltName).toBe('IP Address:127.0.0.1, DNS:localhost, IP Address:0:0:0:0:0:0:0:1');
    expect(Math.round((Date.parse(cert.validTo) - Date.parse(cert.validFrom)) / 86_400_000)).toBe(365);
    expect(made.keyPem.startsWith('-----BEGIN EC PRIVATE KEY-----')).toBe(true);
  });

  it('a CRL lists the revoked serials, read back as Go prints them', async () => {
    const ca = await makeCA({ commonName: 'lab CA' });
    const serial = new X509Certificate((await makeCert(ca, { usages: ['client'] })).certPem).serialNumber;
    const pem = await makeCRL(ca, [serial]);
    expect(pem.startsWith('-----BEGIN X509 CRL-----\n')).toBe(true);
    expect(await crlRevokedSerials(Buffer.from(pem))).toEqual([serialBytesHex(serial)]);
    expect(serialBytesHex('00A1')).toBe('a1');
    expect(serialBytesHex('1')).toBe('01');
    await expect(crlRevokedSerials(Buffer.from('not a crl'))).rejects.toThrow('x509: malformed crl');
  });
});
