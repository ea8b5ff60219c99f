// A chaos run on real nodes: a cluster started by the app's supervisor (worker threads, real
// ports, SQLite), concurrent clients reading (quorum reads), writing and compare-and-swapping a
// few keys over HTTP (etcd's v2 keys API, its v3 API through the /v3 gateway: Put, linearizable
// Range, Txn compare-on-value-then-put, or both at once), while seeded faults fire (faults.ts). Then everything is healed, the
// cluster must converge, every member's local state is read back, and the whole history (final
// reads included, so a lost acknowledged write is a violation) goes to the linearizability
// checker.
//
// "Breaks on purpose" mode proves the checker bites on real nodes: reads skip the quorum
// (a node's local state) and prefer nodes cut off from the majority, and the run starts with a
// scripted stale read (partition a follower, write through the majority, read the follower).

import { Supervisor } from '../cluster/supervisor.js';
import { checkLinearizability, type CheckResult } from '../check/linearizability.js';
import { seededRandom } from '../util/rng.js';
import { agreedLeader } from '../../src-shared/cluster-state.js';
import type { ServerEvent } from '../../src-shared/protocol.js';
import type { ChaosWorkload, FaultRecord, History, Op, OpOutcome, OpType } from '../../src-shared/history.js';
import { runClient, sleep, V2_API, type ClientContext, type KvApi, type Keyspace } from './clients.js';
import { V3_API } from './v3-kv.js';
import { ALL_FAULTS, CLOCK_FAULTS, FaultInjector, MAIN_FAULTS, type FaultKind } from './faults.js';

export interface ChaosOptions {
  /** Cluster size (default 3). */
  nodes?: number;
  /** How long the faults and clients run (default 15). */
  seconds?: number;
  /** Seeds the fault schedule and the clients' choices (default 1). */
  seed?: number;
  /** Concurrent clients (default 5). */
  clients?: number;
  /** Keys "/k0".. (default 3); v3 keys are "k0".. (a keyspace of their own, as in etcd). */
  keys?: number;
  /**
   * Which API the clients use (default v2): v2 keys API; v3 (Put, linearizable Range, Txn
   * compare-and-swap through the /v3 gateway); mixed (odd clients v2, even clients v3, each on
   * its own keys). The final reads and a run breaking on purpose use the same API(s).
   */
  workload?: ChaosWorkload;
  /** Per-request deadline (default 1500 ms); past it the outcome is unknown. */
  requestTimeoutMs?: number;
  /** The nodes' Raft timing (default 50 / 500 ms, as the tests use). */
  heartbeatMs?: number;
  electionMs?: number;
  /** Which faults may fire (default all). */
  faults?: readonly FaultKind[];
  /** Local (quorum=false) reads, preferring cut-off nodes, after a scripted stale read. */
  breakOnPurpose?: boolean;
  /** Budget for the checker (default 60 s). */
  checkTimeoutMs?: number;
  /** Budget for convergence after healing (default 30 s). */
  convergeTimeoutMs?: number;
  /** Progress lines. */
  log?: (line: string) => void;
  /**
   * Run on this supervisor (the app's: the window shows the chaos live) instead of a private
   * one; it gets a fresh cluster and is left running. Its own Raft timing applies.
   */
  supervisor?: Supervisor;
}

/** The keyspaces of a workload: v2 keys "/k0"…, v3 keys "k0"… */
function keyspaces(workload: ChaosWorkload, keys: number): [Keyspace, ...Keyspace[]] {
  const names = (prefix: string) => Array.from({ length: keys }, (_, i) => `${prefix}k${i}`);
  const v2: Keyspace = { api: V2_API, keys: names('/') };
  const v3: Keyspace = { api: V3_API, keys: names('') };
  return workload === 'v2' ? [v2] : workload === 'v3' ? [v3] : [v2, v3];
}

export type OutcomeCounts = Record<OpOutcome, number>;

export interface ChaosCounts {
  /** Client operations (final reads excluded) by type and outcome. */
  ops: Record<OpType, OutcomeCounts>;
  outcomes: OutcomeCounts;
  /** Ok compare-and-swaps that swapped / whose compare failed. */
  casSwapped: number;
  casCompareFailed: number;
  finalReads: number;
  /** Faults fired, by kind. */
  faults: Record<string, number>;
}

