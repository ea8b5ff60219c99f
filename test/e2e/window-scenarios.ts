// The window's scenarios on a live 3-node cluster, shared by both front doors: browser mode
// (browser-mode.test.ts) and the Electron window (electron.test.ts, where its binary exists).
// Every step acts through the page and waits for what the real nodes then do.
import fs from 'node:fs';
import { beforeAll, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import { consolePut, kvStatus } from '../helpers/window.js';

export interface ScenarioContext {
  /** The window, loaded on a fresh 3-node cluster. */
  page(): Page;
  /** Screenshot path prefix, e.g. test-results/window. */
  shots: string;
}

export function windowScenarios(ctx: ScenarioContext): void {
  let page: Page;
  beforeAll(() => {
    page = ctx.page();
    fs.mkdirSync('test-results', { recursive: true });
  });

  const aliveLeaders = () => page.locator('[data-node][data-status="alive"][data-role="leader"]');
  const leaderName = async () =>
    (await aliveLeaders().count()) === 1 ? await aliveLeaders().getAttribute('data-node') : null;
  const waitLeader = async (not?: string) => {
    await expect
      .poll(
        async () => {
          const l = await leaderName();
          return l !== null && l !== not;
        },
        { timeout: 20_000 },
      )
      .toBe(true);
    return (await leaderName())!;
  };

  it('shows the live 3-node cluster electing one leader, and says so', async () => {
    await expect.poll(() => page.locator('[data-node]').count(), { timeout: 20_000 }).toBe(3);
    const leader = await waitLeader();
    // The election happened before the page opened; the greeting replays it into the timeline.
    await expect
      .poll(() => page.locator('.timeline li', { hasText: 'won the election' }).count(), { timeout: 10_000 })
      .toBeGreaterThan(0);
    expect(await page.locator('[data-status-line]').textContent()).toContain(leader);
    // Messages really flow: the heartbeats the leader sends reach the window.
    await expect
      .poll(() => page.evaluate(() => (window as any).raftlabSession.stats.messages), { timeout: 5_000 })
      .toBeGreaterThan(5);
    await page.screenshot({ path: `${ctx.shots}-cluster.png` });
  });

  it('a put from the KV console is replicated to every node and committed', async () => {
    // The v2 console (v3 is the default; test/e2e/kv3-console.test.ts drives that one).
    await page.getByLabel('API', { exact: true }).selectOption('v2');
    await consolePut(page, '/e2e', 'replicated');
    await expect.poll(() => kvStatus(page), { timeout: 10_000 }).toBe('201');
    const body = JSON.parse((await page.locator('[data-kv-status]').textContent())!.replace(/^HTTP \d+\n/, ''));
    const index = body.node.modifiedIndex as number;
    expect(await page.locator('.cmd').first().textContent()).toContain('curl -s -X PUT http://127.0.0.1:');
    // The v2 store index is not the Raft index: find the Raft entry by what it carries.
    const raftIndex = await page.evaluate(() => {
      const s = (window as any).raftlabSession;
      const l = s.cluster.nodes.find((n: any) => n.role === 'leader');
      return l.log.find((e: any) => e.data.includes('/e2e=replicated'))?.index ?? 0;
    });
    expect(index).toBeGreaterThan(0);
    expect(raftIndex).toBeGreaterThan(0);
    for (const n of ['n1', 'n2', 'n3']) {
      await expect
        .poll(() => page.locator(`[data-cell="${n}:${raftIndex}"]`).getAttribute('data-committed'), { timeout: 10_000 })
        .toBe('true');
    }
    await page.screenshot({ path: `${ctx.shots}-put-committed.png` });
  });

  it('killing the leader with the keyboard elects another; starting it again makes it follow', async () => {
    const first = await waitLeader();
    await page.locator('body').click({ position: { x: 5, y: 5 } });
    await page.keyboard.press('k');
    const second = await waitLeader(first);
    expect(await page.locator(`[data-node="${first}"]`).getAttribute('data-status')).toBe('killed');
    await expect.poll(() => page.locator('.timeline li', { hasText: `You killed ${first}` }).count()).toBe(1);
    await page.screenshot({ path: `${ctx.shots}-new-leader.png` });
    await select(first);
    await page.locator(`[data-panel="${first}"]`).getByRole('button', { name: 'Start' }).click();
    await expect
      .poll(() => page.locator(`[data-node="${first}"]`).getAttribute('data-status'), { timeout: 20_000 })
      .toBe('alive');
    await expect
      .poll(() => page.locator(`[data-node="${first}"]`).getAttribute('data-role'), { timeout: 20_000 })
      .toBe('follower');
    expect(await leaderName()).toBe(second);
  });

  /** Clicks a node until the detail panel shows it (a click on the selected node unselects it). */
  const select = async (name: string) => {
    for (let i = 0; i < 2 && !(await page.locator(`[data-panel="${name}"]`).count()); i++)
      await page.locator(`[data-node="${name}"]`).click();
    await page.locator(`[data-panel="${name}"]`).waitFor({ timeout: 2_000 });
  };

  /** Moves a slider the way a user's drag ends: a new value, then 'change'. */
  const setSlider = (label: string, value: number) =>
    page.getByLabel(label, { exact: true }).evaluate((el: HTMLInputElement, v: number) => {
      el.value = String(v);
      el.dispatchEvent(new Event('input', { bubbles: true }));
      el.dispatchEvent(new Event('change', { bubbles: true }));
    }, value);

  it("skewing a node's clock by 3 s brings etcd's clock-difference warning on screen", async () => {
    const n = (await leaderName()) === 'n3' ? 'n2' : 'n3';
    await select(n);
    await setSlider(`clock offset of ${n}`, 3);
    await expect
      .poll(() => page.locator(`[data-node="${n}"] .clock`).textContent(), { timeout: 5_000 })
      .toContain('+3.0s');
    await expect.poll(() => page.locator('[data-clock-warning]').count(), { timeout: 20_000 }).toBeGreaterThan(0);
    const warned = await page.locator('[data-clock-warning]').first().getAttribute('data-clock-warning');
    await select(warned!);
    await expect
      .poll(() => page.locator(`[data-clock-warning-text="${warned}"]`).textContent(), { timeout: 5_000 })
      .toContain('clock difference');
    await page.screenshot({ path: `${ctx.shots}-clock-warning.png` });
    await select(n);
    await setSlider(`clock offset of ${n}`, 0);
    await expect.poll(() => page.locator('[data-clock-warning]').count(), { timeout: 20_000 }).toBe(0);
  });

  it('a clicked link is cut; isolating the leader elects a new one; heal all mends every link', async () => {
    const link = page.locator('[data-link="n1|n2"] .hit');
    await link.click({ force: true });
    await expect.poll(() => page.locator('[data-link="n1|n2"]').getAttribute('data-cut')).toBe('true');
    // No message crosses a cut link, while the other links keep carrying heartbeats.
    const counts = () =>
      page.evaluate(() => ({ ...(window as any).raftlabSession.stats.byLink }) as Record<string, number>);
    const total = (c: Record<string, number>, a: string, b: string) => (c[`${a}>${b}`] ?? 0) + (c[`${b}>${a}`] ?? 0);
    await page.waitForTimeout(300); // messages sent before the cut may still arrive
    const before = await counts();
    await page.waitForTimeout(1000);
    const after = await counts();
    expect(total(after, 'n1', 'n2')).toBe(total(before, 'n1', 'n2'));
    expect(total(after, 'n1', 'n3') + total(after, 'n2', 'n3')).toBeGreaterThan(
      total(before, 'n1', 'n3') + total(before, 'n2', 'n3'),
    );
    await page.screenshot({ path: `${ctx.shots}-cut-link.png` });
    await link.click({ force: true });
    await expect.poll(() => page.locator('[data-link="n1|n2"]').getAttribute('data-cut')).toBe('false');
    const old = await waitLeader();
    await page.getByRole('button', { name: 'Isolate leader' }).click();
    await expect.poll(() => page.locator('[data-link][data-cut="true"]').count()).toBe(2);
    await waitLeader(old);
    await page.screenshot({ path: `${ctx.shots}-isolated-leader.png` });
    await page.getByRole('button', { name: /Heal all/ }).click();
    await expect.poll(() => page.locator('[data-link][data-cut="true"]').count()).toBe(0);
  });

  it('add member: 4 nodes with the new one caught up; remove it: 3 again', async () => {
    await page.getByRole('button', { name: 'Add member' }).click();
    await expect.poll(() => page.locator('[data-node]').count(), { timeout: 10_000 }).toBe(4);
    await expect
      .poll(() => page.locator('[data-node="n4"]').getAttribute('data-status'), { timeout: 30_000 })
      .toBe('alive');
    await expect
      .poll(() => page.locator('[data-log-row="n4"] [data-committed="true"]').count(), { timeout: 20_000 })
      .toBeGreaterThan(0);
    await page.screenshot({ path: `${ctx.shots}-four-members.png` });
    await select('n4');
    await page.locator('[data-panel="n4"]').getByRole('button', { name: 'Remove' }).click();
    await expect
      .poll(() => page.locator('[data-node="n4"]').getAttribute('data-status'), { timeout: 20_000 })
      .toBe('removed');
    await expect.poll(() => page.locator('[data-log-row]').count()).toBe(3);
    await expect.poll(() => page.locator('[data-link]').count()).toBe(3);
    await page.screenshot({ path: `${ctx.shots}-member-removed.png` });
  });
}
