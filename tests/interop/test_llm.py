# LLM instrumentation interop tests for otelbox.
#
# Starts one `otelbox up --memory` and one fake OpenAI-compatible server
# (llm/fake_openai.py) for the module, then for each variant runs the same
# agent scenario (llm/scenario.py: embeddings, chat -> tool get_weather ok,
# chat -> tool get_stock failing, streamed chat -> final answer) instrumented
# by one real library from PyPI (llm/agent_*.py, each in its venv under
# tests/interop/.venvs, made by llm/setup.sh), exporting OTLP/HTTP protobuf
# to otelbox. Then checks what otelbox made of it: the raw trace through
# /api/v1/traces, and the normalized run through /api/v1/llm/runs,
# /llm/runs/{trace_id}, /llm/sessions and /llm/models: one run per marker,
# call and tool counts, tool errors, exact token sums as the fake server
# reported them, messages with roles, cost and dialects. Where a library does
# not record something, the expectation says what it does record, and why.
#
# Nothing here skips: a missing venv or package is a failure. Set
# LLM_CAPTURE_DIR=/some/dir to also dump each variant's stored trace(s), log
# records and normalized run there as <variant>.json.

import json
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
import requests

HERE = Path(__file__).resolve().parent
LLM_DIR = HERE / "llm"
VENVS = HERE / ".venvs"
CAPTURE_DIR = os.environ.get("LLM_CAPTURE_DIR")

sys.path.insert(0, str(LLM_DIR))
import fake_openai  # noqa: E402  (stdlib only; lives beside the agent scripts)

POLL_TIMEOUT_S = 10
SCRIPT_TIMEOUT_S = 120

AGENT = "weather_agent"
TOOLS = [{"name": "get_stock", "calls": 1, "errors": 1}, {"name": "get_weather", "calls": 1, "errors": 0}]
CHAT = fake_openai.expected_totals()  # the three chat calls' sums: input 490 (cache_read 320), output 72 (reasoning 12)
EMBEDDING_INPUT = fake_openai.EMBEDDING_TOKENS  # 9
# List prices in USD per 1M tokens (gpt-4o-mini: input, output, cached input;
# text-embedding-3-small: input), as a "computed" cost must use them.
PRICE_IN, PRICE_OUT, PRICE_CACHED, PRICE_EMBED = 0.15, 0.6, 0.075, 0.02


def variant(venv, script, dialect, *, env=None, embeddings=True, embedding_tokens=True, cache_read=True,
            reasoning=0, session=True, agent=AGENT, run_id=False, messages=True, tool_call_ids=True,
            cost="computed", call_dialect=None):
    """What one variant sends and what otelbox should make of it (see VARIANTS for the reasons)."""
    return dict(venv=venv, script=script, dialect=dialect, env=env or {}, embeddings=embeddings,
                embedding_tokens=embedding_tokens, cache_read=cache_read, reasoning=reasoning, session=session,
                agent=agent, run_id=run_id, messages=messages, tool_call_ids=tool_call_ids, cost=cost,
                call_dialect=call_dialect or dialect)


