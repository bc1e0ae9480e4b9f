"""processes/landing.py to the letter, on real processes and real sockets: when a kill, a pause or
a resume counts as landed, and the evidence sentence a user reads for each (found by mutation
testing, docs/mutation.md)."""

from __future__ import annotations

import http.server
import os
import signal
import socket
import subprocess
import sys
import threading
import time

import psutil
import pytest

from shopbench.processes import free_port
from shopbench.processes.landing import answering_ports, verify_gone, verify_halted, wait_resumed

HOST = "127.0.0.1"


@pytest.fixture
def sleepers():
    """Real processes (`python -c sleep`), each ended by its pid when the test is over."""
    made: list[subprocess.Popen] = []

    def make(n: int) -> list[psutil.Process]:
        for _ in range(n):
            made.append(subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"]))
        return [psutil.Process(p.pid) for p in made[-n:]]

    yield make
    for p in made:
        if p.poll() is None:
            os.kill(p.pid, signal.SIGCONT)
            p.kill()
        p.wait()


def landed(landing, pid, is_landed: bool) -> None:
    """The pid it is about, whether it landed (a bool), and when it was established (epoch seconds)."""
    assert landing.pid == pid and landing.landed is is_landed and landing.at > 1e9, landing


def dead(procs: list[psutil.Process]) -> None:
    for p in procs:
        p.kill()
        p.wait(5)


@pytest.fixture
def http_port():
    class Ok(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 - http.server's naming
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args):
            pass

    srv = http.server.ThreadingHTTPServer((HOST, 0), Ok)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    yield srv.server_port
    srv.shutdown()
    srv.server_close()


@pytest.fixture
def silent_port():
    """A port that accepts connections (the kernel's backlog) and never answers."""
    sock = socket.create_server((HOST, 0))
    yield sock.getsockname()[1]
    sock.close()


# -- a kill ---------------------------------------------------------------------------------------
def test_a_kill_lands_when_no_process_is_left_and_every_port_refuses(sleepers):
    procs = sleepers(2)
    dead(procs)
    a, b = free_port(), free_port()
    landing = verify_gone(procs[0].pid, procs, {(HOST, b), (HOST, a)}, 1.0, "kill")
    assert (landing.pid, landing.landed) == (procs[0].pid, True) and landing.at > 1e9
    first, second = sorted([a, b])
    assert landing.evidence == (f"kill: none of the 2 processes of the tree is left; {HOST}:{first}, {HOST}:{second} "
                                "refuses connections")
    assert verify_gone(7, procs, set(), 1.0, "terminate").evidence == (
        "terminate: none of the 2 processes of the tree is left")


def test_a_kill_is_not_landed_while_a_process_lives(sleepers):
    procs = sleepers(7)
    dead(procs[:1])
    landing = verify_gone(procs[0].pid, procs, set(), 0.05, "kill")
    landed(landing, procs[0].pid, False)
    assert landing.evidence == (f"kill: 6 of 7 processes still alive after 0.05 s (pids "
                                f"{[p.pid for p in procs[1:6]]})")


def test_a_kill_waits_for_its_port_to_refuse(sleepers):
    procs = sleepers(1)
    dead(procs)
    listener = socket.create_server((HOST, 0))
    port = listener.getsockname()[1]
    later = threading.Timer(0.05, listener.close)  # what held the port lets go while the kill is verified
    later.start()
    try:
        landing = verify_gone(4, procs, {(HOST, port)}, 10.0, "kill")
    finally:
        later.join()
        listener.close()
    landed(landing, 4, True)


def test_a_kill_is_not_landed_while_its_port_still_accepts(sleepers, silent_port):
    procs = sleepers(1)
    dead(procs)
    landing = verify_gone(3, procs, {(HOST, silent_port)}, 0.1, "kill")
    landed(landing, 3, False)
    assert landing.evidence == f"kill: the tree is gone but {HOST}:{silent_port} still accepts connections"


# -- a pause --------------------------------------------------------------------------------------
def stopped(procs: list[psutil.Process]) -> list[psutil.Process]:
    """SIGSTOP each, and wait until the kernel shows it stopped (the signal is delivered asynchronously)."""
    for p in procs:
        p.suspend()
    deadline = time.monotonic() + 10
    while any(p.status() != psutil.STATUS_STOPPED for p in procs):
        assert time.monotonic() < deadline, [p.status() for p in procs]
        time.sleep(0.001)
    return procs


def test_a_pause_of_a_service_without_ports_lands_on_the_kernel_state(sleepers):
    procs = stopped(sleepers(2))
    landing = verify_halted(procs[0].pid, procs, 1.0, None)
    assert (landing.pid, landing.landed) == (procs[0].pid, True) and landing.at > 1e9
    assert landing.evidence == ("all 2 processes of the tree stopped; no port of it answered a request when it became "
                                "healthy, so no request was tried")


def test_a_pause_is_not_landed_while_a_process_runs(sleepers):
    procs = sleepers(3)
    stopped(procs[:1])
    landing = verify_halted(1, procs, 0.05, None)
    landed(landing, 1, False)
    assert landing.evidence == "2 of 3 processes still running 0.05 s after SIGSTOP"


def test_a_pause_of_a_process_that_died_is_not_landed(sleepers):
    procs = sleepers(3)
    dead(procs[:1])
    stopped(procs[1:])
    landing = verify_halted(1, procs, 1.0, None)
    landed(landing, 1, False)
    assert landing.evidence == ("1 of 3 processes of the tree exited instead of stopping: a dead process is not "
                                "paused, and a resume cannot bring it back")


def test_a_pause_with_a_health_url_lands_only_when_it_gets_no_answer(sleepers, http_port, silent_port):
    procs = stopped(sleepers(1))
    url = f"http://{HOST}:{silent_port}/health"
    landing = verify_halted(1, procs, 1.0, url, {(HOST, http_port)})  # the URL decides, not the ports
    landed(landing, 1, True)
    assert landing.evidence == f"all 1 processes of the tree stopped; {url} got no answer in 0.25 s"
    served = f"http://{HOST}:{http_port}/health"
    landing = verify_halted(2, procs, 1.0, served)
    landed(landing, 2, False)
    assert landing.evidence == (f"all 1 processes of the tree stopped, but {served} still answered 200: something "
                                "else serves it")


def test_a_pause_without_a_health_url_asks_the_ports_that_answered(sleepers, http_port, silent_port):
    procs = stopped(sleepers(2))
    landing = verify_halted(1, procs, 1.0, None, {(HOST, silent_port)})
    landed(landing, 1, True)
    assert landing.evidence == (f"all 2 processes of the tree stopped; a request to {HOST}:{silent_port} got no "
                                "answer in 0.25 s")
    landing = verify_halted(2, procs, 1.0, None, {(HOST, silent_port), (HOST, http_port)})
    landed(landing, 2, False)
    assert landing.evidence == (f"all 2 processes of the tree stopped, but a request to {HOST}:{http_port} still got "
                                "an answer: something else serves it")
    gone = free_port()
    landing = verify_halted(3, procs, 1.0, None, {(HOST, silent_port), (HOST, gone)})
    landed(landing, 3, False)
    assert landing.evidence == (f"all 2 processes of the tree stopped, but {HOST}:{gone} no longer accepts "
                                "connections: what listened there is gone, not paused")


def test_the_baseline_of_a_pause_is_the_ports_that_answer_a_request(http_port, silent_port):
    refused = free_port()
    assert answering_ports({(HOST, http_port), (HOST, silent_port), (HOST, refused)}) == {(HOST, http_port)}
    assert answering_ports(set()) == set()


# -- a resume -------------------------------------------------------------------------------------
def test_a_resume_waits_until_no_process_is_stopped(sleepers):
    procs = stopped(sleepers(2))
    assert wait_resumed(procs, 0.05) is False
    procs[0].resume()
    assert wait_resumed(procs, 0.05) is False
    later = threading.Timer(0.05, procs[1].resume)  # resumed while wait_resumed waits
    later.start()
    assert wait_resumed(procs, 10.0) is True
    later.join()
    dead(procs)
    assert wait_resumed(procs, 0.05) is True  # gone is not stopped
