// Debian's dnsmasq as a DNS server on loopback, serving only the records a test gives it
// (authoritative for its test domain: unknown names there are NXDOMAIN). Ended by pid.
import { spawn, type ChildProcess } from 'node:child_process';
import dgram from 'node:dgram';
import { freePorts } from '../../src-main/net/free-ports.js';

export const DNSMASQ_BIN = '/usr/sbin/dnsmasq';

export interface SrvRecord {
  service: string; // e.g. _etcd-server._tcp.example.test
  target: string;
  port: number;
}

export class Dnsmasq {
  private constructor(
    private readonly child: ChildProcess,
    readonly server: string,
  ) {}

  static async start(domain: string, srv: SrvRecord[], hosts: Record<string, string> = {}): Promise<Dnsmasq> {
    const port = await freeDnsPort();
    const args = [
      '--keep-in-foreground', `--port=${port}`, '--listen-address=127.0.0.1', '--bind-interfaces',
      '--no-resolv', '--no-hosts', '--conf-file=/dev/null', '--pid-file=', '--user=root', `--local=/${domain}/`,
      ...srv.map((r) => `--srv-host=${r.service},${r.target},${r.port}`),
      ...Object.entries(hosts).map(([name, ip]) => `--host-record=${name},${ip}`),
    ];
    const child = spawn(DNSMASQ_BIN, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    child.stderr!.on('data', (b: Buffer) => (err += b.toString()));
    const server = `127.0.0.1:${port}`;
    // Ready once it answers a query for its own domain.
    const { Resolver } = await import('node:dns/promises');
    const r = new Resolver({ timeout: 200, tries: 1 });
    r.setServers([server]);
    const deadline = Date.now() + 5000;
    for (;;) {
      if (child.exitCode !== null) throw new Error(`dnsmasq exited: ${err}`);
      try {
        await r.resolveSrv(srv[0]?.service ?? `_none._tcp.${domain}`);
        break;
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'ENOTFOUND') break;
        if (Date.now() > deadline) throw new Error(`dnsmasq did not answer on ${server}: ${err}`, { cause: e });
        await new Promise((res) => setTimeout(res, 50));
      }
    }
    return new Dnsmasq(child, server);
  }

  async stop(): Promise<void> {
    if (this.child.exitCode !== null) return;
    const exited = new Promise((r) => this.child.once('exit', r));
    process.kill(this.child.pid!, 'SIGTERM');
    await exited;
  }
}

/** A port free on loopback for both UDP and TCP now (dnsmasq listens on both). */
async function freeDnsPort(): Promise<number> {
  for (let attempt = 0; ; attempt++) {
    const [port] = await freePorts(1);
    const ok = await new Promise<boolean>((resolve) => {
      const s = dgram.createSocket('udp4');
      s.once('error', () => resolve(false));
      s.bind(port, '127.0.0.1', () => s.close(() => resolve(true)));
    });
    if (ok || attempt > 20) return port;
  }
}
