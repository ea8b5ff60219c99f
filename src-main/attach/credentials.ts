// What reaches a secured etcd: the TLS files (a CA to trust, a client certificate and its key)
// read once, here, in the main process, and a login (user and password) that gets a v3 simple
// token per client URL (etcd's Authenticate) or is sent as v2's Basic auth. The window names
// files by path, so no PEM ever crosses the window boundary or lands in the trace, and the
// password is kept only here (redactCommand keeps it out of the trace).

import { createPrivateKey, X509Certificate } from 'node:crypto';
import fs from 'node:fs';
import tls from 'node:tls';
import type { AttachCredentials, SecurityView } from '../../src-shared/attach.js';
import { clientFetch, type ClientFetch } from './client-fetch.js';

export class CredentialsError extends Error {}

function readPem(what: string, file: string): Buffer {
  let data: Buffer;
  try {
    data = fs.readFileSync(file);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why =
      code === 'ENOENT'
        ? 'no such file'
        : code === 'EACCES'
          ? 'permission denied'
          : code === 'EISDIR'
            ? 'is a directory'
            : (err as Error).message;
    throw new CredentialsError(`${what} ${file}: ${why}`, { cause: err });
  }
  return data;
}

/** Node's TLS client options from the files, each checked with a clear error (never its content). */
export function tlsFromFiles(c: Pick<AttachCredentials, 'caFile' | 'certFile' | 'keyFile'>): tls.ConnectionOptions {
  const o: tls.ConnectionOptions = {};
  if (c.caFile) {
    const ca = readPem('CA file', c.caFile);
    try {
      new X509Certificate(ca);
    } catch {
      throw new CredentialsError(`CA file ${c.caFile}: not a PEM certificate`);
    }
    o.ca = ca;
  }
  if (!!c.certFile !== !!c.keyFile)
    throw new CredentialsError('a client certificate needs its key, and a key its certificate (give both files)');
  if (c.certFile && c.keyFile) {
    const cert = readPem('client certificate', c.certFile);
    const key = readPem('client key', c.keyFile);
    try {
      new X509Certificate(cert);
    } catch {
      throw new CredentialsError(`client certificate ${c.certFile}: not a PEM certificate`);
    }
    try {
      createPrivateKey(key);
    } catch {
      throw new CredentialsError(`client key ${c.keyFile}: not a PEM private key`);
    }
    try {
      tls.createSecureContext({ cert, key });
    } catch {
      throw new CredentialsError(`client key ${c.keyFile} does not match the certificate ${c.certFile}`);
    }
    o.cert = cert;
    o.key = key;
  }
  return o;
}

/** How long a refused login is not asked again, ms. */
const REFUSAL_KEPT_MS = 5000;

/** A user and password: v3 tokens per client URL (fetched when first needed), v2 Basic auth. */
export class Login {
  private readonly tokens = new Map<string, Promise<string>>();

  constructor(
    readonly user: string,
    private readonly password: string,
  ) {}

  basic(): string {
    return `Basic ${Buffer.from(`${this.user}:${this.password}`).toString('base64')}`;
  }

  /**
   * The token `url` gave this user ('' when etcd says authentication is not enabled: nothing to
   * send). A refusal throws CredentialsError with etcd's words; a failed try is not kept.
   */
  token(fetcher: ClientFetch, url: string, api: string, timeoutMs: number): Promise<string> {
    let t = this.tokens.get(url);
    if (!t) {
      const tried = this.authenticate(fetcher, url, api, timeoutMs);
      this.tokens.set(url, tried);
      // A refusal is kept a while (every poll would otherwise make etcd check the password
      // again); a network failure is tried again at once.
      tried.catch((err: unknown) => {
        const forget = () => this.tokens.get(url) === tried && this.tokens.delete(url);
        if (err instanceof CredentialsError) setTimeout(forget, REFUSAL_KEPT_MS).unref();
        else forget();
      });
      t = tried;
    }
    return t;
  }

  /** A token etcd no longer knows (expired, or the member restarted): the next call asks again. */
  forget(url: string): void {
    this.tokens.delete(url);
  }

  private async authenticate(fetcher: ClientFetch, url: string, api: string, timeoutMs: number): Promise<string> {
    const res = await fetcher(`${url}/${api}/auth/authenticate`, {
      method: 'POST',
      body: JSON.stringify({ name: this.user, password: this.password }),
      headers: { 'Content-Type': 'application/json' },
      signal: AbortSignal.timeout(timeoutMs),
    });
    const text = await res.text();
    let j: { token?: string; message?: string; error?: string } | undefined;
    try {
      j = JSON.parse(text) as typeof j;
    } catch {
      j = undefined;
    }
    if (res.status === 200 && typeof j?.token === 'string') return j.token;
    const said = j?.message ?? j?.error ?? text.trim().slice(0, 200);
    if (/authentication is not enabled/.test(said)) return '';
    throw new CredentialsError(`login as ${JSON.stringify(this.user)} refused (etcd: "${said}")`);
  }
}

/** Everything a client of one cluster needs to reach it: fetch with its TLS, and the login. */
export interface ClusterAccess {
  fetch: ClientFetch & { close(): void };
  login?: Login;
  /** What the window may be told (no secret). */
  view: SecurityView;
}

export function clusterAccess(c: AttachCredentials = {}, urls: readonly string[] = []): ClusterAccess {
  const options = tlsFromFiles(c);
  if (c.password !== undefined && !c.user) throw new CredentialsError('a password needs a user name');
  const login = c.user ? new Login(c.user, c.password ?? '') : undefined;
  return {
    fetch: clientFetch(options),
    login,
    view: {
      tls: urls.some((u) => u.startsWith('https:')),
      clientCert: options.cert !== undefined,
      ...(options.ca ? { ca: true } : {}),
      ...(login ? { user: login.user } : {}),
      ...(c.caFile || c.certFile ? { files: { caFile: c.caFile, certFile: c.certFile, keyFile: c.keyFile } } : {}),
    },
  };
}
