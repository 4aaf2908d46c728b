//! Browser tests of the charts and the log investigation tools: round axis ticks, the hover cursor,
// drag-to-zoom, exemplar links, the histogram heatmap, legend toggles, picking a log attribute as a
// search condition, the severity histogram against the API, and lists that say "N of M".
// Screenshots go to docs/screenshots (metric.png, metric-heatmap.png, logs.png).
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import path from "node:path";
import { REPO, startBox, gen, sendTrace, sendLog, postOtlp, hex, openBrowser } from "./harness.mjs";

const SHOTS = process.env.SCREENSHOT_DIR || path.join(REPO, "docs", "screenshots");
let box, browser, page;
const pageErrors = [];
const exemplarTrace = hex(16);
const exemplarSpan = hex(8);
const BOUNDS = [0.05, 0.1, 0.25, 0.5, 1, 2.5];
let observations = 0; // every observation of checkout.duration sent

const NS = 1_000_000n;
const nowNs = () => BigInt(Date.now()) * NS;
const str = (key, value) => ({ key, value: { stringValue: value } });

/// A delta histogram point every 30 s over the last 20 minutes, each with an exemplar of the same span,
/// and a gauge with two series (queue a and b).
async function sendMetrics() {
  const now = nowNs();
  const points = [];
  const gauge = [];
  for (let i = 40; i >= 1; i--) {
    const t = now - BigInt(i) * 30_000n * NS;
    const counts = [i % 3, 4 + (i % 5), 6, 3 + (i % 4), i % 2, 1, 0];
    const count = counts.reduce((a, b) => a + b, 0);
    observations += count;
    points.push({
      startTimeUnixNano: String(t - 30_000n * NS),
      timeUnixNano: String(t),
      count: String(count),
      sum: count * 0.3,
      bucketCounts: counts.map(String),
      explicitBounds: BOUNDS,
      exemplars: i % 10 === 0 ? [{ timeUnixNano: String(t - NS), asDouble: 0.42 + i / 100, traceId: exemplarTrace, spanId: exemplarSpan }] : [],
    });
    for (const [queue, depth] of [["a", 3 + (i % 7)], ["b", 40 + (i % 11)]]) {
      gauge.push({ timeUnixNano: String(t), asInt: String(depth), attributes: [str("queue", queue)] });
    }
  }
  await postOtlp(box, "metrics", {
    resourceMetrics: [{
      resource: { attributes: [str("service.name", "checkout")] },
      scopeMetrics: [{ scope: { name: "ui-test" }, metrics: [
        { name: "checkout.duration", unit: "s", description: "checkout latency", histogram: { aggregationTemporality: 1, dataPoints: points } },
        { name: "queue.depth", unit: "{item}", gauge: { dataPoints: gauge } },
      ] }],
    }],
  });
}

async function shot(name) {
  await page.screenshot({ path: path.join(SHOTS, `${name}.png`) });
}

async function visit(route, readySelector) {
  await page.goto(box.ui + route);
  await page.waitForSelector(readySelector, { timeout: 15000, state: "attached" });
}

/// A tick label's value in the unit's base (ns for durations), or NaN.
function tickValue(label) {
  const m = label.match(/^(-?[\d.]+)\s*(ns|µs|ms|s|min|h|k|M|G)?$/);
  if (!m) return NaN;
  const scale = { ns: 1, "µs": 1e3, ms: 1e6, s: 1e9, min: 60e9, h: 3600e9, k: 1e3, M: 1e6, G: 1e9 }[m[2]] ?? 1;
  return Number(m[1]) * scale;
}

