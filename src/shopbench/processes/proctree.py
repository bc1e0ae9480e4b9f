"""What the kernel says about processes, through psutil: one process's state, a pid's identity
(so a recycled pid is never signalled), a group's members, the ports a tree listens on."""

from __future__ import annotations

import os
import time

import psutil

from shopbench.processes.probes import Address, connect_host

# One process's state as a fault sees it.
RUNS, HALTED, GONE = "runs", "halted", "gone"  # halted: SIGSTOPped (or stopped by a tracer)
_HALTED = (psutil.STATUS_STOPPED, psutil.STATUS_TRACING_STOP)
_GONE = (psutil.STATUS_ZOMBIE, psutil.STATUS_DEAD)


def proc_state(p: psutil.Process) -> str:
    """RUNS, HALTED or GONE (exited, a zombie, or its pid now belongs to another process)."""
    try:
        if not p.is_running():
            return GONE
        status = p.status()
    except psutil.Error:
        return GONE
    if status in _GONE:
        return GONE
    return HALTED if status in _HALTED else RUNS


def alive(p: psutil.Process) -> bool:
    return proc_state(p) != GONE


def halted(p: psutil.Process) -> bool:
    return proc_state(p) == HALTED


def started_at(pid: int) -> float | None:
    """The kernel's start time of `pid` (epoch seconds, stable for the pid's life), or None."""
    try:
        return round(psutil.Process(pid).create_time(), 2)
    except psutil.Error:
        return None


def same_process(pid: int, start: float | str | None) -> psutil.Process | None:
    """`pid` as a psutil.Process if it still is the process that started at `start`, else None.
    A string `start` is how state files before psutil held it: clock ticks after boot."""
    try:
        p = psutil.Process(pid)
        created = p.create_time()
    except psutil.Error:
        return None
    if isinstance(start, str):
        ticks = round((created - psutil.boot_time()) * os.sysconf("SC_CLK_TCK"))
        return p if start.isdigit() and ticks == int(start) else None
    return p if start is not None and round(created, 2) == start else None


def group_members(pgid: int, exclude: set[int] = frozenset()) -> list[psutil.Process]:
    """Every live process of process group `pgid` (psutil does not name a group: asked of the OS)."""
    out = []
    for p in psutil.process_iter():
        if p.pid in exclude:
            continue
        try:
            if os.getpgid(p.pid) == pgid:
                out.append(p)
        except OSError:
            continue
    return out


def wait_gone(procs: list[psutil.Process], timeout: float) -> list[psutil.Process]:
    """Wait until none of `procs` is alive; return those still alive. A zombie counts as gone:
    psutil.wait_procs would wait out the timeout on an orphan zombie nobody reaps."""
    deadline = time.monotonic() + timeout
    while True:
        left = [p for p in procs if alive(p)]
        if not left or time.monotonic() > deadline:
            return left
        time.sleep(0.002)


def listening_ports(procs: list[psutil.Process]) -> set[Address]:
    """(host to connect to, port) of every TCP socket in LISTEN state one of `procs` holds. The
    kernel's socket tables are read once per process: fine for a tree, done when a service becomes
    healthy (and cached), never while a fault waits for its signal."""
    found: set[Address] = set()
    for p in procs:
        try:
            conns = p.net_connections(kind="tcp")
        except psutil.Error:
            continue
        for c in conns:
            if c.status == psutil.CONN_LISTEN and c.laddr:
                found.add((connect_host(c.laddr.ip), c.laddr.port))
    return found
