"""A box's threads and store as the README and docs/span-blocks.md describe them, checked on the real
binary: which threads run below the writer (src/priority.rs), and scripts/estimate-span-blocks on a
store that `otelbox gen` filled."""

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from test_interop import OTELBOX_BIN, free_ports

REPO = Path(__file__).resolve().parents[2]
# The box is started this much lower than the test: its threads' levels are counted from its own.
BOX_NICE = 3


def start_box(data_dir):
    grpc_port, http_port, ui_port = free_ports(3)
    proc = subprocess.Popen(
        [str(OTELBOX_BIN), "up", "--data-dir", str(data_dir), "--listen", "127.0.0.1", "--grpc-port", str(grpc_port),
         "--http-port", str(http_port), "--ui-port", str(ui_port)],
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


def test_estimate_span_blocks_reads_a_real_store(tmp_path):
    proc, _, http_port = start_box(tmp_path / "data")
    try:
        gen_traces(http_port, 80_000)  # over 4,000 traces, as the script needs
    finally:
        stop(proc)
    r = subprocess.run([sys.executable, str(REPO / "scripts" / "estimate-span-blocks"), str(tmp_path / "data" / "otelbox.db")],
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr
    figures = dict(re.findall(r"^(.*?): ([0-9.]+) bytes a span$", r.stdout, re.M))
    assert len(figures) == 6, r.stdout
    uncompressed = float(figures["the blocks uncompressed"])
    per_trace = float(figures["a block per trace, zstd 3 with a dictionary"])
    # The compressed attribute blobs were decoded (plain ones are about 140 bytes a span), and a
    # trace's spans compress far below the 134 bytes the span row holds today.
    assert uncompressed > 120, r.stdout
    assert per_trace < 60, r.stdout
