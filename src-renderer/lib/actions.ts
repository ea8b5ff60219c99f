// The window's actions on the real cluster, shared by the buttons and the keyboard shortcuts.
// Each one is a protocol.ts command (or a few); what changes on screen is what the nodes then do.

import { agreedLeader, type NodeState } from '../../src-shared/cluster-state.js';
import { SPEEDS, type Command } from '../../src-shared/commands.js';
import type { Session } from './session.svelte.js';

function report(session: Session, p: Promise<unknown>): void {
  p.catch((err: unknown) => session.note('warning', '', err instanceof Error ? err.message : String(err), 'major'));
}

export function leaderOf(session: Session): NodeState | undefined {
  const c = session.cluster;
  if (!c) return undefined;
  return agreedLeader(c) ?? c.nodes.find((n) => n.status === 'alive' && n.role === 'leader');
}

export function killOrRestart(session: Session, n: NodeState): void {
  if (n.status === 'alive' || n.status === 'starting')
    report(session, session.send({ type: 'killNode', name: n.name }));
  else if (n.status === 'killed' || n.status === 'unstarted')
    report(session, session.send({ type: 'restartNode', name: n.name }));
}

export function restartAll(session: Session): void {
  for (const n of session.cluster?.nodes ?? []) if (n.status === 'killed') killOrRestart(session, n);
}

/** Cuts every link between group `a` and the other members. */
function partition(session: Session, a: string[]): void {
  const members = (session.cluster?.nodes ?? []).filter((n) => n.status !== 'removed').map((n) => n.name);
  const b = members.filter((m) => !a.includes(m));
  for (const x of a) for (const y of b) report(session, session.send({ type: 'cutLink', a: x, b: y }));
}

export function isolateLeader(session: Session): void {
  const l = leaderOf(session);
  if (!l) return session.note('warning', '', 'There is no leader to isolate right now', 'major');
  partition(session, [l.name]);
}

/** The leader and the fewest others on one side, the majority on the other (2|3 for five). */
export function splitCluster(session: Session): void {
  const members = (session.cluster?.nodes ?? []).filter((n) => n.status !== 'removed');
  if (members.length < 2) return session.note('warning', '', 'A split needs at least two members', 'major');
  const l = leaderOf(session);
  const order = [...members].sort((x, y) => (x === l ? -1 : y === l ? 1 : x.name.localeCompare(y.name)));
  partition(
    session,
    order.slice(0, Math.floor(members.length / 2)).map((n) => n.name),
  );
}

export function healAll(session: Session): void {
  report(session, session.send({ type: 'healAll' }));
}

export function toggleLink(session: Session, a: string, b: string, cut: boolean): void {
  report(session, session.send({ type: cut ? 'healLink' : 'cutLink', a, b }));
}

/** `learner`: etcdctl member add --learner. */
export function addMember(session: Session, start = true, learner = false): void {
  report(
    session,
    session.send({ type: 'addMember', ...(start ? {} : { start: false }), ...(learner ? { learner: true } : {}) }),
  );
}

export function promoteMember(session: Session, name: string): void {
  report(session, session.send({ type: 'promoteMember', name }));
}

export function removeMember(session: Session, name: string): void {
  report(session, session.send({ type: 'removeMember', name }));
}

export function transferTo(session: Session, name: string): void {
  report(session, session.send({ type: 'transferLeader', to: name }));
}

export function setClock(session: Session, name: string, clock: { offsetMs?: number; rate?: number }): void {
  report(session, session.send({ type: 'setClock', name, ...clock }));
}

/** Slow motion for the whole cluster (its clocks and its network), or real time at 1. */
export function setSpeed(session: Session, speed: number): void {
  report(session, session.send({ type: 'setSpeed', speed }));
}

/** One step along SPEEDS: faster (+1) or slower (−1). */
export function nudgeSpeed(session: Session, dir: 1 | -1): void {
  const i = SPEEDS.findIndex((s) => Math.abs(s - session.speed) < 1e-9);
  const next = SPEEDS[Math.min(SPEEDS.length - 1, Math.max(0, (i < 0 ? 0 : i) - dir))]!; // clamped into the table
  if (next !== session.speed) setSpeed(session, next);
}

/** A fresh cluster, bootstrapped one of etcd's three ways (static unless `how` says otherwise). */
export function newCluster(
  session: Session,
  size: number,
  how: Omit<Extract<Command, { type: 'startCluster' }>, 'type' | 'size'> = {},
): void {
  report(session, session.send({ type: 'startCluster', size, ...how }));
}

/** Start a member left unstarted by a one-at-a-time bootstrap (it answers once the cluster formed). */
export function startNext(session: Session, name: string): void {
  report(session, session.send({ type: 'restartNode', name }));
}

/** One more member with the same bootstrap flags: beyond the discovery size, or not in the records. */
export function bootstrapExtra(session: Session, fallback: 'exit' | 'proxy'): void {
  report(session, session.send({ type: 'bootstrapExtra', fallback }));
}

let demoSeq = 0;
/** A write through the leader (or any live node), to watch it replicate and commit. */
export function demoWrite(session: Session): void {
  const n = leaderOf(session) ?? session.cluster?.nodes.find((x) => x.status === 'alive');
  if (!n) return session.note('warning', '', 'No node is running to take the write', 'major');
  demoSeq++;
  report(
    session,
    session.send({ type: 'kv', name: n.name, method: 'PUT', key: `/demo/k${demoSeq}`, value: `v${demoSeq}` }),
  );
}