VARIANTS = {
    # opentelemetry-instrumentation-openai-v2 2.3b0, default conventions: messages as log records.
    # Chat completions: only prompt/completion tokens (no cached, no reasoning keys on that path).
    "openai-v2": variant("otel-legacy", "agent_openai_v2.py", "otel_genai", cache_read=False),
    # openai-v2 2.4b0 + util-genai 1.1b0, latest conventions, content in gen_ai.input/output.messages.
    # Cached tokens are only read on its Responses API path, not for chat completions; no reasoning either.
    "openai-v2-latest": variant("llm", "agent_openai_v2_latest.py", "otel_genai", cache_read=False),
    # OpenInference records llm.token_count.prompt_details.cache_read and completion_details.reasoning.
    # Its tool span carries tool.id (its key for the tool call's id), its agent span agent.name, every span
    # session.id.
    "openinference": variant("llm", "agent_openinference.py", "openinference", reasoning=CHAT["reasoning"]),
    # OpenLLMetry 0.62.4: gen_ai.usage.reasoning_tokens only on non-streamed calls (0 there), none on the
    # streamed one that reported 12; its @tool spans carry no tool call id. Its model-call spans carry
    # gen_ai.operation.name and no traceloop.* key: OTel GenAI; traceloop.span.kind marks @agent/@tool.
    "traceloop": variant("llm", "agent_traceloop.py", "traceloop", tool_call_ids=False, call_dialect="otel_genai"),
    # MLflow: no token usage on its EMBEDDING span, no reasoning in mlflow.chat.tokenUsage, no tool call id
    # on TOOL spans; the session (update_current_trace(session_id=)) is trace metadata, not exported.
    "mlflow": variant("llm", "agent_mlflow.py", "mlflow", embedding_tokens=False, session=False,
                      tool_call_ids=False),
    # The same with MLFLOW_ENABLE_OTEL_GENAI_SEMCONV=true: MLflow's translator writes GenAI keys only and
    # drops the cached tokens (no gen_ai.usage.cache_read.input_tokens) as well.
    "mlflow-genai": variant("llm", "agent_mlflow.py", "otel_genai", env={"MLFLOW_ENABLE_OTEL_GENAI_SEMCONV": "true"},
                            embedding_tokens=False, cache_read=False, session=False, tool_call_ids=False),
    # OpenLIT reports gen_ai.usage.cost itself (from llm/openlit_pricing.json); no reasoning tokens.
    "openlit": variant("llm", "agent_openlit.py", "openlit", cost="reported"),
    # Plain keys: llm.tokens_in/out only (no cached/reasoning keys), no messages, no session, no tool call
    # id, no key for embeddings (the embeddings call is an unmarked span) nor for the agent's name (the
    # root's agent.name alone does not make it a plain-keys span); run_id on every span.
    "plain": variant("llm", "agent_plain.py", "plain_keys", embeddings=False, cache_read=False, session=False,
                     agent="", run_id=True, messages=False, tool_call_ids=False),
}


# --------------------------------------------------------------------------
# otelbox and the fake OpenAI server
# --------------------------------------------------------------------------


# The box, its fixture and its helpers are the SDK interop tests' own (`test_interop.py`): one `otelbox
# up --memory` for this module, its API reached with `otelbox.get("/api/v1/...")`.
from test_interop import otelbox  # noqa: E402,F401  (a pytest fixture, used by name)


@pytest.fixture(scope="module")
def fake_server():
    with fake_openai.FakeOpenAI() as server:
        yield server


