"""How bytes reach a target: one pooled HTTP client per service base URL.

geventhttpclient is the client Locust's FastHttpUser is built on, so the same transport serves a
consistency burst (a gevent pool) and a Locust user without a second HTTP stack.

What a failed request means for the history (the driver turns it into an operation's type):

  TransportError   no HTTP answer; the base of the two below (as httpx's TransportError is the base of
                   ConnectError and ReadTimeout), never raised itself by GeventTransport. A custom
                   transport raising it plainly is taken as MaybeSent: the safe side.
  NotSent          the request never left: connection refused, connect timeout, name not resolved.
                   Definite: it had no effect (`fail`, with the reason).
  MaybeSent        anything after the connection existed: a read timeout, a reset or a close after
                   (part of) the request was written, an unparseable answer. The shop may have
                   processed it (`info`).

The client must never re-send a request that changes state once it may have reached the shop: a
second POST /orders/checkout is a second checkout the history does not know about. geventhttpclient
>= 2.6.1 re-sends after a send error only for the methods its `_may_retry_after_send_error` allows
(RFC 9110's idempotent methods, DELETE among them); a shop's DELETE is not idempotent in what it
answers (a second remove_item answers 4xx), so shopbench narrows that to GET and HEAD. The pin in
pyproject.toml and tests/core/test_driver.py (a server that drops the connection after reading a
POST receives it exactly once) hold the rule.
"""

from __future__ import annotations

import ipaddress
import select
import socket
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import urlsplit

import gevent.pool
import geventhttpclient.client as _ghc
import geventhttpclient.connectionpool as _ghc_pool
from gevent.monkey import get_original
from geventhttpclient import HTTPClient

from shopbench.target import Target

SERVICES = ("order", "stock", "payment")
RESENDABLE = frozenset({"GET", "HEAD"})  # methods without effect: safe to re-send on a fresh connection


class TransportError(Exception):
    """No usable HTTP answer. Which of the two it was decides the operation's type: NotSent or MaybeSent."""


class NotSent(TransportError):
    """The connection could not be made, so nothing was sent: the operation had no effect."""


class MaybeSent(TransportError):
    """No usable answer after the request may have been sent: the outcome is indeterminate."""


def _no_resend_of_effects() -> None:
    if not callable(getattr(_ghc, "_may_retry_after_send_error", None)):
        raise ImportError(
            "geventhttpclient changed how it re-sends requests (no _may_retry_after_send_error): shopbench "
            "cannot guarantee that a POST is sent at most once; install geventhttpclient>=2.6.1,<2.7")
    _ghc._may_retry_after_send_error = lambda method: method.upper() in RESENDABLE


_no_resend_of_effects()

_os_getaddrinfo = get_original("socket", "getaddrinfo")

try:
    _poll = get_original("select", "poll")  # the OS's poll, even if gevent patched the module
except AttributeError:  # no poll() on this platform: geventhttpclient's own check stays
    _poll = None
_DEAD = select.POLLIN | select.POLLPRI | select.POLLERR | select.POLLHUP | select.POLLNVAL if _poll else 0


def _idle_socket_is_alive(self: Any, sock: Any) -> bool:
    """Whether a pooled keep-alive socket can carry the next request: open, and nothing to read
    (a readable idle socket has the server's FIN or stray bytes).

    geventhttpclient 2.6 asks `select.select`, which raises for a descriptor numbered 1024 or more;
    it takes the error for a dead socket, so in a process with a thousand connections open (a
    1,000-client burst, a Locust worker with many users) every request opened a fresh connection.
    poll has no such limit."""
    if sock is None or sock.fileno() < 0:
        return False
    try:
        poller = _poll()
        poller.register(sock.fileno(), select.POLLIN | select.POLLPRI)
        return not any(events & _DEAD for _, events in poller.poll(0))
    except (OSError, ValueError):
        return False


def _reuse_sockets_at_any_descriptor() -> None:
    if not callable(getattr(_ghc_pool.ConnectionPool, "_is_socket_alive", None)):
        raise ImportError(
            "geventhttpclient changed how its pool checks idle connections (no _is_socket_alive): "
            "install geventhttpclient>=2.6.1,<2.7")
    if _poll is not None:
        _ghc_pool.ConnectionPool._is_socket_alive = _idle_socket_is_alive


_reuse_sockets_at_any_descriptor()


def _connect_or_not_sent(pool: Any) -> None:
    """Connection errors become NotSent: `_create_socket` is where the pool connects (geventhttpclient
    documents it as the method to override), before any byte of the request is written."""
    create = pool._create_socket

    def create_socket() -> Any:
        try:
            return create()
        except Exception as exc:
            raise NotSent(f"not sent: {type(exc).__name__}: {exc}".rstrip(": ")) from None

    pool._create_socket = create_socket


def _resolve_literal_once(pool: Any) -> None:
    """A host that is an IP address is resolved once per pool, not once per connection: gevent's
    resolver hands every getaddrinfo to a thread pool (~140 us each here, against ~9 us inline),
    and a burst opens a thousand connections. A name keeps gevent's per-connection lookup."""
    resolve = getattr(pool, "_resolve", None)
    if not callable(resolve):  # geventhttpclient changed: keep its own resolution
        return
    try:
        ipaddress.ip_address(pool._connection_host)
    except ValueError:
        return
    family = socket.AF_INET if getattr(pool, "disable_ipv6", False) else 0
    # The OS's getaddrinfo, not gevent's patched one: a literal needs no lookup and never blocks,
    # while gevent's would hand it to the thread pool and yield. Transports are made as Locust
    # spawns users, and that yield per service slowed spawning 10,000 users to ~100 a second.
    info = _os_getaddrinfo(pool._connection_host, pool._connection_port, family, socket.SOCK_STREAM,
                           socket.SOL_TCP, socket.AI_NUMERICHOST)
    pool._resolve = lambda: info


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
                _connect_or_not_sent(client._connection_pool)
                _resolve_literal_once(client._connection_pool)
                by_base[base] = client
            self._clients[service] = (client, parts.path.rstrip("/"))

    def request(self, service: str, method: str, path: str) -> Response:
        client, prefix = self._clients[service]
        try:
            resp = client.request(method, prefix + path)
            body = resp.read()
            return Response(resp.status_code, body)
        except NotSent:
            raise
        except Exception as exc:  # geventhttpclient raises socket, gevent and parser errors alike
            raise MaybeSent(f"{type(exc).__name__}: {exc}".rstrip(": ")) from None

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
