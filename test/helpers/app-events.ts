// The app's core as the window sees it: a Supervisor (worker threads, real ports) or a WindowCore,
// with every event it sends recorded, and each cluster state in the order it came.
import { Supervisor, type SupervisorOptions } from '../../src-main/cluster/supervisor.js';
import { agreedLeader, type ClusterState, type NodeState } from '../../src-shared/cluster-state.js';
import type { ServerEvent } from '../../src-shared/protocol.js';
import { until } from './cluster.js';

export interface Recorded {
  events: ServerEvent[];
  states: ClusterState[];
}

/** Records what `source` tells the window from now on. */
export function recordEvents(source: {
  on(event: 'events', listener: (batch: ServerEvent[]) => void): unknown;
}): Recorded {
  const rec: Recorded = { events: [], states: [] };
  source.on('events', (batch) => {
    rec.events.push(...batch);
    for (const e of batch) if (e.type === 'cluster') rec.states.push(e.cluster);
  });
  return rec;
}

/** Raft timers twice as quick as etcd's defaults (100 ms, 1 s): elections settle fast in tests. */
export const QUICK_TIMERS: SupervisorOptions = { heartbeatMs: 50, electionMs: 500 };

/** A supervisor with short Raft timers (unless given others), recorded; the test starts and stops it. */
export function recordedSupervisor(opts: SupervisorOptions = QUICK_TIMERS): Recorded & { sup: Supervisor } {
  const sup = new Supervisor(opts);
  return { sup, ...recordEvents(sup) };
}

/** The last cluster state the window was sent; fails the test if none came yet. */
export function lastState(states: ClusterState[]): ClusterState {
  const s = states.at(-1);
  if (!s) throw new Error('expected a cluster state: none was sent yet');
  return s;
}

/** A node as the last cluster state draws it; fails the test if that state has no such node. */
export function nodeIn(states: ClusterState[], name: string): NodeState {
  const n = lastState(states).nodes.find((x) => x.name === name);
  if (!n) throw new Error(`expected node ${name} in the cluster state`);
  return n;
}

/** Waits until the last cluster state sent has a leader every member agrees on (none sent yet: waits); fails past `timeoutMs`. */
export function untilAgreedLeader(states: ClusterState[], timeoutMs = 10_000): Promise<NodeState> {
  return until('an agreed leader', () => states.length > 0 && agreedLeader(lastState(states)), timeoutMs);
}
