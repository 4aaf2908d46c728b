# The agent scenario instrumented by OpenLIT: openlit.init (OTLP/HTTP to
# otelbox, message content captured, batching off) auto-instruments the OpenAI
# client with OTel GenAI keys plus its own (gen_ai.usage.cost, ...). The agent
# run and the tool executions are manual spans through OpenLIT's
# openlit.start_trace, named and keyed as its conventions and the GenAI ones
# have them: `invoke_agent <name>` and `execute_tool <name>`, inside
# openlit.agent_context(...) so the model calls carry gen_ai.agent.name.
# Costs (gen_ai.usage.cost) come from openlit_pricing.json beside this file.
import json
import os

import openlit
from opentelemetry import metrics, trace
from opentelemetry._logs import get_logger_provider

import scenario

openlit.init(
    service_name=scenario.service_name(),
    environment="interop",
    otlp_endpoint=scenario.otlp_endpoint(),
    disable_batch=True,
    capture_message_content=True,
    # Prices per 1K tokens, as OpenLIT's pricing.json has them; a file, since
    # OpenLIT otherwise downloads that file from GitHub at init.
    pricing_json=os.path.join(os.path.dirname(os.path.abspath(__file__)), "openlit_pricing.json"),
)


def call_tool(name, call_id, arguments):
    with openlit.start_trace(f"execute_tool {name}") as span:
        span.set_metadata({
            "gen_ai.operation.name": "execute_tool",
            "gen_ai.tool.name": name,
            "gen_ai.tool.type": "function",
            "gen_ai.tool.call.id": call_id,
            "gen_ai.tool.call.arguments": arguments,
        })
        result = scenario.call_tool_plain(name, call_id, arguments)  # an exception sets the error status
        span.set_metadata({"gen_ai.tool.call.result": json.dumps(result)})
        return result


with openlit.agent_context(scenario.AGENT_NAME), openlit.start_trace(f"invoke_agent {scenario.AGENT_NAME}") as root:
    root.set_metadata({
        "gen_ai.operation.name": "invoke_agent",
        "gen_ai.agent.name": scenario.AGENT_NAME,
        "gen_ai.provider.name": "openai",
        "gen_ai.conversation.id": scenario.session_id(),
    })
    answer = scenario.run_agent(scenario.client(), call_tool)
    root.set_result(answer)
    trace_id = format(trace.get_current_span().get_span_context().trace_id, "032x")

for provider in (trace.get_tracer_provider(), metrics.get_meter_provider(), get_logger_provider()):
    if hasattr(provider, "shutdown"):
        provider.force_flush()
        provider.shutdown()
scenario.summary(answer, trace_id=trace_id)
