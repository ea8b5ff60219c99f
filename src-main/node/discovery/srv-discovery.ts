// etcd's DNS SRV discovery (--discovery-srv, --discovery-srv-name): the initial cluster comes
// from the SRV records `_etcd-server-ssl[-name]._tcp.<domain>` (https peers) and
// `_etcd-server[-name]._tcp.<domain>` (http peers), as etcd's documentation describes
// (embed/config.go GetDNSClusterNames, pkg/srv GetCluster).
//
// A record whose target:port resolves to the same address as one of this member's advertised
// peer URLs is this member (named --name); the others are named "0", "1"... A member's peer URL
// is the record's target name without its trailing dot. Two deliberate differences from etcd
// 3.4.23, whose combination of the two lookups is broken (it keeps the http records only when
// their lookup FAILS, and fails outright when only plain records exist): both kinds are looked
// up and combined, either may be missing, and the temporary names never collide.
//
// The resolver is the system's, as etcd's. RAFTLAB_DNS_SERVER=host:port points it at another
// DNS server (tests start dnsmasq on loopback).

import dns from 'node:dns';
import net from 'node:net';
import type { NodeConfig } from '../config/node-config.js';
import { compareStrings } from '../go/strings.js';

export interface SRVOptions {
  /** --name */
  name: string;
  /** --discovery-srv */
  domain: string;
  /** --discovery-srv-name */
  serviceName?: string;
  /** --initial-advertise-peer-urls */
  advertisePeerURLs: string[];
  log: (level: 'N' | 'E' | 'W', pkg: string, msg: string) => void;
  /** Whether this member must be among the records (a member must; a proxy need not). Default true. */
  requireSelf?: boolean;
  /** DNS servers to ask instead of the system's (host:port). */
  servers?: string[];
}

export class SRVDiscoveryError extends Error {}

/** The lookup a node's flags ask for: --discovery-srv[-name] (`srv`), --name, --initial-advertise-peer-urls. */
export function srvOptionsFor(
  cfg: Pick<NodeConfig, 'name' | 'initialAdvertisePeerURLs'>,
  srv: { domain: string; serviceName: string; servers?: string[] },
  log: SRVOptions['log'],
): SRVOptions {
  return {
    name: cfg.name,
    domain: srv.domain,
    serviceName: srv.serviceName,
    advertisePeerURLs: cfg.initialAdvertisePeerURLs,
    log,
    servers: srv.servers,
  };
}

const PKG = 'embed';

/** The initial cluster (`name=url,...`) the SRV records describe, with this member in it. */
export async function srvCluster(opts: SRVOptions): Promise<string> {
  const resolver = new dns.promises.Resolver();
  const servers = opts.servers ?? (process.env.RAFTLAB_DNS_SERVER ? [process.env.RAFTLAB_DNS_SERVER] : undefined);
  if (servers) resolver.setServers(servers);
  const resolve = (host: string) => resolveHost(resolver, servers !== undefined, host);

  // This member's advertised peer URLs, by the address they resolve to.
  const self = new Map<string, URL>();
  for (const raw of opts.advertisePeerURLs) {
    const u = new URL(raw);
    self.set(`${await resolve(u.hostname)}:${u.port}`, u);
  }
  const suffix = opts.serviceName ? `-${opts.serviceName}` : '';
  const parts: string[] = [];
  const errors: string[] = [];
  let temp = 0;
  for (const [service, scheme] of [
    [`etcd-server-ssl${suffix}`, 'https'],
    [`etcd-server${suffix}`, 'http'],
  ] as const) {
    let records: dns.SrvRecord[];
    try {
      records = await resolver.resolveSrv(`_${service}._tcp.${opts.domain}`);
    } catch (err) {
      errors.push(
        `error querying DNS SRV records for _${service} ${lookupText(err, `_${service}._tcp.${opts.domain}`)}`,
      );
      continue;
    }
    // Go's LookupSRV sorts by priority, then randomizes by weight; a stable order is kinder here.
    records.sort(
      (a, b) => a.priority - b.priority || b.weight - a.weight || compareStrings(a.name, b.name) || a.port - b.port,
    );
    for (const r of records) {
      const target = r.name.replace(/\.$/, '');
      let addr: string;
      try {
        addr = `${await resolve(target)}:${r.port}`;
      } catch (err) {
        errors.push(`error querying DNS SRV records for _${service} ${lookupText(err, target)}`);
        continue;
      }
      const mine = self.get(addr);
      const host = net.isIPv6(target) ? `[${target}]:${r.port}` : `${target}:${r.port}`;
      if (mine && mine.protocol !== `${scheme}:`) {
        errors.push(
          `bootstrap at ${scheme}://${host} from DNS for ${service} has scheme mismatch with expected peer ${mine.href.replace(/\/$/, '')}`,
        );
        continue;
      }
      parts.push(`${mine ? opts.name : String(temp++)}=${scheme}://${host}`);
    }
  }
  if (parts.length === 0) {
    const why = errors.join('; ') || `no SRV records for ${opts.domain}`;
    opts.log('E', PKG, `couldn't resolve during SRV discovery (${why})`);
    throw new SRVDiscoveryError(why);
  }
  for (const p of parts) opts.log('N', PKG, `got bootstrap from DNS for etcd-server at ${p}`);
  if (opts.requireSelf !== false && !parts.some((p) => p.startsWith(`${opts.name}=`))) {
    throw new SRVDiscoveryError(`cannot find local etcd member "${opts.name}" in SRV records`);
  }
  return parts.join(',');
}

/** An IP literal as is; a name through the same DNS server as the SRV records, or the system's. */
async function resolveHost(resolver: dns.promises.Resolver, custom: boolean, host: string): Promise<string> {
  const bare = host.replace(/^\[|\]$/g, '');
  if (net.isIP(bare)) return bare;
  if (custom) {
    let addrs: string[];
    try {
      addrs = await resolver.resolve4(bare);
    } catch {
      addrs = await resolver.resolve6(bare);
    }
    // An answer without addresses is a name that does not resolve (lookupText: "no such host").
    const [first] = addrs;
    if (first === undefined) throw Object.assign(new Error(`no address for ${bare}`), { code: 'ENODATA' });
    return first;
  }
  return (await dns.promises.lookup(bare)).address;
}

/** Go's *net.DNSError text: "lookup <name> on <server>: no such host". */
function lookupText(err: unknown, name: string): string {
  const code = (err as NodeJS.ErrnoException).code;
  const what =
    code === 'ENOTFOUND' || code === 'ENODATA'
      ? 'no such host'
      : code === 'ETIMEOUT'
        ? 'i/o timeout'
        : ((err as Error).message ?? String(err));
  return `lookup ${name}: ${what}`;
}
