"""Fixtures for the nemesis tests: a recording fake backend, the fake Docker engine, a real shop."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
SRC = str(HERE.parents[1] / "src")
for path in (SRC, str(HERE.parent), str(HERE)):  # `fakes` lives in tests/; importlib mode adds nothing
    if path not in sys.path:
        sys.path.insert(0, path)
os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (SRC, os.environ.get("PYTHONPATH")) if p)

from nemesis_helpers import RecordingBackend  # noqa: E402

from fakes.docker_engine import FakeDockerEngine  # noqa: E402
from shopbench.shop import RefShop  # noqa: E402


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
