#!/usr/bin/env bash
# Makes the venvs of the LLM interop tests, idempotently: for each
# tests/interop/llm/requirements-<name>.txt, a venv tests/interop/.venvs/<name>
# with exactly those pins (../make_venv.sh: kept while its requirements file is
# unchanged, made anew when it changes). Exits non-zero on any failure. Run from anywhere.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
VENVS="$(cd "$HERE/.." && pwd)/.venvs"

shopt -s nullglob
reqs=("$HERE"/requirements-*.txt)
[ ${#reqs[@]} -gt 0 ] || { echo "llm/setup.sh: no requirements-*.txt in $HERE" >&2; exit 1; }

for req in "${reqs[@]}"; do
    name="$(basename "$req" .txt)"
    bash "$HERE/../make_venv.sh" "${name#requirements-}" "$req"
done

# Every package the agent scripts import must load in its venv.
"$VENVS/otel-legacy/bin/python" - <<'PY'
import openai, opentelemetry.exporter.otlp.proto.http.trace_exporter  # noqa: F401
import opentelemetry.instrumentation.openai_v2  # noqa: F401
from importlib.metadata import version
print("  otel-legacy venv:", ", ".join(f"{p}=={version(p)}" for p in (
    "openai", "opentelemetry-sdk", "opentelemetry-instrumentation-openai-v2")))
PY
"$VENVS/llm/bin/python" - <<'PY'
import mlflow, openai, openlit  # noqa: F401
import openinference.instrumentation.openai  # noqa: F401
import opentelemetry.instrumentation.openai  # noqa: F401
import opentelemetry.instrumentation.openai_v2  # noqa: F401
import opentelemetry.util.genai.handler  # noqa: F401
import traceloop.sdk  # noqa: F401
from importlib.metadata import version
print("  llm venv:", ", ".join(f"{p}=={version(p)}" for p in (
    "openai", "opentelemetry-sdk", "opentelemetry-instrumentation-openai-v2", "opentelemetry-util-genai",
    "openinference-instrumentation-openai", "traceloop-sdk", "opentelemetry-instrumentation-openai",
    "openlit", "mlflow-tracing")))
PY
echo "llm/setup.sh: done"
