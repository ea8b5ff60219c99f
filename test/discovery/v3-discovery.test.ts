// etcd 3.6's v3 discovery (--discovery-token, --discovery-endpoints) against a real etcd 3.4 as
// the discovery cluster, reached over gRPC: the module directly (registrations, a full cluster,
// a missing size key, an unreachable service, a dead first endpoint), then three raftlab members
// bootstrapped by it in this process, then three `raftlab node` processes given etcd 3.6's flags
// (--discovery-token, --discovery-endpoints and their timeouts).
import { execFile, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseNodeConfig } from '../../src-main/node/config.js';
import { BootstrapFailed, resolveBootstrap } from '../../src-main/node/discovery/bootstrap.js';
import { joinClusterV3, type V3DiscoveryOptions } from '../../src-main/node/discovery/v3-discovery.js';
import { memberId } from '../../src-main/node/ids.js';
import { memberSettings, startNode, type RunningNode } from '../../src-main/node/node-server.js';
import { freePorts } from '../../src-main/net/free-ports.js';
import { until } from '../helpers/cluster.js';
import { ETCD_BIN, EtcdCluster } from '../helpers/etcd-processes.js';
import { FAST_RAFT_FLAGS, loopbackSpecs, memberURLFlags, ProcessCluster } from '../helpers/processes.js';
import { needTools } from '../helpers/window.js';

const ETCDCTL = '/usr/bin/etcdctl';
const HAVE = needTools('v3 discovery against a real etcd and etcdctl', [ETCD_BIN, ETCDCTL]);

function etcdctl(api: '2' | '3', endpoint: string, ...args: string[]): string {
  return execFileSync(ETCDCTL, ['--endpoints', endpoint, ...args], {
    env: { ...process.env, ETCDCTL_API: api },
    encoding: 'utf8',
    timeout: 10_000,
  });
}

/** The same without blocking this process's event loop: the raftlab members below run in it. */
async function etcdctlAsync(api: '2' | '3', endpoint: string, ...args: string[]): Promise<string> {
  const { stdout } = await promisify(execFile)(ETCDCTL, ['--endpoints', endpoint, ...args], {
    env: { ...process.env, ETCDCTL_API: api },
    encoding: 'utf8',
    timeout: 10_000,
  });
  return stdout;
}

