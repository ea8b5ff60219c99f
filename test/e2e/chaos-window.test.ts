// The chaos panel in the window (browser mode, Debian's Chromium): a run on the window's own
// cluster ends with the checker's verdict over the recorded history; with reads broken on
// purpose, the operations that cannot be ordered are outlined with the sentence saying why.
import { beforeAll, describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import { QUICK_TIMERS } from '../helpers/app-events.js';
import { chaosVerdict, CHROMIUM, runChaosFromPanel, needTools, windowForSuite } from '../helpers/window.js';

const ready = needTools('the chaos window e2e test', [CHROMIUM]);

describe.skipIf(!ready)('chaos and the checker in the window', () => {
  const win = windowForSuite({ nodes: 3, supervisor: QUICK_TIMERS, leaderDrawnWithinMs: 20_000 });
  let page: Page;

  beforeAll(async () => {
    page = win.page;
    await page.getByRole('button', { name: 'Chaos & checker' }).click();
  });

  it('breaking reads on purpose: the checker outlines the operations that cannot be ordered', async () => {
    await runChaosFromPanel(page, 4, true);
    await expect.poll(() => chaosVerdict(page), { timeout: 90_000 }).toBe('violation');
    // The scripted stale read on /stale (broken reads may be caught on other keys as well).
    expect(await page.locator('[data-chaos-verdict]').textContent()).toMatch(/^✘ /);
    expect(await page.locator('[data-violation="/stale"] .why').textContent()).toMatch(
      /returned v0, but write \/stale=v1 .* before it began/,
    );
    expect(await page.locator('[data-violation="/stale"] li').last().textContent()).toMatch(/read \/stale → v0/);
    expect(await page.locator('rect[data-bad="true"]').count()).toBeGreaterThanOrEqual(3);
    expect(await page.locator('[data-violation="/stale"] li').count()).toBe(3);
    await page.screenshot({ path: 'test-results/window-chaos-violation.png' });
  });

  it('an honest run: linearizable, nothing lost, members agree', async () => {
    await runChaosFromPanel(page, 8, false);
    await expect.poll(() => chaosVerdict(page), { timeout: 90_000 }).toBe('ok');
    expect(await page.locator('[data-chaos-verdict]').textContent()).toMatch(/^✔ Linearizable: \d+ ok/);
    expect(await page.locator('rect[data-op]').count()).toBeGreaterThan(50);
    expect(await page.locator('rect[data-bad="true"]').count()).toBe(0);
    await page.screenshot({ path: 'test-results/window-chaos-ok.png' });
  });
});
