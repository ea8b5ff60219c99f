// Plays a scenario file in the window, live: a fresh cluster of the scenario's size, then each
// step's commands at its time, resolved against the cluster as it is then (commandsFor, the
// same as `raftlab run`). Everything shows as if the user had clicked it, and is recorded.

import { agreedLeader } from '../../src-shared/protocol.js';
import { commandsFor, parseScenario, type Scenario } from '../../src-shared/scenario.js';
import type { Session } from './session.svelte.js';

export class ScenarioPlayer {
  /** "step 3 of 7" while playing; '' when done or stopped. */
  progress = $state('');
  private stopped = false;

  constructor(
    private readonly session: Session,
    readonly scenario: Scenario,
  ) {}

  static async open(session: Session, file: File): Promise<ScenarioPlayer> {
    return new ScenarioPlayer(session, parseScenario(JSON.parse(await file.text())));
  }

  stop(): void {
    this.stopped = true;
    this.progress = '';
  }

  async play(): Promise<void> {
    const s = this.session;
    const sc = this.scenario;
    s.note('action', '', `Scenario "${sc.name}": a fresh ${sc.nodes}-node cluster, then ${sc.steps.length} steps over ${(sc.end / 1000).toFixed(1)} s`, 'major');
    this.progress = 'starting the cluster';
    await s.send({ type: 'startCluster', size: sc.nodes });
    const deadline = Date.now() + 20_000;
    while (!(s.cluster && agreedLeader(s.cluster)) && !this.stopped) {
      if (Date.now() > deadline) throw new Error('the scenario\'s cluster elected no leader within 20 s');
      await sleep(50);
    }
    const t0 = Date.now();
    for (const [i, step] of sc.steps.entries()) {
      await sleep(t0 + step.at - Date.now());
      if (this.stopped) return;
      this.progress = `step ${i + 1} of ${sc.steps.length}`;
      try {
        await Promise.all(commandsFor(step, s.cluster!).map((c) => s.send(c)));
      } catch (err) {
        s.note('warning', '', `Scenario step ${i + 1}: ${err instanceof Error ? err.message : String(err)}`, 'major');
      }
    }
    await sleep(t0 + sc.end - Date.now());
    if (!this.stopped) s.note('action', '', `Scenario "${sc.name}" finished`, 'major');
    this.progress = '';
  }
}

function sleep(ms: number): Promise<void> {
  return ms > 0 ? new Promise((r) => setTimeout(r, ms)) : Promise.resolve();
}
