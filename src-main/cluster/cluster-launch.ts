// Starting a fresh cluster for the supervisor (startCluster): statically, by etcd discovery or by
// DNS SRV (cluster-bootstrap.ts), secured or not (secure-cluster.ts), with auth enabled once it
// has a leader; and the state that comes with it: the discovery token or SRV records, the CA and
// TLS files, the members too many (bootstrapExtra), the names already taken.

import path from 'node:path';
import { randomBytes } from 'node:crypto';
import type { ClusterState, ExtraMember } from '../../src-shared/cluster-state.js';
import type { BootstrapMethod } from '../../src-shared/commands.js';
import type { V3Console } from '../attach/v3-console.js';
import { dnsmasqMissing } from '../net/dnsmasq.js';
import { freePorts } from '../net/free-ports.js';
import { memberId } from '../node/ids.js';
import type { Checkpoint } from './checkpoints.js';
import { checkDiscoveryService, ClusterBootstrap } from './cluster-bootstrap.js';
import type { EventQueue } from './event-queue.js';
import { newRecord, type ClusterNodes, type NodeDefaults, type NodeRecord } from './node-records.js';
import { SecureCluster, type SecureOptions } from './secure-cluster.js';
import type { StepController } from './step-controller.js';
import { sleep, type Workers } from './workers.js';

/** What a launch works on: the supervisor's parts. */
export interface LaunchHost {
  /** The session folder: cluster `gen`'s data dirs go to `<dir>/cluster-<gen>`. */
  readonly dir: string;
  readonly defaults: NodeDefaults;
  readonly cluster: ClusterNodes;
  readonly workers: Workers;
  readonly events: EventQueue;
  readonly step: StepController;
  readonly v3: V3Console;
  stopped(): boolean;
  /** The global speed (setSpeed). */
  speed(): number;
  waitForLeader(timeoutMs: number): Promise<boolean>;
  checkpoint(reason: string): Promise<Checkpoint | undefined>;
}

export interface LaunchHow {
  service?: string;
  oneByOne: boolean;
  secure?: SecureOptions;
}

type MemberSpec = { name: string; peerURL: string; clientURL: string };

/** A member of a new cluster, its id derived up front as etcd derives it (peer URL and cluster token). */
function newMember(
  defaults: NodeDefaults,
  s: MemberSpec,
  dir: string,
  initialCluster: { name: string; peerURLs: string[] }[],
  token: string,
): NodeRecord {
  const rec = newRecord(
    defaults,
    s.name,
    s.peerURL,
    s.clientURL,
    path.join(dir, `${s.name}.etcd`),
    initialCluster,
    'new',
    token,
  );
  rec.id = memberId([s.peerURL], token);
  return rec;
}

export class ClusterLauncher {
  /** The current cluster's discovery token or SRV records, when it was not bootstrapped statically. */
  private boot?: ClusterBootstrap;
  /** The current cluster's CA and TLS files, when it was started secured. */
  private secure?: SecureCluster;

  constructor(private readonly host: LaunchHost) {}

