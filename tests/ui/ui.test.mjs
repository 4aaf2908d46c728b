// Browser tests of the embedded web UI: the real binary, loaded with generated data, driven through
// Debian's headless Chromium. Each page loads and shows its data; searches narrow; a trace opens with
// the right number of spans; the live tail shows a record sent after the page opened; a span named
// like an HTML tag shows literally and runs nothing. Screenshots of every page go to docs/screenshots.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import path from "node:path";
import { REPO, startBox, gen, sendTrace, sendLog, hex, openBrowser, bigTrace } from "./harness.mjs";

const SHOTS = process.env.SCREENSHOT_DIR || path.join(REPO, "docs", "screenshots");
const XSS = "<img src=x onerror=alert(1)>";
let box, browser, page;
const dialogs = [];
const requests = []; // every URL the UI asked for: it must never leave the box

const pageErrors = [];
const xssTrace = hex(16);
const smallTrace = hex(16);
const chatTrace = hex(16);
const chatTraceAgain = hex(16); // the same conversation with another answer and no failed tool, to compare

/// An agent run with its conversation in the current OTel GenAI attributes: two model calls (the second
/// resends the first's history), a tool that succeeds and one that fails, cached tokens, a session.
function chatRun(now, { answerText = "**Your order** ships <b>tomorrow</b>.", notifyFails = true } = {}) {
  const text = (key, value) => ({ key, value: { stringValue: value } });
  const int = (key, value) => ({ key, value: { intValue: String(value) } });
  const system = { role: "system", parts: [{ type: "text", content: "You are the support bot of a shop. Answer briefly." }] };
  const user = { role: "user", parts: [{ type: "text", content: "Where is my order 42?" }] };
  const askTool = { role: "assistant", parts: [{ type: "tool_call", id: "call_1", name: "get_order", arguments: { order_id: 42 } }] };
  const toolResult = { role: "tool", parts: [{ type: "tool_call_response", id: "call_1", response: { status: "shipped", eta: "tomorrow" } }] };
  const answer = { role: "assistant", parts: [{ type: "text", content: answerText }], finish_reason: "stop" };
  const root = hex(8);
  const ms = 1_000_000n;
  const chat = (start, input, output) => [
    text("gen_ai.operation.name", "chat"), text("gen_ai.provider.name", "openai"), text("gen_ai.request.model", "gpt-4o-mini"),
    text("gen_ai.response.model", "gpt-4o-mini-2024-07-18"), int("gen_ai.usage.input_tokens", 420), int("gen_ai.usage.output_tokens", 35),
    int("gen_ai.usage.cache_read.input_tokens", 256), text("gen_ai.input.messages", JSON.stringify(input)), text("gen_ai.output.messages", JSON.stringify(output)),
  ];
  const tool = (name, id, result) => [
    text("gen_ai.operation.name", "execute_tool"), text("gen_ai.tool.name", name), text("gen_ai.tool.call.id", id),
    text("gen_ai.tool.call.arguments", JSON.stringify({ order_id: 42 })), ...(result ? [text("gen_ai.tool.call.result", result)] : []),
  ];
  return [
    { spanId: root, name: "invoke_agent support-bot", start: now - 900n * ms, end: now,
      attributes: [text("gen_ai.operation.name", "invoke_agent"), text("gen_ai.agent.name", "support-bot"), text("gen_ai.conversation.id", "conv-ui-1")] },
    { spanId: hex(8), parentSpanId: root, name: "chat gpt-4o-mini", start: now - 850n * ms, end: now - 600n * ms, attributes: chat(0, [system, user], [askTool]) },
    { spanId: hex(8), parentSpanId: root, name: "execute_tool get_order", start: now - 590n * ms, end: now - 500n * ms, attributes: tool("get_order", "call_1", '{"status":"shipped","eta":"tomorrow"}') },
    { spanId: hex(8), parentSpanId: root, name: "execute_tool notify", start: now - 490n * ms, end: now - 450n * ms, error: notifyFails, attributes: tool("notify", "call_2", notifyFails ? undefined : "sent") },
    { spanId: hex(8), parentSpanId: root, name: "chat gpt-4o-mini", start: now - 440n * ms, end: now - 10n * ms, attributes: chat(1, [system, user, askTool, toolResult], [answer]) },
  ];
}

