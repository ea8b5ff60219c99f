// The TLS side of a listener, as etcd's pkg/transport tlsListener serves it: every connection is
// handshaken first; one that fails (no client certificate where one is required, one no trusted
// CA signed, plain HTTP to a TLS port, a post-handshake check such as the peer SAN check) is
// reported with Go's error text and closed; the others are handed on as cleartext streams.
//
// Why client certificates are verified here and not by OpenSSL's "reject unauthorized": Node
// then destroys the socket before saying why or from where, and etcd's log line needs both.
// So the handshake asks for a certificate, OpenSSL's verdict is read once it is done, and an
// unverified client is closed before a single byte of its is read. (A Go server sends the
// client a TLS alert instead; a refused client here sees the connection closed.)
import { X509Certificate } from 'node:crypto';
import net from 'node:net';
import tls from 'node:tls';

/** How long a refused client may take to close its side before it is cut off. */
const REJECT_LINGER_MS = 2000;

export interface RejectedConnection {
  /** "ip:port" of the client, as Go prints a net.Addr. */
  remote: string;
  /** Go's error text (etcd logs it quoted). */
  error: string;
  /** The SNI the client sent ('' without one). */
  serverName: string;
  /** The client's certificate's IP and DNS names, when the handshake got that far (Go's long form). */
  cert?: { ips: string[]; dnsNames: string[] };
}

export interface SecureServerOptions {
  /** Key pair, trusted CAs, and whether a client certificate is required (requestCert). */
  tls: tls.TlsOptions & { trustedCAs?: readonly Buffer[] };
  /** Application protocols offered, server's preference first. */
  alpn?: string[];
  /** After a verified handshake: null to accept, else why not (in Go's words; withCert: the line shows the certificate's names). */
  check?: (socket: tls.TLSSocket) => Promise<{ error: string; withCert: boolean } | null>;
  onRejected: (r: RejectedConnection) => void;
  /** A connection that passed: its cleartext stream, not yet read from. */
  onSecure: (socket: tls.TLSSocket) => void;
}

export interface SecureServer extends tls.Server {
  /** Destroys every connection it accepted: close() alone waits for them. */
  destroyConnections(): void;
}

/** A tls.Server (not yet listening) that handshakes, verifies and hands on connections. */
export function createSecureServer(o: SecureServerOptions): SecureServer {
  const require = !!o.tls.requestCert;
  const { trustedCAs: _, ...options } = o.tls;
  const server = tls.createServer({
    ...options,
    // Verified below, where the refusal can be reported (see the top of this file).
    rejectUnauthorized: false,
    ...(o.alpn ? { ALPNProtocols: o.alpn } : {}),
  }) as SecureServer;
  // The raw sockets: destroying one ends its TLS stream too, however far it got.
  const open = new Set<net.Socket>();
  // Where each came from, read while it is connected: a handshake that fails because the
  // client went away is reported after its socket has lost its address.
  const remotes = new WeakMap<net.Socket, string>();
  server.prependListener('connection', (raw: net.Socket) => {
    open.add(raw);
    remotes.set(raw, goAddr(raw.remoteAddress, raw.remotePort));
    raw.once('close', () => open.delete(raw));
  });
  server.destroyConnections = () => {
    for (const s of open) s.destroy();
  };
  server.on('secureConnection', (socket: tls.TLSSocket) => {
    // Nothing is read before the verdict.
    socket.pause();
    const remote = goAddr(socket.remoteAddress, socket.remotePort);
    const serverName = typeof socket.servername === 'string' ? socket.servername : '';
    const reject = (error: string, withCert: boolean) => {
      o.onRejected({
        remote,
        error,
        serverName,
        ...(withCert ? { cert: x509Names(socket.getPeerX509Certificate()) } : {}),
      });
      // Closed cleanly (close_notify, then FIN), what it sent read and dropped: the client
      // reads an end of stream, not a reset that depends on what it had sent already.
      socket.on('error', () => {});
      socket.resume();
      socket.end();
      setTimeout(() => socket.destroy(), REJECT_LINGER_MS).unref();
    };
    if (require && !socket.authorized) {
      const peer = socket.getPeerX509Certificate();
      return reject(
        peer
          ? verifyErrorText(socket.authorizationError, peer, o.tls.trustedCAs ?? [])
          : "tls: client didn't provide a certificate",
        false,
      );
    }
    if (!o.check) return o.onSecure(socket);
    o.check(socket).then(
      (why) => (socket.destroyed ? undefined : why === null ? o.onSecure(socket) : reject(why.error, why.withCert)),
      (err: Error) => reject(err.message, true),
    );
  });
  server.on('tlsClientError', (err: NodeJS.ErrnoException, socket: tls.TLSSocket) => {
    // A server-side TLSSocket's _parent is the raw socket it was made from (Node's own field).
    const raw = (socket as tls.TLSSocket & { _parent?: net.Socket })._parent;
    o.onRejected({
      remote:
        socket.remoteAddress !== undefined
          ? goAddr(socket.remoteAddress, socket.remotePort)
          : (raw && remotes.get(raw)) || ':0',
      error: handshakeErrorText(err),
      serverName: typeof socket.servername === 'string' ? socket.servername : '',
    });
  });
  return server;
}

