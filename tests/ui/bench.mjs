// UI benchmark for scripts/bench: how long the trace page takes to show a 10,000-span trace in headless
// Chromium, from navigation start until the waterfall's header reports every row. Prints JSON.
import { startBox, sendTrace, openBrowser, bigTrace, hex } from "./harness.mjs";

const SPANS = Number(process.env.UI_BENCH_SPANS || 10000);
const RUNS = Number(process.env.UI_BENCH_RUNS || 5);

const box = await startBox();
const browser = await openBrowser();
try {
  const traceId = hex(16);
  await sendTrace(box, "bench-svc", traceId, bigTrace(SPANS));
  const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
  const url = `${box.ui}/traces/${traceId}`;
  await page.goto(url); // warm: the wasm is compiled and cached once, as for a returning user
  await page.waitForFunction((n) => document.querySelector(".wf-header")?.innerText.includes(`${n} of ${n} rows`), SPANS, { timeout: 60000 });
  const times = [];
  for (let i = 0; i < RUNS; i++) {
    await page.goto("about:blank");
    const started = Date.now();
    await page.goto(url);
    await page.waitForFunction((n) => document.querySelector(".wf-header")?.innerText.includes(`${n} of ${n} rows`), SPANS, { timeout: 60000 });
    times.push(Date.now() - started);
  }
  const rows = await page.locator(".wf-row").count();
  times.sort((a, b) => a - b);
  console.log(JSON.stringify({ spans: SPANS, runs: RUNS, median_ms: times[Math.floor(times.length / 2)], max_ms: times[times.length - 1], dom_rows: rows, times_ms: times }));
} finally {
  await browser.close();
  await box.stop();
}
