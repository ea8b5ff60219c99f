// A secured new cluster from the window, in browser mode in Debian's Chromium: "New cluster"
// with TLS, client certificates and a root password forms; every link and node carries the
// padlock (the legend says what it means); the KV console is refused until it logs in as root,
// says so in etcd's words for a wrong password, then puts and gets; and the window's text and
// the exported trace hold no PEM, private key or password. Screenshot in test-results/.
import fs from 'node:fs';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  CHROMIUM,
  expectNoSecrets,
  consolePut,
  kvStatus,
  needTools,
  openWindow,
  SHOTS,
  type TestWindow,
} from '../helpers/window.js';

const ready = needTools('the secured cluster e2e test', [CHROMIUM]);
const ROOT_PW = 'Window-root-Pw-7731';
const SECRETS = [/-----BEGIN/, /PRIVATE KEY/, new RegExp(ROOT_PW), /Wrong-Pw-0042/];

describe.skipIf(!ready)('a secured cluster started from the window', () => {
  let w: TestWindow;
  let page: Page;

  beforeAll(async () => {
    w = await openWindow({ nodes: 1 });
    ({ page } = w);
  }, 120_000);

  afterAll(async () => {
    await w?.close();
  });

  it('forms with TLS links and nodes shown, and the legend explains the padlock', async () => {
    await expect.poll(() => page.locator('[data-node]').count(), { timeout: 20_000 }).toBe(1);
    await page.locator('[data-secure]').check();
    await page.locator('[data-client-cert-auth]').check();
    await page.getByLabel('Root password').fill(ROOT_PW);
    await page.locator('[data-new-cluster]').click();
    await expect.poll(() => page.locator('[data-node][data-status="alive"]').count(), { timeout: 60_000 }).toBe(3);
    await expect.poll(() => page.locator('[data-node][data-role="leader"]').count(), { timeout: 60_000 }).toBe(1);
    await expect.poll(() => page.locator('[data-link][data-tls="true"]').count(), { timeout: 10_000 }).toBe(3);
    expect(await page.locator('[data-link-lock]').count()).toBe(3);
    expect(await page.locator('[data-node-tls]').count()).toBe(3);
    // The password field is emptied once sent.
    expect(await page.getByLabel('Root password').inputValue()).toBe('');
    await page.getByRole('button', { name: 'Legend' }).click();
    expect(await page.locator('[data-legend-tls]').textContent()).toMatch(/TLS link/);
    await page.getByRole('button', { name: 'Close the legend' }).click();
  });

  it('the KV console logs in: refused before, a wrong password in etcd\u2019s words, then root puts and gets', async () => {
    await page.locator('[data-kv-login]').waitFor({ timeout: 20_000 });
    // Auth is enabled once there is a leader: the console speaks as nobody.
    await consolePut(page, 'secured', 'yes');
    await expect.poll(() => kvStatus(page), { timeout: 15_000 }).not.toBe('200');
    await page.getByLabel('Console password').fill('Wrong-Pw-0042');
    await page.getByRole('button', { name: 'Log in' }).click();
    await expect
      .poll(() => page.locator('[data-login-error]').textContent(), { timeout: 15_000 })
      .toMatch(/login as "root" refused \(etcd: "etcdserver: authentication failed, invalid user ID or password"\)/);
    await page.getByLabel('Console password').fill(ROOT_PW);
    await page.getByRole('button', { name: 'Log in' }).click();
    await page.locator('[data-logged-in="root"]').waitFor({ timeout: 15_000 });
    await page.getByRole('button', { name: 'Send' }).click();
    await expect.poll(() => kvStatus(page), { timeout: 15_000 }).toBe('200');
    await page.getByLabel('Operation', { exact: true }).selectOption('get');
    await page.getByRole('button', { name: 'Send' }).click();
    await expect.poll(() => page.locator('.kv').textContent(), { timeout: 15_000 }).toContain('yes');
    fs.mkdirSync(SHOTS, { recursive: true });
    await page.screenshot({ path: `${SHOTS}/window-secured-cluster.png` });
  });

  it('no PEM, private key or password in the window, the trace or its export', async () => {
    await expectNoSecrets(w, SECRETS);
  });
});
