"""The REST driver against a real HTTP server on loopback: outcome classes and the recorded ops."""

import http.server
import json
import socket
import threading
import time

import gevent
import pytest

from shopbench.driver import connect
from shopbench.driver.inflight import IN_FLIGHT
from shopbench.history import MemoryHistory
from shopbench.processes import free_port
from shopbench.target import Target


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def _answer(self, status, body):
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self):  # noqa: N802 - http.server's naming
        self.server.paths.append(("POST", self.path))
        if self.path.startswith("/stock/item/create/"):
            self._answer(200, {"item_id": "i1"})
        elif self.path.startswith("/payment/create_user"):
            self._answer(200, b"<html>not json</html>")
        elif self.path.startswith("/orders/checkout/boom"):
            self._answer(503, {"error": "undecided"})
        else:
            self._answer(400, {"error": "nope"})

    def do_GET(self):  # noqa: N802
        self.server.paths.append(("GET", self.path))
        self.server.peers.add(self.client_address)
        if self.path.startswith("/orders/find/units"):  # a shop's own shapes: ids per unit, strings, 0/1
            self._answer(200, {"paid": 0, "items": ["16", "16", "3"], "user_id": 7, "total_cost": "30"})
        elif self.path.startswith("/orders/find/half"):
            self._answer(200, {"paid": True, "items": [["16", 1.5]], "user_id": "7", "total_cost": 3})
        else:
            self._answer(200, {"stock": 3, "price": 2})

    def do_DELETE(self):  # noqa: N802
        self.server.paths.append(("DELETE", self.path))
        self._answer(200, b"")

    def log_message(self, *args):
        pass


@pytest.fixture
def server():
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    srv.paths, srv.peers = [], set()
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    yield srv
    srv.shutdown()
    srv.server_close()


def test_outcomes_are_classified_by_status_and_recorded(server):
    url = f"http://127.0.0.1:{server.server_port}"
    history = MemoryHistory()
    driver = connect(Target(url, url, url), history, timeout=2, process="w1")
    assert driver.create_item(5).data == {"item_id": "i1"}
    assert driver.find_item("i1").data == {"stock": 3, "price": 2}
    assert driver.add_stock("i1", -1, expect="fail").kind == "fail"
    assert driver.checkout("boom").kind == "info"  # 5xx: may or may not have happened
    assert driver.remove_item("o1", "i1").kind == "ok"
    created = driver.create_user()
    assert created.kind == "info" and "user_id" in created.error  # 2xx without the id is unusable
    assert ("DELETE", "/orders/removeItem/o1/i1") in server.paths
    assert ("POST", "/stock/add/i1/-1") in server.paths
    ops = history.ops
    assert [op.f for op in ops] == ["create_item", "find_item", "add_stock", "checkout", "remove_item", "create_user"]
    assert [op.id for op in ops] == list(range(6))
    assert ops[2].expect == "fail" and ops[2].status == 400 and ops[2].process == "w1"
    assert all(op.t1 >= op.t0 for op in ops)


def test_answers_are_read_into_the_canonical_shape_or_one_sentence(server):
    url = f"http://127.0.0.1:{server.server_port}"
    history = MemoryHistory()
    driver = connect(Target(url, url, url), history, timeout=2)
    units = driver.find_order("units")
    assert units.kind == "ok"
    assert units.data == {"paid": False, "items": [["16", 2], ["3", 1]], "user_id": "7", "total_cost": 30}
    assert history.ops[0].value == units.data  # the history holds the canonical shape too
    half = driver.find_order("half")
    assert half.kind == "info" and half.data is None  # not guessed: unreadable, the run UNKNOWN for it
    assert half.error == ("find_order (GET /orders/find/half) answered 200, but items[0] (a quantity) is 1.5; it "
                          "must be a whole number (amounts, prices and quantities are integers: 12, \"12\" and "
                          "12.0 are read as 12).")