export interface ChaosResult {
  seed: number;
  nodes: number;
  seconds: number;
  workload: ChaosWorkload;
  /** Every operation (final reads included, client "final") and the fault timeline. */
  history: History;
  check: CheckResult;
  /** After healing: one leader, every member applied everything committed. */
  converged: boolean;
  /** Each key's value on each member at the end (local reads): key → member → value. */
  finalValues: Record<string, Record<string, string | null>>;
  /** Keys on which members disagree at the end. */
  divergentKeys: string[];
  /** Acknowledged writes that are certainly not in the final state. */
  lostWrites: Op[];
  counts: ChaosCounts;
  /** Faults that could not fire or heal, nodes that exited unexpectedly, and the like. */
  problems: string[];
  /** No violation, nothing lost, converged, members agree. */
  ok: boolean;
}

/** The key the scripted stale read uses (no client touches it). */
export const STALE_KEY = '/stale';

export async function runChaos(options: ChaosOptions = {}): Promise<ChaosResult> {
  const o = {
    nodes: 3,
    seconds: 15,
    seed: 1,
    clients: 5,
    keys: 3,
    requestTimeoutMs: 1500,
    heartbeatMs: 50,
    electionMs: 500,
    workload: 'v2',
    faults: ALL_FAULTS,
    breakOnPurpose: false,
    checkTimeoutMs: 60_000,
    convergeTimeoutMs: 30_000,
    log: (_line: string) => {},
    // An option given as undefined keeps its default.
    ...Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined)),
  } as Required<ChaosOptions>;
  const log = o.log;
  const spaces = keyspaces(o.workload, o.keys);
  const ownSupervisor = !options.supervisor;
  const sup = options.supervisor ?? new Supervisor({ heartbeatMs: o.heartbeatMs, electionMs: o.electionMs });
  const problems: string[] = [];
  const onEvents = (batch: ServerEvent[]) => {
    for (const e of batch) if (e.type === 'error' && e.id === undefined) problems.push(`supervisor: ${e.message}`);
  };
  sup.on('events', onEvents);
  const ops: Op[] = [];
  const faults: FaultRecord[] = [];
  let id = 0;
  const nextId = () => ++id;
  let running = true; // the clients', until the run's end (or an error)
  try {
    // Clients' timeouts and fault timings are real time: a window in slow motion goes back to ×1.
    if (!ownSupervisor) await sup.execute({ type: 'setSpeed', speed: 1 });
    await sup.start(o.nodes);
    const leader = await waitFor('a leader', 20_000, () => agreedLeader(sup.snapshot())?.name);
    log(`cluster of ${o.nodes} up in ${sup.dir}, leader ${leader}`);
    const t0 = performance.now();
    const now = () => performance.now() - t0;

    if (o.breakOnPurpose)
      await staleReadOnPurpose(sup, {
        api: spaces[0].api,
        now,
        nextId,
        record: (op) => ops.push(op),
        fault: (f) => faults.push(f),
        timeoutMs: o.requestTimeoutMs,
        log,
      });

    const endAt = now() + o.seconds * 1000;
    const injector = new FaultInjector(sup, now, endAt);
    const pick = seededRandom(o.seed * 31 + 7);
    const ctx: ClientContext = {
      timeoutMs: o.requestTimeoutMs,
      quorumReads: !o.breakOnPurpose,
      mix: { read: 5, write: 3, cas: 2 },
      pickNode: (type) => {
        const alive = injector.alive();
        if (alive.length === 0) return undefined;
        const isolated = alive.filter((n) => injector.isolated().includes(n.name));
        const pool = o.breakOnPurpose && type === 'read' && isolated.length > 0 && pick.chance(0.7) ? isolated : alive;
        const n = pick.pick(pool);
        return { name: n.name, url: n.clientURL };
      },
      now,
      nextId,
      record: (op) => ops.push(op),
      running: () => running && now() < endAt,
    };
    const clients = Array.from({ length: o.clients }, (_, i) =>
      runClient(`c${i + 1}`, seededRandom(o.seed * 1009 + i + 1), ctx, spaces[i % spaces.length]!),
    );
    const main = o.faults.filter((k) => (MAIN_FAULTS as readonly string[]).includes(k));
    const clock = o.faults.filter((k) => (CLOCK_FAULTS as readonly string[]).includes(k));
    const tracks = [
      main.length > 0
        ? injector.track(seededRandom(o.seed), { kinds: main, durationMs: [800, 2500], gapMs: [300, 1000] }, 700)
        : undefined,
      clock.length > 0
        ? injector.track(
            seededRandom(o.seed + 7919),
            { kinds: clock, durationMs: [1000, 3000], gapMs: [500, 2000] },
            400,
          )
        : undefined,
    ];
    await Promise.all(tracks);
    running = false;
    await Promise.all(clients);
    faults.push(...injector.faults);
    problems.push(...injector.problems);
    log(`${ops.length} operations, ${faults.length} faults; healing`);

    // The end: heal everything, wait for one leader and everything applied everywhere.
    await injector.healAll(o.nodes);
    problems.push(...injector.problems.filter((p) => p.startsWith('heal:')));
    const healedAt = now();
    const converged = await converge(sup, o.convergeTimeoutMs);
    log(converged ? `converged ${((now() - healedAt) / 1000).toFixed(1)} s after healing` : 'did NOT converge');

    // Every member's local state, until they agree (an unknown write can still land late).
    const finalSpaces = o.breakOnPurpose
      ? [{ ...spaces[0], keys: [...spaces[0].keys, STALE_KEY] }, ...spaces.slice(1)]
      : spaces;
    let final: { ops: Op[]; values: Record<string, Record<string, string | null>>; divergent: string[] } | undefined;
    const deadline = Date.now() + (converged ? 10_000 : 0);
    do {
      final = await readEverywhere(sup, finalSpaces, now, nextId, o.requestTimeoutMs * 3);
      if (final.divergent.length === 0) break;
      await sleep(200);
    } while (Date.now() < deadline);
    // Local reads are linearizable once every member applied everything: only then they count.
    if (converged) ops.push(...final.ops);

    const history: History = { ops, faults };
    log(`checking ${ops.length} operations`);
    const check = checkLinearizability(ops, { timeoutMs: o.checkTimeoutMs });
    const lostWrites = final.divergent.length === 0 && converged ? findLostWrites(ops, final.values) : [];
    const counts = countAll(ops, faults);
    return {
      seed: o.seed,
      nodes: o.nodes,
      seconds: o.seconds,
      workload: o.workload,
      history,
      check,
      converged,
      finalValues: final.values,
      divergentKeys: final.divergent,
      lostWrites,
      counts,
      problems,
      ok: check.verdict === 'ok' && lostWrites.length === 0 && converged && final.divergent.length === 0,
    };
  } finally {
    running = false;
    sup.off('events', onEvents);
    if (ownSupervisor) await sup.stop();
  }
}

