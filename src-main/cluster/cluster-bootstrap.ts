// A cluster the window bootstraps the other two ways of etcd's clustering guide: by etcd
// discovery or by DNS SRV records. This part of the supervisor sets up what the members are
// told to ask (a discovery token in a service, or SRV records in a DNS server on loopback),
// watches it for the window (the directory filling one registration at a time), and runs the
// members that come too late: etcd's outcome for them (exit, or a v2 proxy).
//
// The discovery service is the user's (any v2 keys API: a real etcd, say) or one the app starts
// for it: a single raftlab node in this process, outside the cluster it serves. The DNS server
// is Debian's dnsmasq on loopback; where it is missing, DNS bootstrap says so and does nothing.

import fs from 'node:fs';
import path from 'node:path';
import type { BootstrapView, ExtraMember, Registration, SrvRecordView } from '../../src-shared/cluster-state.js';
import { Dnsmasq, dnsmasqMissing } from '../net/dnsmasq.js';
import { freePorts } from '../net/free-ports.js';
import { BootstrapFailed, resolveBootstrap, type BootstrapConfig } from '../node/discovery/bootstrap.js';
import type { LogLevel } from '../node/log.js';
import { startNode, type RunningNode } from '../node/node-server.js';
import { PROXY_DEFAULTS, startProxy, type RunningProxy } from '../node/proxy/start-proxy.js';
import { proxyOptions } from '../node/proxy/run-proxy.js';
import type { WorkerBootstrap } from './worker-protocol.js';

export type Log = (node: string, level: LogLevel, pkg: string, msg: string) => void;

/** The domain of a DNS-bootstrapped cluster's SRV records (.test never leaves the machine). */
export const SRV_DOMAIN = 'raftlab.test';

interface Member {
  name: string;
  peerURL: string;
}

export class ClusterBootstrap {
  private readonly extras: ExtraMember[] = [];
  private readonly proxies: RunningProxy[] = [];
  private registrations: Registration[] = [];
  private stopped = false;
  private readonly watching = new AbortController();

  private constructor(
    private readonly base: Omit<BootstrapView, 'extras' | 'registrations'>,
    /** What each member is started with instead of an initial cluster. */
    readonly memberBootstrap: WorkerBootstrap,
    /** The cluster token the members' ids derive from (etcd: the discovery URL with discovery). */
    readonly token: string,
    private readonly changed: () => void,
    private readonly log: Log,
    private readonly owned: { service?: RunningNode; dns?: Dnsmasq },
  ) {}

  /**
   * A discovery token of `size` under `/v2/keys/discovery/` of the service at `serviceURL`, or of
   * a raftlab node started here for it (data in `dir`).
   */
  static async discovery(o: {
    dir: string;
    size: number;
    serviceURL?: string;
    tokenName: string;
    changed: () => void;
    log: Log;
  }): Promise<ClusterBootstrap> {
    let service: RunningNode | undefined;
    let base = o.serviceURL?.replace(/\/+$/, '');
    if (base === undefined) {
      service = await startDiscoveryService(path.join(o.dir, 'discovery-service.etcd'), o.log);
      base = service.clientURLs[0]!;
    }
    try {
      const url = `${base}/v2/keys/discovery/${o.tokenName}`;
      await createToken(url, o.size);
      const b = new ClusterBootstrap(
        {
          method: 'discovery',
          flags: `--discovery ${url}`,
          url,
          service: service ? `a raftlab node the app started for it, at ${base}` : base,
          size: o.size,
        },
        { method: 'discovery', url, fallback: 'exit' },
        url,
        o.changed,
        o.log,
        { service },
      );
      void b.watchDirectory(url);
      return b;
    } catch (err) {
      await service?.stop();
      throw err;
    }
  }