async function shot(name) {
  await page.screenshot({ path: path.join(SHOTS, `${name}.png`) });
}

async function visit(route, readySelector) {
  await page.goto(box.ui + route);
  await page.waitForSelector(readySelector, { timeout: 15000 });
}

before(async () => {
  box = await startBox();
  gen(box, "traces", 1500);
  gen(box, "logs", 600);
  gen(box, "metrics", 300);
  const now = BigInt(Date.now()) * 1000000n;
  await sendLog(box, "xss-svc", "<b>bold?</b><img src=x onerror=alert(3)>");
  await sendTrace(box, "xss-svc", xssTrace, [{ spanId: hex(8), name: XSS, start: now - 5_000_000n, end: now, attributes: [{ key: "note", value: { stringValue: "<script>alert(2)</script>" } }] }]);
  const root = hex(8);
  await sendTrace(box, "checkout", smallTrace, [
    { spanId: root, name: "POST /checkout", start: now - 90_000_000n, end: now },
    { spanId: hex(8), parentSpanId: root, name: "reserve stock", start: now - 80_000_000n, end: now - 50_000_000n },
    { spanId: hex(8), parentSpanId: root, name: "charge card", start: now - 45_000_000n, end: now - 5_000_000n, error: true },
  ]);
  await sendTrace(box, "big-svc", hex(16), bigTrace(2000));
  // Services calling each other in a cycle: gateway -> orders -> billing -> orders.
  const cycle = hex(16), [g, o1, b, o2] = [hex(8), hex(8), hex(8), hex(8)];
  await sendTrace(box, "cyc-gateway", cycle, [{ spanId: g, name: "GET /order", start: now - 50_000_000n, end: now }]);
  await sendTrace(box, "cyc-orders", cycle, [
    { spanId: o1, parentSpanId: g, name: "load order", start: now - 45_000_000n, end: now - 5_000_000n },
    { spanId: o2, parentSpanId: b, name: "order total", start: now - 30_000_000n, end: now - 20_000_000n },
  ]);
  await sendTrace(box, "cyc-billing", cycle, [{ spanId: b, parentSpanId: o1, name: "invoice", start: now - 40_000_000n, end: now - 10_000_000n }]);
  await sendTrace(box, "support-bot", chatTrace, chatRun(now));
  await sendTrace(box, "support-bot", chatTraceAgain, chatRun(now - 5_000_000_000n, { answerText: "**Your order** ships <b>on Monday</b>.", notifyFails: false }));
  browser = await openBrowser();
  page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
  page.on("dialog", (d) => {
    dialogs.push(d.message());
    d.dismiss();
  });
  page.on("pageerror", (e) => pageErrors.push(e.message));
  page.on("request", (r) => requests.push(r.url()));
});

after(async () => {
  await browser?.close();
  await box?.stop();
  assert.deepEqual(pageErrors, [], "no uncaught errors in the page");
  const elsewhere = requests.filter((url) => !url.startsWith("http://127.0.0.1:") && !url.startsWith("data:"));
  assert.ok(requests.length > 50, `requests were recorded (${requests.length})`);
  assert.deepEqual(elsewhere, [], "the UI loads nothing from outside otelbox (it works offline)");
});

test("traces page lists traces with a scatter plot, and a search narrows them", async () => {
  // More traces than the list shows (200), so its heading must say it is the newest part.
  const now = BigInt(Date.now()) * 1000000n;
  for (let i = 0; i < 100; i++) {
    await sendTrace(box, "filler-svc", hex(16), [{ spanId: hex(8), name: "GET /health", start: now - 2_000_000n, end: now - 1_000_000n }]);
  }
  await visit("/traces", ".traces-table tbody tr");
  const all = await page.locator(".traces-table tbody tr").count();
  assert.ok(all > 20, `expected many traces, saw ${all}`);
  assert.ok((await page.locator(".scatter circle").count()) > 20);
  // A full list says how many match in all, not only the page.
  await page.waitForFunction(() => /trace/.test(document.querySelector(".list-heading")?.innerText || ""));
  assert.equal(all, 200);
  await page.waitForFunction(() => /^200 of [\d,]+ traces/.test(document.querySelector(".list-heading").innerText));
  await shot("traces");
  await page.fill("#search", "service = checkout");
  await page.press("#search", "Enter");
  await page.waitForFunction(() => document.querySelectorAll(".traces-table tbody tr").length === 1);
  assert.match(page.url(), /q=service\+%3D\+checkout|q=service%20%3D%20checkout/);
  assert.match(await page.locator(".traces-table tbody").innerText(), /POST \/checkout/);
});

