"""The contract probe (driver/contract.py): every operation a run needs, once, before the load."""

import http.server
import json
import threading

import pytest

from shopbench.driver import connect
from shopbench.driver.contract import check_answer, check_at_door, operations_needed, probe
from shopbench.errors import TargetError
from shopbench.shop import RefShop
from shopbench.target import Target


class OddShop(http.server.BaseHTTPRequestHandler):
    """A shop that does everything, but answers find_user with `credit` from the server's table."""

    protocol_version = "HTTP/1.1"

    def _answer(self, status, body):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self):  # noqa: N802
        if "/item/create/" in self.path:
            self._answer(200, {"item_id": "i1"})
        elif "/create_user" in self.path:
            self._answer(200, {"user_id": 9})
        elif "/orders/create/" in self.path:
            self._answer(self.server.create_order_status, {"order_id": "o1"})
        elif "/orders/checkout/" in self.path:
            self._answer(self.server.checkout_status, {})
        else:
            self._answer(200, {})

    do_DELETE = do_POST

    def do_GET(self):  # noqa: N802
        if "/find_user/" in self.path:
            self._answer(200, {"credit": self.server.credit})
        elif "/stock/find/" in self.path:
            self._answer(200, {"stock": "3", "price": 2.0})
        else:
            self._answer(200, {"paid": False, "items": {"i1": 1}, "user_id": "9", "total_cost": 2})

    def log_message(self, *args):
        pass


@pytest.fixture
def odd():
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), OddShop)
    srv.credit, srv.checkout_status, srv.create_order_status = 10, 200, 200
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{srv.server_port}"
    yield srv, Target(url, url, url)
    srv.shutdown()
    srv.server_close()


def test_a_shop_whose_shapes_are_clear_passes(odd):
    _, target = odd
    driver = connect(target, None, timeout=2)
    assert probe(driver, operations_needed(["seed000", "probes"])) == []


def test_an_amount_of_1_5_is_one_sentence_naming_operation_field_and_value(odd):
    srv, target = odd
    srv.credit = 1.5
    problems = probe(connect(target, None, timeout=2), {"find_user"})
    assert len(problems) == 1
    assert problems[0].startswith("find_user (GET /payment/find_user/9) answered 200, but credit is 1.5; it must be "
                                  "a whole number")
    with pytest.raises(TargetError) as err:
        check_at_door(target, {"find_user"}, timeout=2)
    assert "credit is 1.5" in str(err.value) and "docs/shop-api.md" in str(err.value)
    srv.credit = "1.0"
    assert probe(connect(target, None, timeout=2), {"find_user"}) == []  # "1.0" is read as 1


def test_a_refused_operation_is_named_and_what_depends_on_it_is_skipped(odd):
    srv, target = odd
    srv.checkout_status = 404
    problems = probe(connect(target, None, timeout=2), {"checkout", "find_order"})
    assert len(problems) == 1 and problems[0].startswith("checkout answered 404")
    srv.create_order_status = 404  # nothing to add to, read or check out: one problem, not four
    problems = probe(connect(target, None, timeout=2), {"checkout", "find_order"})
    assert len(problems) == 1 and problems[0].startswith("create_order answered 404")


def test_check_answer():
    assert check_answer("find_order", {"paid": True, "items": [["1", 1]], "user_id": "u", "total_cost": 1}) is None
    assert check_answer("find_item", {"stock": 1}) == \
        'find_item: the answer {"stock":1} has no price; it must carry stock, price.'


def test_operations_needed_by_mix_and_kind():
    assert operations_needed() == {"find_item", "find_user", "find_order"}
    assert "remove_item" in operations_needed(["seed000"])
    assert "remove_item" not in operations_needed(["hot"])
    assert {"batch_init_stock", "checkout"} <= operations_needed(consistency=True, populate="batch")


@pytest.mark.slow
def test_the_reference_shop_keeps_the_contract(tmp_path):
    with RefShop(tmp_path / "shop") as shop:
        driver = connect(shop.target, None, timeout=5)
        assert probe(driver, operations_needed(["seed000", "order", "monitor", "probes"])) == []