/// Labels are round: evenly spaced at 1, 2, 2.5 or 5 times a power of ten, each a multiple of the step.
function assertRound(labels) {
  assert.ok(labels.length >= 3, `at least three ticks: ${labels}`);
  const values = labels.map(tickValue);
  assert.ok(values.every(Number.isFinite), `every label is a number in a unit: ${labels}`);
  // Durations may change unit along the axis (750 ms, 1 s): compare in the base unit.
  const step = values[1] - values[0];
  const mantissa = step / 10 ** Math.floor(Math.log10(step));
  assert.ok([1, 2, 2.5, 5].some((m) => Math.abs(m - mantissa) < 1e-6), `step ${step} is 1, 2, 2.5 or 5 × 10^k: ${labels}`);
  for (let i = 1; i < values.length; i++) {
    assert.ok(Math.abs(values[i] - values[i - 1] - step) < step * 1e-6, `evenly spaced: ${labels}`);
    assert.ok(Math.abs(values[i] / step - Math.round(values[i] / step)) < 1e-6, `${labels[i]} is a multiple of the step`);
  }
}

before(async () => {
  box = await startBox();
  gen(box, "traces", 4500); // about 300 traces: more than a page
  gen(box, "logs", 500);
  const now = nowNs();
  await sendTrace(box, "checkout", exemplarTrace, [{ spanId: exemplarSpan, name: "POST /checkout", start: now - 400n * NS, end: now }]);
  await sendMetrics();
  // Records to pick values from: three with cart=blue, two with cart=red.
  for (const [i, cart] of ["blue", "red", "blue", "red", "blue"].entries()) {
    await sendLog(box, "pick-svc", `pickmarker ${cart} ${i}`, { attributes: [str("cart", cart)], severityNumber: 9, severityText: "INFO" });
  }
  // Severities for the histogram.
  for (const [n, text] of [[9, "INFO"], [9, "INFO"], [13, "WARN"], [17, "ERROR"], [21, "FATAL"], [5, "DEBUG"]]) {
    await sendLog(box, "sev-svc", `sevmarker ${text}`, { severityNumber: n, severityText: text });
  }
  browser = await openBrowser();
  page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
  page.on("pageerror", (e) => pageErrors.push(e.message));
});

after(async () => {
  await browser?.close();
  await box?.stop();
  assert.deepEqual(pageErrors, [], "no uncaught errors in the page");
});

test("a metric chart fills the page, its value ticks are round in the metric's unit and its time ticks at round times", async () => {
  await visit("/metrics/checkout.duration", ".line-chart path.series");
  const yLabels = await page.$$eval(".line-chart .y-tick", (ts) => ts.map((t) => t.textContent));
  assertRound(yLabels);
  assert.ok(yLabels.some((l) => /\d (ms|s)$/.test(l)), `labels carry the unit: ${yLabels}`);
  const xLabels = await page.$$eval(".line-chart .x-tick", (ts) => ts.map((t) => t.textContent));
  assert.ok(xLabels.length >= 4, `${xLabels}`);
  // An hour at this width: a tick every 5 or 10 minutes, on the minute.
  for (const l of xLabels) assert.match(l, /^(\d\d:\d[05]|\d\d-\d\d)$/, `${xLabels}`);
  const [svgWidth, pageWidth] = await page.evaluate(() => [document.querySelector(".line-chart svg").getBoundingClientRect().width, document.querySelector("main").clientWidth]);
  assert.ok(svgWidth > pageWidth * 0.85, `the chart spans the page: ${svgWidth} of ${pageWidth}`);
  // The x axis covers the hour chosen, not only the 20 minutes with data: the first series point
  // sits well right of the plot's left edge.
  const firstX = await page.$eval(".line-chart path.series", (p) => Number(p.getAttribute("d").match(/^M([\d.]+)/)[1]));
  assert.ok(firstX > svgWidth * 0.4, `data starts 40 minutes into the hour: x=${firstX} of ${svgWidth}`);
  await shot("metric");
});

