"""Fixtures for the network-fault tests: a real HTTP upstream on loopback and a proxy in front of it."""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
SRC = str(HERE.parents[1] / "src")
for path in (SRC, str(HERE.parent), str(HERE)):
    if path not in sys.path:
        sys.path.insert(0, path)
os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (SRC, os.environ.get("PYTHONPATH")) if p)

from shopbench.nemesis.proxy import LinkProxy  # noqa: E402

BIG = b"x" * 200_000


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: faults must reach connections that already exist
    disable_nagle_algorithm = True  # else headers and body wait out a delayed ACK (40 ms)

    def do_GET(self) -> None:  # noqa: N802
        body = BIG if self.path == "/big" else b"hello"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_HEAD(self) -> None:  # noqa: N802
        self.send_response(404)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def upstream() -> Iterator[tuple[str, int]]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[:2]
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def proxy(upstream: tuple[str, int]) -> Iterator[LinkProxy]:
    with LinkProxy.start({"client->stock": upstream, "order->payment": upstream}) as p:
        yield p


@pytest.fixture
def link(proxy: LinkProxy) -> Iterator[LinkProxy]:
    """The module's proxy with no toxic before and after each test."""
    proxy.clear()
    yield proxy
    proxy.clear()
