// Browser tests of the trace page's investigation tools: comparing two traces, the flame graph, the
// statistics table, find in trace, and trace files opened in the browser without being stored. The real
// binary, headless Chromium; screenshots of each view go to docs/screenshots.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import path from "node:path";
import { REPO, startBox, gen, sendTrace, sendServiceSpans, hex, openBrowser, bigTrace } from "./harness.mjs";

const SHOTS = process.env.SCREENSHOT_DIR || path.join(REPO, "docs", "screenshots");
const ms = 1_000_000n;
let box, browser, page;
const pageErrors = [];
const requests = [];

const compareA = hex(16);
const compareB = hex(16);
const statsTrace = hex(16);
const bigFindTrace = hex(16);
let demoTraces = []; // two generated agent runs of the same shape

async function visit(route, readySelector) {
  await page.goto(box.ui + route);
  await page.waitForSelector(readySelector, { timeout: 15000 });
}

async function shot(name) {
  await page.screenshot({ path: path.join(SHOTS, `${name}.png`) });
}

/// A checkout: GET /order calling the database, then either the cache (A) or billing (B), B slower.
function checkout(variant, now) {
  const root = hex(8);
  const end = variant === "a" ? 100n : 150n;
  return [
    { service: "shop-api", spanId: root, name: "GET /order", start: now - 200n * ms, end: now - 200n * ms + end * ms },
    { service: "shop-db", spanId: hex(8), parentSpanId: root, name: "select order", start: now - 190n * ms, end: now - 190n * ms + (variant === "a" ? 20n : 50n) * ms },
    variant === "a"
      ? { service: "shop-cache", spanId: hex(8), parentSpanId: root, name: "get price", start: now - 160n * ms, end: now - 150n * ms }
      : { service: "shop-billing", spanId: hex(8), parentSpanId: root, name: "charge card", start: now - 130n * ms, end: now - 60n * ms },
  ];
}

before(async () => {
  box = await startBox();
  gen(box, "traces", 300);
  const now = BigInt(Date.now()) * 1000000n;
  await sendServiceSpans(box, compareA, checkout("a", now));
  await sendServiceSpans(box, compareB, checkout("b", now));
  // root 0..100 ms with auth 10..40 and query 30..60 (overlapping); query's child fetch 35..80 outlives it.
  const [root, query] = [hex(8), hex(8)];
  const t0 = now - 500n * ms;
  await sendServiceSpans(box, statsTrace, [
    { service: "stats-api", spanId: root, name: "GET /stats", start: t0, end: t0 + 100n * ms },
    { service: "stats-api", spanId: hex(8), parentSpanId: root, name: "auth", start: t0 + 10n * ms, end: t0 + 40n * ms },
    { service: "stats-db", spanId: query, parentSpanId: root, name: "query", start: t0 + 30n * ms, end: t0 + 60n * ms },
    { service: "stats-db", spanId: hex(8), parentSpanId: query, name: "fetch rows", start: t0 + 35n * ms, end: t0 + 80n * ms, error: true },
  ]);
  await sendTrace(box, "find-svc", bigFindTrace, bigTrace(2000));
  demoTraces = (await box.api("/api/v1/traces?limit=2&q=" + encodeURIComponent('name = "invoke_agent research-assistant"'))).traces;
  browser = await openBrowser();
  page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
  page.on("pageerror", (e) => pageErrors.push(e.message));
  page.on("request", (r) => requests.push(r.url()));
});

after(async () => {
  await browser?.close();
  await box?.stop();
  assert.deepEqual(pageErrors, [], "no uncaught errors in the page");
  const elsewhere = requests.filter((url) => !url.startsWith("http://127.0.0.1:") && !url.startsWith("data:") && !url.startsWith("blob:"));
  assert.deepEqual(elsewhere, [], "the UI loads nothing from outside otelbox");
});

