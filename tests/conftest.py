"""Suite-wide: a test that leaves something of ours behind fails (issue 20.8).

After every test, one psutil scan looks for what the test started and did not end:

  a process        a descendant of this pytest process that was not alive before the test, or
                   one reparented away from us (a SIGKILLed run's shop) whose command line or
                   working directory lies in this session's temp folder (basetemp)
  a listening port a loopback (or any) port that such a process listens on, or one this pytest
                   process itself opened during the test and still listens on
  a paused process any of ours (new or not) left SIGSTOPped: the next test would hang on it

The restore guardian this pytest process starts on first use (processes/guardian.py: one per process,
alive until the process ends) is not a leak.

Processes of wider-scoped fixtures (a module's reference shop, restarted by a test's clean-up)
are not the test's: a new process whose command line names a folder of the temp tree that
existed before the test (and none created during it) belongs to its fixture.

The test is failed (an error in its teardown, naming each process, its command and its ports), and
what it left is cleaned up (paused ones resumed, new ones killed by pid) so that one leak fails one
test. Cost: the pid list twice per test (psutil.pids), and a read of only the processes that
appeared since the last look and of those known to be ours (their parents, state and, for new
ones, command line): ~4 ms a test on this busy 2-core machine. A pid reused within one test is
not seen as new (rare; it would be missed, never a false alarm).
"""

from __future__ import annotations

import os
import signal
import socketserver
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import psutil
import pytest
from hypothesis import HealthCheck, settings

from shopbench.processes.guardian import guardian

GRACE = 3.0  # seconds a process the test already ended may take to go (a graceful gunicorn stop)
ME = os.getpid()

# A suite started in the background (`nohup`, `&` in a script) inherits SIGINT ignored, and so
# would every run it starts: a Ctrl-C test would then see a run that ignores Ctrl-C, as it should.
# The tests are about a terminal's Ctrl-C: SIGINT is handled here, so children start with the default.
if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)

# The test servers of this suite (http.server, in-process) listen with socketserver's backlog of 5:
# a burst or a settle opens 64 connections at once, and those beyond the backlog waited out SYN
# retries (1 s, 3 s, 7 s) until the request gave up (a correct shop's reads came out unreadable).
socketserver.TCPServer.request_queue_size = 128

