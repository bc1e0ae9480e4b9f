"""Landing verification that can say no, on real process trees and real sockets.

Every not-landed branch of kill, pause and resume verification has a case here in which the
fault really did not take effect (or a real process really is in the state the branch names),
and a case in which it did: a child that left the group with setsid, a service that ignores
SIGTERM, a pause whose processes died, a paused service with no health route, a port served by a
daemon that escaped the tree, a process a tracer keeps stopped through SIGCONT.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest
from nemesis_helpers import wait_for

from shopbench.processes import ServiceSpec, Supervisor, free_port
from shopbench.processes.landing import verify_gone, verify_halted
from shopbench.processes.probes import ANSWERED, REFUSED, REQUEST, SILENT, probe

PY = sys.executable


def serve_cmd(port: int) -> list[str]:
    return [PY, "-m", "http.server", str(port), "--bind", "127.0.0.1"]


def listener_pids(port: int) -> list[int]:
    return [c.pid for c in psutil.net_connections(kind="tcp")
            if c.status == psutil.CONN_LISTEN and c.laddr and c.laddr.port == port and c.pid]


def end(pids: list[int]) -> None:
    for pid in pids:
        try:
            p = psutil.Process(pid)
            p.send_signal(signal.SIGCONT)
            p.kill()
            p.wait(5)
        except psutil.Error:
            pass


@pytest.fixture
def sup(tmp_path: Path) -> Iterator[Supervisor]:
    s = Supervisor(tmp_path / "state")
    yield s
    for name in s.names():
        end([p.pid for p in s.tree(name)])
        s.stop(name)


@pytest.fixture
def escaped(tmp_path: Path) -> Iterator[tuple[int, list[str]]]:
    """A service whose server double-forks out of its tree (`setsid -f`): the tree is `sh` and a
    `sleep`, while the port is served by a daemon that is no longer a descendant nor in the group."""
    port = free_port()
    cmd = ["sh", "-c", f"setsid -f {' '.join(serve_cmd(port))} >/dev/null 2>&1; exec sleep 600"]
    yield port, cmd
    end(listener_pids(port))


def real(cmd: list[str]) -> subprocess.Popen:
    return subprocess.Popen(cmd, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


# -- kill and terminate -------------------------------------------------------------------------
def test_kill_reaches_a_child_that_left_the_group_with_setsid(sup: Supervisor) -> None:
    port = free_port()
    script = f"import subprocess, time; subprocess.Popen({serve_cmd(port)!r}, start_new_session=True); time.sleep(600)"
    sup.start(ServiceSpec("setsid", [PY, "-c", script], health_tcp=f"127.0.0.1:{port}", start_timeout=15))
    tree = sup.tree("setsid")
    assert len(tree) == 2
    assert len({os.getpgid(p.pid) for p in tree}) == 2  # the child really is in a group of its own
    landing = sup.fault("setsid", "kill")
    assert landing.landed, landing
    assert not any(p.is_running() and p.status() != psutil.STATUS_ZOMBIE for p in tree)
    assert probe([("127.0.0.1", port)], 0.5)[("127.0.0.1", port)] == REFUSED


def test_terminate_signals_each_process_of_the_tree_once(sup: Supervisor, monkeypatch: pytest.MonkeyPatch) -> None:
    # A second SIGTERM can cut a graceful stop short (aiohttp's run_app drops its handlers while it
    # shuts down): the group gets one, the child that left the group one of its own, nobody two.
    port = free_port()
    script = f"import subprocess, time; subprocess.Popen({serve_cmd(port)!r}, start_new_session=True); time.sleep(600)"
    sup.start(ServiceSpec("setsid", [PY, "-c", script], health_tcp=f"127.0.0.1:{port}", start_timeout=15))
    root, child = sorted(sup.tree("setsid"), key=lambda p: p.pid != sup.pid("setsid"))
    sent: list[tuple[str, int, int]] = []
    killpg, send_signal = os.killpg, psutil.Process.send_signal
    monkeypatch.setattr(os, "killpg", lambda pgid, sig: (sent.append(("group", pgid, sig)), killpg(pgid, sig)))
    monkeypatch.setattr(psutil.Process, "send_signal",
                        lambda self, sig: (sent.append(("pid", self.pid, sig)), send_signal(self, sig)))
    assert sup.fault("setsid", "terminate").landed
    assert sorted(x for x in sent if x[2] == signal.SIGTERM) == [("group", root.pid, signal.SIGTERM),
                                                                 ("pid", child.pid, signal.SIGTERM)], sent


def test_kill_is_not_landed_while_a_daemon_that_escaped_the_tree_serves_its_port(sup, escaped) -> None:
    port, cmd = escaped
    sup.start(ServiceSpec("daemon", cmd, port=port, start_timeout=15))
    landing = sup.fault("daemon", "kill", verify_timeout=0.5)
    assert not landing.landed, landing
    assert f"the tree is gone but 127.0.0.1:{port} still accepts connections" in landing.evidence


def test_kill_is_not_landed_while_a_process_of_the_tree_lives() -> None:
    # SIGKILL cannot be survived; what verification must say when a process was missed is checked
    # on a real live process that was never signalled.
    proc = real([PY, "-c", "import time; time.sleep(600)"])
    try:
        landing = verify_gone(proc.pid, [psutil.Process(proc.pid)], set(), 0.2, "SIGKILL")
        assert not landing.landed and f"1 of 1 processes still alive after 0.2 s (pids [{proc.pid}])" in \
            landing.evidence, landing
    finally:
        proc.kill()
        proc.wait()


def test_terminate_of_a_service_that_ignores_sigterm_ends_it_with_sigkill(sup: Supervisor) -> None:
    port = free_port()
    script = textwrap.dedent(f"""
        import signal, http.server
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        http.server.ThreadingHTTPServer(("127.0.0.1", {port}), http.server.SimpleHTTPRequestHandler).serve_forever()
    """)
    sup.start(ServiceSpec("stubborn", [PY, "-c", script], port=port, stop_timeout=0.5, start_timeout=15))
    (proc,) = sup.tree("stubborn")
    landing = sup.fault("stubborn", "terminate")
    assert landing.landed, landing
    assert landing.evidence.startswith("SIGTERM, then SIGKILL for 1 after 0.5 s: none of the 1 processes")
    assert not (proc.is_running() and proc.status() != psutil.STATUS_ZOMBIE)


# -- pause -------------------------------------------------------------------------------------
def test_a_paused_service_with_no_health_route_leaves_a_request_to_its_port_unanswered(sup: Supervisor) -> None:
    port = free_port()
    sup.start(ServiceSpec("bare", serve_cmd(port), start_timeout=15))  # no health_url, health_tcp or port
    addr = ("127.0.0.1", port)
    assert probe([addr], 0.5, REQUEST)[addr] == ANSWERED  # before: it answers
    landing = sup.fault("bare", "pause")
    assert landing.landed, landing
    assert f"a request to 127.0.0.1:{port} got no answer in 0.25 s" in landing.evidence
    assert probe([addr], 0.5, REQUEST)[addr] == SILENT  # connected (the kernel accepts), never answered
    assert sup.fault("bare", "resume").landed
    assert probe([addr], 2.0, REQUEST)[addr] == ANSWERED


def test_pause_is_not_landed_while_something_else_answers_its_port(sup, escaped) -> None:
    port, cmd = escaped
    sup.start(ServiceSpec("daemon", cmd, port=port, start_timeout=15))
    landing = sup.fault("daemon", "pause")
    assert not landing.landed, landing
    assert f"a request to 127.0.0.1:{port} still got an answer: something else serves it" in landing.evidence


def test_pause_is_not_landed_while_something_else_answers_its_health_url(sup, escaped) -> None:
    port, cmd = escaped
    sup.start(ServiceSpec("daemon", cmd, health_url=f"http://127.0.0.1:{port}/", start_timeout=15))
    landing = sup.fault("daemon", "pause")
    assert not landing.landed, landing
    assert "still answered 200: something else serves it" in landing.evidence


def test_pause_is_not_landed_when_what_answered_its_port_is_gone(sup, escaped) -> None:
    port, cmd = escaped
    sup.start(ServiceSpec("daemon", cmd, port=port, start_timeout=15))
    end(listener_pids(port))
    landing = sup.fault("daemon", "pause")
    assert not landing.landed, landing
    assert f"127.0.0.1:{port} no longer accepts connections" in landing.evidence


def test_a_pause_of_processes_that_died_is_not_landed() -> None:
    stopped, died = real([PY, "-c", "import time; time.sleep(600)"]), real([PY, "-c", "import time; time.sleep(600)"])
    try:
        procs = [psutil.Process(stopped.pid), psutil.Process(died.pid)]
        stopped.send_signal(signal.SIGSTOP)
        died.kill()
        died.wait()
        assert wait_for(lambda: procs[0].status() == psutil.STATUS_STOPPED, timeout=5)
        some = verify_halted(stopped.pid, procs, 1.0, None)
        assert not some.landed and "1 of 2 processes of the tree exited instead of stopping" in some.evidence, some
        stopped.kill()
        stopped.wait()
        every = verify_halted(stopped.pid, procs, 1.0, None)
        assert not every.landed and "2 of 2 processes of the tree exited instead of stopping" in every.evidence
    finally:
        for p in (stopped, died):
            if p.poll() is None:
                p.kill()
                p.wait()


def test_pause_is_not_landed_while_a_process_runs() -> None:
    proc = real([PY, "-c", "import time; time.sleep(600)"])
    try:
        landing = verify_halted(proc.pid, [psutil.Process(proc.pid)], 0.2, None)  # never sent SIGSTOP
        assert not landing.landed and "1 of 1 processes still running 0.2 s after SIGSTOP" in landing.evidence
    finally:
        proc.kill()
        proc.wait()


# -- resume ------------------------------------------------------------------------------------
def stop(sup: Supervisor, name: str) -> None:
    sup.signal(name, signal.SIGSTOP)
    assert wait_for(lambda: all(p.status() in (psutil.STATUS_STOPPED, psutil.STATUS_TRACING_STOP)
                                for p in sup.tree(name)), timeout=5)


TRACED = textwrap.dedent("""
    import ctypes, os, time
    if os.fork() == 0:
        ctypes.CDLL(None).ptrace(0, 0, None, None)  # PTRACE_TRACEME: a stop is then a tracing stop
    time.sleep(600)