test("compare: two traces merged by path, an added and a removed row, a slower row with its delta", async () => {
  await visit(`/traces/compare?a=${compareA}&b=${compareB}`, ".trace-compare tbody tr");
  const rows = page.locator(".trace-compare tbody tr");
  assert.equal(await rows.count(), 4, "GET /order, select order, get price, charge card");
  const added = page.locator(".trace-compare tr.diff-added");
  assert.equal(await added.count(), 1);
  assert.match(await added.innerText(), /shop-billing: charge card/);
  assert.match(await page.locator(".trace-compare tr.diff-removed").innerText(), /shop-cache: get price/);
  const select = page.locator(".trace-compare tr", { hasText: "select order" });
  assert.match(await select.getAttribute("class"), /slower/);
  assert.equal(await select.locator(".delta").innerText(), "+30.0 ms");
  assert.equal(await select.locator(".delta-pct").innerText(), "+150.0%");
  assert.match(await page.locator(".compare-summary").innerText(), /1 only in B \(added\), 1 only in A \(removed\)/);
  // Only differences: all four differ or lead to one.
  await page.locator(".only-differences").check();
  assert.equal(await rows.count(), 4);

  // From the list: tick two traces and compare them.
  await visit("/traces?service=shop-api", ".traces-table tbody tr");
  assert.equal(await page.locator(".traces-table tbody tr").count(), 2);
  assert.ok(await page.locator(".compare-selected").isDisabled());
  await page.locator(".traces-table input.pick").nth(0).check();
  await page.locator(".traces-table input.pick").nth(1).check();
  await page.locator(".compare-selected").click();
  await page.waitForURL(/\/traces\/compare\?a=[0-9a-f]{32}&b=[0-9a-f]{32}/);
  await page.waitForSelector(".trace-compare tbody tr");

  // From a trace page: "Compare with…" another id.
  await visit(`/traces/${compareA}`, ".wf-row");
  await page.locator(".compare-with summary").click();
  await page.fill("#compare-with", compareB);
  await page.press("#compare-with", "Enter");
  await page.waitForURL((url) => url.pathname === "/traces/compare" && url.searchParams.get("b") === compareB);
  await page.waitForSelector(".trace-compare tr.diff-added");

  // Two generated agent runs, for the screenshot.
  assert.equal(demoTraces.length, 2);
  await visit(`/traces/compare?a=${demoTraces[1].trace_id}&b=${demoTraces[0].trace_id}`, ".trace-compare tbody tr");
  await shot("trace-compare");
});

test("flame graph: bars per depth, hover shows self time, a click selects the span and zooms to it", async () => {
  const trace = demoTraces[0];
  await visit(`/traces/${trace.trace_id}?view=flame`, ".flame-bar");
  assert.equal(await page.locator(".view-tab[aria-pressed=true]").innerText(), "Flame graph");
  const note = await page.locator(".flame-note").innerText();
  assert.match(note, new RegExp(`of ${trace.span_count} spans drawn`));
  const bars = page.locator(".flame-bar");
  const before = await bars.count();
  assert.ok(before > 3, `bars drawn: ${before}`);
  // A bar in the second lane (a child of the root).
  const child = page.locator('.flame-bar[style*="top:20px"]').first();
  const childId = await child.getAttribute("data-span-id");
  await child.hover();
  await page.waitForSelector(".flame-tip");
  assert.match(await page.locator(".flame-tip").innerText(), /duration .*\n.*self time/s);
  await shot("trace-flame");
  await child.click();
  await page.waitForURL((url) => url.searchParams.get("span") === childId);
  await page.waitForSelector(".span-title");
  assert.match(await page.locator(".flame-note").innerText(), /zoomed to/);
  assert.ok(await page.locator(`.flame-bar.selected[data-span-id="${childId}"]`).isVisible());
  // Zoomed: the child fills the width, its ancestors stay above it.
  const style = await page.locator(`.flame-bar[data-span-id="${childId}"]`).getAttribute("style");
  assert.match(style, /left:0\.000%;width:100\.000%/);
  assert.match(await page.locator(".detail").innerText(), /self time/);
  await page.locator(".flame-reset").click();
  assert.doesNotMatch(await page.locator(".flame-note").innerText(), /zoomed/);
  assert.equal(await bars.count(), before);
});

