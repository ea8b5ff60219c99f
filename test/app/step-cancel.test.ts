// A long stepRunUntil (up to 100,000 steps) on a real cluster can be stopped: by stepCancel, by
// turning step mode off, by starting a new cluster. It then answers reached: false, cancelled,
// with the steps it really took, and the stepper goes on working.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Supervisor } from '../../src-main/cluster/supervisor.js';
import { agreedLeader } from '../../src-shared/cluster-state.js';
import type { StepRunResult } from '../../src-shared/command-results.js';
import { parseCommand } from '../../src-shared/commands.js';
import type { ServerEvent } from '../../src-shared/protocol.js';
import { until } from '../helpers/cluster.js';

let sup: Supervisor;
let events: ServerEvent[];

beforeEach(() => {
  sup = new Supervisor({ heartbeatMs: 50, electionMs: 500 });
  events = [];
  sup.on('events', (batch) => events.push(...batch));
});
afterEach(async () => {
  await sup.stop();
});

const delivered = () => events.filter((e) => e.type === 'step' && e.fate === 'delivered').length;

/** A run that cannot end by itself soon: a commit, with a steady leader and no writes. */
async function longRun(): Promise<{ result: Promise<StepRunResult>; startedAt: number }> {
  const before = delivered();
  const result = sup.execute(
    parseCommand({ type: 'stepRunUntil', until: 'commit', maxSteps: 100_000 }),
  ) as Promise<StepRunResult>;
  // Under way: it has delivered a few heartbeats (and their answers) by now.
  await until('the run to be stepping', () => delivered() >= before + 10, 20_000);
  return { result, startedAt: before };
}

describe('cancelling a step run', () => {
  it('stepCancel stops a 100,000-step run at its next step; step mode off and a new cluster stop one too', async () => {
    expect(parseCommand({ type: 'stepCancel' })).toEqual({ type: 'stepCancel' });
    // Nothing going: nothing happens (a click that races the run's end is not an error).
    await sup.start(3);
    await until('a leader', () => agreedLeader(sup.snapshot()), 15_000);
    await until(
      'every member published',
      () => {
        const l = agreedLeader(sup.snapshot());
        return (
          l &&
          sup
            .snapshot()
            .nodes.every(
              (n) => l.log.some((e) => e.data === `publish ${n.name}` && e.index <= l.commit) && n.commit === l.commit,
            )
        );
      },
      15_000,
    );
    await sup.execute({ type: 'stepMode', on: true, seed: 3 });
    expect(await sup.execute({ type: 'stepCancel' })).toBeUndefined();

    // 1. stepCancel.
    const a = await longRun();
    await sup.execute(parseCommand({ type: 'stepCancel' }));
    const ra = await a.result;
    expect(ra).toMatchObject({ reached: false, cancelled: true });
    expect(ra.steps).toBeGreaterThanOrEqual(10);
    expect(ra.steps).toBeLessThan(100_000);
    // Each step delivered one message or ticked every node: the deliveries are among the steps taken.
    expect(delivered() - a.startedAt).toBeLessThanOrEqual(ra.steps);
    // The stepper goes on: a tick, then a run that ends by itself.
    await sup.execute({ type: 'stepTick' });
    expect(await sup.execute({ type: 'stepRunUntil', until: 'commit', maxSteps: 5 })).toEqual({
      reached: false,
      steps: 5,
    });

    // 2. Step mode off: the run stops (it would otherwise hold the switch back), then real time.
    const b = await longRun();
    await sup.execute({ type: 'stepMode', on: false });
    expect(await b.result).toMatchObject({ reached: false, cancelled: true });
    expect(sup.snapshot().step).toMatchObject({ on: false, held: [] });
    const put = await sup.execute({
      type: 'kv',
      name: agreedLeader(sup.snapshot())!.name,
      method: 'PUT',
      key: '/after',
      value: 'real time',
    });
    expect(put).toMatchObject({ status: 201 });

    // 3. A new cluster: the run of the old one stops and does not step into the new one.
    await sup.execute({ type: 'stepMode', on: true, seed: 4 });
    const c = await longRun();
    await sup.execute({ type: 'startCluster', size: 3 });
    expect(await c.result).toMatchObject({ reached: false, cancelled: true });
    // The new cluster, in step mode, elects a leader only when stepped.
    const r = (await sup.execute({ type: 'stepRunUntil', until: 'leader' })) as StepRunResult;
    expect(r).toMatchObject({ reached: true });
  }, 120_000);
});
