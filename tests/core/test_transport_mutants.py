"""driver/transport.py to the letter, on real sockets: which failures are NotSent (definite, no
effect) and which MaybeSent, the sentences they carry, and the pool behaviour the rules rest on
(found by mutation testing, docs/mutation.md)."""

from __future__ import annotations

import http.server
import socket
import threading
import time
from types import SimpleNamespace

import geventhttpclient.client as ghc
import geventhttpclient.connectionpool as ghc_pool
import pytest
from geventhttpclient import HTTPClient

from shopbench.driver import transport
from shopbench.driver.transport import GeventTransport, MaybeSent, NotSent, TransportError
from shopbench.processes import free_port
from shopbench.target import Target


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self):  # noqa: N802 - http.server's naming
        self.server.peers.add(self.client_address)
        data = self.path.encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


@pytest.fixture
def server():
    class Counting(http.server.ThreadingHTTPServer):
        def process_request(self, request, client_address):
            self.accepted.append(client_address)
            super().process_request(request, client_address)

    srv = Counting(("127.0.0.1", 0), Handler)
    srv.peers, srv.accepted = set(), []
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    yield srv
    srv.shutdown()
    srv.server_close()


def test_only_methods_without_effect_are_ever_re_sent():
    retry = ghc._may_retry_after_send_error
    assert retry("GET") and retry("get") and retry("HEAD") and retry("head")
    assert not any(retry(m) for m in ("POST", "post", "PUT", "PATCH", "DELETE", "delete", "OPTIONS"))


def test_the_hooks_are_installed_over_geventhttpclient_own(monkeypatch):
    """What importing the transport does (run here again: the import ran before any test)."""
    monkeypatch.setattr(ghc, "_may_retry_after_send_error", lambda method: True)  # a client that re-sends all
    transport._no_resend_of_effects()
    retry = ghc._may_retry_after_send_error
    assert retry("get") is True and retry("HEAD") is True and retry("POST") is False and retry("delete") is False
    monkeypatch.setattr(ghc_pool.ConnectionPool, "_is_socket_alive", lambda self, sock: True)
    transport._reuse_sockets_at_any_descriptor()
    assert ghc_pool.ConnectionPool._is_socket_alive is transport._idle_socket_is_alive


def test_a_geventhttpclient_without_the_hooks_we_rely_on_is_refused_with_the_fix(monkeypatch):
    monkeypatch.delattr(ghc, "_may_retry_after_send_error")
    with pytest.raises(ImportError) as err:
        transport._no_resend_of_effects()
    assert str(err.value) == ("geventhttpclient changed how it re-sends requests (no _may_retry_after_send_error): "
                              "shopbench cannot guarantee that a POST is sent at most once; install "
                              "geventhttpclient>=2.6.1,<2.7")
    monkeypatch.delattr(ghc_pool.ConnectionPool, "_is_socket_alive")
    with pytest.raises(ImportError) as err:
        transport._reuse_sockets_at_any_descriptor()
    assert str(err.value) == ("geventhttpclient changed how its pool checks idle connections (no _is_socket_alive): "
                              "install geventhttpclient>=2.6.1,<2.7")


def test_the_pool_asks_poll_whether_an_idle_socket_is_alive():
    assert ghc_pool.ConnectionPool._is_socket_alive is transport._idle_socket_is_alive
    alive = transport._idle_socket_is_alive
    a, b = socket.socketpair()
    try:
        assert alive(None, a) is True  # open and quiet
        b.sendall(b"stray")
        assert alive(None, a) is False  # bytes nobody asked for: not reusable
        a.recv(16)
        assert alive(None, a) is True
        b.close()
        assert alive(None, a) is False  # the peer's FIN
    finally:
        a.close()
    assert alive(None, a) is False  # closed: fileno -1
    assert alive(None, None) is False


def test_a_connection_that_cannot_be_made_is_not_sent_naming_the_error():
    port = free_port()
    t = GeventTransport(Target(*[f"http://127.0.0.1:{port}"] * 3), timeout=2)
    try:
        with pytest.raises(NotSent) as err:
            t.request("order", "POST", "/orders/checkout/o1", body=b"{}")
    finally:
        t.close()
    assert str(err.value) == "not sent: ConnectionRefusedError: [Errno 111] Connection refused"
    assert err.value.__cause__ is None and err.value.__suppress_context__


def test_a_connect_error_without_a_message_is_named_by_its_type():
    errors = [TimeoutError(), OSError("no route to gateway-X")]

    def refuse():
        raise errors.pop(0)

    pool = SimpleNamespace(_create_socket=refuse)
    transport._connect_or_not_sent(pool)
    with pytest.raises(NotSent) as err:
        pool._create_socket()
    assert str(err.value) == "not sent: TimeoutError"
    with pytest.raises(NotSent) as err:
        pool._create_socket()
    assert str(err.value) == "not sent: OSError: no route to gateway-X"  # only the empty tail is cut
    made = SimpleNamespace(_create_socket=lambda: "a socket")
    transport._connect_or_not_sent(made)
    assert made._create_socket() == "a socket"


