# The agent scenario every agent_*.py script runs, so that each instrumentation
# library sees the same conversation against fake_openai.py:
#   embeddings of the question; chat call 1 -> tool get_weather (succeeds);
#   chat call 2 -> tool get_stock (raises); chat call 3, streamed -> final answer.
# The scripts differ only in how they set up telemetry and mark the agent run
# and the tool executions. Settings come from the environment (set by
# test_llm.py): FAKE_OPENAI_BASE_URL, OTEL_EXPORTER_OTLP_ENDPOINT,
# OTEL_SERVICE_NAME (the run marker: llm-<variant>-<hex>) and LLM_RUN_ID.
# Only the standard library and openai are imported here.

import json
import os
import sys
import time

from openai import OpenAI

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fake_openai import USER_QUESTION  # noqa: E402  (the script's dir is on sys.path)

MODEL = "gpt-4o-mini"
EMBEDDING_MODEL = "text-embedding-3-small"
AGENT_NAME = "weather_agent"
SYSTEM_PROMPT = "You are a helpful assistant. Use the tools to answer."
PROMPT_NAME = "weather_agent_system"
PROMPT_VERSION = "3"

TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "get_weather",
            "description": "Current weather for a city",
            "parameters": {
                "type": "object",
                "properties": {"city": {"type": "string"}},
                "required": ["city"],
            },
        },
    },
    {
        "type": "function",
        "function": {
            "name": "get_stock",
            "description": "Latest stock price for a ticker symbol",
            "parameters": {
                "type": "object",
                "properties": {"symbol": {"type": "string"}},
                "required": ["symbol"],
            },
        },
    },
]


class ToolFailed(RuntimeError):
    pass


def get_weather(city):
    return {"city": city, "temperature_c": 18, "conditions": "sunny"}


def get_stock(symbol):
    raise ToolFailed(f"stock service unavailable for {symbol}")


TOOL_FUNCTIONS = {"get_weather": get_weather, "get_stock": get_stock}


def env(name):
    value = os.environ.get(name)
    if not value:
        sys.exit(f"{name} is not set (the scripts are run by test_llm.py)")
    return value


def otlp_endpoint():
    return env("OTEL_EXPORTER_OTLP_ENDPOINT").rstrip("/")


def service_name():
    return env("OTEL_SERVICE_NAME")


def run_id():
    return env("LLM_RUN_ID")


def session_id():
    return "session-" + run_id()


def client():
    return OpenAI(base_url=env("FAKE_OPENAI_BASE_URL"), api_key="sk-fake", max_retries=0)


def call_tool_plain(name, call_id, arguments):
    """Runs a tool without telemetry: the default for run_agent's call_tool."""
    return TOOL_FUNCTIONS[name](**json.loads(arguments))


def run_agent(openai_client, call_tool=call_tool_plain, embed=None, chat=None):
    """One agent run; returns the final answer.

    call_tool(name, call_id, arguments_json) runs a tool and returns its result
    (raising when the tool fails); embed(fn) and chat(fn, request) wrap the
    model calls for scripts that instrument them by hand.
    """
    embed = embed or (lambda fn: fn())
    chat = chat or (lambda fn, request: fn())
    embed(lambda: openai_client.embeddings.create(model=EMBEDDING_MODEL, input=USER_QUESTION))
    messages = [
        {"role": "system", "content": SYSTEM_PROMPT},
        {"role": "user", "content": USER_QUESTION},
    ]
    for _ in range(2):
        request = {"model": MODEL, "messages": list(messages), "tools": TOOLS}
        response = chat(lambda: openai_client.chat.completions.create(**request), request)
        message = response.choices[0].message
        messages.append({
            "role": "assistant",
            "content": message.content,
            "tool_calls": [
                {"id": c.id, "type": "function",
                 "function": {"name": c.function.name, "arguments": c.function.arguments}}
                for c in message.tool_calls
            ],
        })
        for c in message.tool_calls:
            try:
                content = json.dumps(call_tool(c.function.name, c.id, c.function.arguments))
            except ToolFailed as exc:
                content = json.dumps({"error": str(exc)})
            messages.append({"role": "tool", "tool_call_id": c.id, "content": content})
    request = {
        "model": MODEL,
        "messages": list(messages),
        "tools": TOOLS,
        "stream": True,
        "stream_options": {"include_usage": True},
    }

    def streamed():
        text, usage = [], None
        for chunk in openai_client.chat.completions.create(**request):
            if chunk.choices and chunk.choices[0].delta.content:
                text.append(chunk.choices[0].delta.content)
            usage = chunk.usage or usage
        return StreamedAnswer("".join(text), usage)

    return str(chat(streamed, request))


class StreamedAnswer(str):
    """The streamed call's text, with the usage of its last chunk as .usage (as a ChatCompletion has)."""

    def __new__(cls, text, usage):
        answer = super().__new__(cls, text)
        answer.usage = usage
        return answer


def summary(answer, **extra):
    """The line test_llm.py reads from the script's stdout."""
    print("SUMMARY " + json.dumps({"answer": answer, "service": service_name(), "run_id": run_id(),
                                   "finished_unix_nano": time.time_ns(), **extra}), flush=True)


def otel_sdk(logs=False, metrics=False):
    """Global OTel SDK providers exporting OTLP/HTTP protobuf to otelbox; returns a shutdown function."""
    from opentelemetry import trace
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    base = otlp_endpoint()
    resource = Resource.create()  # service.name from OTEL_SERVICE_NAME
    providers = []
    tracer_provider = TracerProvider(resource=resource)
    tracer_provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=base + "/v1/traces")))
    trace.set_tracer_provider(tracer_provider)
    providers.append(tracer_provider)
    if logs:
        from opentelemetry._logs import set_logger_provider
        from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
        from opentelemetry.sdk._logs import LoggerProvider
        from opentelemetry.sdk._logs.export import BatchLogRecordProcessor

        logger_provider = LoggerProvider(resource=resource)
        logger_provider.add_log_record_processor(BatchLogRecordProcessor(OTLPLogExporter(endpoint=base + "/v1/logs")))
        set_logger_provider(logger_provider)
        providers.append(logger_provider)
    if metrics:
        from opentelemetry import metrics as metrics_api
        from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
        from opentelemetry.sdk.metrics import MeterProvider
        from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader

        reader = PeriodicExportingMetricReader(OTLPMetricExporter(endpoint=base + "/v1/metrics"))
        meter_provider = MeterProvider(resource=resource, metric_readers=[reader])
        metrics_api.set_meter_provider(meter_provider)
        providers.append(meter_provider)

    def shutdown():
        for provider in providers:
            provider.force_flush()
            provider.shutdown()

    return shutdown
