// One clock for the picture, proven in Debian's Chromium on a real cluster: the window records
// every change it draws (window.__raftlabDrawn: marks landed or lost, roles, votes, terms, each
// with its frame). Killing the leader at the learning speed, every vote and role change is drawn
// after the mark of the message that caused it landed, and the candidate is visible for many
// frames; at ×1 the same order holds. In step mode no ring moves without a tick, and a tick moves
// it by one tick's share. A vote request clicked in flight never reaches its target.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import { LEARNING_SPEED, speedText } from '../../src-shared/commands.js';
import type { ServerEvent } from '../../src-shared/protocol.js';
import type { DrawnChange, MarkDrawn } from '../../src-renderer/lib/playout.js';
import { CHROMIUM, needTools, openWindow, SHOTS, type TestWindow } from '../helpers/window.js';

const ok = needTools('the one-clock e2e test', [CHROMIUM]);

let w: TestWindow;
let page: Page;
const events: ServerEvent[] = [];

const leaderDrawn = async (): Promise<string | null> => {
  const l = page.locator('[data-node][data-status="alive"][data-role="leader"]');
  return (await l.count()) === 1 ? l.getAttribute('data-node') : null;
};
const waitLeader = async (not: string | undefined, timeout: number) => {
  await expect
    .poll(
      async () => {
        const l = await leaderDrawn();
        return l !== null && l !== not;
      },
      { timeout },
    )
    .toBe(true);
  return (await leaderDrawn())!;
};
const drawnSince = (seq: number) =>
  page.evaluate((s) => ((window as any).__raftlabDrawn as DrawnChange[]).filter((d) => d.seq > s), seq);
const lastSeq = () => page.evaluate(() => ((window as any).__raftlabDrawn as DrawnChange[]).at(-1)?.seq ?? 0);
const nodeState = (name: string) =>
  page.evaluate((n) => (window as any).raftlabSession.cluster.nodes.find((x: any) => x.name === n), name);
const setSpeed = async (speed: number) => {
  await page.locator(`[data-speed="${speedText(speed)}"]`).click();
  await expect
    .poll(() => page.evaluate(() => (window as any).raftlabSession.speed), { timeout: 10_000 })
    .toBeCloseTo(speed, 6);
};
const kill = async (name: string) => {
  await page.locator(`[data-node="${name}"]`).click();
  await page.locator(`[data-panel="${name}"]`).getByRole('button', { name: 'Kill' }).click();
  await expect
    .poll(() => page.locator(`[data-node="${name}"]`).getAttribute('data-status'), { timeout: 10_000 })
    .toBe('killed');
  // Unselect, so the panel shows the leader again.
  await page.locator(`[data-node="${name}"]`).click();
};
const restart = async (name: string, leader: string) => {
  await page.locator(`[data-node="${name}"]`).click();
  await page.locator(`[data-panel="${name}"]`).getByRole('button', { name: 'Start' }).click();
  await expect.poll(async () => (await nodeState(name))?.lead, { timeout: 60_000 }).toBe(leader);
  await page.locator(`[data-node="${name}"]`).click();
};

/**
 * The order the window drew an election in: every vote for the winner in its term after the
 * mark of the vote request to that voter landed; the winner drawn as leader after the mark of a
 * vote answer to it landed. Returns the frames the winner was drawn as a candidate (at ×1 a
 * candidacy of a few ms may fall between two snapshots: then undefined).
 */
function checkDrawnOrder(drawn: DrawnChange[], winner: string, term: number): number | undefined {
  const leader = drawn.find((d) => d.kind === 'role' && d.node === winner && d.role === 'leader' && d.term === term);
  expect(leader, `${winner} drawn as leader of term ${term}`).toBeDefined();
  const votes = drawn.filter((d) => d.kind === 'vote' && d.node !== winner && d.vote === winner && d.term === term);
  expect(votes.length, 'votes for the winner drawn').toBeGreaterThan(0);
  for (const v of votes) {
    const landed = drawn.find(
      (d) =>
        d.kind === 'landed' && d.msgType === 'MsgVote' && d.from === winner && d.node === v.node && d.term === term,
    );
    expect(landed, `the MsgVote ${winner} → ${v.node} landed`).toBeDefined();
    expect(landed!.seq).toBeLessThan(v.seq);
    expect(landed!.frame).toBeLessThanOrEqual(v.frame);
    expect(landed!.at).toBeLessThanOrEqual(v.at);
  }
  const answer = drawn.find(
    (d) =>
      d.kind === 'landed' && d.msgType === 'MsgVoteResp' && d.node === winner && d.term === term && d.seq < leader!.seq,
  );
  expect(answer, `a vote answer landed on ${winner} before it was drawn as leader`).toBeDefined();
  expect(answer!.frame).toBeLessThanOrEqual(leader!.frame);
  const cand = drawn.find((d) => d.kind === 'role' && d.node === winner && d.role === 'candidate' && d.term === term);
  if (!cand) return undefined;
  expect(cand.seq).toBeLessThan(leader!.seq);
  return leader!.frame - cand.frame;
}

