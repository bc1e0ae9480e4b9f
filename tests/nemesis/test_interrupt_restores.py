"""Ctrl-C on a real run restores every service it faulted and leaves a readable run directory.

The shop is started by the test (as `shopbench shop up` would) and handed to the runs through
`--urls` and `--services-data`, so what is checked afterwards is the shop the user still has.
The runs are real `shopbench` processes; SIGINT is what a terminal's Ctrl-C sends.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from shopbench.processes import PAUSED, RUNNING, health_ok
from shopbench.shop import RefShop

pytestmark = pytest.mark.slow
EXE = str(Path(sys.executable).parent / "shopbench")


def faults_file(tmp_path: Path, triggers: list[dict]) -> Path:
    path = tmp_path / "kill_config.json"
    path.write_text(json.dumps({"kill_triggers": triggers}))
    return path


def start_and_interrupt(cmd: list[str], out: Path, faults_expected: int, tmp_path: Path) -> tuple[int, str]:
    log = tmp_path / "run.log"
    with open(log, "w") as sink:
        proc = subprocess.Popen(cmd, stdout=sink, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                timeline = out / "faults.jsonl"
                if timeline.exists() and len(timeline.read_text().splitlines()) >= faults_expected:
                    break
                assert proc.poll() is None, log.read_text()[-3000:]
                time.sleep(0.1)
            else:
                pytest.fail("the faults never fired:\n" + log.read_text()[-3000:])
            time.sleep(0.3)
            proc.send_signal(signal.SIGINT)
            code = proc.wait(timeout=90)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    return code, log.read_text()


@pytest.fixture
def shop(tmp_path):
    with RefShop(tmp_path / "shop") as s:
        yield s


def assert_all_running(shop: RefShop) -> None:
    for name in ("order", "stock", "payment"):
        assert shop.supervisor.state(name) == RUNNING, name
        assert health_ok(shop.url(name) + "/health"), name


def test_ctrl_c_during_a_consistency_burst_restores_a_paused_service(shop, tmp_path):
    faults = faults_file(tmp_path, [{"type": "time", "threshold": 0, "services": ["order-service"],
                                     "action": "pause", "recovery_time": 0}])
    out = tmp_path / "run"
    code, log = start_and_interrupt(
        [EXE, "consistency", "--urls", str(shop.data_dir / "urls.json"), "--faults", str(faults),
         "--services-data", str(shop.supervisor.state_dir), "--items", "5", "--users", "40", "--orders", "40",
         "--out", str(out)], out, 1, tmp_path)
    assert shop.supervisor.state("order") != PAUSED
    assert code == 130, log[-3000:]
    assert "interrupted" in log and "Traceback" not in log
    assert_all_running(shop)
    manifest = json.loads((out / "run.json").read_text())
    assert manifest["status"] == "interrupted" and manifest["exit_code"] == 130
    assert (out / "report.html").exists()  # a partial report of what finished


def test_ctrl_c_during_a_stress_run_restores_a_killed_and_a_paused_service(shop, tmp_path):
    faults = faults_file(tmp_path, [
        {"type": "time", "threshold": 1, "services": ["stock-service"], "action": "pause", "recovery_time": 0},
        {"type": "time", "threshold": 1, "services": ["payment-service"], "action": "kill", "recovery_time": 0}])
    out = tmp_path / "run"
    code, log = start_and_interrupt(
        [EXE, "stress", "--urls", str(shop.data_dir / "urls.json"), "--faults", str(faults),
         "--services-data", str(shop.supervisor.state_dir), "--headless", "-u", "4", "-r", "4", "-t", "120s",
         "--timeout", "2", "--stop-timeout", "3", "--out", str(out)], out, 2, tmp_path)
    # Locust's Ctrl-C ends the load early; the run then settles and checks what it did.
    assert code in (0, 1), log[-3000:]
    assert_all_running(shop)
    verdict = json.loads((out / "verdict.json").read_text())
    assert any("stopped the load before its end" in w for w in verdict["warnings"])
    assert json.loads((out / "run.json").read_text())["stopped_early"]
    assert {f["service"] for f in verdict["faults"]} == {"stock", "payment"}
    assert all(f["restored"] for f in verdict["faults"])
