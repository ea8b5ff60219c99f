// Debian's etcd-discovery (the discovery.etcd.io service, /usr/bin/discovery.etcd.io) on a
// loopback port, in front of an etcd the test started (with --enable-v2: it speaks v2 keys to
// it). It hands out tokens at `/new?size=N` (it writes `_etcd/registry/<token>/_config/size`),
// and proxies `/<token>[/<member>]` to `/v2/keys/_etcd/registry/<token>[/<member>]`.
// Ended by pid only.
import { spawn, type ChildProcess } from 'node:child_process';
import { freePorts } from '../../src-main/net/free-ports.js';
import { until } from './cluster.js';

export const ETCD_DISCOVERY_BIN = '/usr/bin/discovery.etcd.io';
/** The package's config file: the binary refuses to start without it (its flags override it). */
export const ETCD_DISCOVERY_CONF = '/etc/etcd-discovery/etcd-discovery.conf';

export class EtcdDiscoveryService {
  private constructor(
    private readonly child: ChildProcess,
    /** Where it serves, e.g. http://127.0.0.1:40123 (also the prefix of the tokens it gives). */
    readonly url: string,
    readonly output: string[],
  ) {}

  /** Starts it in front of `etcd` (a client URL of an etcd with the v2 API), ready to hand out tokens. */
  static async start(etcd: string): Promise<EtcdDiscoveryService> {
    const [port] = await freePorts(1);
    if (port === undefined) throw new Error('no free port for etcd-discovery');
    const url = `http://127.0.0.1:${port}`;
    // Its flags: --etcd (the store), --host (the prefix of the token URLs it answers /new with),
    // --addr (where it listens). DISC_* variables would override nothing given as a flag, but
    // are left out so nothing from outside changes it.
    const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('DISC_')));
    const child = spawn(ETCD_DISCOVERY_BIN, ['--etcd', etcd, '--host', url, '--addr', `127.0.0.1:${port}`], {
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const output: string[] = [];
    const collect = (b: Buffer) => output.push(...b.toString().split('\n').filter(Boolean));
    child.stdout!.on('data', collect);
    child.stderr!.on('data', collect);
    child.once('error', (e) => output.push(e.message));
    const service = new EtcdDiscoveryService(child, url, output);
    // /health creates a token in etcd and deletes it: ready means the store answers through it.
    await until(
      'etcd-discovery healthy',
      async () => {
        if (child.exitCode !== null) throw new Error(`etcd-discovery exited ${child.exitCode}: ${output.join('\n')}`);
        const res = await fetch(`${url}/health`, { signal: AbortSignal.timeout(2000) }).catch(() => undefined);
        return res?.ok === true && (await res.text()) === 'OK';
      },
      20_000,
    ).catch(async (err: unknown) => {
      await service.stop();
      throw err;
    });
    return service;
  }

  /** A new token for a cluster of `size` members: its URL, the `--discovery` value. */
  async newToken(size: number): Promise<string> {
    const res = await fetch(`${this.url}/new?size=${size}`);
    const text = (await res.text()).trim();
    if (!res.ok) throw new Error(`etcd-discovery /new answered ${res.status}: ${text}`);
    return text;
  }

  async stop(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null || this.child.pid === undefined) return;
    const exited = new Promise((r) => this.child.once('exit', r));
    process.kill(this.child.pid, 'SIGKILL');
    await exited;
  }
}
