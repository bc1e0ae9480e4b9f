"""`Supervisor`: start, stop, fault and adopt the services whose state files live in one folder.

Services are started in a session (and process group) of their own (`spawn`); every action
reaches the whole tree (`ServiceTrees`) and is verified (`landing`).
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from dataclasses import asdict

from shopbench.errors import TargetError, UsageError
from shopbench.processes.adoption import find_running
from shopbench.processes.landing import Landing, answering_ports, verify_gone, verify_halted, wait_resumed
from shopbench.processes.probes import health_ok, split_hostport, tcp_open
from shopbench.processes.proctree import listening_ports, started_at, wait_gone
from shopbench.processes.servicetree import ServiceTrees
from shopbench.processes.spawn import spawn
from shopbench.processes.statefiles import PAUSED, RUNNING, STOPPED, ServiceSpec, ServiceStatus


class Supervisor(ServiceTrees):
    """Owns the services whose state files live in `state_dir`.

    `tied`: every service it starts dies with this process, also when this process is SIGKILLed
    (the restore guardian ends its process group); for a shop started for one run. Untied (the
    default), services outlive the command that started them (`shopbench shop up`)."""

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
