// A real 3-node cluster under load, as separate processes on loopback: closed-loop clients doing
// durable v2 PUTs (and GETs) against the leader over keep-alive HTTP, then kill -9 of the leader
// and the time until a write is acknowledged again. Then the same through etcd's v3 API: Put and
// (linearizable) Range through the /v3 JSON gateway (POST /v3/kv/put, /v3/kv/range), which both
// serve on the client port, by the same load generator. When Debian's etcd (/usr/bin/etcd, 3.4) is
// installed, a real etcd cluster runs beside it, the very same workload alternates between the
// two slice by slice (A B B A), and each figure is printed next to etcd's with the ratio.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePorts } from '../src-main/net/free-ports.js';

const RAFTLAB_BIN = fileURLToPath(new URL('../bin/raftlab.mjs', import.meta.url));
const ETCD_BIN = '/usr/bin/etcd';

const NODES = 3;
const HEARTBEAT_MS = 100; // etcd's defaults, passed explicitly to both so the comparison is fair
const ELECTION_MS = 1000;
// Each level runs in ROUNDS slices per cluster, in the order A B B A B A A B... (both clusters
// up at once), so a drift in the machine's load during the run falls on both sides alike.
// CLUSTER_BENCH_SLICE_MS / CLUSTER_BENCH_ROUNDS shorten a run (to see that it works, not for figures).
const SLICE_MS = Number(process.env.CLUSTER_BENCH_SLICE_MS ?? 2000);
const ROUNDS = Number(process.env.CLUSTER_BENCH_ROUNDS ?? 4);
// Every member starts cold: V8 compiles the hot paths in tiers and sizes its young generation as
// it goes, which takes ~15,000 writes at one client (~25 s here) to settle; etcd's Go code is
// compiled ahead of time. The levels compare steady states, after this warm-up of each cluster
// (v2 PUTs, then v3 Puts, one client); what a cold cluster does is printed apart (its first 2 s).
const WARMUP_MS = Number(process.env.CLUSTER_BENCH_WARMUP_MS ?? 30_000);
const WARMUP_SLICE_MS = 2000;
const PUT_LEVELS = [1, 16, 64];
const GET_LEVELS = [16, 64];
const V3_PUT_LEVELS = [1, 16, 64];
const V3_RANGE_LEVELS = [16, 64];
const REQUEST_TIMEOUT_MS = 5000; // under load: a request slower than this counts as an error
const FAILOVER_TIMEOUT_MS = 300; // per attempt while the leader is gone
const FAILOVER_STAGGER_MS = 50; // a new attempt this often, to the next survivor
const FAILOVER_GIVE_UP_MS = 15_000;
const FAILOVER_ROUNDS = 3;
const VALUE = 'v'.repeat(100);

type Kind = 'raftlab' | 'etcd';

/** v2 PUT/GET on /v2/keys; v3 Put/Range on the /v3 gateway. */
type Op = 'put' | 'get' | 'v3 put' | 'v3 range';
const isPut = (op: Op) => op === 'put' || op === 'v3 put';

interface Level {
  op: Op;
  clients: number;
  ops: number;
  errors: number;
  firstError?: string;
  opsPerSec: number;
  /** Each slice's own rate, in the order run: a stall (a snapshot, say) shows as one low slice. */
  sliceOpsPerSec: number[];
  p50: number;
  p99: number;
}

interface Failover {
  rounds: FailoverRound[];
  medianMs: number;
}

interface Results {
  label: string;
  levels: Level[];
  failover?: Failover;
  /** v2 PUTs/s at one client in the warm-up's first and last slices (see WARMUP_MS). */
  warmup?: { coldOpsPerSec: number; warmOpsPerSec: number };
  /** Members' resident memory (MB, Linux /proc): largest member when idle after start, and after the PUT levels. */
  rss?: { idleMB: number; afterWritesMB: number; writes: number };
  problems: string[];
}

// ---------------------------------------------------------------------------------------------
// Processes

