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
  });
});
