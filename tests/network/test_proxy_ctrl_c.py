"""A terminal's Ctrl-C sends SIGINT to the whole foreground process group. The fault proxy must
not die of it mid-run: it lives in its own session, ignores SIGINT, and shopbench ends it (by pid)
once the links healed and the shop settled through them."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from shopbench.nemesis import read_timeline
from shopbench.nemesis.proxy import LinkProxy

EXE = str(Path(sys.executable).parent / "shopbench")


def test_the_proxy_is_in_its_own_session_and_ignores_sigint(upstream: tuple[str, int]) -> None:
    with LinkProxy.start({"a->b": upstream}) as p:
        assert os.getsid(p.pid) == p.pid != os.getsid(0)  # a terminal's Ctrl-C does not reach it
        os.kill(p.pid, signal.SIGINT)  # and if one is sent to it anyway, it stays:
        # the signal is pending before the first command is sent, so by the third answer the
        # proxy's loop has handled it (a proxy that ended on it would close the control port).
        for _ in range(3):
            assert p.state()["a->b"]["listening"] is True
        assert p.proc.poll() is None
    assert p.proc.returncode is not None  # ended by shopbench, by its pid


@pytest.mark.slow
def test_ctrl_c_to_the_process_group_of_a_stress_run_settles_through_live_links(tmp_path: Path) -> None:
    plan = tmp_path / "delay.json"
    plan.write_text(json.dumps({"kill_triggers": [
        {"type": "time", "threshold": 0, "action": "delay", "links": ["client->order"], "ms": 100, "duration": 0.5}]}))
    out = tmp_path / "run"
    # Its own session, as a shell gives a foreground job its own process group: killpg reaches every
    # process in that group (shopbench, and the proxy unless it left it), not pytest.
    run = subprocess.Popen([EXE, "stress", "--headless", "-u", "4", "-r", "4", "-t", "60s", "--wait", "0-0.05",
                            "--seed", "2", "--out", str(out), "--faults", str(plan), "--json"],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
                           cwd=tmp_path)
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline and run.poll() is None:
            faults = out / "faults.jsonl"
            if faults.exists() and any(x["role"] == "recover" for x in read_timeline(faults)):
                break  # the delay healed; the load goes on
            time.sleep(0.1)
        assert run.poll() is None, run.communicate()[1][-3000:]
        time.sleep(1.0)  # some load after the heal, so the settle has orders to read through the links
        os.killpg(run.pid, signal.SIGINT)
        stdout, stderr = run.communicate(timeout=120)
    finally:
        if run.poll() is None:
            os.killpg(run.pid, signal.SIGKILL)
            run.wait()
    verdict = json.loads(stdout)
    reasons = " ".join(verdict.get("unknown_reasons") or [])
    assert "Connection refused" not in reasons, reasons
    assert verdict["result"] == "valid", (verdict["result"], reasons, stderr[-2000:])
    assert json.loads((out / "run.json").read_text())["stopped_early"].startswith("Ctrl-C")
