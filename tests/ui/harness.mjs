// Shared by the browser tests and the UI benchmark: start a real `otelbox up --memory` on free ports,
// load it with data (`otelbox gen` and hand-made OTLP/JSON), and open Debian's headless Chromium.
import { spawn, execFileSync } from "node:child_process";
import { createServer } from "node:net";
import { randomBytes } from "node:crypto";
import { fileURLToPath } from "node:url";
import path from "node:path";
import { chromium } from "playwright-core";

export const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..");
export const OTELBOX = process.env.OTELBOX_BIN || path.join(REPO, "target", "debug", "otelbox");
const CHROMIUM = process.env.CHROMIUM || "/usr/bin/chromium";

async function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
    server.on("error", reject);
  });
}

export async function startBox(extraArgs = []) {
  const [grpc, http, ui] = [await freePort(), await freePort(), await freePort()];
  const logs = [];
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith("OTELBOX_")));
  const proc = spawn(OTELBOX, ["up", "--memory", "--grpc-port", grpc, "--http-port", http, "--ui-port", ui, ...extraArgs].map(String), {
    stdio: ["ignore", "pipe", "pipe"],
    env,
  });
  proc.stdout.on("data", (d) => logs.push(d.toString()));
  proc.stderr.on("data", (d) => logs.push(d.toString()));
  const box = {
    proc,
    ui: `http://127.0.0.1:${ui}`,
    otlpHttp: `http://127.0.0.1:${http}`,
    log: () => logs.join(""),
    async stop() {
      proc.kill("SIGTERM");
      await new Promise((r) => proc.once("exit", r));
    },
    async api(pathAndQuery) {
      const response = await fetch(this.ui + pathAndQuery);
      if (!response.ok) throw new Error(`${pathAndQuery}: HTTP ${response.status} ${await response.text()}`);
      return response.json();
    },
  };
  for (let i = 0; i < 100; i++) {
    try {
      if ((await fetch(box.ui + "/readyz")).ok) return box;
    } catch {}
    if (proc.exitCode !== null) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`otelbox did not become ready\n${box.log()}`);
}

/** `otelbox gen` into the box: as fast as it accepts, or at `rate` items per second. */
export function gen(box, signal, count, rate = 0) {
  const batch = rate ? "50" : "200";
  execFileSync(OTELBOX, ["gen", signal, "--endpoint", box.otlpHttp, "--count", String(count), "--rate", String(rate), "--batch", batch], {
    stdio: "pipe",
  });
}

export const hex = (bytes) => randomBytes(bytes).toString("hex");

/** POST one OTLP/JSON request; throws unless the box answers 2xx. */
export async function postOtlp(box, signal, body) {
  const response = await fetch(`${box.otlpHttp}/v1/${signal}`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  if (!response.ok) throw new Error(`/v1/${signal}: HTTP ${response.status} ${await response.text()}`);
}

const resource = (service) => ({ attributes: [{ key: "service.name", value: { stringValue: service } }] });

/** Sends `spans` (objects with name, spanId, parentSpanId, start/end ns, optional status) as one trace. */
export async function sendTrace(box, service, traceId, spans, batch = 1000) {
  for (let i = 0; i < spans.length; i += batch) {
    const chunk = spans.slice(i, i + batch).map((s) => ({
      traceId,
      spanId: s.spanId,
      parentSpanId: s.parentSpanId || "",
      name: s.name,
      kind: 2,
      startTimeUnixNano: String(s.start),
      endTimeUnixNano: String(s.end),
      status: s.error ? { code: 2, message: "failed" } : {},
      attributes: s.attributes || [],
    }));
    await postOtlp(box, "traces", { resourceSpans: [{ resource: resource(service), scopeSpans: [{ scope: { name: "ui-test" }, spans: chunk }] }] });
  }
}

export async function sendLog(box, service, body, extra = {}) {
  await postOtlp(box, "logs", {
    resourceLogs: [{
      resource: resource(service),
      scopeLogs: [{ scope: { name: "ui-test" }, logRecords: [{
        timeUnixNano: String(BigInt(Date.now()) * 1000000n),
        severityNumber: 17,
        severityText: "ERROR",
        body: { stringValue: body },
        ...extra,
      }] }],
    }],
  });
}

/** A trace of `n` spans: a root, `fanout` children under it, the rest spread below them. */
export function bigTrace(n, fanout = 50) {
  const now = BigInt(Date.now()) * 1000000n;
  const start = now - 60_000_000_000n;
  const spans = [{ spanId: hex(8), name: "big root", start, end: start + 30_000_000_000n }];
  for (let i = 1; i < n; i++) {
    const parent = i <= fanout ? spans[0] : spans[1 + ((i - fanout - 1) % fanout)];
    const offset = BigInt(i) * 2_000_000n;
    spans.push({ spanId: hex(8), parentSpanId: parent.spanId, name: `step ${i}`, start: start + offset, end: start + offset + 1_000_000n, error: i % 97 === 0 });
  }
  return spans;
}

export async function openBrowser() {
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
  return browser;
}

/** Sends spans that each name their `service` as one trace: a request per service. */
export async function sendServiceSpans(box, traceId, spans) {
  const byService = new Map();
  for (const s of spans) byService.set(s.service, [...(byService.get(s.service) || []), s]);
  for (const [service, list] of byService) await sendTrace(box, service, traceId, list);
}

/**
 * A trace of `n` spans whose services call each other in a cycle down the tree (a -> b -> c -> a ...):
 * breadth first, each span calls `fanout` children one after the other within its own time.
 */
export function cyclicTrace(n, services = ["cyc-a", "cyc-b", "cyc-c"], fanout = 3) {
  const now = BigInt(Date.now()) * 1000000n;
  const root = { spanId: hex(8), service: services[0], name: "GET /cycle", start: now - 20_000_000_000n, end: now - 10_000_000_000n, depth: 0 };
  const spans = [root];
  const operations = ["handle", "query", "call", "render"];
  for (let at = 0; spans.length < n; at++) {
    const parent = spans[at];
    const slot = (parent.end - parent.start) / BigInt(fanout);
    for (let i = 0; i < fanout && spans.length < n; i++) {
      const depth = parent.depth + 1;
      const service = services[depth % services.length];
      const start = parent.start + slot * BigInt(i) + slot / 10n;
      spans.push({ spanId: hex(8), parentSpanId: parent.spanId, service, name: `${operations[(depth + i) % operations.length]} ${service}`,
        start, end: start + (slot * 8n) / 10n, depth, error: spans.length % 211 === 0 });
    }
  }
  return spans;
}
