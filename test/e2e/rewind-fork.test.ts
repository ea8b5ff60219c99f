// Rewind and fork the live session, in Debian's Chromium on a real cluster: drag the time
// slider back to the first election and every view shows that moment (leader, logs, timeline
// narration, node logs) while the cluster keeps running; "Live" returns to now; "Resume from
// here" forks the real nodes from a checkpoint, and the branch tree lists both branches.
// Screenshots: test-results/rewind-election.png, test-results/rewind-branch-tree.png.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import { readTraceFile } from '../../src-main/trace/trace-reader.js';
import { TraceIndex } from '../../src-shared/replay.js';
import type { BranchesResult, KvResult } from '../../src-shared/command-results.js';
import { dumpCluster } from '../helpers/cluster-dump.js';
import { firstElectionWon } from '../helpers/trace-records.js';
import { CHROMIUM, needTools, openWindow, SHOTS, type TestWindow } from '../helpers/window.js';

const haveChromium = needTools('the rewind and fork e2e test', [CHROMIUM]);

describe.skipIf(!haveChromium)('rewind and fork the live session in Chromium', () => {
  let w: TestWindow;
  let page: Page;

  beforeAll(async () => {
    w = await openWindow({ nodes: 3 });
    page = w.page;
  }, 120_000);

  afterAll(async () => {
    await w?.close();
  });

  // A rare failure in CI must explain itself: the cluster and its last log lines.
  afterEach(async (ctx) => {
    if (ctx.task.result?.errors?.length)
      console.log(
        await w.core.readTrace(0, 1).then(() => dumpCluster(w.supervisor, w.supervisor.dir + '/session.trace.jsonl')),
      );
  });

  const mode = () => page.locator('[data-replay]').getAttribute('data-mode');
  const leaderShown = () => page.locator('[data-node][data-role="leader"][data-status="alive"]');
  // Live, the slider ends at the window's `now` (moved every 250 ms): a moment later than that
  // would be clamped to it, so wait until the slider reaches `at`, and check the value took.
  const seek = async (at: number) => {
    const slider = page.locator('[data-slider]');
    await expect.poll(async () => Number(await slider.getAttribute('max'))).toBeGreaterThanOrEqual(at);
    const took = await slider.evaluate((el: HTMLInputElement, v: number) => {
      el.value = String(v);
      el.dispatchEvent(new Event('input', { bubbles: true }));
      return el.value;
    }, at);
    expect(took).toBe(String(at));
  };
  /** As the window gives it: recorded in the trace as the user's action. */
  let reqSeq = 0;
  const act = (cmd: Parameters<TestWindow['core']['handle']>[0]['cmd']) => w.core.handle({ id: `t${++reqSeq}`, cmd });
  const put = async (key: string, value: string) => {
    const leader = w.supervisor.snapshot().nodes.find((n) => n.status === 'alive' && n.role === 'leader')!.name;
    const r = (await w.supervisor.execute({ type: 'kv', name: leader, method: 'PUT', key, value })) as KvResult;
    expect(r.status).toBeLessThan(300);
  };

  it('drags back to the first election: its leader, logs, narration and node logs; "Live" returns to now', async () => {
    await expect.poll(() => leaderShown().count(), { timeout: 20_000 }).toBe(1);
    // Some history after the election: writes, then a kill, so "now" differs from then.
    for (let i = 0; i < 5; i++) await put(`/before${i}`, String(i));
    const first = (await leaderShown().getAttribute('data-node'))!;
    const victim = ['n1', 'n2', 'n3'].find((n) => n !== first)!;
    await act({ type: 'killNode', name: victim });
    await expect
      .poll(() => page.locator(`[data-node="${victim}"]`).getAttribute('data-status'), { timeout: 10_000 })
      .toBe('killed');
    await new Promise((r) => setTimeout(r, 1500)); // let the slider cover a stretch after the kill

    await w.core.readTrace(0, 1); // flushes the trace
    const trace = await readTraceFile(w.supervisor.dir + '/session.trace.jsonl');
    const won = firstElectionWon(trace.records);
    const wonNode = won.node;
    const wonTerm = won.term;

    // A real drag: grab the thumb at "now" (the right end) and pull it back to the election.
    expect(await mode()).toBe('live');
    const box = (await page.locator('[data-slider]').boundingBox())!;
    const y = box.y + box.height / 2;
    const startAt = trace.header.createdAt;
    const now = Date.now();
    const x = box.x + 8 + ((won.at + 200 - startAt) / (now - startAt)) * (box.width - 16);
    await page.mouse.move(box.x + box.width - 4, y);
    await page.mouse.down();
    for (let i = 1; i <= 10; i++)
      await page.mouse.move(box.x + box.width - 4 - (i / 10) * (box.x + box.width - 4 - x), y);
    await page.mouse.up();
    await expect.poll(mode, { timeout: 10_000 }).toBe('rewind');
    // Then exactly to a moment after the election was won and before anything the test did next
    // (the drag lands within a pixel's worth; a fast election can be followed within 300 ms).
    const nextAction = trace.records.find((r) => r.seq > won.seq && r.kind === 'action');
    const target = won.at + Math.min(300, nextAction ? Math.floor((nextAction.at - won.at) / 2) : 300);
    await seek(target);

    // Every view shows that moment: the leader of that term and every node alive again…
    await expect.poll(() => leaderShown().getAttribute('data-node'), { timeout: 5_000 }).toBe(wonNode);
    expect(await leaderShown().getAttribute('data-term')).toBe(String(wonTerm));
    expect(await page.locator(`[data-node="${victim}"]`).getAttribute('data-status')).toBe('alive');
    // …its log tables (that term's entries, none of the writes made later)…
    expect(await page.locator(`[data-log-row="${wonNode}"] [data-term="${wonTerm}"]`).count()).toBeGreaterThan(0);
    expect(await page.locator('[data-log-row]', { hasText: '/before4' }).count()).toBe(0);
    // …the timeline's narration, rebuilt for the seek…
    await expect
      .poll(() =>
        page.locator('.timeline li', { hasText: `${wonNode} won the election and leads term ${wonTerm}` }).count(),
      )
      .toBeGreaterThan(0);
    expect(await page.locator('.timeline li', { hasText: `You killed ${victim}` }).count()).toBe(0);
    // …and a replay cannot act.
    expect(await page.getByRole('button', { name: 'Isolate leader' }).isDisabled()).toBe(true);
    await page.screenshot({ path: `${SHOTS}/rewind-election.png` });
    await page.getByRole('button', { name: 'Node logs (etcd format)' }).click();
    await expect.poll(() => page.locator('.loglines', { hasText: `became leader at term ${wonTerm}` }).count()).toBe(1);
    await page.getByRole('button', { name: 'Timeline', exact: true }).click();

    // A seek later on rebuilds the timeline again (it is never left empty).
    const killAt = trace.records.find((r) => r.kind === 'action' && r.cmd.type === 'killNode')!.at;
    await seek(killAt + 500);
    await expect
      .poll(() => page.locator(`[data-node="${victim}"]`).getAttribute('data-status'), { timeout: 5_000 })
      .toBe('killed');
    await expect.poll(() => page.locator('.timeline li', { hasText: `You killed ${victim}` }).count()).toBe(1);
    expect(await page.locator('.timeline li', { hasText: 'won the election' }).count()).toBeGreaterThan(0);

    // "Live" returns to now: the real cluster kept running meanwhile.
    await page.locator('[data-live]').click();
    await expect.poll(mode).toBe('live');
    await expect.poll(() => page.locator(`[data-node="${victim}"]`).getAttribute('data-status')).toBe('killed');
    expect(await page.getByRole('button', { name: 'Isolate leader' }).isDisabled()).toBe(false);
    await act({ type: 'restartNode', name: victim });
    await expect
      .poll(() => page.locator(`[data-node="${victim}"]`).getAttribute('data-status'), { timeout: 20_000 })
      .toBe('alive');
  }, 120_000);

  it('forks from the window: resume from before a write and a kill, the real nodes go back, two branches listed', async () => {
    await expect.poll(() => leaderShown().count(), { timeout: 20_000 }).toBe(1);
    await put('/kept', 'yes');
    const t1 = Date.now();
    await put('/later', 'gone');
    const leader = (await leaderShown().getAttribute('data-node'))!;
    const victim = ['n1', 'n2', 'n3'].find((n) => n !== leader)!;
    await act({ type: 'killNode', name: victim });
    await expect
      .poll(() => page.locator(`[data-node="${victim}"]`).getAttribute('data-status'), { timeout: 10_000 })
      .toBe('killed');
    // The checkpoint taken just before the /later write: resume from just after it.
    const marks = ((await w.supervisor.execute({ type: 'branches' })) as BranchesResult).checkpoints;
    const cp = marks.find((m) => m.at >= t1)!;
    expect(cp).toBeDefined();

    await seek(cp.at + 1);
    await expect.poll(mode, { timeout: 10_000 }).toBe('rewind');
    // The view shows the victim as the trace recorded it then (running: alive, or still
    // starting if it had just been restarted), never killed: the kill came later.
    await w.core.readTrace(0, 1); // flushes the trace
    const then = new TraceIndex((await readTraceFile(w.supervisor.dir + '/session.trace.jsonl')).records).stateAt({
      at: cp.at + 1,
    });
    const recorded = then.cluster?.nodes.find((n) => n.name === victim)?.status;
    expect(['alive', 'starting']).toContain(recorded);
    await expect
      .poll(() => page.locator(`[data-node="${victim}"]`).getAttribute('data-status'), { timeout: 5_000 })
      .toBe(recorded);
    // The button says which checkpoint it restores: the one just before the /later write.
    const hh = (at: number) => new Date(at).toTimeString().slice(0, 8);
    // (The window loads the checkpoint list as it rewinds: it may come a moment after the view.)
    await expect
      .poll(() => page.locator('[data-resume-point]').textContent(), { timeout: 10_000 })
      .toContain(`restores ${hh(cp.at)}`);
    await page.locator('[data-resume]').click();
    // Live again, on the restored cluster: the killed node runs, the later write is gone.
    await expect.poll(mode, { timeout: 30_000 }).toBe('live');
    await expect
      .poll(() => page.locator(`[data-node="${victim}"]`).getAttribute('data-status'), { timeout: 20_000 })
      .toBe('alive');
    await expect.poll(() => leaderShown().count(), { timeout: 20_000 }).toBe(1);
    await expect.poll(() => page.locator('.timeline li', { hasText: 'Branch 2 begins' }).count()).toBe(1);
    const everyNode = (key: string) =>
      Promise.all(
        w.supervisor.snapshot().nodes.map((n) =>
          fetch(new URL(`/v2/keys${key}`, n.clientURL), { signal: AbortSignal.timeout(2000) }).then(
            (r) => `${n.name} ${r.status}`,
            (e: Error) => `${n.name} ${e.message}`,
          ),
        ),
      );
    await expect.poll(() => everyNode('/kept'), { timeout: 10_000 }).toEqual(['n1 200', 'n2 200', 'n3 200']);
    expect(await everyNode('/later')).toEqual(['n1 404', 'n2 404', 'n3 404']);
    await put('/branch2', 'yes');

    // The branch tree: branch 1 (ended) and branch 2 from it (running now).
    await page.locator('[data-branches-toggle]').click();
    await expect.poll(() => page.locator('[data-branch-tree] [data-branch]').count(), { timeout: 5_000 }).toBe(2);
    expect(await page.locator('[data-branch="2"]').textContent()).toContain('from branch 1');
    expect(await page.locator('[data-branch="2"]').textContent()).toContain('running now');
    await page.screenshot({ path: `${SHOTS}/rewind-branch-tree.png` });
    // Jump to branch 1's end: the window shows it as it was left (the victim killed, /later written).
    await page.locator('[data-branch="1"] [data-view-end]').click();
    await expect.poll(mode, { timeout: 10_000 }).toBe('rewind');
    await expect
      .poll(() => page.locator(`[data-node="${victim}"]`).getAttribute('data-status'), { timeout: 5_000 })
      .toBe('killed');
    await expect.poll(() => page.locator('[data-replay-time]').textContent()).toContain('branch 1');
    await page.locator('[data-live]').click();
    await expect.poll(mode).toBe('live');
    expect(w.pageErrors).toEqual([]);
  }, 120_000);
});
