"""The local backend: faults as signals to processes owned by a `shopbench.processes.Supervisor`.

It serves the reference shop (the supervisor of `RefShop`, or its state directory) and any user's
services described in a services file, so a user can run their own shop on one machine under
shopbench with no Docker. A services file is JSON or TOML:

    {"services": [{"name": "order", "command": ["python", "-m", "myshop.order"], "cwd": ".",
                   "env": {"PORT": "8000"}, "health_url": "http://127.0.0.1:8000/health"}]}

    [[services]]                                  # or one table per service: [services.order]
    name = "order"
    command = "python -m myshop.order"            # a string is split like a shell would
    health_url = "http://127.0.0.1:8000/health"

`cwd` is relative to the file's directory. Each service is one process, so `count` above 1 hits
that one process.
"""

from __future__ import annotations

import shlex
import threading
import time
from pathlib import Path

from shopbench.configfile import read_config
from shopbench.errors import ShopbenchError, UsageError
from shopbench.nemesis.backends.base import ERROR, OK, SKIPPED, Hit, TargetStatus, resolve_name
from shopbench.processes import PAUSED, RUNNING, STOPPED, ServiceSpec, Supervisor

SPEC_FIELDS = ("name", "command", "cwd", "env", "health_url", "start_timeout")


def load_services_file(path: str | Path) -> list[ServiceSpec]:
    """Parse a services file into specs; bad input is one UsageError naming file, entry and field."""
    path = Path(path)
    data = read_config(path, "services file", toml=True)
    entries = data.get("services") if isinstance(data, dict) else None
    if isinstance(entries, dict):
        entries = [{"name": name, **(body if isinstance(body, dict) else {"command": body})}
                   for name, body in entries.items()]
    if not isinstance(entries, list) or not entries:
        raise UsageError(f"{path}: field services is missing or empty; it must list services, each with "
                         f"name, command and optionally cwd, env, health_url.")
    specs: list[ServiceSpec] = []
    seen: set[str] = set()
    for i, entry in enumerate(entries):
        where = f"{path}: services[{i}]"
        if not isinstance(entry, dict):
            raise UsageError(f"{where} must be an object with name and command.")
        unknown = sorted(set(entry) - set(SPEC_FIELDS))
        if unknown:
            raise UsageError(f"{where}.{unknown[0]} is not a known field; allowed: {', '.join(SPEC_FIELDS)}.")
        name = entry.get("name")
        if not isinstance(name, str) or not name.strip() or "/" in name:
            raise UsageError(f"{where}.name is {name!r}; it must be a non-empty name without '/'.")
        if name in seen:
            raise UsageError(f"{where}.name {name!r} appears twice; service names must be unique.")
        seen.add(name)
        command = entry.get("command")
        if isinstance(command, str):
            command = shlex.split(command)
        if not isinstance(command, list) or not command or not all(isinstance(c, str) for c in command):
            raise UsageError(f"{where}.command must be a command line: a string or a list of strings.")
        cwd = entry.get("cwd")
        if cwd is not None and not isinstance(cwd, str):
            raise UsageError(f"{where}.cwd must be a directory path.")
        cwd_path = (path.parent / cwd).resolve() if cwd else path.parent.resolve()
        env = entry.get("env") or {}
        if not isinstance(env, dict) or not all(isinstance(k, str) for k in env):
            raise UsageError(f"{where}.env must be an object of NAME = value strings.")
        health = entry.get("health_url")
        if health is not None and (not isinstance(health, str) or not health.startswith(("http://", "https://"))):
            raise UsageError(f"{where}.health_url is {health!r}; it must be an http:// URL.")
        timeout = entry.get("start_timeout", 30.0)
        if not isinstance(timeout, int | float) or timeout <= 0:
            raise UsageError(f"{where}.start_timeout must be a number of seconds > 0.")
        specs.append(ServiceSpec(name=name, command=command, cwd=str(cwd_path),
                                 env={k: str(v) for k, v in env.items()}, health_url=health,
                                 start_timeout=float(timeout)))
    return specs


