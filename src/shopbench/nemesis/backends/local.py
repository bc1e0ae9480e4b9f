"""The local backend: faults as signals to the process trees a `shopbench.processes.Supervisor` owns.

It serves the reference shop (the supervisor of `RefShop`, or its state directory) and any user's
services described in a services file, so a user can run their own shop on one machine under
shopbench with no Docker. A services file is TOML or JSON:

    [services.order-service]                      # one table per service (or a [[services]] list
    command = "gunicorn -w 2 -b 127.0.0.1:8001 app:app"   #  with name = ...); a string is split
    cwd = "order"                                  #  like a shell would; relative to this file
    env = { DB_URL = "sqlite:///order.db" }
    health_url = "http://127.0.0.1:8001/health"    # up when it answers anything below 500
    # health_tcp = "127.0.0.1:8001"                # or: up when it accepts a connection
    # port = 8001                                  # or: the port it listens on (also finds it to adopt)
    # match = "gunicorn .*app:app"                 # adoption: a regex on a running process's command line
    # pid_file = "order.pid"                       # adoption: a pid file it writes

With none of health_url, health_tcp, port, the service is up once a process of its tree listens on
a TCP port. State (pids, logs) lives beside the file in `.shopbench/<file stem>/`, or in
--services-data. A service already running that shopbench did not start is *adopted* (found by
pid_file, port or match) so faults reach it; restarting it runs its `command`. A fault hits the
service's whole process tree, so `count` above 1 hits that same tree.
"""

from __future__ import annotations

import re
import shlex
import threading
import time
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from shopbench.configfile import read_config, validate
from shopbench.errors import ShopbenchError, UsageError
from shopbench.nemesis.backends.base import ERROR, OK, SKIPPED, Hit, TargetStatus, resolve_name
from shopbench.processes import PAUSED, STOPPED, ServiceSpec, Supervisor, split_hostport
from shopbench.processes.guardian import guardian


class ServiceEntry(BaseModel):
    """One service of a services file."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=r"^[^/\s][^/]*$", description="a non-empty name without '/'")
    command: str | list[str] = Field(description="a command line: a string or a list of strings")
    cwd: str | None = Field(default=None, description="a directory path (relative to the services file)")
    env: dict[str, str | int | float | bool] = Field(default_factory=dict,
                                                     description="a table of NAME = value strings")
    health_url: str | None = Field(default=None, pattern=r"^https?://",
                                   description="an http:// URL the service answers once it is up")
    health_tcp: str | None = Field(default=None, description='a "host:port" address it accepts connections on')
    health_status_below: int = Field(default=500, ge=100, le=600,
                                     description="an HTTP status between 100 and 600: answers below it mean up")
    port: int | None = Field(default=None, ge=1, le=65535, description="the TCP port it listens on (1-65535)")
    pid_file: str | None = Field(default=None, description="a path to a file holding its pid")
    match: str | None = Field(default=None, description="a regular expression matching its command line")
    start_timeout: float = Field(default=30.0, gt=0, description="a number of seconds > 0")
    stop_timeout: float = Field(default=5.0, gt=0, description="a number of seconds > 0")

    @field_validator("command")
    @classmethod
    def _command(cls, v: str | list[str]) -> list[str]:
        argv = shlex.split(v) if isinstance(v, str) else v
        if not argv:
            raise ValueError("the command is empty")
        return argv

    @field_validator("health_tcp")
    @classmethod
    def _hostport(cls, v: str | None) -> str | None:
        if v is not None:
            try:
                split_hostport(v)
            except ValueError:
                raise ValueError("not host:port") from None
        return v

    @field_validator("match")
    @classmethod
    def _regex(cls, v: str | None) -> str | None:
        if v is not None:
            try:
                re.compile(v)
            except re.error as exc:
                raise ValueError(f"not a valid regular expression: {exc}") from None
        return v


class ServicesFile(BaseModel):
    model_config = ConfigDict(extra="ignore")

    services: list[ServiceEntry] = Field(min_length=1, description=(
        "a non-empty list of services (or one table per service), each with name and command"))

    @field_validator("services")
    @classmethod
    def _unique(cls, v: list[ServiceEntry]) -> list[ServiceEntry]:
        seen: set[str] = set()
        for entry in v:
            if entry.name in seen:
                raise ValueError(f"service {entry.name!r} appears twice; names must be unique")
            seen.add(entry.name)
        return v


def load_services_file(path: str | Path) -> list[ServiceSpec]:
    """Parse a services file into specs; bad input is one UsageError naming file, entry and field."""
    path = Path(path)
    data = read_config(path, "services file", toml=True)
    if isinstance(data, dict) and isinstance(data.get("services"), dict):
        data = {**data, "services": [{"name": name, **(body if isinstance(body, dict) else {"command": body})}
                                     for name, body in data["services"].items()]}
    checked = validate(ServicesFile, data, str(path), shape='{"services": [{"name": ..., "command": ...}]}')
    base = path.parent.resolve()
    return [ServiceSpec(name=e.name, command=list(e.command), cwd=str((base / e.cwd).resolve() if e.cwd else base),
                        env={k: _env_str(v) for k, v in e.env.items()}, health_url=e.health_url,
                        start_timeout=float(e.start_timeout), health_tcp=e.health_tcp,
                        health_status_below=e.health_status_below, port=e.port, pid_file=e.pid_file,
                        match=e.match, stop_timeout=float(e.stop_timeout))
            for e in checked.services]


def _env_str(v: Any) -> str:
    return ("true" if v else "false") if isinstance(v, bool) else str(v)


def services_data_dir(services_file: str | Path) -> Path:
    """Where a services file's state lives: beside it, whatever the current folder."""
    path = Path(services_file).resolve()
    return path.parent / ".shopbench" / path.stem


