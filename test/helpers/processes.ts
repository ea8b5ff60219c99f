// Real `raftlab node` processes, started exactly as a user would (etcd flags, ETCD_* variables),
// on loopback ports with data dirs in a temp dir. Ended by pid only. Also what the real etcd
// members (etcd-processes.ts) and the tests' one-off processes share: a member's URL flags, the
// short Raft timers, a process with its output collected, a named set of them.
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePorts } from '../../src-main/net/free-ports.js';
import { until } from './cluster.js';
import { CLEAN_ENV } from './run.js';

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

/**
 * A member's URL flags, the same for etcd and `raftlab node`: it listens on its spec's URLs and
 * advertises them (the peer URL it advertises may differ, e.g. the name an SRV record gives it).
 */
export function memberURLFlags(
  s: Pick<ProcSpec, 'peerURL' | 'clientURL'>,
  advertisePeerURL: string = s.peerURL,
): string[] {
  return [
    '--listen-peer-urls',
    s.peerURL,
    '--initial-advertise-peer-urls',
    advertisePeerURL,
    '--listen-client-urls',
    s.clientURL,
    '--advertise-client-urls',
    s.clientURL,
  ];
}

/** Raft timers twice as quick as etcd's defaults (100 ms, 1 s): elections settle fast in tests. */
export const FAST_RAFT_FLAGS: readonly string[] = ['--heartbeat-interval', '50', '--election-timeout', '500'];

/** capnslog lines (etcd 3.4's default log, and raftlab's) without their timestamps: `I | pkg: text`. */
export function untimed(lines: readonly string[]): string[] {
  return lines.map((l) => l.replace(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{6} /, ''));
}

/**
 * A process started with these arguments (env: CLEAN_ENV, no ETCD* variables, unless given),
 * its stdout and stderr lines collected in `output`; ended by its pid.
 */
export class Proc {
  readonly output: string[] = [];
  readonly child: ChildProcess;

  constructor(cmd: string, args: string[], env: NodeJS.ProcessEnv = CLEAN_ENV) {
    this.child = spawn(cmd, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    const collect = (b: Buffer) => this.output.push(...b.toString().split('\n').filter(Boolean));
    this.child.stdout!.on('data', collect);
    this.child.stderr!.on('data', collect);
  }

  /** Still running (a process killed by a signal has exitCode null but signalCode set). */
  alive(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  /** kill -9 by its pid: no shutdown, no flush beyond what was already durable. */
  async kill9(): Promise<void> {
    if (!this.alive() || this.child.pid === undefined) return;
    const exited = new Promise((r) => this.child.once('exit', r));
    process.kill(this.child.pid, 'SIGKILL');
    await exited;
  }

  /** Its exit code once it has exited (null if a signal ended it); fails past `timeoutMs`. */
  async exited(what: string, timeoutMs = 10_000): Promise<number | null> {
    if (!this.alive()) return this.child.exitCode;
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`${what} did not exit within ${timeoutMs} ms`)), timeoutMs);
      this.child.once('exit', (code) => {
        clearTimeout(t);
        resolve(code);
      });
    });
  }
}

/** Members by name on loopback specs, each a Proc, their data dirs in one temp dir. */
export class MemberProcesses {
  readonly procs = new Map<string, Proc>();

  protected constructor(
    readonly dir: string,
    readonly specs: ProcSpec[],
  ) {}

  /** A temp dir and `n` loopback specs plus a spare, prefix1.., with `scheme` URLs. */
  protected static async prepare(
    tmpPrefix: string,
    prefix: string,
    n: number,
    scheme: 'http' | 'https' = 'http',
  ): Promise<[string, ProcSpec[]]> {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), tmpPrefix));
    const withScheme = (u: string) => u.replace(/^http:/, `${scheme}:`);
    const specs = await loopbackSpecs(prefix, n);
    return [dir, specs.map((s) => ({ ...s, peerURL: withScheme(s.peerURL), clientURL: withScheme(s.clientURL) }))];
  }

  /** The static initial cluster of the first `n` members. */
  initialCluster(n = this.specs.length - 1): string {
    return this.specs
      .slice(0, n)
      .map((s) => `${s.name}=${s.peerURL}`)
      .join(',');
  }

  spec(name: string): ProcSpec {
    const s = this.specs.find((x) => x.name === name);
    if (!s) throw new Error(`no member ${name} among ${this.specs.map((x) => x.name).join(', ')}`);
    return s;
  }

  /** The member's data dir, `<dir>/<name>.etcd` as etcd names it by default. */
  dataDir(name: string): string {
    return path.join(this.dir, `${name}.etcd`);
  }

  /** Waits until the member's /health answers ok (etcd: it has a leader); past `withinMs`, fails with its last lines. */
  async serving(name: string, withinMs = 20_000): Promise<void> {
    const url = `${this.spec(name).clientURL}/health`;
    await until(`${name} serving`, async () => (await fetch(url).catch(() => undefined))?.ok === true, withinMs).catch(
      (err: Error) => {
        throw new Error(`${err.message}; its last lines:\n${this.output(name).slice(-5).join('\n')}`);
      },
    );
  }

  protected launch(name: string, cmd: string, args: string[], env?: NodeJS.ProcessEnv): void {
    this.procs.set(name, new Proc(cmd, args, env));
  }

  pid(name: string): number | undefined {
    return this.procs.get(name)?.child.pid;
  }

  alive(name: string): boolean {
    return this.procs.get(name)?.alive() ?? false;
  }

  output(name: string): string[] {
    return this.procs.get(name)?.output ?? [];
  }

  async kill9(name: string): Promise<void> {
    await this.procs.get(name)?.kill9();
  }

  async exited(name: string, timeoutMs = 10_000): Promise<number | null> {
    const p = this.procs.get(name);
    if (!p) throw new Error(`${name} was never started`);
    return p.exited(name, timeoutMs);
  }

  async destroy(): Promise<void> {
    await Promise.all([...this.procs.values()].map((p) => p.kill9()));
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}

export class ProcessCluster extends MemberProcesses {
  /** `scheme: 'https'` gives https:// peer and client URLs (the members then need TLS flags). */
  static async create(n: number, opts: { scheme?: 'http' | 'https' } = {}): Promise<ProcessCluster> {
    return new ProcessCluster(...(await MemberProcesses.prepare('raftlab-proc-', 'n', n, opts.scheme)));
  }

  /** Start a member with etcd's flags, plus any ETCD_* variables (which the flags override). */
  start(name: string, env: Record<string, string> = {}, flags: string[] = []): void {
    const args = [
      RAFTLAB_BIN,
      'node',
      '--data-dir',
      this.dataDir(name),
      ...memberURLFlags(this.spec(name)),
      '--initial-cluster-token',
      'proc-test',
      ...FAST_RAFT_FLAGS,
      ...flags,
    ];
    this.launch(name, process.execPath, args, { ...CLEAN_ENV, ...env });
  }

  /**
   * Starts the first `n` members as one new static cluster (each told the `--initial-cluster` of
   * the `n`), `flags` after that; returns their names. Waits for nothing.
   */
  startStatic(n = this.specs.length - 1, flags: string[] = []): string[] {
    const names = this.specs.slice(0, n).map((s) => s.name);
    const cluster = ['--initial-cluster', this.initialCluster(n), '--initial-cluster-state', 'new'];
    for (const name of names) this.start(name, {}, ['--name', name, ...cluster, ...flags]);
    return names;
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
}
