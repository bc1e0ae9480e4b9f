"""`ServiceTrees`: what a supervisor's state folder says about each service's live processes.

A service is a process *tree*, not a pid: a gunicorn master and its workers, a `sh -c` wrapper
and its child. Its tree is its root, every descendant, its own process group's members, and the
members remembered at the last action (orphans a dead master left behind); a signal reaches the
group and every process collected before it is sent (a child that left the group with setsid
too): once the master is dead its orphans are no longer its children.
"""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path
from urllib.parse import urlsplit

import psutil

from shopbench.configfile import parse_hostport
from shopbench.processes.probes import Address
from shopbench.processes.proctree import alive, group_members, halted, listening_ports, same_process, started_at
from shopbench.processes.spawn import untie
from shopbench.processes.statefiles import PAUSED, RUNNING, STOPPED, ServiceSpec, StateFiles


class ServiceTrees:
    """The read side of a `Supervisor`: state files, live pids, trees, and signals to a tree."""

    def __init__(self, state_dir: str | Path, *, tied: bool = False):
        self.files = StateFiles(state_dir)
        self.state_dir = self.files.state_dir
        self.tied = tied
        self._children: dict[int, subprocess.Popen] = {}

    # -- state files -------------------------------------------------------------------------
    def log_path(self, name: str) -> Path:
        return self.files.log_path(name)

    def names(self) -> list[str]:
        return self.files.names()

    def spec(self, name: str) -> ServiceSpec:
        return self.files.spec(name)

    def adopted(self, name: str) -> bool:
        return bool((self.files.read(name) or {}).get("adopted"))

    def _live_pid(self, name: str) -> int | None:
        state = self.files.read(name)
        if not state or not state.get("pid"):
            return None
        pid = state["pid"]
        p = same_process(pid, state.get("started", state.get("starttime")))
        if p is None:
            return None
        if not alive(p):  # dead, not yet reaped (our own child, or an orphan init has not reaped)
            self._reap(pid)
            return None
        return pid

    def _ended(self, root: int) -> None:
        self._reap(root)
        if self.tied:
            untie(root)

    def _reap(self, pid: int) -> None:
        child = self._children.pop(pid, None)
        try:
            if child is not None:
                child.wait(timeout=0)
            else:
                os.waitpid(pid, os.WNOHANG)
        except (ChildProcessError, subprocess.TimeoutExpired, OSError):
            pass

    # -- the process tree --------------------------------------------------------------------
    def _group(self, name: str, root: int | None) -> int | None:
        """The service's process group, when it is the service's own (never shopbench's)."""
        state = self.files.read(name) or {}
        pgid = state.get("pgid")
        if not pgid or pgid == os.getpgrp():
            return None
        members = [root] if root is not None else []
        # The leader is gone: the group is still ours only while a member we know of is in it.
        members += [pid for pid, start in state.get("tree") or () if same_process(pid, start) is not None]
        for pid in members:
            try:
                if os.getpgid(pid) == pgid:
                    return pgid
            except OSError:
                continue
        return None

    def tree(self, name: str) -> list[psutil.Process]:
        """Every live process of the service: its root, all descendants, its group's members, and
        members remembered from the last action (orphans a dead master left behind)."""
        root = self._live_pid(name)
        procs: dict[int, psutil.Process] = {}

        def add_with_children(p: psutil.Process) -> None:
            procs[p.pid] = p
            try:
                procs.update({c.pid: c for c in p.children(recursive=True)})
            except psutil.Error:
                pass

        if root is not None:
            try:
                add_with_children(psutil.Process(root))
            except psutil.Error:
                pass
        pgid = self._group(name, root)
        if pgid is not None:
            for p in group_members(pgid, exclude=set(procs)):
                procs[p.pid] = p
        for pid, start in (self.files.read(name) or {}).get("tree") or ():
            p = same_process(pid, start) if pid not in procs else None
            if p is not None:
                add_with_children(p)
        return [p for p in procs.values() if alive(p)]

    def _remember(self, name: str, procs: list[psutil.Process]) -> None:
        members = [[p.pid, start] for p in procs if (start := started_at(p.pid)) is not None]
        self.files.update(name, tree=members)

    def _signal_tree(self, name: str, sig: signal.Signals, procs: list[psutil.Process]) -> None:
        """`sig` to the service's group, and to each process of `procs` that left it: once to each.
        A second SIGTERM is not harmless: aiohttp's run_app removes its handlers while it shuts
        down, and one arriving then ended the service before it logged its stop (seen in CI).
        PermissionError when a live process of the tree may not be signalled (it runs as another
        user): the fault cannot land, and must say why."""
        root = self._live_pid(name)
        pgid = self._group(name, root)
        denied: list[int] = []
        if pgid is not None:
            try:
                os.killpg(pgid, sig)
            except PermissionError:
                denied.append(pgid)
            except OSError:
                pass
        for p in procs:
            if pgid is not None and _in_group(p.pid, pgid):
                continue
            try:
                p.send_signal(sig)
            except psutil.AccessDenied:
                denied.append(p.pid)
            except psutil.Error:
                pass
        if denied:
            raise PermissionError(f"no permission to send {sig.name} to pid {', '.join(map(str, denied[:5]))} "
                                  f"of {name}")

    def ports(self, name: str, procs: list[psutil.Process] | None = None, *,
              cached: bool = False) -> set[Address]:
        """The (host, port) pairs the service answers on: configured ones and those it listens on.
        With `cached`, the listening ports seen when it last became healthy (reading every socket
        of the machine takes tens of ms, which a kill should not wait for before its signal)."""
        spec = self.spec(name)
        seen = (self.files.read(name) or {}).get("ports") if cached else None
        if seen is not None:
            found = {(h, p) for h, p in seen}
        else:
            found = listening_ports(procs if procs is not None else self.tree(name))
        if spec.port:
            found.add(("127.0.0.1", spec.port))
        if spec.health_tcp:
            found.add(parse_hostport(spec.health_tcp))
        if spec.health_url:
            parts = urlsplit(spec.health_url)
            if parts.hostname:
                found.add((parts.hostname, parts.port or (443 if parts.scheme == "https" else 80)))
        return found

    # -- queries -------------------------------------------------------------------------------
    def pid(self, name: str) -> int | None:
        return self._live_pid(name)

    def state(self, name: str) -> str:
        pid = self._live_pid(name)
        if pid is None:
            return STOPPED
        try:
            return PAUSED if halted(psutil.Process(pid)) else RUNNING
        except psutil.Error:
            return STOPPED

    def any_halted(self, name: str) -> bool:
        """Is any process of the service's tree stopped (a pause not, or not wholly, undone)?"""
        return any(halted(p) for p in self.tree(name))


def _in_group(pid: int, pgid: int) -> bool:
    """Whether the group's signal reached `pid` (a process gone since counts: nothing to signal)."""
    try:
        return os.getpgid(pid) == pgid
    except OSError:
        return True