test("hovering a chart shows a cursor with every series' value at that time", async () => {
  await visit("/metrics/checkout.duration", ".line-chart path.series");
  const box_ = await page.locator(".line-chart svg").boundingBox();
  await page.mouse.move(box_.x + box_.width * 0.8, box_.y + box_.height / 2);
  await page.waitForSelector(".chart-tooltip");
  const rows = await page.$$eval(".chart-tooltip .tip-row", (rs) => rs.map((r) => [r.querySelector(".tip-label").textContent, r.querySelector(".tip-value").textContent]));
  assert.deepEqual(rows.map((r) => r[0].split(" · ")[0]).sort(), ["p50", "p95", "p99"]);
  for (const [, value] of rows) assert.match(value, /^\d[\d.]* (ms|s)$/, `a value in its unit: ${value}`);
  assert.equal(await page.locator(".chart-cursor").count(), 1);
});

test("dragging across a chart zooms: start and end go in the URL, and reset goes back", async () => {
  await visit("/metrics/checkout.duration", ".line-chart path.series");
  const b = await page.locator(".line-chart svg").boundingBox();
  const before = Date.now() * 1e6;
  await page.mouse.move(b.x + b.width * 0.5, b.y + b.height / 2);
  await page.mouse.down();
  await page.mouse.move(b.x + b.width * 0.7, b.y + b.height / 2, { steps: 5 });
  await page.mouse.move(b.x + b.width * 0.8, b.y + b.height / 2, { steps: 5 });
  await page.mouse.up();
  await page.waitForFunction(() => new URL(location.href).searchParams.has("start"));
  const url = new URL(page.url());
  const [start, end] = [Number(url.searchParams.get("start")), Number(url.searchParams.get("end"))];
  const minutes = (end - start) / 60e9;
  assert.ok(minutes > 12 && minutes < 24, `about 30% of the hour selected: ${minutes} min`);
  assert.ok(end < before && start > before - 3600e9, "inside the hour shown");
  await page.waitForSelector(".zoom-chip");
  // The chart now spans the selection: its time ticks are closer together than an hour's.
  await page.waitForSelector(".line-chart path.series", { state: "attached" });
  await page.click(".reset-zoom");
  await page.waitForFunction(() => !new URL(location.href).searchParams.has("start"));
  assert.equal(await page.locator(".zoom-chip").count(), 0);
});

test("an exemplar is a dot on the chart that opens its span", async () => {
  await visit("/metrics/checkout.duration", ".line-chart .exemplar");
  const hrefs = await page.$$eval(".line-chart .exemplar", (as) => as.map((a) => a.getAttribute("href")));
  assert.equal(hrefs.length, 4, `one per point that had one: ${hrefs}`);
  for (const href of hrefs) assert.equal(href, `/traces/${exemplarTrace}?span=${exemplarSpan}`);
  await page.locator(".line-chart .exemplar").first().click();
  await page.waitForFunction((id) => location.pathname === `/traces/${id}`, exemplarTrace);
  assert.equal(new URL(page.url()).searchParams.get("span"), exemplarSpan);
});

test("the heatmap view draws the histogram's buckets per step, every observation counted", async () => {
  await visit("/metrics/checkout.duration", ".line-chart path.series");
  await page.click(".view-heatmap");
  await page.waitForSelector(".heatmap .heat-cell", { state: "attached" });
  assert.equal(new URL(page.url()).searchParams.get("view"), "heatmap");
  const counts = await page.$$eval(".heatmap .heat-cell", (cells) => cells.map((c) => Number(c.getAttribute("data-count"))));
  assert.ok(counts.length > 40, `many cells: ${counts.length}`);
  assert.equal(counts.reduce((a, b) => a + b, 0), observations);
  const rows = await page.$$eval(".heatmap .y-tick", (ts) => ts.map((t) => t.textContent));
  assert.ok(rows.some((r) => /^≤ 250 ms$/.test(r)) || rows.length >= 3, `bucket bounds in the unit: ${rows}`);
  await shot("metric-heatmap");
  await page.click(".view-lines");
  await page.waitForSelector(".line-chart path.series", { state: "attached" });
});

