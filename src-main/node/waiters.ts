// Client requests waiting on the log: a proposal waits until its entry is applied here (and gets
// the outcome of applying it), a linearizable read until the read index is confirmed and applied.
// Without a leader both are retried until the request times out. The Ready loop settles them
// (settle, readStates, appliedTo); stopping the node fails those still waiting.

import { randomBytes } from 'node:crypto';
import type { ConfChange, ReadState } from '../../src-shared/raft-types.js';
import { ProposalDropped, type Raft } from '../raft/raft.js';
import { MemberError, RaftUnavailable } from './client-backend.js';
import { stage } from '../util/stages.js';
import type { ApplyOutcome, ConfContext, NodeCommand } from './state-machine.js';

/** One proposal: a conf change or a normal command, made with the request id `r` it carries. */
export type Proposal = { conf?: { type: ConfChange['type']; id: string; ctx: ConfContext }; cmd?: NodeCommand };

export interface WaitersHost {
  readonly id: string;
  readonly raft: Raft;
  stopped(): boolean;
  /** The Ready loop runs soon (a proposal or read was handed to Raft). */
  schedule(): void;
  /** How long a request may wait now, real ms (longer in slow motion). */
  timeoutMs(): number;
  /** How long before a read index with no answer is asked again, real ms. */
  readRetryMs(): number;
}

interface Waiter {
  resolve: (o: ApplyOutcome) => void;
  reject: (e: Error) => void;
  timer: NodeJS.Timeout;
}

export class Waiters {
  /**
   * Request ids are `<member id>-<this start>-<n>`. With the member id and a counter alone, a
   * restarted member would propose `<id>-1` again while still catching up on entries its last
   * start proposed, and the old entry, once applied, would answer the new request (etcd's
   * idutil.Generator mixes the start time in for the same reason).
   */
  private readonly prefix: string;
  private seq = 0;
  private proposals = new Map<string, Waiter>();
  private reads = new Map<string, (index: number) => void>();
  private applied: { index: number; resolve: () => void }[] = [];

  constructor(private readonly host: WaitersHost) {
    this.prefix = `${host.id}-${randomBytes(4).toString('hex')}`;
  }

  /** Propose and wait until applied here. Without a leader, keep trying until the request times out. */
  proposeAndWait(make: (r: string) => Proposal): Promise<ApplyOutcome> {
    const h = this.host;
    const r = `${this.prefix}-${++this.seq}`;
    const p = make(r);
    const timeoutMs = h.timeoutMs();
    return new Promise<ApplyOutcome>((resolve, reject) => {
      const deadline = Date.now() + timeoutMs;
      const timer = setTimeout(() => {
        this.proposals.delete(r);
        reject(new RaftUnavailable('etcdserver: request timed out'));
      }, timeoutMs);
      this.proposals.set(r, { resolve, reject, timer });
      const attempt = () => {
        if (h.stopped() || !this.proposals.has(r)) return;
        try {
          if (p.conf)
            h.raft.proposeConfChange({ type: p.conf.type, id: p.conf.id, context: JSON.stringify(p.conf.ctx) });
          else h.raft.propose(JSON.stringify(p.cmd));
          stage('proposed');
          h.schedule();
        } catch (err) {
          if (!(err instanceof ProposalDropped)) {
            this.proposals.delete(r);
            clearTimeout(timer);
            return reject(err);
          }
          if (p.conf && !/no leader/.test(err.message)) {
            this.proposals.delete(r);
            clearTimeout(timer);
            return reject(new MemberError(500, `etcdserver: ${err.message}`));
          }
          if (Date.now() < deadline) setTimeout(attempt, 50);
        }
      };
      attempt();
    });
  }

  /** Resolves once this node has applied `index`. */
  waitApplied(index: number): Promise<void> {
    if (this.host.raft.log.applied >= index) return Promise.resolve();
    return new Promise((resolve) => this.applied.push({ index, resolve }));
  }

  /** A linearizable read point (read-index), retried until there is a leader or time runs out. */
  async readBarrier(): Promise<void> {
    const h = this.host;
    const ctx = `${this.prefix}-read-${++this.seq}`;
    const index = await new Promise<number>((resolve, reject) => {
      const deadline = Date.now() + h.timeoutMs();
      const cleanup = () => this.reads.delete(ctx);
      this.reads.set(ctx, (i) => {
        cleanup();
        resolve(i);
      });
      const attempt = () => {
        if (!this.reads.has(ctx)) return;
        if (h.stopped() || Date.now() >= deadline) {
          cleanup();
          return reject(new RaftUnavailable('etcdserver: request timed out'));
        }
        try {
          h.raft.readIndex(ctx);
          h.schedule();
        } catch (err) {
          if (!(err instanceof ProposalDropped)) return reject(err);
        }
        // Read requests are not retried by Raft itself: ask again if no answer came.
        setTimeout(attempt, h.readRetryMs());
      };
      attempt();
    });
    await this.waitApplied(index);
  }

  // ---------------------------------------------------------------- from the Ready loop

  /** An applied entry's outcome goes to the request that proposed it here, if any. */
  settle(out: ApplyOutcome): void {
    if (!out.r) return;
    const w = this.proposals.get(out.r);
    if (!w) return;
    this.proposals.delete(out.r);
    clearTimeout(w.timer);
    stage('settled');
    w.resolve(out);
  }

  readStates(states: ReadState[]): void {
    for (const r of states) this.reads.get(r.context)?.(r.index);
  }

  appliedTo(index: number): void {
    const ready = this.applied.filter((w) => w.index <= index);
    this.applied = this.applied.filter((w) => w.index > index);
    for (const w of ready) w.resolve();
  }

  /** The node stopped: every proposal still waiting fails ("server stopped"). */
  failProposals(): void {
    for (const w of this.proposals.values()) {
      clearTimeout(w.timer);
      w.reject(new RaftUnavailable('etcdserver: server stopped'));
    }
    this.proposals.clear();
  }
}
