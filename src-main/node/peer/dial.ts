// How a member dials its peers: http:// URLs in the clear, https:// URLs over TLS with the peer
// TLS info as a client (etcd's rafthttp transports and the members fetch of a joining member
// use PeerTLSInfo.ClientConfig): the member's own certificate presented, the peer's checked
// against the peer trusted CA, or against the system's roots when none is given, or not at
// all with --peer-auto-tls.
import http from 'node:http';
import https from 'node:https';
import type tls from 'node:tls';
import { clientTLSOptions, type TLSInfo } from '../tls-info.js';

export class PeerDialer {
  private tlsOptions: tls.ConnectionOptions | undefined;
  private readonly agents: { http?: http.Agent; https?: https.Agent } = {};

  constructor(private readonly info: TLSInfo | undefined) {}

  /** Node's TLS client options for https:// peers (files read once, on first use). */
  private tls(): tls.ConnectionOptions {
    return (this.tlsOptions ??= this.info ? clientTLSOptions(this.info) : { minVersion: 'TLSv1.2' });
  }

  /**
   * A request to a peer. `agent: 'pooled'` shares this dialer's keep-alive connections; false
   * gives the request a connection of its own (a stream that is upgraded keeps it).
   */
  request(url: URL, opts: Omit<http.RequestOptions, 'agent'> & { agent: 'pooled' | false }): http.ClientRequest {
    const secure = url.protocol === 'https:';
    const { agent, ...rest } = opts;
    if (!secure)
      return http.request(url, {
        ...rest,
        agent: agent === 'pooled' ? (this.agents.http ??= new http.Agent({ keepAlive: true, maxSockets: 4 })) : false,
      });
    const t = this.tls();
    if (agent === 'pooled')
      return https.request(url, {
        ...rest,
        agent: (this.agents.https ??= new https.Agent({ keepAlive: true, maxSockets: 4, ...t })),
      });
    return https.request(url, { ...rest, ...t, agent: false });
  }

  /** GET with a deadline, the whole answer read (short answers only: the members list). */
  get(url: URL, timeoutMs: number): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string }> {
    return new Promise((resolve, reject) => {
      const req = this.request(url, { method: 'GET', agent: false });
      const timer = setTimeout(
        () => req.destroy(new Error(`request to ${url.origin} timed out after ${timeoutMs}ms`)),
        timeoutMs,
      );
      req.on('error', (e) => {
        clearTimeout(timer);
        reject(e);
      });
      req.on('response', (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', reject);
        res.on('end', () => {
          clearTimeout(timer);
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') });
        });
      });
      req.end();
    });
  }

  destroy(): void {
    this.agents.http?.destroy();
    this.agents.https?.destroy();
  }
}
