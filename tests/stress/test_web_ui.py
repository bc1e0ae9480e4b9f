"""`shopbench stress` without --headless: Locust's web UI, driven through its own HTTP API as the
browser page drives it (swarm, stop), then Ctrl-C; the run still ends with a verdict."""

import json
import signal
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

from shopbench.processes import free_port

pytestmark = pytest.mark.slow


def test_web_ui_swarm_stop_and_ctrl_c_give_a_verdict(tmp_path):
    port = free_port()
    out = tmp_path / "run"
    log = tmp_path / "run.log"
    exe = str(Path(sys.executable).parent / "shopbench")
    with open(log, "w") as sink:
        proc = subprocess.Popen([exe, "stress", "--web-host", "127.0.0.1", "--web-port", str(port), "--wait", "0-0.1",
                                 "--out", str(out)], stdout=sink, stderr=subprocess.STDOUT, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(base + "/", timeout=1)
                break
            except OSError:
                assert proc.poll() is None and time.monotonic() < deadline, log.read_text()[-3000:]
                time.sleep(0.2)
        form = urllib.parse.urlencode({"user_count": 4, "spawn_rate": 4, "host": ""}).encode()
        started = json.loads(urllib.request.urlopen(base + "/swarm", data=form, timeout=10).read())
        assert started["success"] is True
        time.sleep(3)
        stats = json.loads(urllib.request.urlopen(base + "/stats/requests", timeout=10).read())
        assert stats["user_count"] == 4 and stats["total_rps"] > 0
        urllib.request.urlopen(urllib.request.Request(base + "/stop", method="POST"), timeout=10)
        time.sleep(1)
        proc.send_signal(signal.SIGINT)
        code = proc.wait(timeout=90)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert code == 0, log.read_text()[-3000:]
    verdict = json.loads((out / "verdict.json").read_text())
    assert verdict["valid"] is True and verdict["checkouts"]["ok"] > 0
    assert (out / "report.html").exists() and (out / "locust_stats.csv").exists()