""")


def test_resume_is_not_landed_while_a_tracer_keeps_a_process_stopped(sup: Supervisor) -> None:
    port = free_port()
    listener = real(serve_cmd(port))  # the service's health: the tree itself serves nothing
    try:
        sup.start(ServiceSpec("traced", [PY, "-c", TRACED], health_tcp=f"127.0.0.1:{port}", start_timeout=15))
        assert wait_for(lambda: len(sup.tree("traced")) == 2, timeout=10)
        stop(sup, "traced")  # (a pause fault would not land: the health port is served outside the tree)
        landing = sup.fault("traced", "resume", verify_timeout=0.3)
        assert not landing.landed and "processes still stopped 0.3 s after SIGCONT" in landing.evidence, landing
    finally:
        listener.kill()
        listener.wait()


def test_resume_is_not_landed_when_the_service_does_not_answer_again(sup: Supervisor) -> None:
    port = free_port()
    listener = real(serve_cmd(port))
    try:
        sup.start(ServiceSpec("leaning", [PY, "-c", "import time; time.sleep(600)"], health_tcp=f"127.0.0.1:{port}",
                              start_timeout=1))
        stop(sup, "leaning")
        listener.kill()
        listener.wait()
        landing = sup.fault("leaning", "resume")
        assert not landing.landed, landing
        assert landing.evidence.startswith("all 1 processes of the tree running, but service leaning did not "
                                           f"answer a TCP connection to 127.0.0.1:{port} within 1 s")
    finally:
        if listener.poll() is None:
            listener.kill()
            listener.wait()