  /** SRV records `_etcd-server._tcp.raftlab.test` naming each member's peer port, served by dnsmasq. */
  static async dns(o: { members: Member[]; token: string; changed: () => void; log: Log }): Promise<ClusterBootstrap> {
    const missing = dnsmasqMissing();
    if (missing) throw new Error(missing);
    // The target is the peer host as is: the members' peer connections resolve it with the
    // system's resolver, which knows nothing of this domain; an IP literal needs none.
    const records: SrvRecordView[] = o.members.map((m) => {
      const u = new URL(m.peerURL);
      return { service: `_etcd-server._tcp.${SRV_DOMAIN}`, target: u.hostname, port: Number(u.port) };
    });
    const dns = await Dnsmasq.start(SRV_DOMAIN, records);
    return new ClusterBootstrap(
      {
        method: 'dns',
        flags: `--discovery-srv ${SRV_DOMAIN}`,
        domain: SRV_DOMAIN,
        dnsServer: dns.server,
        records,
      },
      { method: 'dns', domain: SRV_DOMAIN, serviceName: '', servers: [dns.server] },
      o.token,
      o.changed,
      o.log,
      { dns },
    );
  }

  view(): BootstrapView {
    return {
      ...this.base,
      ...(this.base.method === 'discovery' ? { registrations: this.registrations.map((r) => ({ ...r })) } : {}),
      extras: this.extras.map((e) => ({ ...e })),
    };
  }

  /** The registration of member `id`, once it has registered. */
  registered(id: string): boolean {
    return this.registrations.some((r) => r.id === id);
  }

  /**
   * A member that comes after the cluster was formed, started as etcd would be with the same
   * flags (and `--discovery-fallback`): with discovery it finds the cluster full, with DNS it
   * is not in the records. Its lines go to its own log; the outcome is etcd's.
   */
  async extra(name: string, dataDir: string, fallback: 'exit' | 'proxy'): Promise<ExtraMember> {
    const [peerPort, clientPort] = await freePorts(2);
    const peerURL = `http://127.0.0.1:${peerPort}`;
    const clientURL = `http://127.0.0.1:${clientPort}`;
    const entry: ExtraMember = { name, outcome: 'trying' };
    this.extras.push(entry);
    this.changed();
    const log = (level: LogLevel, pkg: string, msg: string) => this.log(name, level, pkg, msg);
    const b = this.memberBootstrap;
    const cfg: BootstrapConfig & { listenClientURLs: string[] } = {
      name,
      dataDir,
      bootstrap: b.method === 'discovery' ? { ...b, fallback } : b,
      proxy: { mode: 'off', ...PROXY_DEFAULTS },
      initialAdvertisePeerURLs: [peerURL],
      initialClusterToken: this.token,
      initialClusterString: '',
      initialCluster: [],
      listenClientURLs: [clientURL],
    };
    try {
      const role = await resolveBootstrap(cfg, log, { signal: this.watching.signal });
      if (role === 'member') {
        // Not expected: the size is reached. Said plainly rather than started behind the window's back.
        entry.outcome = 'exited';
        entry.reason = 'discovery let it join: the token had room for one more';
      } else {
        const proxy = await startProxy(proxyOptions(cfg, log));
        if (this.stopped) await proxy.stop();
        else this.proxies.push(proxy);
        entry.outcome = 'proxy';
        entry.clientURL = proxy.clientURLs[0];
      }
    } catch (err) {
      const lines =
        err instanceof BootstrapFailed
          ? err.lines
          : [['C', 'etcdmain', err instanceof Error ? err.message : String(err)] as const];
      for (const [level, pkg, msg] of lines) log(level, pkg, msg);
      entry.outcome = 'exited';
      entry.reason = reasonOf(err);
    }
    this.changed();
    return { ...entry };
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.watching.abort();
    await Promise.all([...this.proxies.map((p) => p.stop()), this.owned.service?.stop(), this.owned.dns?.stop()]);
  }

