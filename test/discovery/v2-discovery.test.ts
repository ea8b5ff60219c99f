// etcd's v2 discovery protocol, against a real etcd 3.4 (Debian's) as the discovery service:
// the registrations it holds, the cluster every member agrees on, and etcd's errors.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ETCD_BIN, EtcdCluster } from '../helpers/etcd-processes.js';
import { needTools } from '../helpers/window.js';
import {
  ERR_BAD_DISCOVERY_ENDPOINT,
  ERR_DUPLICATE_ID,
  ERR_DUPLICATE_NAME,
  ERR_FULL_CLUSTER,
  ERR_SIZE_NOT_FOUND,
  ERR_TOO_MANY_RETRIES,
  getCluster,
  joinCluster,
  type DiscoveryLog,
} from '../../src-main/node/discovery/v2-discovery.js';
import { memberId } from '../../src-main/node/ids.js';

const HAVE_ETCD = needTools('v2 discovery against real etcd', [ETCD_BIN]);

describe.runIf(HAVE_ETCD)('v2 discovery with etcd 3.4 as the discovery service', () => {
  let etcd: EtcdCluster;
  let client: string;

  beforeAll(async () => {
    etcd = await EtcdCluster.one();
    client = etcd.spec('e1').clientURL;
  });
  afterAll(async () => etcd?.destroy());

  let tokens = 0;
  async function newToken(size?: number): Promise<string> {
    const url = `${client}/v2/keys/discovery/token${++tokens}-${Date.now()}`;
    if (size !== undefined) {
      const res = await fetch(`${url}/_config/size`, {
        method: 'PUT',
        body: new URLSearchParams({ value: String(size) }),
      });
      expect(res.status).toBe(201);
    }
    return url;
  }
  const member = (url: string, name: string, port: number) => {
    const peer = `http://127.0.0.1:${port}`;
    return { id: memberId([peer], url), config: `${name}=${peer}` };
  };
  const quiet: DiscoveryLog = () => {};

  it('three members register, wait for each other and agree on one cluster in registration order', async () => {
    const url = await newToken(3);
    const lines: string[] = [];
    const [m1, m2, m3] = [member(url, 'n1', 1001), member(url, 'n2', 1002), member(url, 'n3', 1003)] as const;
    const m = [m1, m2, m3];
    // n1 first, alone: it waits for two more.
    const first = joinCluster({ url, id: m1.id, log: (l, p, s) => lines.push(`${l} | ${p}: ${s}`) }, m1.config);
    const deadline = Date.now() + 10_000;
    while (!lines.some((l) => l.includes('waiting for 2 more'))) {
      if (Date.now() > deadline) throw new Error(`n1 never waited: ${lines.join('\n')}`);
      await new Promise((r) => setTimeout(r, 20));
    }
    const rest = [m2, m3].map((x) => joinCluster({ url, id: x.id, log: quiet }, x.config));
    const [cluster, ...others] = await Promise.all([first, ...rest]);
    expect(others).toEqual([cluster, cluster]);
    expect(cluster.split(',').sort()).toEqual(m.map((x) => x.config).sort());
    expect(cluster.split(',')[0]).toBe(m1.config); // the first registration comes first
    expect(lines).toContain(`N | discovery: found self ${m1.id} in the cluster`);
    expect(lines).toContain('N | discovery: found 3 needed peer(s)');

    // The directory holds exactly the three registrations, with etcd's values.
    const listing = (await (await fetch(`${url}?recursive=true`)).json()) as {
      node: { nodes: { key: string; value?: string }[] };
    };
    const regs = listing.node.nodes.filter((n) => !n.key.endsWith('/_config'));
    expect(regs.map((n) => [n.key.split('/').pop(), n.value]).sort()).toEqual(m.map((x) => [x.id, x.config]).sort());

    // A fourth member finds the cluster full; a reader (a proxy) still gets the cluster.
    const extra = member(url, 'n4', 1004);
    await expect(joinCluster({ url, id: extra.id, log: quiet }, extra.config)).rejects.toThrow(ERR_FULL_CLUSTER);
    expect(await getCluster({ url, log: quiet })).toBe(cluster);
  });

  it("a member registered before is told so (etcd's duplicate id)", async () => {
    const url = await newToken(1);
    const m = member(url, 'n1', 2001);
    await expect(joinCluster({ url, id: m.id, log: quiet }, m.config)).resolves.toBe(m.config);
    await expect(joinCluster({ url, id: m.id, log: quiet }, m.config)).rejects.toThrow(ERR_DUPLICATE_ID);
  });

  it("two members of one name both register, then both are told so (etcd's duplicate name)", async () => {
    const url = await newToken(2);
    const both = [member(url, 'same', 5001), member(url, 'same', 5002)];
    const results = await Promise.allSettled(both.map((m) => joinCluster({ url, id: m.id, log: quiet }, m.config)));
    expect(results.map((r) => (r.status === 'rejected' ? (r.reason as Error).message : r.value))).toEqual([
      ERR_DUPLICATE_NAME,
      ERR_DUPLICATE_NAME,
    ]);
    const listing = (await (await fetch(url)).json()) as { node: { nodes?: { key: string }[] } };
    expect(listing.node.nodes?.map((n) => n.key.split('/').pop()).sort()).toEqual(both.map((m) => m.id).sort());
  });

  it("a token without its size key, and a URL that is not a keys API, are refused with etcd's words", async () => {
    const url = await newToken();
    const m = member(url, 'n1', 3001);
    await expect(joinCluster({ url, id: m.id, log: quiet }, m.config)).rejects.toThrow(ERR_SIZE_NOT_FOUND);
    await expect(joinCluster({ url: `${client}/version/x`, id: m.id, log: quiet }, m.config)).rejects.toThrow(
      ERR_BAD_DISCOVERY_ENDPOINT,
    );
  });

  it('an unreachable service is retried with a backoff, and given up when told to', async () => {
    const lines: string[] = [];
    const url = 'http://127.0.0.1:9/v2/keys/discovery/nowhere';
    const m = member(url, 'n1', 4001);
    await expect(
      joinCluster(
        { url, id: m.id, log: (l, p, s) => lines.push(`${l} | ${p}: ${s}`), maxRetries: 2, backoffMs: () => 10 },
        m.config,
      ),
    ).rejects.toThrow(ERR_TOO_MANY_RETRIES);
    expect(
      lines.filter((l) => l.includes('cluster status check: error connecting to http://127.0.0.1:9, retrying in')),
    ).toHaveLength(2);
  });
});