test("a filter syntax error is shown under its column, and the URL keeps the search", async () => {
  await visit("/traces?q=" + encodeURIComponent("duration >"), ".filter-error");
  assert.match(await page.locator(".filter-error").innerText(), /column 11/);
  assert.equal(await page.locator(".filter-caret").innerText(), " ".repeat(10) + "^");
});

test("a search naming a key nothing has says so, and JSON attribute values are shown indented", async () => {
  await visit("/traces?q=" + encodeURIComponent('htp.method = "GET"'), ".search-warning");
  assert.match(await page.locator(".search-warning").first().innerText(), /htp\.method/);

  const traceId = hex(16);
  const now = BigInt(Date.now()) * 1000000n;
  const messages = JSON.stringify([{ role: "user", content: "where is my order?" }]);
  await sendTrace(box, "json-svc", traceId, [{ spanId: hex(8), name: "chat", start: now - 5_000_000n, end: now, attributes: [{ key: "gen_ai.input.messages", value: { stringValue: messages } }] }]);
  await visit(`/traces/${traceId}`, ".wf-row");
  await page.locator(".wf-row").first().click();
  await page.waitForSelector(".attr-json");
  assert.match(await page.locator(".attr-json").first().innerText(), /\n\s+"role": "user"/);
});

test("sorting by duration puts the longest trace first", async () => {
  await visit("/traces?sort=duration", ".traces-table tbody tr");
  const durations = await page.$$eval(".duration-cell span", (cells) => cells.map((c) => c.textContent));
  assert.ok(durations.length > 5);
  const ns = (t) => {
    const minutes = t.match(/^(\d+)m (\d+)s$/);
    if (minutes) return (Number(minutes[1]) * 60 + Number(minutes[2])) * 1e9;
    const [v, unit] = t.split(" ");
    return parseFloat(v) * { ns: 1, "µs": 1e3, ms: 1e6, s: 1e9 }[unit];
  };
  const values = durations.map(ns);
  assert.ok(values.every((v) => Number.isFinite(v)), durations.join(", "));
  for (let i = 1; i < values.length; i++) assert.ok(values[i - 1] >= values[i], `row ${i}: ${durations[i - 1]} before ${durations[i]}`);
});

test("keyboard: j/k move through the list and Enter opens the selected trace", async () => {
  await visit("/traces", ".traces-table tbody tr");
  const selectedIndex = () => page.$$eval(".traces-table tbody tr", (rows) => rows.findIndex((r) => r.classList.contains("selected")));
  await page.keyboard.press("j");
  await page.keyboard.press("j");
  await page.keyboard.press("j");
  assert.equal(await selectedIndex(), 2);
  await page.keyboard.press("k");
  assert.equal(await selectedIndex(), 1);
  const href = await page.locator(".traces-table tbody tr.selected a.trace-name").getAttribute("href");
  await page.keyboard.press("Enter");
  await page.waitForURL((url) => url.pathname === href);
  await page.keyboard.press("/"); // and / goes back to a search box on the list pages
  await visit("/logs", ".logs-table tbody tr");
  await page.keyboard.press("/");
  assert.equal(await page.evaluate(() => document.activeElement?.id), "search");
});

