// Watches a cluster it did not start, from outside, through its client API only: a real etcd
// (3.2+ through the v3 JSON gateway, any version through v2) or a `raftlab node` cluster (v2).
// What each API shows, and how, is the clients' business (etcd-client.ts, v2-client.ts,
// v3-client.ts); this file only polls and diffs.
//
// Every client URL gets its own poll loop (so one dead endpoint never slows the others), one
// loop reads the member list, and one streams key changes under a prefix. Every request has a
// deadline; stop() aborts whatever is in flight. Snapshots are coalesced (one per ~10 ms of
// changes) and the events (leader, term, members) are the differences between snapshots; key
// changes and reachability are emitted as they are seen. Neither API shows votes, logs, timers,
// clocks or peer links (see toClusterState).
//
// A secured cluster is reached with the TLS files and login given (credentials.ts): https URLs,
// a CA, a client certificate, a user. What fails is said in words instead of a hang: an http URL
// that reaches a TLS port, a certificate refused, a cluster with auth enabled and no login or a
// wrong one (status and membership still show; keys, watches and membership changes need it).
//
// About 500 lines because the loops share one set of endpoints, members and timers that stop()
// must end together; the protocol work already lives in the clients.

import { EventEmitter, setMaxListeners } from 'node:events';
import type {
  AttachEvent,
  AttachedMember,
  AttachedView,
  EndpointStatus,
  WatchStatus,
} from '../../src-shared/attach.js';
import { detectClient } from './detect-client.js';
import type { EtcdClient, KeyChange } from './etcd-client.js';
import type { ClusterAccess } from './credentials.js';
import { AttachError, Http, linked, NetError, parseEndpoints } from './http.js';

export { AttachError, parseEndpoints, type AttachErrorKind } from './http.js';

export interface ObserverOptions {
  /** Pause between two polls of one endpoint, ms. */
  pollMs?: number;
  /** Deadline of one poll request, ms. */
  timeoutMs?: number;
  /** Deadline of put/get/delete/member add/remove, ms (etcd holds a write while it has no leader). */
  opTimeoutMs?: number;
  /** Watch keys under this prefix ('/' by default); null: no watch. v2 watches it as a directory. */
  watchPrefix?: string | null;
  /** Also poll the client URLs the member list advertises (default true). */
  discover?: boolean;
  /** 'v2': speak etcd's v2 API even where the v3 gateway answers (default: v3 where it can). */
  api?: 'v2';
  /** TLS files and a login for a secured cluster (credentials.ts); stop() closes its connections. */
  access?: ClusterAccess;
}

interface Endpoint {
  status: EndpointStatus;
  /** Known once the endpoint said which API it serves. */
  client?: EtcdClient;
  loop?: Promise<void>;
  /** Ends this endpoint's loop (it was dropped from the member list). */
  ctrl: AbortController;
}

/** A sleep that stop() (or a kick) ends early. */
class Sleeper {
  private wakers = new Set<() => void>();
  sleep(ms: number, signal: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(t);
        this.wakers.delete(done);
        signal.removeEventListener('abort', done);
        resolve();
      };
      const t = setTimeout(done, ms);
      this.wakers.add(done);
      signal.addEventListener('abort', done, { once: true });
    });
  }
  wake(): void {
    for (const w of [...this.wakers]) w();
  }
}

type Events = { snapshot: [AttachedView]; event: [AttachEvent] };

export class EtcdObserver extends EventEmitter<Events> {
  readonly urls: string[];
  private readonly pollMs: number;
  private readonly timeoutMs: number;
  /** An operation's deadline (put, member add, the v3 console's requests), ms. */
  readonly opTimeoutMs: number;
  private readonly discover: boolean;
  private readonly root = new AbortController();
  private readonly http: Http;
  private readonly endpoints: Endpoint[] = [];
  private members: AttachedMember[] = [];
  private membersError: string | undefined;
  /** The member list was read at least once (a failed read keeps the last list). */
  private membersRead = false;
  private clusterId: string | undefined;
  private readonly problems: string[] = [];
  private watchStatus: WatchStatus | undefined;
  private watchNext: number | undefined;
  private watchCtrl: AbortController | undefined;
  private readonly memberSleep = new Sleeper();
  private loops: Promise<void>[] = [];
  private started = false;
  private stopped = false;
  private flushTimer: NodeJS.Timeout | undefined;
  private last: AttachedView | undefined;
  /**
   * What the last view showed, for the events: members once a list was read, leader and term
   * once every given URL was checked and one answered. Until then nothing "changed": a cluster
   * first seen is not a cluster whose members were all just added.
   */
  private seenMembers: Map<string, AttachedMember> | undefined;
  private seenRaft: { leader?: string; term: number } | undefined;
  private readonly onlyApi: 'v2' | undefined;

