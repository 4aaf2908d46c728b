"""`otelbox run`, `wait` and `assert` with a real Python SDK program (app_under_test.py).

Exit codes (0 pass, 1 failed assertion, the child's own code), JUnit reports, assertion files,
and telemetry that arrives 1.5 s after the command has exited, caught with no flake in 20 runs.
"""
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import requests

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
OTELBOX = str(Path(os.environ.get("OTELBOX_BIN", REPO / "target" / "debug" / "otelbox")))
APP = [sys.executable, str(HERE / "app_under_test.py")]


def clean_env(**extra):
    env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL")}
    env.update(extra)
    return env


def otelbox_run(*args, app_args=(), env=None, timeout=120):
    return subprocess.run([OTELBOX, "run", *args, "--", *APP, *app_args], capture_output=True, text=True,
                          env=env or clean_env(), timeout=timeout)


def junit(path):
    root = ET.parse(path).getroot()
    suite = root.find("testsuite")
    return int(suite.get("tests")), int(suite.get("failures")), [c.get("name") for c in suite.findall("testcase")]


def test_passing_assertions_exit_0_with_a_junit_report(tmp_path):
    report = tmp_path / "otel.xml"
    r = otelbox_run("--assert", 'name = "checkout" and order.id = "A-17"', "--assert", 'name = "checkout" -> name = "charge"',
                    "--assert", "no orphans", "--junit", str(report))
    assert r.returncode == 0, r.stderr
    assert "2 span(s)" in r.stderr and "shop" in r.stderr, r.stderr  # the summary
    assert junit(report) == (3, 0, ['name = "checkout" and order.id = "A-17"', 'name = "checkout" -> name = "charge"', "no orphans"])


def test_a_failing_assertion_exits_1_and_shows_near_misses(tmp_path):
    report = tmp_path / "otel.xml"
    r = otelbox_run("--assert", 'name = "checkout"', "--assert", 'name = "checkout" and order.id = "B-99"', "--junit", str(report))
    assert r.returncode == 1, r.stderr
    assert "FAIL" in r.stderr and "near misses" in r.stderr and "A-17" in r.stderr, r.stderr
    tests, failures, _ = junit(report)
    assert (tests, failures) == (2, 1)
    failure = ET.parse(report).getroot().find("testsuite").findall("testcase")[1].find("failure")
    assert failure is not None and "B-99" in failure.get("message")


def test_the_child_exit_code_wins():
    r = otelbox_run("--assert", 'name = "checkout"', app_args=["--exit", "3"])
    assert r.returncode == 3, r.stderr


def test_an_assertion_file(tmp_path):
    spec = tmp_path / "telemetry.yaml"
    spec.write_text("""
assertions:
  - name: checkout is fast
    where: 'name = "checkout"'
    count: 1
    max_duration: 5s
  - name: charge happens inside checkout
    descendant: { ancestor: 'name = "checkout"', descendant: 'name = "charge"' }
  - name: no errors
    where: 'status = error'
    max: 0
""")
    report = tmp_path / "otel.xml"
    r = otelbox_run("--assertions", str(spec), "--junit", str(report))
    assert r.returncode == 0, r.stderr
    assert junit(report)[:2] == (3, 0)


def test_a_bad_assertion_is_a_usage_error_before_anything_runs(tmp_path):
    marker = tmp_path / "ran"
    r = subprocess.run([OTELBOX, "run", "--assert", "duration >", "--", "touch", str(marker)], capture_output=True, text=True)
    assert r.returncode == 2 and "column" in r.stderr, r.stderr
    assert not marker.exists()


@pytest.mark.parametrize("attempt", range(20))
def test_run_catches_a_span_sent_after_the_command_exits(attempt):
    r = otelbox_run("--assert", 'count(name = "late-child") == 1', "--assert", 'name = "late-parent" -> name = "late-child"',
                    "--quiet", app_args=["--late"])
    assert r.returncode == 0, f"attempt {attempt}: {r.stderr}"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def box():
    ports = [free_port(), free_port(), free_port()]
    proc = subprocess.Popen([OTELBOX, "up", "--memory", "--grpc-port", str(ports[0]), "--http-port", str(ports[1]), "--ui-port", str(ports[2])],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    api = f"http://127.0.0.1:{ports[2]}"
    deadline = time.time() + 20
    while time.time() < deadline:
        try:
            if requests.get(api + "/readyz", timeout=1).ok:
                break
        except requests.RequestException:
            time.sleep(0.05)
    yield {"api": api, "http": f"http://127.0.0.1:{ports[1]}"}
    proc.send_signal(signal.SIGTERM)
    proc.wait(timeout=30)


@pytest.mark.parametrize("attempt", range(20))
def test_wait_idle_catches_a_span_sent_after_the_command_exits(box, attempt):
    marker = uuid.uuid4().hex
    env = clean_env(OTEL_EXPORTER_OTLP_ENDPOINT=box["http"], RUN_MARKER=marker)
    subprocess.run([*APP, "--late"], env=env, check=True, timeout=60)
    w = subprocess.run([OTELBOX, "wait", "--idle", "2s", "--timeout", "30s", "--server", box["api"]], capture_output=True, text=True)
    assert w.returncode == 0, w.stderr
    # The late child belongs to the helper's resource; find it through the parent's trace.
    a = subprocess.run([OTELBOX, "assert", f'name = "late-parent" and run.marker = "{marker}" -> name = "late-child"', "--server", box["api"]],
                       capture_output=True, text=True)
    assert a.returncode == 0, f"attempt {attempt}: {a.stderr}"