describe.runIf(HAVE)('v3 discovery (etcd 3.6) with a real etcd 3.4 as the discovery cluster', () => {
  let etcd: EtcdCluster;
  let endpoint: string;
  beforeAll(async () => {
    etcd = await EtcdCluster.one();
    endpoint = etcd.spec('e1').clientURL;
  });
  afterAll(async () => etcd?.destroy());

  let n = 0;
  /** A fresh token with its size key (none when size is undefined). */
  function newToken(size?: number): string {
    const token = `tok-${Date.now().toString(16)}-${n++}`;
    if (size !== undefined) etcdctl('3', endpoint, 'put', `/_etcd/registry/${token}/_config/size`, String(size));
    return token;
  }
  const logged = () => {
    const lines: string[] = [];
    return { lines, log: ((level, pkg, msg) => lines.push(`${level} | ${pkg}: ${msg}`)) as V3DiscoveryOptions['log'] };
  };

  it('three members register and wait for each other; the first three by create revision form the cluster; a fourth finds it full', async () => {
    const token = newToken(3);
    const [m1, m2, m3] = ['m1', 'm2', 'm3'].map((name, i) => ({
      name,
      peer: `http://127.0.0.1:${23800 + i}`,
      ...logged(),
    }));
    if (!m1 || !m2 || !m3) throw new Error('three members expected');
    // m1 alone first: it waits (watching) until the other two have registered.
    const first = joinClusterV3(
      { token, endpoints: [endpoint], id: memberId([m1.peer], token), log: m1.log },
      `m1=${m1.peer}`,
    );
    await until(
      'm1 waiting for peers',
      () => m1.lines.some((l) => l.includes('waiting for peers from discovery service')),
      10_000,
    );
    const rest = [m2, m3].map((m) =>
      joinClusterV3(
        { token, endpoints: [`http://${new URL(endpoint).host}`], id: memberId([m.peer], token), log: m.log },
        `${m.name}=${m.peer}`,
      ),
    );
    const [cluster, ...others] = await Promise.all([first, ...rest]);
    // Everyone got the same cluster, in registration order (m1 first).
    expect(others).toEqual([cluster, cluster]);
    const regs = etcdctl('3', endpoint, 'get', '--prefix', `/_etcd/registry/${token}/members/`, '-w', 'json');
    const kvs = (JSON.parse(regs) as { kvs: { key: string; value: string; create_revision: number }[] }).kvs
      .sort((a, b) => a.create_revision - b.create_revision)
      .map((kv) => [Buffer.from(kv.key, 'base64').toString(), Buffer.from(kv.value, 'base64').toString()] as const);
    expect(kvs).toHaveLength(3);
    expect(cluster).toBe(kvs.map(([, v]) => v).join(','));
    const m1Key = `/_etcd/registry/${token}/members/${memberId([m1.peer], token)}`;
    expect(kvs[0]).toEqual([m1Key, `m1=${m1.peer}`]);
    // etcd 3.6's lines (zap fields after the message).
    const m1Lines = m1.lines.join('\n');
    expect(m1Lines).toContain(
      `I | discovery: register member itself successfully {"memberKey": "${m1Key}", "memberInfo": "m1=${m1.peer}"}`,
    );
    expect(m1Lines).toContain(
      'I | discovery: waiting for peers from discovery service {"clusterSize": 3, "found-peers": 1}',
    );
    expect(m1Lines).toContain(
      'I | discovery: found all needed peers from discovery service {"clusterSize": 3, "found-peers": 3}',
    );
    expect(m1Lines).toContain(`I | discovery: discovery joined cluster successfully {"cluster": "${cluster}"}`);

    // A fourth member, too late.
    const late = logged();
    await expect(
      joinClusterV3(
        { token, endpoints: [endpoint], id: memberId(['http://127.0.0.1:23809'], token), log: late.log },
        'm4=http://127.0.0.1:23809',
      ),
    ).rejects.toThrow('discovery: cluster is full');
    expect(late.lines).toContain(
      'E | discovery: discovery failed to join cluster {"cluster": "", "error": "discovery: cluster is full"}',
    );
    // It registered nothing (etcd checks before it puts).
    expect(
      etcdctl('3', endpoint, 'get', '--prefix', '--keys-only', `/_etcd/registry/${token}/members/`)
        .trim()
        .split('\n')
        .filter(Boolean),
    ).toHaveLength(3);
  });

  it('a token without its size key, a size key that is not a positive number', async () => {
    const { log } = logged();
    const opts = (token: string) => ({ token, endpoints: [endpoint], id: '1', log });
    await expect(joinClusterV3(opts(newToken()), 'a=http://127.0.0.1:1')).rejects.toThrow(
      'discovery: size key not found',
    );
    await expect(joinClusterV3(opts(newToken(0)), 'a=http://127.0.0.1:1')).rejects.toThrow(
      'discovery: size key is bad',
    );
  });

  it("retries with etcd's backoff while the service is unreachable; a dead first endpoint is passed over", async () => {
    const [dead] = await freePorts(1);
    const { lines, log } = logged();
    const unreachable = newToken(1);
    await expect(
      joinClusterV3(
        {
          token: unreachable,
          endpoints: [`127.0.0.1:${dead}`],
          id: '1',
          log,
          maxRetries: 2,
          backoffMs: () => 10,
          dialTimeoutMs: 300,
        },
        'a=http://127.0.0.1:1',
      ),
    ).rejects.toThrow('discovery: too many retries');
    // No connection within the dial timeout: the call fails as clientv3's does, then etcd backs off.
    expect(lines[0]).toBe(
      `W | discovery: failed to get cluster size from discovery service {"clusterSizeKey": "/_etcd/registry/${unreachable}/_config/size", "error": "context deadline exceeded"}`,
    );
    expect(
      lines.filter((l) =>
        l.startsWith(
          'W | discovery: retry connecting to discovery service {"reason": "cluster status check", "backoff": "10ms"}',
        ),
      ),
    ).toHaveLength(2);

    const token = newToken(1);
    const ok = logged();
    const cluster = await joinClusterV3(
      {
        token,
        endpoints: [`127.0.0.1:${dead}`, endpoint],
        id: '2a',
        log: ok.log,
        backoffMs: () => 10,
        dialTimeoutMs: 300,
      },
      'solo=http://127.0.0.1:2',
    );
    expect(cluster).toBe('solo=http://127.0.0.1:2');
    expect(ok.lines.some((l) => l.startsWith('W | discovery: retry connecting to discovery service'))).toBe(true);
  });

  it('three raftlab members given the same token and endpoints form one cluster; a restart ignores the token', async () => {
    const token = newToken(3);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'raftlab-v3disc-'));
    const [s1, s2, s3] = await loopbackSpecs('n', 3);
    if (!s1 || !s2 || !s3) throw new Error('three loopback specs expected');
    const specs = [s1, s2, s3];
    const running: RunningNode[] = [];
    const outputs = new Map<string, string[]>();
    const configFor = (s: (typeof specs)[number]) => {
      const cfg = parseNodeConfig(
        [
          '--name',
          s.name,
          '--data-dir',
          path.join(dir, s.name),
          ...memberURLFlags(s),
          ...FAST_RAFT_FLAGS,
          '--discovery-token',
          token,
          '--discovery-endpoints',
          endpoint,
        ],
        {},
      );
      expect(cfg.bootstrap).toEqual({
        method: 'discovery-v3',
        token,
        endpoints: [endpoint],
        dialTimeoutMs: 2000,
        requestTimeoutMs: 5000,
        keepAliveTimeMs: 2000,
        keepAliveTimeoutMs: 6000,
      });
      return cfg;
    };
    const start = async (s: (typeof specs)[number]) => {
      const out: string[] = [];
      outputs.set(s.name, out);
      const log = (level: string, pkg: string, msg: string) => void out.push(`${level} | ${pkg}: ${msg}`);
      const cfg = configFor(s);
      expect(await resolveBootstrap(cfg, log)).toBe('member');
      // The settings `raftlab node` derives from the same flags.
      return startNode(memberSettings(cfg), log);
    };
    try {
      running.push(...(await Promise.all(specs.map(start))));
      await until(
        'three started members',
        async () => {
          try {
            const list = await etcdctlAsync('2', s1.clientURL, 'member', 'list');
            return list.trim().split('\n').length === 3 && !list.includes('unstarted') && list.includes('isLeader=true')
              ? list
              : false;
          } catch {
            return false;
          }
        },
        30_000,
      );
      await etcdctlAsync('2', s1.clientURL, 'set', '/by-v3-discovery', 'yes');
      expect((await etcdctlAsync('2', s3.clientURL, 'get', '/by-v3-discovery')).trim()).toBe('yes');
      for (const s of specs)
        expect(outputs.get(s.name)!.join('\n')).toContain('I | etcdserver: Bootstrapping cluster using v3 discovery.');

      // A restarted member has data: the token is ignored, with etcd 3.6's warning.
      const [n2] = running.splice(1, 1);
      if (!n2) throw new Error('n2 is not running');
      await n2.stop();
      const cfg = configFor(s2);
      const lines: string[] = [];
      expect(await resolveBootstrap(cfg, (l, p, m) => void lines.push(`${l} | ${p}: ${m}`))).toBe('member');
      expect(lines).toEqual([
        `W | etcdserver: discovery token is ignored since cluster already initialized; valid logs are found {"wal-dir": "${path.join(dir, 'n2', 'member')}"}`,
      ]);

      // A fourth member with the same token: the cluster is full, and etcd 3.6 exits (no proxy).
      const [p4, c4] = await freePorts(2);
      const extra = configFor({ name: 'n4', peerURL: `http://127.0.0.1:${p4}`, clientURL: `http://127.0.0.1:${c4}` });
      const err = await resolveBootstrap(extra, () => {}).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(BootstrapFailed);
      expect((err as BootstrapFailed).lines).toEqual([
        [
          'W',
          'etcdmain',
          `failed to bootstrap; discovery token was already used {"discovery-token": "${token}", "discovery-endpoints": ["${endpoint}"], "error": "failed to join discovery cluster (discovery: cluster is full)"}`,
        ],
        ['W', 'etcdmain', 'do not reuse discovery token; generate a new one to bootstrap a cluster'],
      ]);
    } finally {
      await Promise.all(running.map((r) => r.stop().catch(() => {})));
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('`raftlab node --discovery-token --discovery-endpoints`: three processes form one cluster, the registrations as etcd 3.6 writes them; a fourth exits; a restart ignores the token and rejoins', async () => {
    const token = newToken(3);
    const c = await ProcessCluster.create(3);
    const v3 = (name: string) => [
      '--name',
      name,
      '--discovery-token',
      token,
      '--discovery-endpoints',
      `${endpoint},${endpoint}`,
      '--discovery-dial-timeout',
      '1s',
      '--discovery-request-timeout',
      '3s',
    ];
    try {
      for (const n of ['n1', 'n2', 'n3']) c.start(n, {}, v3(n));
      await c.leader(30_000);
      const list = await etcdctlAsync('3', c.spec('n1').clientURL, 'member', 'list');
      expect(
        list
          .trim()
          .split('\n')
          .map((l) => l.split(', ')[2])
          .sort(),
      ).toEqual(['n1', 'n2', 'n3']);
      expect(list).not.toContain('unstarted');
      await etcdctlAsync('3', c.spec('n1').clientURL, 'put', '/by-v3-flags', 'yes');
      expect(
        (await etcdctlAsync('3', c.spec('n3').clientURL, 'get', '--print-value-only', '/by-v3-flags')).trim(),
      ).toBe('yes');
      // The registry holds exactly the three, `name=peerURL` under each member's id.
      const regs = (await etcdctlAsync('3', endpoint, 'get', '--prefix', `/_etcd/registry/${token}/members/`))
        .trim()
        .split('\n');
      const pairs = new Map<string, string>();
      for (let i = 0; i < regs.length; i += 2) pairs.set(regs[i]!, regs[i + 1]!);
      expect([...pairs.values()].sort()).toEqual(['n1', 'n2', 'n3'].map((n) => `${n}=${c.spec(n).peerURL}`));
      for (const n of ['n1', 'n2', 'n3']) {
        expect(pairs.get(`/_etcd/registry/${token}/members/${memberId([c.spec(n).peerURL], token)}`)).toBe(
          `${n}=${c.spec(n).peerURL}`,
        );
        expect(c.output(n).join('\n')).toContain('I | etcdserver: Bootstrapping cluster using v3 discovery.');
      }
      // A fourth: the cluster is full; etcd 3.6 has no proxy to fall back to, so it exits 1.
      c.start('n4', {}, v3('n4'));
      expect(await c.exited('n4', 20_000)).toBe(1);
      expect(c.output('n4').join('\n')).toContain(
        'W | etcdmain: do not reuse discovery token; generate a new one to bootstrap a cluster',
      );

      // A restarted member has data: the token is ignored (etcd 3.6's warning), and it rejoins.
      await c.kill9('n2');
      c.start('n2', {}, v3('n2'));
      await until(
        'the token ignored',
        () =>
          c
            .output('n2')
            .some((l) => l.includes('W | etcdserver: discovery token is ignored since cluster already initialized')),
        15_000,
      );
      await c.leader(20_000);
      if (!c.alive('n2')) throw new Error(`n2 exited after its restart:\n${c.output('n2').slice(-8).join('\n')}`);
      expect(c.output('n2').join('\n')).not.toContain('Bootstrapping cluster using v3 discovery');
      expect(
        (await etcdctlAsync('3', c.spec('n2').clientURL, 'get', '--print-value-only', '/by-v3-flags')).trim(),
      ).toBe('yes');
    } finally {
      await c.destroy();
    }
  });
});
