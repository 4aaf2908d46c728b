"""`otelbox run`, `wait` and `assert` with a real Python SDK program (app_under_test.py).

Exit codes (0 pass, 1 failed assertion, the child's own code), JUnit reports, assertion files,
and telemetry that arrives 1.5 s after the command has exited, caught with no flake in 20 runs.
"""
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
import xml.etree.ElementTree as ET
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urlsplit

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


def test_golden_traces_record_compare_and_diff(tmp_path):
    golden = tmp_path / "golden.yaml"
    marker = tmp_path / "ran"
    # Without the file (and without --update-golden) it is an error before the command runs.
    r = subprocess.run([OTELBOX, "run", "--golden", str(golden), "--", "touch", str(marker)], capture_output=True, text=True)
    assert r.returncode == 2 and "create it with --update-golden" in r.stderr, r.stderr
    assert not marker.exists()

    # Options written by hand survive --update-golden (a generous slack: a loaded machine must not
    # fail the unchanged runs on budgets).
    golden.write_text("version: 1\noptions:\n  budget_slack: 5s\n")
    r = otelbox_run("--golden", str(golden), "--update-golden", "--quiet")
    assert r.returncode == 0, r.stderr
    assert "wrote" in r.stderr, r.stderr
    text = golden.read_text()
    for line in ("root: shop/checkout", "name: charge", "kind: client", "- payment.provider", "- cart.items", "budget_slack: 5s"):
        assert line in text, text

    # The same program again passes: one case for the structure, one for the budgets.
    report = tmp_path / "golden.xml"
    r = otelbox_run("--golden", str(golden), "--junit", str(report), "--quiet")
    assert r.returncode == 0, r.stderr
    assert junit(report) == (2, 0, ["golden: shop/checkout", "golden budget: shop/checkout"])
    # Updating from an unchanged run changes nothing (the budgets still hold, so they are kept).
    r = otelbox_run("--golden", str(golden), "--update-golden", "--quiet")
    assert r.returncode == 0, r.stderr
    assert golden.read_text() == text

    # A changed program (a new span, a status change) fails with an aligned diff.
    r = otelbox_run("--golden", str(golden), "--junit", str(report), "--quiet", app_args=["--refund", "--charge-error"])
    assert r.returncode == 1, r.stderr
    for line in ("FAIL  golden: shop/checkout", "1 span(s) added, 1 span(s) changed", "+++ this run",
                 "- shop/checkout > shop/charge  status=unset", "+ shop/checkout > shop/charge  status=error",
                 "+ shop/checkout > shop/refund  kind=internal status=unset attributes=[refund.reason]"):
        assert line in r.stderr, r.stderr
    assert junit(report)[:2] == (2, 1)
    assert golden.read_text() == text

    # The command's own non-zero code still wins.
    r = otelbox_run("--golden", str(golden), "--quiet", app_args=["--refund", "--exit", "3"])
    assert r.returncode == 3, r.stderr


def test_golden_budgets_are_checked_apart_from_the_structure(tmp_path):
    golden = tmp_path / "golden.yaml"
    golden.write_text("version: 1\noptions:\n  budget_slack: 300ms\n")
    r = otelbox_run("--golden", str(golden), "--update-golden", "--quiet")
    assert r.returncode == 0, r.stderr
    report = tmp_path / "golden.xml"
    r = otelbox_run("--golden", str(golden), "--junit", str(report), "--quiet", app_args=["--charge-seconds", "1.5"])
    assert r.returncode == 1, r.stderr
    assert "PASS  golden: shop/checkout" in r.stderr and "FAIL  golden budget: shop/checkout" in r.stderr, r.stderr
    assert "shop/checkout > shop/charge took " in r.stderr and "budget (trace " in r.stderr, r.stderr
    assert junit(report) == (2, 1, ["golden: shop/checkout", "golden budget: shop/checkout"])


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


# ---- otelbox run --report: one HTML file to keep -----------------------------------------------

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
# Hosts Chromium itself calls however it is started (updates, time, accounts): not the page's requests.
BROWSER_OWN = ("google.com", "googleapis.com", "gvt1.com", "gstatic.com")
HOSTILE = "</script><img src=x onerror=alert(1)>"  # app_under_test.py --hostile's span name