def poll(fn, timeout=POLL_TIMEOUT_S, interval=0.2):
    """Call fn until it returns without AssertionError; re-raise the last one."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return fn()
        except AssertionError:
            if time.monotonic() > deadline:
                raise
        time.sleep(interval)


# --------------------------------------------------------------------------
# running a variant (once per module, shared by its tests)
# --------------------------------------------------------------------------


class Sent:
    def __init__(self, name, marker, summary, trace_id):
        self.name = name
        self.marker = marker
        self.summary = summary
        self.trace_id = trace_id


@pytest.fixture(scope="module")
def sent_runs():
    return {}


def run_variant(name, box, server, cache):
    """Runs the variant's agent script once; returns what it sent, its stored trace found."""
    if name in cache:
        if isinstance(cache[name], str):
            pytest.fail(f"variant {name} did not send (see its first test): {cache[name]}", pytrace=False)
        return cache[name]
    spec = VARIANTS[name]
    python = VENVS / spec["venv"] / "bin" / "python"
    if not python.is_file():
        cache[name] = f"no venv at {python.parent.parent}"
        pytest.fail(f"{cache[name]}: run tests/interop/setup.sh (or tests/interop/llm/setup.sh)", pytrace=False)
    marker = f"llm-{name}-{uuid.uuid4().hex[:12]}"
    # Nothing from the environment that these libraries read may change what they send.
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("OTEL_", "TRACELOOP_", "MLFLOW_", "OPENLIT_", "OPENINFERENCE_", "OPENAI_"))}
    env.update({
        "OTEL_EXPORTER_OTLP_ENDPOINT": box.http_endpoint,
        "OTEL_SERVICE_NAME": marker,
        "LLM_RUN_ID": marker,
        "FAKE_OPENAI_BASE_URL": server.base_url,
        "PYTHONDONTWRITEBYTECODE": "1",
        **spec["env"],
    })
    cmd = [str(python), spec["script"]]
    try:
        p = subprocess.run(cmd, cwd=LLM_DIR, env=env, capture_output=True, text=True, timeout=SCRIPT_TIMEOUT_S,
                           stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired as exc:
        cache[name] = "timed out"
        pytest.fail(f"{spec['script']} timed out after {SCRIPT_TIMEOUT_S}s\nstdout:\n{exc.stdout}\n"
                    f"stderr:\n{exc.stderr}", pytrace=False)
    summary = next((json.loads(line[len("SUMMARY "):]) for line in p.stdout.splitlines()
                    if line.startswith("SUMMARY ")), None)
    if p.returncode != 0 or summary is None:
        cache[name] = f"exit {p.returncode}"
        pytest.fail(f"{spec['script']} failed (exit {p.returncode})\nstdout:\n{p.stdout}\nstderr:\n{p.stderr}"
                    f"\n--- otelbox log ---\n{box.log_tail()}", pytrace=False)
    assert summary["answer"] == fake_openai.FINAL_ANSWER, summary

    def one_trace():
        traces = box.get("/api/v1/traces", q=f'service = "{marker}"', since="1h")["traces"]
        assert len(traces) == 1, f"expected one trace of service {marker}, got {len(traces)}: {traces}"
        assert traces[0]["span_count"] >= 7, traces[0]  # agent, embeddings, 3 chats, 2 tools
        return traces[0]["trace_id"], traces[0]["span_count"]

    # The script flushed everything before it exited; wait until otelbox's count of spans settles.
    trace_id, count = poll(one_trace)
    while True:
        time.sleep(0.3)
        trace_id, again = poll(one_trace)
        if again == count:
            break
        count = again
    assert trace_id == summary["trace_id"], (trace_id, summary)
    cache[name] = Sent(name, marker, summary, trace_id)
    return cache[name]


def capture(box, sent):
    """Dumps the stored trace, its log records and the normalized run for the normalizer's authors."""
    if not CAPTURE_DIR:
        return
    out = {"variant": sent.name, "service": sent.marker, "summary": sent.summary,
           "trace": box.get(f"/api/v1/traces/{sent.trace_id}"),
           "logs": box.get("/api/v1/logs", q=f'trace_id = "{sent.trace_id}"', limit=1000).get("logs", [])}
    out["logs_outside_trace"] = [log for log in box.get("/api/v1/logs", service=sent.marker, limit=1000).get("logs", [])
                                 if log.get("trace_id") != sent.trace_id]
    r = requests.get(f"{box.api}/api/v1/llm/runs/{sent.trace_id}", timeout=10)
    out["llm_run"] = r.json() if r.status_code == 200 else {"status": r.status_code, "body": r.text[:500]}
    Path(CAPTURE_DIR).mkdir(parents=True, exist_ok=True)
    Path(CAPTURE_DIR, f"{sent.name}.json").write_text(json.dumps(out, indent=1))


# --------------------------------------------------------------------------
# expectations
# --------------------------------------------------------------------------


def expected_tokens(spec):
    embedding = EMBEDDING_INPUT if spec["embeddings"] and spec["embedding_tokens"] else 0
    return {
        "input": CHAT["input"] + embedding,  # OTel rule: input includes the cached tokens
        "output": CHAT["output"],  # and output includes the reasoning tokens
        "cache_read": CHAT["cache_read"] if spec["cache_read"] else 0,
        "cache_creation": 0,
        "reasoning": spec["reasoning"],
    }


def expected_computed_cost(tokens):
    """Cached input at the cached price, the rest of the input at the input price, reasoning as output."""
    cached = tokens["cache_read"]
    embedding = tokens["input"] - CHAT["input"]
    return ((CHAT["input"] - cached) * PRICE_IN + cached * PRICE_CACHED + tokens["output"] * PRICE_OUT
            + embedding * PRICE_EMBED) / 1e6


def reported_cost(trace):
    """Sum of the gen_ai.usage.cost that the library put on its spans."""
    return sum(s["attributes"].get("gen_ai.usage.cost", 0) for s in trace["spans"])


def text_of(message):
    return "".join(p.get("content", "") for p in message["parts"] if p["type"] == "text")


# --------------------------------------------------------------------------
# tests
# --------------------------------------------------------------------------


@pytest.mark.parametrize("name", list(VARIANTS))
def test_spans_arrive(name, otelbox, fake_server, sent_runs):
    """The script runs and its spans are stored as one trace (the raw API, no LLM normalization)."""
    sent = run_variant(name, otelbox, fake_server, sent_runs)
    trace = otelbox.get(f"/api/v1/traces/{sent.trace_id}")
    spans = trace["spans"]
    assert len(spans) >= 7, f"agent + embeddings + 3 chats + 2 tools expected, got {[s['name'] for s in spans]}"
    assert {s["resource"].get("service.name") for s in spans} == {sent.marker}
    errors = [s for s in spans if s["status"]["code"] == "error"]
    assert len(errors) == 1 and "stock service unavailable" in errors[0]["status"]["message"], errors
    capture(otelbox, sent)


@pytest.mark.parametrize("name", list(VARIANTS))
def test_llm_run(name, otelbox, fake_server, sent_runs):
    """GET /llm/runs finds exactly one run for the marker, with the counts, tokens and cost it should have."""
    spec = VARIANTS[name]
    sent = run_variant(name, otelbox, fake_server, sent_runs)

    def one_run():
        runs = otelbox.get("/api/v1/llm/runs", q=f'service = "{sent.marker}"', since="1h")["runs"]
        assert len(runs) == 1, f"expected one run for {sent.marker}, got {len(runs)}: {runs}"
        return runs[0]

    poll(lambda: check_run(spec, sent, otelbox, one_run()))


def check_run(spec, sent, otelbox, run):
    assert run["trace_id"] == sent.trace_id
    assert spec["dialect"] in run["dialects"], run["dialects"]
    assert run["llm_calls"] == 3, run
    assert run["embedding_calls"] == (1 if spec["embeddings"] else 0), run
    assert run["tool_calls"] == 2 and run["tool_errors"] == 1, run
    assert sorted(run["tools"], key=lambda t: t["name"]) == TOOLS, run["tools"]
    assert run["error_count"] == 1, run
    tokens = expected_tokens(spec)
    assert run["tokens"] == tokens, run["tokens"]
    assert (run["input_tokens"], run["output_tokens"]) == (tokens["input"], tokens["output"]), run
    assert run["agent"] == spec["agent"], run["agent"]
    assert run["session_id"] == ("session-" + sent.marker if spec["session"] else ""), run["session_id"]
    assert run["run_id"] == (sent.marker if spec["run_id"] else ""), run["run_id"]
    assert any(m.startswith("gpt-4o-mini") for m in run["models"]), run["models"]
    assert run["root_service"] == sent.marker

    cost = run["cost"]
    assert cost is not None, run
    assert cost["source"] == spec["cost"], cost
    assert cost["unpriced_calls"] == 0, cost
    if spec["cost"] == "reported":
        trace = otelbox.get(f"/api/v1/traces/{sent.trace_id}")
        assert cost["usd"] == pytest.approx(reported_cost(trace), rel=1e-9), cost
        assert cost["usd"] > 0, cost
    else:
        assert cost["usd"] == pytest.approx(expected_computed_cost(tokens), rel=1e-6), cost
        assert cost["table"], cost


@pytest.mark.parametrize("name", list(VARIANTS))
def test_llm_run_detail(name, otelbox, fake_server, sent_runs):
    """GET /llm/runs/{trace_id}: the model calls in order with their messages, and the tool spans."""
    spec = VARIANTS[name]
    sent = run_variant(name, otelbox, fake_server, sent_runs)
    poll(lambda: check_run_detail(spec, sent, otelbox.get(f"/api/v1/llm/runs/{sent.trace_id}")))


def check_run_detail(spec, sent, detail):
    assert detail["run"]["trace_id"] == sent.trace_id
    spans = detail["spans"]
    starts = [s["start_unix_nano"] for s in spans]
    assert starts == sorted(starts), "spans must come in start order"

    calls = [s for s in spans if s["operation"] == "llm_call"]
    assert len(calls) == 3, [(s["name"], s["operation"]) for s in spans]
    assert [s["tokens"]["input"] for s in calls] == [u[0] for u in fake_openai.USAGE.values()]
    assert [s["tokens"]["output"] for s in calls] == [u[2] for u in fake_openai.USAGE.values()]
    if spec["cache_read"]:
        assert [s["tokens"]["cache_read"] for s in calls] == [u[1] for u in fake_openai.USAGE.values()]
    for call in calls:
        assert call["request_model"].startswith("gpt-4o-mini") or call["response_model"].startswith("gpt-4o-mini")
        assert spec["call_dialect"] in call["dialects"], call["dialects"]

    if spec["messages"]:
        first, last = calls[0]["messages"], calls[-1]["messages"]
        users = [m for m in first["input"] if m["role"] == "user"]
        assert users and fake_openai.USER_QUESTION in text_of(users[0]), first["input"]
        tool_calls = [p for m in first["output"] if m["role"] == "assistant" for p in m["parts"]
                      if p["type"] == "tool_call"]
        assert [p["name"] for p in tool_calls] == ["get_weather"], first["output"]
        assert json.loads(tool_calls[0]["arguments"]) == {"city": "Paris"}, tool_calls
        finals = [m for m in last["output"] if m["role"] == "assistant"]
        assert finals and text_of(finals[0]) == fake_openai.FINAL_ANSWER, last["output"]
        # The last call's input holds the whole conversation: both tool results came back.
        roles = [m["role"] for m in last["input"]]
        assert roles.count("tool") == 2, roles
    else:
        # Plain keys carry no messages.
        assert all(not c["messages"]["input"] and not c["messages"]["output"] for c in calls)

    tools = [s for s in spans if s["operation"] == "tool"]
    assert [(t["tool"]["name"], t["status"]) for t in tools] == [("get_weather", "ok"), ("get_stock", "error")], tools
    assert "stock service unavailable" in tools[1]["error"] or "stock service unavailable" in tools[1]["tool"]["error"]
    if spec["tool_call_ids"]:
        assert [t["tool"]["call_id"] for t in tools] == [fake_openai.WEATHER_CALL_ID, fake_openai.STOCK_CALL_ID]
    if spec["agent"]:
        agents = [s for s in spans if s["operation"] == "agent"]
        assert len(agents) == 1 and agents[0]["agent"] == AGENT, [(s["name"], s["operation"]) for s in spans]


def test_sessions_and_models(otelbox, fake_server, sent_runs):
    """The runs roll up into /llm/sessions (one session per variant that records one) and /llm/models."""
    for name in VARIANTS:
        run_variant(name, otelbox, fake_server, sent_runs)
    sessions = {s["session_id"]: s for s in otelbox.get("/api/v1/llm/sessions", since="1h")["sessions"]}
    for name, spec in VARIANTS.items():
        if not spec["session"]:
            continue
        session = sessions.get("session-" + sent_runs[name].marker)
        assert session is not None, f"no session for {name}: {sorted(sessions)}"
        assert (session["runs"], session["llm_calls"], session["tool_calls"]) == (1, 3, 2), session
        assert session["tokens"] == expected_tokens(spec), session
    models = otelbox.get("/api/v1/llm/models", since="1h")
    chat_calls = sum(m["calls"] for m in models["models"] if m["model"].startswith("gpt-4o-mini"))
    assert chat_calls >= 3 * len(VARIANTS), models["models"]
    agents = {a["agent"]: a for a in models["agents"]}
    with_agent = [n for n, spec in VARIANTS.items() if spec["agent"]]
    assert AGENT in agents and agents[AGENT]["runs"] >= len(with_agent), models["agents"]
    assert agents[AGENT]["tool_errors"] >= len(with_agent), agents[AGENT]
