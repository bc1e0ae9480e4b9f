"""The supervisor on real processes: start, health, SIGKILL, SIGSTOP/SIGCONT, restart, across instances."""

import os
import signal
import socket
import sys

import pytest

from shopbench.errors import TargetError, UsageError
from shopbench.processes import PAUSED, RUNNING, STOPPED, ServiceSpec, Supervisor, free_port, health_ok


@pytest.fixture
def web(tmp_path):
    port = free_port()
    spec = ServiceSpec("web", [sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1"],
                       cwd=str(tmp_path), health_url=f"http://127.0.0.1:{port}/", start_timeout=15)
    sup = Supervisor(tmp_path / "state")
    yield sup, spec
    pid = sup.pid("web") if "web" in sup.names() else None
    if pid:
        os.kill(pid, signal.SIGCONT)
        sup.stop("web")


def test_lifecycle_by_name(web):
    sup, spec = web
    pid = sup.start(spec)
    assert sup.state("web") == RUNNING and health_ok(spec.health_url)
    assert sup.start(spec) == pid  # already running: not started twice

    assert sup.pause("web") == pid
    assert sup.state("web") == PAUSED
    assert not health_ok(spec.health_url, timeout=0.3)
    sup.resume("web")
    assert sup.state("web") == RUNNING and health_ok(spec.health_url)

    assert sup.kill("web") == pid
    assert sup.state("web") == STOPPED
    new_pid = sup.ensure_running("web")
    assert new_pid != pid and health_ok(spec.health_url)

    # A second supervisor over the same state dir (another shopbench command) sees and controls it.
    other = Supervisor(sup.state_dir)
    assert other.pid("web") == new_pid
    restarted = other.restart("web")
    assert restarted != new_pid and sup.state("web") == RUNNING
    sup.stop("web")
    assert sup.state("web") == STOPPED
    assert sup.kill("web") is None  # nothing to kill is not an error


def test_a_service_that_dies_at_start_reports_its_log(tmp_path):
    sup = Supervisor(tmp_path)
    spec = ServiceSpec("bad", [sys.executable, "-c", "import sys; print('boom: no config'); sys.exit(3)"],
                       health_url=f"http://127.0.0.1:{free_port()}/")
    with pytest.raises(TargetError, match="boom: no config"):
        sup.start(spec)


def test_unknown_service_names_the_known_ones(tmp_path):
    with pytest.raises(UsageError, match="unknown service 'nope'"):
        Supervisor(tmp_path).kill("nope")


GUARDED = """
import signal, subprocess, sys, time
from shopbench.processes.guardian import guardian
from shopbench.processes.spawn import spawn
tied = spawn([sys.executable, "-c", "import time; time.sleep(600)"], why="a tied child")
untied = spawn([sys.executable, "-c", "import time; time.sleep(600)"], tie=False)
paused = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"], start_new_session=True)
guardian().resume_on_death([paused.pid], why="a pause")
paused.send_signal(signal.SIGSTOP)
print(tied.pid, untied.pid, paused.pid, guardian().pid, guardian().restore_file, flush=True)
time.sleep(600)
"""


def test_the_guardian_ends_tied_children_and_resumes_pauses_when_its_owner_is_sigkilled(tmp_path):
    import subprocess
    import time

    import psutil

    owner = subprocess.Popen([sys.executable, "-c", GUARDED], stdout=subprocess.PIPE, text=True,
                             env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)})
    *pids, restore_file = owner.stdout.readline().split()
    pids = [int(x) for x in pids]
    procs = [psutil.Process(pid) for pid in pids]
    tied, untied, paused, guard = procs
    try:
        assert all(os.getpgid(p.pid) == p.pid for p in (tied, untied))  # each in a group of its own
        deadline = time.monotonic() + 5  # the SIGSTOP is delivered asynchronously
        while paused.status() != psutil.STATUS_STOPPED and time.monotonic() < deadline:
            time.sleep(0.01)
        assert paused.status() == psutil.STATUS_STOPPED
        owner.kill()  # SIGKILL: the owner runs nothing more
        owner.wait()
        guard.wait(timeout=10)  # the guardian saw its pipe close, acted, and left
        tied.wait(timeout=5)
        assert untied.is_running() and paused.is_running()
        assert not os.path.exists(os.path.dirname(restore_file))  # nor its private folder
        assert paused.status() != psutil.STATUS_STOPPED  # resumed, and left running: it is not ours to end
    finally:
        owner.kill()
        owner.wait()
        try:
            guard.wait(timeout=10)  # let it finish and remove its folder, whatever failed above
        except psutil.Error:
            pass
        for p in procs:
            try:
                p.kill()
            except psutil.Error:
                pass


def test_a_state_file_of_an_older_shopbench_still_names_its_running_service(web):
    # Before psutil, the pid's start time was kept as the kernel's clock ticks ("starttime").
    import json
    from pathlib import Path

    sup, spec = web
    pid = sup.start(spec)
    path = sup.state_dir / "web.json"
    state = json.loads(path.read_text())
    ticks = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[19]
    del state["started"]
    path.write_text(json.dumps({**state, "starttime": ticks}))
    assert Supervisor(sup.state_dir).pid("web") == pid
    path.write_text(json.dumps({**state, "starttime": str(int(ticks) + 1)}))  # another process with that pid
    assert Supervisor(sup.state_dir).pid("web") is None
    path.write_text(json.dumps({**state, "starttime": ticks}))  # so the fixture can stop it


def test_a_port_chosen_by_another_run_is_not_chosen_again(monkeypatch):
    """Another run's port that nothing listens on yet (its service is still starting) is passed over."""
    import subprocess

    from shopbench.processes import probes

    theirs = int(subprocess.run([sys.executable, "-c", "from shopbench.processes import free_port; print(free_port())"],
                                capture_output=True, text=True, check=True).stdout)
    listening = socket.create_server(("127.0.0.1", 0))
    busy = listening.getsockname()[1]
    offers = iter([theirs, busy, theirs, 20000 + (theirs + 1) % 12000])
    monkeypatch.setattr(probes._pick, "choice", lambda _range: next(offers))
    with listening:
        assert free_port() == 20000 + (theirs + 1) % 12000