class LocalBackend:
    kind = "local"

    def __init__(self, supervisor: Supervisor, specs: list[ServiceSpec] | None = None):
        self.supervisor = supervisor
        self.specs = {s.name: s for s in (specs or [])}
        self._locks: dict[str, threading.Lock] = {}
        self._held: dict[str, list[int]] = {}  # service -> pids the guardian resumes should we die
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

    # -- adoption ---------------------------------------------------------------------------
    def adopt(self, services: list[str] | None = None) -> list[tuple[str, int | None, str]]:
        """Take over running instances shopbench did not start: (service, pid or None, how or why not)."""
        out = []
        for name in [self.canonical(s) for s in services] if services else list(self.specs):
            with self._lock(name):
                if self.supervisor.pid(name) is not None:
                    how = "adopted earlier" if self.supervisor.adopted(name) else "started by shopbench"
                    out.append((name, self.supervisor.pid(name), how))
                    continue
                spec = self._spec(name)
                found = self.supervisor.adopt(spec)
                if found is not None:
                    out.append((name, found[0], f"found by {found[1]}"))
                elif not (spec.pid_file or spec.port or spec.match):
                    out.append((name, None, "not running; give it port, match or pid_file in the services "
                                            "file so a running instance can be found"))
                else:
                    out.append((name, None, "no running instance found"))
        return out

    def cannot_land(self, name: str, action: str) -> str | None:
        """Why `action` on `name` would be skipped if it fired now, or None if it can land."""
        name = self.canonical(name)
        if action == "restart":
            return None
        if self.supervisor.pid(name) is None:
            never = name not in self.supervisor.names()
            spec = self._spec(name)
            findable = spec.pid_file or spec.port or spec.match
            if never and not findable:
                return (f"{name} was not started by shopbench and cannot be adopted (no port, match or pid_file "
                        f"in the services file): start it with 'shopbench services start' or add one")
            return f"{name} is not running (no instance found to adopt)"
        if action == "resume" and self.supervisor.state(name) != PAUSED:
            return f"{name} is not paused, so there is nothing to resume"
        return None

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
            self.supervisor.stop(name) if name in self.supervisor.names() else None
        return Hit(f"pid {pid}" if pid else None, OK if pid else SKIPPED,
                   None if pid else "not running", handle=name)

    # -- faults -----------------------------------------------------------------------------
    def hold(self, action: str, service: str) -> None:
        """Before a fault the nemesis will undo: should shopbench die (even by SIGKILL) while a
        pause is held, the restore guardian resumes the tree (registered before the SIGSTOP)."""
        if action != "pause":
            return
        name = self.canonical(service)
        pids = [p.pid for p in self.supervisor.tree(name)]
        self._held[name] = self._held.get(name, []) + pids
        guardian().resume_on_death(pids, why=f"pause of {name}")

    def release(self, service: str) -> None:
        """The fault is undone (or never took hold): nothing to resume on death any more."""
        pids = self._held.pop(self.canonical(service), [])
        if pids:
            guardian().forget_resume(pids)

    def apply(self, action: str, service: str, count: int = 1) -> list[Hit]:
        name = self.canonical(service)
        sup = self.supervisor
        with self._lock(name):
            before = sup.pid(name)
            if before is None and action != "restart" and name in self.specs:
                # A user's shop already running: adopt it now rather than skip the fault.
                found = sup.adopt(self.specs[name])
                before = found[0] if found else None
            try:
                if action == "restart":
                    if name not in sup.names() or before is None:
                        pid = sup.start(self._spec(name), wait=True)
                        return [Hit(f"pid {pid}", OK, handle=name, landed=True, landed_at=time.time(),
                                    evidence=f"it was not running; started as pid {pid}, healthy")]
                    landing = sup.restart_verified(name)
                    target = f"pid {before} -> {landing.pid}" if landing.pid else f"pid {before}"
                    return [self._hit(target, landing, name)]
                if before is None:
                    why = self.cannot_land(name, action) or f"{name} is not running"
                    return [Hit(None, SKIPPED, why, name, landed=False)]
                if action == "resume" and sup.state(name) != PAUSED:
                    return [Hit(f"pid {before}", SKIPPED, f"{name} is {sup.state(name)}, not paused", name,
                                landed=False)]
                if action == "pause" and sup.state(name) == PAUSED:
                    return [Hit(f"pid {before}", SKIPPED, f"{name} is already paused", name, landed=False)]
                if action not in ("kill", "terminate", "pause", "resume"):
                    raise UsageError(f"unknown action {action!r}.")
                landing = sup.fault(name, action)
            except PermissionError as exc:
                return [Hit(f"pid {before}" if before else None, ERROR,
                            f"{exc}: it runs as another user; run shopbench as that user", name, landed=False)]
            except ShopbenchError as exc:
                return [Hit(f"pid {before}" if before else None, ERROR, str(exc), name, landed=False)]
            if landing is None:
                return [Hit(None, SKIPPED, f"{name} was not running", name, landed=False)]
            return [self._hit(f"pid {landing.pid}", landing, name)]

    @staticmethod
    def _hit(target: str, landing: Any, name: str) -> Hit:
        # The action was carried out (result ok) whether or not it took effect: an unlanded kill must
        # still be recovered, and the timeline says it did not land.
        return Hit(target, OK, None if landing.landed else landing.evidence, name, landed=landing.landed,
                   evidence=landing.evidence, landed_at=landing.at)

    def recover(self, action: str, service: str, hits: list[Hit]) -> list[Hit]:
        """Bring the service back to running, resumed and healthy, whatever the action left it in."""
        name = self.canonical(service)
        sup = self.supervisor
        with self._lock(name):
            try:
                if name not in sup.names() or sup.pid(name) is None:
                    pid = sup.start(self._spec(name), wait=True)
                    evidence = f"started as pid {pid}; it answers its health check"
                elif sup.state(name) == PAUSED or sup.any_halted(name):
                    landing = sup.fault(name, "resume")
                    if landing is not None and not landing.landed:
                        return [Hit(f"pid {landing.pid}", ERROR, landing.evidence, name, landed=False,
                                    evidence=landing.evidence, landed_at=landing.at)]
                    pid = sup.pid(name)
                    evidence = landing.evidence if landing else "resumed"
                else:
                    pid = sup.pid(name)
                    sup.wait_healthy(name)
                    evidence = "it was running; it answers its health check"
            except (ShopbenchError, PermissionError) as exc:
                return [Hit(f"service {name}", ERROR, str(exc).splitlines()[0], name, landed=False)]
        return [Hit(f"pid {pid}", OK, handle=name, landed=True, evidence=evidence, landed_at=time.time())]

    def status(self, services: list[str] | None = None) -> list[TargetStatus]:
        names = [self.canonical(s) for s in services] if services else self.services()
        rows = []
        for name in names:
            if name not in self.supervisor.names():
                rows.append(TargetStatus(name, None, STOPPED, "never started"))
                continue
            st = self.supervisor.status(name)
            detail = st.health_url or ""
            if st.pid:
                detail = f"{st.processes} processes" + (", adopted" if st.adopted else "") + (
                    f", {detail}" if detail else "")
            rows.append(TargetStatus(name, f"pid {st.pid}" if st.pid else None, st.state, detail))
        return rows
