// npm run bench (console part): does the decisions page keep up with 1,000 decisions a second?
// A real `cordon serve`, a real Chromium with the page open and signed in, and 1,000 decisions a
// second posted to /v1/decide for 10 s (3 s with --quick). Measured in the page: the decisions it
// showed, its long tasks (main thread busy > 50 ms), the longest gap between two frames, frames
// per second, and how long a trivial script takes to run in the page while the stream pours in
// (what a click would wait for). Skips with the reason when Chromium is absent.

import { Pool } from 'undici';
import type { CDPSession, Page } from 'playwright-core';
import { browserMissing, launchBrowser } from '../testing/browser.js';
import { signedInPage, signInLink } from '../testing/console-browser.js';
import { startServeNode } from '../testing/serve-node.js';
import { percentiles } from './stats.js';

const quick = process.argv.includes('--quick');
const RATE = 1_000;
const SECONDS = quick ? 3 : 10;

/**
 * Installed before the page's own scripts: long tasks and frame times, kept on window. A string:
 * it runs in the page, whose DOM types Node's TypeScript lib does not have.
 */
const OBSERVE = `
  window.longTasks = [];
  window.frames_ = [];
  new PerformanceObserver((list) => {
    for (const e of list.getEntries()) window.longTasks.push([e.startTime, e.duration]);
  }).observe({ type: 'longtask', buffered: true });
  const tick = (t) => { window.frames_.push(t); requestAnimationFrame(tick); };
  requestAnimationFrame(tick);
`;

/** What the observers saw between `from` and `to` (the page's clock). */
const MEASURED = (from: number, to: number) => `(() => {
  const frames = window.frames_.filter((t) => t >= ${from} && t <= ${to});
  let gap = 0;
  for (let i = 1; i < frames.length; i++) gap = Math.max(gap, frames[i] - frames[i - 1]);
  const span = (frames[frames.length - 1] - frames[0]) / 1000;
  const long = window.longTasks.filter(([t]) => t >= ${from} && t <= ${to}).map(([, d]) => d);
  return { long, gap, fps: frames.length / span,
    heap: performance.memory ? performance.memory.usedJSHeapSize : undefined };
})()`;

interface Measured {
  long: number[];
  gap: number;
  fps: number;
  heap?: number;
  /** Main-thread time per second, from the DevTools protocol's Performance metrics (ms/s). */
  busy?: { task: number; script: number; layout: number; style: number };
}

type Metrics = Record<string, number>;

/** Chromium's own counters of main-thread time (seconds, cumulative). */
async function metrics(cdp: CDPSession): Promise<Metrics> {
  const { metrics } = (await cdp.send('Performance.getMetrics')) as {
    metrics: { name: string; value: number }[];
  };
  return Object.fromEntries(metrics.map((m) => [m.name, m.value]));
}

const busy = (a: Metrics, b: Metrics, seconds: number) => {
  const per = (k: string) => Math.round((((b[k] ?? 0) - (a[k] ?? 0)) * 1000) / seconds);
  return {
    task: per('TaskDuration'),
    script: per('ScriptDuration'),
    layout: per('LayoutDuration'),
    style: per('RecalcStyleDuration'),
  };
};

const now = async (page: Page) => (await page.evaluate('performance.now()')) as number;

/** Every 100 ms until stopped, how long the page takes to run a trivial script. */
function probe(page: Page) {
  const times: number[] = [];
  let on = true;
  const done = (async () => {
    while (on) {
      const q = performance.now();
      await page.evaluate('1');
      times.push(performance.now() - q);
      await new Promise((r) => setTimeout(r, 100));
    }
  })();
  return {
    async stop() {
      on = false;
      await done;
      return percentiles(times);
    },
  };
}

