// Scenarios: a small file format for reproducible demos and bug reports. A scenario is a list
// of timed actions on a cluster ("kill the leader at 2 s, skew n3 by +3 s, put x=1, split the
// cluster..."). `raftlab run scenario.json --trace out.jsonl` plays one headless; the window
// plays one live. Both turn each step into protocol Commands with `commandsFor`, against the
// cluster as it is at that moment (so "leader" means whoever leads then). Browser-safe.
//
// {
//   "scenario": "raftlab-scenario", "version": 1, "name": "leader loses its quorum",
//   "nodes": 5, "end": "12s",
//   "steps": [
//     { "at": "1s", "put": { "key": "/x", "value": "1" } },
//     { "at": "2s", "partition": [["leader", "n1"], ["rest"]] },
//     { "at": "6s", "heal": "all" },
//     { "at": "8s", "kill": "leader" },
//     { "at": "9s", "skew": { "node": "n3", "offset": "+3s", "rate": 2 } },
//     { "at": "10s", "restart": "all" }
//   ]
// }

import { describeCommand } from './narrate.js';
import { agreedLeader, type ClusterState, type NodeState } from './cluster-state.js';
import type { Command } from './commands.js';

export const SCENARIO_FORMAT = 'raftlab-scenario';
export const SCENARIO_VERSION = 1;

/** A node by name, or "leader" (whoever leads when the step runs). */
export type NodeRef = string;

export type ScenarioAction =
  | { put: { key: string; value: string; node?: NodeRef } }
  | { delete: { key: string; node?: NodeRef } }
  | { kill: NodeRef }
  /** A node, or "all" for every killed node. */
  | { restart: NodeRef }
  /** offset in ms (the file may say "+3s"). */
  | { skew: { node: NodeRef; offset?: number; rate?: number } }
  | { cut: [NodeRef, NodeRef] }
  /** A link, or "all". */
  | { heal: [NodeRef, NodeRef] | 'all' }
  /** Groups of nodes; every link between groups is cut. "rest" names every node not listed. */
  | { partition: NodeRef[][] }
  | { isolate: NodeRef }
  | { add: true | { start: boolean } }
  | { remove: NodeRef }
  | { transfer: NodeRef };

export type ScenarioStep = { at: number } & ScenarioAction;

export interface Scenario {
  name: string;
  nodes: number;
  /** When the run ends, ms after the start (default: 2 s after the last step). */
  end: number;
  steps: ScenarioStep[];
}

export class ScenarioError extends Error {}

const ACTIONS = [
  'put',
  'delete',
  'kill',
  'restart',
  'skew',
  'cut',
  'heal',
  'partition',
  'isolate',
  'add',
  'remove',
  'transfer',
] as const;

/** "2s", "1.5s", "250ms", "+3s", "-1s" or a number of ms. */
export function parseDuration(v: unknown, what: string): number {
  if (typeof v === 'number' && Number.isFinite(v)) return v;
  if (typeof v === 'string') {
    const m = /^([+-]?\d+(?:\.\d+)?)\s*(ms|s|m)?$/.exec(v.trim());
    if (m) return Number(m[1]) * (m[2] === 's' ? 1000 : m[2] === 'm' ? 60_000 : 1);
  }
  throw new ScenarioError(`${what}: ${JSON.stringify(v)} is not a duration like "2s" or "250ms"`);
}

