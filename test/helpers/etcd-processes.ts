// Real etcd 3.4 members (Debian's etcd-server, /usr/bin/etcd) on loopback ports, data dirs in a
// temp dir, short Raft timers. Ended by pid only, like ProcessCluster.
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll } from 'vitest';
import { loopbackSpecs, ProcessCluster, type ProcSpec } from './processes.js';

export const ETCD_BIN = '/usr/bin/etcd';

export class EtcdCluster {
  readonly procs = new Map<string, { child: ChildProcess; output: string[] }>();

  private constructor(
    readonly dir: string,
    readonly specs: ProcSpec[],
  ) {}

  /** `n` members plus one spare spec (ports for a member to add later); `scheme: 'https'` for TLS URLs. */
  static async create(n: number, opts: { scheme?: 'http' | 'https' } = {}): Promise<EtcdCluster> {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'raftlab-etcd-'));
    const scheme = opts.scheme ?? 'http';
    const withScheme = (u: string) => u.replace(/^http:/, `${scheme}:`);
    const specs = await loopbackSpecs('e', n);
    return new EtcdCluster(
      dir,
      specs.map((s) => ({ ...s, peerURL: withScheme(s.peerURL), clientURL: withScheme(s.clientURL) })),
    );
  }

  spec(name: string): ProcSpec {
    return this.specs.find((s) => s.name === name)!;
  }

  initialCluster(n = this.specs.length - 1): string {
    return this.specs
      .slice(0, n)
      .map((s) => `${s.name}=${s.peerURL}`)
      .join(',');
  }

  /**
   * Starts a member. `extraFlags` come last (Go's flags: the last value wins), e.g. TLS flags,
   * or `--logger capnslog --log-level info` to compare etcd's own log lines.
   */
  start(name: string, initialCluster = this.initialCluster(), extraFlags: string[] = []): void {
    const s = this.spec(name);
    const args = [
      '--name',
      name,
      '--data-dir',
      path.join(this.dir, `${name}.etcd`),
      '--listen-client-urls',
      s.clientURL,
      '--advertise-client-urls',
      s.clientURL,
      '--listen-peer-urls',
      s.peerURL,
      '--initial-advertise-peer-urls',
      s.peerURL,
      '--initial-cluster',
      initialCluster,
      '--initial-cluster-state',
      'new',
      '--initial-cluster-token',
      path.basename(this.dir),
      '--enable-v2',
      '--heartbeat-interval',
      '50',
      '--election-timeout',
      '500',
      // Less logging: the machine is shared, and the output is only read when a test fails.
      '--logger',
      'zap',
      '--log-level',
      'warn',
      ...extraFlags,
    ];
    // etcd 3.4 refuses a flag also set as ETCD_*: start from a clean environment.
    const clean = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('ETCD')));
    const child = spawn(ETCD_BIN, args, { env: clean, stdio: ['ignore', 'pipe', 'pipe'] });
    const output: string[] = [];
    const collect = (b: Buffer) => output.push(...b.toString().split('\n').filter(Boolean));
    child.stdout!.on('data', collect);
    child.stderr!.on('data', collect);
    this.procs.set(name, { child, output });
  }

  pid(name: string): number | undefined {
    return this.procs.get(name)?.child.pid;
  }

  alive(name: string): boolean {
    const c = this.procs.get(name)?.child;
    return !!c && c.exitCode === null && c.signalCode === null;
  }

  output(name: string): string[] {
    return this.procs.get(name)?.output ?? [];
  }

  /** kill -9 of the process this cluster started, by its pid. */
  async kill9(name: string): Promise<void> {
    const p = this.procs.get(name);
    if (!p || !this.alive(name)) return;
    const exited = new Promise((r) => p.child.once('exit', r));
    process.kill(p.child.pid!, 'SIGKILL');
    await exited;
  }

  async destroy(): Promise<void> {
    await Promise.all([...this.procs.keys()].map((n) => this.kill9(n)));
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}

/**
 * The side-by-side setup: `n` `raftlab node` processes (n1, n2, ...) and `n` etcd 3.4 members
 * (e1, e2, ...), each side one static cluster, started together, plus one spare spec on each side
 * for a member added later; `flags` (etcd's, e.g. a quota) given to every member of both. Waits
 * for nothing: each test waits for what it asserts.
 */
export async function startBothClusters(
  n = 3,
  flags: string[] = [],
): Promise<{ ours: ProcessCluster; etcd: EtcdCluster; ourNames: string[]; etcdNames: string[] }> {
  const [ours, etcd] = await Promise.all([ProcessCluster.create(n), EtcdCluster.create(n)]);
  const ourNames = ours.specs.slice(0, n).map((s) => s.name);
  const etcdNames = etcd.specs.slice(0, n).map((s) => s.name);
  for (const name of ourNames)
    ours.start(name, {}, ['--name', name, '--initial-cluster', ours.initialCluster(n), ...flags]);
  for (const name of etcdNames) etcd.start(name, etcd.initialCluster(n), flags);
  return { ours, etcd, ourNames, etcdNames };
}

/**
 * startBothClusters for the tests of a describe block: started before them, destroyed after them.
 * Read `.ours` and `.etcd` inside the tests (or in a later beforeAll).
 */
export function bothClustersForSuite(
  n = 3,
  flags: string[] = [],
): { readonly ours: ProcessCluster; readonly etcd: EtcdCluster; ourNames: string[]; etcdNames: string[] } {
  let started: { ours: ProcessCluster; etcd: EtcdCluster } | undefined;
  const get = () => {
    if (!started)
      throw new Error('expected both clusters started: read them inside a test, not while the suite is declared');
    return started;
  };
  beforeAll(async () => {
    started = await startBothClusters(n, flags);
  }, 60_000);
  afterAll(async () => {
    await Promise.all([started?.ours.destroy(), started?.etcd.destroy()]);
  });
  const names = (prefix: string) => Array.from({ length: n }, (_, i) => `${prefix}${i + 1}`);
  return {
    get ours() {
      return get().ours;
    },
    get etcd() {
      return get().etcd;
    },
    ourNames: names('n'),
    etcdNames: names('e'),
  };
}
