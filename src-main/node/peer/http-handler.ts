// The peer port's plain HTTP requests: POST /raft (one batch per request), GET /raft/probe
// (the prober's health and clock check), the node's extra routes (GET /members…), and 404 for
// the rest. Every answer carries our cluster id, version and clock, so the sender can check both.

import type { IncomingMessage, ServerResponse } from 'node:http';
import { readBody } from '../../net/read-body.js';
import type { Admission } from './admission.js';
import { MAX_BATCH_BYTES } from './codec.js';
import type { PeerLinks } from './links.js';
import { errText, header, VERSION } from './wire.js';

export class PeerHttpHandler {
  constructor(
    private readonly links: PeerLinks,
    private readonly admission: Admission,
  ) {}

  handle(req: IncomingMessage, res: ServerResponse): void {
    try {
      const path = (req.url ?? '/').split('?')[0];
      if (path === '/raft' || path === '/raft/probe') {
        this.handleRaft(req, res, path);
        return;
      }
      if (this.links.opts.extraRoutes?.(req, res)) return;
      this.reply(res, 404, '404 page not found');
    } catch (err) {
      this.links.log('E', `peer request ${req.method} ${req.url} failed (${errText(err)})`);
      if (!res.headersSent) this.reply(res, 500, 'internal error');
      else res.destroy();
    }
  }

  private handleRaft(req: IncomingMessage, res: ServerResponse, path: string): void {
    const want = path === '/raft' ? 'POST' : 'GET';
    if (req.method !== want) {
      res.setHeader('Allow', want);
      this.reply(res, 405, 'Method Not Allowed');
      req.resume();
      return;
    }
    const who = this.admission.admit(req);
    if ('status' in who) {
      this.reply(res, who.status, who.text);
      req.resume();
      return;
    }
    const from = who.from;
    if (want === 'GET') {
      res.setHeader('Content-Type', 'application/json');
      this.reply(res, 200, '{"health":"true"}');
      return;
    }
    this.readBody(req, res, (body) => {
      let msgs;
      try {
        msgs = this.admission.parse(body.toString('utf8'), from);
      } catch (err) {
        this.reply(res, 400, `error reading raft message (${errText(err)})`);
        return;
      }
      try {
        this.admission.deliver(from, msgs, body.length);
      } catch (err) {
        this.links.log('E', `failed to process raft message (${errText(err)})`);
        this.reply(res, 500, 'error processing raft message');
        return;
      }
      this.reply(res, 204, '');
    });
  }

  private readBody(req: IncomingMessage, res: ServerResponse, cb: (body: Buffer) => void): void {
    const max = this.links.opts.maxBodyBytes ?? MAX_BATCH_BYTES;
    if (Number(header(req, 'content-length')) > max) {
      // Said too large up front: refused without reading a byte of it, and the connection
      // closed rather than drained.
      res.setHeader('Connection', 'close');
      this.reply(res, 413, `request body larger than ${max} bytes`);
      res.on('finish', () => req.socket.destroy());
      return;
    }
    void readBody(req, max).then((body) => {
      if (body.aborted) return void res.destroy();
      if (body.tooLarge) return this.reply(res, 413, `request body larger than ${max} bytes`);
      try {
        cb(body.data);
      } catch (err) {
        this.links.log('E', `peer request failed (${errText(err)})`);
        if (!res.headersSent) this.reply(res, 500, 'internal error');
      }
    });
  }

  /** Every answer carries our identity and clock, so the sender can check both. */
  private reply(res: ServerResponse, status: number, text: string): void {
    if (res.headersSent) return;
    res.setHeader('X-Etcd-Cluster-ID', this.links.clusterId);
    res.setHeader('X-Server-Version', VERSION);
    res.setHeader('X-Raft-Clock', String(this.links.opts.clock()));
    if (status === 204) {
      res.writeHead(204);
      res.end();
      return;
    }
    if (!res.hasHeader('Content-Type')) res.setHeader('Content-Type', 'text/plain; charset=utf-8');
    res.writeHead(status);
    res.end(status >= 400 ? `${text}\n` : text);
  }
}