// ------------------------------------------------------------------ breaking on purpose

interface ScriptContext {
  api: KvApi;
  now(): number;
  nextId(): number;
  record(op: Op): void;
  fault(f: FaultRecord): void;
  timeoutMs: number;
  log(line: string): void;
}

/**
 * A stale read, every time: a follower is cut off after it has seen v0, v1 is written through
 * the majority, and the follower is read without quorum. The key is one no client touches, so
 * nothing else can explain the old value.
 */
async function staleReadOnPurpose(sup: Supervisor, s: ScriptContext): Promise<void> {
  const nodes = () => sup.snapshot().nodes.filter((n) => n.status === 'alive');
  const leaderName = await waitFor('a leader', 20_000, () => agreedLeader(sup.snapshot())?.name);
  const follower = nodes().find((n) => n.name !== leaderName)!;
  const write = async (value: string): Promise<void> => {
    for (let attempt = 0; attempt < 10; attempt++) {
      // Through the majority's leader (whoever it is now), never through the follower.
      const via =
        nodes().find((n) => n.role === 'leader' && n.name !== follower.name) ??
        nodes().find((n) => n.name !== follower.name)!;
      const invoke = s.now();
      const a = await s.api.write(
        via.clientURL,
        STALE_KEY,
        attempt === 0 ? value : `${value}.${attempt}`,
        s.timeoutMs * 2,
      );
      s.record({
        id: s.nextId(),
        client: 'demo',
        node: via.name,
        key: STALE_KEY,
        invoke,
        complete: s.now(),
        outcome: a.outcome,
        type: 'write',
        value: attempt === 0 ? value : `${value}.${attempt}`,
        note: a.note,
      });
      if (a.outcome === 'ok') return;
      await sleep(200);
    }
    throw new Error(`breaking on purpose: could not write ${STALE_KEY}`);
  };
  await write('v0');
  await waitFor(`${follower.name} to apply v0`, 10_000, async () => {
    const a = await s.api.read(follower.clientURL, STALE_KEY, false, s.timeoutMs);
    return a.outcome === 'ok' && a.value !== null;
  });
  const f: FaultRecord = {
    at: s.now(),
    kind: 'partition',
    description: `isolated follower ${follower.name}, to read it without quorum (breaking on purpose)`,
  };
  s.fault(f);
  for (const n of sup.snapshot().nodes)
    if (n.name !== follower.name && n.status !== 'removed')
      await sup.execute({ type: 'cutLink', a: follower.name, b: n.name });
  await write('v1');
  const invoke = s.now();
  const a = await s.api.read(follower.clientURL, STALE_KEY, false, s.timeoutMs);
  s.record({
    id: s.nextId(),
    client: 'demo',
    node: follower.name,
    key: STALE_KEY,
    invoke,
    complete: s.now(),
    outcome: a.outcome,
    type: 'read',
    ...(a.outcome === 'ok' ? { value: a.value } : {}),
    note: `${a.note}, ${s.api.name === 'v2' ? 'quorum=false' : 'serializable'}`,
  });
  s.log(
    `breaking on purpose: ${follower.name}, cut off, returned ${String(a.value)} for ${STALE_KEY} after v1 was acknowledged`,
  );
  await sup.execute({ type: 'healAll' });
  f.until = s.now();
}

