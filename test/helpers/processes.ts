// Real `raftlab node` processes, started exactly as a user would (etcd flags, ETCD_* variables),
// on loopback ports with data dirs in a temp dir. Ended by pid only.
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePorts } from '../../src-main/net/free-ports.js';

export const RAFTLAB_BIN = fileURLToPath(new URL('../../bin/raftlab.mjs', import.meta.url));

export interface ProcSpec {
  name: string;
  peerURL: string;
  clientURL: string;
}

/** `n` members plus one spare (a member to add later), named prefix1.., on free loopback ports. */
export async function loopbackSpecs(prefix: string, n: number): Promise<ProcSpec[]> {
  const ports = await freePorts(2 * n + 2);
  return Array.from({ length: n + 1 }, (_, i) => ({
    name: `${prefix}${i + 1}`,
    peerURL: `http://127.0.0.1:${ports[2 * i]}`,
    clientURL: `http://127.0.0.1:${ports[2 * i + 1]}`,
  }));
}

export class ProcessCluster {
  readonly procs = new Map<string, { child: ChildProcess; output: string[] }>();

  private constructor(
    readonly dir: string,
    readonly specs: ProcSpec[],
  ) {}

  /** `scheme: 'https'` gives https:// peer and client URLs (the members then need TLS flags). */
  static async create(n: number, opts: { scheme?: 'http' | 'https' } = {}): Promise<ProcessCluster> {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'raftlab-proc-'));
    const specs = await loopbackSpecs('n', n);
    const scheme = opts.scheme ?? 'http';
    const withScheme = (u: string) => u.replace(/^http:/, `${scheme}:`);
    return new ProcessCluster(
      dir,
      specs.map((s) => ({ ...s, peerURL: withScheme(s.peerURL), clientURL: withScheme(s.clientURL) })),
    );
  }

  /** The static initial cluster of the first `n` members. */
  initialCluster(n = this.specs.length - 1): string {
    return this.specs
      .slice(0, n)
      .map((s) => `${s.name}=${s.peerURL}`)
      .join(',');
  }

  spec(name: string): ProcSpec {
    return this.specs.find((s) => s.name === name)!;
  }

  /** Start a member with etcd's flags, plus any ETCD_* variables (which the flags override). */
  start(name: string, env: Record<string, string> = {}, flags: string[] = []): void {
    const s = this.spec(name);
    const args = [
      RAFTLAB_BIN,
      'node',
      '--data-dir',
      path.join(this.dir, `${name}.etcd`),
      '--listen-peer-urls',
      s.peerURL,
      '--initial-advertise-peer-urls',
      s.peerURL,
      '--listen-client-urls',
      s.clientURL,
      '--advertise-client-urls',
      s.clientURL,
      '--initial-cluster-token',
      'proc-test',
      '--heartbeat-interval',
      '50',
      '--election-timeout',
      '500',
      ...flags,
    ];
    const clean = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('ETCD_')));
    const child = spawn(process.execPath, args, { env: { ...clean, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    const output: string[] = [];
    const collect = (b: Buffer) => output.push(...b.toString().split('\n').filter(Boolean));
    child.stdout!.on('data', collect);
    child.stderr!.on('data', collect);
    this.procs.set(name, { child, output });
  }

  /** Still running (a process killed by a signal has exitCode null but signalCode set). */
  alive(name: string): boolean {
    const c = this.procs.get(name)?.child;
    return !!c && c.exitCode === null && c.signalCode === null;
  }

  output(name: string): string[] {
    return this.procs.get(name)?.output ?? [];
  }

  /** kill -9: no shutdown, no flush beyond what was already durable. */
  async kill9(name: string): Promise<void> {
    const p = this.procs.get(name);
    if (!p || !this.alive(name)) return;
    const exited = new Promise((r) => p.child.once('exit', r));
    p.child.kill('SIGKILL');
    await exited;
  }

  async exited(name: string, timeoutMs = 10_000): Promise<number | null> {
    const p = this.procs.get(name)!;
    if (!this.alive(name)) return p.child.exitCode;
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`${name} did not exit within ${timeoutMs} ms`)), timeoutMs);
      p.child.once('exit', (code) => {
        clearTimeout(t);
        resolve(code);
      });
    });
  }

  /** The name of the member every running member agrees leads. */
  async leader(timeoutMs = 15_000): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      const views = await Promise.all(
        [...this.procs.keys()]
          .filter((name) => this.alive(name))
          .map(async (name) => {
            try {
              const r = await fetch(`${this.spec(name).clientURL}/v2/stats/self`, {
                signal: AbortSignal.timeout(1000),
              });
              return { name, s: (await r.json()) as { id: string; state: string; leaderInfo: { leader: string } } };
            } catch {
              return undefined;
            }
          }),
      );
      const ok = views.filter((v) => v !== undefined);
      const [leader, ...others] = ok.filter((v) => v.s.state === 'StateLeader');
      if (
        ok.length === views.length &&
        leader &&
        others.length === 0 &&
        ok.every((v) => v.s.leaderInfo.leader === leader.s.id)
      ) {
        return leader.name;
      }
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error(`no agreed leader within ${timeoutMs} ms`);
  }

  async destroy(): Promise<void> {
    await Promise.all([...this.procs.keys()].map((n) => this.kill9(n)));
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}