def report_data(html):
    """The JSON the report embeds."""
    start = html.index('<script type="application/json" id="report-data">')
    start = html.index(">", start) + 1
    return json.loads(html[start:html.index("</script>", start)])


class _Tags(HTMLParser):
    def __init__(self):
        super().__init__()
        self.tags = set()

    def handle_starttag(self, tag, attrs):
        self.tags.add(tag)


def tags_in(dom):
    """The element names in a serialised DOM."""
    parser = _Tags()
    parser.feed(dom)
    return parser.tags


def host_of(request_line):
    """The host a proxied request line asks for (`GET http://h/p HTTP/1.1`, `CONNECT h:443 HTTP/1.1`)."""
    parts = request_line.split()
    if len(parts) < 2:
        return request_line
    if parts[0] == "CONNECT":
        return parts[1].rsplit(":", 1)[0]
    return urlsplit(parts[1]).hostname or parts[1]


def load_in_chromium(path, tmp_path, fragment=""):
    """Loads a file in headless Chromium (as tests/ui does: Debian's, no sandbox, no GPU, no background
    services) with every request, loopback included, sent to a proxy that records it. Returns the DOM
    after the page's scripts ran, the console lines, and the requests that were not Chromium's own."""
    proxy = socket.socket()
    proxy.bind(("127.0.0.1", 0))
    proxy.listen(16)
    seen = []

    def record():
        while True:
            try:
                conn, _ = proxy.accept()
            except OSError:
                return
            with conn:
                conn.settimeout(2)
                try:
                    line = conn.recv(4096).split(b"\r\n", 1)[0].decode(errors="replace")
                except OSError:
                    continue
                # Chromium may open a connection to the proxy ahead of need (a preconnect) and close
                # it unused: no request line, no request.
                if line:
                    seen.append(line)

    threading.Thread(target=record, daemon=True).start()
    try:
        r = subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                            "--disable-background-networking", "--disable-component-update", "--disable-sync",
                            f"--user-data-dir={tmp_path / 'chromium-profile'}",
                            f"--proxy-server=http://127.0.0.1:{proxy.getsockname()[1]}", "--proxy-bypass-list=<-loopback>",
                            "--enable-logging=stderr", "--v=0", "--dump-dom", path.as_uri() + fragment],
                           capture_output=True, text=True, timeout=120)
    finally:
        proxy.close()
    assert r.returncode == 0, r.stderr[-3000:]
    console = [line for line in r.stderr.splitlines() if ":CONSOLE" in line]
    page_requests = [line for line in seen if not any(host_of(line) == h or host_of(line).endswith("." + h) for h in BROWSER_OWN)]
    return r.stdout, console, page_requests


