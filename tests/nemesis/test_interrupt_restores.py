"""Ctrl-C on a real run restores every service it faulted and leaves a readable run directory.

The shop is started by the test (as `shopbench shop up` would) and handed to the runs through
`--urls` and `--services-data`, so what is checked afterwards is the shop the user still has.
The runs are real `shopbench` processes; SIGINT is what a terminal's Ctrl-C sends, to the whole
foreground process group (`os.killpg`); SIGKILL leaves shopbench no say, and the restore guardian
puts things right.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest
from nemesis_helpers import wait_for

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
    # Held until the run ends, with a longer request timeout: the burst hangs on the paused service,
    # so the interrupt always arrives mid-burst (a burst that finished first would end VALID).
    faults = faults_file(tmp_path, [{"type": "time", "threshold": 0, "services": ["order-service"],
                                     "action": "pause", "recovery_time": 120}])
    out = tmp_path / "run"
    code, log = start_and_interrupt(
        [EXE, "consistency", "--urls", str(shop.data_dir / "urls.json"), "--faults", str(faults),
         "--services-data", str(shop.supervisor.state_dir), "--items", "5", "--stock", "100", "--users", "400",
         "--orders", "400", "--concurrency", "4", "--timeout", "120", "--out", str(out)], out, 1, tmp_path)
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


# -- a terminal's Ctrl-C (SIGINT to the whole process group) and SIGKILL -------------------------
HELD = [{"type": "time", "threshold": 0, "services": ["payment-service"], "action": "kill", "recovery_time": 120},
        {"type": "time", "threshold": 0, "services": ["order-service"], "action": "pause", "recovery_time": 120}]


def start_with_held_faults(tmp_path: Path, *extra: str) -> tuple[subprocess.Popen, Path, Path]:
    """A real consistency run whose faults (a kill and a pause) are held until it ends: the burst
    hangs on the paused order service, so the run is mid-load whenever the test acts."""
    out, log = tmp_path / "run", tmp_path / "run.log"
    # Enough checkouts, few at a time, that the burst is still going when the faults land.
    cmd = [EXE, "consistency", "--faults", str(faults_file(tmp_path, HELD)), "--items", "5", "--stock", "100",
           "--users", "400", "--orders", "400", "--concurrency", "4", "--timeout", "120", "--out", str(out), *extra]
    # Its own session, as a terminal's foreground job is its own process group.
    proc = subprocess.Popen(cmd, stdout=open(log, "w"), stderr=subprocess.STDOUT, start_new_session=True)  # noqa: SIM115
    deadline = time.monotonic() + 90
    while not (out / "faults.jsonl").exists() or len((out / "faults.jsonl").read_text().splitlines()) < 2:
        assert proc.poll() is None, log.read_text()[-3000:]
        assert time.monotonic() < deadline, "the faults never fired:\n" + log.read_text()[-3000:]
        time.sleep(0.1)
    return proc, out, log


def ours(proc: subprocess.Popen) -> list[psutil.Process]:
    """Every process the run started (the shop's services, the restore guardian)."""
    return psutil.Process(proc.pid).children(recursive=True)


def status(p: psutil.Process) -> str | None:
    try:
        return p.status() if p.is_running() else None
    except psutil.Error:
        return None


def gone(procs: list[psutil.Process]) -> bool:
    return all(status(p) in (None, psutil.STATUS_ZOMBIE) for p in procs)


def end(procs: list[psutil.Process]) -> None:
    """A failed test leaves nothing behind either."""
    for p in procs:
        try:
            p.send_signal(signal.SIGCONT)
            p.kill()
        except psutil.Error:
            pass


def test_ctrl_c_to_the_process_group_restores_then_stops_the_embedded_shop(tmp_path):
    proc, out, log = start_with_held_faults(tmp_path)
    try:
        children = ours(proc)
        assert len(children) >= 3, [p.cmdline() for p in children]  # stock, order, the guardian (payment killed)
        os.killpg(proc.pid, signal.SIGINT)  # what a terminal's Ctrl-C does: the whole foreground group
        code = proc.wait(timeout=90)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    text = log.read_text()
    assert code == 130, text[-3000:]
    assert "Traceback" not in text
    manifest = json.loads((out / "run.json").read_text())
    assert manifest["status"] == "interrupted" and (out / "report.html").exists()
    recovers = [json.loads(line) for line in (out / "faults.jsonl").read_text().splitlines()]
    recovers = [e for e in recovers if e["role"] == "recover"]
    # The services got no SIGINT of their own: shopbench restarted and resumed them, then stopped them.
    assert {(e["action"], e["landed"]) for e in recovers} == {("start", True), ("resume", True)}, recovers
    try:
        assert wait_for(lambda: gone(children), timeout=15), [p.pid for p in children if not gone([p])]
    finally:
        end(children)


def test_sigkill_of_a_run_ends_its_embedded_shop_through_the_restore_guardian(tmp_path):
    proc, out, _ = start_with_held_faults(tmp_path)
    try:
        children = ours(proc)
        paused = [p for p in children if status(p) == psutil.STATUS_STOPPED]
        assert len(paused) == 1 and "order" in paused[0].cmdline(), (out / "faults.jsonl").read_text()
    finally:
        proc.kill()  # SIGKILL: no handler, finally or atexit of shopbench runs
        proc.wait()
    try:
        assert wait_for(lambda: gone(children), timeout=15), [p.pid for p in children if not gone([p])]
    finally:
        end(children)


def test_sigkill_of_a_run_resumes_the_service_it_paused_in_a_users_shop(shop, tmp_path):
    faults = faults_file(tmp_path, [HELD[1]])
    out, log = tmp_path / "run", tmp_path / "run.log"
    proc = subprocess.Popen(
        [EXE, "consistency", "--urls", str(shop.data_dir / "urls.json"), "--faults", str(faults),
         "--services-data", str(shop.supervisor.state_dir), "--items", "5", "--stock", "100", "--users", "400",
         "--orders", "400", "--concurrency", "4", "--timeout", "120", "--out", str(out)],
        stdout=open(log, "w"), stderr=subprocess.STDOUT, start_new_session=True)  # noqa: SIM115
    try:
        timeline = out / "faults.jsonl"
        assert wait_for(lambda: timeline.exists() and timeline.read_text().strip(), timeout=60), log.read_text()[-3000:]
        assert json.loads(timeline.read_text().splitlines()[0])["landed"]  # every process stopped, requests hang
        assert shop.supervisor.state("order") == PAUSED
    finally:
        proc.kill()
        proc.wait()
    # The user's shop is theirs: it keeps running, and the pause shopbench held is undone.
    assert wait_for(lambda: shop.supervisor.state("order") == RUNNING, timeout=10)
    assert_all_running(shop)
