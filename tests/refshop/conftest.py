"""Fixtures for the reference-shop tests: real processes on random free loopback ports."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

HERE = str(Path(__file__).resolve().parent)
SRC = str(Path(__file__).resolve().parents[2] / "src")
for path in (SRC, HERE):  # run from a checkout even when not installed; importlib mode adds nothing
    if path not in sys.path:
        sys.path.insert(0, path)
os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (SRC, os.environ.get("PYTHONPATH")) if p)

from shopbench.shop import RefShop  # noqa: E402

ShopFactory = Callable[..., RefShop]


@pytest.fixture
def make_shop(tmp_path: Path) -> Iterator[ShopFactory]:
    """Start a reference shop: make_shop(flaw=None, order_args=[...]); every one is stopped at the end."""
    shops: list[RefShop] = []

    def make(flaw: str | None = None, order_args: list[str] | None = None) -> RefShop:
        shop = RefShop(tmp_path / f"shop{len(shops)}", flaw=flaw, extra_args={"order": order_args or []})
        shops.append(shop)
        shop.start()
        return shop

    yield make
    for shop in shops:
        shop.__exit__(None, None, None)


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RefShop]:
    """One correct shop shared by a module's tests."""
    with RefShop(tmp_path_factory.mktemp("refshop")) as s:
        yield s