def test_a_report_to_keep(tmp_path):
    report, export, junit_xml = tmp_path / "r.html", tmp_path / "run.jsonl", tmp_path / "otel.xml"
    r = otelbox_run("--assert", 'name = "checkout"', "--assert", 'name = "checkout" and order.id = "B-99"', "--report", str(report),
                    "--export", str(export), "--junit", str(junit_xml), app_args=["--hostile"])
    assert r.returncode == 1, r.stderr
    html = report.read_text(encoding="utf-8")

    # One file: its data embedded, nothing from the network, telemetry escaped.
    assert html.startswith("<!DOCTYPE html>") and html.count("<html") == 1
    assert not any(f'{attr}="http' in html or f"{attr}='http" in html or f"{attr}=http" in html for attr in ("src", "href"))
    assert html.lower().count("</script") == 2, "only the data element's and the app's own end tags"
    assert "<img" not in html and "<svg" not in html and "<!--" not in html
    data = report_data(html)

    # The run's trace ids (from the export) are all in the report, with their spans.
    trace_ids = {span["traceId"].lower() for line in export.read_text().splitlines()
                 for rs in json.loads(line).get("resourceSpans", []) for ss in rs.get("scopeSpans", []) for span in ss.get("spans", [])}
    assert trace_ids, export.read_text()
    assert {t["trace_id"] for t in data["traces"]} == trace_ids
    assert all(t["embedded"] for t in data["traces"])
    for trace_id in trace_ids:
        assert trace_id in html
    checkout = next(t for t in data["traces"] if t["root_name"] == "checkout")
    names = {s["name"] for s in checkout["spans"]}
    assert names == {"checkout", "charge", HOSTILE}, names
    assert [log["body"] for log in checkout["logs"]] == ["<!--</script><svg onload=alert(1)>"]

    # The failing assertion comes first, with its message, and names the trace it looked at.
    failed = data["assertions"][0]
    assert failed["passed"] is False and failed["index"] == 2 and failed["name"] == 'name = "checkout" and order.id = "B-99"'
    assert "B-99" in failed["detail"] and "near misses" in failed["detail"], failed["detail"]
    assert failed["trace_ids"] == [checkout["trace_id"]]
    assert checkout["failed_assertion"]
    assert data["assertions"][1]["passed"] is True
    assert data["run"]["exit_code"] == 0 and data["run"]["outcome"] == "failed"
    assert data["counts"]["spans"] == 3 and data["counts"]["logs"] == 1
    # The JUnit failure says where the report shows it.
    failure = ET.parse(junit_xml).getroot().find("testsuite").findall("testcase")[1].find("failure")
    assert f"{report}#assertion-2" in failure.text

    # In a browser: no console message (no error, no blocked load), no request, the waterfall drawn.
    if not os.access(CHROMIUM, os.X_OK):
        pytest.skip(f"no Chromium at {CHROMIUM} (scripts/test installs Debian's)")
    dom, console, requests_made = load_in_chromium(report, tmp_path)
    assert console == [], console
    assert requests_made == [], requests_made
    assert dom.count('class="wf-row') == 3, dom[-5000:]
    assert dom.count('class="assertion failed"') == 1
    # Markup from telemetry is text: escaped in the DOM, never an element, never run.
    assert "&lt;/script&gt;&lt;img src=x onerror=alert(1)&gt;" in dom
    assert "&lt;!--&lt;/script&gt;&lt;svg onload=alert(1)&gt;" in dom  # the log record of the trace
    assert not tags_in(dom) & {"img", "svg", "iframe", "b"}, tags_in(dom)
    title = dom.split("<title>", 1)[1].split("</title>", 1)[0]
    assert title.startswith("otelbox report: failed") and "pwned" not in title, title
    # A link to the trace opens it.
    dom, console, requests_made = load_in_chromium(report, tmp_path, f"#trace-{checkout['trace_id']}")
    assert console == [] and requests_made == [] and dom.count('class="wf-row') == 3


def test_metric_assertions_pass_and_fail_with_their_junit_cases(tmp_path):
    """A counter, a histogram and a gauge from the Python SDK (app_under_test.py --metrics)."""
    report = tmp_path / "otel.xml"
    passing = ["metric(orders.created).sum = 3",
               'metric(checkout.duration).p95 < 500ms where http.route = "/checkout"',
               'metric(queue.depth).last >= 1 where queue = "orders"',
               "metric(checkout.duration).count = 3"]
    failing = ["metric(orders.created).sum >= 5", "metric(orders.create) exists"]
    args = [arg for text in passing + failing for arg in ("--assert", text)]
    r = otelbox_run(*args, "--junit", str(report), app_args=["--metrics"])
    assert r.returncode == 1, r.stderr
    assert "3 metric(s)" in r.stderr and "checkout.duration" in r.stderr, r.stderr  # the summary
    assert junit(report) == (6, 2, passing + failing)
    cases = {c.get("name"): c.find("failure") for c in ET.parse(report).getroot().find("testsuite").findall("testcase")}
    assert all(cases[name] is None for name in passing), r.stderr
    assert cases[failing[0]].get("message") == "expected sum of orders.created >= 5, found 3", r.stderr
    assert "order.kind=web" in cases[failing[0]].text, cases[failing[0]].text  # the series, listed
    assert cases[failing[1]].get("message") == 'no metric named "orders.create"; similar names: orders.created'


def test_metric_entries_of_an_assertion_file(tmp_path):
    spec = tmp_path / "telemetry.yaml"
    spec.write_text("""
assertions:
  - name: three orders
    metric: orders.created
    value: sum
    equals: 3
  - metric: checkout.duration
    where: 'http.route = "/checkout"'
    value: p50
    max: 0.2s
  - metric: queue.depth
    where: 'queue = "refunds"'
""")
    report = tmp_path / "otel.xml"
    r = otelbox_run("--assertions", str(spec), "--junit", str(report), app_args=["--metrics"])
    assert r.returncode == 0, r.stderr
    assert junit(report) == (3, 0, ["three orders", 'metric(checkout.duration).p50 <= 0.2s where http.route = "/checkout"',
                                    'metric(queue.depth) exists where queue = "refunds"'])