test("a trace opens as a waterfall with every span, error marks and span details", async () => {
  await visit(`/traces/${smallTrace}`, ".wf-row");
  assert.equal(await page.locator(".wf-row").count(), 3);
  assert.equal(await page.locator(".err-mark").count(), 1);
  await page.locator(".wf-row", { hasText: "charge card" }).click();
  await page.waitForSelector(".span-title");
  assert.equal(await page.locator(".span-title").innerText(), "charge card");
  assert.match(page.url(), /span=[0-9a-f]{16}/);
  assert.match(await page.locator(".detail").innerText(), /error/);
});

test("a generated agent trace shows its span count and its critical path; 2,000 spans stay virtualised", async () => {
  const { traces } = await box.api("/api/v1/traces?limit=1&q=" + encodeURIComponent('name = "invoke_agent research-assistant" and status = error'));
  const trace = traces[0];
  await visit(`/traces/${trace.trace_id}`, ".wf-row");
  assert.equal(await page.locator(".wf-row").count(), trace.span_count);
  assert.match(await page.locator(".wf-header").innerText(), new RegExp(`${trace.span_count} of ${trace.span_count} rows`));
  assert.equal(await page.locator(".wf-bar.critical").count(), 0, "the critical path is outlined only on request");
  await page.locator(".legend-row input[type=checkbox]").check();
  await page.waitForSelector(".wf-bar.critical");
  // Each service of the trace has a colour of its own.
  const colours = await page.locator(".legend-row .chip").evaluateAll((chips) => chips.map((c) => getComputedStyle(c).borderLeftColor));
  assert.equal(new Set(colours).size, colours.length, `distinct service colours: ${colours}`);
  // The name column's width follows its slider.
  await page.locator(".wf-width").fill("60");
  await page.waitForFunction(() => document.querySelector(".waterfall").style.getPropertyValue("--wf-name") === "60%");
  await page.locator(".wf-row").nth(2).click();
  await page.waitForSelector(".span-title");
  await shot("trace");

  const big = (await box.api("/api/v1/traces?service=big-svc&limit=1")).traces[0];
  await visit(`/traces/${big.trace_id}`, ".wf-row");
  assert.match(await page.locator(".wf-header").innerText(), /2000 of 2000 rows/);
  const drawn = await page.locator(".wf-row").count();
  assert.ok(drawn < 200, `only the visible rows are in the DOM, saw ${drawn}`);
  await page.locator(".wf-scroll").evaluate((el) => (el.scrollTop = 26 * 1500));
  await page.waitForSelector('.wf-row[style*="top:39000px"]', { state: "attached" }); // row 1,500 drawn after scrolling
  // Collapse a branch far down (child 37 of the root sits at row 1 + 40 * 37), while scrolled there.
  await page.locator(".wf-scroll").evaluate((el) => (el.scrollTop = 26 * 1481));
  await page.locator('.wf-row[style*="top:38506px"] .wf-toggle').click();
  await page.waitForFunction(() => /1961 of 2000 rows/.test(document.querySelector(".wf-header").innerText));
  assert.ok((await page.locator(".wf-row").count()) > 10, "rows are still drawn after collapsing while scrolled");
  await page.locator(".wf-scroll").evaluate((el) => (el.scrollTop = 0));
  await page.locator('.wf-row[style*="top:0px"] .wf-toggle').click(); // collapse the root
  await page.waitForFunction(() => /1 of 2000 rows/.test(document.querySelector(".wf-header").innerText));
});

test("a span named like HTML is shown as text and runs nothing", async () => {
  await visit("/traces?service=xss-svc", ".traces-table tbody tr");
  assert.match(await page.locator(".traces-table tbody").innerText(), /<img src=x onerror=alert\(1\)>/);
  await visit(`/traces/${xssTrace}`, ".wf-row");
  await page.locator(".wf-row").first().click();
  await page.waitForSelector(".span-title");
  assert.equal(await page.locator(".span-title").innerText(), XSS);
  assert.match(await page.locator(".detail").innerText(), /<script>alert\(2\)<\/script>/);
  assert.equal(await page.locator("img[src=x], main script").count(), 0);
  await visit("/logs?service=xss-svc", ".logs-table tbody tr");
  assert.equal(await page.locator(".log-body").first().innerText(), "<b>bold?</b><img src=x onerror=alert(3)>");
  assert.equal(await page.locator("main img, main b").count(), 0);
  assert.deepEqual(dialogs, []);
});

