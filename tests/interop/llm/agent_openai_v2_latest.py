# The agent scenario instrumented by opentelemetry-instrumentation-openai-v2
# on the latest GenAI conventions (OTEL_SEMCONV_STABILITY_OPT_IN=
# gen_ai_latest_experimental, content on spans: CAPTURE_MESSAGE_CONTENT=
# span_only): messages in gen_ai.input.messages / gen_ai.output.messages span
# attributes. The agent run and the tool executions use the same library's
# helpers (opentelemetry-util-genai's TelemetryHandler: invoke_local_agent,
# tool), which write the invoke_agent / execute_tool spans.
import json
import os

os.environ["OTEL_SEMCONV_STABILITY_OPT_IN"] = "gen_ai_latest_experimental"
os.environ["OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT"] = "span_only"

from opentelemetry import trace  # noqa: E402
from opentelemetry.instrumentation.openai_v2 import OpenAIInstrumentor  # noqa: E402
from opentelemetry.util.genai.handler import get_telemetry_handler  # noqa: E402
from opentelemetry.util.genai.types import InputMessage, OutputMessage, Text  # noqa: E402

import scenario  # noqa: E402

shutdown = scenario.otel_sdk(logs=True, metrics=True)
OpenAIInstrumentor().instrument()
handler = get_telemetry_handler()


def call_tool(name, call_id, arguments):
    with handler.tool(name, tool_call_id=call_id, tool_type="function") as invocation:
        invocation.arguments = arguments
        result = scenario.call_tool_plain(name, call_id, arguments)  # raising fails the invocation
        invocation.tool_result = json.dumps(result)
        return result


with handler.invoke_local_agent(agent_name=scenario.AGENT_NAME, request_model=scenario.MODEL) as agent:
    agent.conversation_id = scenario.session_id()
    agent.input_messages = [InputMessage(role="user", parts=[Text(content=scenario.USER_QUESTION)])]
    answer = scenario.run_agent(scenario.client(), call_tool)
    agent.output_messages = [OutputMessage(role="assistant", parts=[Text(content=answer)], finish_reason="stop")]
    trace_id = format(trace.get_current_span().get_span_context().trace_id, "032x")

shutdown()
scenario.summary(answer, trace_id=trace_id)
