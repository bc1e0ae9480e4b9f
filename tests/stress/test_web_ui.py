"""`shopbench stress` without --headless: Locust's web UI, driven through its own HTTP API as the
browser page drives it (swarm, stop), then Ctrl-C; the run still ends with a verdict."""

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
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


def _listening(pid, port):
    import psutil

    proc = psutil.Process(pid)
    conns = proc.net_connections(kind="tcp") if hasattr(proc, "net_connections") else proc.connections(kind="tcp")
    return {c.laddr.ip for c in conns if c.status == psutil.CONN_LISTEN and c.laddr.port == port}


def test_web_ui_listens_on_loopback_by_default_and_web_login_passes_through(tmp_path):
    port = free_port()
    exe = str(Path(sys.executable).parent / "shopbench")
    log = tmp_path / "run.log"
    with open(log, "w") as sink:
        proc = subprocess.Popen([exe, "stress", "--web-port", str(port), "--web-login", "--out", str(tmp_path / "run")],
                                stdout=sink, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while not _listening(proc.pid, port):
            assert proc.poll() is None and time.monotonic() < deadline, log.read_text()[-3000:]
            time.sleep(0.2)
        assert _listening(proc.pid, port) == {"127.0.0.1"}  # not 0.0.0.0: not open to the network unasked

        class NoRedirect(urllib.request.HTTPRedirectHandler):
            def redirect_request(self, *args, **kwargs):
                return None

        opener = urllib.request.build_opener(NoRedirect)
        try:
            resp = opener.open(f"http://127.0.0.1:{port}/", timeout=10)
            status, where, body = resp.status, resp.headers.get("Location", ""), resp.read().decode()
        except urllib.error.HTTPError as exc:
            status, where, body = exc.code, exc.headers.get("Location", ""), ""
        # --web-login reached Locust: the page is behind its login (a redirect, or, with no auth
        # provider configured by the locustfile, Locust's own "configure authentication" page).
        assert "login" in where or "Locust auth exception" in body, (status, where, body[:300])
    finally:
        _stop(proc)


def test_web_host_given_by_the_user_is_kept(tmp_path):
    port = free_port()
    exe = str(Path(sys.executable).parent / "shopbench")
    log = tmp_path / "run.log"
    with open(log, "w") as sink:
        proc = subprocess.Popen([exe, "stress", "--web-host", "127.0.0.2", "--web-port", str(port),
                                 "--out", str(tmp_path / "run")], stdout=sink, stderr=subprocess.STDOUT,
                                start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while not _listening(proc.pid, port):
            assert proc.poll() is None and time.monotonic() < deadline, log.read_text()[-3000:]
            time.sleep(0.2)
        assert _listening(proc.pid, port) == {"127.0.0.2"}
    finally:
        _stop(proc)


def _stop(proc: subprocess.Popen) -> None:
    """Ctrl-C the run (it restores and checks), and kill its process group if it does not end."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