test("a span with 100,000 attributes opens at once with 200 shown and a button for the rest", async () => {
  const traceId = hex(16);
  const now = BigInt(Date.now()) * 1000000n;
  const attributes = Array.from({ length: 100000 }, (_, i) => ({ key: `attr.${String(i).padStart(6, "0")}`, value: { intValue: String(i) } }));
  await sendTrace(box, "wide-svc", traceId, [{ spanId: hex(8), name: "wide span", start: now - 5_000_000n, end: now, attributes }]);
  const opened = Date.now();
  await visit(`/traces/${traceId}`, ".wf-row");
  await page.locator(".wf-row").first().click();
  await page.waitForSelector(".show-all");
  const seconds = (Date.now() - opened) / 1000;
  console.log(`a span with 100,000 attributes opened in ${seconds} s`);
  assert.ok(seconds < 10, `the span opened in ${seconds} s`);
  assert.equal(await page.locator(".detail table.attrs").first().locator("tr").count(), 200);
  assert.match(await page.locator(".show-all").first().innerText(), /show all 100,000 attributes/);
  await shot("span-with-many-attributes");
});

test("logs page: severities, full-text search, a row expands, and it links to its trace", async () => {
  await visit("/logs", ".logs-table tbody tr");
  assert.ok((await page.locator(".logs-table .sev").count()) > 20);
  // logs.png is taken by charts-logs.test.mjs, with the severity histogram over known data.
  await visit("/logs?text=timeout", ".logs-table tbody tr");
  const bodies = await page.$$eval(".logs-table .log-body", (cells) => cells.map((c) => c.textContent));
  assert.ok(bodies.length > 0 && bodies.every((b) => /timeout/.test(b)), bodies.slice(0, 3).join(" | "));
  await page.locator(".logs-table tbody tr.log-row").first().click();
  await page.waitForSelector(".log-detail");
  const traceLink = page.locator(".log-detail a").first();
  const href = await traceLink.getAttribute("href");
  assert.match(href, /^\/traces\/[0-9a-f]{32}/);
});

test("live tail shows a log record sent after the page opened", async () => {
  await visit("/logs", ".logs-table tbody tr");
  await page.click(".live-toggle");
  await page.waitForSelector('.live:has-text("● live")'); // the EventSource is connected
  const marker = `live-tail-marker-${hex(4)}`;
  await sendLog(box, "tail-svc", marker);
  await page.waitForSelector(`.log-body:has-text("${marker}")`, { timeout: 10000 });
  await page.click(".pause");
  const second = `paused-marker-${hex(4)}`;
  await sendLog(box, "tail-svc", second);
  await page.waitForFunction(() => /Resume \(1 new\)/.test(document.querySelector(".pause").innerText), null, { timeout: 10000 });
  assert.equal(await page.locator(`.log-body:has-text("${second}")`).count(), 0, "held back while paused");
  await page.click(".pause");
  await page.waitForSelector(`.log-body:has-text("${second}")`);
});

test("metrics: the list searches, and a histogram is charted as p50/p95/p99", async () => {
  await visit("/metrics", ".metric-list tbody tr");
  const total = await page.locator(".metric-list tbody tr").count();
  assert.ok(total >= 2);
  await shot("metrics");
  await page.fill("#search", "duration");
  await page.waitForFunction((n) => document.querySelectorAll(".metric-list tbody tr").length < n, total);
  const names = await page.$$eval(".metric-list tbody tr", (rows) => rows.map((r) => r.innerText));
  assert.ok(names.length >= 1 && names.every((n) => /duration/i.test(n)), names.join(" | "));
  await page.goto(box.ui + "/metrics/gen_ai.client.operation.duration");
  await page.waitForSelector(".chart path.series", { state: "attached", timeout: 15000 });
  const legend = await page.locator(".legend").innerText();
  for (const p of ["p50", "p95", "p99"]) assert.match(legend, new RegExp(p));
  // metric.png is taken by charts-logs.test.mjs, with exemplars over twenty minutes of points.
});