def test_an_error_after_connecting_is_maybe_sent_naming_the_error(server):
    url = f"http://127.0.0.1:{server.server_port}"
    t = GeventTransport(Target(url, url, url), timeout=2)
    client = t._clients["order"][0]

    def broken(*args, **kw):
        raise ConnectionResetError(104, "Connection reset by peer")

    def silent(*args, **kw):
        raise OSError()

    def named(*args, **kw):
        raise OSError("closed by proxy-X")

    try:
        client.request = broken
        with pytest.raises(MaybeSent) as err:
            t.request("order", "POST", "/x")
        assert str(err.value) == "ConnectionResetError: [Errno 104] Connection reset by peer"
        assert err.value.__cause__ is None and err.value.__suppress_context__
        client.request = silent
        with pytest.raises(MaybeSent) as err:
            t.request("order", "POST", "/x")
        assert str(err.value) == "OSError"
        client.request = named
        with pytest.raises(MaybeSent) as err:
            t.request("order", "POST", "/x")
        assert str(err.value) == "OSError: closed by proxy-X"
        assert not issubclass(MaybeSent, NotSent) and issubclass(MaybeSent, TransportError)
    finally:
        t.close()


def test_an_ip_literal_is_resolved_once_to_the_os_answer():
    v4 = HTTPClient("127.0.0.1", port=8080)._connection_pool
    transport._resolve_literal_once(v4)
    assert v4._resolve() == socket.getaddrinfo("127.0.0.1", 8080, 0, socket.SOCK_STREAM, socket.SOL_TCP)
    v6 = HTTPClient("::1", port=8081)._connection_pool
    transport._resolve_literal_once(v6)
    assert [(i[0], i[4][:2]) for i in v6._resolve()] == [(socket.AF_INET6, ("::1", 8081))]
    only4 = HTTPClient("127.0.0.1", port=8082, disable_ipv6=True)._connection_pool
    transport._resolve_literal_once(only4)
    assert only4._resolve() == socket.getaddrinfo("127.0.0.1", 8082, socket.AF_INET, socket.SOCK_STREAM,
                                                  socket.SOL_TCP)


def test_a_host_name_keeps_the_per_connection_lookup():
    named = HTTPClient("localhost", port=8080)._connection_pool
    own = named._resolve
    transport._resolve_literal_once(named)
    assert named._resolve == own
    bare = SimpleNamespace(_connection_host="127.0.0.1", _connection_port=1)
    transport._resolve_literal_once(bare)  # a pool without _resolve (geventhttpclient changed): left alone
    assert not hasattr(bare, "_resolve")


def test_one_pool_per_base_url_with_the_gateway_prefix_kept():
    t = GeventTransport(Target(order_url="http://127.0.0.1:1/api/", stock_url="http://127.0.0.1:1/stock-X",
                               payment_url="https://127.0.0.1:2"), timeout=3.5, concurrency=7)
    try:
        order, stock, payment = (t._clients[s] for s in ("order", "stock", "payment"))
        assert order[0] is stock[0] and payment[0] is not order[0]
        assert (order[1], stock[1], payment[1]) == ("/api", "/stock-X", "")
        assert (order[0].ssl, payment[0].ssl) == (False, True)
        pool = order[0]._connection_pool
        assert (pool.size, pool.connection_timeout, pool.network_timeout) == (7, 3.5, 3.5)
        assert (pool._connection_host, pool._connection_port) == ("127.0.0.1", 1)
        assert t.timeout == 3.5
    finally:
        t.close()


def test_defaults_are_ten_seconds_and_64_connections_per_pool():
    t = GeventTransport(Target(*["http://127.0.0.1:1"] * 3))
    try:
        pool = t._clients["order"][0]._connection_pool
        assert (t.timeout, pool.size, pool.connection_timeout, pool.network_timeout) == (10.0, 64, 10.0, 10.0)
    finally:
        t.close()


def test_warm_opens_connections_in_advance_that_requests_then_reuse(server):
    url = f"http://127.0.0.1:{server.server_port}"
    t = GeventTransport(Target(url, url, url), timeout=2, concurrency=3)
    try:
        assert t.warm("order", 10, at_once=2) == 3  # at most the pool's size
        assert t._clients["order"][0]._connection_pool._socket_queue.qsize() == 3
        deadline = time.monotonic() + 10
        while len(server.accepted) < 3 and time.monotonic() < deadline:  # the server thread accepts them
            time.sleep(0.01)
        for _ in range(3):
            assert t.request("stock", "GET", "/find?x=1") == transport.Response(200, b"/find?x=1")
        assert len(server.accepted) == 3  # the warmed connections carried them: none opened since
        assert t.warm("payment", 1) == 1
    finally:
        t.close()
    refused = GeventTransport(Target(*[f"http://127.0.0.1:{free_port()}"] * 3), timeout=1, concurrency=2)
    try:
        assert refused.warm("order", 2) == 0  # left to the requests, which record it
    finally:
        refused.close()


def test_close_closes_every_pool():
    t = GeventTransport(Target("http://127.0.0.1:1", "http://127.0.0.1:2", "http://127.0.0.1:3"))
    t.close()
    assert all(client._connection_pool._closed for client, _ in t._clients.values())
