"""Fixtures for the report tests: run directories made against a real reference shop, once per session."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

HERE = str(Path(__file__).resolve().parent)
if HERE not in sys.path:
    sys.path.insert(0, HERE)

from runmaker import make_run  # noqa: E402

from shopbench.shop import RefShop  # noqa: E402


@pytest.fixture(scope="session")
def report_shop(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RefShop]:
    with RefShop(tmp_path_factory.mktemp("report-shop")) as shop:
        yield shop


@pytest.fixture(scope="session")
def valid_run(report_shop: RefShop, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_run(tmp_path_factory.mktemp("runs") / "valid", report_shop, seed=1)


@pytest.fixture(scope="session")
def invalid_run(report_shop: RefShop, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_run(tmp_path_factory.mktemp("runs") / "invalid", report_shop, invalid=True, pause=0.3, seed=2)