describe.skipIf(!ok)('one clock for the picture (Chromium, real cluster)', () => {
  beforeAll(async () => {
    // The real app's timing is 100/1000 ms; a shorter election timeout keeps the waits short.
    w = await openWindow({ nodes: 3, supervisor: { heartbeatMs: 100, electionMs: 600 } });
    page = w.page;
    w.supervisor.on('events', (b) => events.push(...b));
    await w.supervisor.waitForLeader(20_000);
  }, 60_000);

  afterAll(async () => {
    await w?.close();
  });

  it('kill the leader at the learning speed: votes and the new leader are drawn after the marks that caused them landed', async () => {
    await setSpeed(LEARNING_SPEED);
    const old = (await leaderDrawn())!;
    const seq0 = await lastSeq();
    await kill(old);
    // The header says what is true now: no leader, not the old one's victory.
    await expect
      .poll(() => page.locator('[data-status-line]').textContent(), { timeout: 10_000 })
      .not.toContain(`${old} won the election`);
    expect(await page.locator('[data-status-line]').textContent()).not.toMatch(new RegExp(`^${old} leads`));
    // Wait for the election, photographing the burst of vote marks on the way.
    let shot = false;
    await expect
      .poll(
        async () => {
          if (!shot) {
            const votes = await page.evaluate(
              () =>
                ((window as any).raftlabSession.marks as MarkDrawn[]).filter(
                  (m) =>
                    m.msgType === 'MsgVote' ||
                    m.msgType === 'MsgVoteResp' ||
                    m.msgType === 'MsgPreVote' ||
                    m.msgType === 'MsgPreVoteResp',
                ).length,
            );
            if (votes >= 2) {
              await page.screenshot({ path: `${SHOTS}/one-clock-slow-election.png` });
              shot = true;
            }
          }
          const l = await leaderDrawn();
          return l !== null && l !== old;
        },
        { timeout: 60_000, interval: 40 },
      )
      .toBe(true);
    expect(shot, 'the vote marks were seen in flight').toBe(true);
    const winner = (await leaderDrawn())!;
    const term = (await nodeState(winner)).term as number;
    // The header agrees with the picture: the new leader, not "no leader".
    await expect
      .poll(() => page.locator('[data-status-line]').textContent(), { timeout: 5_000 })
      .toContain(`${winner} `);
    expect(await page.locator('[data-status-line]').textContent()).not.toMatch(/^No leader/);
    const drawn = await drawnSince(seq0);
    const candidateFrames = checkDrawnOrder(drawn, winner, term);
    expect(candidateFrames, `${winner} drawn as a candidate`).toBeDefined();
    // A vote round at ×1/10 is two flights of 400 ms: dozens of frames.
    expect(candidateFrames).toBeGreaterThanOrEqual(10);
    // Marks took their time: a vote request's mark was in the air for about its flight.
    const req = drawn.find((d) => d.kind === 'landed' && d.msgType === 'MsgVote' && d.from === winner)!;
    const sent = events.find(
      (e): e is Extract<ServerEvent, { type: 'message' }> => e.type === 'message' && e.id === req.id,
    )!;
    expect(req.at - sent.at).toBeGreaterThanOrEqual(380);
    await page.screenshot({ path: `${SHOTS}/one-clock-new-leader.png` });
    await restart(old, winner);
  }, 150_000);

  it('at ×1 the same order holds', async () => {
    await setSpeed(1);
    const old = (await leaderDrawn())!;
    const seq0 = await lastSeq();
    await kill(old);
    const winner = await waitLeader(old, 20_000);
    const term = (await nodeState(winner)).term as number;
    checkDrawnOrder(await drawnSince(seq0), winner, term);
    await restart(old, winner);
  }, 60_000);

  it("step mode: no ring moves without a tick; one tick moves it by one tick's share", async () => {
    await page.keyboard.press('Escape');
    await page.locator('body').click({ position: { x: 5, y: 5 } });
    await page.keyboard.press('p');
    await page.locator('[data-step-on]').first().waitFor({ timeout: 10_000 });
    const leader = (await leaderDrawn())!;
    const follower = (await page
      .locator('[data-node][data-status="alive"][data-role="follower"]')
      .first()
      .getAttribute('data-node'))!;
    const fill = async () => Number(await page.locator(`[data-timer="${follower}"]`).getAttribute('data-fill'));
    // Wait until the stopped clock is drawn (the snapshot saying so has been played).
    await expect.poll(async () => (await nodeState(follower)).timer?.tickMs, { timeout: 10_000 }).toBe(null);
    const f0 = await fill();
    await page.waitForTimeout(1500);
    expect(await fill()).toBe(f0);
    const timeout = (await nodeState(follower)).timer.timeout as number;
    expect(leader).not.toBe(follower);
    await page.locator(`[data-node="${follower}"]`).click();
    await page.locator(`[data-panel="${follower}"]`).getByRole('button', { name: 'Tick' }).click();
    await expect.poll(fill, { timeout: 10_000 }).not.toBe(f0);
    const f1 = await fill();
    expect(f0 - f1).toBeCloseTo(1 / timeout, 3);
    await page.waitForTimeout(1000);
    expect(await fill()).toBe(f1);
    await page.locator(`[data-node="${follower}"]`).click();
    // A held message is a mark too: a click on it drops it.
    await page.locator(`[data-node="${leader}"]`).click();
    await page.locator(`[data-panel="${leader}"]`).getByRole('button', { name: 'Tick' }).click();
    const heldMark = await expect
      .poll(
        async () => {
          const marks = await page.evaluate(() => (window as any).raftlabSession.marks as MarkDrawn[]);
          return marks.find((m) => m.heldId !== undefined && m.msgType === 'MsgHeartbeat') ?? null;
        },
        { timeout: 10_000 },
      )
      .not.toBe(null)
      .then(() =>
        page.evaluate(() =>
          ((window as any).raftlabSession.marks as MarkDrawn[]).find(
            (m) => m.heldId !== undefined && m.msgType === 'MsgHeartbeat',
          )!,
        ),
      );
    const svgBox = (await page.locator('.view svg').boundingBox())!;
    await page.mouse.click(svgBox.x + (heldMark.x * svgBox.width) / 640, svgBox.y + (heldMark.y * svgBox.height) / 500);
    await expect
      .poll(
        () =>
          events.some(
            (e) => e.type === 'step' && e.fate === 'dropped' && e.reason === 'user' && e.message.id === heldMark.heldId,
          ),
        { timeout: 10_000 },
      )
      .toBe(true);
    await page.locator(`[data-node="${leader}"]`).click();
    await page.keyboard.press('p');
    await expect.poll(() => page.locator('[data-step-on]').count(), { timeout: 10_000 }).toBe(0);
  }, 60_000);

  it('a vote request clicked in flight is dropped: it never reaches its target, which casts no vote for it', async () => {
    const old = await waitLeader(undefined, 20_000);
    // Three running nodes, so that the two left after the kill hold an election.
    for (const n of await page
      .locator('[data-node][data-status="killed"]')
      .evaluateAll((els) => els.map((e) => e.getAttribute('data-node')!))) {
      await restart(n, old);
    }
    await setSpeed(LEARNING_SPEED);
    const seq0 = await lastSeq();
    await kill(old);
    // Once someone asks for pre-votes, slow to ×1/50: a vote request takes 2 s to cross.
    await expect
      .poll(() => page.locator('[data-node][data-role="precandidate"], [data-node][data-role="candidate"]').count(), {
        timeout: 60_000,
        interval: 50,
      })
      .toBeGreaterThan(0);
    await setSpeed(1 / 50);
    const mark = await expect
      .poll(
        async () => {
          const marks = await page.evaluate(() => (window as any).raftlabSession.marks as MarkDrawn[]);
          return marks.find((m) => m.msgType === 'MsgVote' && m.to !== old && m.id !== undefined) ?? null;
        },
        { timeout: 60_000, interval: 50 },
      )
      .not.toBe(null)
      .then(async () => {
        const marks = await page.evaluate(() => (window as any).raftlabSession.marks as MarkDrawn[]);
        return marks.find((m) => m.msgType === 'MsgVote' && m.to !== old && m.id !== undefined)!;
      });
    const box = (await page.locator('.view svg').boundingBox())!;
    await page.mouse.click(box.x + (mark.x * box.width) / 640, box.y + (mark.y * box.height) / 500);
    await expect
      .poll(async () => (await drawnSince(seq0)).some((d) => d.kind === 'lost' && d.id === mark.id), {
        timeout: 10_000,
      })
      .toBe(true);
    expect(events.some((e) => e.type === 'lost' && e.id === mark.id && e.reason === 'dropped')).toBe(true);
    const sent = events.find(
      (e): e is Extract<ServerEvent, { type: 'message' }> => e.type === 'message' && e.id === mark.id,
    )!;
    // Real time again: the election goes on in a later term and settles.
    await setSpeed(1);
    await waitLeader(old, 30_000);
    await page.waitForTimeout(500);
    expect(events.some((e) => e.type === 'delivered' && e.id === mark.id)).toBe(false);
    const candidateId = (await nodeState(mark.from)).id as string;
    const line = `cast MsgVote for ${candidateId} at term ${sent.term}`;
    expect(events.some((e) => e.type === 'log' && e.node === mark.to && e.line.includes(line))).toBe(false);
    expect((await drawnSince(seq0)).some((d) => d.kind === 'landed' && d.id === mark.id)).toBe(false);
    // The timeline says what happened.
    expect(await page.locator('.timeline li', { hasText: `message #${mark.id} was dropped in flight` }).count()).toBe(
      1,
    );
    expect(w.pageErrors).toEqual([]);
  }, 180_000);

  it("a click on a follower's timer ring makes its election timer run out now", async () => {
    const n = (await page
      .locator('[data-node][data-status="alive"][data-role="follower"]')
      .first()
      .getAttribute('data-node'))!;
    const before = await page.locator('.timeline li', { hasText: `${n} heard from no leader in time` }).count();
    // On the ring itself (its top), not in the hole where the node is.
    const ring = (await page.locator(`[data-timeout="${n}"]`).boundingBox())!;
    await page.mouse.click(ring.x + ring.width / 2, ring.y + 5);
    await expect
      .poll(() => events.some((e) => e.type === 'raft' && e.node === n && e.event.kind === 'election-timeout'), {
        timeout: 10_000,
      })
      .toBe(true);
    await expect
      .poll(() => page.locator('.timeline li', { hasText: `${n} heard from no leader in time` }).count(), {
        timeout: 10_000,
      })
      .toBeGreaterThan(before);
    // The click did not select the node: it was the ring's.
    expect(await page.locator(`[data-node="${n}"]`).getAttribute('class')).not.toContain('selected');
  }, 30_000);

  it('the clock reset puts a skewed node back on real time, and the header stops warning', async () => {
    const n = (await page
      .locator('[data-node][data-status="alive"][data-role="follower"]')
      .first()
      .getAttribute('data-node'))!;
    await page.locator(`[data-node="${n}"]`).click();
    await page.getByLabel(`clock rate of ${n}`).selectOption('2');
    await page.getByLabel(`clock offset of ${n}`).evaluate((el: HTMLInputElement) => {
      el.value = '3';
      el.dispatchEvent(new Event('change', { bubbles: true }));
    });
    await expect.poll(async () => (await nodeState(n)).clock.rate, { timeout: 10_000 }).toBe(2);
    // etcd's warning reaches the window: the nodes' warning marks and the timeline. (The header
    // says it too, until the next major event replaces it: an election may come first.)
    await expect.poll(() => page.locator('[data-clock-warning]').count(), { timeout: 20_000 }).toBeGreaterThan(0);
    await expect
      .poll(() => page.locator('.timeline li', { hasText: 'clock difference' }).count(), { timeout: 5_000 })
      .toBeGreaterThan(0);
    await page.locator(`[data-clock-reset="${n}"]`).click();
    await expect.poll(async () => (await nodeState(n)).clock, { timeout: 10_000 }).toEqual({ offsetMs: 0, rate: 1 });
    expect(await page.locator(`[data-clock-reset="${n}"]`).isDisabled()).toBe(true);
    await expect.poll(() => page.locator('[data-clock-warning]').count(), { timeout: 20_000 }).toBe(0);
    // No clock warning in the header once the warning is gone.
    await expect
      .poll(() => page.locator('[data-status-line]').textContent(), { timeout: 5_000 })
      .not.toContain('clock difference');
    await page.locator(`[data-node="${n}"]`).click();
  }, 60_000);
});
