// A secured cluster the app starts (startCluster's `secure`): its own CA, a certificate per
// member (server and client use, for 127.0.0.1 and localhost) and one for the app's KV console,
// written under <cluster dir>/tls (keys 0600); every member serves TLS on its client and peer
// ports and checks its peers' certificates against the CA, as etcd does with
// --peer-client-cert-auth; clients must show a certificate of that CA too with clientCertAuth.
// With a root password, v3 auth is enabled once there is a leader, as an operator does it:
// user add root, user grant-role root root, auth enable.
//
// Only paths are handed to the nodes (and so to their log lines: etcd prints the file names);
// the CA's key stays in memory, to sign the certificate of a member added later.

import fs from 'node:fs';
import path from 'node:path';
import type { SecurityView } from '../../src-shared/attach.js';
import type { ClusterAccess } from '../attach/credentials.js';
import { clusterAccess } from '../attach/credentials.js';
import { EMPTY_TLS_INFO, type TLSInfo } from '../node/tls-info.js';
import { makeCA, makeCert, type CertificateAuthority } from '../tls/certs.js';

export interface SecureOptions {
  clientCertAuth?: boolean;
  rootPassword?: string;
}

const HOSTS = ['127.0.0.1', 'localhost'];

export class SecureCluster {
  private constructor(
    readonly dir: string,
    private readonly ca: CertificateAuthority,
    readonly options: SecureOptions,
    /** The console's fetch, with the CA and its own client certificate (logged out). */
    readonly access: ClusterAccess,
  ) {}

  /** A CA and the console's certificate in `<clusterDir>/tls`. */
  static async create(clusterDir: string, options: SecureOptions): Promise<SecureCluster> {
    const dir = path.join(clusterDir, 'tls');
    fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
    const ca = await makeCA({ commonName: 'raftlab CA', organization: 'raftlab' });
    fs.writeFileSync(path.join(dir, 'ca.pem'), ca.certPem);
    // No CommonName: with client-cert-auth etcd takes a certificate's CN as the user when no
    // token comes, and etcd 3.4's gateway refuses a certificate with a CN once auth is on. The
    // console must log in to be anyone.
    const files = await writePair(
      dir,
      'console',
      await makeCert(ca, { organization: 'raftlab console', usages: ['client'] }),
    );
    const access = clusterAccess({ caFile: path.join(dir, 'ca.pem'), ...files });
    return new SecureCluster(dir, ca, options, access);
  }

  get caFile(): string {
    return path.join(this.dir, 'ca.pem');
  }

  /** The member's key pair (made now), and its client and peer TLS as etcd's flags give them. */
  async forMember(name: string): Promise<{ clientTLS: TLSInfo; peerTLS: TLSInfo }> {
    const pair = await makeCert(this.ca, { commonName: name, hosts: HOSTS, usages: ['server', 'client'] });
    const files = await writePair(this.dir, name, pair);
    const base: TLSInfo = {
      ...EMPTY_TLS_INFO,
      certFile: files.certFile,
      keyFile: files.keyFile,
      trustedCAFile: this.caFile,
    };
    return {
      clientTLS: { ...base, clientCertAuth: this.options.clientCertAuth === true },
      peerTLS: { ...base, clientCertAuth: true },
    };
  }

  /** What the window is told. */
  view(consoleUser: string | undefined): SecurityView {
    return {
      tls: true,
      peerTLS: true,
      clientCert: this.options.clientCertAuth === true,
      auth: this.options.rootPassword !== undefined,
      ...(consoleUser !== undefined ? { user: consoleUser } : {}),
      ...(this.access.view.files ? { files: this.access.view.files } : {}),
    };
  }

  /**
   * etcdctl user add root, user grant-role root root, auth enable, through `url`'s gateway.
   * Each step's refusal is thrown in etcd's words.
   */
  async enableAuth(url: string, timeoutMs: number): Promise<void> {
    const password = this.options.rootPassword;
    if (password === undefined) return;
    const call = async (method: string, body: object) => {
      const res = await this.access.fetch(`${url}/v3/auth/${method}`, {
        method: 'POST',
        body: JSON.stringify(body),
        headers: { 'Content-Type': 'application/json' },
        signal: AbortSignal.timeout(timeoutMs),
      });
      const text = await res.text();
      if (res.status !== 200)
        throw new Error(`auth ${method}: ${/"message":"([^"]*)"/.exec(text)?.[1] ?? `HTTP ${res.status}`}`);
    };
    await call('user/add', { name: 'root', password });
    await call('user/grant', { user: 'root', role: 'root' });
    await call('enable', {});
  }

  close(): void {
    this.access.fetch.close();
  }
}

async function writePair(
  dir: string,
  name: string,
  pair: { certPem: string; keyPem: string },
): Promise<{ certFile: string; keyFile: string }> {
  const certFile = path.join(dir, `${name}.pem`);
  const keyFile = path.join(dir, `${name}-key.pem`);
  await fs.promises.writeFile(certFile, pair.certPem);
  await fs.promises.writeFile(keyFile, pair.keyPem, { mode: 0o600 });
  return { certFile, keyFile };
}
