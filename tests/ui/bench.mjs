// UI benchmark for scripts/bench: how long the trace page takes to show a 10,000-span trace in headless
// Chromium, from navigation start until the waterfall's header reports every row, and its flame graph
// and statistics views until they account for every span; the same three views for a 10,000-span trace
// whose services call each other in a cycle down the tree; and how long the LLM run page takes to show
// an agent run of 500 model calls (each with its messages) and 500 tool calls, until every call is on
// the page. Prints JSON.
import { startBox, sendTrace, sendServiceSpans, openBrowser, bigTrace, cyclicTrace, hex } from "./harness.mjs";

const SPANS = Number(process.env.UI_BENCH_SPANS || 10000);
const RUNS = Number(process.env.UI_BENCH_RUNS || 5);
const LLM_CALLS = Number(process.env.UI_BENCH_LLM_CALLS || 500);

/// An agent run of `calls` chat calls in the current OTel GenAI attributes (system prompt, the question,
/// the previous tool result in; a tool call or the answer out), each followed by a tool execution.
function llmRun(calls) {
  const text = (key, value) => ({ key, value: { stringValue: value } });
  const int = (key, value) => ({ key, value: { intValue: String(value) } });
  const now = BigInt(Date.now()) * 1000000n;
  const ms = 1000000n;
  const start = now - BigInt(calls) * 20n * ms;
  const root = hex(8);
  const spans = [{ spanId: root, name: "invoke_agent bench-agent", start, end: now,
    attributes: [text("gen_ai.operation.name", "invoke_agent"), text("gen_ai.agent.name", "bench-agent")] }];
  const system = { role: "system", parts: [{ type: "text", content: "You are a careful research agent. Use the tools, cite sources, answer briefly." }] };
  const user = { role: "user", parts: [{ type: "text", content: "Summarise the open incidents of this week and their causes." }] };
  for (let i = 0; i < calls; i++) {
    const t0 = start + BigInt(i) * 20n * ms;
    const id = `call_${i}`;
    const previous = i === 0 ? [] : [{ role: "tool", parts: [{ type: "tool_call_response", id: `call_${i - 1}`, response: `result ${i - 1}: 3 incidents, 1 open` }] }];
    const output = [{ role: "assistant", parts: [{ type: "text", content: `Step ${i}: checking the next source.` }, { type: "tool_call", id, name: "search", arguments: { query: `incidents page ${i}` } }] }];
    spans.push({ spanId: hex(8), parentSpanId: root, name: "chat gpt-4o-mini", start: t0, end: t0 + 12n * ms, attributes: [
      text("gen_ai.operation.name", "chat"), text("gen_ai.provider.name", "openai"), text("gen_ai.request.model", "gpt-4o-mini"),
      int("gen_ai.usage.input_tokens", 900 + i), int("gen_ai.usage.output_tokens", 40),
      text("gen_ai.input.messages", JSON.stringify([system, user, ...previous])), text("gen_ai.output.messages", JSON.stringify(output)),
    ] });
    spans.push({ spanId: hex(8), parentSpanId: root, name: "execute_tool search", start: t0 + 13n * ms, end: t0 + 19n * ms, attributes: [
      text("gen_ai.operation.name", "execute_tool"), text("gen_ai.tool.name", "search"), text("gen_ai.tool.call.id", id),
      text("gen_ai.tool.call.arguments", JSON.stringify({ query: `incidents page ${i}` })), text("gen_ai.tool.call.result", `result ${i}: 3 incidents, 1 open`),
    ] });
  }
  return spans;
}

/// Median and max milliseconds of `RUNS` warm loads of `url`, each until `ready` holds in the page.
async function timeLoads(page, url, ready, arg) {
  await page.goto(url); // warm: the wasm is compiled and cached once, as for a returning user
  await page.waitForFunction(ready, arg, { timeout: 60000 });
  const times = [];
  for (let i = 0; i < RUNS; i++) {
    await page.goto("about:blank");
    const started = Date.now();
    await page.goto(url);
    await page.waitForFunction(ready, arg, { timeout: 60000 });
    times.push(Date.now() - started);
  }
  times.sort((a, b) => a - b);
  return { median_ms: times[Math.floor(times.length / 2)], max_ms: times[times.length - 1], times_ms: times };
}

const box = await startBox();
const browser = await openBrowser();
try {
  const traceId = hex(16);
  await sendTrace(box, "bench-svc", traceId, bigTrace(SPANS));
  const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
  const trace = await timeLoads(page, `${box.ui}/traces/${traceId}`,
    (n) => document.querySelector(".wf-header")?.innerText.includes(`${n} of ${n} rows`), SPANS);
  const rows = await page.locator(".wf-row").count();
  const flameReady = (n) => document.querySelector(".flame-note")?.innerText.includes(`of ${n} spans drawn`);
  const statsReady = (n) => document.querySelector(".stats-caption")?.innerText.startsWith(`${n} spans in`);
  const flame = await timeLoads(page, `${box.ui}/traces/${traceId}?view=flame`, flameReady, SPANS);
  const stats = await timeLoads(page, `${box.ui}/traces/${traceId}?view=stats`, statsReady, SPANS);
  const cyclicId = hex(16);
  await sendServiceSpans(box, cyclicId, cyclicTrace(SPANS));
  const cyclic = {
    waterfall: await timeLoads(page, `${box.ui}/traces/${cyclicId}`,
      (n) => document.querySelector(".wf-header")?.innerText.includes(`${n} of ${n} rows`), SPANS),
    flame: await timeLoads(page, `${box.ui}/traces/${cyclicId}?view=flame`, flameReady, SPANS),
    flame_bars: await page.locator(".flame-bar").count(),
    stats: await timeLoads(page, `${box.ui}/traces/${cyclicId}?view=stats`, statsReady, SPANS),
  };
  const runId = hex(16);
  await sendTrace(box, "bench-agent", runId, llmRun(LLM_CALLS));
  const run = await timeLoads(page, `${box.ui}/llm/runs/${runId}`, (n) => document.querySelectorAll(".call").length === n, LLM_CALLS);
  console.log(JSON.stringify({ spans: SPANS, runs: RUNS, ...trace, dom_rows: rows, flame, stats, cyclic,
    llm_run: { calls: LLM_CALLS, spans: 2 * LLM_CALLS + 1, ...run } }));
} finally {
  await browser.close();
  await box.stop();
}
