# The agent scenario traced by MLflow Tracing (mlflow-tracing) and exported by
# MLflow's own OTLP exporter (it sends to OTEL_EXPORTER_OTLP_TRACES_ENDPOINT
# instead of an MLflow server when that is set; protocol http/protobuf).
# mlflow.openai.autolog() traces the OpenAI calls (CHAT_MODEL / EMBEDDING
# spans); the agent run and the tools are @mlflow.trace(span_type=AGENT/TOOL).
# Every value is JSON in mlflow.spanInputs / mlflow.spanOutputs and friends.
# With MLFLOW_ENABLE_OTEL_GENAI_SEMCONV=true (variant mlflow-genai) MLflow
# translates its spans to the OTel GenAI keys before export.
import json
import os

import scenario

os.environ["OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"] = scenario.otlp_endpoint() + "/v1/traces"
# Traces only: with OTEL_EXPORTER_OTLP_ENDPOINT set, mlflow-tracing 3.17.2 also
# records span metrics, which needs an experiment id and, without a tracking
# server, fails in on_end before the span is exported (NameError
# default_experiment_registry): no span would arrive at all.
del os.environ["OTEL_EXPORTER_OTLP_ENDPOINT"]
os.environ["OTEL_EXPORTER_OTLP_TRACES_PROTOCOL"] = "http/protobuf"
os.environ["MLFLOW_DISABLE_TELEMETRY"] = "true"
# mlflow-tracing 3.17.2 without a tracking URI imports its file store, which
# needs packages it does not depend on (sqlparse, yaml): name a server that is
# never contacted, as OTLP export replaces the export to MLflow.
os.environ["MLFLOW_TRACKING_URI"] = "http://127.0.0.1:9"

import mlflow  # noqa: E402
from mlflow.entities import SpanType  # noqa: E402

mlflow.openai.autolog()


@mlflow.trace(name="get_weather", span_type=SpanType.TOOL)
def get_weather(city):
    return scenario.get_weather(city)


@mlflow.trace(name="get_stock", span_type=SpanType.TOOL)
def get_stock(symbol):
    return scenario.get_stock(symbol)


TOOLS = {"get_weather": get_weather, "get_stock": get_stock}


def call_tool(name, call_id, arguments):
    return TOOLS[name](**json.loads(arguments))


@mlflow.trace(name=scenario.AGENT_NAME, span_type=SpanType.AGENT)
def weather_agent(question):
    mlflow.update_current_trace(session_id=scenario.session_id(), metadata={"run_id": scenario.run_id()})
    trace_id = mlflow.get_active_trace_id().removeprefix("tr-")  # MLflow's id is "tr-" + the OTel trace id
    return scenario.run_agent(scenario.client(), call_tool), trace_id


answer, trace_id = weather_agent(scenario.USER_QUESTION)
mlflow.tracing.reset()  # flushes and shuts down MLflow's tracer provider (its OTLP batch processor)
scenario.summary(answer, trace_id=trace_id)
