"""`Supervisor`: start, stop, signal and fault the services whose state files live in one folder.

A service is a process *tree*, not a pid: a gunicorn master and its workers, a `sh -c` wrapper
and its child. Services are started in a session (and process group) of their own, and every
action reaches the whole group and every descendant (a child that left the group too), collected
before the signal is sent: once the master is dead its orphans are no longer its children.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from dataclasses import asdict
from pathlib import Path
from urllib.parse import urlsplit

import psutil

from shopbench.errors import TargetError, UsageError
from shopbench.processes.adoption import find_running
from shopbench.processes.landing import Landing, answering_ports, verify_gone, verify_halted, wait_resumed
from shopbench.processes.probes import Address, health_ok, split_hostport, tcp_open
from shopbench.processes.proctree import (
    alive,
    group_members,
    halted,
    listening_ports,
    same_process,
    started_at,
    wait_gone,
)
from shopbench.processes.spawn import spawn, untie
from shopbench.processes.statefiles import PAUSED, RUNNING, STOPPED, ServiceSpec, ServiceStatus, StateFiles


class Supervisor:
    """Owns the services whose state files live in `state_dir`.

    `tied`: every service it starts dies with this process, also when this process is SIGKILLed
    (the restore guardian ends its process group); for a shop started for one run. Untied (the
    default), services outlive the command that started them (`shopbench shop up`)."""

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
        p = same_process(pid, state.get("started"))
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
        """`sig` to the service's group and to every process of `procs` (those that left the group,
        and the group's members again: harmless). PermissionError when a live process of the tree
        may not be signalled (it runs as another user): the fault cannot land, and must say why."""
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
            found.add(split_hostport(spec.health_tcp))
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

    def status(self, name: str) -> ServiceStatus:
        spec = self.spec(name)
        procs = self.tree(name) if self._live_pid(name) else []
        return ServiceStatus(name, self.state(name), self.pid(name), spec.health_url, str(self.log_path(name)),
                             len(procs), self.adopted(name))

    def healthy(self, name: str, timeout: float = 0.5) -> bool:
        """Does the service answer: its health URL (any status below health_status_below), its
        health_tcp address, its `port`, or else any port a process of its tree listens on."""
        spec = self.spec(name)
        if spec.health_url:
            return health_ok(spec.health_url, timeout, spec.health_status_below)
        if spec.health_tcp:
            return tcp_open(*split_hostport(spec.health_tcp), timeout=timeout)
        if spec.port:
            return tcp_open("127.0.0.1", spec.port, timeout=timeout)
        return any(tcp_open(h, p, timeout) for h, p in listening_ports(self.tree(name)))

    def _note_ports(self, name: str) -> None:
        """Remember the ports of this instance (once per pid: they do not change under a pause)."""
        state = self.files.read(name)
        if state is not None and state.get("ports_pid") != state.get("pid"):
            ports = self.ports(name)
            # Without a health URL a pause is checked on the ports that answered a request now.
            answering = answering_ports(ports) if not self.spec(name).health_url else set()
            self.files.update(name, ports=sorted([h, p] for h, p in ports), ports_pid=state.get("pid"),
                              answering=sorted([h, p] for h, p in answering))

    def _health_what(self, name: str) -> str:
        spec = self.spec(name)
        if spec.health_url:
            return f"{spec.health_url} (any answer below {spec.health_status_below})"
        if spec.health_tcp:
            return f"a TCP connection to {spec.health_tcp}"
        if spec.port:
            return f"a TCP connection to port {spec.port}"
        return "a listening TCP port in its process tree"

    # -- actions ------------------------------------------------------------------------------
    def start(self, spec: ServiceSpec, wait: bool = True) -> int:
        """Start `spec` unless it already runs; return its pid. Waits until it answers its health
        check; a start that fails or times out stops whatever it started and quotes the log."""
        self.state_dir.mkdir(parents=True, exist_ok=True)
        existing = self._live_pid(spec.name)
        if existing is not None:
            return existing
        self._finish_leftovers(spec.name)
        self.files.write(spec.name, {"spec": asdict(spec), "pid": None})
        env = {**os.environ, **spec.env}
        with open(self.log_path(spec.name), "ab") as log:
            try:
                # A new session: Ctrl-C in shopbench's terminal must not reach the services, because
                # shopbench itself decides what to restore and stop; and the group is the service's own.
                child = spawn(spec.command, tie=self.tied, why=f"service {spec.name}", cwd=spec.cwd, env=env,
                              stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)
            except OSError as exc:
                raise TargetError(f"service {spec.name}: cannot run {spec.command[0]!r} ({exc.strerror}).") from None
        self._children[child.pid] = child
        self.files.write(spec.name, {"spec": asdict(spec), "pid": child.pid, "pgid": child.pid,
                                     "started": started_at(child.pid), "adopted": False})
        if wait:
            try:
                self.wait_healthy(spec.name)
            except TargetError:
                self.terminate(spec.name, timeout=2.0)
                raise
        return child.pid

    def _finish_leftovers(self, name: str) -> None:
        """Restart only once the whole tree is gone: orphans of a previous instance are ended first."""
        if self.files.read(name) is None:
            return
        left = self.tree(name)
        if left:
            self._signal_tree(name, signal.SIGCONT, left)
            self._signal_tree(name, signal.SIGKILL, left)
            wait_gone(left, 5.0)

    def wait_healthy(self, name: str, timeout: float | None = None) -> None:
        spec = self.spec(name)
        deadline = time.monotonic() + (timeout if timeout is not None else spec.start_timeout)
        while True:
            if self._live_pid(name) is None:
                raise TargetError(f"service {name} exited while starting; last log lines of "
                                  f"{self.log_path(name)}:\n{self.log_tail(name)}")
            if self.healthy(name, timeout=0.5):
                self._note_ports(name)
                return
            if time.monotonic() > deadline:
                raise TargetError(
                    f"service {name} did not answer {self._health_what(name)} within {spec.start_timeout:g} s "
                    f"(start_timeout); it was stopped. Last log lines of {self.log_path(name)}:\n"
                    f"{self.log_tail(name)}")
            time.sleep(0.05)

    def log_tail(self, name: str, lines: int = 15) -> str:
        try:
            text = self.log_path(name).read_text(errors="replace").splitlines()[-lines:]
        except OSError:
            return "(no log)"
        return "\n".join(text) or "(the log is empty)"

    def signal(self, name: str, sig: signal.Signals) -> int | None:
        """Send `sig` to the service's whole tree; return its root pid, or None if it was not running."""
        self.spec(name)
        pid = self._live_pid(name)
        if pid is None:
            return None
        procs = self.tree(name)
        self._remember(name, procs)
        self._signal_tree(name, sig, procs)
        return pid

    def fault(self, name: str, action: str, verify_timeout: float = 5.0,
              stop_timeout: float | None = None) -> Landing | None:
        """Apply kill | terminate | pause | resume to the whole tree and verify it took effect;
        None when the service was not running (nothing to hit)."""
        spec = self.spec(name)
        root = self._live_pid(name)
        if root is None:
            return None
        procs = self.tree(name)
        ports = self.ports(name, procs, cached=True) if action in ("kill", "terminate") else set()
        self._remember(name, procs)
        if action == "kill":
            self._signal_tree(name, signal.SIGKILL, procs)
            landing = verify_gone(root, procs, ports, verify_timeout, "SIGKILL")
            self._ended(root)
            return landing
        if action == "terminate":
            grace = spec.stop_timeout if stop_timeout is None else stop_timeout
            self._signal_tree(name, signal.SIGTERM, procs)
            self._signal_tree(name, signal.SIGCONT, procs)  # a stopped process cannot act on SIGTERM
            left = wait_gone(procs, grace)
            how = "SIGTERM"
            if left:
                self._signal_tree(name, signal.SIGKILL, left)
                how = f"SIGTERM, then SIGKILL for {len(left)} after {grace:g} s"
            landing = verify_gone(root, procs, ports, verify_timeout, how)
            self._ended(root)
            return landing
        if action == "pause":
            self._signal_tree(name, signal.SIGSTOP, procs)
            answering = {(h, p) for h, p in (self.files.read(name) or {}).get("answering") or ()}
            return verify_halted(root, procs, verify_timeout, spec.health_url, answering)
        if action == "resume":
            self._signal_tree(name, signal.SIGCONT, procs)
            if not wait_resumed(procs, verify_timeout):
                return Landing(root, False, f"processes still stopped {verify_timeout:g} s after SIGCONT",
                               time.time())
            return self._verify_answers(name, root, f"all {len(procs)} processes of the tree running")
        raise UsageError(f"unknown action {action!r}.")

    def _verify_answers(self, name: str, pid: int | None, before: str, timeout: float | None = None) -> Landing:
        try:
            self.wait_healthy(name, timeout)
        except TargetError as exc:
            return Landing(pid, False, f"{before}, but {str(exc).splitlines()[0]}", time.time())
        return Landing(self._live_pid(name), True, f"{before}; it answers {self._health_what(name)}", time.time())

    def restart_verified(self, name: str) -> Landing:
        """Stop the whole tree (if running), start afresh from the spec's command, wait healthy."""
        spec = self.spec(name)
        before = self._live_pid(name)
        if before is not None:
            down = self.fault(name, "terminate")
            if down is not None and not down.landed:
                return Landing(before, False, f"restart: the old instance did not go away ({down.evidence})",
                               time.time())
        try:
            pid = self.start(spec, wait=True)
        except TargetError as exc:
            return Landing(None, False, f"restart failed: {str(exc).splitlines()[0]}", time.time())
        gone = f"old tree of pid {before} gone, " if before else ""
        return Landing(pid, True, f"{gone}started as pid {pid}; it answers {self._health_what(name)}", time.time())

    def kill(self, name: str) -> int | None:
        landing = self.fault(name, "kill")
        return landing.pid if landing else None

    def terminate(self, name: str, timeout: float | None = None) -> int | None:
        landing = self.fault(name, "terminate", stop_timeout=timeout)
        return landing.pid if landing else None

    def pause(self, name: str) -> int | None:
        landing = self.fault(name, "pause")
        return landing.pid if landing else None

    def resume(self, name: str) -> int | None:
        self.spec(name)
        pid = self._live_pid(name)
        if pid is None:
            return None
        procs = self.tree(name)
        self._signal_tree(name, signal.SIGCONT, procs)
        wait_resumed(procs, 2.0)
        return pid

    def restart(self, name: str, wait: bool = True) -> int:
        self.terminate(name)
        return self.start(self.spec(name), wait=wait)

    def ensure_running(self, name: str, wait: bool = True) -> int:
        """Bring a service back to running and resumed, whatever a fault left it in."""
        state = self.state(name)
        if state == PAUSED or (state == RUNNING and self.any_halted(name)):
            self.resume(name)
            return self.pid(name) or 0
        if state == STOPPED:
            return self.start(self.spec(name), wait=wait)
        return self.pid(name) or 0

    def stop(self, name: str) -> None:
        self.terminate(name)
        self.files.update(name, pid=None)

    # -- adoption -------------------------------------------------------------------------------
    def find_running(self, spec: ServiceSpec) -> tuple[int, str] | None:
        """A running instance of `spec` shopbench did not start: (pid, how it was found), or None."""
        return find_running(spec)

    def adopt(self, spec: ServiceSpec) -> tuple[int, str] | None:
        """Take over a running instance of `spec` so faults reach it; its `command` restarts it later.
        Returns (pid, how found), or None when no running instance was found."""
        if self._live_pid(spec.name) is not None:
            return (self.files.read(spec.name) or {})["pid"], "already known"
        found = find_running(spec)
        if found is None:
            return None
        pid, how = found
        try:
            pgid = os.getpgid(pid)
        except OSError:
            return None
        # Its group is used only if the service leads it: a shell script's group may hold shopbench too.
        group = pgid if pgid == pid and pgid != os.getpgrp() else None
        self.files.write(spec.name, {"spec": asdict(spec), "pid": pid, "pgid": group, "started": started_at(pid),
                                     "adopted": True, "found_by": how})
        self._note_ports(spec.name)
        return pid, how
