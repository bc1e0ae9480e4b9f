"""Nothing outlives a SIGKILLed run (issue 20.2): Locust's `--processes` workers, forked by Locust
itself, are tied to the restore guardian by the Locust plugin, so a `kill -9` of the master ends
them too (and the embedded shop, tied by `spawn`)."""

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
