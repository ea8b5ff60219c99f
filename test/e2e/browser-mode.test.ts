// Browser mode end to end: a real cluster in worker threads, the Svelte window in Debian's
// Chromium (driven by playwright-core; never a downloaded browser). Every step acts through
// the page and waits for what the real nodes then do. Screenshots go to test-results/.
import fs from 'node:fs';
import path from 'node:path';
import { readTraceFile } from '../../src-main/trace/trace-reader.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import type { Supervisor } from '../../src-main/cluster/supervisor.js';
import type { WebServer } from '../../src-main/web/web-server.js';
import { defined, nth } from '../helpers/checked.js';
import { firstElectionWon } from '../helpers/trace-records.js';
import { CHROMIUM, needTools, openWindow, SHOTS, type TestWindow } from '../helpers/window.js';
import { windowScenarios } from './window-scenarios.js';

const haveChromium = needTools('the browser-mode e2e test', [CHROMIUM]);

describe.skipIf(!haveChromium)('browser mode in Chromium', () => {
  let w: TestWindow;
  let supervisor: Supervisor;
  let web: WebServer;
  let page: Page;
  let pageErrors: string[];

  beforeAll(async () => {
    w = await openWindow({ nodes: 3 });
    ({ supervisor, web, page, pageErrors } = w);
  }, 120_000);

  afterAll(async () => {
    await w?.close();
  });

  describe('the window on a live cluster', () => {
    windowScenarios({ page: () => page, shots: `${SHOTS}/window` });
  });

  it('steps through a whole election by clicking the guide, with a sentence for each step', async () => {
    const before = (await page
      .locator('[data-node][data-status="alive"][data-role="leader"]')
      .getAttribute('data-node'))!;
    await page.getByRole('button', { name: 'Guide: an election' }).click();
    const titles = await followGuide(/ leads term \d+$/, 40, { at: 5, path: `${SHOTS}/window-step-guide.png` });
    // The phases of an election, in order, each from the real cluster.
    expect(titles[0]).toBe('Freeze time');
    expect(titles[1]).toBe(`Stop the leader, ${before}`);
    expect(titles.some((t) => /^Deliver n\d's (pre-vote|vote) requests$/.test(t))).toBe(true);
    expect(titles.some((t) => /^Deliver the vote answers$/.test(t))).toBe(true);
    expect(titles.some((t) => /first (append|heartbeat)$/.test(t))).toBe(true);
    const winner = /^(n\d) leads term \d+$/.exec(titles.at(-1)!)?.[1];
    expect(winner).toBeDefined();
    expect(winner).not.toBe(before);
    // Each click says what the real events were; the election's end is in the timeline.
    expect(await page.locator('[data-guide] .happened li').count()).toBeGreaterThan(0);
    await expect
      .poll(() => page.locator('.timeline li', { hasText: `${winner} won the election and leads term` }).count())
      .toBeGreaterThan(0);
    expect(await page.locator('[data-step-on]').count()).toBe(1);
    await page.screenshot({ path: `${SHOTS}/window-step-elected.png` });
    await page.getByRole('button', { name: 'Turn off' }).click();
    await expect.poll(() => page.locator('[data-step-on]').count(), { timeout: 10_000 }).toBe(0);
    await page.getByRole('button', { name: 'Close the guide' }).click();
    // Real time again: the killed leader comes back and follows.
    await page.locator('[data-node="' + before + '"]').click();
    await page.locator(`[data-panel="${before}"]`).getByRole('button', { name: 'Start' }).click();
    await expect
      .poll(() => page.locator(`[data-node="${before}"]`).getAttribute('data-role'), { timeout: 20_000 })
      .toBe('follower');
  });

  /** Clicks the open guide's "Do it" until its title says it is done; returns every title seen. */
  async function followGuide(done: RegExp, maxClicks = 60, shot?: { at: number; path: string }): Promise<string[]> {
    const titles: string[] = [];
    const title = async () => (await page.locator('[data-guide-title]').textContent())!;
    const next = page.locator('[data-guide-next]');
    for (let i = 0; i < maxClicks; i++) {
      // A phase either offers "Do it" or is the end; some phases only wait for the cluster.
      await expect
        .poll(async () => done.test(await title()) || ((await next.count()) > 0 && (await next.isEnabled())), {
          timeout: 15_000,
        })
        .toBe(true);
      const t = await title();
      titles.push(t);
      if (done.test(t)) return titles;
      if (shot?.at === i) await page.screenshot({ path: shot.path });
      await next.click();
    }
    throw new Error(`the guide did not finish in ${maxClicks} clicks: ${titles.join(' | ')}`);
  }

  it('guides log replication and a membership change, step by step', async () => {
    await page.getByRole('button', { name: 'Guide: log replication' }).click();
    const rep = await followGuide(/^Entry \d+ is committed everywhere$/);
    expect(rep[0]).toBe('Freeze time');
    expect(rep).toContain('Deliver the append to the followers');
    expect(rep).toContain('Deliver the acknowledgements');
    const entry = Number(/^Entry (\d+)/.exec(rep.at(-1)!)![1]);
    for (const n of ['n1', 'n2', 'n3'])
      expect(await page.locator(`[data-cell="${n}:${entry}"]`).getAttribute('data-committed')).toBe('true');
    await page.screenshot({ path: `${SHOTS}/window-step-replication.png` });
    await page.getByRole('button', { name: 'Guide: a membership change' }).click();
    const mem = await followGuide(/ is a member and has caught up$/, 120);
    expect(mem).toContain('Add a member (etcdctl member add)');
    const added = /^(n\d) is a member/.exec(mem.at(-1)!)![1];
    expect(await page.locator(`[data-node="${added}"]`).getAttribute('data-status')).toBe('alive');
    await page.screenshot({ path: `${SHOTS}/window-step-membership.png` });
    await page.getByRole('button', { name: 'Close the guide' }).click();
    await page.getByRole('button', { name: 'Turn off' }).click();
    await expect.poll(() => page.locator('[data-step-on]').count(), { timeout: 10_000 }).toBe(0);
  });

  it('exports the session, opens it again and scrubs the replay to the first election', async () => {
    const [download] = await Promise.all([
      page.waitForEvent('download'),
      page.locator('[data-export="jsonl"]').click(),
    ]);
    const file = path.join(supervisor.dir, 'downloaded.jsonl');
    await download.saveAs(file);
    const trace = await readTraceFile(file);
    expect(trace.header.format).toBe('raftlab-trace');
    // Everything the user did above is in it, and the elections the nodes held.
    expect(trace.records.some((r) => r.kind === 'action' && r.cmd.type === 'killNode')).toBe(true);
    // While a clock was skewed by +3 s, records carry that node's own clock.
    const skewed = trace.records.filter(
      (r) => r.clocks && Object.values(r.clocks).some((c) => c - r.at > 2500 && c - r.at < 3500),
    );
    expect(skewed.length).toBeGreaterThan(0);
    expect(Object.keys(defined(nth(skewed, 0).clocks, 'the clocks of a skewed record'))).toEqual([
      expect.stringMatching(/^n\d$/),
    ]);
    const won = firstElectionWon(trace.records);
    // The Perfetto export parses as Chrome's trace format.
    const chrome = (await (await fetch(new URL(`/export/session.chrome.json?token=${web.token}`, web.url))).json()) as {
      traceEvents: { ph: string; name: string }[];
    };
    expect(chrome.traceEvents.some((e) => e.ph === 'X' && /^leader term \d+$/.test(e.name))).toBe(true);
    expect((await fetch(new URL('/export/session.jsonl?token=wrong', web.url))).status).toBe(403);

    await page.getByLabel('Trace file to replay').setInputFiles(file);
    await page.locator('[data-replay][data-mode="file"]').waitFor({ timeout: 20_000 });
    const scrub = (at: number) =>
      page.getByLabel('Session time').evaluate((el: HTMLInputElement, v: number) => {
        el.value = String(v);
        el.dispatchEvent(new Event('input', { bubbles: true }));
      }, at);
    // Before the first election: no leader; just after it: the leader that won, in the views.
    await scrub(won.at - 300);
    expect(await page.locator('[data-node][data-role="leader"][data-status="alive"]').count()).toBe(0);
    await scrub(won.at + 50);
    await expect
      .poll(() => page.locator('[data-node][data-role="leader"][data-status="alive"]').getAttribute('data-node'), {
        timeout: 5_000,
      })
      .toBe(won.node);
    await expect.poll(() => page.locator('.timeline li', { hasText: 'won the election' }).count()).toBeGreaterThan(0);
    // The election stepped through by hand is in the trace too: scrub to its end.
    const stepOn = trace.records.find((r) => r.kind === 'action' && r.cmd.type === 'stepMode' && r.cmd.on)!;
    expect(trace.records.some((r) => r.kind === 'held')).toBe(true);
    const guided = trace.records.find(
      (r) =>
        r.seq > stepOn.seq &&
        r.kind === 'event' &&
        r.event.type === 'raft' &&
        r.event.event.kind === 'role' &&
        r.event.event.role === 'leader',
    )!;
    await scrub(guided.at + 1);
    await expect
      .poll(() => page.locator('[data-node][data-role="leader"][data-status="alive"]').getAttribute('data-node'), {
        timeout: 5_000,
      })
      .toBe((guided as { event: { node: string } }).event.node);
    // A replay cannot act on anything.
    expect(await page.getByRole('button', { name: 'Isolate leader' }).isDisabled()).toBe(true);
    await page.screenshot({ path: `${SHOTS}/window-replay-election.png` });
    await page.getByRole('button', { name: 'Back to live' }).click();
    await expect.poll(() => page.locator('[data-replay][data-mode="live"]').count()).toBe(1);
    expect(pageErrors).toEqual([]);
  });

  it('plays a scenario file live: a fresh cluster, then its timed steps', async () => {
    const file = path.join(supervisor.dir, 'scenario.json');
    fs.writeFileSync(
      file,
      JSON.stringify({
        scenario: 'raftlab-scenario',
        version: 1,
        name: 'lose the leader',
        nodes: 3,
        end: '3s',
        steps: [
          { at: '0.3s', put: { key: '/s', value: '1' } },
          { at: '0.6s', kill: 'leader' },
        ],
      }),
    );
    const generation = await page.evaluate(() => (window as any).raftlabSession.cluster.generation);
    await page.getByLabel('Scenario file to play').setInputFiles(file);
    await expect
      .poll(() => page.evaluate(() => (window as any).raftlabSession.cluster.generation), { timeout: 20_000 })
      .toBe(generation + 1);
    await page.locator('[data-scenario-progress]').waitFor({ timeout: 20_000 });
    await expect
      .poll(() => page.locator('.timeline li', { hasText: 'Scenario "lose the leader" finished' }).count(), {
        timeout: 20_000,
      })
      .toBe(1);
    expect(await page.locator('[data-node][data-status="killed"]').count()).toBe(1);
    await expect
      .poll(() => page.locator('[data-node][data-status="alive"][data-role="leader"]').count(), { timeout: 20_000 })
      .toBe(1);
    expect(await page.locator('.timeline li', { hasText: 'PUT /s on n' }).count()).toBe(1);
    expect(pageErrors).toEqual([]);
  });
});
