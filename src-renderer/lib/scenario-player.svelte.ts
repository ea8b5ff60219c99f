// Plays a scenario file in the window, live, with the same playScenario as `raftlab run`:
// everything shows as if the user had clicked it, and is recorded in the session trace.

import { parseScenario, playScenario, type Scenario } from '../../src-shared/scenario.js';
import type { Session } from './session.svelte.js';

export class ScenarioPlayer {
  /** The last line played while playing; '' when done or stopped. */
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
    s.note(
      'action',
      '',
      `Scenario "${sc.name}": a fresh ${sc.nodes}-node cluster, then ${sc.steps.length} steps over ${(sc.end / 1000).toFixed(1)} s`,
      'major',
    );
    this.progress = 'starting the cluster';
    await playScenario(sc, {
      run: (cmd) =>
        s.send(cmd).then(
          () => ({ ok: true }),
          (err: unknown) => ({ ok: false, error: err instanceof Error ? err.message : String(err) }),
        ),
      cluster: () => s.cluster,
      log: (line, ok) => {
        this.progress = line.trim();
        if (!ok) s.note('warning', '', `Scenario: ${line.trim()}`, 'major');
      },
      stopped: () => this.stopped,
    });
    if (!this.stopped) s.note('action', '', `Scenario "${sc.name}" finished`, 'major');
    this.progress = '';
  }
}
