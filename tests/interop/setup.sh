#!/usr/bin/env bash
# Installs what the otelbox interop tests need, idempotently:
#   - the pinned Python packages of requirements.txt (into $PYTHON, default python3)
#   - the venvs of the LLM instrumentation tests (llm/setup.sh: tests/interop/.venvs)
#   - the venv of the Jaeger clients (jaeger/requirements.txt: tests/interop/.venvs/jaeger)
#   - the pinned JS SDK packages of package.json via `npm ci` (exactly the
#     versions in the committed package-lock.json) into tests/interop/node_modules
# Exits non-zero on any failure. Run from anywhere.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
PYTHON="${PYTHON:-python3}"

cd "$HERE"

command -v "$PYTHON" >/dev/null 2>&1 || { echo "setup.sh: $PYTHON not found" >&2; exit 1; }
command -v node >/dev/null 2>&1 || { echo "setup.sh: node not found (Node.js >= 20.6 is needed)" >&2; exit 1; }
command -v npm >/dev/null 2>&1 || { echo "setup.sh: npm not found" >&2; exit 1; }

echo "setup.sh: installing Python packages from $HERE/requirements.txt with $PYTHON -m pip"
PIP_ROOT_USER_ACTION=ignore "$PYTHON" -m pip install --quiet --disable-pip-version-check -r requirements.txt

bash "$HERE/llm/setup.sh"  # the LLM instrumentation libraries, one venv per group (tests/interop/.venvs)
bash "$HERE/make_venv.sh" jaeger "$HERE/jaeger/requirements.txt"  # Jaeger clients, their own old OTel SDK

echo "setup.sh: installing JS packages with npm ci in $HERE (node $(node --version))"
npm ci --no-audit --no-fund --loglevel=error

echo "setup.sh: checking the installs"
"$PYTHON" - <<'PY'
import opentelemetry.sdk._logs, opentelemetry.exporter.otlp.proto.grpc.trace_exporter  # noqa: F401
import opentelemetry.exporter.otlp.proto.http.trace_exporter, pytest, requests  # noqa: F401
from importlib.metadata import version
print("  python:", ", ".join(f"{p}=={version(p)}" for p in (
    "opentelemetry-sdk", "opentelemetry-exporter-otlp-proto-grpc",
    "opentelemetry-exporter-otlp-proto-http", "pytest", "requests")))
PY
"$HERE/.venvs/jaeger/bin/python" -W ignore::DeprecationWarning - <<'PY'
import jaeger_client, jaeger_client.thrift_gen.agent.Agent, thrift.protocol.TBinaryProtocol  # noqa: F401
import opentelemetry.exporter.jaeger.thrift, opentelemetry.exporter.jaeger.proto.grpc  # noqa: F401
from importlib.metadata import version
print("  jaeger venv:", ", ".join(f"{p}=={version(p)}" for p in (
    "jaeger-client", "thrift", "opentelemetry-sdk", "opentelemetry-exporter-jaeger-thrift",
    "opentelemetry-exporter-jaeger-proto-grpc")))
PY
node -e "for (const p of ['sdk-trace-base','sdk-metrics','sdk-logs','exporter-trace-otlp-http','exporter-metrics-otlp-http','exporter-logs-otlp-http']) require.resolve('@opentelemetry/' + p); console.log('  node: @opentelemetry packages resolve')"
echo "setup.sh: done"
