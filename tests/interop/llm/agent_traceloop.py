# The agent scenario instrumented by Traceloop's OpenLLMetry: traceloop-sdk's
# Traceloop.init (OTLP/HTTP to otelbox, content tracing on) with its OpenAI
# instrumentation (opentelemetry-instrumentation-openai) only. The agent run
# is an @agent and the tools are @tool (traceloop.span.kind agent/tool, with
# traceloop.entity.input/output); the session is an association property.
import json
import os

os.environ["TRACELOOP_TRACE_CONTENT"] = "true"
os.environ["TRACELOOP_TELEMETRY"] = "false"

from opentelemetry import metrics, trace  # noqa: E402
from traceloop.sdk import Traceloop  # noqa: E402
from traceloop.sdk.decorators import agent, tool  # noqa: E402
from traceloop.sdk.instruments import Instruments  # noqa: E402

import scenario  # noqa: E402

Traceloop.init(
    app_name=scenario.service_name(),
    api_endpoint=scenario.otlp_endpoint(),
    disable_batch=True,
    telemetry_enabled=False,
    instruments={Instruments.OPENAI},
)


@tool(name="get_weather")
def get_weather(city):
    return scenario.get_weather(city)


@tool(name="get_stock")
def get_stock(symbol):
    return scenario.get_stock(symbol)


TOOLS = {"get_weather": get_weather, "get_stock": get_stock}


def call_tool(name, call_id, arguments):
    return TOOLS[name](**json.loads(arguments))


@agent(name=scenario.AGENT_NAME)
def weather_agent(question):
    Traceloop.set_association_properties({"session_id": scenario.session_id()})
    answer = scenario.run_agent(scenario.client(), call_tool)
    return answer, format(trace.get_current_span().get_span_context().trace_id, "032x")


answer, trace_id = weather_agent(scenario.USER_QUESTION)
for provider in (trace.get_tracer_provider(), metrics.get_meter_provider()):
    if hasattr(provider, "shutdown"):
        provider.force_flush()
        provider.shutdown()
scenario.summary(answer, trace_id=trace_id)
