// The window under load: a real 7-node cluster with a 10 ms heartbeat (so well over 1000 peer
// messages a second reach the page) plus a steady trickle of writes, shown in browser mode in
// Debian's Chromium. Prints the message rate the page received, frame times (from rAF deltas)
// and the page's JS heap at the start and the end. RENDER_BENCH_SECONDS (default 20) sets the
// length; 600 gives the "memory after 10 minutes" figure.
import fs from 'node:fs';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { WindowCore } from '../src-main/app/window-core.js';
import { Supervisor } from '../src-main/cluster/supervisor.js';
import { startWebServer } from '../src-main/web/web-server.js';
import { buildRenderer } from '../scripts/build-renderer.mjs';

const CHROMIUM = '/usr/bin/chromium';

export async function benchRenderer(print: (line: string) => void): Promise<void> {
  if (!fs.existsSync(CHROMIUM)) {
    print(`renderer: skipped (needs Debian's chromium at ${CHROMIUM})`);
    return;
  }
  const seconds = Number(process.env.RENDER_BENCH_SECONDS ?? 20);
  await buildRenderer();
  const supervisor = new Supervisor({ heartbeatMs: 10, electionMs: 200 });
  const core = new WindowCore(supervisor);
  const web = await startWebServer({ core, staticDir: fileURLToPath(new URL('../out/renderer', import.meta.url)) });
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--enable-precise-memory-info',
      '--js-flags=--expose-gc',
    ],
  });
  let writer: NodeJS.Timeout | undefined;
  try {
    await supervisor.start(7);
    const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
    await page.goto(web.url);
    await page.waitForFunction(
      () => document.querySelectorAll('[data-node][data-role="leader"]').length === 1,
      undefined,
      { timeout: 30_000 },
    );
    // Writes through the leader, 20 a second, so appends, commits and log cells move too.
    let n = 0;
    writer = setInterval(() => {
      const leader = supervisor.snapshot().nodes.find((x) => x.status === 'alive' && x.role === 'leader');
      if (leader)
        void supervisor
          .execute({ type: 'kv', name: leader.name, method: 'PUT', key: `/bench/k${n++ % 50}`, value: String(n) })
          .catch(() => {});
    }, 50);
    await page.waitForTimeout(2000); // warm up
    // A string, not a function: tsx would wrap named functions in a helper the page lacks.
    const measure = async (ms: number) =>
      (await page.evaluate(`(async (ms) => {
      const s = window.raftlabSession;
      // Collect first, so that the figure is what the page keeps, not garbage not yet collected.
      const mem = () => { window.gc?.(); return performance.memory?.usedJSHeapSize ?? 0; };
      const heap0 = mem();
      const m0 = s.stats.messages;
      const deltas = [];
      let last = performance.now();
      const t0 = last;
      await new Promise((done) => {
        const frame = (t) => {
          deltas.push(t - last);
          last = t;
          if (t - t0 < ms) requestAnimationFrame(frame);
          else done();
        };
        requestAnimationFrame(frame);
      });
      const elapsed = performance.now() - t0;
      return { deltas, messages: s.stats.messages - m0, elapsed, heap0, heap1: mem(), marks: s.marks.length };
    })(${ms})`)) as {
        deltas: number[];
        messages: number;
        elapsed: number;
        heap0: number;
        heap1: number;
        marks: number;
      };
    const frames = (result: Awaited<ReturnType<typeof measure>>) => {
      const d = result.deltas.sort((a, b) => a - b);
      const pct = (p: number) => (d[Math.min(d.length - 1, Math.floor((p / 100) * d.length))] ?? NaN).toFixed(1); // NaN: no frames
      const long = d.filter((x) => x > 50).length;
      return `frames: ${d.length} (${(d.length / (result.elapsed / 1000)).toFixed(1)} fps); frame time p50 ${pct(50)} ms, p95 ${pct(95)} ms, p99 ${pct(99)} ms, max ${(d.at(-1) ?? NaN).toFixed(1)} ms; ${long} frames over 50 ms`;
    };
    const result = await measure(seconds * 1000);
    print(`renderer: 7 nodes, heartbeat 10 ms, 20 puts/s, ${seconds} s in Chromium (browser mode)`);
    print(`  messages drawn: ${(result.messages / (result.elapsed / 1000)).toFixed(0)}/s`);
    print(`  ${frames(result)}`);
    print(
      `  JS heap after a GC: ${(result.heap0 / 1048576).toFixed(1)} MB after warm-up, ${(result.heap1 / 1048576).toFixed(1)} MB after ${seconds} s`,
    );
    // Slow motion: the cluster itself at ×1/10, every message a mark crossing for its real flight.
    await supervisor.execute({ type: 'setSpeed', speed: 0.1 });
    await page.waitForTimeout(2000);
    const slowSeconds = Math.min(seconds, 10);
    const slow = await measure(slowSeconds * 1000);
    print(`renderer in slow motion ×1/10: 7 nodes, same writes, ${slowSeconds} s`);
    print(
      `  messages drawn: ${(slow.messages / (slow.elapsed / 1000)).toFixed(0)}/s, ${slow.marks} marks in flight at the end`,
    );
    print(`  ${frames(slow)}`);
  } finally {
    clearInterval(writer);
    await browser.close();
    await web.close();
    await core.stop();
    await supervisor.stop();
  }
}
