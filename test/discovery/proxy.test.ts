// etcd 3.4's --discovery-fallback proxy (its default): a member that finds the discovery cluster
// full runs as a v2 proxy in front of the cluster. Real processes: a real etcd 3.4 as the
// discovery service, `raftlab node` members and proxies, real etcd 3.4 members and proxies as the
// reference, etcdctl (v2) and curl as clients.
import { execFile, execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseNodeConfig } from '../../src-main/node/config.js';
import { resolveBootstrap } from '../../src-main/node/discovery/bootstrap.js';
import { proxyOptions } from '../../src-main/node/proxy/run-proxy.js';
import { startProxy } from '../../src-main/node/proxy/start-proxy.js';
import { until } from '../helpers/cluster.js';
import { ETCD_BIN, EtcdCluster } from '../helpers/etcd-processes.js';
import {
  FAST_RAFT_FLAGS,
  loopbackSpecs,
  memberURLFlags,
  Proc,
  ProcessCluster,
  RAFTLAB_BIN,
  untimed,
  type ProcSpec,
} from '../helpers/processes.js';
import { PROXY_TIMING_FLAGS, PROXY_TIMINGS_MS } from '../helpers/proxy-timings.js';
import { needTools } from '../helpers/window.js';

const ETCDCTL = '/usr/bin/etcdctl';
const CURL = '/usr/bin/curl';
const HAVE = needTools('the v2 proxy fallback against real etcd, etcdctl and curl', [ETCD_BIN, ETCDCTL, CURL]);

/** etcdctl v2; --no-sync keeps it on the endpoint given (it would otherwise ask the members' own client URLs). */
function etcdctl(endpoint: string, ...args: string[]): string {
  return execFileSync(ETCDCTL, ['--no-sync', '--endpoints', endpoint, ...args], {
    env: { ...process.env, ETCDCTL_API: '2' },
    encoding: 'utf8',
    timeout: 10_000,
  });
}

async function newToken(service: string, size: number): Promise<string> {
  const token = `${service}/v2/keys/discovery/${Date.now().toString(16)}${Math.random().toString(16).slice(2, 6)}`;
  const res = await fetch(`${token}/_config/size`, {
    method: 'PUT',
    body: new URLSearchParams({ value: String(size) }),
  });
  expect([200, 201]).toContain(res.status);
  return token;
}

async function proxyEndpoints(clientURL: string): Promise<string[]> {
  return ((await (await fetch(`${clientURL}/v2/config/local/proxy`)).json()) as { endpoints: string[] }).endpoints;
}

async function untilLogged(output: () => string, line: string): Promise<void> {
  await until(`the line "${line}"`, () => output().includes(line), 10_000).catch((err: Error) => {
    throw new Error(`${err.message}\n${output()}`);
  });
}

function memberFlags(s: ProcSpec, dataDir: string, token: string): string[] {
  return ['--name', s.name, '--data-dir', dataDir, ...memberURLFlags(s), '--discovery', token, ...FAST_RAFT_FLAGS];
}

/** Waits for a proxy's "started listening" and "endpoints found" (etcd logs them from two goroutines: either may come first). */
async function untilProxyListening(p: Proc): Promise<void> {
  await until(
    'a proxy listening with its endpoints',
    () =>
      p.output.some((l) => l.includes('v2 proxy started listening')) &&
      p.output.some((l) => l.includes('endpoints found')),
    20_000,
  );
}

/**
 * The same answer from etcd's proxy at `ref` and ours at `ours`, headers and all (the indices
 * differ: each proxy writes its own keys, `ref` and `ours`); returns ours.
 */