test("a legend click hides its series, again shows it; shift-click shows one alone", async () => {
  await visit("/metrics/queue.depth?group_by=queue", ".line-chart path.series");
  const labels = () => page.$$eval(".line-chart path.series", (ps) => ps.map((p) => p.getAttribute("data-label")).sort());
  assert.deepEqual(await labels(), ["queue=a", "queue=b"]);
  const y0 = await page.$$eval(".line-chart .y-tick", (ts) => ts.map((t) => t.textContent));
  await page.locator(".legend-entry", { hasText: "queue=b" }).click();
  await page.waitForFunction(() => document.querySelectorAll(".line-chart path.series").length === 1);
  assert.deepEqual(await labels(), ["queue=a"]);
  assert.ok(await page.locator(".legend-entry.off", { hasText: "queue=b" }).isVisible());
  // The axis follows what is shown: queue a stays under 10.
  const y1 = await page.$$eval(".line-chart .y-tick", (ts) => ts.map((t) => t.textContent));
  assert.notDeepEqual(y1, y0);
  await page.locator(".legend-entry", { hasText: "queue=b" }).click();
  await page.waitForFunction(() => document.querySelectorAll(".line-chart path.series").length === 2);
  await page.locator(".legend-entry", { hasText: "queue=b" }).click({ modifiers: ["Shift"] });
  await page.waitForFunction(() => document.querySelectorAll(".line-chart path.series").length === 1);
  assert.deepEqual(await labels(), ["queue=b"]);
});

test("clicking a value in a log record adds it to the search and narrows the list; ≠ leaves it out", async () => {
  const bodies = () => page.$$eval(".logs-table .log-body", (cells) => cells.map((c) => c.textContent));
  await visit("/logs?text=pickmarker", ".logs-table tbody tr.log-row");
  assert.equal((await bodies()).length, 5);
  await page.locator(".logs-table tbody tr.log-row").first().click();
  const pick = page.locator(".log-detail table.attrs tr", { hasText: "cart" }).locator(".attr-pick");
  const colour = (await pick.innerText()).trim();
  await pick.click();
  await page.waitForFunction((c) => new URL(location.href).searchParams.get("q") === `cart = "${c}"`, colour);
  await page.waitForFunction((n) => document.querySelectorAll(".logs-table tr.log-row").length === n, colour === "blue" ? 3 : 2);
  assert.ok((await bodies()).every((b) => b.includes(colour)), (await bodies()).join(" | "));
  // Exclude it instead.
  await visit("/logs?text=pickmarker", ".logs-table tbody tr.log-row");
  await page.locator(".logs-table tbody tr.log-row").first().click();
  await page.locator(".log-detail table.attrs tr", { hasText: "cart" }).locator(".attr-exclude").click();
  await page.waitForFunction((c) => new URL(location.href).searchParams.get("q") === `cart != "${c}"`, colour);
  await page.waitForFunction((n) => document.querySelectorAll(".logs-table tr.log-row").length === n, colour === "blue" ? 2 : 3);
  assert.ok((await bodies()).every((b) => !b.includes(colour)), (await bodies()).join(" | "));
  // Severity and service too.
  await visit("/logs?text=sevmarker", ".logs-table tbody tr.log-row");
  await page.locator(".logs-table tbody tr.log-row", { hasText: "sevmarker WARN" }).click();
  await page.locator(".log-fields .attr-pick", { hasText: "warn" }).click();
  await page.waitForFunction(() => new URL(location.href).searchParams.get("q") === 'severity = "warn"');
  await page.waitForFunction(() => document.querySelectorAll(".logs-table tr.log-row").length === 1);
});

