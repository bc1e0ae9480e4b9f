"""How bytes reach a target: one pooled HTTP client per service base URL.

geventhttpclient is the client Locust's FastHttpUser is built on, so the same transport serves a
consistency burst (a gevent pool) and a Locust user without a second HTTP stack.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol
from urllib.parse import urlsplit

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

    def close(self) -> None:
        for client, _ in self._clients.values():
            client.close()
