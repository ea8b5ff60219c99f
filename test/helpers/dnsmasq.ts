// The tests' DNS server on loopback: the app's own dnsmasq runner (src-main/net/dnsmasq.ts).
import { Dnsmasq } from '../../src-main/net/dnsmasq.js';
import { ProcessCluster } from './processes.js';

export { DNSMASQ_BIN, Dnsmasq, type SrvRecord } from '../../src-main/net/dnsmasq.js';

/**
 * Three `raftlab node` members found through DNS SRV, as etcd's docs run them: https peer URLs
 * (plain client URLs), named by `_etcd-server-ssl._tcp.<domain>` records on their own dnsmasq,
 * each started with `--discovery-srv <domain> --peer-auto-tls`. Waits for nothing; the caller
 * stops `dns` and destroys `c`.
 */
export async function srvSslCluster(domain: string): Promise<{ c: ProcessCluster; dns: Dnsmasq }> {
  const c = await ProcessCluster.create(3);
  for (const s of c.specs) s.peerURL = s.peerURL.replace(/^http:/, 'https:');
  const names = ['n1', 'n2', 'n3'];
  const dns = await Dnsmasq.start(
    domain,
    names.map((n) => ({
      service: `_etcd-server-ssl._tcp.${domain}`,
      target: '127.0.0.1',
      port: Number(new URL(c.spec(n).peerURL).port),
    })),
  );
  for (const n of names)
    c.start(n, { RAFTLAB_DNS_SERVER: dns.server }, ['--name', n, '--discovery-srv', domain, '--peer-auto-tls']);
  return { c, dns };
}