// ------------------------------------------------------------------ the end of a run

async function waitFor<T>(
  what: string,
  timeoutMs: number,
  f: () => T | undefined | false | Promise<T | undefined | false>,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await f();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`chaos: timed out waiting for ${what}`);
    await sleep(50);
  }
}

/** One agreed leader, nobody starting, every running member applied all that is committed, twice in a row. */
async function converge(sup: Supervisor, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  let last = -1;
  while (Date.now() < deadline) {
    const st = sup.snapshot();
    const alive = st.nodes.filter((n) => n.status === 'alive');
    const leader = agreedLeader(st);
    const settled =
      leader !== undefined &&
      !st.nodes.some((n) => n.status === 'starting' || n.status === 'unstarted') &&
      alive.every((n) => n.commit === leader.commit && n.applied === leader.commit);
    if (settled && leader.commit === last) return true;
    last = settled ? leader.commit : -1;
    await sleep(300);
  }
  return false;
}

async function readEverywhere(
  sup: Supervisor,
  spaces: readonly Keyspace[],
  now: () => number,
  nextId: () => number,
  timeoutMs: number,
) {
  const values: Record<string, Record<string, string | null>> = {};
  const ops: Op[] = [];
  const divergent: string[] = [];
  const alive = sup.snapshot().nodes.filter((n) => n.status === 'alive');
  for (const { api, keys } of spaces)
    for (const key of keys) {
      values[key] = {};
      for (const n of alive) {
        const invoke = now();
        const a = await api.read(n.clientURL, key, false, timeoutMs);
        if (a.outcome !== 'ok') continue;
        values[key][n.name] = a.value ?? null;
        ops.push({
          id: nextId(),
          client: 'final',
          node: n.name,
          key,
          invoke,
          complete: now(),
          outcome: 'ok',
          type: 'read',
          value: a.value ?? null,
          note: 'local read after convergence',
        });
      }
      const seen = new Set(Object.values(values[key]));
      if (seen.size > 1 || Object.keys(values[key]).length < alive.length) divergent.push(key);
    }
  return { ops, values, divergent };
}

function writtenValue(op: Op): string | undefined {
  if (op.outcome === 'fail' || op.type === 'read') return undefined;
  if (op.type === 'cas' && op.outcome === 'ok' && !op.succeeded) return undefined;
  return op.value;
}

/**
 * Acknowledged writes certainly missing from the final state: each began after every write of
 * the final value had completed, so it should have replaced it (unknown writers of the final
 * value could have landed later: then nothing is certain).
 */
export function findLostWrites(ops: readonly Op[], finalValues: Record<string, Record<string, string | null>>): Op[] {
  const lost: Op[] = [];
  for (const [key, byNode] of Object.entries(finalValues)) {
    const vals = Object.values(byNode);
    if (vals.length === 0) continue;
    const v = vals[0];
    const writersOfV = ops.filter((x) => x.key === key && v !== null && writtenValue(x) === v);
    for (const w of ops) {
      if (w.key !== key || w.outcome !== 'ok' || writtenValue(w) === undefined || writtenValue(w) === v) continue;
      if (writersOfV.every((x) => x.outcome === 'ok' && x.complete! < w.invoke)) lost.push(w);
    }
  }
  return lost;
}

function countAll(ops: readonly Op[], faults: readonly FaultRecord[]): ChaosCounts {
  const zero = (): OutcomeCounts => ({ ok: 0, fail: 0, unknown: 0 });
  const c: ChaosCounts = {
    ops: { read: zero(), write: zero(), cas: zero() },
    outcomes: zero(),
    casSwapped: 0,
    casCompareFailed: 0,
    finalReads: 0,
    faults: {},
  };
  for (const op of ops) {
    if (op.client === 'final') {
      c.finalReads++;
      continue;
    }
    c.ops[op.type][op.outcome]++;
    c.outcomes[op.outcome]++;
    if (op.type === 'cas' && op.outcome === 'ok') {
      if (op.succeeded) c.casSwapped++;
      else c.casCompareFailed++;
    }
  }
  for (const f of faults) c.faults[f.kind] = (c.faults[f.kind] ?? 0) + 1;
  return c;
}
