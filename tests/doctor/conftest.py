"""The gateway shop (tests/apps): a WDM course shop on gunicorn behind nginx, started once per module
that asks for it. Skipped, with the reason, only where nginx cannot be had (`make test` installs it)."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

APPS = str(Path(__file__).resolve().parents[1] / "apps")
if APPS not in sys.path:
    sys.path.insert(0, APPS)

from gateway_shop import GatewayShop, nginx_binary  # noqa: E402


@pytest.fixture(scope="session")
def nginx() -> str:
    path = nginx_binary()
    if path is None:
        pytest.skip("nginx is not installed (make test installs Debian's nginx; apt-get install nginx)")
    return path


@pytest.fixture(scope="module")
def gateway_shop(nginx: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[GatewayShop]:
    with GatewayShop(tmp_path_factory.mktemp("gateway-shop")) as shop:
        yield shop