test("services: rates, errors and latency per service, operations, and the dependency map", async () => {
  await visit("/services", ".services-table tbody tr");
  const text = await page.locator(".services-table").innerText();
  assert.match(text, /agent-api/);
  assert.match(text, /tools-svc/);
  await page.waitForSelector(".depmap .node");
  assert.ok((await page.locator(".depmap .edge").count()) >= 1);
  // The cycle's closing edge is drawn apart (dashed, below the nodes), and the legend says so.
  assert.ok((await page.locator(".depmap .edge.back").count()) >= 1);
  assert.match(await page.locator(".depmap-legend").innerText(), /dashed edges close a cycle/);
  await page.locator(".service-row", { hasText: "agent-api" }).click();
  await page.waitForSelector("tr.ops");
  await shot("services");
});

test("LLM runs: tokens, models and tool calls per run, and a run_id search finds one run", async () => {
  await visit("/llm", ".llm-table tbody tr");
  assert.ok((await page.locator(".llm-table tbody tr").count()) > 10);
  assert.match(await page.locator(".llm-table").innerText(), /research-assistant/);
  await shot("llm");
  const runId = await page.locator(".llm-table tbody tr a.mono").first().innerText();
  await visit("/llm?run_id=" + encodeURIComponent(runId), ".llm-table tbody tr");
  assert.equal(await page.locator(".llm-table tbody tr").count(), 1);
});

test("an LLM run reads as a chat: history once, tool calls paired, failures inline, markdown as text", async () => {
  await visit("/llm/runs/" + chatTrace, ".call");
  assert.equal(await page.locator(".call").count(), 2, "two model calls");
  const conversation = await page.locator(".run-layout").innerText();
  assert.match(conversation, /Where is my order 42\?/);
  assert.match(conversation, /\*\*Your order\*\* ships <b>tomorrow<\/b>\./, "markdown and HTML shown as typed");
  assert.equal(await page.locator(".msg-text b").count(), 0, "no markup from a message is rendered");
  assert.equal(await page.locator(".tool-exec.error").count(), 1, "the failed tool is marked");
  assert.match(await page.locator(".call").nth(1).locator("details.history > summary").innerText(), /3 earlier messages/, "the resent history is folded");
  assert.match(await page.locator(".call").first().innerText(), /get_order/);
  assert.match(await page.locator(".cards").innerText(), /\$0\.0/, "a computed cost");
  await shot("llm-run");
  // The model and the failure are on different spans: the run matches both conditions.
  await visit("/llm?q=" + encodeURIComponent('llm.model = "gpt-4o-mini" and status = error'), ".llm-table tbody tr");
  assert.equal(await page.locator(".llm-table tbody tr").count(), 1);
  // Two generated runs of one agent, compared call by call.
  await visit("/llm", ".llm-table tbody tr");
  await page.locator("a", { hasText: "vs previous" }).first().click();
  await page.waitForSelector(".llm-compare tbody tr", { timeout: 15000 });
  assert.ok((await page.locator(".llm-compare tbody tr").count()) >= 2);
  assert.match(await page.locator(".cards").innerText(), /tokens in/);
  // The same conversation answered differently: the answer's changed words are marked.
  await visit(`/llm/compare?a=${chatTraceAgain}&b=${chatTrace}`, ".llm-compare tbody tr");
  const diffs = page.locator(".llm-compare details.text-diff");
  await diffs.last().locator("summary").click();
  assert.equal(await diffs.last().locator("del.diff-del").innerText(), "<b>on Monday</b>.", "the first run's words");
  assert.equal(await diffs.last().locator("ins.diff-ins").innerText(), "<b>tomorrow</b>.", "the second run's words");
  assert.match(await page.locator(".llm-compare").innerText(), /ok → error/, "the tool that now fails");
  await shot("llm-compare");
  await visit("/llm/sessions", ".llm-sessions tbody tr");
  assert.match(await page.locator(".llm-sessions").innerText(), /conv-ui-1/);
  await shot("llm-sessions");
  await visit("/llm/models", ".llm-models tbody tr");
  assert.match(await page.locator(".llm-models").innerText(), /gpt-4o-mini/);
  assert.match(await page.locator(".llm-agents").innerText(), /support-bot/);
  await shot("llm-models");
});