  /** Replaces the current cluster with a fresh one of `size` members. */
  async start(size: number, method: BootstrapMethod, how: LaunchHow): Promise<undefined> {
    if (!Number.isInteger(size) || size < 1 || size > 7) throw new Error('a cluster has 1 to 7 members');
    if (method === 'static' && (how.service !== undefined || how.oneByOne))
      throw new Error('a discovery service and one-by-one starts are for a cluster bootstrapped by discovery or DNS');
    if (method === 'dns' && how.service !== undefined)
      throw new Error('a discovery service is for etcd discovery, not DNS');
    if (method !== 'static' && how.secure)
      throw new Error(
        'a secured cluster is bootstrapped statically here (its members are given their certificates and the initial cluster)',
      );
    // Said before the current cluster is thrown away.
    const noDns = method === 'dns' ? dnsmasqMissing() : undefined;
    if (noDns) throw new Error(noDns);
    if (method === 'discovery' && how.service !== undefined) await checkDiscoveryService(how.service);
    const h = this.host;
    h.step.cancelRun(); // before the old nodes go: a run must not step on into the new cluster
    h.v3.closeAll();
    await h.workers.stopAll();
    const oldBoot = this.boot;
    this.boot = undefined;
    await oldBoot?.stop();
    const c = h.cluster;
    c.nodes = new Map();
    c.cuts.clear();
    h.step.reset();
    h.events.forgetRecent();
    const gen = ++c.generation;
    const dir = path.join(h.dir, `cluster-${gen}`);
    const token = `raftlab-${gen}-${randomBytes(4).toString('hex')}`;
    this.secure?.close();
    this.secure = how.secure ? await SecureCluster.create(dir, how.secure) : undefined;
    h.v3.setAccess(this.secure?.access);
    const scheme = this.secure ? 'https' : 'http';
    const ports = await freePorts(2 * size);
    const specs = Array.from({ length: size }, (_, i): MemberSpec => ({
      name: `n${i + 1}`,
      peerURL: `${scheme}://127.0.0.1:${portAt(ports, 2 * i)}`,
      clientURL: `${scheme}://127.0.0.1:${portAt(ports, 2 * i + 1)}`,
    }));
    if (method !== 'static') return this.startBootstrapped(specs, method, dir, token, how);
    const initialCluster = specs.map((s) => ({ name: s.name, peerURLs: [s.peerURL] }));
    for (const s of specs) {
      // The ids are known up front (as etcd derives them), so cuts work before a node starts.
      const rec = newMember(h.defaults, s, dir, initialCluster, token);
      if (this.secure) Object.assign(rec.settings, await this.secure.forMember(s.name));
      c.nodes.set(s.name, rec);
    }
    h.events.markDirty();
    await Promise.all(c.all().map((r) => h.workers.spawn(r)));
    if (this.secure?.options.rootPassword !== undefined) await this.enableAuth(this.secure, gen);
    // Its first moment that can be resumed from: every member up, nothing written yet.
    void h.checkpoint('cluster started').catch(() => {});
    return undefined;
  }

  /**
   * The other two ways: every member is told where to ask (a discovery token, or SRV records)
   * instead of the initial cluster. With discovery the members start one after another, each
   * once the one before has registered, so the directory is seen to fill; `oneByOne` leaves them
   * for the user to start.
   */
  private async startBootstrapped(
    specs: MemberSpec[],
    method: 'discovery' | 'dns',
    dir: string,
    token: string,
    how: { service?: string; oneByOne: boolean },
  ): Promise<undefined> {
    const h = this.host;
    const c = h.cluster;
    const gen = c.generation;
    const changed = () => h.events.markDirty();
    const log = (node: string, level: Parameters<EventQueue['log']>[1], pkg: string, msg: string) =>
      h.events.log(node, level, pkg, msg);
    const boot =
      method === 'discovery'
        ? await ClusterBootstrap.discovery({
            dir,
            size: specs.length,
            serviceURL: how.service,
            tokenName: token,
            changed,
            log,
          })
        : await ClusterBootstrap.dns({ members: specs, token, changed, log });
    if (gen !== c.generation || h.stopped()) {
      await boot.stop();
      throw new Error('the cluster was replaced meanwhile');
    }
    this.boot = boot;
    for (const s of specs) {
      const rec = newMember(h.defaults, s, dir, [], boot.token);
      rec.settings.bootstrap = boot.memberBootstrap;
      c.nodes.set(s.name, rec);
    }
    h.events.markDirty();
    if (how.oneByOne) return undefined;
    const starts: Promise<void>[] = [];
    for (const rec of c.all()) {
      if (gen !== c.generation || h.stopped()) break;
      const started = h.workers.spawn(rec);
      started.catch(() => {}); // awaited below; a failure is reported there
      starts.push(started);
      if (method !== 'discovery') continue;
      // Its registration seen (or it failed), then a moment for the eye before the next one.
      const deadline = Date.now() + 15_000;
      let settled = false;
      void started.finally(() => (settled = true));
      while (!boot.registered(rec.id) && !settled && Date.now() < deadline && gen === c.generation) await sleep(50);
      await sleep(DISCOVERY_STAGGER_MS);
    }
    try {
      await Promise.all(starts);
    } catch (err) {
      // A newer cluster took this one's place meanwhile: its members were ended on purpose.
      if (gen !== c.generation) return undefined;
      throw err;
    }
    void h.checkpoint('cluster started').catch(() => {});
    return undefined;
  }

