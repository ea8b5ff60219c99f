// DNS SRV discovery against Debian's dnsmasq on loopback: the cluster from the records, this
// member found by its advertised peer URL, both record kinds combined, and etcd's errors.
import { afterEach, describe, expect, it } from 'vitest';
import { DNSMASQ_BIN, Dnsmasq } from '../helpers/dnsmasq.js';
import { needTools } from '../helpers/window.js';
import { srvCluster } from '../../src-main/node/discovery/srv-discovery.js';

const HAVE = needTools('DNS SRV discovery', [DNSMASQ_BIN]);
const D = 'example.test';

describe.runIf(HAVE)('DNS SRV discovery', () => {
  let dns: Dnsmasq | undefined;
  afterEach(async () => {
    await dns?.stop();
    dns = undefined;
  });
  const lines: string[] = [];
  const log = (l: string, p: string, m: string) => void lines.push(`${l} | ${p}: ${m}`);

  it('builds the initial cluster from _etcd-server records (names resolved by the same server), finding itself', async () => {
    dns = await Dnsmasq.start(
      D,
      [
        { service: `_etcd-server._tcp.${D}`, target: 'infra0.example.test', port: 2380 },
        { service: `_etcd-server._tcp.${D}`, target: 'infra1.example.test', port: 2380 },
        { service: `_etcd-server._tcp.${D}`, target: 'infra2.example.test', port: 2380 },
      ],
      { 'infra0.example.test': '127.0.0.10', 'infra1.example.test': '127.0.0.11', 'infra2.example.test': '127.0.0.12' },
    );
    lines.length = 0;
    const cluster = await srvCluster({
      name: 'infra1',
      domain: D,
      advertisePeerURLs: ['http://127.0.0.11:2380'],
      log,
      servers: [dns.server],
    });
    expect(cluster.split(',').sort()).toEqual([
      '0=http://infra0.example.test:2380',
      '1=http://infra2.example.test:2380',
      'infra1=http://infra1.example.test:2380',
    ]);
    expect(lines).toContain(
      'N | embed: got bootstrap from DNS for etcd-server at infra1=http://infra1.example.test:2380',
    );
  });

  it('combines https and http records and works with only plain ones (etcd 3.4.23 fails there)', async () => {
    dns = await Dnsmasq.start(D, [
      { service: `_etcd-server-ssl._tcp.${D}`, target: '127.0.0.1', port: 3380 },
      { service: `_etcd-server._tcp.${D}`, target: '127.0.0.1', port: 3480 },
    ]);
    const both = await srvCluster({
      name: 'b',
      domain: D,
      advertisePeerURLs: ['http://127.0.0.1:3480'],
      log,
      servers: [dns.server],
    });
    expect(both).toBe('0=https://127.0.0.1:3380,b=http://127.0.0.1:3480');
    // A member advertising http where the record says https: etcd's scheme mismatch, and it is not found.
    await expect(
      srvCluster({ name: 'a', domain: D, advertisePeerURLs: ['http://127.0.0.1:3380'], log, servers: [dns.server] }),
    ).rejects.toThrow('cannot find local etcd member "a" in SRV records');
  });

  it("a member not in the records, and a domain without records, get etcd's messages", async () => {
    dns = await Dnsmasq.start(D, [{ service: `_etcd-server._tcp.${D}`, target: '127.0.0.1', port: 4380 }]);
    await expect(
      srvCluster({ name: 'x', domain: D, advertisePeerURLs: ['http://127.0.0.1:9999'], log, servers: [dns.server] }),
    ).rejects.toThrow('cannot find local etcd member "x" in SRV records');
    lines.length = 0;
    await expect(
      srvCluster({
        name: 'x',
        domain: 'other.test',
        advertisePeerURLs: ['http://127.0.0.1:9999'],
        log,
        servers: [dns.server],
      }),
    ).rejects.toThrow('error querying DNS SRV records for _etcd-server-ssl');
    expect(
      lines.some((l) =>
        l.startsWith(
          "E | embed: couldn't resolve during SRV discovery (error querying DNS SRV records for _etcd-server-ssl lookup _etcd-server-ssl._tcp.other.test",
        ),
      ),
    ).toBe(true);
  });

  it('--discovery-srv-name selects _etcd-server-<name> records', async () => {
    dns = await Dnsmasq.start(D, [
      { service: `_etcd-server._tcp.${D}`, target: '127.0.0.1', port: 5380 },
      { service: `_etcd-server-blue._tcp.${D}`, target: '127.0.0.1', port: 5480 },
    ]);
    expect(
      await srvCluster({
        name: 'b',
        domain: D,
        serviceName: 'blue',
        advertisePeerURLs: ['http://127.0.0.1:5480'],
        log,
        servers: [dns.server],
      }),
    ).toBe('b=http://127.0.0.1:5480');
  });
});