class LocalBackend:
    kind = "local"

    def __init__(self, supervisor: Supervisor, specs: list[ServiceSpec] | None = None):
        self.supervisor = supervisor
        self.specs = {s.name: s for s in (specs or [])}
        self._locks: dict[str, threading.Lock] = {}
        self._locks_guard = threading.Lock()

    def _lock(self, name: str) -> threading.Lock:
        # One lock per service: a restore that waits for health must not hold up faults elsewhere.
        with self._locks_guard:
            return self._locks.setdefault(name, threading.Lock())

    def services(self) -> list[str]:
        return sorted(set(self.supervisor.names()) | set(self.specs))

    def canonical(self, name: str) -> str:
        return resolve_name(name, self.services(), f"the local backend ({self.supervisor.state_dir})")

    def _spec(self, name: str) -> ServiceSpec:
        return self.specs.get(name) or self.supervisor.spec(name)

    # -- lifecycle of a user's services (`shopbench services start|stop`) ---------------------
    def start(self, service: str) -> Hit:
        name = self.canonical(service)
        with self._lock(name):
            pid = self.supervisor.start(self._spec(name), wait=True)
        return Hit(f"pid {pid}", OK, handle=name)

    def stop(self, service: str) -> Hit:
        name = self.canonical(service)
        with self._lock(name):
            pid = self.supervisor.pid(name)
            if self.supervisor.state(name) == PAUSED:
                self.supervisor.resume(name)
            self.supervisor.stop(name)
        return Hit(f"pid {pid}" if pid else None, OK if pid else SKIPPED,
                   None if pid else "not running", handle=name)

    # -- faults -----------------------------------------------------------------------------
    def apply(self, action: str, service: str, count: int = 1) -> list[Hit]:
        name = self.canonical(service)
        sup = self.supervisor
        with self._lock(name):
            try:
                before = sup.pid(name)
                state = sup.state(name)
                if action == "restart":
                    if name not in sup.names():
                        sup.start(self._spec(name), wait=True)  # a user's service never started: start it
                    new = sup.restart(name, wait=True)
                    return [Hit(f"pid {before} -> {new}" if before else f"pid {new}", OK, handle=name)]
                if action == "resume":
                    if state != PAUSED:
                        return [Hit(f"pid {before}" if before else None, SKIPPED, f"{name} is {state}", name)]
                    sup.resume(name)
                    self._wait_state(name, RUNNING)
                    return [Hit(f"pid {before}", OK, handle=name)]
                if before is None:
                    return [Hit(None, SKIPPED, f"{name} is not running", name)]
                if action == "kill":
                    pid = sup.kill(name)
                elif action == "terminate":
                    pid = sup.terminate(name)
                elif action == "pause":
                    if state == PAUSED:
                        return [Hit(f"pid {before}", SKIPPED, f"{name} is already paused", name)]
                    pid = sup.pause(name)
                    self._wait_state(name, PAUSED)
                else:
                    raise UsageError(f"unknown action {action!r}.")
            except ShopbenchError as exc:
                return [Hit(f"pid {before}" if before else None, ERROR, str(exc), name)]
            if pid is None:
                return [Hit(None, SKIPPED, f"{name} was not running", name)]
            return [Hit(f"pid {pid}", OK, handle=name)]

    def recover(self, action: str, service: str, hits: list[Hit]) -> list[Hit]:
        """Bring the service back to running, resumed and healthy, whatever the action left it in."""
        name = self.canonical(service)
        sup = self.supervisor
        with self._lock(name):
            try:
                if name not in sup.names():
                    pid = sup.start(self._spec(name), wait=True)
                else:
                    pid = sup.ensure_running(name, wait=True)
                    sup.wait_healthy(name)
            except ShopbenchError as exc:
                return [Hit(f"service {name}", ERROR, str(exc), name)]
        return [Hit(f"pid {pid}", OK, handle=name)]

    def status(self, services: list[str] | None = None) -> list[TargetStatus]:
        names = [self.canonical(s) for s in services] if services else self.services()
        rows = []
        for name in names:
            if name not in self.supervisor.names():
                rows.append(TargetStatus(name, None, STOPPED, "never started"))
                continue
            st = self.supervisor.status(name)
            rows.append(TargetStatus(name, f"pid {st.pid}" if st.pid else None, st.state,
                                     st.health_url or ""))
        return rows

    def _wait_state(self, name: str, want: str, timeout: float = 2.0) -> None:
        # Signals are asynchronous: the timeline should only say "paused" once the kernel agrees.
        deadline = time.monotonic() + timeout
        while self.supervisor.state(name) != want and time.monotonic() < deadline:
            time.sleep(0.005)