/** Checks a scenario (parsed JSON) and returns it normalized (times in ms, steps in time order). */
export function parseScenario(raw: unknown): Scenario {
  const o = raw as Record<string, unknown>;
  if (typeof o !== 'object' || o === null || o.scenario !== SCENARIO_FORMAT) {
    throw new ScenarioError(
      `not a raftlab scenario: the file must be a JSON object with "scenario": "${SCENARIO_FORMAT}"`,
    );
  }
  if (o.version !== SCENARIO_VERSION) {
    throw new ScenarioError(
      `scenario version ${JSON.stringify(o.version)} is not one this raftlab reads (${SCENARIO_VERSION})`,
    );
  }
  const nodes = o.nodes ?? 3;
  if (typeof nodes !== 'number' || !Number.isInteger(nodes) || nodes < 1 || nodes > 7)
    throw new ScenarioError('"nodes" must be 1..7');
  if (!Array.isArray(o.steps)) throw new ScenarioError('"steps" must be a list');
  const steps = o.steps.map((s, i) => parseStep(s, `step ${i + 1}`));
  steps.sort((a, b) => a.at - b.at); // stable: steps at the same time keep their order
  const last = steps.at(-1)?.at ?? 0;
  const end = o.end === undefined ? last + 2000 : parseDuration(o.end, '"end"');
  if (end < last) throw new ScenarioError(`"end" (${end} ms) comes before the last step (${last} ms)`);
  return { name: typeof o.name === 'string' ? o.name : 'scenario', nodes, end, steps };
}

function parseStep(raw: unknown, where: string): ScenarioStep {
  const s = raw as Record<string, unknown>;
  if (typeof s !== 'object' || s === null) throw new ScenarioError(`${where}: must be an object`);
  const at = parseDuration(s.at ?? 0, `${where} "at"`);
  if (at < 0) throw new ScenarioError(`${where}: "at" must not be negative`);
  const keys = Object.keys(s).filter((k) => k !== 'at');
  const [k] = keys;
  if (keys.length !== 1 || k === undefined || !(ACTIONS as readonly string[]).includes(k)) {
    throw new ScenarioError(
      `${where}: needs exactly one action of ${ACTIONS.join(', ')} (got ${keys.join(', ') || 'none'})`,
    );
  }
  const v = s[k];
  const ref = (x: unknown, what = k): NodeRef => {
    if (typeof x !== 'string' || x === '') throw new ScenarioError(`${where}: "${what}" must name a node or "leader"`);
    return x;
  };
  switch (k) {
    case 'put':
    case 'delete': {
      const p = v as Record<string, unknown>;
      if (typeof p !== 'object' || p === null || typeof p.key !== 'string' || !p.key.startsWith('/'))
        throw new ScenarioError(`${where}: "${k}" needs a "key" starting with "/"`);
      if (k === 'put' && typeof p.value !== 'string') throw new ScenarioError(`${where}: "put" needs a string "value"`);
      const node = p.node === undefined ? undefined : ref(p.node, 'node');
      return k === 'put'
        ? { at, put: { key: p.key, value: p.value as string, ...(node ? { node } : {}) } }
        : { at, delete: { key: p.key, ...(node ? { node } : {}) } };
    }
    case 'kill':
      return { at, kill: ref(v) };
    case 'restart':
      return { at, restart: ref(v) };
    case 'isolate':
      return { at, isolate: ref(v) };
    case 'remove':
      return { at, remove: ref(v) };
    case 'transfer':
      return { at, transfer: ref(v) };
    case 'skew': {
      const p = v as Record<string, unknown>;
      if (typeof p !== 'object' || p === null)
        throw new ScenarioError(`${where}: "skew" needs { node, offset?, rate? }`);
      const out: { node: NodeRef; offset?: number; rate?: number } = { node: ref(p.node, 'node') };
      if (p.offset !== undefined) out.offset = parseDuration(p.offset, `${where} "offset"`);
      if (p.rate !== undefined) {
        if (typeof p.rate !== 'number') throw new ScenarioError(`${where}: "rate" must be a number`);
        out.rate = p.rate;
      }
      return { at, skew: out };
    }
    case 'cut':
      if (!Array.isArray(v) || v.length !== 2) throw new ScenarioError(`${where}: "cut" needs two nodes`);
      return { at, cut: [ref(v[0]), ref(v[1])] };
    case 'heal':
      if (v === 'all') return { at, heal: 'all' };
      if (!Array.isArray(v) || v.length !== 2) throw new ScenarioError(`${where}: "heal" needs two nodes or "all"`);
      return { at, heal: [ref(v[0]), ref(v[1])] };
    case 'partition':
      if (!Array.isArray(v) || v.length < 2 || v.some((g) => !Array.isArray(g) || g.length === 0)) {
        throw new ScenarioError(`${where}: "partition" needs two or more groups of nodes`);
      }
      return { at, partition: v.map((g: unknown[]) => g.map((x) => ref(x))) };
    case 'add':
      if (v === true) return { at, add: true };
      if (typeof v === 'object' && v !== null && typeof (v as { start?: unknown }).start === 'boolean')
        return { at, add: { start: (v as { start: boolean }).start } };
      throw new ScenarioError(`${where}: "add" is true or { "start": false }`);
  }
  throw new ScenarioError(`${where}: unknown action ${k}`);
}

