# The agent scenario traced by hand with the plain OpenTelemetry SDK and the
# ad-hoc keys agent-tracing guides recommend, no LLM library: an `agent.run`
# root, one `llm.chat` span per model call (llm.provider, llm.model,
# llm.tokens_in, llm.tokens_out, prompt.version) and one `tool.<name>` span per
# tool (tool.name, tool.status), every span with run_id. The embeddings call
# is a plain `embed_query` span: those keys have no notion of embeddings.
from opentelemetry import trace
from opentelemetry.trace import Status, StatusCode

import scenario

shutdown = scenario.otel_sdk()
tracer = trace.get_tracer("llm-interop.agent")
RUN = {"run_id": scenario.run_id()}


def embed(fn):
    with tracer.start_as_current_span("embed_query", attributes=RUN):
        return fn()


def chat(fn, request):
    with tracer.start_as_current_span("llm.chat", attributes={
        **RUN,
        "llm.provider": "openai",
        "llm.model": request["model"],
        "prompt.name": scenario.PROMPT_NAME,
        "prompt.version": scenario.PROMPT_VERSION,
    }) as span:
        result = fn()  # a ChatCompletion, or the streamed answer with the usage of its last chunk
        span.set_attributes({"llm.tokens_in": result.usage.prompt_tokens,
                             "llm.tokens_out": result.usage.completion_tokens})
        return result


def call_tool(name, call_id, arguments):
    with tracer.start_as_current_span(f"tool.{name}", attributes={**RUN, "tool.name": name}) as span:
        try:
            result = scenario.call_tool_plain(name, call_id, arguments)
        except Exception as exc:
            span.set_attribute("tool.status", "error")
            span.set_status(Status(StatusCode.ERROR, str(exc)))
            raise
        span.set_attribute("tool.status", "ok")
        return result


with tracer.start_as_current_span("agent.run", attributes={**RUN, "agent.name": scenario.AGENT_NAME}) as root:
    answer = scenario.run_agent(scenario.client(), call_tool, embed=embed, chat=chat)
    trace_id = format(root.get_span_context().trace_id, "032x")

shutdown()
scenario.summary(answer, trace_id=trace_id)