  /**
   * A secured cluster with a root password: auth is enabled as soon as it has a leader (the
   * window is told only once it is on; in slow motion that takes as long as the election).
   */
  private async enableAuth(secure: SecureCluster, gen: number): Promise<void> {
    const h = this.host;
    if (!(await h.waitForLeader(60_000 / h.speed())) || gen !== h.cluster.generation) {
      if (gen !== h.cluster.generation) return;
      throw new Error('auth was not enabled: the cluster elected no leader in time');
    }
    const leader = h.cluster.pickVia();
    await secure.enableAuth(leader.clientURL, 15_000 / h.speed());
    h.events.markDirty();
  }

  /** The discovery token or SRV records, only while its members are the ones shown (a fork may go back to another cluster). */
  private shownBoot(): ClusterBootstrap | undefined {
    const boot = this.boot;
    if (!boot) return undefined;
    const { method } = boot.memberBootstrap;
    return this.host.cluster
      .all()
      .some((r) => r.settings.bootstrap?.method === method && r.settings.initialClusterToken === boot.token)
      ? boot
      : undefined;
  }

  /** The secured cluster whose CA `rec` trusts, if it is one of the current secured cluster's members. */
  secureFor(rec: NodeRecord): SecureCluster | undefined {
    return this.secure && rec.settings.clientTLS?.trustedCAFile === this.secure.caFile ? this.secure : undefined;
  }

  /** The bootstrap and security the window is shown, each while the nodes shown are of it. */
  view(consoleUser: string | undefined): Pick<ClusterState, 'bootstrap' | 'security'> {
    const boot = this.shownBoot();
    const secure = this.secure && this.host.cluster.all().some((r) => this.secureFor(r)) ? this.secure : undefined;
    return {
      ...(boot ? { bootstrap: boot.view() } : {}),
      ...(secure ? { security: secure.view(consoleUser) } : {}),
    };
  }

  /** A member beyond the discovery size (or not in the SRV records): what etcd does with it. */
  async bootstrapExtra(fallback: 'exit' | 'proxy'): Promise<ExtraMember> {
    const boot = this.shownBoot();
    // Shown, so some node is of it: the extra member's data dir goes beside the first one's.
    const first = this.host.cluster.all().at(0);
    if (!boot || !first)
      throw new Error(
        'this cluster was bootstrapped statically: there is no discovery token or SRV record to find it full',
      );
    const name = this.nextName();
    return boot.extra(name, path.join(path.dirname(first.dataDir), `${name}.etcd`), fallback);
  }

  /** n1, n2…: the next name no node (nor an extra member that came to the discovery token) has had. */
  nextName(): string {
    const taken = [...this.host.cluster.nodes.keys(), ...(this.boot?.view().extras.map((e) => e.name) ?? [])];
    return `n${Math.max(0, ...taken.map((n) => Number(/^n(\d+)$/.exec(n)?.[1] ?? 0))) + 1}`;
  }

  /** The discovery service or DNS server ended, the CA's files let go (the supervisor stops). */
  async stop(): Promise<void> {
    await this.boot?.stop();
    this.secure?.close();
  }
}

/** With discovery, the pause after a member registered before the next one starts: time to see it wait. */
const DISCOVERY_STAGGER_MS = 700;

function portAt(ports: number[], i: number): number {
  const port = ports[i];
  if (port === undefined) throw new Error(`freePorts gave ${ports.length} ports, not ${i + 1}`);
  return port;
}
