// "New cluster" by etcd's other two ways, in Debian's Chromium on real nodes (issue 15): a
// cluster by etcd discovery, started one member at a time from the window, the directory seen
// filling registration by registration while the members wait, the cluster formed once the size
// is reached, one more member finding it full (exit, then proxy); then a cluster by DNS SRV
// records served by dnsmasq, each member found in them. Screenshots in test-results/.
import { beforeAll, describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import { DNSMASQ_BIN } from '../helpers/dnsmasq.js';
import { QUICK_TIMERS } from '../helpers/app-events.js';
import { CHROMIUM, needTools, SHOTS, windowForSuite, type TestWindow } from '../helpers/window.js';

const ready = needTools('the bootstrap-window e2e test', [CHROMIUM]);
const dnsReady = needTools('the DNS part of the bootstrap-window e2e test', [DNSMASQ_BIN]);

describe.skipIf(!ready)('a new cluster by discovery and by DNS, in the window', () => {
  const win = windowForSuite({ nodes: 3, supervisor: QUICK_TIMERS, leaderDrawnWithinMs: 20_000 });
  let w: TestWindow;
  let page: Page;

  beforeAll(async () => {
    ({ w, page } = win);
    // Tall enough for the cluster and the directory under it in one screenshot.
    await page.setViewportSize({ width: 1400, height: 1150 });
  });

  const panel = () => page.locator('section[data-bootstrap]');
  const summary = () => page.locator('[data-bootstrap-summary]').textContent();
  /** What became of an extra member (`data-outcome`: exited, proxy...), null until it is drawn. */
  const outcome = (name: string) =>
    page
      .locator(`[data-extra="${name}"]`)
      .getAttribute('data-outcome')
      .catch(() => null);
  /** The left column back at its top (a click below may have scrolled it), then the picture. */
  async function shot(name: string): Promise<void> {
    await page.locator('main .left').evaluate((el) => (el.scrollTop = 0));
    await page.screenshot({ path: `${SHOTS}/${name}.png` });
  }

  it('etcd discovery: the directory fills one registration at a time, members wait, the cluster forms; one more finds it full', async () => {
    await page.locator('select[data-bootstrap-method]').selectOption('discovery');
    await page.locator('input[data-one-by-one]').check();
    await page.locator('button[data-new-cluster]').click();
    await panel().waitFor({ timeout: 20_000 });
    expect(await panel().getAttribute('data-bootstrap')).toBe('discovery');
    await expect.poll(summary, { timeout: 10_000 }).toBe('The directory is empty: it waits for 3 members to register');
    expect(await page.locator('li[data-slot]').count()).toBe(3);
    expect(await page.locator('[data-node][data-status="unstarted"]').count()).toBe(3);
    const url = (await page.locator('[data-discovery-url]').textContent())!;
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/v2\/keys\/discovery\/raftlab-2-[0-9a-f]{8}$/);
    expect(await panel().textContent()).toContain(`--discovery ${url}`);

    // n1, then n2: each registers in the next slot and waits.
    for (const [i, name] of ['n1', 'n2'].entries()) {
      await page.locator(`button[data-start-next="${name}"]`).click();
      await expect
        .poll(() => page.locator('ol[data-registrations]').getAttribute('data-registrations'), { timeout: 15_000 })
        .toBe(String(i + 1));
      expect(await page.locator(`li[data-slot="${i + 1}"]`).getAttribute('data-slot-member')).toBe(name);
    }
    await expect.poll(summary, { timeout: 10_000 }).toBe('2 of 3 registered: n1 and n2 wait for 1 more');
    for (const name of ['n1', 'n2']) {
      expect(await page.locator(`[data-phase="${name}"]`).textContent()).toBe('waiting for 1 more');
      // The node itself says so, in the ring.
      await expect
        .poll(() => page.locator(`[data-node="${name}"] text.sub`).textContent(), { timeout: 5000 })
        .toBe('waiting for 1 more');
    }
    expect(await page.locator('li[data-slot="3"]').getAttribute('data-slot-member')).toBe('');
    expect(await page.locator('[data-status-line]').textContent()).toBe('2 of 3 registered: n1 and n2 wait for 1 more');
    await shot('discovery-registrations-filling');

    // n3 completes the size: the cluster forms from the three registrations, in their order.
    await page.locator('button[data-start-next="n3"]').click();
    await page.locator('[data-node][data-status="alive"][data-role="leader"]').first().waitFor({ timeout: 30_000 });
    await expect
      .poll(summary, { timeout: 15_000 })
      .toBe('3 of 3 registered: the cluster formed from them, in registration order');
    expect(await page.locator('[data-node][data-status="alive"]').count()).toBe(3);
    const regs = w.supervisor.snapshot().bootstrap!.registrations!.map((r) => r.value.split('=')[0]);
    expect(regs).toEqual(['n1', 'n2', 'n3']);
    // The lines that tell how they found each other are in the timeline.
    await expect
      .poll(
        () => page.evaluate(() => ((window as any).raftlabSession.timeline as { text: string }[]).map((t) => t.text)),
        { timeout: 5000 },
      )
      .toEqual(
        expect.arrayContaining([
          'n1: found self n1 in the cluster',
          'n1: found 1 peer(s), waiting for 2 more',
          'n2: found peer n1 in the cluster',
          'n2: found 2 peer(s), waiting for 1 more',
          'n1: found 3 needed peer(s)',
        ]),
      );
    await shot('discovery-cluster-formed');

    // One more, with --discovery-fallback exit: etcd's "cluster is full", and it exits.
    await page.locator('select[aria-label="discovery fallback"]').selectOption('exit');
    await page.locator('button[data-extra-member]').click();
    await expect.poll(() => outcome('n4'), { timeout: 15_000 }).toBe('exited');
    expect(await page.locator('[data-extra="n4"]').textContent()).toContain(
      'could not join: discovery: cluster is full, and exited',
    );
    // And with etcd's default, proxy: a v2 proxy the user can curl through.
    await page.locator('select[aria-label="discovery fallback"]').selectOption('proxy');
    await page.locator('button[data-extra-member]').click();
    await expect.poll(() => outcome('n5'), { timeout: 15_000 }).toBe('proxy');
    const proxyURL = (await page.locator('[data-extra="n5"] code').textContent())!;
    await expect
      .poll(
        async () =>
          (
            await fetch(`${proxyURL}/v2/keys/via-proxy`, {
              method: 'PUT',
              body: new URLSearchParams({ value: 'yes' }),
            }).catch(() => undefined)
          )?.status,
        { timeout: 15_000 },
      )
      .toBe(201);
    expect(await page.locator('[data-node]').count()).toBe(3); // neither is a member
    await shot('discovery-extra-members');
    expect(w.pageErrors).toEqual([]);
  }, 180_000);

  it('the guide "three ways to start a cluster" walks through static and discovery on the real cluster, a chapter a click', async () => {
    await page.getByRole('button', { name: 'Guide: three ways to start a cluster' }).click();
    const title = () => page.locator('[data-guide-title]').textContent();
    const doIt = async (expected: string) => {
      await expect.poll(title, { timeout: 30_000 }).toBe(expected);
      await page.locator('[data-guide-next]').click();
    };
    await doIt('Static: every member is told the whole cluster');
    await doIt('etcd discovery: the members find each other through a directory');
    await doIt('Start n1');
    await doIt('Start n2');
    await doIt('Start n3');
    await doIt('One more member, too late');
    await expect.poll(() => outcome('n4'), { timeout: 15_000 }).toBe('proxy');
    await expect.poll(title, { timeout: 10_000 }).toBe('DNS SRV: the records name the members');
    expect(await page.locator('[data-story-chapters]').getAttribute('data-story-chapters')).toBe('6');
    // The story told what each click caused: n3's start completed the size.
    expect(await page.locator('[data-guide]').textContent()).toContain('found 3 needed peer(s)');
    await page.getByRole('button', { name: 'Close the guide' }).click();
    expect(w.pageErrors).toEqual([]);
  }, 180_000);

  it.skipIf(!dnsReady)(
    'DNS SRV: the records are shown and each member finds itself among them',
    async () => {
      await page.locator('select[data-bootstrap-method]').selectOption('dns');
      await page.locator('input[data-one-by-one]').uncheck();
      await page.locator('button[data-new-cluster]').click();
      await expect
        .poll(
          () =>
            panel()
              .getAttribute('data-bootstrap')
              .catch(() => null),
          { timeout: 20_000 },
        )
        .toBe('dns');
      await page.locator('[data-node][data-status="alive"][data-role="leader"]').first().waitFor({ timeout: 30_000 });
      await expect
        .poll(summary, { timeout: 15_000 })
        .toBe('3 SRV records: every member found itself among them and the cluster formed');
      for (const name of ['n1', 'n2', 'n3']) {
        expect(await page.locator(`tr[data-record="${name}"] [data-phase]`).textContent()).toBe(
          'found itself in the records',
        );
      }
      expect(await panel().textContent()).toContain('--discovery-srv raftlab.test');
      await shot('dns-srv-records');
      expect(w.pageErrors).toEqual([]);
    },
    120_000,
  );
});