/** The commands a step means, against the cluster as it is now. Throws if a node can't be found. */
export function commandsFor(step: ScenarioStep, cluster: ClusterState): Command[] {
  const members = cluster.nodes.filter((n) => n.status !== 'removed');
  const leader = (): NodeState => {
    const l = agreedLeader(cluster) ?? cluster.nodes.find((n) => n.status === 'alive' && n.role === 'leader');
    if (!l) throw new ScenarioError('there is no leader right now');
    return l;
  };
  const name = (r: NodeRef): string => {
    if (r === 'leader') return leader().name;
    if (!cluster.nodes.some((n) => n.name === r)) throw new ScenarioError(`no node named ${r}`);
    return r;
  };
  const anyAlive = () => {
    const n = cluster.nodes.find((x) => x.status === 'alive');
    if (!n) throw new ScenarioError('no node is running');
    return n.name;
  };
  /** The node a write goes to: the one named, else the leader all agree on, else any running one. */
  const writer = (node: NodeRef | undefined) => (node ? name(node) : (agreedLeader(cluster)?.name ?? anyAlive()));
  if ('put' in step)
    return [
      {
        type: 'kv',
        name: writer(step.put.node),
        method: 'PUT',
        key: step.put.key,
        value: step.put.value,
      },
    ];
  if ('delete' in step)
    return [
      {
        type: 'kv',
        name: writer(step.delete.node),
        method: 'DELETE',
        key: step.delete.key,
      },
    ];
  if ('kill' in step) return [{ type: 'killNode', name: name(step.kill) }];
  if ('restart' in step) {
    if (step.restart === 'all')
      return cluster.nodes.filter((n) => n.status === 'killed').map((n) => ({ type: 'restartNode', name: n.name }));
    return [{ type: 'restartNode', name: name(step.restart) }];
  }
  if ('skew' in step) {
    const c: Command = { type: 'setClock', name: name(step.skew.node) };
    if (step.skew.offset !== undefined) c.offsetMs = step.skew.offset;
    if (step.skew.rate !== undefined) c.rate = step.skew.rate;
    return [c];
  }
  if ('cut' in step) return [{ type: 'cutLink', a: name(step.cut[0]), b: name(step.cut[1]) }];
  if ('heal' in step)
    return step.heal === 'all'
      ? [{ type: 'healAll' }]
      : [{ type: 'healLink', a: name(step.heal[0]), b: name(step.heal[1]) }];
  if ('isolate' in step) {
    const x = name(step.isolate);
    return members.filter((n) => n.name !== x).map((n) => ({ type: 'cutLink', a: x, b: n.name }));
  }
  if ('partition' in step) {
    const listed = new Set<string>();
    const groups = step.partition.map((g) => g.filter((r) => r !== 'rest').map((r) => name(r)));
    for (const g of groups) for (const n of g) listed.add(n);
    step.partition.forEach((g, i) => {
      if (g.includes('rest')) groups[i]!.push(...members.map((n) => n.name).filter((n) => !listed.has(n)));
    });
    const out: Command[] = [];
    groups.forEach((gi, i) => {
      for (const gj of groups.slice(i + 1)) {
        for (const a of gi) for (const b of gj) if (a !== b) out.push({ type: 'cutLink', a, b });
      }
    });
    return out;
  }
  if ('add' in step)
    return [step.add === true || step.add.start ? { type: 'addMember' } : { type: 'addMember', start: false }];
  if ('remove' in step) return [{ type: 'removeMember', name: name(step.remove) }];
  if ('transfer' in step) return [{ type: 'transferLeader', to: name(step.transfer) }];
  return [];
}

