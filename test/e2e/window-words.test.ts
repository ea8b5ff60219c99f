// The window's words tell the truth (issue 11, item 6), in Debian's Chromium on a real cluster:
// the node logs follow the newest line and name members n1, n2…; a guide keeps its story as
// chapters; the node panel calls no follower "the leader"; a write in step mode says why
// nothing was sent yet; the checker's violation view is readable at 1024×700 and 1400×900;
// and nothing anyone asked for is reported as "exited unexpectedly".
import { beforeAll, describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import { group } from '../helpers/checked.js';
import { QUICK_TIMERS } from '../helpers/app-events.js';
import {
  chaosVerdict,
  CHROMIUM,
  runChaosFromPanel,
  consolePut,
  kvStatus,
  needTools,
  SHOTS,
  windowForSuite,
  type TestWindow,
} from '../helpers/window.js';

const ready = needTools('the window-words e2e test', [CHROMIUM]);

describe.skipIf(!ready)('the words in the window', () => {
  const win = windowForSuite({ nodes: 3, supervisor: QUICK_TIMERS, leaderDrawnWithinMs: 20_000 });
  let w: TestWindow;
  let page: Page;
  beforeAll(() => {
    ({ w, page } = win);
  });

  const logBox = () => page.locator('pre.loglines');
  const scrolled = () => logBox().evaluate((el) => ({ top: el.scrollTop, bottom: el.scrollHeight - el.clientHeight }));
  /** The log box scrolled to its newest line (within a few pixels). */
  const atNewest = async () => {
    const s = await scrolled();
    return s.top >= s.bottom - 8;
  };
  const lineCount = () => page.evaluate(() => (window as any).raftlabSession.logLines.length as number);
  /** Kills a follower and starts it again: a burst of new log lines. */
  async function bounceFollower(): Promise<void> {
    const f = (await page
      .locator('[data-node][data-status="alive"][data-role="follower"]')
      .first()
      .getAttribute('data-node'))!;
    await w.supervisor.execute({ type: 'killNode', name: f });
    await w.supervisor.execute({ type: 'restartNode', name: f });
  }

  it('the node logs name members n1, n2… (id on hover) and follow the newest line unless scrolled up', async () => {
    await page.getByRole('button', { name: 'Node logs (etcd format)' }).click();
    await expect
      .poll(() => page.locator('pre.loglines abbr[data-peer-id]').count(), { timeout: 10_000 })
      .toBeGreaterThan(3);
    const members = (await page.evaluate(() =>
      (window as any).raftlabSession.cluster.nodes.map((n: any) => ({ id: n.id, name: n.name })),
    )) as { id: string; name: string }[];
    // No member id is left raw in the text (hex as etcd prints it, or decimal in voters=(…)).
    const text = (await logBox().textContent())!;
    for (const m of members) {
      expect(text).not.toContain(BigInt('0x' + m.id).toString(16));
      expect(text).not.toContain(BigInt('0x' + m.id).toString(10));
    }
    const first = page.locator('pre.loglines abbr[data-peer-id]').first();
    const id = (await first.getAttribute('data-peer-id'))!;
    expect(await first.textContent()).toBe(members.find((m) => m.id === id)!.name);
    expect(await first.getAttribute('title')).toMatch(new RegExp(`^member id ${id}`));

    // More lines than are shown (200), so old ones leave at the top as new ones come. A real
    // cluster takes minutes to log that much: the page is fed copies of its own real lines.
    await page.evaluate(() => {
      const s = (window as any).raftlabSession;
      const real = s.logLines.at(-1);
      for (let i = 0; i < 8; i++) {
        s.ingest(
          Array.from({ length: 30 }, () => ({
            type: 'log',
            node: real.node,
            at: Date.now(),
            level: real.level,
            pkg: 'raft',
            msg: '',
            line: real.line,
          })),
        );
      }
    });
    // The window draws what it is given at the event's time (src-renderer/lib/playout.ts): a frame or two later.
    await expect.poll(lineCount, { timeout: 5_000 }).toBeGreaterThanOrEqual(230);
    await expect
      .poll(
        async () => {
          const s = await scrolled();
          return s.bottom > 0 && s.top >= s.bottom - 8;
        },
        { timeout: 10_000 },
      )
      .toBe(true);
    const before = await lineCount();
    await bounceFollower();
    await expect.poll(lineCount, { timeout: 10_000 }).toBeGreaterThan(before);
    await expect.poll(atNewest, { timeout: 5_000 }).toBe(true);

    // Scrolled up to read: new lines do not pull the view away; "newest" brings it back.
    await logBox().evaluate((el) => {
      el.scrollTop = 0;
      el.dispatchEvent(new Event('scroll'));
    });
    await expect.poll(() => logBox().getAttribute('data-log-follow')).toBe('false');
    const seen = await lineCount();
    const firstLine = await logBox().locator('span').first().textContent();
    await bounceFollower();
    await expect.poll(lineCount, { timeout: 10_000 }).toBeGreaterThan(seen);
    // The lines being read hold still; the new ones are counted on the way back.
    await expect
      .poll(() => page.locator('button.newest').textContent(), { timeout: 5_000 })
      .toMatch(/^↓ newest \(\d+ new\)$/);
    expect((await scrolled()).top).toBe(0);
    expect(await logBox().locator('span').first().textContent()).toBe(firstLine);
    await page.screenshot({ path: `${SHOTS}/window-words-logs.png` });
    await page.getByRole('button', { name: '↓ newest' }).click();
    await expect.poll(atNewest, { timeout: 5_000 }).toBe(true);
    expect(await logBox().getAttribute('data-log-follow')).toBe('true');
    await page.getByRole('button', { name: 'Timeline', exact: true }).click();
  });

  it('a guide keeps its story as chapters; with no leader no node is "the leader"; a write in step mode says why it waits', async () => {
    await expect.poll(() => page.locator('[data-node][data-status="alive"]').count(), { timeout: 20_000 }).toBe(3);
    await page.keyboard.press('Escape'); // no node picked: the panel chooses one, and says why
    await page.getByRole('button', { name: 'Guide: an election' }).click();
    const next = page.locator('[data-guide-next]');
    const title = () => page.locator('[data-guide-title]').textContent();
    const doIt = async () => {
      await expect.poll(() => next.isEnabled(), { timeout: 15_000 }).toBe(true);
      await next.click();
    };
    await doIt(); // Freeze time
    await expect.poll(title, { timeout: 10_000 }).toMatch(/^Stop the leader, n\d$/);
    const stopped = /n\d$/.exec((await title())!)![0];
    await doIt();
    await expect
      .poll(() => page.locator(`[data-node="${stopped}"]`).getAttribute('data-status'), { timeout: 10_000 })
      .toBe('killed');
    // The leader is gone and time stands still: the panel shows a follower and says there is no leader.
    const caption = page.locator('[data-panel-caption]');
    await expect.poll(() => caption.textContent()).toBe('(no leader right now; click a node to pick another)');
    const shown = (await page.locator('[data-panel]').getAttribute('data-panel'))!;
    expect(shown).not.toBe(stopped);
    expect(await page.locator(`[data-panel="${shown}"] .what`).textContent()).toMatch(/^follower, term \d+$/);

    for (let i = 0; i < 30 && !/ leads term \d+$/.test((await title())!); i++) {
      await expect
        .poll(
          async () =>
            / leads term \d+$/.test((await title())!) || ((await next.count()) > 0 && (await next.isEnabled())),
          { timeout: 15_000 },
        )
        .toBe(true);
      if (/ leads term \d+$/.test((await title())!)) break;
      await next.click();
    }
    expect(await title()).toMatch(/^n\d leads term \d+$/);
    const winner = group(/^(n\d)/, (await title())!);
    // Every click is a chapter that is still there, in order, with what the cluster did in it.
    const chapters = page.locator('[data-guide] [data-chapter]');
    const count = await chapters.count();
    expect(count).toBeGreaterThanOrEqual(5);
    expect(await chapters.nth(0).locator('b').textContent()).toBe('1. Freeze time');
    expect(await chapters.nth(1).locator('b').textContent()).toBe(`2. Stop the leader, ${stopped}`);
    const told = (await page.locator('[data-guide] [data-chapter] .happened li').allTextContents()).join('\n');
    expect(told).toMatch(/granted (its vote|a pre-vote) to n\d for term \d+/);
    expect(told).toContain(`${winner} won the election and leads term`);
    // Scrolled back to the start of the story, chapter 1 is readable.
    await page.locator('[data-guide] .story').evaluate((el) => (el.scrollTop = 0));
    expect(await chapters.nth(0).isVisible()).toBe(true);
    await page.screenshot({ path: `${SHOTS}/window-words-guide-story.png` });
    await page.getByRole('button', { name: 'Close the guide' }).click();

    // A write through the leader while step mode holds every message.
    await page.getByLabel('Node', { exact: true }).selectOption(winner);
    // The v2 console (v3 is the default; its held-write words are the same).
    await page.getByLabel('API', { exact: true }).selectOption('v2');
    await consolePut(page, '/held', '1');
    const why = page.locator('[data-kv-held]');
    await expect
      .poll(() => why.textContent(), { timeout: 10_000 })
      .toMatch(
        new RegExp(
          `^Nothing was sent yet: step mode is on\\. ${winner} appended the write to its own log, but its appends? to n\\d( and n\\d)? (is|are) held with the other messages`,
        ),
      );
    await expect
      .poll(() => page.locator('.timeline li', { hasText: `PUT /held: Nothing was sent yet` }).count(), {
        timeout: 10_000,
      })
      .toBe(1);
    await page.screenshot({ path: `${SHOTS}/window-words-held-write.png` });
    // Delivering the messages commits it: the console answers and the explanation goes.
    const deliverAll = page.getByRole('button', { name: /^Deliver all/ });
    for (let i = 0; i < 20 && (await page.locator('[data-kv-status]').count()) === 0; i++) {
      if (await deliverAll.isEnabled()) await deliverAll.click();
      await expect
        .poll(async () => (await page.locator('[data-kv-status]').count()) > 0 || (await deliverAll.isEnabled()), {
          timeout: 5_000,
        })
        .toBe(true);
    }
    await expect.poll(() => kvStatus(page), { timeout: 10_000 }).toBe('201');
    expect(await why.count()).toBe(0);
    await page.getByRole('button', { name: 'Turn off' }).click();
    await expect.poll(() => page.locator('[data-step-on]').count(), { timeout: 10_000 }).toBe(0);
  });

  it('the checker\'s violation view is readable at 1024×700 and 1400×900; its kills are not "unexpected"', async () => {
    await page.setViewportSize({ width: 1024, height: 700 });
    await page.getByRole('button', { name: 'Chaos & checker' }).click();
    await runChaosFromPanel(page, 4, true);
    await expect.poll(() => chaosVerdict(page), { timeout: 90_000 }).toBe('violation');
    const chart = page.locator('[data-chaos-chart]');
    const rows = await chart.locator('text.client').count();
    expect(rows).toBeGreaterThanOrEqual(2);
    for (const [width, height] of [
      [1024, 700],
      [1400, 900],
    ] as const) {
      await page.setViewportSize({ width, height });
      await chart.scrollIntoViewIfNeeded();
      // Rows stay 16 px tall, whatever the panel's size: never squeezed to a sliver.
      await expect
        .poll(async () => (await chart.boundingBox())!.height, { timeout: 5_000 })
        .toBeGreaterThanOrEqual(24 + rows * 16 - 1);
      const box = (await chart.boundingBox())!;
      expect(box.width).toBeGreaterThanOrEqual(300);
      // The outlined operations of the violation are on screen with the chart.
      const bad = (await chart.locator('rect[data-bad="true"]').first().boundingBox())!;
      expect(bad.height).toBeGreaterThanOrEqual(10);
      await page.screenshot({ path: `${SHOTS}/window-words-chaos-${width}x${height}.png` });
    }
    // Chaos started a fresh cluster and killed and restarted nodes on purpose: none of that is news.
    expect(
      await page.evaluate(
        () => (window as any).raftlabSession.timeline.filter((i: any) => /exited unexpectedly/.test(i.text)).length,
      ),
    ).toBe(0);
    expect(w.pageErrors).toEqual([]);
  });
});
