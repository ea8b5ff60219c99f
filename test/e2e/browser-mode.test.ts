// Browser mode end to end: a real cluster in worker threads, the page in Debian's Chromium
// (driven by playwright-core; never a downloaded browser). Screenshots go to test-results/.
import fs from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromium, type Browser, type Page } from 'playwright-core';
import { Supervisor } from '../../src-main/cluster/supervisor.js';
import { startWebServer, type WebServer } from '../../src-main/web/web-server.js';

const CHROMIUM = '/usr/bin/chromium';
const haveChromium = fs.existsSync(CHROMIUM);
if (!haveChromium) {
  if (process.env.CI) throw new Error(`${CHROMIUM} is missing: .ci/run must install Debian's chromium`);
  console.warn(`SKIPPED: the browser-mode e2e test needs Debian's chromium (${CHROMIUM}); apt-get install chromium`);
}

const SHOTS = 'test-results';

describe.skipIf(!haveChromium)('browser mode in Chromium', () => {
  let supervisor: Supervisor;
  let web: WebServer;
  let browser: Browser;
  let page: Page;

  beforeAll(async () => {
    supervisor = new Supervisor();
    await supervisor.start(3);
    web = await startWebServer({ supervisor });
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
    });
    page = await browser.newPage({ viewport: { width: 1000, height: 500 } });
    fs.mkdirSync(SHOTS, { recursive: true });
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    await web?.close();
    await supervisor?.stop();
  });

  const leaderRow = () => page.locator('#nodes tr.leader td:first-child');

  it('shows the live 3-node cluster with one leader', async () => {
    await page.goto(web.url);
    await expect.poll(() => page.locator('#nodes tr').count(), { timeout: 20_000 }).toBe(3);
    await leaderRow().waitFor({ timeout: 20_000 });
    expect(await page.locator('#nodes tr.leader').count()).toBe(1);
    await page.screenshot({ path: `${SHOTS}/browser-mode-cluster.png` });
  });

  it('killing the leader from the page gives a new leader', async () => {
    const first = (await leaderRow().textContent())!;
    await page.locator('#nodes tr.leader button', { hasText: 'kill' }).click();
    await expect
      .poll(async () => ((await leaderRow().count()) ? leaderRow().textContent() : ''), { timeout: 20_000 })
      .not.toMatch(new RegExp(`^(${first})?$`));
    expect(await page.locator('#nodes tr', { hasText: 'killed' }).count()).toBe(1);
    await page.screenshot({ path: `${SHOTS}/browser-mode-new-leader.png` });
  });
});
