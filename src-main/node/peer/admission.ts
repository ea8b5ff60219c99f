// Who may talk to us, checked the way etcd's rafthttp handlers do on every POST /raft, stream
// upgrade and stream batch: the cluster id (412), a removed sender (410), a sender that is no
// member (404), a request meant for another member (412). Rejections are logged at most once
// per key, or once per 30 s, so that a hostile or confused sender costs a line, not a flood.

import type { IncomingMessage } from 'node:http';
import { performance } from 'node:perf_hooks';
import type { Message } from '../../../src-shared/raft-types.js';
import { maxAcceptableTerm } from '../../raft/raft.js';
import { parseMessages } from './codec.js';
import type { PeerLinks } from './links.js';
import type { LogLevel } from './types.js';
import { CLUSTER_MISMATCH_BODY, header, REMOVED_BODY } from './wire.js';

// Receiver-side rejections (wrong cluster, removed sender) would otherwise log 10×/s.
const REJECT_LOG_EVERY_MS = 30_000;

export type Admitted = { from: string } | { status: number; text: string };

export class Admission {
  private readonly rejectLogged = new Map<string, number>();
  private readonly loggedOnce = new Set<string>();

  constructor(private readonly links: PeerLinks) {}

  /** Same order as etcd: cluster compatibility, then who is talking, then to whom. */
  admit(req: IncomingMessage): Admitted {
    const links = this.links;
    const gcid = header(req, 'x-etcd-cluster-id');
    if (!this.sameCluster(gcid)) return { status: 412, text: CLUSTER_MISMATCH_BODY };
    const from = header(req, 'x-server-from');
    if (!from) return { status: 400, text: 'missing X-Server-From header' };
    if (this.senderRemoved(from)) return { status: 410, text: REMOVED_BODY };
    if (!this.isMember(from)) {
      // etcd's streamHandler: an id it cannot find among the members is refused with 404.
      this.logOnce(`unknown:${from}`, 'E', `failed to find member ${from} in cluster ${links.clusterId}`);
      return { status: 404, text: 'error sender not found' };
    }
    const to = header(req, 'x-raft-to');
    if (to !== links.opts.memberId) {
      this.logRejection(
        `to:${from}:${to}`,
        'E',
        `streaming request ignored (ID mismatch got ${to} want ${links.opts.memberId})`,
      );
      return { status: 412, text: 'to field mismatch' };
    }
    return { from };
  }

  sameCluster(gcid: string): boolean {
    const cid = this.links.clusterId;
    if (cid === '' || gcid === cid) return true;
    this.logRejection(`cid:${gcid}`, 'E', `request cluster ID mismatch (got ${gcid} want ${cid})`);
    return false;
  }

  senderRemoved(from: string): boolean {
    if (!this.links.opts.isRemoved(from)) return false;
    this.logRejection(`removed:${from}`, 'W', `rejected the stream from peer ${from} since it was removed`);
    return true;
  }

  /** A batch from `from`, parsed and checked against this link (throws on a bad one). */
  parse(text: string, from: string): Message[] {
    const links = this.links;
    return parseMessages(text, links.opts.memberId, from, links.opts.maxTerm?.() ?? maxAcceptableTerm(0));
  }

  /** Counts an accepted batch and hands it to Raft, unless the app cut the link (throws what Raft throws). */
  deliver(from: string, msgs: Message[], bytes: number): void {
    const s = this.links.peer(from).stats;
    s.recvMsgs += msgs.length;
    s.recvBytes += bytes;
    if (msgs.length > 0 && !this.links.opts.isLinkCut?.(from)) this.links.opts.onMessages(msgs);
  }

  private isMember(id: string): boolean {
    const o = this.links.opts;
    try {
      return o.isMember ? o.isMember(id) : o.peerURLs(id) !== undefined;
    } catch {
      return false;
    }
  }

  /** Once per key for the transport's life: a hostile or confused sender costs one line. */
  private logOnce(key: string, level: LogLevel, msg: string): void {
    if (this.loggedOnce.has(key)) return;
    if (this.loggedOnce.size < 1024) this.loggedOnce.add(key);
    this.links.log(level, msg);
  }

  private logRejection(key: string, level: LogLevel, msg: string): void {
    const now = performance.now();
    const last = this.rejectLogged.get(key);
    if (last !== undefined && now - last < REJECT_LOG_EVERY_MS) return;
    this.rejectLogged.set(key, now);
    this.links.log(level, msg);
  }
}
