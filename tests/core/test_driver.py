"""The REST driver against a real HTTP server on loopback: outcome classes and the recorded ops."""

import http.server
import json
import threading

import pytest

from shopbench.driver import connect
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
        self._answer(200, {"stock": 3, "price": 2})

    def do_DELETE(self):  # noqa: N802
        self.server.paths.append(("DELETE", self.path))
        self._answer(200, b"")

    def log_message(self, *args):
        pass


@pytest.fixture
def server():
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    srv.paths = []
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


def test_refused_connection_is_indeterminate():
    url = f"http://127.0.0.1:{free_port()}"
    history = MemoryHistory()
    outcome = connect(Target(url, url, url), history, timeout=1).checkout("o1")
    assert outcome.kind == "info" and outcome.status is None
    assert "Refused" in outcome.error or "refused" in outcome.error
    assert history.ops[0].type == "info"


def test_url_prefix_of_a_gateway_is_kept(server):
    base = f"http://127.0.0.1:{server.server_port}"
    driver = connect(Target(base + "/api", base, base), timeout=2)
    driver.find_order("o9")
    assert ("GET", "/api/orders/find/o9") in server.paths