  constructor(urls: string | string[], opts: ObserverOptions = {}) {
    super();
    this.urls = parseEndpoints(urls);
    this.pollMs = opts.pollMs ?? 500;
    this.timeoutMs = opts.timeoutMs ?? 1000;
    this.opTimeoutMs = opts.opTimeoutMs ?? 5000;
    this.discover = opts.discover ?? true;
    this.onlyApi = opts.api;
    // Every request in flight listens to the root signal (polls, health, members, the watch, a
    // login's wait on each): more than Node's default 10 with a few endpoints is normal.
    setMaxListeners(64, this.root.signal);
    this.http = new Http(this.root.signal, this.timeoutMs, this.opTimeoutMs, opts.access);
    for (const url of this.urls) this.addEndpoint(url, 'given');
    const prefix = opts.watchPrefix === undefined ? '/' : opts.watchPrefix;
    if (prefix !== null) this.watchStatus = { prefix };
  }

  start(): this {
    if (this.started) return this;
    this.started = true;
    for (const ep of this.endpoints) this.startEndpoint(ep);
    this.loops.push(this.membersLoop());
    if (this.watchStatus) this.loops.push(this.watchLoop());
    return this;
  }

  /** Ends every loop and request; resolves when they are all done. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.root.abort();
    this.memberSleep.wake();
    clearTimeout(this.flushTimer);
    await Promise.allSettled([...this.loops, ...this.endpoints.map((e) => e.loop)]);
    this.http.access?.fetch.close();
  }

  /** The latest snapshot. */
  view(): AttachedView {
    return (this.last ??= this.compute());
  }

  // --- operations (through the first endpoint that answers) --------------------------------

  put(key: string, value: string): Promise<{ revision: number }> {
    return this.op('put', (c) => c.put(key, value));
  }

  get(key: string): Promise<{ key: string; value: string; revision: number } | undefined> {
    return this.op('get', (c) => c.get(key));
  }

  delete(key: string): Promise<{ deleted: number }> {
    return this.op('delete', (c) => c.delete(key));
  }

  /** etcd's `member add`: the new member is listed unstarted until it runs and publishes. */
  async addMember(peerURLs: string | string[]): Promise<AttachedMember> {
    const urls = Array.isArray(peerURLs) ? peerURLs : [peerURLs];
    const m = await this.op('member add', (c) => c.addMember(urls));
    this.memberSleep.wake();
    return m;
  }

  /** etcd's `member remove <hex id>`. */
  async removeMember(id: string): Promise<void> {
    if (!/^[0-9a-f]{1,16}$/i.test(id))
      throw new AttachError('etcd', `member remove: ${JSON.stringify(id)} is not a member id (hex)`);
    await this.op('member remove', (c) => c.removeMember(id));
    this.memberSleep.wake();
  }

  // --- plumbing -------------------------------------------------------------------------------

  private async clientOf(ep: Endpoint, timeoutMs: number): Promise<EtcdClient> {
    ep.client ??= await detectClient(this.http, ep.status.url, timeoutMs, this.onlyApi);
    return ep.client;
  }

  /** Endpoints in the order worth trying: answering ones first, then unknown, then silent. */
  private candidates(): Endpoint[] {
    const rank = (e: Endpoint) => (e.status.reachable === true ? 0 : e.status.reachable === undefined ? 1 : 2);
    return [...this.endpoints].sort((a, b) => rank(a) - rank(b));
  }