# Property tests on a shared, loaded machine: generating examples may be slow there, and a health
# check that fails on it is a flake, not a finding (every explicit @settings inherits this profile).
settings.register_profile("shopbench", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("shopbench")


@dataclass
class Watch:
    """What the session knows between checks: the pids seen at the last look, and which are ours."""

    seen: set[int] = field(default_factory=set)
    ours: set[int] = field(default_factory=set)


WATCH = Watch()


@dataclass(frozen=True)
class Snapshot:
    pids: frozenset[int]
    own_listening: frozenset[tuple[str, int]]
    temp_dirs: frozenset[str]


def _own_listening() -> frozenset[tuple[str, int]]:
    try:
        conns = psutil.Process().net_connections(kind="inet")
    except psutil.Error:
        return frozenset()
    return frozenset((c.laddr.ip, c.laddr.port) for c in conns if c.status == psutil.CONN_LISTEN)


def _temp_dirs(basetemp: Path) -> frozenset[str]:
    try:
        return frozenset(str(p) for p in basetemp.iterdir())
    except OSError:
        return frozenset()


def _references(proc: psutil.Process, basetemp: str) -> set[str]:
    """The top-level folders of the session's temp tree that `proc`'s command line or cwd names."""
    try:
        words = [*proc.cmdline(), proc.cwd()]
    except psutil.Error:
        return set()
    out = set()
    prefix = basetemp.rstrip("/") + "/"
    for word in words:
        at = word.find(prefix)
        if at >= 0:
            out.add(prefix + word[at + len(prefix):].split("/", 1)[0])
    return out


def _descends_from_us(proc: psutil.Process, ours: set[int]) -> bool:
    """Walk up the parents (a few reads): does the chain reach this pytest process or one of ours?"""
    try:
        pid = proc.ppid()
        for _ in range(64):
            if pid == ME or pid in ours:
                return True
            if pid <= 1:
                return False
            pid = psutil.Process(pid).ppid()
    except psutil.Error:
        return False
    return False


def _adopt_newcomers(pids: set[int], basetemp: str) -> None:
    """Processes that appeared between two tests (a wider-scoped fixture's shop): remember ours."""
    for pid in sorted(pids - WATCH.seen):
        try:
            proc = psutil.Process(pid)
        except psutil.Error:
            continue
        if _descends_from_us(proc, WATCH.ours) or _references(proc, basetemp):
            WATCH.ours.add(pid)
    WATCH.seen = pids
    WATCH.ours &= pids


def snapshot(basetemp: Path) -> Snapshot:
    pids = set(psutil.pids())
    _adopt_newcomers(pids, str(basetemp))
    return Snapshot(frozenset(pids), _own_listening(), _temp_dirs(basetemp))


def _describe(proc: psutil.Process) -> str:
    try:
        with proc.oneshot():
            cmd = " ".join(proc.cmdline())[:160]
            ports = sorted({f"{c.laddr.ip}:{c.laddr.port}" for c in proc.net_connections(kind="inet")
                            if c.status == psutil.CONN_LISTEN})
            state = proc.status()
    except psutil.Error:
        return f"pid {proc.pid} (gone)"
    listening = f", listening on {', '.join(ports)}" if ports else ""
    paused = " (paused: SIGSTOPped)" if state == psutil.STATUS_STOPPED or _paused(proc) else ""
    return f"pid {proc.pid}{paused}{listening}: {cmd}"


def _status(proc: psutil.Process) -> str:
    try:
        return proc.status()
    except psutil.Error:
        return psutil.STATUS_DEAD


_STOP_BITS = (1 << (signal.SIGSTOP - 1)) | (1 << (signal.SIGTSTP - 1))


def _paused(proc: psutil.Process) -> bool:
    """Stopped, or about to be: a SIGSTOP sent a moment ago may still be pending (the process not yet
    scheduled to take it), which psutil does not show; /proc/PID/status does."""
    if _status(proc) == psutil.STATUS_STOPPED:
        return True
    try:
        with open(f"/proc/{proc.pid}/status") as f:
            fields = dict(line.split(":", 1) for line in f if ":" in line)
    except OSError:
        return False
    return any(int(fields.get(key, "0").strip(), 16) & _STOP_BITS for key in ("SigPnd", "ShdPnd"))


def leftovers(before: Snapshot, basetemp: Path) -> tuple[list[psutil.Process], list[psutil.Process], list[str]]:
    """(new processes of ours still alive, processes of ours left paused, new own listening ports).
    Only the processes that appeared during the test and those already known to be ours are read."""
    base = str(basetemp)
    pids = set(psutil.pids())
    new: list[psutil.Process] = []
    paused: list[psutil.Process] = []
    for pid in sorted(pids - before.pids):
        try:
            proc = psutil.Process(pid)
        except psutil.Error:
            continue
        status = _status(proc)
        if status in (psutil.STATUS_ZOMBIE, psutil.STATUS_DEAD):
            continue
        if pid == guardian().pid:
            continue  # this pytest process's restore guardian lives as long as we do, by design
        refs = _references(proc, base)
        if not (_descends_from_us(proc, WATCH.ours) or refs):
            continue  # another user's process on this shared machine
        if _own_guardian(proc):
            continue  # this pytest process's restore guardian: one per process, it lives as long as we do
        if _paused(proc):
            paused.append(proc)
        elif refs and refs <= before.temp_dirs:
            WATCH.ours.add(pid)  # a wider-scoped fixture's process (its folder predates the test)
        else:
            new.append(proc)
    for pid in sorted(WATCH.ours & pids):
        try:
            proc = psutil.Process(pid)
        except psutil.Error:
            continue
        if _paused(proc):
            paused.append(proc)
    WATCH.seen = pids
    WATCH.ours &= pids
    ports = sorted(f"{ip}:{port}" for ip, port in _own_listening() - before.own_listening)
    return new, paused, ports


def _own_guardian(proc: psutil.Process) -> bool:
    """The restore guardian (shopbench.processes.guardian) this pytest process started on first use."""
    try:
        return proc.ppid() == ME and any(word.endswith("processes/guardian.py") for word in proc.cmdline())
    except psutil.Error:
        return False


def _clean(new: list[psutil.Process], paused: list[psutil.Process]) -> None:
    for proc in paused:
        try:
            proc.resume()
        except psutil.Error:
            pass
    for proc in new:
        try:
            proc.kill()
        except psutil.Error:
            pass
    psutil.wait_procs(new, timeout=5)


@pytest.fixture(autouse=True)
def nothing_left_behind(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    basetemp = tmp_path_factory.getbasetemp()
    before = snapshot(basetemp)
    yield
    new, paused, ports = leftovers(before, basetemp)
    if new:  # give what the test already ended a moment to go, then look again
        psutil.wait_procs(new, timeout=GRACE)
        new = [p for p in new if p.is_running() and _status(p) not in (psutil.STATUS_ZOMBIE, psutil.STATUS_DEAD)]
    if not (new or paused or ports):
        return
    lines = [_describe(p) for p in [*new, *paused]]
    lines += [f"this pytest process (pid {ME}) still listens on {p}" for p in ports]
    _clean(new, paused)
    pytest.fail(f"{request.node.nodeid} left behind:\n  " + "\n  ".join(lines), pytrace=False)
