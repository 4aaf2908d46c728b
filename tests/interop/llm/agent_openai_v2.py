# The agent scenario instrumented by the official OpenTelemetry OpenAI
# instrumentation (opentelemetry-instrumentation-openai-v2, venv otel-legacy)
# on its default conventions (semconv v1.30): model calls become
# `chat`/`embeddings` spans, message content
# (OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT=true) goes to log records
# (events gen_ai.{system,user,assistant,tool}.message and gen_ai.choice). The agent run
# and the tool executions are manual `invoke_agent` / `execute_tool` spans with
# the GenAI keys, as the semantic conventions describe them.
import json
import os

os.environ["OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT"] = "true"
os.environ.pop("OTEL_SEMCONV_STABILITY_OPT_IN", None)

from opentelemetry import trace  # noqa: E402
from opentelemetry.instrumentation.openai_v2 import OpenAIInstrumentor  # noqa: E402
from opentelemetry.trace import SpanKind, Status, StatusCode  # noqa: E402

import scenario  # noqa: E402

shutdown = scenario.otel_sdk(logs=True, metrics=True)
OpenAIInstrumentor().instrument()
tracer = trace.get_tracer("llm-interop.agent")


def call_tool(name, call_id, arguments):
    with tracer.start_as_current_span(f"execute_tool {name}", kind=SpanKind.INTERNAL, attributes={
        "gen_ai.operation.name": "execute_tool",
        "gen_ai.tool.name": name,
        "gen_ai.tool.type": "function",
        "gen_ai.tool.call.id": call_id,
        "gen_ai.tool.call.arguments": arguments,
    }) as span:
        try:
            result = scenario.call_tool_plain(name, call_id, arguments)
        except Exception as exc:
            span.set_attribute("error.type", type(exc).__qualname__)
            raise  # the SDK records the exception event and sets the error status
        span.set_attribute("gen_ai.tool.call.result", json.dumps(result))
        return result


with tracer.start_as_current_span(f"invoke_agent {scenario.AGENT_NAME}", kind=SpanKind.INTERNAL, attributes={
    "gen_ai.operation.name": "invoke_agent",
    "gen_ai.agent.name": scenario.AGENT_NAME,
    "gen_ai.provider.name": "openai",
    "gen_ai.request.model": scenario.MODEL,
    "gen_ai.conversation.id": scenario.session_id(),
}) as root:
    answer = scenario.run_agent(scenario.client(), call_tool)
    root.set_status(Status(StatusCode.OK))
    trace_id = format(root.get_span_context().trace_id, "032x")

shutdown()
scenario.summary(answer, trace_id=trace_id)