  private async op<T>(what: string, fn: (client: EtcdClient) => Promise<T>): Promise<T> {
    if (this.stopped) throw new AttachError('unreachable', `${what}: the observer is stopped`);
    const failures: string[] = [];
    let tls: AttachError | undefined;
    for (const ep of this.candidates()) {
      try {
        return await fn(await this.clientOf(ep, this.opTimeoutMs));
      } catch (err) {
        if (err instanceof NetError) failures.push(`${ep.status.url}: ${err.message}`);
        else if (err instanceof AttachError && err.kind === 'tls') tls ??= err;
        else throw err;
      }
    }
    if (failures.length === 0 && tls) throw tls;
    throw new AttachError(
      'unreachable',
      `${what}: no endpoint answered (${[...failures, ...(tls ? [tls.message] : [])].join('; ')})`,
    );
  }

  private emitEvent(e: AttachEvent): void {
    this.emit('event', e);
  }

  private problem(message: string): void {
    if (this.problems.includes(message)) return;
    this.problems.push(message);
    this.emitEvent({ type: 'problem', at: Date.now(), message });
    this.changed();
  }

  private clearProblem(match: (p: string) => boolean): void {
    const i = this.problems.findIndex(match);
    if (i !== -1) {
      this.problems.splice(i, 1);
      this.changed();
    }
  }

  /** Coalesces bursts of updates into one snapshot. */
  private changed(): void {
    if (this.flushTimer || this.stopped) return;
    this.flushTimer = setTimeout(() => {
      this.flushTimer = undefined;
      if (!this.stopped) this.flush();
    }, 10);
  }

  // --- endpoints ------------------------------------------------------------------------------

  private addEndpoint(url: string, origin: 'given' | 'discovered'): Endpoint {
    const ep: Endpoint = {
      status: { url, origin, reachable: undefined, warnings: [], health: 'unknown', alarms: [], unavailable: [] },
      ctrl: new AbortController(),
    };
    this.endpoints.push(ep);
    return ep;
  }

  private startEndpoint(ep: Endpoint): void {
    ep.loop = (async () => {
      const link = linked(undefined, this.root.signal, ep.ctrl.signal);
      const sleeper = new Sleeper();
      while (!link.signal.aborted) {
        await this.pollEndpoint(ep);
        await sleeper.sleep(this.pollMs, link.signal);
      }
      link.done();
    })();
  }

  private async pollEndpoint(ep: Endpoint): Promise<void> {
    const s = ep.status;
    const was = s.reachable;
    try {
      const client = await this.clientOf(ep, this.timeoutMs);
      s.api = client.api;
      const { clusterId, ...reading } = await client.status();
      Object.assign(s, reading);
      if (clusterId) this.clusterId = clusterId;
      s.reachable = true;
      s.error = undefined;
      s.seenAt = Date.now();
    } catch (err) {
      if (this.root.signal.aborted || ep.ctrl.signal.aborted) return;
      if (
        err instanceof NetError ||
        (err instanceof AttachError && (err.kind === 'tls' || err.kind === 'unsupported'))
      ) {
        s.reachable = false;
        s.error = err.message;
        s.health = 'unknown';
        ep.client = undefined; // it may come back as something else (restarted, upgraded)
      } else {
        // It answered, but not as expected: still reachable, say what went wrong.
        s.reachable = true;
        s.seenAt = Date.now();
        s.warnings = [err instanceof Error ? err.message : String(err)];
      }
    }
    s.checkedAt = Date.now();
    if (s.reachable !== was) {
      const at = Date.now();
      if (s.reachable) this.emitEvent({ type: 'endpointReachable', at, url: s.url, api: s.api, version: s.version });
      else this.emitEvent({ type: 'endpointUnreachable', at, url: s.url, error: s.error ?? 'unreachable' });
      // The watch may be streaming from an endpoint that just went silent: move it.
      if (!s.reachable && this.watchStatus?.endpoint === s.url) this.watchCtrl?.abort();
    }
    this.changed();
  }

  // --- members --------------------------------------------------------------------------------

