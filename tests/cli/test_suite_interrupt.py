"""A terminal's Ctrl-C on `shopbench suite` (SIGINT to its whole process group, as a terminal sends
it): the running test gets it from `suite` (its own session, started by `spawn`), ends its run as
documented (a verdict, an end mark), and the suite stops with 130, leaving nothing behind."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _in_load(run: Path) -> bool:
    try:
        return any(p["name"] == "load" for p in json.loads((run / "run.json").read_text())["phases"])
    except (OSError, ValueError, KeyError):
        return False


@pytest.mark.slow
def test_ctrl_c_on_suite_ends_the_running_test_as_documented_and_stops(tmp_path):
    out = tmp_path / "suite"
    exe = str(Path(sys.executable).parent / "shopbench")
    proc = subprocess.Popen([exe, "suite", "--test-type", "stress", "-u", "2", "-r", "2", "-t", "60s",
                             "--out", str(out)], cwd=ROOT, start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    try:
        deadline = time.monotonic() + 90
        while not _in_load(out / "stress") and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert _in_load(out / "stress"), "the stress test never reached its load"
        os.killpg(proc.pid, signal.SIGINT)  # what a terminal's Ctrl-C does
        assert proc.wait(timeout=60) == 130
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    manifest = json.loads((out / "stress" / "run.json").read_text())
    assert manifest["ended"] is not None and manifest["status"] in ("valid", "invalid", "unknown"), manifest
