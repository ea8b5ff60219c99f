// The Electron front door end to end, where Electron's binary exists: the built app opens its
// window on a real cluster, the preload bridge carries the events, a leader is shown. Where the
// binary cannot be had (it cannot be downloaded on machines like CI's), the test says why and
// is skipped: browser mode's test (browser-mode.test.ts) covers the same window and core.
import fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import { _electron as electron } from 'playwright-core';
import { buildElectronApp, electronArgs, ensureElectronSqlite, findElectron } from '../../scripts/electron.mjs';

const found = findElectron();
if (found.reason) console.warn(`SKIPPED: the Electron e2e test: ${found.reason}`);

describe.skipIf(!found.bin)('the Electron window', () => {
  it('opens on a real 3-node cluster with one leader, through the sandboxed bridge', async () => {
    const binding = ensureElectronSqlite(found.version!);
    const main = buildElectronApp();
    const app = await electron.launch({
      executablePath: found.bin!,
      args: electronArgs(main),
      env: { ...process.env, RAFTLAB_SQLITE_BINDING: binding } as Record<string, string>,
    });
    try {
      const page = await app.firstWindow();
      await expect.poll(() => page.locator('[data-node]').count(), { timeout: 30_000 }).toBe(3);
      await expect.poll(() => page.locator('[data-node][data-role="leader"][data-status="alive"]').count(), { timeout: 30_000 }).toBe(1);
      // Context isolation: the page sees the bridge, never Node.
      expect(await page.evaluate(() => typeof (window as any).require)).toBe('undefined');
      expect(await page.evaluate(() => (window as any).raftlab?.kind)).toBe('electron');
      fs.mkdirSync('test-results', { recursive: true });
      await page.screenshot({ path: 'test-results/electron-window.png' });
    } finally {
      await app.close();
    }
  }, 300_000);
});