async function sameAnswers(
  ref: ProcSpec,
  ours: ProcSpec,
  f: (base: string, key: string) => Promise<string>,
): Promise<string> {
  const a = await f(ref.clientURL, 'ref');
  const b = await f(ours.clientURL, 'ours');
  const norm = (s: string, key: string) =>
    s
      .replaceAll(`/${key}`, '/KEY')
      .replace(/([iI]ndex":|X-(Etcd|Raft)-Index: )\d+/g, '$1N')
      .replace(/Content-Length: \d+/, 'Content-Length: L');
  expect(norm(b, 'ours')).toBe(norm(a, 'ref'));
  return b;
}

/** curl -si, the answer with Date (and Node's keep-alive headers, which Go never sends) left out. */
async function curl(...args: string[]): Promise<string> {
  const { stdout } = await promisify(execFile)(CURL, ['-si', '--max-time', '10', ...args], { encoding: 'utf8' });
  return stdout
    .split('\r\n')
    .filter((l) => !/^(Date|Connection|Keep-Alive):/i.test(l))
    .join('\n');
}

describe.runIf(HAVE)('--discovery-fallback proxy: a member that finds the cluster full serves as a v2 proxy', () => {
  let service: EtcdCluster;
  beforeAll(async () => {
    service = await EtcdCluster.one();
  });
  afterAll(async () => service?.destroy());

  it('three raftlab members by discovery, a fourth proxies to them: reads, writes, a watch, a member killed, a restart', async () => {
    const token = await newToken(service.spec('e1').clientURL, 3);
    const c = await ProcessCluster.create(3);
    try {
      for (const n of ['n1', 'n2', 'n3']) c.start(n, {}, ['--name', n, '--discovery', token]);
      await c.leader(30_000);
      c.start('n4', {}, ['--name', 'n4', '--discovery', token]);
      const proxy = c.spec('n4').clientURL;
      await until(
        'the proxy listening',
        () => c.output('n4').some((l) => l.includes('v2 proxy started listening on client requests')),
        20_000,
      );
      const out = () => c.output('n4').join('\n');
      expect(out()).toContain('N | etcdmain: discovery cluster full, falling back to proxy');
      expect(out()).toContain('N | etcdmain: proxy: this proxy supports v2 API only!');
      const peers = ['n1', 'n2', 'n3'].map((n) => c.spec(n).peerURL).sort();
      const clients = ['n1', 'n2', 'n3'].map((n) => c.spec(n).clientURL).sort();
      expect(out()).toContain(`I | etcdmain: proxy: using peer urls [${peers.join(' ')}] `);
      expect(out()).toMatch(
        /I \| proxy\/httpproxy: endpoints found \["http:\/\/127\.0\.0\.1:\d+"( "http:\/\/127\.0\.0\.1:\d+"){2}\]/,
      );
      expect(out()).toContain(`I | etcdmain: v2 proxy started listening on client requests on "${proxy}"`);

      // The proxy dir, no member dir; the cluster file as etcd writes it.
      const dataDir = path.join(c.dir, 'n4.etcd');
      expect(fs.readdirSync(dataDir)).toEqual(['proxy']);
      expect(fs.readFileSync(path.join(dataDir, 'proxy', 'cluster'), 'utf8')).toBe(JSON.stringify({ PeerURLs: peers }));
      expect((await proxyEndpoints(proxy)).sort()).toEqual(clients);

      // etcdctl v2 through the proxy: a write read on a member, a member's write read through it.
      etcdctl(proxy, 'set', '/via-proxy', 'yes');
      expect(etcdctl(c.spec('n2').clientURL, 'get', '/via-proxy').trim()).toBe('yes');
      etcdctl(c.spec('n3').clientURL, 'set', '/from-member', 'hello');
      expect(etcdctl(proxy, 'get', '/from-member').trim()).toBe('hello');
      expect(etcdctl(proxy, 'member', 'list').trim().split('\n')).toHaveLength(3);

      // A streamed watch through the proxy sees each later write as it happens.
      const watch = spawn(CURL, ['-sN', `${proxy}/v2/keys/watched?wait=true&stream=true`]);
      const events: string[] = [];
      watch.stdout.on('data', (b: Buffer) => events.push(...b.toString().split('\n').filter(Boolean)));
      try {
        // The watch is registered once the member sent its headers; curl -N shows nothing before
        // the first event, so write until the first one arrives (each write is a new event).
        await until(
          'the first event through the proxy',
          () => (etcdctl(c.spec('n1').clientURL, 'set', '/watched', 'one'), events.length > 0),
          15_000,
        );
        const before = events.length;
        etcdctl(c.spec('n2').clientURL, 'set', '/watched', 'two');
        await until(
          'the second write streamed through',
          () => events.slice(before).some((e) => e.includes('"value":"two"')),
          10_000,
        );
        expect(JSON.parse(events[0] ?? '{}')).toMatchObject({ action: 'set', node: { key: '/watched', value: 'one' } });
        expect(watch.exitCode).toBeNull(); // still streaming
      } finally {
        watch.kill('SIGKILL');
      }

      // Kill the member the proxy tries first: the request goes on to another, the dead one is set aside.
      const [first] = await proxyEndpoints(proxy);
      const victim = ['n1', 'n2', 'n3'].find((n) => c.spec(n).clientURL === first);
      if (first === undefined || victim === undefined)
        throw new Error(`the proxy's first endpoint ${first} is no member's`);
      await c.kill9(victim);
      expect(etcdctl(proxy, 'get', '/via-proxy').trim()).toBe('yes');
      // (The proxy's lines are read from its stderr as they come: waited for, not sampled.)
      await untilLogged(
        out,
        `I | proxy/httpproxy: failed to direct request to ${first}: dial tcp ${new URL(first).host}: connect: connection refused`,
      );
      await untilLogged(out, `I | proxy/httpproxy: marked endpoint ${first} unavailable`);
      expect(await proxyEndpoints(proxy)).not.toContain(first);

      // A restarted proxy finds its proxy dir and its cluster file: the token is not asked again.
      await c.kill9('n4');
      const regsBefore = (await (await fetch(token)).text()).length;
      c.start('n4', {}, ['--name', 'n4', '--discovery', token]);
      await until(
        'the restarted proxy listening',
        () => c.output('n4').some((l) => l.includes('v2 proxy started listening')),
        20_000,
      );
      expect(out()).toContain(
        'N | etcdmain: the server is already initialized as proxy before, starting as etcd proxy...',
      );
      expect(out()).toContain(
        `W | etcdmain: discovery token ignored since the proxy has already been initialized. Valid cluster file found at "${path.join(dataDir, 'proxy', 'cluster')}"`,
      );
      expect(out()).toContain(
        `I | etcdmain: proxy: using peer urls [${peers.join(' ')}] from cluster file "${path.join(dataDir, 'proxy', 'cluster')}"`,
      );
      expect(out()).not.toContain('discovery cluster full');
      expect((await (await fetch(token)).text()).length).toBe(regsBefore);
      expect(etcdctl(proxy, 'get', '/from-member').trim()).toBe('hello');
      // The peers are asked for /members in the cluster file's order until one answers: the dead
      // member is asked (and skipped with etcd's warning) only when it comes first.
      const skipped = `W | etcdserver: could not get cluster response from ${c.spec(victim).peerURL}: Get "${c.spec(victim).peerURL}/members": dial tcp`;
      if (peers[0] === c.spec(victim).peerURL) await untilLogged(out, skipped);
      else {
        await untilLogged(out, 'I | proxy/httpproxy: endpoints found');
        expect(out()).not.toContain(skipped);
      }
      expect(c.alive('n4')).toBe(true);
    } finally {
      await c.destroy();
    }
  });

  it("answers and logs as etcd 3.4's proxy does, both in front of one etcd cluster", async () => {
    const token = await newToken(service.spec('e1').clientURL, 1);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'raftlab-proxy-'));
    const [member, etcdProxy, ourProxy] = await loopbackSpecs('p', 2);
    if (!member || !etcdProxy || !ourProxy) throw new Error('three loopback specs expected');
    const procs: Proc[] = [];
    try {
      // The cluster: one real etcd by discovery (size 1). Both proxies then find it full.
      const m = new Proc(ETCD_BIN, [...memberFlags(member, path.join(dir, 'm'), token), '--enable-v2']);
      procs.push(m);
      await until(
        'the etcd member up',
        async () => (await fetch(`${member.clientURL}/health`).catch(() => undefined))?.ok === true,
        20_000,
      );
      const ref = new Proc(ETCD_BIN, [...memberFlags(etcdProxy, path.join(dir, 'ref'), token), '--enable-v2']);
      const ours = new Proc(process.execPath, [
        RAFTLAB_BIN,
        'node',
        ...memberFlags(ourProxy, path.join(dir, 'ours'), token),
      ]);
      procs.push(ref, ours);
      for (const p of [ref, ours]) await untilProxyListening(p);

      // The same log lines from the fall-back to the first endpoints found.
      const proxyLines = (p: Proc, s: ProcSpec) =>
        untimed(p.output)
          .filter((l) => /proxy|falling back/.test(l) && !/embed:/.test(l))
          .map((l) => l.replaceAll(s.clientURL, 'CLIENT'))
          .sort();
      expect(proxyLines(ours, ourProxy)).toEqual(proxyLines(ref, etcdProxy));
      expect(proxyLines(ours, ourProxy)).toEqual(
        [
          'N | etcdmain: discovery cluster full, falling back to proxy',
          'N | etcdmain: proxy: this proxy supports v2 API only!',
          `I | etcdmain: proxy: using peer urls [${member.peerURL}] `,
          `I | proxy/httpproxy: endpoints found ["${member.clientURL}"]`,
          'I | etcdmain: v2 proxy started listening on client requests on "CLIENT"',
        ].sort(),
      );
      // In this order (the first three are sequential in etcd too).
      expect(untimed(ours.output).filter((l) => / etcdmain: (discovery cluster full|proxy:)/.test(l))).toEqual(
        untimed(ref.output).filter((l) => / etcdmain: (discovery cluster full|proxy:)/.test(l)),
      );
      expect(fs.readFileSync(path.join(dir, 'ours', 'proxy', 'cluster'), 'utf8')).toBe(
        fs.readFileSync(path.join(dir, 'ref', 'proxy', 'cluster'), 'utf8'),
      );

      const same = (f: (base: string, key: string) => Promise<string>) => sameAnswers(etcdProxy, ourProxy, f);
      expect(await same((u, k) => curl('-XPUT', `${u}/v2/keys/${k}`, '-d', 'value=v'))).toContain(
        'HTTP/1.1 201 Created',
      );
      expect(await same((u, k) => curl(`${u}/v2/keys/${k}`))).toContain('"value":"v"');
      expect(await same((u, k) => curl(`${u}/v2/keys/${k}-missing`))).toContain('HTTP/1.1 404 Not Found');
      await same((u) => curl('-XOPTIONS', `${u}/v2/keys/x`));
      await same((u) => curl('-XPUT', `${u}/v2/config/local/proxy`));
      expect(await same((u) => curl(`${u}/v2/config/local/proxy`))).toContain(`{"endpoints":["${member.clientURL}"]}`);

      // The member gone: 502 for the request that found it dead, then 503 while it is set aside.
      await m.kill9();
      expect(await same((u) => curl(`${u}/v2/keys/a`))).toContain(
        '{"message":"httpproxy: unable to get response from 1 endpoint(s)"}',
      );
      expect(await same((u) => curl(`${u}/v2/keys/a`))).toContain(
        '{"message":"httpproxy: zero endpoints currently available"}',
      );
      const failLines = (p: Proc) =>
        untimed(p.output).filter((l) => /endpoint|direct request/.test(l) && !l.includes('endpoints found'));
      await until(
        'both proxies logged the failure',
        () => failLines(ours).length >= 4 && failLines(ref).length >= 4,
        10_000,
      );
      expect(failLines(ours)).toEqual(failLines(ref));
      expect(failLines(ours)).toEqual([
        `I | proxy/httpproxy: failed to direct request to ${member.clientURL}: dial tcp ${new URL(member.clientURL).host}: connect: connection refused`,
        `I | proxy/httpproxy: marked endpoint ${member.clientURL} unavailable`,
        'I | proxy/httpproxy: unable to get response from 1 endpoint(s)',
        'I | proxy/httpproxy: zero endpoints currently available',
      ]);
      // After --proxy-failure-wait (5 s) both retest it.
      for (const p of [ours, ref]) {
        await until(
          'the endpoint retested',
          () =>
            untimed(p.output).includes(
              `I | proxy/httpproxy: marked endpoint ${member.clientURL} available, to retest connectivity`,
            ),
          15_000,
        );
      }
    } finally {
      await Promise.all(procs.map((p) => p.kill9()));
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
  it("--proxy on and --proxy readonly in front of a static raftlab cluster: the same lines, files and answers as etcd 3.4's", async () => {
    const c = await ProcessCluster.create(3);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'raftlab-proxyflag-'));
    const [etcdOn, oursOn, etcdRo, oursRo] = await loopbackSpecs('x', 3);
    if (!etcdOn || !oursOn || !etcdRo || !oursRo) throw new Error('four loopback specs expected');
    const procs: Proc[] = [];
    try {
      c.startStatic(3);
      await c.leader(30_000);
      // A proxy needs only the cluster's peer URLs and where to listen (no name, no peer port, no advertise URLs).
      const proxyFlags = (mode: string, s: ProcSpec, d: string) => [
        '--proxy',
        mode,
        '--data-dir',
        path.join(dir, d),
        '--initial-cluster',
        c.initialCluster(),
        '--listen-client-urls',
        s.clientURL,
      ];
      const pairs: ['on' | 'readonly', Proc, Proc, ProcSpec, ProcSpec][] = [];
      for (const [mode, e, o] of [
        ['on', etcdOn, oursOn],
        ['readonly', etcdRo, oursRo],
      ] as const) {
        const ref = new Proc(ETCD_BIN, proxyFlags(mode, e, `etcd-${mode}`));
        const ours = new Proc(process.execPath, [RAFTLAB_BIN, 'node', ...proxyFlags(mode, o, `ours-${mode}`)]);
        procs.push(ref, ours);
        pairs.push([mode, ref, ours, e, o]);
      }
      for (const p of procs) await untilProxyListening(p);
      const peers = ['n1', 'n2', 'n3'].map((n) => c.spec(n).peerURL).sort();
      for (const [mode, ref, ours, e, o] of pairs) {
        // No discovery, no member: straight to the proxy, with etcd's lines in etcd's order.
        // (The endpoints are shuffled, by both: compared as a set.)
        const shuffled = (l: string) =>
          l.replace(
            /endpoints found \[(.*)\]$/,
            (_, urls: string) => `endpoints found [${urls.split(' ').sort().join(' ')}]`,
          );
        const lines = (p: Proc, s: ProcSpec) =>
          untimed(p.output)
            .filter((l) => / (etcdmain|proxy\/httpproxy): (proxy|v2 proxy|endpoints)/.test(l))
            .map((l) => shuffled(l.replaceAll(s.clientURL, 'CLIENT')));
        expect(lines(ours, o).slice(0, 2)).toEqual(lines(ref, e).slice(0, 2));
        expect(lines(ours, o).slice(0, 2)).toEqual([
          'N | etcdmain: proxy: this proxy supports v2 API only!',
          `I | etcdmain: proxy: using peer urls [${peers.join(' ')}] `,
        ]);
        expect(lines(ours, o).sort()).toEqual(lines(ref, e).sort());
        expect(fs.readdirSync(path.join(dir, `ours-${mode}`))).toEqual(['proxy']);
      }
      for (const mode of ['on', 'readonly']) {
        expect(fs.readFileSync(path.join(dir, `ours-${mode}`, 'proxy', 'cluster'), 'utf8')).toBe(
          fs.readFileSync(path.join(dir, `etcd-${mode}`, 'proxy', 'cluster'), 'utf8'),
        );
      }

      // --proxy on: writes and reads go through to the cluster.
      expect(
        await sameAnswers(etcdOn, oursOn, (u, k) => curl('-XPUT', `${u}/v2/keys/${k}`, '-d', 'value=v')),
      ).toContain('HTTP/1.1 201 Created');
      expect(await sameAnswers(etcdOn, oursOn, (u, k) => curl(`${u}/v2/keys/${k}`))).toContain('"value":"v"');
      expect(etcdctl(c.spec('n2').clientURL, 'get', '/ours').trim()).toBe('v');
      // --proxy readonly: GET goes through, anything else is 501 with no body (etcd's readonly handler).
      expect(await sameAnswers(etcdRo, oursRo, (u, k) => curl(`${u}/v2/keys/${k}`))).toContain('"value":"v"');
      for (const method of ['PUT', 'POST', 'DELETE', 'OPTIONS', 'HEAD']) {
        const answer = await sameAnswers(etcdRo, oursRo, (u, k) =>
          curl(
            method === 'HEAD' ? '-I' : `-X${method}`,
            `${u}/v2/keys/${k}-ro`,
            ...(method === 'PUT' || method === 'POST' ? ['-d', 'value=w'] : []),
          ),
        );
        expect(answer.split('\n')[0]).toBe('HTTP/1.1 501 Not Implemented');
      }
      expect(await fetch(`${c.spec('n1').clientURL}/v2/keys/ours-ro`).then((r) => r.status)).toBe(404);
      const refused = (() => {
        try {
          execFileSync(ETCDCTL, ['--no-sync', '--endpoints', oursRo.clientURL, 'set', '/refused', 'x'], {
            env: { ...process.env, ETCDCTL_API: '2' },
            stdio: 'pipe',
            timeout: 10_000,
          });
          return 'accepted';
        } catch (err) {
          return String((err as { stderr: Buffer }).stderr);
        }
      })();
      expect(refused).toContain(`client: etcd member ${oursRo.clientURL} returns server error [Not Implemented]`);
      expect(etcdctl(oursRo.clientURL, 'get', '/ours').trim()).toBe('v');
    } finally {
      await Promise.all(procs.map((p) => p.kill9()));
      await c.destroy();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('the v2 proxy in-process, in front of a stand-in member', () => {
  it('--proxy on|readonly: the proxy gets the --proxy-* timings; an empty data dir makes a proxy, a member dir a member (as etcdmain decides)', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'raftlab-proxymode-'));
    try {
      const argv = [
        '--proxy',
        'readonly',
        '--data-dir',
        dir,
        '--initial-cluster',
        'm=http://127.0.0.1:1',
        ...PROXY_TIMING_FLAGS,
      ];
      const cfg = parseNodeConfig(argv, {});
      expect(proxyOptions(cfg, () => {})).toMatchObject({
        readonly: true,
        ...PROXY_TIMINGS_MS,
        bootstrap: 'static',
      });
      expect(await proxyOptions(cfg, () => {}).initialPeerURLs()).toEqual(['http://127.0.0.1:1']);
      expect(await resolveBootstrap(cfg, () => {})).toBe('proxy');
      fs.mkdirSync(path.join(dir, 'member'));
      expect(await resolveBootstrap(parseNodeConfig(argv, {}), () => {})).toBe('member');
      expect(
        proxyOptions(parseNodeConfig(['--proxy', 'on', '--initial-cluster', 'm=http://127.0.0.1:1'], {}), () => {})
          .readonly,
      ).toBe(false);
      await expect(
        proxyOptions(
          parseNodeConfig(['--proxy', 'on', '--initial-cluster', 'm=127.0.0.1:1'], {}),
          () => {},
        ).initialPeerURLs(),
      ).rejects.toThrow(/^error setting up initial cluster: /);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it(
    'forwards X-Forwarded-For and no hop-by-hop header, streams the answer, goes on to the next endpoint when one is down',
    { timeout: 15_000 },
    async () => {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'raftlab-proxy-'));
      const [a, b] = await loopbackSpecs('s', 1);
      if (!a || !b) throw new Error('two loopback specs expected');
      const seen: http.IncomingHttpHeaders[] = [];
      let release!: () => void;
      const second = new Promise<void>((r) => (release = r));
      // The stand-in member: /members on its peer port, a two-part answer on its client port.
      const client = http.createServer((req, res) => {
        seen.push(req.headers);
        req.resume();
        res.writeHead(200, { 'Content-Type': 'application/json', 'X-Etcd-Index': '7' });
        res.write('first\n');
        void second.then(() => res.end('second\n'));
      });
      const peer = http.createServer((_req, res) => {
        res.writeHead(200, { 'Content-Type': 'application/json', 'X-Etcd-Cluster-Id': 'cdf818194e3a8c32' });
        // b's client URL is down: nothing listens there.
        res.end(JSON.stringify([{ id: 1, name: 'm', peerURLs: [a.peerURL], clientURLs: [a.clientURL, b.clientURL] }]));
      });
      const listen = (s: http.Server, u: string) =>
        new Promise<void>((r) => s.listen(Number(new URL(u).port), '127.0.0.1', r));
      await listen(client, a.clientURL);
      await listen(peer, a.peerURL);
      const logs: string[] = [];
      const proxy = await startProxy({
        dataDir: dir,
        listenClientURLs: ['http://127.0.0.1:0'],
        bootstrap: 'static',
        initialPeerURLs: async () => [a.peerURL],
        log: (level, pkg, msg) => logs.push(`${level} | ${pkg}: ${msg}`),
      });
      try {
        const [proxyURL] = proxy.clientURLs;
        if (proxyURL === undefined) throw new Error('the proxy listens nowhere');
        expect(JSON.parse(fs.readFileSync(path.join(dir, 'proxy', 'cluster'), 'utf8'))).toEqual({
          PeerURLs: [a.peerURL],
        });
        // Whatever order the shuffle chose, a request reaches the live endpoint.
        for (let i = 0; i < 2; i++) {
          const res = await new Promise<http.IncomingMessage>((resolve, reject) => {
            const req = http.request(`${proxyURL}/v2/keys/x?wait=true`, {
              headers: {
                'X-Forwarded-For': '10.0.0.1',
                'Proxy-Authorization': 'secret',
                Te: 'trailers',
                'X-Custom': 'kept',
              },
            });
            req.once('response', resolve).once('error', reject).end();
          });
          expect(res.statusCode).toBe(200);
          expect(res.headers['x-etcd-index']).toBe('7');
          expect(res.headers['access-control-allow-origin']).toBe('*');
          const chunks: string[] = [];
          res.on('data', (c: Buffer) => chunks.push(c.toString()));
          const ended = new Promise((r) => res.once('end', r));
          if (i === 0) {
            // The first part arrives while the member still holds back the rest of its answer.
            await until('the first part through the proxy', () => chunks.join('') === 'first\n', 5000);
            release();
          }
          await ended;
          expect(chunks.join('')).toBe('first\nsecond\n');
        }
        expect(seen).toHaveLength(2);
        for (const h of seen) {
          expect(h['x-forwarded-for']).toBe('10.0.0.1, 127.0.0.1');
          expect(h['x-custom']).toBe('kept');
          expect(h['proxy-authorization']).toBeUndefined();
          expect(h.te).toBeUndefined();
        }
        // b is tried only where the shuffle put it first, once, then set aside.
        const bTries = logs.filter((l) =>
          l.startsWith(`I | proxy/httpproxy: failed to direct request to ${b.clientURL}`),
        );
        expect(bTries.length).toBeLessThanOrEqual(1);
        if (bTries.length === 1) {
          expect(logs).toContain(`I | proxy/httpproxy: marked endpoint ${b.clientURL} unavailable`);
          expect(await proxyEndpoints(proxyURL)).toEqual([a.clientURL]);
        } else {
          expect((await proxyEndpoints(proxyURL)).sort()).toEqual([a.clientURL, b.clientURL].sort());
        }
      } finally {
        await proxy.stop();
        client.closeAllConnections();
        await new Promise((r) => client.close(r));
        await new Promise((r) => peer.close(r));
        fs.rmSync(dir, { recursive: true, force: true });
      }
    },
  );

  it('refreshes the endpoints and the cluster file from /members (here every 100 ms); a member that answers nothing useful is passed over', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'raftlab-proxy-'));
    // The proxy asks the peers in sorted order (etcd's URLsMap.URLs()): b sorts first.
    const [b, a] = (await loopbackSpecs('s', 1)).sort((p, q) => (p.peerURL < q.peerURL ? -1 : 1));
    if (!a || !b) throw new Error('two loopback specs expected');
    // The cluster as the peers tell it: a alone at first, then a and b.
    let members = [{ id: 1, name: 'a', peerURLs: [a.peerURL], clientURLs: [a.clientURL] }];
    const peer = http.createServer((_req, res) => {
      res.writeHead(200, { 'Content-Type': 'application/json', 'X-Etcd-Cluster-Id': 'cdf818194e3a8c32' });
      res.end(JSON.stringify(members));
    });
    // b's peer port answers something that is not a member list.
    const junk = http.createServer((_req, res) => res.end('not json'));
    await new Promise<void>((r) => peer.listen(Number(new URL(a.peerURL).port), '127.0.0.1', r));
    await new Promise<void>((r) => junk.listen(Number(new URL(b.peerURL).port), '127.0.0.1', r));
    const logs: string[] = [];
    const proxy = await startProxy({
      dataDir: dir,
      listenClientURLs: ['http://127.0.0.1:0'],
      bootstrap: 'static',
      // b is asked first: its answer is skipped with etcd's warning, a's is used.
      initialPeerURLs: async () => [b.peerURL, a.peerURL],
      refreshIntervalMs: 100,
      log: (level, pkg, msg) => logs.push(`${level} | ${pkg}: ${msg}`),
    });
    const file = path.join(dir, 'proxy', 'cluster');
    try {
      const [proxyURL] = proxy.clientURLs;
      if (proxyURL === undefined) throw new Error('the proxy listens nowhere');
      expect(logs.some((l) => l.startsWith('W | etcdserver: could not unmarshal cluster response: '))).toBe(true);
      expect(logs).toContain(
        `N | etcdmain: proxy: updated peer urls in cluster file from ${`[${[b.peerURL, a.peerURL].sort().join(' ')}]`} to [${a.peerURL}]`,
      );
      expect(await proxyEndpoints(proxyURL)).toEqual([a.clientURL]);
      members = [...members, { id: 2, name: 'b', peerURLs: [b.peerURL], clientURLs: [b.clientURL] }];
      await until('b among the endpoints', async () => (await proxyEndpoints(proxyURL)).length === 2, 5000);
      expect((await proxyEndpoints(proxyURL)).sort()).toEqual([a.clientURL, b.clientURL].sort());
      await until(
        'the cluster file updated',
        () => fs.readFileSync(file, 'utf8') === JSON.stringify({ PeerURLs: [a.peerURL, b.peerURL].sort() }),
        5000,
      );
      expect(fs.existsSync(`${file}.bak`)).toBe(false);
    } finally {
      await proxy.stop();
      await new Promise((r) => peer.close(r));
      await new Promise((r) => junk.close(r));
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