  private async membersLoop(): Promise<void> {
    while (!this.stopped) {
      await this.pollMembers();
      await this.memberSleep.sleep(this.pollMs, this.root.signal);
    }
  }

  private async pollMembers(): Promise<void> {
    const failures: string[] = [];
    for (const ep of this.candidates()) {
      if (this.stopped) return;
      try {
        const list = await (await this.clientOf(ep, this.timeoutMs)).members();
        list.sort((a, b) => (BigInt('0x' + (a.id || '0')) < BigInt('0x' + (b.id || '0')) ? -1 : 1));
        this.members = list;
        this.membersError = undefined;
        this.membersRead = true;
        if (this.discover) this.rediscover();
        this.changed();
        return;
      } catch (err) {
        failures.push(`${ep.status.url}: ${err instanceof Error ? err.message : String(err)}`);
      }
    }
    if (this.stopped) return;
    this.membersError = failures.length ? `member list: ${failures.join('; ')}` : 'member list: no endpoint to ask';
    this.changed();
  }

  /** Poll the client URLs members advertise that no endpoint covers; drop those gone. */
  private rediscover(): void {
    // Wait until every given URL has said who it is, or it would be polled twice.
    if (this.endpoints.some((e) => e.status.origin === 'given' && e.status.checkedAt === undefined)) return;
    for (const m of this.members) {
      if (!m.started || m.clientURLs.length === 0) continue;
      const covered = this.endpoints.some(
        (e) =>
          (e.status.memberId !== undefined && e.status.memberId === m.id) ||
          m.clientURLs.some((u) => originOf(u) === e.status.url),
      );
      if (covered) continue;
      const url = m.clientURLs.find((u) => u.startsWith('http:')) ?? m.clientURLs[0]!; // not empty: checked above
      const origin = originOf(url);
      if (origin === '' || this.endpoints.some((e) => e.status.url === origin)) continue;
      const ep = this.addEndpoint(origin, 'discovered');
      if (this.started) this.startEndpoint(ep);
    }
    for (let i = this.endpoints.length - 1; i >= 0; i--) {
      const e = this.endpoints[i]!;
      if (e.status.origin !== 'discovered') continue;
      const still = this.members.some(
        (m) =>
          m.clientURLs.some((u) => originOf(u) === e.status.url) ||
          (e.status.memberId !== undefined && m.id === e.status.memberId),
      );
      if (!still) {
        e.ctrl.abort();
        this.endpoints.splice(i, 1);
      }
    }
  }

  // --- watch ----------------------------------------------------------------------------------

  private async watchLoop(): Promise<void> {
    const w = this.watchStatus!;
    let backoff = this.pollMs;
    while (!this.stopped) {
      const ep = this.candidates().find((e) => e.status.reachable === true && e.client !== undefined);
      if (!ep?.client) {
        await this.memberSleep.sleep(this.pollMs, this.root.signal);
        continue;
      }
      const ctrl = new AbortController();
      this.watchCtrl = ctrl;
      const link = linked(undefined, this.root.signal, ctrl.signal);
      const signal = link.signal;
      w.endpoint = ep.status.url;
      w.api = ep.client.api;
      this.changed();
      try {
        await ep.client.watch(
          w.prefix,
          this.watchNext,
          {
            created: (next) => {
              this.watchNext ??= next;
              w.error = undefined;
              w.next = this.watchNext;
              this.clearProblem((p) => p.startsWith('the cluster requires authentication'));
              this.changed();
            },
            change: (c) => {
              this.keyEvent(c);
              this.watchNext = c.revision + 1;
              w.next = this.watchNext;
            },
            missed: (problem, resumeFrom) => {
              this.problem(problem);
              this.watchNext = resumeFrom;
              w.next = resumeFrom;
            },
          },
          signal,
        );
        backoff = this.pollMs;
      } catch (err) {
        if (this.stopped) break;
        const msg = err instanceof Error ? err.message : String(err);
        if (!signal.aborted) w.error = msg;
        if (err instanceof AttachError && (err.kind === 'auth' || err.kind === 'unsupported')) {
          this.problem(msg);
          backoff = Math.min(backoff * 2, 5000);
        }
      } finally {
        link.done();
      }
      w.endpoint = undefined;
      this.changed();
      await new Sleeper().sleep(backoff, this.root.signal);
    }
  }

