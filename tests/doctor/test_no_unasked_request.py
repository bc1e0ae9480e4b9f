"""No request a user's shop did not ask for (issue 25.5): the reference shop is recognised because
this process started it, never by asking a shop for /openapi.json."""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from shopbench.state import Touched, is_reference_shop, settle_and_read
from shopbench.target import Target


@pytest.fixture
def recording_server() -> Iterator[tuple[str, list[str]]]:
    paths: list[str] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            paths.append(self.path)
            self.send_response(404)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", paths
    finally:
        server.shutdown()
        server.server_close()


def test_a_users_shop_is_not_asked_anything_to_tell_whether_it_is_ours(recording_server) -> None:
    url, paths = recording_server
    target = Target(url, url, url)
    assert is_reference_shop(target) is False
    state = settle_and_read(target, Touched(), settle_timeout=0)
    assert state["settle"]["reference_shop"] is False
    assert paths == []  # nothing touched, nothing read: not even /openapi.json


@pytest.mark.slow
def test_the_reference_shop_we_started_is_recognised_without_a_request(tmp_path: Path) -> None:
    from shopbench.shop import RefShop

    with RefShop(tmp_path / "shop") as shop:
        assert is_reference_shop(shop.target) is True
        other = Target("http://127.0.0.1:9", shop.target.payment_url, shop.target.stock_url)
        assert is_reference_shop(other) is False  # refshop runs, but the order URL leads elsewhere


def test_a_shop_we_started_that_is_not_refshop_is_a_users_shop(tmp_path: Path) -> None:
    import socket
    import subprocess
    import sys
    import time

    from shopbench.processes import free_port

    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1"],
                            cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 10
        while True:  # until it listens (connecting is no request)
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert time.monotonic() < deadline, "http.server did not start"
                time.sleep(0.05)
        url = f"http://127.0.0.1:{port}"
        assert is_reference_shop(Target(url, url, url)) is False
    finally:
        proc.terminate()
        proc.wait()
