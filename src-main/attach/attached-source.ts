// An attached cluster as a source of the window's protocol: the EtcdObserver's views become
// `cluster` snapshots (with `attached` set) and its observations `attach` events, batched like
// the supervisor's. Commands that work through a client API (KV, member add and remove) are
// carried out (the v3 console's requests through the chosen member's /v3 JSON gateway, as for
// the app's own nodes); the ones that need the cluster to be ours are refused with the reason.

import { EventEmitter } from 'node:events';
import { memberLabel, type AttachCredentials, type AttachedView } from '../../src-shared/attach.js';
import { toClusterState } from '../../src-shared/attached-cluster.js';
import type { ClusterState } from '../../src-shared/cluster-state.js';
import type { AddMemberResult, CommandResult, KvResult } from '../../src-shared/command-results.js';
import type { Command } from '../../src-shared/commands.js';
import type { CommandRequest, ServerEvent } from '../../src-shared/protocol.js';
import { clusterAccess } from './credentials.js';
import { EtcdObserver, parseEndpoints } from './etcd-observer.js';
import { V3Console } from './v3-console.js';

const FLUSH_MS = 16;
const RECENT_MAX = 200;
let attachSeq = 0;

export class AttachedSource extends EventEmitter<{ events: [ServerEvent[]] }> {
  readonly observer: EtcdObserver;
  /** Negative and new per attach, so that the window starts over when it switches. */
  private readonly generation = -++attachSeq;
  private pending: ServerEvent[] = [];
  private recent: ServerEvent[] = [];
  private timer?: NodeJS.Timeout;
  private stopped = false;
  private readonly v3 = new V3Console((line) => this.queue({ type: 'watch', at: Date.now(), ...line }));

  /** Throws (before anything starts) when a URL or a TLS file is no good, saying which. */
  constructor(urls: string[], prefix = '/', credentials: AttachCredentials = {}) {
    super();
    const access = clusterAccess(credentials, parseEndpoints(urls));
    this.observer = new EtcdObserver(urls, { watchPrefix: prefix, access });
    // The console speaks as the attach's user until logged in as another.
    this.v3.setAccess(access);
    this.observer.on('snapshot', () => this.queue());
    this.observer.on('event', (event) => {
      const e: ServerEvent = { type: 'attach', at: event.at, event };
      this.recent.push(e);
      if (this.recent.length > RECENT_MAX) this.recent.shift();
      this.queue(e);
    });
  }

  start(): this {
    this.observer.start();
    return this;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    this.v3.closeAll();
    await this.observer.stop();
  }

  snapshot(): ClusterState {
    const view: AttachedView = this.observer.view();
    const security = view.security ? { ...view.security, user: this.v3.user } : undefined;
    if (security?.user === undefined) delete security?.user;
    return { ...toClusterState(view), generation: this.generation, attached: view, ...(security ? { security } : {}) };
  }

  greeting(): ServerEvent[] {
    return [{ type: 'cluster', cluster: this.snapshot() }, ...this.recent];
  }

  async handle(req: CommandRequest): Promise<void> {
    try {
      const result = await this.execute(req.cmd);
      this.queue(result === undefined ? { type: 'ack', id: req.id } : { type: 'ack', id: req.id, result });
    } catch (err) {
      this.queue({ type: 'error', id: req.id, message: err instanceof Error ? err.message : String(err) });
    }
  }

  async execute(cmd: Command): Promise<CommandResult> {
    switch (cmd.type) {
      case 'kv':
        return this.kv(cmd);
      case 'kv3': {
        const n = this.snapshot().nodes.find((x) => x.name === cmd.name);
        if (!n?.clientURL) throw new Error(`${cmd.name}: no client URL of that member is known`);
        return this.v3.execute(n.name, n.clientURL, cmd.request, this.observer.opTimeoutMs);
      }
      case 'login':
      case 'logout': {
        const url = this.observer.view().endpoints.find((e) => e.reachable)?.url ?? this.observer.urls[0];
        await this.v3.login(
          url,
          cmd.type === 'login' ? cmd.user : undefined,
          cmd.type === 'login' ? cmd.password : '',
          this.observer.opTimeoutMs,
        );
        return undefined;
      }
      case 'addMember': {
        if (!cmd.peerURL)
          throw new Error("addMember: an attached cluster needs the new member's peer URL (http://host:port)");
        if (cmd.learner)
          throw new Error(
            'addMember: adding a learner is done here only in a cluster raftlab runs; use etcdctl member add --learner',
          );
        const m = await this.observer.addMember(cmd.peerURL);
        return { name: memberLabel(m), id: m.id } satisfies AddMemberResult;
      }
      case 'removeMember': {
        const m = this.observer.view().members.find((x) => memberLabel(x) === cmd.name || x.id === cmd.name);
        if (!m) throw new Error(`no member ${cmd.name} in the attached cluster`);
        await this.observer.removeMember(m.id);
        return undefined;
      }
      default:
        throw new Error(
          `${cmd.type} needs a cluster raftlab runs itself; an attached cluster is only watched through its client API`,
        );
    }
  }

  private async kv(cmd: Extract<Command, { type: 'kv' }>): Promise<KvResult> {
    switch (cmd.method) {
      case 'PUT': {
        const r = await this.observer.put(cmd.key, cmd.value ?? '');
        return { status: 200, body: { action: 'set', key: cmd.key, value: cmd.value ?? '', revision: r.revision } };
      }
      case 'GET': {
        if (cmd.query?.wait)
          throw new Error('watch: on an attached cluster, key changes under the watched prefix appear in the timeline');
        const r = await this.observer.get(cmd.key);
        return r
          ? { status: 200, body: { action: 'get', ...r } }
          : { status: 404, body: { message: 'Key not found', key: cmd.key } };
      }
      case 'DELETE': {
        const r = await this.observer.delete(cmd.key);
        return r.deleted > 0
          ? { status: 200, body: { action: 'delete', key: cmd.key } }
          : { status: 404, body: { message: 'Key not found', key: cmd.key } };
      }
      default:
        throw new Error(`${cmd.method} is not offered on an attached cluster (put, get and delete are)`);
    }
  }

  private queue(e?: ServerEvent): void {
    if (this.stopped) return;
    if (e) this.pending.push(e);
    this.timer ??= setTimeout(() => {
      this.timer = undefined;
      const batch = [...this.pending, { type: 'cluster', cluster: this.snapshot() } as ServerEvent];
      this.pending = [];
      this.emit('events', batch);
    }, FLUSH_MS);
  }
}