const report = (what: string, m: Measured, p: { p50: number; p99: number }) =>
  console.log(
    `  ${what.padEnd(8)} main thread ${m.busy?.task ?? '?'} ms/s (script ${m.busy?.script ?? '?'}, style ${m.busy?.style ?? '?'}, layout ${m.busy?.layout ?? '?'}); long tasks (>50 ms) ${String(m.long.length).padStart(3)}, longest ${String(Math.round(Math.max(0, ...m.long))).padStart(4)} ms; longest frame gap ${String(Math.round(m.gap)).padStart(4)} ms; ${m.fps.toFixed(0)} frames/s; a script in the page p50 ${p.p50.toFixed(1)} ms, p99 ${p.p99.toFixed(1)} ms`,
  );

async function shown(page: Page): Promise<number> {
  const text = (await page.locator('p.meta').first().textContent()) ?? '';
  return Number(/^([\d,]+) shown/.exec(text)?.[1]?.replace(/,/g, '') ?? NaN);
}

async function main() {
  const why = browserMissing();
  if (why) {
    console.log(`console bench skipped: ${why}`);
    return;
  }
  const node = await startServeNode('console-bench');
  const browser = await launchBrowser();
  try {
    const { page, context } = await signedInPage(browser, await signInLink(node.url, node.admin));
    await context.addInitScript({ content: OBSERVE });
    await page.goto(`${node.url}/ui/#/decisions`);
    await page.reload(); // with the observers installed
    await page.getByText(/^Live: decision stream/).waitFor();
    const before = await shown(page);
    const cdp = await context.newCDPSession(page);
    await cdp.send('Performance.enable');

    // The same page with nothing arriving: what the machine itself costs.
    const idleFrom = await now(page);
    const idleM = await metrics(cdp);
    const idleProbe = probe(page);
    await new Promise((r) => setTimeout(r, SECONDS * 1000));
    const idleP = await idleProbe.stop();
    const idle = (await page.evaluate(MEASURED(idleFrom, await now(page)))) as Measured;
    idle.busy = busy(idleM, await metrics(cdp), SECONDS);

    const pool = new Pool(node.url, { connections: 16, pipelining: 1 });
    const body = (i: number) =>
      JSON.stringify({
        agent: 'analyst-bot',
        action: 'readFile',
        resource: { type: 'FilePath', id: `/workspace/analyst-q3/bench-${i}.csv` },
      });
    let sent = 0;
    let failed = 0;
    const inflight = new Set<Promise<void>>();
    const start = performance.now();
    const t0 = await now(page);
    const loadM = await metrics(cdp);
    const loadProbe = probe(page);
    // 10 requests every 10 ms, for SECONDS.
    while (performance.now() - start < SECONDS * 1000) {
      const due = Math.floor(((performance.now() - start) / 1000) * RATE);
      while (sent < due) {
        const i = sent++;
        const p = pool
          .request({
            path: '/v1/decide',
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: body(i),
          })
          .then(async (r) => {
            await r.body.dump();
            if (r.statusCode !== 200) failed++;
          })
          .catch(() => void failed++)
          .finally(() => inflight.delete(p));
        inflight.add(p);
      }
      await new Promise((r) => setTimeout(r, 10));
    }
    const elapsed = (performance.now() - start) / 1000;
    await Promise.all(inflight);
    const t1 = await now(page);
    const loadM1 = await metrics(cdp);
    const loadP = await loadProbe.stop();
    // Let the stream deliver what was decided.
    const target = before + sent - failed;
    for (let i = 0; i < 100 && (await shown(page)) < target; i++)
      await new Promise((r) => setTimeout(r, 100));
    const got = (await shown(page)) - before;
    const load = (await page.evaluate(MEASURED(t0, t1))) as Measured;
    load.busy = busy(loadM, loadM1, (t1 - t0) / 1000);
    console.log(
      `console: decisions page at ${RATE}/s for ${SECONDS} s (Chromium ${browser.version()})`,
    );
    console.log(
      `  posted ${sent} decisions in ${elapsed.toFixed(1)} s (${Math.round(sent / elapsed)}/s), ${failed} failed; the page showed ${got} of them`,
    );
    report('idle', idle, idleP);
    report(`${RATE}/s`, load, loadP);
    if (load.heap) console.log(`  JS heap after: ${(load.heap / 1e6).toFixed(1)} MB`);
    await pool.close();
  } finally {
    await browser.close();
    await node.stop();
  }
}

await main();