test("setup page: endpoints, env vars to copy, counters, receivers and stages in pipeline order", async () => {
  await visit("/setup", ".setup-grid");
  const text = await page.locator(".setup-grid").innerText();
  assert.ok(text.includes(box.otlpHttp), "shows the HTTP endpoint");
  assert.match(text, /OTEL_EXPORTER_OTLP_ENDPOINT/);
  // Received is not called stored: processors may drop part of it.
  assert.match(text, /received \(acknowledged\)/);
  assert.match(text, /dropped by processors/);
  assert.match(text, /\bstored\b/);
  assert.doesNotMatch(text, /accepted \(stored\)/);
  const receivers = await page.locator("table.receivers").innerText();
  assert.match(receivers, /otlp/);
  assert.ok(receivers.includes(box.otlpHttp), "the otlp receiver with its HTTP endpoint");
  assert.match(text, /processor\/batch/, "each pipeline component is listed with its counters");
  const stages = await page.$$eval("table.components tbody tr", (rows) => rows.map((r) => r.cells[1].textContent));
  assert.ok(stages.length >= 3, "memory_limiter, batch and the storage exporter");
  const at = (name) => stages.findIndex((s) => s === name);
  assert.ok(at("processor/memory_limiter") < at("processor/batch") && at("processor/batch") < at("exporter/otelbox"), stages.join(" | "));
  await shot("setup");
});

test("dark theme follows the toggle and an unknown route says so", async () => {
  await visit("/traces", ".traces-table tbody tr");
  await page.click("text=Theme: system");
  await page.click("text=Theme: light");
  await page.waitForFunction(() => document.documentElement.dataset.theme === "dark");
  await page.waitForTimeout(200);
  await shot("traces-dark");
  await page.click("text=Theme: dark"); // back to following the system
  await visit("/no-such-page", "h2");
  assert.match(await page.locator("h2").innerText(), /not found/i);
});

test("an empty box tells a new user how to send data", async () => {
  const empty = await startBox();
  try {
    for (const route of ["/traces", "/logs", "/llm"]) {
      await page.goto(empty.ui + route);
      await page.waitForSelector(".empty", { timeout: 15000 });
      const text = await page.locator(".empty").innerText();
      await page.waitForFunction((e) => document.querySelector(".empty").innerText.includes(e), empty.otlpHttp);
      assert.ok(text.includes("OTEL_EXPORTER_OTLP_ENDPOINT="), text);
      assert.match(text, /otelbox gen/);
    }
    await page.goto(empty.ui + "/traces");
    await page.waitForSelector(".empty");
    await shot("empty");
  } finally {
    await empty.stop();
  }
});

test("with an API token, the UI asks for it, refuses a wrong one, and shows data after the right one", async () => {
  const guarded = await startBox(["--api-token", "ui-token-42"]);
  const context = await browser.newContext({ viewport: { width: 1400, height: 900 } });
  const tab = await context.newPage();
  try {
    await tab.goto(guarded.ui + "/setup");
    await tab.waitForSelector("#token", { timeout: 15000 });
    await tab.screenshot({ path: path.join(SHOTS, "login.png") });
    await tab.fill("#token", "wrong");
    await tab.press("#token", "Enter");
    await tab.waitForSelector(".login .filter-error");
    assert.match(await tab.locator(".login .filter-error").innerText(), /not an API token/);
    await tab.fill("#token", "ui-token-42");
    await tab.press("#token", "Enter");
    await tab.waitForSelector(".setup-grid", { timeout: 15000 });
    assert.equal(await tab.locator("#token").count(), 0);
    const cookies = await context.cookies();
    assert.ok(cookies.some((c) => c.name === "otelbox_session" && c.httpOnly && c.value !== "ui-token-42"), "an HttpOnly session cookie, not the token");
    await tab.click(".logout");
    await tab.waitForSelector("#token");
  } finally {
    await context.close();
    await guarded.stop();
  }
});
