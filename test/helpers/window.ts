// The window in browser mode, for e2e tests: a real cluster (worker threads) behind a
// WindowCore recording its trace, the built renderer served on loopback, and Debian's
// Chromium driven by playwright-core (never a downloaded browser), with the brief's flags.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, expect } from 'vitest';
import { WindowCore } from '../../src-main/app/window-core.js';
import { Supervisor, type SupervisorOptions } from '../../src-main/cluster/supervisor.js';
import { startWebServer, type WebServer } from '../../src-main/web/web-server.js';
import { buildRenderer } from '../../scripts/build-renderer.mjs';
import { until } from './cluster.js';

export const CHROMIUM = '/usr/bin/chromium';
export const SHOTS = 'test-results';

/** Fails under CI (whose .ci/run installs them), else says why the tests are skipped. */
export function needTools(what: string, files: string[]): boolean {
  const missing = files.filter((f) => !fs.existsSync(f));
  if (missing.length === 0) return true;
  if (process.env.CI) throw new Error(`${missing.join(', ')} missing: .ci/run must install them (${what})`);
  console.warn(`SKIPPED: ${what} needs ${missing.join(', ')} (Debian's packages)`);
  return false;
}

/** Sends `put key=value` from the window's KV console (in the API it is set to); see kvStatus for its answer. */
export async function consolePut(page: Page, key: string, value: string): Promise<void> {
  await page.getByLabel('Operation', { exact: true }).selectOption('put');
  await page.getByLabel('Key', { exact: true }).fill(key);
  await page.getByLabel('Value', { exact: true }).fill(value);
  await page.getByRole('button', { name: 'Send' }).click();
}

/** The HTTP status of the KV console's last answer, as it shows it (null before any). */
export const kvStatus = (page: Page) => page.locator('[data-kv-status]').getAttribute('data-kv-status');

/** Starts a chaos run of `seconds` from the window's chaos panel (open), reads broken on purpose or not; see chaosVerdict. */
export async function runChaosFromPanel(page: Page, seconds: number, breakReads: boolean): Promise<void> {
  await page.getByLabel('Chaos seconds').fill(String(seconds));
  await page.getByLabel('Break reads on purpose').setChecked(breakReads);
  await page.getByRole('button', { name: 'Run chaos' }).click();
}

/** The verdict the chaos panel shows (`ok`, `violation`), null before any. */
export const chaosVerdict = (page: Page) => page.locator('[data-chaos-verdict]').getAttribute('data-chaos-verdict');

/**
 * What the window shows (its text and its HTML) and both trace exports (jsonl, chrome) match
 * none of `secrets` (PEM blocks, keys, passwords); returns the jsonl export for more checks.
 */
export async function expectNoSecrets(w: TestWindow, secrets: readonly RegExp[]): Promise<string> {
  const text = (await w.page.locator('body').innerText()) + (await w.page.content());
  for (const re of secrets) expect(text).not.toMatch(re);
  let jsonl = '';
  for (const format of ['jsonl', 'chrome'] as const) {
    const trace = fs.readFileSync((await w.core.exportTrace(format)).path, 'utf8');
    for (const re of secrets) expect(trace).not.toMatch(re);
    if (format === 'jsonl') jsonl = trace;
  }
  return jsonl;
}

export interface TestWindow {
  supervisor: Supervisor;
  core: WindowCore;
  web: WebServer;
  browser: Browser;
  page: Page;
  /** Uncaught errors in the page. */
  pageErrors: string[];
  close(): Promise<void>;
}

export async function openWindow(opts: { nodes: number; supervisor?: SupervisorOptions }): Promise<TestWindow> {
  await buildRenderer();
  const supervisor = new Supervisor(opts.supervisor);
  const core = new WindowCore(supervisor);
  await core.record(path.join(supervisor.dir, 'session.trace.jsonl')); // as `npm start` does
  await supervisor.start(opts.nodes);
  const web = await startWebServer({ core, staticDir: fileURLToPath(new URL('../../out/renderer', import.meta.url)) });
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
  });
  const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
  const pageErrors: string[] = [];
  page.on('pageerror', (e) => pageErrors.push(e.message));
  fs.mkdirSync(SHOTS, { recursive: true });
  await page.goto(web.url);
  return {
    supervisor,
    core,
    web,
    browser,
    page,
    pageErrors,
    async close() {
      await browser.close();
      await web.close();
      await core.stop();
      await supervisor.stop();
    },
  };
}

/**
 * One window for the tests of a describe block: opened before them, once a leader is drawn (within
 * `leaderDrawnWithinMs`), and closed after them. Read `.w` and `.page` inside the tests.
 */
export function windowForSuite(opts: { nodes: number; supervisor?: SupervisorOptions; leaderDrawnWithinMs: number }): {
  readonly w: TestWindow;
  readonly page: Page;
} {
  let opened: TestWindow | undefined;
  const open = (): TestWindow => {
    if (!opened) throw new Error('expected the window open: read it inside a test, not while the suite is declared');
    return opened;
  };
  beforeAll(async () => {
    opened = await openWindow(opts);
    const page = opened.page;
    await until(
      'a leader drawn',
      async () => (await page.locator('[data-node][data-status="alive"][data-role="leader"]').count()) === 1,
      opts.leaderDrawnWithinMs,
    );
  }, 120_000);
  afterAll(async () => {
    await opened?.close();
  });
  return {
    get w() {
      return open();
    },
    get page() {
      return open().page;
    },
  };
}
