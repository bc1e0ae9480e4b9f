"""Local service processes: start, stop, SIGKILL, SIGSTOP/SIGCONT and restart by service name.

The one place in shopbench that owns OS processes. The reference shop launcher, `shopbench shop`,
the local fault backend and `shopbench services` all go through a `Supervisor`, so a service
started by one command can be killed, paused or stopped by another: each service leaves a state
file (`NAME.json`: its spec, pid and the kernel's start time of that pid, so a recycled pid is
never signalled) and a log file (`NAME.log`) in the supervisor's state directory.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from dataclasses import asdict, dataclass, field
from pathlib import Path

from shopbench.errors import TargetError, UsageError

RUNNING, PAUSED, STOPPED = "running", "paused", "stopped"


@dataclass
class ServiceSpec:
    """How to run one service: what a services file describes for a user's own shop."""

    name: str
    command: list[str]
    cwd: str | None = None
    env: dict[str, str] = field(default_factory=dict)
    health_url: str | None = None
    start_timeout: float = 30.0


@dataclass
class ServiceStatus:
    name: str
    state: str
    pid: int | None
    health_url: str | None
    log: str


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def _proc_stat(pid: int) -> tuple[str, str] | None:
    """(state letter, start time in clock ticks) of a live pid, or None."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name may hold spaces and parentheses; everything after the last ')' is fixed.
    fields = raw[raw.rfind(")") + 2 :].split()
    return fields[0], fields[19]


def health_ok(url: str, timeout: float = 1.0) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:  # noqa: S310 - loopback URLs only
            return 200 <= resp.status < 300
    except (urllib.error.URLError, OSError, ValueError):
        return False


class Supervisor:
    """Owns the services whose state files live in `state_dir`."""

    def __init__(self, state_dir: str | Path):
        self.state_dir = Path(state_dir)
        self._children: dict[int, subprocess.Popen] = {}

    # -- state files -------------------------------------------------------------------------
    def _state_path(self, name: str) -> Path:
        return self.state_dir / f"{name}.json"

    def log_path(self, name: str) -> Path:
        return self.state_dir / f"{name}.log"

    def _read_state(self, name: str) -> dict | None:
        try:
            return json.loads(self._state_path(name).read_text())
        except (OSError, json.JSONDecodeError):
            return None

    def names(self) -> list[str]:
        if not self.state_dir.is_dir():
            return []
        return sorted(p.stem for p in self.state_dir.glob("*.json") if self._read_state(p.stem) is not None)

    def spec(self, name: str) -> ServiceSpec:
        state = self._read_state(name)
        if state is None:
            known = ", ".join(self.names()) or "none"
            raise UsageError(f"unknown service {name!r}; services known in {self.state_dir}: {known}.")
        return ServiceSpec(**state["spec"])

    def _live_pid(self, name: str) -> int | None:
        state = self._read_state(name)
        if not state or not state.get("pid"):
            return None
        pid = state["pid"]
        stat = _proc_stat(pid)
        if stat is None or stat[1] != state.get("starttime"):
            return None
        if stat[0] == "Z":  # our own dead child, not yet reaped
            self._reap(pid)
            return None
        return pid

    def _reap(self, pid: int) -> None:
        child = self._children.pop(pid, None)
        try:
            if child is not None:
                child.wait(timeout=0)
            else:
                os.waitpid(pid, os.WNOHANG)
        except (ChildProcessError, subprocess.TimeoutExpired, OSError):
            pass

    # -- queries -------------------------------------------------------------------------------
    def pid(self, name: str) -> int | None:
        return self._live_pid(name)

    def state(self, name: str) -> str:
        pid = self._live_pid(name)
        if pid is None:
            return STOPPED
        stat = _proc_stat(pid)
        return PAUSED if stat and stat[0] in ("T", "t") else RUNNING

    def status(self, name: str) -> ServiceStatus:
        spec = self.spec(name)
        return ServiceStatus(name, self.state(name), self.pid(name), spec.health_url, str(self.log_path(name)))

    # -- actions ------------------------------------------------------------------------------
    def start(self, spec: ServiceSpec, wait: bool = True) -> int:
        """Start `spec` unless it already runs; return its pid. Waits for its health URL."""
        self.state_dir.mkdir(parents=True, exist_ok=True)
        existing = self._live_pid(spec.name)
        if existing is not None:
            return existing
        self._state_path(spec.name).write_text(json.dumps({"spec": asdict(spec), "pid": None}))
        env = {**os.environ, **spec.env}
        with open(self.log_path(spec.name), "ab") as log:
            try:
                # A new session: Ctrl-C in shopbench's terminal must not reach the services,
                # because shopbench itself decides what to restore and stop.
                child = subprocess.Popen(
                    spec.command, cwd=spec.cwd, env=env, stdin=subprocess.DEVNULL,
                    stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
                )
            except OSError as exc:
                raise TargetError(f"service {spec.name}: cannot run {spec.command[0]!r} ({exc.strerror}).") from None
        self._children[child.pid] = child
        stat = _proc_stat(child.pid)
        self._state_path(spec.name).write_text(
            json.dumps({"spec": asdict(spec), "pid": child.pid, "starttime": stat[1] if stat else None})
        )
        if wait:
            self.wait_healthy(spec.name)
        return child.pid

    def wait_healthy(self, name: str, timeout: float | None = None) -> None:
        spec = self.spec(name)
        deadline = time.monotonic() + (timeout if timeout is not None else spec.start_timeout)
        while True:
            if self._live_pid(name) is None:
                raise TargetError(f"service {name} exited while starting; last log lines:\n{self.log_tail(name)}")
            if spec.health_url is None or health_ok(spec.health_url, timeout=0.5):
                return
            if time.monotonic() > deadline:
                raise TargetError(
                    f"service {name} did not answer {spec.health_url} in time; see {self.log_path(name)}.")
            time.sleep(0.05)

    def log_tail(self, name: str, lines: int = 15) -> str:
        try:
            return "\n".join(self.log_path(name).read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def signal(self, name: str, sig: signal.Signals) -> int | None:
        """Send `sig` to the service; return the pid signalled, or None if it was not running."""
        self.spec(name)
        pid = self._live_pid(name)
        if pid is None:
            return None
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            return None
        return pid

    def kill(self, name: str) -> int | None:
        pid = self.signal(name, signal.SIGKILL)
        if pid is not None:
            self._wait_gone(name, 5.0)
        return pid

    def terminate(self, name: str, timeout: float = 5.0) -> int | None:
        pid = self.signal(name, signal.SIGTERM)
        if pid is not None and self.state(name) == PAUSED:
            os.kill(pid, signal.SIGCONT)  # a stopped process cannot act on SIGTERM
        if pid is not None and not self._wait_gone(name, timeout):
            self.signal(name, signal.SIGKILL)
            self._wait_gone(name, 5.0)
        return pid

    def pause(self, name: str) -> int | None:
        pid = self.signal(name, signal.SIGSTOP)
        if pid is not None:
            self._wait_state(pid, stopped=True)
        return pid

    def resume(self, name: str) -> int | None:
        pid = self.signal(name, signal.SIGCONT)
        if pid is not None:
            self._wait_state(pid, stopped=False)
        return pid

    @staticmethod
    def _wait_state(pid: int, stopped: bool, timeout: float = 2.0) -> None:
        # Signals are delivered asynchronously: a fault's timeline must not say "paused" before it is.
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            stat = _proc_stat(pid)
            if stat is None or (stat[0] in ("T", "t")) == stopped:
                return
            time.sleep(0.001)

    def restart(self, name: str, wait: bool = True) -> int:
        self.terminate(name)
        return self.start(self.spec(name), wait=wait)

    def ensure_running(self, name: str, wait: bool = True) -> int:
        """Bring a service back to running and resumed, whatever a fault left it in."""
        state = self.state(name)
        if state == PAUSED:
            self.resume(name)
            return self.pid(name) or 0
        if state == STOPPED:
            return self.start(self.spec(name), wait=wait)
        return self.pid(name) or 0

    def stop(self, name: str) -> None:
        self.terminate(name)
        state = self._read_state(name)
        if state is not None:
            state["pid"] = None
            self._state_path(name).write_text(json.dumps(state))

    def _wait_gone(self, name: str, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._live_pid(name) is None:
                return True
            time.sleep(0.01)
        return False