def test_refused_connection_is_a_definite_fail_never_sent():
    url = f"http://127.0.0.1:{free_port()}"
    history = MemoryHistory()
    outcome = connect(Target(url, url, url), history, timeout=1).checkout("o1")
    assert outcome.kind == "fail" and outcome.status is None  # nothing reached the shop: no effect
    assert outcome.error.startswith("not sent:") and "refused" in outcome.error.lower()
    assert history.ops[0].type == "fail"


class DroppingServer:
    """A raw TCP server that reads each request in full, counts it, then closes the connection
    without a byte of answer (or, with `hold`, keeps it open and silent)."""

    def __init__(self, hold: float = 0.0):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.requests: list[str] = []
        self.hold = hold
        self.lock = threading.Lock()
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._one, args=(conn,), daemon=True).start()

    def _one(self, conn):
        data = b""
        with conn:
            while True:
                while b"\r\n\r\n" not in data:
                    chunk = conn.recv(4096)
                    if not chunk:
                        return
                    data += chunk
                head, _, data = data.partition(b"\r\n\r\n")
                with self.lock:
                    self.requests.append(head.split(b"\r\n")[0].decode())
                if self.hold:
                    time.sleep(self.hold)
                return  # drop the connection: the request was read, no answer is sent

    def url(self):
        return f"http://127.0.0.1:{self.port}"

    def close(self):
        self.sock.close()


def test_a_post_the_server_read_then_dropped_is_sent_once_and_info():
    srv = DroppingServer()
    try:
        history = MemoryHistory()
        url = srv.url()
        driver = connect(Target(url, url, url), history, timeout=2, concurrency=4)
        outcome = driver.checkout("o1")
        assert outcome.kind == "info" and outcome.status is None  # it may have been processed
        time.sleep(0.2)
        assert srv.requests.count("POST /orders/checkout/o1 HTTP/1.1") == 1, srv.requests  # never re-sent
        # DELETE is idempotent in RFC 9110, not in what a shop answers: not re-sent either.
        assert driver.remove_item("o1", "i1").kind == "info"
        time.sleep(0.2)
        assert sum(r.startswith("DELETE ") for r in srv.requests) == 1, srv.requests
        assert [op.type for op in history.ops] == ["info", "info"]
    finally:
        srv.close()


def test_read_timeout_is_info():
    srv = DroppingServer(hold=3)
    try:
        history = MemoryHistory()
        url = srv.url()
        outcome = connect(Target(url, url, url), history, timeout=0.5).pay("u1", 5)
        assert outcome.kind == "info" and "timeout" in outcome.error.lower()
        assert len(srv.requests) == 1
    finally:
        srv.close()


def test_a_request_killed_in_flight_is_recorded_as_cut_off_once():
    srv = DroppingServer(hold=5)
    try:
        history = MemoryHistory()
        url = srv.url()
        driver = connect(Target(url, url, url), history, timeout=10)
        g = gevent.spawn(driver.checkout, "o7")
        gevent.sleep(0.3)
        IN_FLIGHT.ending = "user stopped by --stop-timeout (0 s) with the request in flight"
        try:
            g.kill()
        finally:
            IN_FLIGHT.ending = None
        assert [op.type for op in history.ops] == ["info"]
        assert history.ops[0].error == "cut off: user stopped by --stop-timeout (0 s) with the request in flight"
        assert history.ops[0].args == {"order_id": "o7"}

        # A sweep writes what is still in flight; the greenlet killed later does not write it twice.
        driver.cut_off = "cut off: open-model request cancelled at the end of the load"
        g = gevent.spawn(driver.pay, "u1", 3)
        gevent.sleep(0.3)
        assert IN_FLIGHT.sweep("cut off: worker shutting down") == 1
        g.kill()
        assert [op.error for op in history.ops[1:]] == ["cut off: worker shutting down"]
        g = gevent.spawn(driver.pay, "u2", 3)
        gevent.sleep(0.3)
        g.kill()
        assert history.ops[-1].error == "cut off: open-model request cancelled at the end of the load"
        assert not IN_FLIGHT.pending
    finally:
        srv.close()