# --- per-test scope (docs/ci): the pytest conftest and the node:test wrapper, for real ---

DOCS_CI = REPO / "docs" / "ci"
PER_TEST_ASSERTS = ["--assert", "count(status = error) == 0", "--assert", 'name = "checkout" -> name = "charge"']


def junit_suites(path):
    """{testsuite: {testcase: failure message, or None when it passed}}, in the report's order."""
    suites = {}
    for suite in ET.parse(path).getroot().findall("testsuite"):
        cases = {}
        for case in suite.findall("testcase"):
            failure = case.find("failure")
            cases[case.get("name")] = None if failure is None else failure.get("message")
        suites[suite.get("name")] = cases
    return suites


def check_per_test_report(report, passing, breaking):
    """A suite per test, in the order they ran: the passing test's two cases pass (the other test's
    error span is not in its traces); the breaking test fails the error count only."""
    suites = junit_suites(report)
    assert list(suites) == [passing, breaking], suites
    assert suites[passing] == {f"{passing} :: count(status = error) == 0": None,
                               f'{passing} :: name = "checkout" -> name = "charge"': None}, suites
    failing = suites[breaking]
    assert failing[f'{breaking} :: name = "checkout" -> name = "charge"'] is None, suites
    assert failing[f"{breaking} :: count(status = error) == 0"].startswith(
        "expected exactly 0 spans matching `status = error`, found 1"), suites


def test_per_test_scope_with_the_pytest_conftest(tmp_path):
    shutil.copy(DOCS_CI / "pytest-conftest.py", tmp_path / "conftest.py")
    shutil.copy(DOCS_CI / "example_test.py", tmp_path / "test_shop.py")
    report = tmp_path / "otel.xml"
    r = subprocess.run([OTELBOX, "run", "--per-test", *PER_TEST_ASSERTS, "--junit", str(report), "--",
                        sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "test_shop.py"],
                       capture_output=True, text=True, env=clean_env(), cwd=tmp_path, timeout=120)
    assert r.returncode == 1, r.stdout + r.stderr  # pytest passed; one test's telemetry broke an assertion
    assert "2 passed" in r.stdout, r.stdout
    check_per_test_report(report, "test_shop.py::test_checkout_pays", "test_shop.py::test_checkout_retries_a_declined_card")
    assert "FAIL  test_shop.py::test_checkout_retries_a_declined_card :: count(status = error) == 0" in r.stderr, r.stderr


def test_per_test_scope_with_node_test(tmp_path):
    for name in ("node-test-example.mjs", "example.test.mjs"):
        shutil.copy(DOCS_CI / name, tmp_path / name)
    (tmp_path / "node_modules").symlink_to(HERE / "node_modules")  # the pinned JS SDK (setup.sh)
    report = tmp_path / "otel.xml"
    r = subprocess.run([OTELBOX, "run", "--per-test=test.name", *PER_TEST_ASSERTS, "--junit", str(report), "--",
                        "node", "--test", "example.test.mjs"],
                       capture_output=True, text=True, env=clean_env(), cwd=tmp_path, timeout=120)
    assert r.returncode == 1, r.stdout + r.stderr
    assert "# pass 2" in r.stdout and "# fail 0" in r.stdout, r.stdout
    check_per_test_report(report, "example.test.mjs > checkout pays", "example.test.mjs > checkout retries a declined card")


def test_per_test_needs_an_attribute_and_says_when_no_test_has_it(tmp_path):
    marker = tmp_path / "ran"
    r = subprocess.run([OTELBOX, "run", "--per-test=name", "--", "touch", str(marker)], capture_output=True, text=True)
    assert r.returncode == 2 and "not an attribute key" in r.stderr, r.stderr
    assert not marker.exists()
    # app_under_test.py sets no test.name: no test, and a failed case that says so.
    report = tmp_path / "otel.xml"
    r = otelbox_run("--per-test", "--assert", 'name = "checkout"', "--junit", str(report))
    assert r.returncode == 1, r.stderr
    assert junit_suites(report) == {"run": {"per-test: tests named by test.name": (
        "no span has the attribute test.name, so no assertion was checked: set it on each test's root span "
        "(docs/ci/pytest-conftest.py, docs/ci/node-test-example.mjs), or name another with --per-test=ATTR")}}


