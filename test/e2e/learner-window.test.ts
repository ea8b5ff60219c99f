// A learner in Debian's Chromium, on a live 3-node cluster: the toolbar's "Add learner" adds n4
// as etcd's member add --learner; the cluster view marks it (dotted outline, "learner" tag), its
// panel says "learner (non-voting)" and offers "Promote"; once promoted it is drawn as a voter and
// the timeline says so. Screenshots in test-results/.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import { until } from '../helpers/cluster.js';
import { CHROMIUM, needTools, openWindow, SHOTS, type TestWindow } from '../helpers/window.js';

const have = needTools('the learner e2e test', [CHROMIUM]);

describe.skipIf(!have)('a learner in the window', () => {
  let w: TestWindow;
  let page: Page;

  beforeAll(async () => {
    w = await openWindow({ nodes: 3 });
    page = w.page;
    await until('a leader drawn', async () => (await page.locator('[data-node][data-status="alive"][data-role="leader"]').count()) === 1, 30_000);
  }, 120_000);

  afterAll(async () => {
    await w?.close();
  });

  it('is drawn as a non-voting member until promoted; the promotion is on the timeline', async () => {
    await page.getByRole('button', { name: 'Add learner' }).click();
    const n4 = page.locator('[data-node="n4"]');
    await until('n4 running', async () => (await n4.getAttribute('data-status')) === 'alive', 30_000);
    await until('n4 drawn as a learner', async () => (await n4.getAttribute('data-learner')) === 'true', 20_000);
    expect(await page.locator('[data-learner-tag="n4"]').textContent()).toBe('learner');
    expect(await page.locator('[data-node][data-learner]').count()).toBe(1);
    for (let i = 0; i < 2 && !(await page.locator('[data-panel="n4"]').count()); i++) await n4.click();
    const panel = page.locator('[data-panel="n4"]');
    expect(await panel.locator('[data-panel-learner="n4"]').textContent()).toBe('learner (non-voting)');
    await page.screenshot({ path: `${SHOTS}/learner-added.png` });

    // Promoted once the leader sees it caught up: clicked again only after the leader refused.
    const refusals = () => page.getByText(/can only promote a learner member which is in sync with leader/).count();
    for (let i = 0; i < 5 && (await n4.getAttribute('data-learner')) !== null; i++) {
      const before = await refusals();
      // dispatchEvent: the panel redraws with each state update, and a click waits for stillness.
      await panel.locator('[data-promote="n4"]').dispatchEvent('click');
      await until('promoted or refused', async () => (await n4.getAttribute('data-learner')) === null || (await refusals()) > before, 20_000);
    }
    expect(await n4.getAttribute('data-learner')).toBeNull();
    expect(await page.getByText('etcdserver: can only promote a learner member', { exact: true }).count()).toBe(0);
    expect(await panel.locator('[data-panel-learner]').count()).toBe(0);
    await until('the promotion on the timeline', async () => (await page.getByText(/n4 was promoted from learner to voting member/).count()) > 0, 20_000);
    await page.screenshot({ path: `${SHOTS}/learner-promoted.png` });
    expect(w.pageErrors).toEqual([]);
  }, 120_000);
});