  /** Follows the token's directory with v2 watches: every registration, as it is made. */
  private async watchDirectory(url: string): Promise<void> {
    const signal = this.watching.signal;
    while (!this.stopped) {
      try {
        const res = await fetch(`${url}?recursive=true`, { signal });
        const body = (await res.json()) as {
          node?: { nodes?: { key: string; value?: string; dir?: boolean; createdIndex: number }[] };
        };
        const index = Number(res.headers.get('x-etcd-index') ?? 0);
        const regs = (body.node?.nodes ?? [])
          .filter((n) => !n.dir && !n.key.endsWith('/_config'))
          .map((n) => ({
            id: n.key.slice(n.key.lastIndexOf('/') + 1),
            value: n.value ?? '',
            createdIndex: n.createdIndex,
          }))
          .sort((a, b) => a.createdIndex - b.createdIndex);
        if (JSON.stringify(regs) !== JSON.stringify(this.registrations)) {
          this.registrations = regs;
          this.changed();
        }
        // Until anything under it changes (an outdated index just answers at once: listed again).
        await (await fetch(`${url}?wait=true&recursive=true&waitIndex=${index + 1}`, { signal })).text();
      } catch {
        if (this.stopped) return;
        await new Promise((r) => setTimeout(r, 500).unref());
      }
    }
  }
}

/** A one-member raftlab cluster serving as the discovery service (its own lines are not shown). */
async function startDiscoveryService(dataDir: string, log: Log): Promise<RunningNode> {
  fs.mkdirSync(dataDir, { recursive: true });
  const [peer, client] = await freePorts(2);
  const peerURL = `http://127.0.0.1:${peer}`;
  const clientURL = `http://127.0.0.1:${client}`;
  return startNode(
    {
      name: 'discovery',
      dataDir,
      initialCluster: [{ name: 'discovery', peerURLs: [peerURL] }],
      initialClusterState: 'new',
      initialClusterToken: 'raftlab-discovery-service',
      listenPeerURLs: [peerURL],
      advertisePeerURLs: [peerURL],
      listenClientURLs: [clientURL],
      advertiseClientURLs: [clientURL],
      heartbeatMs: 100,
      electionMs: 1000,
      snapshotCount: 10_000,
    },
    (level, pkg, msg) => {
      if (level === 'E' || level === 'C') log('discovery-service', level, pkg, msg);
    },
  );
}

/**
 * Whether the user's discovery service answers as a v2 keys API, asked before the current
 * cluster is thrown away: unreachable, or an etcd without the v2 API, is said plainly.
 */
export async function checkDiscoveryService(base: string): Promise<void> {
  const url = `${base.replace(/\/+$/, '')}/v2/keys/`;
  let res: Response;
  try {
    res = await fetch(url, { signal: AbortSignal.timeout(5000) });
  } catch (err) {
    throw new Error(
      `the discovery service at ${new URL(base).origin} cannot be reached: ${(err as { cause?: Error }).cause?.message ?? (err as Error).message}`,
      { cause: err },
    );
  }
  const text = await res.text();
  let v2 = false;
  try {
    v2 = typeof (JSON.parse(text) as { action?: unknown }).action === 'string';
  } catch {
    // not JSON: not a keys API
  }
  if (!v2) throw new Error(`${url} is not an etcd v2 keys API (${res.status}); etcd 3.4 serves it with --enable-v2`);
}

/** `curl -X PUT <token>/_config/size -d value=<size>`, as etcd's discovery instructions say. */
async function createToken(url: string, size: number): Promise<void> {
  let res: Response;
  try {
    res = await fetch(`${url}/_config/size`, {
      method: 'PUT',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ value: String(size) }).toString(),
      signal: AbortSignal.timeout(10_000),
    });
  } catch (err) {
    throw new Error(
      `the discovery service at ${new URL(url).origin} cannot be reached: ${(err as { cause?: Error }).cause?.message ?? (err as Error).message}`,
      { cause: err },
    );
  }
  if (res.status !== 200 && res.status !== 201) {
    throw new Error(
      `the discovery service refused the token's size key (${url}/_config/size): ${res.status} ${(await res.text()).slice(0, 200)}`,
    );
  }
}

/** etcd's error for a member that could not bootstrap, in a few words. */
function reasonOf(err: unknown): string {
  if (err instanceof BootstrapFailed) {
    const text = err.lines.map((l) => l[2]).join(' ');
    const m = /\((discovery: [^)]*)\)/.exec(text);
    return m ? m[1]! : err.lines[0]![2];
  }
  return err instanceof Error ? err.message : String(err);
}
