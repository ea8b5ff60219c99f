// Real etcd 3.4 members (Debian's etcd-server, /usr/bin/etcd) on loopback ports, data dirs in a
// temp dir, short Raft timers. Ended by pid only, like ProcessCluster.
import path from 'node:path';
import { afterAll, beforeAll } from 'vitest';
import { FAST_RAFT_FLAGS, MemberProcesses, memberURLFlags, ProcessCluster } from './processes.js';

export const ETCD_BIN = '/usr/bin/etcd';

export class EtcdCluster extends MemberProcesses {
  /** `n` members plus one spare spec (ports for a member to add later); `scheme: 'https'` for TLS URLs. */
  static async create(n: number, opts: { scheme?: 'http' | 'https' } = {}): Promise<EtcdCluster> {
    return new EtcdCluster(...(await MemberProcesses.prepare('raftlab-etcd-', 'e', n, opts.scheme)));
  }

  /** A cluster of one member, e1, started and serving within `withinMs` (the caller destroys it). */
  static async one(withinMs = 20_000): Promise<EtcdCluster> {
    const etcd = await EtcdCluster.create(1);
    try {
      etcd.start('e1', etcd.initialCluster(1));
      await etcd.serving('e1', withinMs);
      return etcd;
    } catch (err) {
      await etcd.destroy();
      throw err;
    }
  }

  /**
   * Starts a member. `extraFlags` come last (Go's flags: the last value wins), e.g. TLS flags,
   * or `--logger capnslog --log-level info` to compare etcd's own log lines. etcd 3.4 refuses a
   * flag also set as ETCD_*: it starts with none (CLEAN_ENV).
   */
  start(name: string, initialCluster = this.initialCluster(), extraFlags: string[] = []): void {
    const args = [
      '--name',
      name,
      '--data-dir',
      this.dataDir(name),
      ...memberURLFlags(this.spec(name)),
      '--initial-cluster',
      initialCluster,
      '--initial-cluster-state',
      'new',
      '--initial-cluster-token',
      path.basename(this.dir),
      '--enable-v2',
      ...FAST_RAFT_FLAGS,
      // Less logging: the machine is shared, and the output is only read when a test fails.
      '--logger',
      'zap',
      '--log-level',
      'warn',
      ...extraFlags,
    ];
    this.launch(name, ETCD_BIN, args);
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
  const ourNames = ours.startStatic(n, flags);
  const etcdNames = etcd.specs.slice(0, n).map((s) => s.name);
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
