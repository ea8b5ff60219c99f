// Startup: from launching a single-member `raftlab node` (and Debian's etcd 3.4, alternating,
// same flags) to its client port taking a connection, and to its first `/health` answer of 200
// (which needs the election, a tick to ten after the start for both), on a fresh data dir and on
// a restart from it. The median of 10 launches each. `raftlab node` runs from the compiled bundle
// (scripts/build-cli.mjs), built before the first launch so that no build is timed. A bare
// Node.js HTTP server is launched the same way, as the floor: no program that runs on Node starts
// faster than Node itself on this machine.
import { spawn } from 'node:child_process';
import net from 'node:net';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { performance } from 'node:perf_hooks';
import { freePorts } from '../src-main/net/free-ports.js';
import { buildCli } from '../scripts/build-cli.mjs';

const RAFTLAB_BIN = fileURLToPath(new URL('../bin/raftlab.mjs', import.meta.url));
const ETCD_BIN = '/usr/bin/etcd';
const RUNS = 10;
const GIVE_UP_MS = 15_000;

type Kind = 'raftlab' | 'etcd' | 'node';

interface Launch {
  /** Launch to the client port's first accepted connection. */
  port: number;
  /** Launch to the first /health answer of 200. */
  health: number;
}

/** Whether 127.0.0.1:port takes a TCP connection (closed at once). */
const connects = (port: number) =>
  new Promise<boolean>((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    const end = (ok: boolean) => {
      s.destroy();
      resolve(ok);
    };
    s.once('connect', () => end(true));
    s.once('error', () => end(false));
    s.setTimeout(500, () => end(false));
  });

/** A restart must reuse its ports: the cluster id derives from the peer URLs. */
async function launchOnce(kind: Kind, dataDir: string, [peer, client]: number[]): Promise<Launch> {
  const peerURL = `http://127.0.0.1:${peer}`;
  const clientURL = `http://127.0.0.1:${client}`;
  const flags = [
    '--name',
    's1',
    '--data-dir',
    dataDir,
    '--listen-peer-urls',
    peerURL,
    '--initial-advertise-peer-urls',
    peerURL,
    '--listen-client-urls',
    clientURL,
    '--advertise-client-urls',
    clientURL,
    '--initial-cluster',
    `s1=${peerURL}`,
  ];
  const bareNode = `require('node:http').createServer((q, s) => s.end('{"health":"true"}')).listen(${client}, '127.0.0.1')`;
  const [cmd, args] =
    kind === 'etcd'
      ? [ETCD_BIN, flags]
      : kind === 'node'
        ? [process.execPath, ['-e', bareNode]]
        : [process.execPath, [RAFTLAB_BIN, 'node', ...flags]];
  const t0 = performance.now();
  const child = spawn(cmd, args, { stdio: ['ignore', 'ignore', process.env.BENCH_DEBUG ? 'inherit' : 'ignore'] });
  const giveUp = (what: string) => {
    if (performance.now() - t0 > GIVE_UP_MS) throw new Error(`${kind} did not ${what} within ${GIVE_UP_MS} ms`);
  };
  try {
    while (!(await connects(client!))) {
      giveUp('open its client port');
      await new Promise((r) => setTimeout(r, 2));
    }
    const port = performance.now() - t0;
    for (;;) {
      giveUp('answer /health');
      try {
        const res = await fetch(`${clientURL}/health`, { signal: AbortSignal.timeout(500) });
        if (res.status === 200) return { port, health: performance.now() - t0 };
      } catch {
        /* not answering yet */
      }
      await new Promise((r) => setTimeout(r, 5));
    }
  } finally {
    child.kill('SIGKILL');
    await new Promise((r) => (child.exitCode !== null ? r(undefined) : child.once('exit', r)));
  }
}

const median = (xs: number[]) => {
  if (xs.length === 0) throw new Error('median of no figures');
  return [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
};

export async function benchStartup(print: (line: string) => void): Promise<void> {
  await buildCli();
  const kinds: Kind[] = fs.existsSync(ETCD_BIN) ? ['raftlab', 'etcd', 'node'] : ['raftlab', 'node'];
  if (!kinds.includes('etcd')) print(`startup: etcd not found at ${ETCD_BIN}; raftlab and the Node floor alone`);
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'raftlab-startup-'));
  const times: Partial<Record<Kind, { fresh: Launch[]; restart: Launch[] }>> = {};
  try {
    for (let i = 0; i < RUNS; i++) {
      for (const kind of kinds) {
        const t = (times[kind] ??= { fresh: [], restart: [] });
        const dir = path.join(root, `${kind}-${i}`);
        const ports = await freePorts(2);
        t.fresh.push(await launchOnce(kind, dir, ports));
        t.restart.push(await launchOnce(kind, dir, ports));
      }
    }
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
  }
  const med = (xs: Launch[], k: keyof Launch) => median(xs.map((x) => x[k]));
  for (const kind of kinds) {
    const t = times[kind];
    if (!t) continue;
    if (kind === 'node') {
      print(
        `startup: bare Node.js HTTP server (the floor for a program on Node ${process.version}), median of ${RUNS}: ` +
          `launch → port open ${med(t.fresh, 'port').toFixed(0)} ms`,
      );
      continue;
    }
    print(
      `startup: ${kind.padEnd(7)} median of ${RUNS}, launch → client port open / → /health 200: ` +
        `fresh ${med(t.fresh, 'port').toFixed(0)} / ${med(t.fresh, 'health').toFixed(0)} ms, ` +
        `restart ${med(t.restart, 'port').toFixed(0)} / ${med(t.restart, 'health').toFixed(0)} ms`,
    );
  }
  const { raftlab, etcd } = times;
  if (raftlab && etcd) {
    const r = (a: Launch[], b: Launch[], k: keyof Launch) => (med(a, k) / med(b, k)).toFixed(2);
    print(
      `startup: raftlab/etcd (time: below 1 is faster): port open fresh ${r(raftlab.fresh, etcd.fresh, 'port')}×, ` +
        `restart ${r(raftlab.restart, etcd.restart, 'port')}×; /health fresh ${r(raftlab.fresh, etcd.fresh, 'health')}×, ` +
        `restart ${r(raftlab.restart, etcd.restart, 'health')}×`,
    );
  }
}