# --- late and lost telemetry ---

SHOW_DELAYS = [sys.executable, "-c", "import os; print(*(k + '=' + str(os.environ.get(k)) for k in "
               "('OTEL_BSP_SCHEDULE_DELAY', 'OTEL_BLRP_SCHEDULE_DELAY', 'OTEL_METRIC_EXPORT_INTERVAL')))"]


def test_run_gives_the_command_short_export_delays_unless_it_has_its_own():
    r = subprocess.run([OTELBOX, "run", "--quiet", "--idle", "100ms", "--", *SHOW_DELAYS], capture_output=True, text=True,
                       env=clean_env(), timeout=60)
    assert "OTEL_BSP_SCHEDULE_DELAY=200 OTEL_BLRP_SCHEDULE_DELAY=200 OTEL_METRIC_EXPORT_INTERVAL=1000" in r.stdout, r.stdout
    r = subprocess.run([OTELBOX, "run", "--quiet", "--idle", "100ms", "--", *SHOW_DELAYS], capture_output=True, text=True,
                       env=clean_env(OTEL_BSP_SCHEDULE_DELAY="750"), timeout=60)
    assert "OTEL_BSP_SCHEDULE_DELAY=750 OTEL_BLRP_SCHEDULE_DELAY=200" in r.stdout, r.stdout


def test_run_waits_for_processes_the_command_left_running():
    # The detached helper exports late-child 1.5 s after the command exited: a 100 ms idle wait alone
    # would miss it, but run waits for the helper first.
    r = otelbox_run("--idle", "100ms", "--assert", 'name = "late-parent" -> name = "late-child"', "--quiet", app_args=["--late"])
    assert r.returncode == 0, r.stderr
    assert "still running" not in r.stderr, r.stderr


def test_run_names_the_processes_still_running_after_the_leftover_timeout():
    r = otelbox_run("--idle", "100ms", "--leftover-timeout", "200ms", "--quiet", app_args=["--late"])
    assert r.returncode == 0, r.stderr
    assert "1 process(es) the command started is still running 200ms after it exited" in r.stderr, r.stderr
    assert re.search(r"\n  pid \d+: \S*python\S* \S*app_under_test\.py --send-late 00-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}", r.stderr), r.stderr


def test_when_nothing_arrives_run_says_the_likely_cause_and_the_environment():
    # The Python SDK honours OTEL_SDK_DISABLED: app_under_test.py then sends nothing.
    r = subprocess.run([OTELBOX, "run", "--idle", "200ms", "--", *APP], capture_output=True, text=True,
                       env=clean_env(OTEL_SDK_DISABLED="true", OTEL_TRACES_EXPORTER="none",
                                     OTEL_EXPORTER_OTLP_HEADERS="authorization=Bearer s3cret"), timeout=60)
    assert r.returncode == 0, r.stderr
    for expected in ["no telemetry arrived. Likely causes:", "OTEL_SDK_DISABLED=true turns the SDK off",
                     "OTEL_TRACES_EXPORTER=none does not export over OTLP", "The command's OTEL_* environment:",
                     "OTEL_EXPORTER_OTLP_PROTOCOL=http/protobuf", "OTEL_EXPORTER_OTLP_HEADERS=(set, not shown)"]:
        assert expected in r.stderr, r.stderr
    assert "s3cret" not in r.stderr
    assert re.search(r"OTEL_EXPORTER_OTLP_ENDPOINT=http://127\.0\.0\.1:\d+\n", r.stderr), r.stderr
    # No SDK at all: nothing in the environment is to blame; say what to install.
    r = subprocess.run([OTELBOX, "run", "--idle", "200ms", "--", sys.executable, "-c", "pass"], capture_output=True, text=True,
                       env=clean_env(), timeout=60)
    assert "no telemetry arrived. Nothing in the command's OTEL_* environment stops an SDK" in r.stderr, r.stderr
    assert "opentelemetry-instrument" in r.stderr


# --- trace-complete waits ---

INCOMPLETE = [sys.executable, str(HERE / "incomplete_trace.py")]


