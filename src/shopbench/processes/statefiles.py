"""What a service is (`ServiceSpec`) and what the supervisor remembers of it between commands.

Each service leaves `NAME.json` (its spec, root pid, process group, the kernel's start time of
that pid so a recycled pid is never signalled, the tree's members at the last action, the ports
it listened on once healthy) and `NAME.log` in the supervisor's state directory. Another
shopbench command, or the restore guardian after shopbench was killed, reads the same files.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from shopbench.errors import UsageError

RUNNING, PAUSED, STOPPED = "running", "paused", "stopped"


@dataclass
class ServiceSpec:
    """How to run (or find) one service: what a services file describes for a user's own shop."""

    name: str
    command: list[str]
    cwd: str | None = None
    env: dict[str, str] = field(default_factory=dict)
    health_url: str | None = None
    start_timeout: float = 30.0
    health_tcp: str | None = None  # "host:port": up when it accepts a connection
    health_status_below: int = 500  # health_url: any HTTP answer below this means up
    port: int | None = None  # the port it listens on: health fallback, adoption, kill verification
    pid_file: str | None = None  # adoption: a file holding the pid of a running instance
    match: str | None = None  # adoption: a regex searched in the command lines of running processes
    stop_timeout: float = 5.0  # SIGTERM, then SIGKILL after this long


@dataclass
class ServiceStatus:
    name: str
    state: str
    pid: int | None
    health_url: str | None
    log: str
    processes: int = 0
    adopted: bool = False


class StateFiles:
    """The `NAME.json` / `NAME.log` pairs of one state directory."""

    def __init__(self, state_dir: str | Path):
        self.state_dir = Path(state_dir)

    def path(self, name: str) -> Path:
        return self.state_dir / f"{name}.json"

    def log_path(self, name: str) -> Path:
        return self.state_dir / f"{name}.log"

    def read(self, name: str) -> dict | None:
        try:
            return json.loads(self.path(name).read_text())
        except (OSError, json.JSONDecodeError):
            return None

    def write(self, name: str, state: dict) -> None:
        self.state_dir.mkdir(parents=True, exist_ok=True)
        tmp = self.path(name).with_suffix(".tmp")
        tmp.write_text(json.dumps(state))
        tmp.replace(self.path(name))

    def update(self, name: str, **fields: object) -> None:
        state = self.read(name)
        if state is not None:
            state.update(fields)
            self.write(name, state)

    def names(self) -> list[str]:
        if not self.state_dir.is_dir():
            return []
        return sorted(p.stem for p in self.state_dir.glob("*.json") if self.read(p.stem) is not None)

    def spec(self, name: str) -> ServiceSpec:
        state = self.read(name)
        if state is None:
            known = ", ".join(self.names()) or "none"
            raise UsageError(f"unknown service {name!r}; services known in {self.state_dir}: {known}.")
        return ServiceSpec(**state["spec"])
