"""Helpers the nemesis tests import by name (a conftest is not importable reliably: with
importlib mode several test folders each have one)."""

from __future__ import annotations

import threading
import time

from shopbench.nemesis.backends.base import OK, Hit, TargetStatus


class RecordingBackend:
    """A backend that hits nothing and remembers every call with its monotonic time."""

    kind = "fake"

    def __init__(self, services: tuple[str, ...] = ("order", "stock", "payment"), fail_apply: bool = False):
        self._services = list(services)
        self.calls: list[tuple[str, str, str, float]] = []  # (apply|recover, action, service, monotonic)
        self.state = {s: "running" for s in services}
        self.fail_apply = fail_apply
        self.lock = threading.Lock()

    def services(self) -> list[str]:
        return list(self._services)

    def canonical(self, name: str) -> str:
        from shopbench.nemesis.backends.base import resolve_name

        return resolve_name(name, self._services, "the fake backend")

    def apply(self, action: str, service: str, count: int = 1) -> list[Hit]:
        with self.lock:
            self.calls.append(("apply", action, service, time.monotonic()))
        if self.fail_apply:
            raise RuntimeError("backend exploded")
        self.state[service] = {"kill": "stopped", "terminate": "stopped", "pause": "paused"}.get(action, "running")
        return [Hit(f"fake {service}", OK, handle=service)]

    def recover(self, action: str, service: str, hits: list[Hit]) -> list[Hit]:
        with self.lock:
            self.calls.append(("recover", action, service, time.monotonic()))
        self.state[service] = "running"
        return [Hit(f"fake {service}", OK, handle=service)]

    def status(self, services: list[str] | None = None) -> list[TargetStatus]:
        return [TargetStatus(s, f"fake {s}", self.state[s]) for s in services or self._services]

    def of(self, kind: str) -> list[tuple[str, str, str, float]]:
        return [c for c in self.calls if c[0] == kind]


def wait_for(predicate, timeout: float = 10.0, step: float = 0.005) -> bool:
    """Poll until predicate() is true; bounded, returns whether it became true."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(step)
    return predicate()
