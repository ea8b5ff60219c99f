// The KV console on etcd's v3 API, in Debian's Chromium, on a live 3-node cluster: a put and a
// read at an earlier revision (the printed etcdctl line, run for real, reads the same), a watch
// that sees a put made by etcdctl outside the app, and a lease that counts down in the window
// until the leader revokes it through the log, its key gone with it. Screenshots in test-results/.
import { execFile } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { readTraceFile } from '../../src-main/trace/trace-reader.js';
import { group } from '../helpers/checked.js';
import { CHROMIUM, needTools, SHOTS, windowForSuite } from '../helpers/window.js';

const ETCDCTL = '/usr/bin/etcdctl';
const have = needTools('the v3 KV console e2e test', [CHROMIUM, ETCDCTL]);
const cleanEnv = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('ETCD')));

/** A line as a user would paste it into a shell. */
function sh(line: string): Promise<{ code: number; out: string; err: string }> {
  return new Promise((resolve) => {
    execFile('/bin/sh', ['-c', line], { env: cleanEnv, timeout: 20_000 }, (err, out, errOut) =>
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, out, err: errOut }),
    );
  });
}

describe.skipIf(!have)('the v3 KV console in Chromium', () => {
  const win = windowForSuite({ nodes: 3, leaderDrawnWithinMs: 30_000 });
  let url = '';

  const op = (o: string) => win.page.getByLabel('Operation', { exact: true }).selectOption(o);
  const fill = (label: string, text: string) => win.page.getByLabel(label, { exact: true }).fill(text);
  /** Sends the form and waits for an answer other than the one shown before. */
  async function send(): Promise<string> {
    const answer = win.page.locator('[data-kv3-answer]');
    const seq = async () => ((await answer.count()) ? Number(await answer.getAttribute('data-kv3-answer')) : 0);
    const before = await seq();
    await win.page.getByRole('button', { name: 'Send' }).click();
    await expect.poll(seq, { timeout: 20_000 }).toBeGreaterThan(before);
    return (await answer.textContent())!;
  }
  const revisionShown = async () =>
    Number(/^revision (\d+)/.exec((await win.page.locator('[data-kv3-revision]').textContent())!)?.[1]);
  const printed = async (what: 'etcdctl' | 'curl') =>
    (await win.page.locator(`[data-kv3-${what}]`).textContent())!.replace(/^\$ /, '');

  it('speaks v3 by default: a put answers OK with its revision, and a get reads an earlier revision', async () => {
    expect(await win.page.getByLabel('API', { exact: true }).inputValue()).toBe('v3');
    await op('put');
    await fill('Key', '/e2e3/a');
    await fill('Value', 'first');
    expect(await printed('etcdctl')).toMatch(/^etcdctl --endpoints http:\/\/127\.0\.0\.1:\d+ put \/e2e3\/a first$/);
    url = group(/--endpoints (\S+)/, await printed('etcdctl'));
    expect(await printed('curl')).toBe(
      `curl -s -X POST ${url}/v3/kv/put -d '{"key":"L2UyZTMvYQ==","value":"Zmlyc3Q="}'`,
    );
    expect(await send()).toBe('OK\n');
    const first = await revisionShown();
    expect(first).toBeGreaterThan(1);
    await fill('Value', 'second');
    expect(await send()).toBe('OK\n');
    const second = await revisionShown();
    expect(second).toBe(first + 1);

    await op('get');
    await fill('Revision', String(first));
    expect(await send()).toBe('/e2e3/a\nfirst\n');
    expect(await win.page.locator('[data-kv3-revision]').textContent()).toBe(
      `revision ${second} · /e2e3/a: created ${first}, modified ${first}, version 1`,
    );
    // The line the console printed reads the same revision from a terminal.
    const line = await printed('etcdctl');
    expect(line).toBe(`etcdctl --endpoints ${url} get /e2e3/a --rev=${first}`);
    expect(await sh(line)).toEqual({ code: 0, out: '/e2e3/a\nfirst\n', err: '' });
    await win.page.screenshot({ path: `${SHOTS}/kv3-console-get-revision.png` });
    // Now, without a revision: the latest.
    await fill('Revision', '');
    expect(await send()).toBe('/e2e3/a\nsecond\n');
  });

  it('a watch shows a put made by etcdctl outside the app, as it arrives', async () => {
    await op('watch');
    await fill('Key', '/e2e3/w/');
    await win.page.getByLabel('Prefix', { exact: true }).check();
    await win.page.getByRole('button', { name: 'Send' }).click();
    const watch = win.page.locator('[data-kv3-watch]');
    await expect.poll(() => watch.textContent(), { timeout: 20_000 }).toMatch(/Watching on n\d, from revision \d+/);
    expect(await sh(`etcdctl --endpoints ${url} put /e2e3/w/x 'from a terminal'`)).toMatchObject({
      code: 0,
      out: 'OK\n',
    });
    const event = watch.locator('[data-kv3-event]');
    await expect.poll(() => event.count(), { timeout: 20_000 }).toBe(1);
    expect(await event.textContent()).toMatch(/^PUT\n\/e2e3\/w\/x\nfrom a terminal/);
    expect(Number(await event.getAttribute('data-kv3-event'))).toBeGreaterThan(0);
    await win.page.screenshot({ path: `${SHOTS}/kv3-console-watch.png` });
    await win.page.getByRole('button', { name: 'Stop watching' }).click();
    await expect.poll(() => watch.count()).toBe(0);
  });

  it('a lease counts down in the window; at expiry the leader revokes it through the log and its key is gone', async () => {
    await op('leaseGrant');
    await fill('TTL', '6');
    const granted = await send();
    const id = /^lease ([0-9a-f]{16}) granted with TTL\(6s\)\n$/.exec(granted)?.[1];
    expect(id, granted).toBeDefined();
    // The grant fills the lease in: the next put attaches its key to it.
    await op('put');
    expect(await win.page.getByLabel('Lease', { exact: true }).inputValue()).toBe(id!.replace(/^0+/, ''));
    await fill('Key', '/e2e3/leased');
    await fill('Value', 'for a while');
    expect(await printed('etcdctl')).toBe(
      `etcdctl --endpoints ${url} put /e2e3/leased 'for a while' --lease=${id!.replace(/^0+/, '')}`,
    );
    expect(await send()).toBe('OK\n');
    expect(await sh(`etcdctl --endpoints ${url} get /e2e3/leased`)).toMatchObject({
      out: '/e2e3/leased\nfor a while\n',
    });

    // Drawn counting down: the seconds left fall, one key attached.
    const row = win.page.locator(`[data-lease="${id}"]`);
    await expect.poll(() => row.count(), { timeout: 10_000 }).toBe(1);
    expect(await row.textContent()).toContain('1 key');
    const left = async () => Number(await row.getAttribute('data-remaining'));
    const a = await left();
    expect(a).toBeGreaterThan(0);
    expect(a).toBeLessThanOrEqual(6);
    await expect.poll(left, { timeout: 10_000 }).toBeLessThan(a - 0.5);
    await win.page.screenshot({ path: `${SHOTS}/kv3-console-lease-counting.png` });

    // Expired: the leader proposes the revoke; once applied the lease is gone, named by its entry.
    const gone = win.page.locator(`[data-lease-gone="${id}"]`);
    await expect.poll(() => gone.count(), { timeout: 30_000 }).toBe(1);
    expect(await row.count()).toBe(0);
    const entry = Number(/revoked by log entry (\d+)/.exec((await gone.textContent())!)?.[1]);
    expect(entry).toBeGreaterThan(0);
    const logged = await win.page.evaluate((revoke) => {
      const s = (window as any).raftlabSession;
      return s.cluster.nodes.filter((n: any) => n.log.some((e: any) => e.data === revoke)).map((n: any) => n.name);
    }, `lease revoke ${id}`);
    expect(logged.length).toBeGreaterThanOrEqual(1);
    expect(await sh(`etcdctl --endpoints ${url} get /e2e3/leased`)).toEqual({ code: 0, out: '', err: '' });
    await op('get');
    await fill('Key', '/e2e3/leased');
    await fill('Revision', '');
    expect(await send()).toBe('(no keys)');
    await win.page.screenshot({ path: `${SHOTS}/kv3-console-lease-expired.png` });
  });

  it('what the console did is in the session trace: its requests, and the watch line', async () => {
    const trace = await readTraceFile((await win.w.core.exportTrace('jsonl')).path);
    const actions = trace.records
      .filter((r) => r.kind === 'action' && r.cmd.type === 'kv3')
      .map((r) => (r as { cmd: { request: { op: string } } }).cmd.request.op);
    expect(actions).toEqual(expect.arrayContaining(['put', 'get', 'watch', 'unwatch', 'leaseGrant']));
    const watched = trace.records.filter((r) => r.kind === 'event' && r.event.type === 'watch');
    expect(watched.length).toBeGreaterThanOrEqual(1);
    expect(win.w.pageErrors).toEqual([]);
  });
});