def test_wait_complete_waits_for_the_root_span(box):
    marker = uuid.uuid4().hex
    env = clean_env(OTEL_EXPORTER_OTLP_ENDPOINT=box["http"], RUN_MARKER=marker)
    sender = subprocess.Popen([*INCOMPLETE, "--root-after", "2"], env=env)
    try:
        w = subprocess.run([OTELBOX, "wait", "--traces", "1", "--where", f'run.marker = "{marker}"', "--complete", "--timeout", "30s",
                            "--server", box["api"]], capture_output=True, text=True, timeout=60)
        assert w.returncode == 0, w.stderr
        # The root is there as soon as the wait returns: the child alone came 2 s earlier.
        a = subprocess.run([OTELBOX, "assert", f'name = "root-op" and run.marker = "{marker}" -> name = "child-op"', "--server", box["api"]],
                           capture_output=True, text=True)
        assert a.returncode == 0, a.stderr
    finally:
        sender.wait(timeout=30)


def test_wait_complete_times_out_naming_the_incomplete_traces(box):
    marker = uuid.uuid4().hex
    subprocess.run([*INCOMPLETE, "--root-after", "-1"], env=clean_env(OTEL_EXPORTER_OTLP_ENDPOINT=box["http"], RUN_MARKER=marker),
                   check=True, timeout=60)
    w = subprocess.run([OTELBOX, "wait", "--traces", "1", "--where", f'run.marker = "{marker}"', "--complete", "--timeout", "1s",
                        "--server", box["api"]], capture_output=True, text=True, timeout=60)
    assert w.returncode == 1, w.stderr
    child = requests.get(box["api"] + "/api/v1/spans", params={"q": f'run.marker = "{marker}"'}).json()["spans"][0]
    assert "1 trace(s) still incomplete:" in w.stderr, w.stderr
    assert f"trace {child['trace_id']}: no root span yet" in w.stderr, w.stderr
    assert (f"parent {child['parent_span_id']} missing; waiting on it: child-op (slow-root, span {child['span_id']})"
            in w.stderr), w.stderr


def test_run_complete_waits_for_a_root_span_that_comes_after_the_idle_wait():
    # A detached worker sends the child at once and the root 5 s later; run neither waits for the
    # worker (--leftover-timeout 0s) nor idles that long.
    args = ["--idle", "2s", "--leftover-timeout", "0s", "--quiet", "--assert", 'name = "root-op" -> name = "child-op"',
            "--", *INCOMPLETE, "--detach", "--root-after", "5"]
    r = subprocess.run([OTELBOX, "run", "--complete", *args], capture_output=True, text=True, env=clean_env(), timeout=120)
    assert r.returncode == 0, r.stderr
    # Without --complete, the assertions run before the root has come.
    r = subprocess.run([OTELBOX, "run", *args], capture_output=True, text=True, env=clean_env(), timeout=120)
    assert r.returncode == 1 and "no span matches the ancestor" in r.stderr, r.stderr


# --- lint --since ---

def test_lint_since_lints_only_recent_spans(tmp_path):
    ports = [free_port(), free_port(), free_port()]
    proc = subprocess.Popen([OTELBOX, "up", "--memory", "--grpc-port", str(ports[0]), "--http-port", str(ports[1]), "--ui-port", str(ports[2])],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    api = f"http://127.0.0.1:{ports[2]}"
    try:
        deadline = time.time() + 20
        while time.time() < deadline:
            try:
                if requests.get(api + "/readyz", timeout=1).ok:
                    break
            except requests.RequestException:
                time.sleep(0.05)
        env = clean_env(OTEL_EXPORTER_OTLP_ENDPOINT=f"http://127.0.0.1:{ports[1]}")
        subprocess.run([*INCOMPLETE, "--root-after", "-1"], env=env, check=True, timeout=60)  # an orphan
        time.sleep(4)
        subprocess.run([*INCOMPLETE, "--root-after", "-1"], env=env, check=True, timeout=60)  # another, 4 s later
        lint = lambda *args: subprocess.run([OTELBOX, "lint", *args, "--server", api], capture_output=True, text=True, timeout=60)
        everything, recent = lint(), lint("--since", "2s")
        assert everything.returncode == 0 and "lint warning [orphan-span] 2:" in everything.stdout, everything.stdout + everything.stderr
        assert recent.returncode == 0 and "lint warning [orphan-span] 1:" in recent.stdout, recent.stdout + recent.stderr
        assert lint("--since", "soon").returncode == 2
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
