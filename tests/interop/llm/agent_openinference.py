# The agent scenario instrumented by Arize's OpenInference OpenAI
# instrumentation (openinference-instrumentation-openai): model calls become
# LLM / EMBEDDING spans with flattened llm.input_messages.N.* and
# llm.output_messages.N.* attributes (content is captured by default). The
# agent run and the tool executions use openinference-instrumentation's
# OITracer: an AGENT span and TOOL spans, all in using_session(...).
import json

from openinference.instrumentation import TracerProvider, using_session
from openinference.instrumentation.openai import OpenAIInstrumentor
from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.trace import Status, StatusCode

import scenario

tracer_provider = TracerProvider(resource=Resource.create())  # service.name from OTEL_SERVICE_NAME
tracer_provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=scenario.otlp_endpoint() + "/v1/traces")))
trace.set_tracer_provider(tracer_provider)
OpenAIInstrumentor().instrument(tracer_provider=tracer_provider)
tracer = tracer_provider.get_tracer("llm-interop.agent")
TOOL_SCHEMAS = {t["function"]["name"]: t["function"] for t in scenario.TOOLS}


def call_tool(name, call_id, arguments):
    with tracer.start_as_current_span(name, openinference_span_kind="tool") as span:
        span.set_tool(name=name, description=TOOL_SCHEMAS[name]["description"],
                      parameters=TOOL_SCHEMAS[name]["parameters"])
        span.set_attribute("tool.id", call_id)  # OpenInference's key for the tool call's id; no helper sets it
        span.set_input(json.loads(arguments))
        result = scenario.call_tool_plain(name, call_id, arguments)  # an exception sets the error status
        span.set_output(result)
        span.set_status(Status(StatusCode.OK))
        return result


with using_session(scenario.session_id()):
    with tracer.start_as_current_span(scenario.AGENT_NAME, openinference_span_kind="agent",
                                      attributes={"agent.name": scenario.AGENT_NAME}) as root:
        root.set_input(scenario.USER_QUESTION)
        answer = scenario.run_agent(scenario.client(), call_tool)
        root.set_output(answer)
        root.set_status(Status(StatusCode.OK))
        trace_id = format(root.get_span_context().trace_id, "032x")

tracer_provider.force_flush()
tracer_provider.shutdown()
scenario.summary(answer, trace_id=trace_id)