  private keyEvent(c: KeyChange): void {
    const e: AttachEvent = {
      type: 'keyChanged',
      at: Date.now(),
      action: c.action,
      detail: c.detail,
      key: c.key,
      revision: c.revision,
    };
    if (c.value !== undefined) e.value = c.value;
    if (c.prevValue !== undefined) e.prevValue = c.prevValue;
    if (c.dir) e.dir = true;
    this.emitEvent(e);
  }

  // --- snapshots and events -------------------------------------------------------------------

  private compute(): AttachedView {
    const names = new Map(this.members.map((m) => [m.id, m.name]));
    const endpoints = this.endpoints.map((e) => {
      const s = structuredClone(e.status);
      if (s.memberId && names.get(s.memberId)) s.name = names.get(s.memberId);
      return s;
    });
    const live = endpoints.filter((e) => e.reachable === true && e.raftTerm !== undefined);
    const maxLive = Math.max(0, ...live.map((e) => e.raftTerm!));
    const votes = new Map<string, number>();
    for (const e of live)
      if (e.raftTerm === maxLive && e.leaderId) votes.set(e.leaderId, (votes.get(e.leaderId) ?? 0) + 1);
    const best = [...votes.entries()].sort((a, b) => b[1] - a[1])[0];
    const view: AttachedView = {
      source: 'attached',
      at: Date.now(),
      urls: [...this.urls],
      members: structuredClone(this.members),
      endpoints,
      term: Math.max(0, ...endpoints.map((e) => e.raftTerm ?? 0)),
      problems: [...this.problems],
    };
    if (this.http.access) view.security = { ...this.http.access.view };
    if (this.clusterId) view.clusterId = this.clusterId;
    if (this.membersError) view.membersError = this.membersError;
    if (best) view.leader = { id: best[0], name: names.get(best[0]) || best[0], term: maxLive };
    if (this.watchStatus) view.watch = { ...this.watchStatus };
    return view;
  }

  private flush(): void {
    const view = this.compute();
    this.last = view;
    const at = view.at;
    if (this.membersRead) {
      const members = new Map(view.members.map((m) => [m.id, m]));
      const before = this.seenMembers;
      if (before) {
        for (const m of view.members) {
          const b = before.get(m.id);
          if (!b) this.emitEvent({ type: 'memberAdded', at, member: m });
          else if (!b.started && m.started) this.emitEvent({ type: 'memberStarted', at, member: m });
        }
        for (const [id, m] of before) if (!members.has(id)) this.emitEvent({ type: 'memberRemoved', at, member: m });
      }
      this.seenMembers = members;
    }
    const checked = this.endpoints.every((e) => e.status.origin !== 'given' || e.status.checkedAt !== undefined);
    // With nothing answering, the leader is not "lost", just not seen: hold the last one.
    const answering = view.endpoints.some((e) => e.reachable === true && e.raftTerm !== undefined);
    if (checked && answering) {
      const b = this.seenRaft;
      const lead = view.leader?.id;
      if (b) {
        if (view.term > b.term) this.emitEvent({ type: 'termBumped', at, from: b.term, to: view.term });
        if (lead !== b.leader) {
          const e: AttachEvent = { type: 'leaderChanged', at, term: view.leader?.term ?? view.term };
          const name = (id: string) =>
            view.members.find((m) => m.id === id)?.name || this.seenMembers?.get(id)?.name || id;
          if (b.leader) Object.assign(e, { from: b.leader, fromName: name(b.leader) });
          if (view.leader) Object.assign(e, { to: view.leader.id, toName: view.leader.name });
          this.emitEvent(e);
        }
      }
      this.seenRaft = { leader: lead, term: Math.max(view.term, b?.term ?? 0) };
    }
    this.emit('snapshot', view);
  }
}

function originOf(url: string): string {
  try {
    return new URL(url).origin;
  } catch {
    return '';
  }
}
