"""How bytes reach a target: one pooled HTTP client per service base URL.

geventhttpclient is the client Locust's FastHttpUser is built on, so the same transport serves a
consistency burst (a gevent pool) and a Locust user without a second HTTP stack.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol
from urllib.parse import urlsplit

import gevent.pool
from geventhttpclient import HTTPClient

from shopbench.target import Target

SERVICES = ("order", "stock", "payment")


class TransportError(Exception):
    """No HTTP answer at all: refused, reset, timed out. The outcome is indeterminate."""


@dataclass(slots=True)
class Response:
    status: int
    body: bytes


class Transport(Protocol):
    def request(self, service: str, method: str, path: str) -> Response: ...

    def close(self) -> None: ...


class GeventTransport:
    """Keep-alive connection pools, one per service, `concurrency` connections each."""

    def __init__(self, target: Target, timeout: float = 10.0, concurrency: int = 64):
        self.timeout = timeout
        self._clients: dict[str, tuple[HTTPClient, str]] = {}
        by_base: dict[str, HTTPClient] = {}
        for service, url in (("order", target.order_url), ("stock", target.stock_url),
                             ("payment", target.payment_url)):
            parts = urlsplit(url)
            base = f"{parts.scheme}://{parts.netloc}"
            client = by_base.get(base)
            if client is None:
                # A gateway that serves all three gets one pool, as a browser would use.
                client = HTTPClient(
                    parts.hostname, port=parts.port, ssl=parts.scheme == "https",
                    connection_timeout=timeout, network_timeout=timeout, concurrency=concurrency,
                )
                by_base[base] = client
            self._clients[service] = (client, parts.path.rstrip("/"))

    def request(self, service: str, method: str, path: str) -> Response:
        client, prefix = self._clients[service]
        try:
            resp = client.request(method, prefix + path)
            body = resp.read()
            return Response(resp.status_code, body)
        except Exception as exc:  # geventhttpclient raises socket, gevent and parser errors alike
            raise TransportError(f"{type(exc).__name__}: {exc}".rstrip(": ")) from None

    def warm(self, service: str, n: int, at_once: int = 64) -> int:
        """Open up to `n` keep-alive connections to `service` now, `at_once` at a time, and leave them
        idle in its pool; returns how many opened. A thousand clients connecting in the same instant
        overflow the server's listen backlog (128 in aiohttp, 100 in asyncio), and every dropped SYN
        costs its client a one-second retransmit: connecting ahead, in waves, keeps connection
        set-up out of a burst. A connection that cannot be opened is left to the request itself."""
        pool = self._clients[service][0]._connection_pool  # geventhttpclient has no public warm-up
        opened: list = []

        def one() -> None:
            try:
                opened.append(pool.get_socket())
            except Exception:  # refused, timed out: the request will meet (and record) it
                pass

        group = gevent.pool.Pool(at_once)
        for _ in range(min(n, pool.size)):
            group.spawn(one)
        group.join()
        for sock in opened:
            pool.return_socket(sock)
        return len(opened)

    def close(self) -> None:
        for client, _ in self._clients.values():
            client.close()
