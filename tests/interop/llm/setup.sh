#!/usr/bin/env bash
# Makes the venvs of the LLM interop tests, idempotently: for each
# tests/interop/llm/requirements-<name>.txt, a venv tests/interop/.venvs/<name>
# (python3 -m venv) with exactly those pins. A venv whose requirements file is
# unchanged since it was made (same sha256) is kept as it is; a changed one is
# made anew. Exits non-zero on any failure. Run from anywhere.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
VENVS="$(cd "$HERE/.." && pwd)/.venvs"
PYTHON="${PYTHON:-python3}"

command -v "$PYTHON" >/dev/null 2>&1 || { echo "llm/setup.sh: $PYTHON not found" >&2; exit 1; }
mkdir -p "$VENVS"

shopt -s nullglob
reqs=("$HERE"/requirements-*.txt)
[ ${#reqs[@]} -gt 0 ] || { echo "llm/setup.sh: no requirements-*.txt in $HERE" >&2; exit 1; }

for req in "${reqs[@]}"; do
    name="$(basename "$req" .txt)"
    name="${name#requirements-}"
    venv="$VENVS/$name"
    hash="$(sha256sum "$req" | cut -d' ' -f1)"
    if [ -x "$venv/bin/python" ] && [ "$(cat "$venv/.requirements.sha256" 2>/dev/null)" = "$hash" ]; then
        echo "llm/setup.sh: venv $name is up to date"
        continue
    fi
    echo "llm/setup.sh: making venv $name from $(basename "$req")"
    start=$(date +%s)
    rm -rf "$venv"
    "$PYTHON" -m venv "$venv"
    PIP_ROOT_USER_ACTION=ignore "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$req"
    "$venv/bin/python" -m pip check --disable-pip-version-check >/dev/null
    echo "$hash" > "$venv/.requirements.sha256"
    echo "llm/setup.sh: venv $name made in $(( $(date +%s) - start ))s"
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
