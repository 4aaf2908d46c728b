"""A box's threads and store as the README describes them, checked on the real binary: which threads
run below the writer (src/priority.rs), and span packing (src/store/packing.rs) on a store that
`otelbox gen` filled."""

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from test_interop import OTELBOX_BIN, free_ports

# The box is started this much lower than the test: its threads' levels are counted from its own.
BOX_NICE = 3


def start_box(data_dir, *extra_args):
    grpc_port, http_port, ui_port = free_ports(3)
    proc = subprocess.Popen(
        [str(OTELBOX_BIN), "up", "--data-dir", str(data_dir), "--listen", "127.0.0.1", "--grpc-port", str(grpc_port),
         "--http-port", str(http_port), "--ui-port", str(ui_port), *extra_args],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL, preexec_fn=lambda: os.nice(BOX_NICE))
    api = f"http://127.0.0.1:{ui_port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        assert proc.poll() is None, "otelbox exited before becoming ready"
        try:
            if requests.get(api + "/readyz", timeout=1).status_code == 200:
                return proc, api, http_port
        except requests.RequestException:
            pass
        time.sleep(0.1)
    proc.kill()
    pytest.fail("otelbox not ready after 30 s")


def stop(proc):
    proc.send_signal(signal.SIGTERM)
    proc.wait(timeout=30)


def thread_nice(pid):
    """(thread name, nice value) of each thread of a process, from /proc."""
    threads = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        stat = (task / "stat").read_text()
        name = stat[stat.index("(") + 1:stat.rindex(")")]
        fields = stat[stat.rindex(")") + 2:].split()
        threads.append((name, int(fields[16])))  # field 19 of stat, the 17th after the name
    return threads


def gen_traces(http_port, count):
    r = subprocess.run([str(OTELBOX_BIN), "gen", "traces", "--endpoint", f"http://127.0.0.1:{http_port}", "--rate", "0",
                        "--count", str(count), "--batch", "1000", "--concurrency", "4"], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="thread priorities are set on Linux only")
def test_the_writer_and_readers_keep_the_boxs_priority_and_the_threads_feeding_them_run_ten_below(tmp_path):
    base = os.nice(0) + BOX_NICE
    proc, _, http_port = start_box(tmp_path / "data")
    try:
        gen_traces(http_port, 5000)  # the blocking pool starts threads of its own (from lowered ones)
        threads = thread_nice(proc.pid)
    finally:
        stop(proc)
    by_name = {}
    for name, nice in threads:
        by_name.setdefault(name, set()).add(nice)
    assert by_name["otelbox-writer"] == {base}, threads
    assert {n for name, n in threads if name.startswith("otelbox-read-")} == {base}, threads
    assert len([name for name, _ in threads if name.startswith("otelbox-read-")]) == 4, threads
    assert by_name["tokio-rt-worker"] == {min(base + 10, 19)}, threads
    assert by_name["otelbox-free"] == {min(base + 10, 19)}, threads


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="thread priorities are set on Linux only")
def test_a_box_whose_pipelines_do_not_store_keeps_its_priority(tmp_path):
    """A forwarder (no `otelbox` exporter in any pipeline) has no writer to make way for: its
    threads lowered, it lost the CPU to the programs it serves (scripts/bench forward)."""
    config = tmp_path / "forward-only.yaml"
    config.write_text("receivers:\n  otlp:\n    protocols: { grpc: {}, http: {} }\nexporters:\n  debug: {}\n"
                      "service:\n  pipelines:\n    traces: { receivers: [otlp], exporters: [debug] }\n")
    base = os.nice(0) + BOX_NICE
    proc, _, http_port = start_box(tmp_path / "data", "--config", str(config))
    try:
        gen_traces(http_port, 5000)
        threads = thread_nice(proc.pid)
    finally:
        stop(proc)
    workers = {n for name, n in threads if name == "tokio-rt-worker"}
    assert workers == {base}, threads


def test_an_idle_box_packs_its_span_rows_and_gives_the_freed_pages_back(tmp_path):
    """What the README promises of packing, on the real binary: once ingest stops, every complete
    range but the newest two is packed, each span is still counted and readable, and the file comes
    down to about what its data takes."""
    data = tmp_path / "data"
    proc, api, http_port = start_box(data)
    try:
        gen_traces(http_port, 80_000)
        deadline = time.monotonic() + 60
        while requests.get(api + "/api/v1/status", timeout=5).json()["storage"]["spans_to_pack"] > 0:
            assert time.monotonic() < deadline, "spans still waiting to be packed after 60 s"
            time.sleep(0.2)
        time.sleep(2)  # the idle writer returns the freed pages, 4 MiB a step
        status = requests.get(api + "/api/v1/status", timeout=5).json()["storage"]
        assert status["spans"] == 80_000
        # The oldest of the newest 1,000 traces lie some 14,000 spans back: in packs.
        traces = requests.get(api + "/api/v1/traces?limit=1000", timeout=10).json()["traces"]
        for trace in traces[-10:]:
            spans = requests.get(api + f"/api/v1/traces/{trace['trace_id']}", timeout=10).json()["spans"]
            assert len(spans) == trace["span_count"] and all(s["attributes"] for s in spans), trace
    finally:
        stop(proc)
    db = sqlite3.connect(f"file:{data / 'otelbox.db'}?mode=ro", uri=True)
    rows = db.execute("SELECT count(*) FROM spans").fetchone()[0]  # main.spans: the rows only
    packed = db.execute("SELECT sum(spans) FROM span_packs").fetchone()[0]
    assert rows + packed == 80_000
    # Ids 1..80,000: ranges 0 to 77 are complete, the newest two of them stay rows.
    assert packed == 76 * 1024 - 1, (rows, packed)
    file_bytes = sum(f.stat().st_size for f in data.iterdir() if f.name.startswith("otelbox.db"))
    # 231 bytes a span as rows; packed about 118 with the rows left (bench-results, 300,000 spans).
    assert file_bytes / 80_000 < 150, file_bytes / 80_000