def test_url_prefix_of_a_gateway_is_kept(server):
    base = f"http://127.0.0.1:{server.server_port}"
    driver = connect(Target(base + "/api", base, base), timeout=2)
    driver.find_order("o9")
    assert ("GET", "/api/orders/find/o9") in server.paths


def test_keep_alive_connections_are_reused_when_descriptors_pass_1024(server):
    """select() cannot watch a descriptor >= 1024; a pool that asks it whether an idle connection is
    alive would open a fresh connection for every request once a process holds ~1,000 sockets."""
    url = f"http://127.0.0.1:{server.server_port}"
    filler = [socket.socket() for _ in range(1100)]
    try:
        assert filler[-1].fileno() >= 1024
        driver = connect(Target(url, url, url), timeout=2, concurrency=1)
        for _ in range(5):
            assert driver.find_item("i1").kind == "ok"
        driver.transport.close()
    finally:
        for sock in filler:
            sock.close()
    assert len(server.peers) == 1, f"{len(server.peers)} connections for 5 reads over one keep-alive pool"


def test_an_ip_literal_is_not_resolved_for_every_connection(server, monkeypatch):
    """gevent's resolver costs a thread-pool round trip per call; a 1,000-client burst connecting
    to 127.0.0.1 must not pay it a thousand times."""
    import gevent.socket

    from shopbench.driver.transport import GeventTransport

    calls = []
    real = gevent.socket.getaddrinfo
    monkeypatch.setattr(gevent.socket, "getaddrinfo", lambda *a, **k: calls.append(a) or real(*a, **k))
    url = f"http://127.0.0.1:{server.server_port}"
    transport = GeventTransport(Target(url, url, url), timeout=2, concurrency=40)
    try:
        assert transport.warm("order", 40) == 40
    finally:
        transport.close()
    assert calls == []


def test_making_a_transport_never_yields_to_the_hub_in_a_patched_process():
    """Locust makes a transport per user as it spawns them, in a gevent-patched process: resolving
    the target there through gevent's thread-pool resolver yielded once per service and slowed
    spawning 10,000 users to ~100 a second (benchmarks/scale_users.py)."""
    import subprocess
    import sys

    script = (
        "from gevent import monkey; monkey.patch_all()\n"
        "import gevent\n"
        "from shopbench.driver.transport import GeventTransport\n"
        "from shopbench.target import Target\n"
        "ran = []\n"
        "gevent.spawn(ran.append, 1)\n"
        "for _ in range(50):\n"
        "    GeventTransport(Target('http://127.0.0.1:9', 'http://127.0.0.1:9', 'http://[::1]:9')).close()\n"
        "print('yielded' if ran else 'never yielded')\n")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert done.stdout.strip() == "never yielded", done.stdout + done.stderr


@pytest.mark.parametrize(("error", "kind"), [("NotSent", "fail"), ("MaybeSent", "info"), ("TransportError", "info")])
def test_not_sent_and_maybe_sent_are_siblings_with_their_own_outcome(error, kind):
    """As httpx separates ConnectError from ReadTimeout: never-sent is definite, maybe-sent is not,
    and a custom transport's plain TransportError is taken as maybe-sent (the safe side)."""
    from shopbench.driver import MaybeSent, NotSent, RestDriver, TransportError

    assert not issubclass(NotSent, MaybeSent) and not issubclass(MaybeSent, NotSent)
    assert issubclass(NotSent, TransportError) and issubclass(MaybeSent, TransportError)
    exc = {"NotSent": NotSent, "MaybeSent": MaybeSent, "TransportError": TransportError}[error]

    class Failing:
        def request(self, service, method, path, **kw):
            raise exc("boom")

        def close(self):
            pass

    history = MemoryHistory()
    outcome = RestDriver(Failing(), history).pay("u1", 1)
    assert outcome.kind == kind and outcome.error == "boom" and history.ops[0].type == kind