function goAddr(host: string | undefined, port: number | undefined): string {
  const h = host ?? '';
  return `${net.isIPv6(h) ? `[${h}]` : h}:${port ?? 0}`;
}

/** The IP addresses and DNS names a certificate is for (its subjectAltName). */
export function x509Names(cert: X509Certificate | undefined): { ips: string[]; dnsNames: string[] } {
  const ips: string[] = [];
  const dnsNames: string[] = [];
  for (const part of (cert?.subjectAltName ?? '').split(/,\s*/)) {
    if (part.startsWith('IP Address:')) ips.push(part.slice('IP Address:'.length));
    else if (part.startsWith('DNS:')) dnsNames.push(part.slice('DNS:'.length));
  }
  return { ips, dnsNames };
}

/** Go's text for a client certificate that did not verify, from OpenSSL's verdict. */
function verifyErrorText(code: string | Error | undefined, cert: X509Certificate, trusted: readonly Buffer[]): string {
  const c = String(code ?? '');
  const prefix = 'tls: failed to verify client certificate: x509: ';
  if (c === 'CERT_HAS_EXPIRED' || c === 'CERT_NOT_YET_VALID') {
    const now = goTime(new Date());
    const bound =
      c === 'CERT_HAS_EXPIRED'
        ? `is after ${goTime(new Date(cert.validTo))}`
        : `is before ${goTime(new Date(cert.validFrom))}`;
    return `${prefix}certificate has expired or is not yet valid: current time ${now} ${bound}`;
  }
  // OpenSSL checks the purpose before the issuer; Go looks for a chain first.
  if (c === 'INVALID_PURPOSE')
    return issuedByTrusted(cert, trusted)
      ? `${prefix}certificate specifies an incompatible key usage`
      : `${prefix}certificate signed by unknown authority`;
  return `${prefix}certificate signed by unknown authority`;
}

function issuedByTrusted(cert: X509Certificate, trusted: readonly Buffer[]): boolean {
  return trusted.some((pem) => {
    try {
      const ca = new X509Certificate(pem);
      return cert.checkIssued(ca) && cert.verify(ca.publicKey);
    } catch {
      return false;
    }
  });
}

/** Go's time.Time.Format(time.RFC3339) in UTC. */
function goTime(d: Date): string {
  return d.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** OpenSSL alert reasons → Go's alert texts (crypto/tls alert.go). */
const ALERTS: Record<string, string> = {
  'bad certificate': 'bad certificate',
  'unknown ca': 'unknown certificate authority',
  'certificate unknown': 'unknown certificate',
  'certificate expired': 'expired certificate',
  'certificate revoked': 'revoked certificate',
  'unsupported certificate': 'unsupported certificate',
  'handshake failure': 'handshake failure',
  'decrypt error': 'error decrypting message',
  'protocol version': 'protocol version not supported',
  'certificate required': 'certificate required',
  'internal error': 'internal error',
  'access denied': 'access denied',
  'decode error': 'error decoding message',
  'illegal parameter': 'illegal parameter',
};

/** Go's text for a handshake that failed (crypto/tls, as etcd's tlsListener logs it). */
function handshakeErrorText(err: NodeJS.ErrnoException & { reason?: string }): string {
  const code = err.code ?? '';
  const reason = err.reason ?? '';
  const alert = /^(?:sslv3|tlsv1|tlsv13) alert (.*)$/.exec(reason);
  if (alert) return `remote error: tls: ${ALERTS[alert[1]!] ?? alert[1]}`;
  switch (code) {
    case 'ERR_SSL_PEER_DID_NOT_RETURN_A_CERTIFICATE':
      return "tls: client didn't provide a certificate";
    case 'ERR_SSL_HTTP_REQUEST':
    case 'ERR_SSL_HTTPS_PROXY_REQUEST':
    case 'ERR_SSL_WRONG_VERSION_NUMBER':
    case 'ERR_SSL_PACKET_LENGTH_TOO_LONG':
    case 'ERR_SSL_UNKNOWN_PROTOCOL':
      return 'tls: first record does not look like a TLS handshake';
    case 'ERR_SSL_NO_SHARED_CIPHER':
      return 'tls: no cipher suite supported by both client and server';
    case 'ERR_SSL_UNSUPPORTED_PROTOCOL':
      return 'tls: client offered only unsupported versions';
    case 'ECONNRESET':
    case 'EPIPE':
      // Closed by the client mid-handshake: Go's handshake reads io.EOF.
      return 'EOF';
    case 'ERR_TLS_HANDSHAKE_TIMEOUT':
      return 'i/o timeout';
  }
  return reason !== '' ? `tls: ${reason}` : err.message;
}