interface Member {
  name: string;
  peerURL: string;
  clientURL: string;
  child?: ChildProcess;
  output: string[];
  /** Set when we killed it on purpose (so an exit is not reported as a crash). */
  expectedExit: boolean;
}

export class Cluster {
  private readonly members: Member[];
  /** Extra environment for a member's process (write-latency.ts: RAFTLAB_STAGES). */
  envFor: (name: string) => Record<string, string> = () => ({});
  private readonly onExit = () => this.killAllSync();
  readonly unexpectedExits: string[] = [];

  private constructor(
    readonly kind: Kind,
    readonly dir: string,
    ports: number[],
  ) {
    this.members = Array.from({ length: NODES }, (_, i) => ({
      name: `n${i + 1}`,
      peerURL: `http://127.0.0.1:${ports[2 * i]}`,
      clientURL: `http://127.0.0.1:${ports[2 * i + 1]}`,
      output: [],
      expectedExit: false,
    }));
    process.on('exit', this.onExit);
  }

  static async create(kind: Kind): Promise<Cluster> {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), `raftlab-bench-${kind}-`));
    try {
      return new Cluster(kind, dir, await freePorts(2 * NODES));
    } catch (err) {
      fs.rmSync(dir, { recursive: true, force: true });
      throw err;
    }
  }

  get names(): string[] {
    return this.members.map((m) => m.name);
  }

  member(name: string): Member {
    return this.members.find((m) => m.name === name)!;
  }

  alive(name: string): boolean {
    const c = this.member(name).child;
    return !!c && c.exitCode === null && c.signalCode === null;
  }

  startAll(): void {
    for (const m of this.members) this.start(m.name);
  }

  /** Start (or restart, from its data dir) one member with etcd's flags. */
  start(name: string): void {
    const m = this.member(name);
    const flags = [
      '--name',
      m.name,
      '--data-dir',
      path.join(this.dir, `${m.name}.etcd`),
      '--listen-peer-urls',
      m.peerURL,
      '--initial-advertise-peer-urls',
      m.peerURL,
      '--listen-client-urls',
      m.clientURL,
      '--advertise-client-urls',
      m.clientURL,
      '--initial-cluster',
      this.members.map((x) => `${x.name}=${x.peerURL}`).join(','),
      '--initial-cluster-state',
      'new',
      '--initial-cluster-token',
      `bench-${this.kind}`,
      '--heartbeat-interval',
      String(HEARTBEAT_MS),
      '--election-timeout',
      String(ELECTION_MS),
    ];
    // raftlab is launched as a user's `raftlab node` is: the file itself, run by its shebang
    // (which gives V8 its flags; bin/raftlab.mjs says why).
    const [cmd, args] =
      this.kind === 'raftlab'
        ? [RAFTLAB_BIN, ['node', ...flags]]
        : [ETCD_BIN, [...flags, '--enable-v2=true', '--logger=zap']];
    const env = {
      ...Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('ETCD_'))),
      ...this.envFor(m.name),
    };
    const child = spawn(cmd, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    m.child = child;
    m.expectedExit = false;
    const collect = (b: Buffer) => {
      m.output.push(...b.toString().split('\n').filter(Boolean));
      if (m.output.length > 400) m.output.splice(0, m.output.length - 200);
    };
    child.stdout!.on('data', collect);
    child.stderr!.on('data', collect);
    child.on('error', (err) => m.output.push(`spawn error: ${err.message}`));
    child.once('exit', (code, signal) => {
      if (!m.expectedExit) this.unexpectedExits.push(`${m.name} exited on its own (code ${code}, signal ${signal})`);
    });
  }

  /** Stops a member as Ctrl-C does (SIGINT): it shuts down and writes what it keeps for its exit. */
  stop(name: string): Promise<void> {
    return this.end(name, 'SIGINT');
  }

  /** kill -9; resolves once the process has exited. */
  kill9(name: string): Promise<void> {
    return this.end(name, 'SIGKILL');
  }

  /** Sends `signal` to a running member, by pid; resolves once it has exited. */
  private async end(name: string, signal: NodeJS.Signals): Promise<void> {
    const m = this.member(name);
    if (!m.child || !this.alive(name)) return;
    m.expectedExit = true;
    const exited = new Promise((r) => m.child!.once('exit', r));
    m.child.kill(signal);
    await exited;
  }

  /** The member every running member agrees leads. */
  async leader(timeoutMs = 20_000): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      const running = this.names.filter((n) => this.alive(n));
      if (running.length === 0) break;
      const views = await Promise.all(
        running.map(async (name) => {
          try {
            const r = await fetch(`${this.member(name).clientURL}/v2/stats/self`, {
              signal: AbortSignal.timeout(1000),
            });
            return { name, s: (await r.json()) as { id: string; state: string; leaderInfo?: { leader?: string } } };
          } catch {
            return undefined;
          }
        }),
      );
      const ok = views.filter((v) => v !== undefined);
      const leaders = ok.filter((v) => v.s.state === 'StateLeader');
      const [leader] = leaders;
      if (
        ok.length === views.length &&
        leaders.length === 1 &&
        leader &&
        ok.every((v) => v.s.leaderInfo?.leader === leader.s.id)
      ) {
        return leader.name;
      }
      await sleep(50);
    }
    throw new Error(`${this.kind}: no agreed leader within ${timeoutMs} ms${this.tail()}`);
  }

  /** The largest resident set (VmRSS, MB) among running members; undefined where /proc is not there. */
  maxRssMB(): number | undefined {
    let max: number | undefined;
    for (const m of this.members) {
      if (!m.child?.pid || !this.alive(m.name)) continue;
      try {
        const kb = Number(/VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${m.child.pid}/status`, 'utf8'))?.[1]);
        if (Number.isFinite(kb)) max = Math.max(max ?? 0, kb / 1024);
      } catch {
        return undefined;
      }
    }
    return max;
  }

  /** The last lines each member printed (for error messages). */
  tail(lines = 8): string {
    return this.members.map((m) => `\n  --- ${m.name} ---\n  ${m.output.slice(-lines).join('\n  ')}`).join('');
  }

  async destroy(): Promise<void> {
    await Promise.all(this.names.map((n) => this.kill9(n)));
    process.off('exit', this.onExit);
    fs.rmSync(this.dir, { recursive: true, force: true });
  }

  /** Last resort when the bench process exits without reaching destroy(). */
  private killAllSync(): void {
    for (const m of this.members) {
      if (m.child && this.alive(m.name)) {
        m.expectedExit = true;
        m.child.kill('SIGKILL');
      }
    }
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}

// ---------------------------------------------------------------------------------------------
// HTTP client

interface Reply {
  status: number;
  body: string;
}

function request(
  agent: http.Agent,
  url: string,
  method: 'GET' | 'PUT' | 'POST',
  body: string | undefined,
  timeoutMs: number,
): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const headers: http.OutgoingHttpHeaders = {};
    if (body !== undefined) {
      headers['Content-Type'] = method === 'POST' ? 'application/json' : 'application/x-www-form-urlencoded';
      headers['Content-Length'] = Buffer.byteLength(body);
    }
    const req = http.request(url, { method, agent, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        clearTimeout(timer);
        resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString() });
      });
      res.on('error', (err) => {
        clearTimeout(timer);
        reject(err);
      });
    });
    const timer = setTimeout(() => req.destroy(new Error(`timed out after ${timeoutMs} ms`)), timeoutMs);
    req.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    req.end(body);
  });
}

/** The p-th percentile (nearest rank) of ascending figures; NaN for none. */
export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!; // within bounds, and not empty
}

/** One slice of a level: the raw latencies, so slices of one level can be summed up. */
interface Sample {
  latencies: number[];
  secs: number;
  errors: number;
  firstError?: string;
}

const b64 = (s: string) => Buffer.from(s).toString('base64');
const V3_VALUE = b64(VALUE);

/** One request of `op` on `key`: method, path and body. */
function requestOf(op: Op, key: string): { method: 'GET' | 'PUT' | 'POST'; path: string; body?: string } {
  switch (op) {
    case 'put':
      return { method: 'PUT', path: `/v2/keys/${key}`, body: `value=${VALUE}` };
    case 'get':
      return { method: 'GET', path: `/v2/keys/${key}` };
    case 'v3 put':
      return { method: 'POST', path: '/v3/kv/put', body: `{"key":"${b64(key)}","value":"${V3_VALUE}"}` };
    case 'v3 range':
      return { method: 'POST', path: '/v3/kv/range', body: `{"key":"${b64(key)}"}` };
  }
}

/** A 200 with what was asked (a v3 Range that finds no key is an error: it reads written keys). */
function answered(op: Op, r: Reply): boolean {
  if (op === 'put') return r.status === 200 || r.status === 201;
  if (op === 'v3 range') return r.status === 200 && r.body.includes('"kvs"');
  return r.status === 200;
}

/**
 * `clients` closed loops for `ms`: each sends its next request as soon as the previous one is
 * answered. PUTs create `<keyPrefix><client>-<i>`; GETs and Ranges read keys from `readKeys`.
 */
async function runSlice(
  url: string,
  op: Op,
  clients: number,
  ms: number,
  keyPrefix: string,
  readKeys: string[],
  written?: string[],
): Promise<Sample> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: clients });
  const latencies: number[] = [];
  let errors = 0;
  let firstError: string | undefined;
  const t0 = performance.now();
  const deadline = t0 + ms;
  let last = t0;
  const loop = async (c: number) => {
    for (let i = 0; performance.now() < deadline; i++) {
      const key = isPut(op) ? `${keyPrefix}${c}-${i}` : readKeys[(c * 7919 + i) % readKeys.length]!; // never empty (see runLevel)
      const { method, path, body } = requestOf(op, key);
      const start = performance.now();
      try {
        const r = await request(agent, `${url}${path}`, method, body, REQUEST_TIMEOUT_MS);
        const end = performance.now();
        if (answered(op, r)) {
          latencies.push(end - start);
          last = end;
          if (isPut(op)) written?.push(key);
        } else {
          errors++;
          firstError ??= `HTTP ${r.status} ${r.body.trim().slice(0, 200)}`;
        }
      } catch (err) {
        errors++;
        firstError ??= err instanceof Error ? err.message : String(err);
        await sleep(10); // a refused connection must not spin
      }
    }
  };
  await Promise.all(Array.from({ length: clients }, (_, c) => loop(c)));
  agent.destroy();
  return { latencies, secs: (Math.max(last, deadline) - t0) / 1000, errors, firstError };
}

function summarize(op: Op, clients: number, samples: Sample[]): Level {
  const latencies = samples.flatMap((s) => s.latencies).sort((a, b) => a - b);
  const secs = samples.reduce((t, s) => t + s.secs, 0);
  return {
    op,
    clients,
    ops: latencies.length,
    errors: samples.reduce((n, s) => n + s.errors, 0),
    firstError: samples.find((s) => s.firstError)?.firstError,
    opsPerSec: latencies.length / secs,
    sliceOpsPerSec: samples.map((s) => s.latencies.length / s.secs),
    p50: percentile(latencies, 50),
    p99: percentile(latencies, 99),
  };
}

interface FailoverRound {
  killed: string;
  ms: number;
  via: string;
  attempts: number;
  /** What the survivors printed between the kill and the first acknowledged write. */
  logs: string[];
}

/**
 * kill -9 the leader, then a client retries PUTs round-robin on the survivors until one is
 * acknowledged: a new attempt every FAILOVER_STAGGER_MS, each given FAILOVER_TIMEOUT_MS, so
 * the figure is not rounded up to a whole number of timeouts.
 */
async function measureFailover(cluster: Cluster, leader: string, round: number): Promise<FailoverRound> {
  const survivors = cluster.names.filter((n) => n !== leader && cluster.alive(n));
  if (survivors.length === 0)
    throw new Error(`${cluster.kind}: no member left alive to write to once ${leader} is killed`);
  const agent = new http.Agent({ keepAlive: true });
  const body = `value=${VALUE}`;
  const marks = new Map(survivors.map((n) => [n, cluster.member(n).output.length]));
  const logs = () =>
    survivors.flatMap((n) =>
      cluster
        .member(n)
        .output.slice(marks.get(n))
        .map((l) => `${n}: ${l}`),
    );
  let done = false;
  try {
    const t0 = performance.now();
    await cluster.kill9(leader);
    return await new Promise<FailoverRound>((resolve, reject) => {
      let attempts = 0;
      const attempt = () => {
        if (done) return;
        if (performance.now() - t0 > FAILOVER_GIVE_UP_MS) {
          done = true;
          clearInterval(timer);
          reject(
            new Error(
              `${cluster.kind}: no write acknowledged within ${FAILOVER_GIVE_UP_MS} ms of killing ${leader}${cluster.tail()}`,
            ),
          );
          return;
        }
        const n = ++attempts;
        const name = survivors[(n - 1) % survivors.length]!;
        request(
          agent,
          `${cluster.member(name).clientURL}/v2/keys/bench/failover-${round}-${n}`,
          'PUT',
          body,
          FAILOVER_TIMEOUT_MS,
        ).then(
          (r) => {
            if (done || (r.status !== 200 && r.status !== 201)) return;
            done = true;
            clearInterval(timer);
            resolve({ killed: leader, ms: performance.now() - t0, via: name, attempts: n, logs: logs() });
          },
          () => {}, // timed out or refused: a later attempt goes to the next member
        );
      };
      const timer = setInterval(attempt, FAILOVER_STAGGER_MS);
      attempt();
    });
  } finally {
    done = true;
    agent.destroy();
  }
}

// ---------------------------------------------------------------------------------------------
// Both clusters up at once; the levels alternate between them; failover one cluster at a time

interface Side {
  kind: Kind;
  label: string;
  prefix: string;
  cluster: Cluster;
  results: Results;
  url: string;
  idleMB?: number;
  /** Keys the first PUT level wrote: what the GET levels read. */
  written: string[];
  /** Keys the first v3 Put level wrote: what the Range levels read (v3 is a keyspace of its own). */
  writtenV3: string[];
}

async function startSide(kind: Kind, label: string, print: (line: string) => void): Promise<Side> {
  const cluster = await Cluster.create(kind);
  const prefix = `cluster (${label}, ${NODES} nodes)`;
  const t0 = performance.now();
  cluster.startAll();
  const leader = await cluster.leader();
  print(`${prefix} up: leader ${leader} after ${Math.round(performance.now() - t0)} ms`);
  const url = cluster.member(leader).clientURL;
  const side: Side = {
    kind,
    label,
    prefix,
    cluster,
    results: { label, levels: [], problems: [] },
    url,
    idleMB: cluster.maxRssMB(),
    written: [],
    writtenV3: [],
  };
  await warmUp(side, print);
  return side;
}

/** WARMUP_MS of one client's writes, two thirds v2 and one third v3, in slices of WARMUP_SLICE_MS. */
async function warmUp(side: Side, print: (line: string) => void): Promise<void> {
  const rates: number[] = [];
  const slices = Math.max(2, Math.round(WARMUP_MS / WARMUP_SLICE_MS));
  for (let i = 0; i < slices; i++) {
    const op: Op = i < Math.ceil((slices * 2) / 3) ? 'put' : 'v3 put';
    const sample = await runSlice(side.url, op, 1, WARMUP_SLICE_MS, `warm/${i}/`, []);
    if (op === 'put') rates.push(sample.latencies.length / sample.secs);
  }
  const [cold = NaN, warm = NaN] = [rates[0], rates.at(-1)];
  side.results.warmup = { coldOpsPerSec: cold, warmOpsPerSec: warm };
  print(
    `${side.prefix} warm-up (${Math.round((slices * WARMUP_SLICE_MS) / 1000)} s, 1 client): v2 PUTs ${Math.round(cold)} ops/s in the first ${WARMUP_SLICE_MS / 1000} s after start, ${Math.round(warm)} ops/s in the last`,
  );
}

/** One level on every side, in ROUNDS slices each, the order turning round every round (A B B A ...). */
async function runLevel(sides: Side[], op: Op, clients: number, print: (line: string) => void): Promise<void> {
  const v3 = op === 'v3 put' || op === 'v3 range';
  const samples = new Map<Side, Sample[]>(sides.map((s) => [s, []]));
  for (let round = 0; round < ROUNDS; round++) {
    const order = round % 2 === 0 ? sides : [...sides].reverse();
    for (const side of order) {
      const keyPrefix = `bench/${v3 ? 'v3-' : ''}${clients}c-r${round}/`;
      const firstPuts = v3 ? side.writtenV3 : side.written;
      const readKeys = firstPuts.length > 0 ? firstPuts : ['warm/0/0-0'];
      const written = isPut(op) && clients === (v3 ? V3_PUT_LEVELS : PUT_LEVELS)[0] ? firstPuts : undefined;
      samples.get(side)!.push(await runSlice(side.url, op, clients, SLICE_MS, keyPrefix, readKeys, written));
    }
  }
  for (const side of sides) {
    const level = summarize(op, clients, samples.get(side)!);
    side.results.levels.push(level);
    print(levelLine(side.prefix, level, side === sides[0] ? undefined : sides[0]?.results));
    noteErrors(side.results, side.label, level);
  }
}

async function measureFailovers(side: Side, print: (line: string) => void, compare?: Results): Promise<void> {
  const { cluster, results, label, prefix } = side;
  const rounds: Failover['rounds'] = [];
  for (let round = 1; round <= FAILOVER_ROUNDS; round++) {
    const leader = await cluster.leader();
    const r = await measureFailover(cluster, leader, round);
    rounds.push(r);
    if (r.ms > 2 * ELECTION_MS) {
      results.problems.push(
        `${label}: failover ${round} took ${Math.round(r.ms)} ms (over twice the election timeout); the survivors printed:\n    ` +
          (r.logs.slice(0, 30).join('\n    ') || '(nothing)'),
      );
    }
    print(
      `${prefix} failover ${round}/${FAILOVER_ROUNDS}: kill -9 leader ${r.killed}, first acknowledged write after ${Math.round(r.ms)} ms (on ${r.via}, attempt ${r.attempts})`,
    );
    if (round < FAILOVER_ROUNDS) {
      cluster.start(r.killed); // back from its data dir, so the next round has three members again
      await cluster.leader();
      const back = await waitRejoined(cluster, r.killed);
      if (!back) results.problems.push(`${label}: restarted ${r.killed} did not accept a write through it within 10 s`);
    }
  }
  const sorted = rounds.map((r) => r.ms).sort((a, b) => a - b);
  const failover: Failover = { rounds, medianMs: sorted[Math.floor(sorted.length / 2)]! }; // FAILOVER_ROUNDS ≥ 1 rounds
  results.failover = failover;
  const cmp = compare?.failover ? `  (raftlab/etcd ${ratio(compare.failover.medianMs, failover.medianMs)})` : '';
  print(
    `${prefix} failover median: ${Math.round(failover.medianMs)} ms from kill -9 to first acknowledged write${cmp}`,
  );
  for (const e of cluster.unexpectedExits.splice(0)) results.problems.push(`${label}: during failover, ${e}`);
}

/** A restarted member is back when a write sent to it is acknowledged. */
async function waitRejoined(cluster: Cluster, name: string): Promise<boolean> {
  const agent = new http.Agent({ keepAlive: false });
  try {
    const deadline = Date.now() + 10_000;
    while (Date.now() < deadline) {
      try {
        const r = await request(
          agent,
          `${cluster.member(name).clientURL}/v2/keys/bench/rejoin`,
          'PUT',
          `value=${name}`,
          1000,
        );
        if (r.status === 200 || r.status === 201) return true;
      } catch {
        // not yet
      }
      await sleep(100);
    }
    return false;
  } finally {
    agent.destroy();
  }
}

function noteErrors(results: Results, label: string, level: Level): void {
  if (level.errors > 0)
    results.problems.push(
      `${label}: ${level.op} c=${level.clients}: ${level.errors} failed requests (first: ${level.firstError})`,
    );
}

function fmtMs(ms: number): string {
  return Number.isNaN(ms) ? '-' : ms < 10 ? ms.toFixed(2) : ms.toFixed(1);
}

/** raftlab/etcd, as in the brief: for ops/s above 1 is better, for latencies below 1. */
function ratio(raftlab: number, etcd: number): string {
  if (!(etcd > 0) || !Number.isFinite(raftlab)) return '-';
  const r = raftlab / etcd;
  return `${r < 10 ? r.toFixed(2) : r.toFixed(1)}x`;
}

function levelLine(prefix: string, l: Level, compare?: Results): string {
  const op = l.op.padEnd(9);
  const c = `c=${l.clients}`.padEnd(5);
  let line = `${prefix} ${op}${c}: ${Math.round(l.opsPerSec)} ops/s  p50 ${fmtMs(l.p50)} ms  p99 ${fmtMs(l.p99)} ms`;
  if (l.errors > 0) line += `  (${l.errors} errors)`;
  line += `  (slices ${l.sliceOpsPerSec.map((r) => Math.round(r)).join('/')})`;
  const other = compare?.levels.find((x) => x.op === l.op && x.clients === l.clients);
  if (other) {
    line += `  | raftlab/etcd: ops/s ${ratio(other.opsPerSec, l.opsPerSec)}, p50 ${ratio(other.p50, l.p50)}, p99 ${ratio(other.p99, l.p99)}`;
  }
  return line;
}

function etcdVersion(): string | undefined {
  if (!fs.existsSync(ETCD_BIN)) return undefined;
  try {
    const out = execFileSync(ETCD_BIN, ['--version'], { encoding: 'utf8', timeout: 5000 });
    return /etcd Version:\s*(\S+)/.exec(out)?.[1] ?? 'unknown';
  } catch {
    return undefined;
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

// ---------------------------------------------------------------------------------------------

export async function benchCluster(print: (line: string) => void): Promise<void> {
  print(
    `cluster: ${NODES} real processes on loopback, heartbeat ${HEARTBEAT_MS} ms / election ${ELECTION_MS} ms; ` +
      `closed-loop clients over keep-alive HTTP, ${VALUE.length}-byte values, durable PUTs to the leader ` +
      `(v2 /v2/keys, then v3 Put and linearizable Range through the /v3 gateway); ` +
      `each level ${ROUNDS} slices of ${SLICE_MS / 1000} s per cluster, alternating A B B A`,
  );
  const version = etcdVersion();
  if (version === undefined)
    print(`cluster: etcd not found at ${ETCD_BIN}; skipping the comparison (apt-get install etcd-server to get it)`);
  const sides: Side[] = [];
  try {
    sides.push(await startSide('raftlab', 'raftlab', print));
    if (version !== undefined) sides.push(await startSide('etcd', `etcd ${version}`, print));
    for (const c of PUT_LEVELS) await runLevel(sides, 'put', c, print);
    // Memory after the sustained write load (every PUT level, one after the other).
    for (const side of sides) {
      const afterWritesMB = side.cluster.maxRssMB();
      const writes = side.results.levels.reduce((n, l) => n + l.ops, 0);
      if (side.idleMB === undefined || afterWritesMB === undefined) continue;
      side.results.rss = { idleMB: side.idleMB, afterWritesMB, writes };
      print(
        `${side.prefix} memory: largest member RSS ${Math.round(side.idleMB)} MB idle, ${Math.round(afterWritesMB)} MB after ${writes} PUTs`,
      );
    }
    for (const c of GET_LEVELS) await runLevel(sides, 'get', c, print);
    for (const c of V3_PUT_LEVELS) await runLevel(sides, 'v3 put', c, print);
    for (const c of V3_RANGE_LEVELS) await runLevel(sides, 'v3 range', c, print);
    for (const side of sides)
      for (const e of side.cluster.unexpectedExits.splice(0))
        side.results.problems.push(`${side.label}: under load, ${e}`);
    // Failover kills leaders: one cluster at a time, the other stopped first so it takes no CPU.
    for (const side of [...sides].reverse()) {
      await measureFailovers(side, print, side === sides[0] ? undefined : sides[0]?.results);
      await side.cluster.destroy();
    }
  } finally {
    for (const side of sides) await side.cluster.destroy();
  }
  const [raftlab, etcd] = sides.map((s) => s.results);
  if (raftlab && etcd) {
    print(`cluster: side by side (raftlab vs ${etcd.label}, ratio raftlab/etcd)`);
    for (const l of raftlab.levels) {
      const e = etcd.levels.find((x) => x.op === l.op && x.clients === l.clients);
      if (!e) continue;
      print(
        `cluster ${l.op.padEnd(9)}${`c=${l.clients}`.padEnd(5)}: ` +
          `${Math.round(l.opsPerSec)} vs ${Math.round(e.opsPerSec)} ops/s (${ratio(l.opsPerSec, e.opsPerSec)})  ` +
          `p50 ${fmtMs(l.p50)} vs ${fmtMs(e.p50)} ms (${ratio(l.p50, e.p50)})  ` +
          `p99 ${fmtMs(l.p99)} vs ${fmtMs(e.p99)} ms (${ratio(l.p99, e.p99)})`,
      );
    }
    if (raftlab.warmup && etcd.warmup) {
      const [r, e] = [raftlab.warmup, etcd.warmup];
      print(
        `cluster put      cold : ${Math.round(r.coldOpsPerSec)} vs ${Math.round(e.coldOpsPerSec)} ops/s (${ratio(r.coldOpsPerSec, e.coldOpsPerSec)}) ` +
          `at 1 client in the first ${WARMUP_SLICE_MS / 1000} s after start (the levels above are after the warm-up)`,
      );
    }
    if (raftlab.rss && etcd.rss) {
      print(
        `cluster memory         : ${Math.round(raftlab.rss.afterWritesMB)} vs ${Math.round(etcd.rss.afterWritesMB)} MB largest member RSS after the PUT levels ` +
          `(${ratio(raftlab.rss.afterWritesMB, etcd.rss.afterWritesMB)}; idle ${Math.round(raftlab.rss.idleMB)} vs ${Math.round(etcd.rss.idleMB)} MB; ` +
          `${raftlab.rss.writes} vs ${etcd.rss.writes} PUTs)`,
      );
    }
    if (raftlab.failover && etcd.failover) {
      print(
        `cluster failover       : ${Math.round(raftlab.failover.medianMs)} vs ${Math.round(etcd.failover.medianMs)} ms median ` +
          `(${ratio(raftlab.failover.medianMs, etcd.failover.medianMs)}); rounds ` +
          `${raftlab.failover.rounds.map((r) => Math.round(r.ms)).join('/')} vs ${etcd.failover.rounds.map((r) => Math.round(r.ms)).join('/')} ms`,
      );
    }
  }
  for (const p of sides.flatMap((s) => s.results.problems)) print(`cluster: problem: ${p}`);
}
