// Debian's dnsmasq as a DNS server on loopback, serving only the records it is given
// (authoritative for its domain: unknown names there are NXDOMAIN). The app serves a DNS-SRV
// bootstrapped cluster's records with it; the tests serve theirs. Ended by pid.
import { spawn, type ChildProcess } from 'node:child_process';
import dgram from 'node:dgram';
import fs from 'node:fs';
import { Resolver } from 'node:dns/promises';
import { freePorts } from './free-ports.js';

export const DNSMASQ_BIN = '/usr/sbin/dnsmasq';

export interface SrvRecord {
  service: string; // e.g. _etcd-server._tcp.example.test
  target: string;
  port: number;
}

/** Why dnsmasq cannot be run here, or undefined when it can. */
export function dnsmasqMissing(): string | undefined {
  try {
    fs.accessSync(DNSMASQ_BIN, fs.constants.X_OK);
    return undefined;
  } catch {
    return `DNS SRV discovery needs a DNS server to serve its records on loopback, and dnsmasq (${DNSMASQ_BIN}, Debian's dnsmasq-base) is not installed`;
  }
}

export class Dnsmasq {
  private constructor(
    private readonly child: ChildProcess,
    /** host:port it answers on. */
    readonly server: string,
  ) {}

  /**
   * `listen` gives another loopback address and port than 127.0.0.1 and a free port: a
   * resolv.conf can name only an address, on port 53 (a test pointing a real etcd at it).
   */
  static async start(
    domain: string,
    srv: SrvRecord[],
    hosts: Record<string, string> = {},
    listen: { address?: string; port?: number } = {},
  ): Promise<Dnsmasq> {
    const address = listen.address ?? '127.0.0.1';
    const port = listen.port ?? (await freeDnsPort());
    const args = [
      '--keep-in-foreground',
      `--port=${port}`,
      `--listen-address=${address}`,
      '--bind-interfaces',
      '--no-resolv',
      '--no-hosts',
      '--conf-file=/dev/null',
      '--pid-file=',
      `--local=/${domain}/`,
      // As root it would switch to "nobody"; it has nothing to protect here, and keeps its port.
      ...(process.getuid?.() === 0 ? ['--user=root'] : []),
      ...srv.map((r) => `--srv-host=${r.service},${r.target},${r.port}`),
      ...Object.entries(hosts).map(([name, ip]) => `--host-record=${name},${ip}`),
    ];
    const child = spawn(DNSMASQ_BIN, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    child.stderr!.on('data', (b: Buffer) => (err += b.toString()));
    child.once('error', (e) => (err += e.message));
    const server = `${address}:${port}`;
    // Ready once it answers a query for its own domain.
    const r = new Resolver({ timeout: 200, tries: 1 });
    r.setServers([server]);
    const deadline = Date.now() + 5000;
    for (;;) {
      if (child.exitCode !== null || child.pid === undefined) {
        throw new Error(`dnsmasq exited: ${err.trim()}`);
      }
      try {
        await r.resolveSrv(srv[0]?.service ?? `_none._tcp.${domain}`);
        break;
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'ENOTFOUND') break;
        if (Date.now() > deadline) {
          process.kill(child.pid, 'SIGKILL');
          throw new Error(`dnsmasq did not answer on ${server}: ${err.trim()}`, { cause: e });
        }
        await new Promise((res) => setTimeout(res, 50));
      }
    }
    return new Dnsmasq(child, server);
  }

  async stop(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const exited = new Promise((r) => this.child.once('exit', r));
    process.kill(this.child.pid!, 'SIGTERM');
    await exited;
  }
}

/** A port free on loopback for both UDP and TCP now (dnsmasq listens on both). */
async function freeDnsPort(): Promise<number> {
  for (let attempt = 0; ; attempt++) {
    const [port] = await freePorts(1);
    if (port === undefined) throw new Error('no free loopback port for dnsmasq');
    const ok = await new Promise<boolean>((resolve) => {
      const s = dgram.createSocket('udp4');
      s.once('error', () => resolve(false));
      s.bind(port, '127.0.0.1', () => s.close(() => resolve(true)));
    });
    if (ok || attempt > 20) return port;
  }
}
