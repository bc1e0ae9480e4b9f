"""Fixtures for the nemesis tests: a recording fake backend, the fake Docker engine, a real shop."""

from __future__ import annotations

import os
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
SRC = str(HERE.parents[1] / "src")
for path in (SRC, str(HERE.parent), str(HERE)):  # `fakes` lives in tests/; importlib mode adds nothing
    if path not in sys.path:
        sys.path.insert(0, path)
os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (SRC, os.environ.get("PYTHONPATH")) if p)

from fakes.docker_engine import FakeDockerEngine  # noqa: E402
from shopbench.nemesis.backends.base import OK, Hit, TargetStatus  # noqa: E402
from shopbench.shop import RefShop  # noqa: E402


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


@pytest.fixture
def backend() -> RecordingBackend:
    return RecordingBackend()


@pytest.fixture
def engine() -> Iterator[FakeDockerEngine]:
    with FakeDockerEngine() as e:
        yield e


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RefShop]:
    with RefShop(tmp_path_factory.mktemp("nemesis-shop")) as s:
        yield s


@pytest.fixture
def healthy_shop(shop: RefShop) -> Iterator[RefShop]:
    """The module's shop, guaranteed whole before and after each test."""
    for name in ("stock", "payment", "order"):
        shop.supervisor.ensure_running(name)
    yield shop
    for name in ("stock", "payment", "order"):
        shop.supervisor.ensure_running(name)
