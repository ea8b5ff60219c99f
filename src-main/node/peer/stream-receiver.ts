// A peer's stream to us: GET /raft/stream with Upgrade, admitted like a POST (412, 410, 404…),
// then newline-delimited JSON batches until it closes. The cluster id and the sender's removal
// are checked again on every batch: closing the stream over a failed check makes the sender
// reconnect and get the 412 or 410. A bad batch or one past the size limit closes the stream.

import http, { type IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import type { Admission } from './admission.js';
import { MAX_BATCH_BYTES } from './codec.js';
import type { PeerLinks } from './links.js';
import { stage, stagesOn } from '../../util/stages.js';
import { errText, header, STREAM_PATH, STREAM_PROTOCOL, VERSION } from './wire.js';

export class StreamReceiver {
  /** Streams peers opened to us: upgraded sockets are no longer the HTTP server's to close. */
  private readonly inbound = new Set<Socket>();

  constructor(
    private readonly links: PeerLinks,
    private readonly admission: Admission,
  ) {}

  stop(): void {
    for (const s of this.inbound) s.destroy();
    this.inbound.clear();
  }

  /** A peer opens its stream to us: the same checks as a POST, then batches until it closes. */
  handleUpgrade(req: IncomingMessage, socket: Socket, head: Buffer): void {
    const links = this.links;
    this.inbound.add(socket);
    socket.on('close', () => this.inbound.delete(socket));
    socket.on('error', () => socket.destroy());
    try {
      if (links.stopped) return void socket.destroy();
      const path = (req.url ?? '/').split('?')[0];
      if (path !== STREAM_PATH) return this.rawReply(socket, 404, '404 page not found');
      if (req.method !== 'GET' || header(req, 'upgrade').toLowerCase() !== STREAM_PROTOCOL) {
        return this.rawReply(socket, 400, `expected GET with Upgrade: ${STREAM_PROTOCOL}`);
      }
      const who = this.admission.admit(req);
      if ('status' in who) return this.rawReply(socket, who.status, who.text);
      const from = who.from;
      const gcid = header(req, 'x-etcd-cluster-id');
      socket.setNoDelay(true);
      socket.write(
        `HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: ${STREAM_PROTOCOL}\r\n` +
          `X-Etcd-Cluster-ID: ${links.clusterId}\r\nX-Server-Version: ${VERSION}\r\nX-Raft-Clock: ${links.opts.clock()}\r\n\r\n`,
      );
      const max = links.opts.maxBodyBytes ?? MAX_BATCH_BYTES;
      let parts: Buffer[] = [];
      let size = 0;
      const onData = (chunk: Buffer) => {
        let start = 0;
        for (let nl = chunk.indexOf(10); nl !== -1; nl = chunk.indexOf(10, start)) {
          let frame = chunk.subarray(start, nl);
          if (parts.length > 0) {
            parts.push(frame);
            frame = Buffer.concat(parts);
            parts = [];
            size = 0;
          }
          start = nl + 1;
          if (!this.onFrame(from, gcid, frame, socket)) return;
        }
        if (start < chunk.length) {
          parts.push(chunk.subarray(start));
          size += chunk.length - start;
          if (size > max) {
            links.log('E', `closed the stream from peer ${from}: a batch larger than ${max} bytes`);
            socket.destroy();
          }
        }
      };
      socket.on('data', onData);
      if (head.length > 0) onData(head);
    } catch (err) {
      links.log('E', `peer stream request ${req.method} ${req.url} failed (${errText(err)})`);
      socket.destroy();
    }
  }

  /** One batch off a stream; false when the stream was closed over it. */
  private onFrame(from: string, gcid: string, frame: Buffer, socket: Socket): boolean {
    // The cluster id may have been learned, or the sender removed, since the stream opened:
    // closing it makes the sender reconnect and get the 412 or 410.
    if (this.links.stopped || !this.admission.sameCluster(gcid) || this.admission.senderRemoved(from)) {
      socket.destroy();
      return false;
    }
    let msgs;
    try {
      msgs = this.admission.parse(frame.toString('utf8'), from);
    } catch (err) {
      this.links.log('E', `closed the stream from peer ${from}: error reading raft message (${errText(err)})`);
      socket.destroy();
      return false;
    }
    if (stagesOn)
      stage('frame-in', msgs.map((m) => m.type + (m.entries?.length ? `[${m.entries.length}]` : '')).join(','));
    try {
      this.admission.deliver(from, msgs, frame.length + 1);
    } catch (err) {
      this.links.log('E', `failed to process raft message (${errText(err)})`);
    }
    return true;
  }

  /** An HTTP answer written by hand on a socket not upgraded after all; then it closes. */
  private rawReply(socket: Socket, status: number, text: string): void {
    const body = status >= 400 ? `${text}\n` : text;
    socket.end(
      `HTTP/1.1 ${status} ${http.STATUS_CODES[status] ?? ''}\r\nContent-Type: text/plain; charset=utf-8\r\n` +
        `X-Etcd-Cluster-ID: ${this.links.clusterId}\r\nX-Server-Version: ${VERSION}\r\nX-Raft-Clock: ${this.links.opts.clock()}\r\n` +
        `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
    );
  }
}
