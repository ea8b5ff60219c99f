// Real raftlab nodes in this process, on loopback ports, with SQLite files in a temp dir.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startNode, type NodeServerSettings, type RunningNode } from '../../src-main/node/node-server.js';
import type { NodeSettings } from '../../src-main/node/raft-node.js';
import { freePorts } from '../../src-main/net/free-ports.js';

export interface MemberSpec {
  name: string;
  peerURL: string;
  clientURL: string;
}

export class TestCluster {
  readonly running = new Map<string, RunningNode>();
  readonly logs = new Map<string, string[]>();

  private constructor(
    readonly dir: string,
    readonly specs: MemberSpec[],
    readonly token: string,
    private readonly overrides: Partial<NodeSettings> = {},
  ) {}

  static async create(
    n: number,
    opts: { start?: boolean; settings?: Partial<NodeSettings> } = {},
  ): Promise<TestCluster> {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'raftlab-test-'));
    const ports = await freePorts(2 * n);
    const specs = Array.from({ length: n }, (_, i) => ({
      name: `n${i + 1}`,
      peerURL: `http://127.0.0.1:${ports[2 * i]}`,
      clientURL: `http://127.0.0.1:${ports[2 * i + 1]}`,
    }));
    const c = new TestCluster(dir, specs, `test-${path.basename(dir)}`, opts.settings);
    if (opts.start !== false) await Promise.all(specs.map((s) => c.start(s.name)));
    return c;
  }

  /** Ports for members to add later, without a cluster (or a temp dir) of their own. */
  static async spareSpecs(n: number): Promise<MemberSpec[]> {
    const ports = await freePorts(2 * n);
    return Array.from({ length: n }, (_, i) => ({
      name: `spare${i + 1}`,
      peerURL: `http://127.0.0.1:${ports[2 * i]}`,
      clientURL: `http://127.0.0.1:${ports[2 * i + 1]}`,
    }));
  }

  settings(
    name: string,
    state: 'new' | 'existing' = 'new',
    specs = this.specs,
  ): NodeSettings & { listenClientURLs: string[] } {
    const spec = specs.find((s) => s.name === name)!;
    return {
      name,
      dataDir: path.join(this.dir, name),
      initialCluster: specs.map((s) => ({ name: s.name, peerURLs: [s.peerURL] })),
      initialClusterState: state,
      initialClusterToken: this.token,
      listenPeerURLs: [spec.peerURL],
      advertisePeerURLs: [spec.peerURL],
      listenClientURLs: [spec.clientURL],
      advertiseClientURLs: [spec.clientURL],
      heartbeatMs: 50,
      electionMs: 500,
      snapshotCount: 10_000,
      snapshotCatchUpEntries: 50,
      ...this.overrides,
    };
  }

  async start(name: string, settings: NodeServerSettings = this.settings(name)): Promise<RunningNode> {
    const lines = this.logs.get(name) ?? [];
    this.logs.set(name, lines);
    const r = await startNode(settings, (level, pkg, msg) => lines.push(`${level} | ${pkg}: ${msg}`));
    this.running.set(name, r);
    return r;
  }

  async stop(name: string): Promise<void> {
    await this.running.get(name)?.stop();
    this.running.delete(name);
  }

  url(name: string): string {
    return this.specs.find((s) => s.name === name)!.clientURL;
  }

  /** Wait until one running node leads and every running node agrees on it. */
  async leader(timeoutMs = 10_000): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      const views = [...this.running].map(([name, r]) => ({ name, st: r.node.status() }));
      const [leader, ...others] = views.filter((v) => v.st.role === 'leader');
      if (leader && others.length === 0 && views.every((v) => v.st.lead === leader.st.id)) return leader.name;
      await new Promise((r) => setTimeout(r, 25));
    }
    throw new Error(`no agreed leader within ${timeoutMs} ms`);
  }

  async destroy(): Promise<void> {
    await Promise.all([...this.running.keys()].map((n) => this.stop(n)));
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}

export async function until<T>(
  what: string,
  f: () => T | undefined | false | Promise<T | undefined | false>,
  timeoutMs = 10_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await f();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}