test("the severity histogram's bars count what the API counts, and a bar narrows the time range", async () => {
  await visit("/logs?text=sevmarker", ".severity-histogram .hbar");
  const bars = await page.$$eval(".severity-histogram .hbar", (gs) => gs.map((g) => [g.getAttribute("data-start"), Number(g.getAttribute("data-total"))]));
  const api = await box.api(`/api/v1/logs/histogram?since=1h&buckets=60&q=${encodeURIComponent('body ~ "sevmarker"')}`);
  const fromApi = api.buckets.map((b) => [String(b.start_unix_nano), Object.values(b.counts).reduce((a, n) => a + n, 0)]).filter(([, n]) => n > 0);
  assert.deepEqual(bars, fromApi);
  assert.equal(api.total, 6);
  // Stacked by severity: the bar holds one rect per severity present.
  const classes = await page.$$eval(".severity-histogram .hbar rect", (rs) => rs.map((r) => r.getAttribute("class")));
  for (const c of ["info", "warn", "error", "fatal", "debug"]) assert.ok(classes.some((k) => k.includes(c)), `${c}: ${classes}`);
  await page.locator(".severity-histogram .hbar").last().click();
  await page.waitForFunction(() => new URL(location.href).searchParams.has("start"));
  const url = new URL(page.url());
  assert.equal(Number(url.searchParams.get("end")) - Number(url.searchParams.get("start")), api.step_ns);
  await page.waitForFunction((n) => /^(\d+) records/.test(document.querySelector(".list-heading")?.innerText || "") && document.querySelectorAll(".logs-table tr.log-row").length === n, bars[bars.length - 1][1]);
  await visit("/logs", ".severity-histogram .hbar");
  await shot("logs");
});

test("lists say how many of how many match, and searches show the server's warnings", async () => {
  await visit("/traces", ".traces-table tbody tr");
  await page.waitForFunction(() => /^200 of [\d,]+ traces/.test(document.querySelector(".list-heading")?.innerText || ""));
  const traces = await box.api("/api/v1/traces?since=1h&limit=200&total=true");
  const heading = await page.locator(".list-heading").innerText();
  assert.ok(heading.startsWith(`200 of ${traces.total.toLocaleString("en-US")} traces`), `${heading} vs ${traces.total}`);
  await visit("/logs", ".logs-table tbody tr");
  await page.waitForFunction(() => /^300 of [\d,]+ records/.test(document.querySelector(".list-heading")?.innerText || ""));
  const logs = await box.api("/api/v1/logs?since=1h&limit=300&total=true");
  assert.match(await page.locator(".list-heading").innerText(), new RegExp(`^300 of ${logs.total.toLocaleString("en-US")} records`));
  // LLM runs: the page holds 200 at most, the heading says how many match.
  await visit("/llm", ".list-heading");
  const runs = await box.api("/api/v1/llm/runs?since=24h&limit=200&total=true");
  const shownRuns = runs.runs.length;
  const expected = runs.total > shownRuns ? `${shownRuns} of ${runs.total.toLocaleString("en-US")} runs` : `${shownRuns} runs`;
  assert.ok(shownRuns > 0);
  assert.ok((await page.locator(".list-heading").innerText()).startsWith(expected), `${await page.locator(".list-heading").innerText()} vs ${expected}`);
  await visit(`/llm?q=${encodeURIComponent('run_i = "x"')}`, ".search-warning");
  assert.match(await page.locator(".search-warning").first().innerText(), /run_i.*did you mean `run_id`/);
  await visit("/metrics", ".metric-list tbody tr");
  assert.match(await page.locator(".list-heading").innerText(), /^\d+ metrics$/);
  await page.fill("#search", "queue");
  await page.waitForFunction(() => /^1 of \d+ metrics match/.test(document.querySelector(".list-heading").innerText));
  // A key nothing has: the search says so, with the key meant.
  await visit(`/logs?q=${encodeURIComponent('cartt = "blue"')}`, ".search-warning");
  assert.match(await page.locator(".search-warning").first().innerText(), /cartt.*did you mean `cart`/);
});
