// The chaos panel in the window (browser mode, Debian's Chromium): a run on the window's own
// cluster ends with the checker's verdict over the recorded history; with reads broken on
// purpose, the operations that cannot be ordered are outlined with the sentence saying why.
import fs from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromium, type Browser, type Page } from 'playwright-core';
import { WindowCore } from '../../src-main/app/window-core.js';
import { Supervisor } from '../../src-main/cluster/supervisor.js';
import { startWebServer, type WebServer } from '../../src-main/web/web-server.js';
import { buildRenderer } from '../../scripts/build-renderer.mjs';

const CHROMIUM = '/usr/bin/chromium';
const ready = fs.existsSync(CHROMIUM);
if (!ready) {
  if (process.env.CI) throw new Error(`${CHROMIUM} is missing: .ci/run must install Debian's chromium`);
  console.warn("SKIPPED: the chaos window e2e test needs Debian's chromium");
}

describe.skipIf(!ready)('chaos and the checker in the window', () => {
  let supervisor: Supervisor;
  let core: WindowCore;
  let web: WebServer;
  let browser: Browser;
  let page: Page;

  beforeAll(async () => {
    await buildRenderer();
    supervisor = new Supervisor({ heartbeatMs: 50, electionMs: 500 });
    await supervisor.start(3);
    core = new WindowCore(supervisor);
    web = await startWebServer({ core, staticDir: fileURLToPath(new URL('../../out/renderer', import.meta.url)) });
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'] });
    page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
    await page.goto(web.url);
    await page.getByRole('button', { name: 'Chaos & checker' }).click();
    fs.mkdirSync('test-results', { recursive: true });
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await web?.close();
    await core?.stop();
    await supervisor?.stop();
  });

  it('breaking reads on purpose: the checker outlines the operations that cannot be ordered', async () => {
    await page.getByLabel('Chaos seconds').fill('4');
    await page.getByLabel('Break reads on purpose').check();
    await page.getByRole('button', { name: 'Run chaos' }).click();
    await expect.poll(() => page.locator('[data-chaos-verdict]').getAttribute('data-chaos-verdict'), { timeout: 90_000 }).toBe('violation');
    expect(await page.locator('[data-chaos-verdict]').textContent()).toMatch(/returned v0, but write \/stale=v1 .* before it began/);
    expect(await page.locator('rect[data-bad="true"]').count()).toBeGreaterThanOrEqual(3);
    expect(await page.locator('[data-violation="/stale"] li').count()).toBe(3);
    await page.screenshot({ path: 'test-results/window-chaos-violation.png' });
  });

  it('an honest run: linearizable, nothing lost, members agree', async () => {
    await page.getByLabel('Chaos seconds').fill('8');
    await page.getByLabel('Break reads on purpose').uncheck();
    await page.getByRole('button', { name: 'Run chaos' }).click();
    await expect.poll(() => page.locator('[data-chaos-verdict]').getAttribute('data-chaos-verdict'), { timeout: 90_000 }).toBe('ok');
    expect(await page.locator('[data-chaos-verdict]').textContent()).toMatch(/^✔ Linearizable: \d+ ok/);
    expect(await page.locator('rect[data-op]').count()).toBeGreaterThan(50);
    expect(await page.locator('rect[data-bad="true"]').count()).toBe(0);
    await page.screenshot({ path: 'test-results/window-chaos-ok.png' });
  });
});