test("statistics: self time per operation and per service for a known trace, sortable", async () => {
  await visit(`/traces/${statsTrace}?view=stats`, ".trace-stats tbody tr");
  const selfOf = (name) => page.locator(".trace-stats tbody tr", { hasText: name }).locator(".self-total").innerText();
  assert.equal(await selfOf("GET /stats"), "50.0 ms", "100 ms less its children's union 10..60");
  assert.equal(await selfOf("auth"), "30.0 ms");
  assert.equal(await selfOf("query"), "5.00 ms", "30 ms less its child's 25 ms inside it");
  assert.equal(await selfOf("fetch rows"), "45.0 ms");
  const fetchRow = await page.locator(".trace-stats tbody tr", { hasText: "fetch rows" }).innerText();
  assert.match(fetchRow, /\t1\t1\t45\.0 ms/, "one span, one error, 45 ms");
  // Sorted by self time, largest first; a click on the column reverses it.
  const names = () => page.$$eval(".trace-stats tbody tr td.op-name", (cells) => cells.map((c) => c.textContent));
  assert.deepEqual(await names(), ["GET /stats", "fetch rows", "auth", "query"]);
  await page.locator(".trace-stats th", { hasText: "Self total" }).click();
  assert.deepEqual(await names(), ["query", "auth", "fetch rows", "GET /stats"]);
  await page.locator(".trace-stats th", { hasText: "Spans" }).click();
  await page.selectOption(".stats-group", "service");
  await page.waitForURL(/group=service/);
  await page.waitForFunction(() => document.querySelectorAll(".trace-stats tbody tr").length === 2);
  assert.equal(await selfOf("stats-api"), "80.0 ms");
  assert.equal(await selfOf("stats-db"), "50.0 ms");
  assert.match(await page.locator(".stats-caption").innerText(), /4 spans in 2 groups/);

  // A group per span (2,000 different names): the first 300 drawn, the rest on request.
  await visit(`/traces/${bigFindTrace}?view=stats`, ".trace-stats tbody tr");
  assert.equal(await page.locator(".trace-stats tbody tr").count(), 300);
  await page.locator(".stats-show-all").click();
  await page.waitForFunction(() => document.querySelectorAll(".trace-stats tbody tr").length === 2000);

  await visit(`/traces/${demoTraces[0].trace_id}?view=stats`, ".trace-stats tbody tr");
  await shot("trace-stats");
});

test("find in trace: highlights, counts, and Enter scrolls the 2,000-span waterfall to the match, opening its ancestors", async () => {
  await visit(`/traces/${bigFindTrace}`, ".wf-row");
  await page.locator('.wf-row[style*="top:0px"] .wf-toggle').click(); // collapse the root
  await page.waitForFunction(() => /1 of 2000 rows/.test(document.querySelector(".wf-header").innerText));
  await page.fill("#find", "step 1999");
  await page.waitForFunction(() => document.querySelector(".find-count").innerText === "1 of 1");
  await page.waitForFunction(() => /2000 of 2000 rows/.test(document.querySelector(".wf-header").innerText));
  const current = page.locator(".wf-row.current-found");
  await current.waitFor();
  assert.match(await current.innerText(), /step 1999/);
  const [row, viewport] = [await current.boundingBox(), await page.locator(".wf-scroll").boundingBox()];
  assert.ok(row.y >= viewport.y && row.y + row.height <= viewport.y + viewport.height, `the match is in view: ${JSON.stringify({ row, viewport })}`);
  assert.ok((await page.locator(".wf-scroll").evaluate((el) => el.scrollTop)) > 26 * 1000);

  // "step 19": step 19, 190..199 and 1900..1999.
  await page.fill("#find", "step 19");
  await page.waitForFunction(() => document.querySelector(".find-count").innerText === "1 of 111");
  assert.ok((await page.locator(".wf-row.found").count()) > 1, "every match drawn is highlighted");
  await page.press("#find", "Enter");
  await page.waitForFunction(() => document.querySelector(".find-count").innerText === "2 of 111");
  await page.press("#find", "Shift+Enter");
  await page.press("#find", "Shift+Enter");
  await page.waitForFunction(() => document.querySelector(".find-count").innerText === "111 of 111");
  // The last match in the tree's order (children of step 50 come last): step 1950.
  await page.locator(".wf-row.current-found").waitFor();
  assert.match(await page.locator(".wf-row.current-found").innerText(), /step 1950/);
  // In the flame graph, typing highlights the matches there; Enter walks them in the waterfall.
  await page.locator('.view-tab[data-view="flame"]').click();
  await page.waitForSelector(".flame-bar");
  await page.fill("#find", "big root");
  await page.waitForSelector(".flame-bar.found");
  assert.equal(await page.locator('.view-tab[aria-pressed="true"]').innerText(), "Flame graph");
  await page.press("#find", "Enter");
  await page.waitForSelector(".wf-row.current-found");
  await page.fill("#find", "no such span anywhere");
  await page.waitForFunction(() => document.querySelector(".find-count").innerText === "no match");
  assert.equal(await page.locator(".wf-row.found").count(), 0);
});

/// An OTLP/JSON export request holding `spans` of one service.
function otlpRequest(service, traceId, spans) {
  return {
    resourceSpans: [{
      resource: { attributes: [{ key: "service.name", value: { stringValue: service } }] },
      scopeSpans: [{ scope: { name: "file-test" }, spans: spans.map((s) => ({
        traceId, spanId: s.spanId, parentSpanId: s.parentSpanId || "", name: s.name, kind: "SPAN_KIND_SERVER",
        startTimeUnixNano: String(s.start), endTimeUnixNano: String(s.end), status: s.error ? { code: "STATUS_CODE_ERROR" } : {},
        attributes: [{ key: "file.note", value: { stringValue: "from a file" } }],
      })) }],
    }],
  };
}

