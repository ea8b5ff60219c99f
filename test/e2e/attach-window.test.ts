// The window attached to a real etcd 3.4 cluster (Debian's etcd-server on loopback), in browser
// mode in Debian's Chromium: its members and leader are drawn, controls that need the cluster
// to be ours are disabled with the reason, a put through the KV console shows up as a watched
// key change, and detach returns to the local cluster. Screenshot in test-results/.
import fs from 'node:fs';
import { readTraceFile } from '../../src-main/trace/trace-reader.js';
import { TraceIndex } from '../../src-shared/replay.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import type { WindowCore } from '../../src-main/app/window-core.js';
import { CHROMIUM, consolePut, kvStatus, needTools, openWindow, type TestWindow } from '../helpers/window.js';
import { ETCD_BIN, EtcdCluster } from '../helpers/etcd-processes.js';
import { ProcessCluster } from '../helpers/processes.js';

const ready = needTools('the attach e2e test', [CHROMIUM, ETCD_BIN]);

describe.skipIf(!ready)('the window attached to a real etcd cluster', () => {
  let etcd: EtcdCluster;
  let w: TestWindow;
  let core: WindowCore;
  let page: Page;

  beforeAll(async () => {
    etcd = await EtcdCluster.create(3);
    for (const n of ['e1', 'e2', 'e3']) etcd.start(n);
    w = await openWindow({ nodes: 1 });
    ({ core, page } = w);
  }, 120_000);

  afterAll(async () => {
    await w?.close();
    await etcd?.destroy();
  });

  it('attaches through one URL: 3 members and the leader, with local-only controls off', async () => {
    await expect.poll(() => page.locator('[data-node]').count(), { timeout: 20_000 }).toBe(1);
    // The window's own n1 has a line in the timeline before attaching (its election). A line's
    // text runs on from its tag ("rolen1 won…"): no \b before n1.
    await expect
      .poll(() => page.locator('.timeline li', { hasText: /n1\b/ }).count(), { timeout: 20_000 })
      .toBeGreaterThan(0);
    await page.getByRole('button', { name: 'Attach to a cluster…' }).click();
    await page.getByLabel('Client URLs to attach to').fill(etcd.spec('e1').clientURL);
    await page.getByRole('button', { name: 'Attach', exact: true }).click();
    await page.locator('[data-attached]').waitFor({ timeout: 10_000 });
    await expect.poll(() => page.locator('[data-node][data-status="alive"]').count(), { timeout: 20_000 }).toBe(3);
    await expect.poll(() => page.locator('[data-node][data-role="leader"]').count(), { timeout: 20_000 }).toBe(1);
    const names = await page
      .locator('[data-node]')
      .evaluateAll((els) => els.map((e) => e.getAttribute('data-node')).sort());
    expect(names).toEqual(['e1', 'e2', 'e3']);
    // The status line speaks of the attached cluster, never of the window's own n1.
    await expect
      .poll(() => page.locator('[data-status-line]').textContent(), { timeout: 10_000 })
      .toMatch(/^e[123] leads/);
    // The timeline marks where the window's own cluster's lines end: newest first, the user's
    // "You attached" line, then the divider, then what n1 did before.
    const lines = await page.locator('.timeline li').allTextContents();
    const divider = lines.findIndex((l) => l.includes('Attached here:'));
    expect(lines[divider]).toContain(
      `later lines are about the cluster at ${etcd.spec('e1').clientURL}; earlier ones about the window's own cluster (n1).`,
    );
    expect(lines.findIndex((l) => l.includes('You attached to the cluster at'))).toBeLessThan(divider);
    expect(lines.findIndex((l, i) => i !== divider && /n1\b/.test(l))).toBeGreaterThan(divider);
    expect(await page.getByRole('button', { name: 'Isolate leader' }).isDisabled()).toBe(true);
    expect(await page.getByRole('button', { name: 'Isolate leader' }).getAttribute('title')).toContain(
      'only watched through its API',
    );
    // The leader's panel shows what the v3 gateway told about it.
    const leader = (await page.locator('[data-node][data-role="leader"]').getAttribute('data-node'))!;
    await page.locator(`[data-node="${leader}"]`).click();
    await expect
      .poll(() => page.locator(`[data-endpoint="${leader}"]`).textContent(), { timeout: 5_000 })
      .toContain('etcd 3.4');
  });

  it('a put through the KV console comes back as a watched key change', async () => {
    await page.locator('[data-watching]').waitFor({ timeout: 10_000 }); // the watch is established
    // The v2 console (v3 is the default): its answer is the observer's put.
    await page.getByLabel('API', { exact: true }).selectOption('v2');
    await consolePut(page, '/attached/hello', 'etcd');
    await expect.poll(() => kvStatus(page), { timeout: 10_000 }).toBe('200');
    await expect
      .poll(() => page.locator('.timeline li', { hasText: '/attached/hello = etcd' }).count(), { timeout: 10_000 })
      .toBe(1);
    fs.mkdirSync('test-results', { recursive: true });
    await page.screenshot({ path: 'test-results/window-attached-etcd.png' });
    // What was observed is in the session trace, like a local cluster's events.
    const trace = await readTraceFile((await core.exportTrace('jsonl')).path);
    const seen = trace.records
      .filter((r) => r.kind === 'event' && r.event.type === 'attach')
      .map((r) => (r as { event: { event: { type: string; key?: string } } }).event.event);
    expect(seen.some((e) => e.type === 'keyChanged' && e.key === '/attached/hello')).toBe(true);
    // The snapshots as the window was sent them (most are kept as deltas: the index rebuilds them).
    const shown = new TraceIndex(trace.records).eventsBetween(0, Infinity);
    expect(
      shown.some(
        (r) => r.kind === 'event' && r.event.type === 'cluster' && r.event.cluster.attached?.members.length === 3,
      ),
    ).toBe(true);
  });

  it('kill -9 of the leader outside: it reads "does not answer", never "killed"; the new leader is drawn', async () => {
    const old = (await page.locator('[data-node][data-role="leader"]').getAttribute('data-node'))!;
    await etcd.kill9(old);
    const gone = page.locator(`[data-node="${old}"]`);
    await expect.poll(() => gone.getAttribute('data-status'), { timeout: 20_000 }).toBe('unreachable');
    expect(await gone.locator('.term').textContent()).toBe('?');
    expect(await gone.locator('[data-caption]').textContent()).toMatch(/^\s*no answer\s*$/);
    expect(await gone.getAttribute('aria-label')).toBe(`${old}: does not answer`);
    const panel = page.locator(`[data-panel="${old}"]`);
    // The first test picked the leader, and a click on a picked node unpicks it.
    if ((await panel.count()) === 0) await gone.click();
    expect(await panel.locator('[data-panel-status]').textContent()).toBe('does not answer');
    expect(await panel.textContent()).not.toMatch(/killed|data dir/);
    await expect
      .poll(() => panel.locator('[data-endpoint]').textContent(), { timeout: 5_000 })
      .toMatch(/answers\s*no: .*refused.*term\s*\d+ \(last seen\)/);
    // Still a member (it has an id): member remove stays on offer for it.
    expect(await panel.getByRole('button', { name: 'Remove' }).count()).toBe(1);
    // The two left elect a leader in a higher term; the status line follows the observer.
    await expect
      .poll(() => page.locator('[data-node][data-status="alive"][data-role="leader"]').count(), { timeout: 30_000 })
      .toBe(1);
    const next = (await page
      .locator('[data-node][data-status="alive"][data-role="leader"]')
      .getAttribute('data-node'))!;
    expect(next).not.toBe(old);
    await expect
      .poll(() => page.locator('[data-status-line]').textContent(), { timeout: 10_000 })
      .toMatch(new RegExp(`^${next} leads`));
    await page.screenshot({ path: 'test-results/window-attached-etcd-leader-killed.png' });
  });

  it('the same views attach to raftlab nodes run as plain processes (the path is API-only)', async () => {
    const nodes = await ProcessCluster.create(3);
    try {
      nodes.startStatic(3);
      await nodes.leader();
      await page.locator('[data-attached]').getByRole('button', { name: 'Detach' }).click();
      await page.getByRole('button', { name: 'Attach to a cluster…' }).click();
      await page.getByLabel('Client URLs to attach to').fill(nodes.spec('n2').clientURL);
      await page.getByRole('button', { name: 'Attach', exact: true }).click();
      await expect.poll(() => page.locator('[data-node][data-status="alive"]').count(), { timeout: 20_000 }).toBe(3);
      await expect.poll(() => page.locator('[data-node][data-role="leader"]').count(), { timeout: 20_000 }).toBe(1);
      const leader = (await page.locator('[data-node][data-role="leader"]').getAttribute('data-node'))!;
      await page.locator(`[data-node="${leader}"]`).click();
      // raftlab nodes serve etcd's v3 gateway: attach reads them as it reads a real etcd (applied index, DB size).
      await expect
        .poll(() => page.locator(`[data-endpoint="${leader}"]`).textContent(), { timeout: 5_000 })
        .toMatch(/\(v3, etcd 3\.4\.0\).*applied\s*\d+.*DB size/);
      await page.screenshot({ path: 'test-results/window-attached-raftlab.png' });
    } finally {
      await nodes.destroy();
    }
  });

  it('detach returns to the local cluster', async () => {
    await page.locator('[data-attached]').getByRole('button', { name: 'Detach' }).click();
    await expect.poll(() => page.locator('[data-attached]').count(), { timeout: 10_000 }).toBe(0);
    await expect
      .poll(() => page.locator('[data-node]').evaluateAll((els) => els.map((e) => e.getAttribute('data-node'))), {
        timeout: 10_000,
      })
      .toEqual(['n1']);
    expect(await page.locator('[data-timeline-divider]').first().textContent()).toContain(
      "Detached here: later lines are about the window's own cluster (n1) again",
    );
    // Its greeting tells the cluster's story again: what the timeline told already is not told twice.
    expect(await page.locator('.timeline li', { hasText: 'n1 won the election' }).count()).toBe(1);
    await expect
      .poll(() => page.locator('[data-status-line]').textContent(), { timeout: 10_000 })
      .toMatch(/^n1 leads term \d+$/);
    // The KV console starts afresh: the attached etcd's last answer is not shown under n1.
    expect(await page.locator('[data-kv3-answer]').count()).toBe(0);
    await page.screenshot({ path: 'test-results/window-detached.png' });
  });
});
