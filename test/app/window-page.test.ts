// The browser-mode page itself: the built window (the one window; no built-in fallback page),
// built where it is missing; under the window's CSP header, which it must run under without a
// single violation; and, opened without its token, a page that says which URL to open instead
// of "Starting the cluster…" forever. In Debian's Chromium, on a real cluster.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { windowCsp } from '../../src-main/web/csp.js';
import { ensureWindowBuilt } from '../../src-main/web/window-build.js';
import { CHROMIUM, needTools, openWindow, type TestWindow } from '../helpers/window.js';

describe('building the window where it is missing', () => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'raftlab-window-build-'));
  afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

  it('builds a missing window, keeps a built one, and says plainly when it cannot', async () => {
    const dir = path.join(tmp, 'renderer');
    let builds = 0;
    const build = async () => {
      builds++;
      fs.mkdirSync(dir, { recursive: true });
      fs.writeFileSync(path.join(dir, 'index.html'), '<p>built</p>');
    };
    expect(await ensureWindowBuilt(dir, build)).toEqual({ ok: true, dir, built: true });
    expect(builds).toBe(1);
    expect(await ensureWindowBuilt(dir, build)).toEqual({ ok: true, dir, built: false });
    expect(builds).toBe(1);

    const none = path.join(tmp, 'nowhere');
    const failed = await ensureWindowBuilt(none, async () => {
      throw new Error("Cannot find package 'vite'");
    });
    expect(failed).toEqual({
      ok: false,
      message:
        `the window is not built (${path.join(none, 'index.html')} is missing) and building it failed: Cannot find package 'vite'. ` +
        'Run `npm run build:web` in the raftlab folder (it needs the dev dependencies: `npm install`), then start again.',
    });
    const silent = await ensureWindowBuilt(none, async () => {});
    expect(silent).toMatchObject({
      ok: false,
      message: expect.stringMatching(/the build finished but .*index\.html is still missing/),
    });
  });
});

const haveChromium = needTools('the window page in Chromium', [CHROMIUM]);

describe.skipIf(!haveChromium)('the page in Chromium', () => {
  let w: TestWindow;
  const cspViolations: string[] = [];

  beforeAll(async () => {
    w = await openWindow({ nodes: 3 });
    w.page.on('console', (m) => {
      if (/Content.Security.Policy/i.test(m.text())) cspViolations.push(m.text());
    });
  }, 120_000);
  afterAll(async () => {
    await w?.close();
  });

  it('runs the built window under the CSP header, with its WebSocket, without a violation', async () => {
    const res = await w.page.reload();
    expect(res!.status()).toBe(200);
    const origin = new URL(w.web.url).origin;
    expect(res!.headers()['content-security-policy']).toBe(
      windowCsp({ kind: 'websocket', origins: [origin, origin.replace('127.0.0.1', 'localhost')] }),
    );
    // The cluster arrives over the bridge (connect-src), drawn by the window's own script.
    await expect
      .poll(() => w.page.locator('[data-node][data-status="alive"][data-role="leader"]').count(), { timeout: 30_000 })
      .toBe(1);
    expect(cspViolations).toEqual([]);
    expect(w.pageErrors).toEqual([]);
  });

  it('a long step run shows Cancel, and Cancel stops it', async () => {
    const page = await w.browser.newPage({ viewport: { width: 1400, height: 900 } });
    try {
      // The panel's Run asks for the default 1000 steps, which a fast machine may finish before
      // the click: this page's runs ask for 100,000 (the bridge's messages rewritten on the way).
      await page.routeWebSocket(/\/bridge/, (ws) => {
        const server = ws.connectToServer();
        ws.onMessage((m) => {
          const req = JSON.parse(String(m)) as { cmd: { type: string; maxSteps?: number } };
          if (req.cmd.type === 'stepRunUntil') req.cmd.maxSteps = 100_000;
          server.send(JSON.stringify(req));
        });
      });
      await page.goto(w.web.url);
      await page.getByRole('button', { name: 'Turn on' }).click();
      await expect.poll(() => page.locator('[data-step-on]').count(), { timeout: 10_000 }).toBe(1);
      // A commit never comes without a write.
      await page.getByLabel('Run until').selectOption('commit');
      await page.getByRole('button', { name: 'Run', exact: true }).click();
      const cancel = page.locator('[data-step-cancel]');
      await cancel.waitFor({ timeout: 10_000 });
      await cancel.click();
      await expect
        .poll(() => page.locator('.timeline li', { hasText: /The run stopped after \d+ steps/ }).count(), {
          timeout: 20_000,
        })
        .toBe(1);
      await expect.poll(() => cancel.count()).toBe(0);
      expect(await page.getByRole('button', { name: 'Run', exact: true }).isEnabled()).toBe(true);
      await page.getByRole('button', { name: 'Turn off' }).click();
      await expect.poll(() => page.locator('[data-step-on]').count(), { timeout: 10_000 }).toBe(0);
    } finally {
      await page.close();
    }
  });

  it('opened without its token, says which URL to open', async () => {
    const page = await w.browser.newPage();
    try {
      const origin = new URL(w.web.url).origin;
      for (const url of [`${origin}/`, `${origin}/?token=${'0'.repeat(48)}`]) {
        const res = await page.goto(url);
        expect(res!.status()).toBe(403);
        const text = await page.locator('body').innerText();
        expect(text).toContain('This raftlab window needs its link');
        expect(text).toMatch(
          /Open the URL that npm start or npm run web printed in its terminal: it ends in\s+\?token=…/,
        );
        expect(text).not.toContain('Starting the cluster');
      }
    } finally {
      await page.close();
    }
  });
});
