"""Whether a fault took effect on a process tree (`Landing`), checked against the kernel and the
service's ports rather than assumed from the signal having been sent."""

from __future__ import annotations

import time
from dataclasses import dataclass

import psutil

from shopbench.processes.probes import ANSWERED, REFUSED, REQUEST, SILENT, Address, http_status, probe
from shopbench.processes.proctree import GONE, HALTED, RUNS, alive, proc_state

HANG_PROBE_S = 0.25  # a paused service must leave a request unanswered this long


@dataclass
class Landing:
    """Whether an action took effect, the evidence, and when it was established (epoch seconds)."""

    pid: int | None
    landed: bool
    evidence: str
    at: float


def _shown(addrs: set[Address]) -> str:
    return ", ".join(f"{h}:{p}" for h, p in sorted(addrs))


def verify_gone(root: int, procs: list[psutil.Process], ports: set[Address], timeout: float,
                how: str) -> Landing:
    """A kill or terminate landed when no process of the tree is left and every port refuses."""
    deadline = time.monotonic() + timeout
    while any(alive(p) for p in procs):
        if time.monotonic() > deadline:
            left = [p.pid for p in procs if alive(p)]
            return Landing(root, False, f"{how}: {len(left)} of {len(procs)} processes still alive "
                                        f"after {timeout:g} s (pids {left[:5]})", time.time())
        time.sleep(0.001)
    open_ports = set(ports)
    while open_ports:
        seen = probe(open_ports, 0.2)
        open_ports = {hp for hp in open_ports if seen[hp] != REFUSED}
        if open_ports and time.monotonic() > deadline:
            return Landing(root, False, f"{how}: the tree is gone but {_shown(open_ports)} still accepts "
                                        f"connections", time.time())
        if open_ports:
            time.sleep(0.002)
    at = time.time()
    where = f"; {_shown(ports)} refuses connections" if ports else ""
    return Landing(root, True, f"{how}: none of the {len(procs)} processes of the tree is left{where}", at)


def verify_halted(root: int, procs: list[psutil.Process], timeout: float, health_url: str | None,
                  answering: set[Address] = frozenset()) -> Landing:
    """A pause landed when every process of the tree is stopped (none exited instead) and a request
    gets no answer: to `health_url`, or else on each of `answering` (the ports that answered a
    request when the service became healthy), each within the same window."""
    n = len(procs)
    deadline = time.monotonic() + timeout
    while True:
        states = [proc_state(p) for p in procs]
        if RUNS not in states:
            at = time.time()
            break
        if time.monotonic() > deadline:
            return Landing(root, False, f"{states.count(RUNS)} of {n} processes still running "
                                        f"{timeout:g} s after SIGSTOP", time.time())
        time.sleep(0.001)
    gone = states.count(GONE)
    if gone:
        return Landing(root, False, f"{gone} of {n} processes of the tree exited instead of stopping: "
                                    f"a dead process is not paused, and a resume cannot bring it back", time.time())
    evidence = f"all {n} processes of the tree stopped"
    if health_url:
        status = http_status(health_url, timeout=HANG_PROBE_S)
        if status is not None:
            return Landing(root, False, f"{evidence}, but {health_url} still answered {status}: "
                                        f"something else serves it", time.time())
        return Landing(root, True, f"{evidence}; {health_url} got no answer in {HANG_PROBE_S:g} s", at)
    if not answering:
        return Landing(root, True, f"{evidence}; no port of it answered a request when it became healthy, "
                                   f"so no request was tried", at)
    seen = probe(answering, HANG_PROBE_S, REQUEST)
    answered = {a for a in answering if seen[a] == ANSWERED}
    if answered:
        return Landing(root, False, f"{evidence}, but a request to {_shown(answered)} still got an answer: "
                                    f"something else serves it", time.time())
    unreached = {a for a in answering if seen[a] != SILENT}
    if unreached:
        return Landing(root, False, f"{evidence}, but {_shown(unreached)} no longer accepts connections: "
                                    f"what listened there is gone, not paused", time.time())
    return Landing(root, True, f"{evidence}; a request to {_shown(answering)} got no answer in "
                               f"{HANG_PROBE_S:g} s", at)


def answering_ports(addrs: set[Address]) -> set[Address]:
    """Of `addrs`, those where a request gets an answer now: the baseline a pause is compared to."""
    seen = probe(addrs, HANG_PROBE_S, REQUEST)
    return {a for a in addrs if seen[a] == ANSWERED}


def wait_resumed(procs: list[psutil.Process], timeout: float) -> bool:
    """After SIGCONT: True once no process of the tree is stopped any more."""
    deadline = time.monotonic() + timeout
    while any(proc_state(p) == HALTED for p in procs):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.001)
    return True
