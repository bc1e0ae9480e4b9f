"""Complete histories (issue 10): users cut off mid-request are in ops.jsonl as `info` with the
reason, so the correct shop is VALID however the load ends."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from shopbench.shop import RefShop

pytestmark = pytest.mark.slow

EXE = str(Path(sys.executable).parent / "shopbench")


def _stress(tmp_path, urls, out, *args, timeout=180):
    proc = subprocess.run([EXE, "stress", "--urls", str(urls), "--headless", "--out", str(out), *args],
                          capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, "PYTHONUNBUFFERED": "1"})
    return proc


def _ops(out):
    return [json.loads(line) for line in (out / "ops.jsonl").read_text().splitlines() if line.strip()]


@pytest.mark.parametrize("processes", [0, 2])
def test_users_cut_off_mid_checkout_are_recorded_and_the_correct_shop_is_valid(tmp_path, processes):
    # Every checkout takes over a second (--step-delay): when the load stops with --stop-timeout 0,
    # users are killed with checkouts in flight that the shop goes on to complete.
    with RefShop(tmp_path / "shop", extra_args={"order": ["--step-delay", "1.5"]}):
        urls = tmp_path / "shop" / "urls.json"
        out = tmp_path / "run"
        extra = ["--processes", str(processes)] if processes else []
        proc = _stress(tmp_path, urls, out, "-u", "12", "-r", "12", "-t", "4s", "--stop-timeout", "0",
                       "--mix", "order", "--wait", "0", *extra)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    verdict = json.loads((out / "verdict.json").read_text())
    assert verdict["result"] == "valid", verdict.get("anomalies", [])[:3]
    cut = [o for o in _ops(out) if (o.get("error") or "").startswith("cut off:")]
    assert cut, "no operation was cut off: the test did not exercise the stop"
    assert all(o["type"] == "info" for o in cut)
    assert any("--stop-timeout" in o["error"] for o in cut), {o["error"] for o in cut}
    manifest = json.loads((out / "run.json").read_text())
    load = [o for o in _ops(out) if o["process"] not in ("populate", "settle", "state")]
    assert manifest["locust"]["requests"] == len(load)  # Locust counted the cut-off ones too


SHIPPING = """
import gevent
from types import SimpleNamespace as NS
from shopbench.locust_plugin import shipping as mod
from shopbench.locust_plugin import session as sessions
from shopbench.target import Target

sessions.install(sessions.Session(target=Target("http://x", "http://x", "http://x")))
mod.FLUSH_WAIT = 0.3
flushed = []
runner = NS(clients=NS(all=[NS(id="w0"), NS(id="w1"), NS(id="w2")]),
            send_message=lambda kind, data, client_id=None: flushed.append(client_id))
s = mod.Shipping()
msg = lambda node, **data: NS(node_id=node, data=data)
line = b'{"type": "ok", "f": "find_item", "expect": null, "scenario": null}'
s.on_batch(None, msg("w0", lines=line + b"\\n" + line, n=2))
s.on_done(None, msg("w0", shipped=2))          # all its lines arrived: confirmed
s.on_batch(None, msg("w1", lines=line, n=1))
s.on_done(None, msg("w1", shipped=3))          # said 3, 1 arrived: a batch is missing
#                                                w2 never answers
missing = s.wait_for_workers(runner)
print(sorted(flushed), missing, "|", s.incomplete_reason())
"""


def test_a_worker_that_never_confirms_its_last_batch_makes_the_history_incomplete(tmp_path):
    from shopbench.checker.verdict import add_sections

    script = tmp_path / "ship.py"
    script.write_text(SHIPPING)
    proc = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr[-3000:]
    flushed_and_missing, _, reason = proc.stdout.strip().partition(" | ")
    assert flushed_and_missing == "['w0', 'w1', 'w2'] ['w1', 'w2']"
    assert "2 Locust worker(s) never confirmed their last history batch (w1, w2)" in reason
    # The runner puts it in the verdict's `load` section: the run cannot be VALID.
    verdict = add_sections({"valid": True, "ledger_valid": True}, {"load": {"unknown_reasons": [reason]}})
    assert verdict["result"] == "unknown" and reason in verdict["unknown_reasons"]


def test_open_model_requests_cancelled_at_the_end_are_recorded_and_valid(tmp_path):
    with RefShop(tmp_path / "shop", extra_args={"order": ["--step-delay", "1.5"]}):
        urls = tmp_path / "shop" / "urls.json"
        out = tmp_path / "run"
        proc = _stress(tmp_path, urls, out, "-t", "4s", "--stop-timeout", "0", "--arrival-rate", "20",
                       "--mix", "order")
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    verdict = json.loads((out / "verdict.json").read_text())
    assert verdict["result"] == "valid", verdict.get("anomalies", [])[:3]
    cut = [o for o in _ops(out) if (o.get("error") or "").startswith("cut off:")]
    assert cut and all(o["type"] == "info" for o in cut)
    assert any("open-model request cancelled" in o["error"] for o in cut), {o["error"] for o in cut}


def test_ctrl_c_cuts_users_off_with_the_reason_and_the_run_is_still_checked(tmp_path):
    import signal
    import time

    with RefShop(tmp_path / "shop", extra_args={"order": ["--step-delay", "1.5"]}):
        urls = tmp_path / "shop" / "urls.json"
        out = tmp_path / "run"
        proc = subprocess.Popen([EXE, "stress", "--urls", str(urls), "--headless", "--out", str(out), "-u", "10",
                                 "-r", "10", "-t", "60s", "--stop-timeout", "0", "--mix", "order", "--wait", "0"],
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        try:
            deadline = time.monotonic() + 60
            while not (out / "ops.jsonl").exists() or (out / "ops.jsonl").stat().st_size < 20000:
                assert proc.poll() is None and time.monotonic() < deadline
                time.sleep(0.3)
            time.sleep(2)
            proc.send_signal(signal.SIGINT)
            output, _ = proc.communicate(timeout=120)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    assert proc.returncode == 0, output[-3000:]
    verdict = json.loads((out / "verdict.json").read_text())
    assert verdict["result"] == "valid", verdict.get("anomalies", [])[:3]
    manifest = json.loads((out / "run.json").read_text())
    assert "Ctrl-C" in manifest["stopped_early"]
    cut = [o for o in _ops(out) if (o.get("error") or "").startswith("cut off:")]
    assert cut and all("Ctrl-C" in o["error"] for o in cut), {o["error"] for o in cut}
