// A learner in Debian's Chromium, on a live 3-node cluster: the toolbar's "Add learner" adds n4
// as etcd's member add --learner; the cluster view marks it (dotted outline, "learner" tag), its
// panel says "learner (non-voting)" and offers "Promote"; once promoted it is drawn as a voter and
// the timeline says so. Screenshots in test-results/.
import { describe, expect, it } from 'vitest';
import { until } from '../helpers/cluster.js';
import { CHROMIUM, needTools, SHOTS, windowForSuite } from '../helpers/window.js';

const have = needTools('the learner e2e test', [CHROMIUM]);

describe.skipIf(!have)('a learner in the window', () => {
  const win = windowForSuite({ nodes: 3, leaderDrawnWithinMs: 30_000 });

  it('is drawn as a non-voting member until promoted; the promotion is on the timeline', async () => {
    await win.page.getByRole('button', { name: 'Add learner' }).click();
    const n4 = win.page.locator('[data-node="n4"]');
    await until('n4 running', async () => (await n4.getAttribute('data-status')) === 'alive', 30_000);
    await until('n4 drawn as a learner', async () => (await n4.getAttribute('data-learner')) === 'true', 20_000);
    expect(await win.page.locator('[data-learner-tag="n4"]').textContent()).toBe('learner');
    expect(await win.page.locator('[data-node][data-learner]').count()).toBe(1);
    for (let i = 0; i < 2 && !(await win.page.locator('[data-panel="n4"]').count()); i++) await n4.click();
    const panel = win.page.locator('[data-panel="n4"]');
    expect(await panel.locator('[data-panel-learner="n4"]').textContent()).toBe('learner (non-voting)');
    await win.page.screenshot({ path: `${SHOTS}/learner-added.png` });

    // Promoted once the leader sees it caught up: clicked again only after the leader refused.
    const refusals = () => win.page.getByText(/can only promote a learner member which is in sync with leader/).count();
    for (let i = 0; i < 5 && (await n4.getAttribute('data-learner')) !== null; i++) {
      const before = await refusals();
      // dispatchEvent: the panel redraws with each state update, and a click waits for stillness.
      await panel.locator('[data-promote="n4"]').dispatchEvent('click');
      await until(
        'promoted or refused',
        async () => (await n4.getAttribute('data-learner')) === null || (await refusals()) > before,
        20_000,
      );
    }
    expect(await n4.getAttribute('data-learner')).toBeNull();
    expect(await win.page.getByText('etcdserver: can only promote a learner member', { exact: true }).count()).toBe(0);
    expect(await panel.locator('[data-panel-learner]').count()).toBe(0);
    await until(
      'the promotion on the timeline',
      async () => (await win.page.getByText(/n4 was promoted from learner to voting member/).count()) > 0,
      20_000,
    );
    await win.page.screenshot({ path: `${SHOTS}/learner-promoted.png` });
    expect(win.w.pageErrors).toEqual([]);
  }, 120_000);
});
