"""Runs SIGKILLed mid-load. A run directory says whether its run ended cleanly (issue 20.7): a killed
run has no `ended` in run.json, and `shopbench check` on it is UNKNOWN, saying why, never a verdict on
a history that may be partial. Nothing outlives it (issue 20.2): Locust's `--processes` workers,
forked by Locust itself, are tied to the restore guardian by the Locust plugin, so a `kill -9` of the
master ends them too (and the embedded shop, tied by `spawn`)."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

ROOT = Path(__file__).resolve().parents[2]


def _in_load(out: Path) -> bool:
    try:
        manifest = json.loads((out / "run.json").read_text())
    except (OSError, ValueError):
        return False
    return any(p["name"] == "load" for p in manifest.get("phases", ()))


@pytest.mark.slow
def test_a_sigkilled_run_is_unknown_when_checked(tmp_path):
    out = tmp_path / "run"
    exe = str(Path(sys.executable).parent / "shopbench")
    proc = subprocess.Popen([exe, "stress", "--headless", "-u", "4", "-r", "4", "-t", "60s", "--mix", "hot-items",
                             "--wait", "0-0.05", "--out", str(out)], cwd=ROOT, start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    tree: list[psutil.Process] = []
    try:
        deadline = time.monotonic() + 90
        while not _in_load(out) and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert _in_load(out), "the run never reached its load"
        tree = psutil.Process(proc.pid).children(recursive=True)  # its shop: SIGKILL leaves it behind
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
    finally:
        for p in [*tree, psutil.Process(proc.pid)] if proc.poll() is None else tree:
            try:
                p.kill()
            except psutil.Error:
                pass
        psutil.wait_procs(tree, timeout=10)
    manifest = json.loads((out / "run.json").read_text())
    assert manifest["ended"] is None and manifest["status"] == "running"

    checked = subprocess.run([exe, "check", str(out), "--json"], cwd=ROOT, capture_output=True, text=True,
                             timeout=60)
    assert checked.returncode == 4, checked.stderr[-3000:]
    verdict = json.loads(checked.stdout)
    assert verdict["result"] == "unknown" and verdict["run_end"]["ended"] is False
    killed, no_state = verdict["unknown_reasons"]
    assert killed.startswith("the run was killed; operations in flight may be missing")
    assert "no state.json" in no_state


def test_the_end_mark_is_what_the_run_end_section_reads(tmp_path):
    from shopbench.rundir import RunDir

    run = RunDir.create("stress", tmp_path / "run")
    (reason,) = run.end_section()["unknown_reasons"]  # this very process: alive since the run started
    assert reason.startswith(f"the run is still going (pid {os.getpid()}")
    run.manifest["pid"] = _dead_pid()
    (reason,) = run.end_section()["unknown_reasons"]
    assert reason.startswith("the run was killed; operations in flight may be missing")
    with subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"]) as later:
        try:  # alive, but started after the run did: the pid was reused, the run is gone
            run.manifest["pid"], run.manifest["started"] = later.pid, psutil.Process(later.pid).create_time() - 10
            assert run.end_section()["unknown_reasons"][0].startswith("the run was killed")
        finally:
            later.kill()
    run.finish("valid", 0)
    assert RunDir.open(run.path).end_section() == {"ended": True}


def _dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def _tied_workers(restore: Path) -> list[int]:
    try:
        state = json.loads(restore.read_text())
    except (OSError, ValueError):
        return []
    return [e["pid"] for e in state["end"] if e["why"] == "Locust worker"]


@pytest.mark.slow
def test_a_sigkilled_master_leaves_no_worker_behind(tmp_path):
    out = tmp_path / "run"
    exe = str(Path(sys.executable).parent / "shopbench")
    proc = subprocess.Popen([exe, "stress", "--headless", "-u", "2", "-r", "2", "-t", "60s", "--processes", "2",
                             "--out", str(out)], cwd=ROOT, start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    tree: list[psutil.Process] = []
    try:
        deadline = time.monotonic() + 90
        while not _in_load(out) and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert _in_load(out), "the run never reached its load"
        master = psutil.Process(proc.pid)
        workers: list[psutil.Process] = []
        while len(workers) < 2 and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)  # the load phase begins before Locust forks its workers
            tree = master.children(recursive=True)
            workers = [p for p in tree if p.cmdline() == master.cmdline()]
        assert len(workers) == 2, [p.cmdline() for p in tree]
        (keeper,) = [p for p in tree if p.cmdline()[-2:-1] and p.cmdline()[-2].endswith("guardian.py")]
        restore = Path(keeper.cmdline()[-1])
        while len(_tied_workers(restore)) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)  # the master's plugin ties them at Locust's init, right after the fork
        assert sorted(_tied_workers(restore)) == sorted(p.pid for p in workers)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
        gone, alive = psutil.wait_procs(tree, timeout=15)
        assert not alive, [f"{p.pid}: {' '.join(p.cmdline())}" for p in alive]
    finally:
        if proc.poll() is None:
            proc.kill()
        for p in tree:
            try:
                p.kill()
            except psutil.Error:
                pass
        psutil.wait_procs(tree, timeout=10)