test("a trace file opens in the browser without being stored; several traces are listed; a bad file says where", async () => {
  const now = BigInt(Date.now()) * 1000000n;
  const fileTrace = hex(16);
  const root = hex(8);
  const spans = [
    { spanId: root, name: "POST /upload", start: now - 90n * ms, end: now },
    { spanId: hex(8), parentSpanId: root, name: "scan file", start: now - 80n * ms, end: now - 50n * ms },
    { spanId: hex(8), parentSpanId: root, name: "store file", start: now - 45n * ms, end: now - 5n * ms, error: true },
  ];
  const file = JSON.stringify(otlpRequest("file-svc", fileTrace, spans));
  await visit("/traces", ".traces-table tbody tr");
  await page.setInputFiles("#open-file", { name: "upload-trace.json", mimeType: "application/json", buffer: Buffer.from(file) });
  await page.waitForURL((url) => url.pathname === "/traces/file" && url.searchParams.get("trace") === fileTrace);
  await page.waitForSelector(".wf-row");
  assert.equal(await page.locator(".wf-row").count(), 3);
  assert.match(await page.locator(".file-banner").innerText(), /upload-trace\.json.*not stored/);
  await page.locator(".wf-row", { hasText: "store file" }).click();
  await page.waitForSelector(".span-title");
  assert.match(await page.locator(".detail").innerText(), /from a file/);
  await page.locator('.view-tab[data-view="stats"]').click();
  await page.waitForSelector(".trace-stats tbody tr");
  assert.equal(await page.locator(".trace-stats tbody tr").count(), 3);
  await page.locator('.view-tab[data-view="flame"]').click();
  await page.waitForSelector(".flame-bar");
  await page.locator('.view-tab[data-view=""]').click();
  await page.waitForSelector(".wf-row");
  await shot("trace-file");
  await assert.rejects(box.api(`/api/v1/traces/${fileTrace}`), /404/, "the file's trace is not stored");

  // The trace page's own download, JSON Lines with two traces, dropped on the traces page.
  const download = await (await fetch(`${box.ui}/api/v1/traces/${compareA}/otlp`)).text();
  const lines = [download.trim(), JSON.stringify({ resourceLogs: [] }), file].join("\n");
  await visit("/traces", ".traces-table tbody tr");
  const dropped = await page.evaluateHandle((text) => {
    const transfer = new DataTransfer();
    transfer.items.add(new File([text], "two-traces.jsonl", { type: "application/json" }));
    return transfer;
  }, lines);
  await page.dispatchEvent("section.page", "drop", { dataTransfer: dropped });
  await page.waitForSelector(".file-traces tbody tr");
  assert.equal(await page.locator(".file-traces tbody tr").count(), 2);
  assert.match(await page.locator("h2").innerText(), /two-traces\.jsonl: 2 traces/);
  assert.match(await page.locator(".file-banner").innerText(), /1 requests of logs or metrics skipped/);
  await page.locator(".file-traces tbody tr", { hasText: "GET /order" }).click();
  await page.waitForSelector(".wf-row");
  assert.equal(await page.locator(".wf-row").count(), 3);

  // A bad span id on the second line: the line and the field are named.
  const bad = JSON.parse(file);
  bad.resourceSpans[0].scopeSpans[0].spans[1].spanId = "xyz";
  await visit("/traces", ".traces-table tbody tr");
  await page.setInputFiles("#open-file", { name: "bad.jsonl", mimeType: "application/json", buffer: Buffer.from(file + "\n" + JSON.stringify(bad) + "\n") });
  await page.waitForSelector(".file-error");
  assert.equal(
    await page.locator(".file-error").innerText(),
    'bad.jsonl: line 2: resourceSpans[0].scopeSpans[0].spans[1].spanId: expected 16 hex characters, got "xyz"',
  );
  await page.setInputFiles("#open-file", { name: "broken.json", mimeType: "application/json", buffer: Buffer.from('{\n  "resourceSpans": [\n    {,\n') });
  await page.waitForFunction(() => /broken\.json: line 3: column 6: not JSON/.test(document.querySelector(".file-error")?.innerText || ""));
  assert.match(page.url(), /\/traces$/, "a bad file opens nothing");
});
