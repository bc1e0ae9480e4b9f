"""Finding a running instance of a service shopbench did not start, so faults can reach it.

Tried in order: its pid file, the process listening on its port (the topmost: a gunicorn master,
not a worker), a regex on command lines. Never shopbench itself or one of its parents.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import psutil

from shopbench.processes.proctree import alive
from shopbench.processes.statefiles import ServiceSpec


def find_running(spec: ServiceSpec) -> tuple[int, str] | None:
    """A running instance of `spec`: (pid, how it was found), or None."""
    me = {os.getpid(), *(p.pid for p in psutil.Process().parents())}
    if spec.pid_file:
        path = Path(spec.pid_file)
        if not path.is_absolute() and spec.cwd:
            path = Path(spec.cwd) / path
        try:
            pid = int(path.read_text().split()[0])
            if pid not in me and alive(psutil.Process(pid)):
                return pid, f"pid file {path}"
        except (OSError, ValueError, IndexError, psutil.Error):
            pass
    if spec.port:
        owners = {c.pid for c in psutil.net_connections(kind="tcp")
                  if c.status == psutil.CONN_LISTEN and c.laddr and c.laddr.port == spec.port and c.pid}
        top = _topmost(owners - me)
        if top is not None:
            return _climb(top, spec.port, me), f"listening on port {spec.port}"
    if spec.match:
        pattern = re.compile(spec.match)
        hits = set()
        for p in psutil.process_iter(["cmdline"]):
            cmd = " ".join(p.info.get("cmdline") or [])
            if p.pid not in me and cmd and pattern.search(cmd) and alive(p):
                hits.add(p.pid)
        top = _topmost(hits)
        if top is not None:
            return top, f"command line matching {spec.match!r}"
    return None


def _climb(pid: int, port: int, me: set[int]) -> int:
    """The kernel names one owner of a shared listening socket, often a worker: climb to the
    highest ancestor that listens on `port` too (the master)."""
    try:
        proc = psutil.Process(pid)
        while True:
            parent = proc.parent()
            if parent is None or parent.pid in me or not any(
                    c.status == psutil.CONN_LISTEN and c.laddr and c.laddr.port == port
                    for c in parent.net_connections(kind="tcp")):
                return proc.pid
            proc = parent
    except psutil.Error:
        return pid


def _topmost(pids: set[int]) -> int | None:
    """Of related processes (a master and its workers, which all hold the listening socket), the one
    whose parent is not among them."""
    for pid in sorted(pids):
        try:
            parent = psutil.Process(pid).ppid()
        except psutil.Error:
            continue
        if parent not in pids:
            return pid
    return min(pids) if pids else None
