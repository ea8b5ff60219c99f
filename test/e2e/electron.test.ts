// The Electron front door end to end, where Electron's binary exists: the built app opens its
// window on a real cluster and the very same scenarios as browser mode run through the
// sandboxed preload bridge (window-scenarios.ts). Where the binary cannot be had (it cannot be
// downloaded on machines like CI's), the test says why and is skipped; browser-mode.test.ts
// runs the same window and core.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { _electron as electron, type ElectronApplication, type Page } from 'playwright-core';
import { buildElectronApp, electronArgs, ensureElectronSqlite, findElectron } from '../../scripts/electron.mjs';
import { windowScenarios } from './window-scenarios.js';

const found = findElectron();
if (found.reason) console.warn(`SKIPPED: the Electron e2e test: ${found.reason}`);

describe.skipIf(!found.bin)('the Electron window', () => {
  let app: ElectronApplication;
  let page: Page;

  beforeAll(async () => {
    const binding = ensureElectronSqlite(found.version!);
    const main = buildElectronApp();
    app = await electron.launch({
      executablePath: found.bin!,
      args: electronArgs(main),
      env: { ...process.env, RAFTLAB_SQLITE_BINDING: binding } as Record<string, string>,
    });
    page = await app.firstWindow();
  }, 300_000);

  afterAll(async () => {
    await app?.close();
  });

  it('runs the window in a sandbox: the page sees the bridge, never Node', async () => {
    expect(await page.evaluate(() => typeof (window as any).require)).toBe('undefined');
    expect(await page.evaluate(() => typeof (window as any).process)).toBe('undefined');
    expect(await page.evaluate(() => (window as any).raftlab?.kind)).toBe('electron');
  });

  windowScenarios({ page: () => page, shots: 'test-results/electron' });
});