/** Where a scenario plays: `raftlab run` (headless) and the window each give one. */
export interface ScenarioTarget {
  /** Runs one command; resolves ok or with the error it was refused with. */
  run(cmd: Command): Promise<{ ok: boolean; error?: string }>;
  /** The cluster as it is now. */
  cluster(): ClusterState | null;
  /** One line per step and outcome. */
  log(line: string, ok: boolean): void;
  /** Asked between steps: true ends the play early. */
  stopped?(): boolean;
}

/**
 * Plays a scenario: a fresh cluster of its size, time 0 when it first has a leader (so times
 * are relative to a working cluster, whatever the machine's speed), then each step's commands
 * at its time, resolved against the cluster as it is then, all of a step's at once (a partition
 * is all its cuts). Returns the lines of the steps that failed or could not run.
 */
export async function playScenario(scenario: Scenario, target: ScenarioTarget): Promise<string[]> {
  const errors: string[] = [];
  const t = (ms: number) => `${(ms / 1000).toFixed(3).padStart(8)}s`;
  const start = await target.run({ type: 'startCluster', size: scenario.nodes });
  if (!start.ok) throw new ScenarioError(`the cluster did not start: ${start.error}`);
  const deadline = Date.now() + 20_000;
  let c = target.cluster();
  while (!(c && c.nodes.length === scenario.nodes && agreedLeader(c))) {
    if (Date.now() > deadline) throw new ScenarioError('no leader within 20 s of starting');
    if (target.stopped?.()) return errors;
    await sleep(20);
    c = target.cluster();
  }
  const t0 = Date.now();
  const leader = agreedLeader(c)!;
  target.log(`${t(0)}  ${scenario.nodes} nodes, ${leader.name} leads term ${leader.term}`, true);
  for (const step of scenario.steps) {
    await sleep(t0 + step.at - Date.now());
    if (target.stopped?.()) return errors;
    let cmds: Command[];
    try {
      cmds = commandsFor(step, target.cluster()!);
    } catch (err) {
      const line = `${t(step.at)}  ${Object.keys(step).find((k) => k !== 'at')}: ${(err as Error).message} (skipped)`;
      errors.push(line);
      target.log(line, false);
      continue;
    }
    const results = await Promise.all(cmds.map((cmd) => target.run(cmd)));
    cmds.forEach((cmd, i) => {
      const r = results[i]!; // a result per command
      const line = `${t(step.at)}  ${describeCommand(cmd).replace(/^You /, '')}: ${r.ok ? 'ok' : r.error}`;
      if (!r.ok) errors.push(line);
      target.log(line, r.ok);
    });
  }
  await sleep(t0 + scenario.end - Date.now());
  const end = target.cluster();
  const l = end && agreedLeader(end);
  target.log(
    `${t(Date.now() - t0)}  end: ${l ? `${l.name} leads term ${l.term}` : 'no agreed leader'}; ${(end?.nodes ?? []).map((n) => `${n.name} ${n.status}`).join(', ')}`,
    true,
  );
  return errors;
}

function sleep(ms: number): Promise<void> {
  return ms > 0 ? new Promise((r) => setTimeout(r, ms)) : Promise.resolve();
}
