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
            self._answer(200, {"user_id": self.server.user_id})
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
    srv.credit, srv.checkout_status, srv.create_order_status, srv.user_id = 10, 200, 200, 9
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


def test_an_unclear_final_read_makes_the_run_unknown_with_the_sentence_never_a_traceback(odd):
    """Past the door (a shop that changes its answers mid-run): the entity is unreadable, its reason
    the sentence, and the ledger says UNKNOWN with it."""
    from shopbench import check_ledger, result_of
    from shopbench.state import Touched, settle_and_read

    srv, target = odd
    srv.credit = 2.5
    ops = [{"id": 0, "process": "l-u0", "f": "add_funds", "args": {"user_id": "9", "amount": 3}, "type": "ok",
            "expect": "ok", "status": 200, "value": None, "error": None}]
    state = settle_and_read(target, Touched(users={"9"}), settle_timeout=0)
    assert state["unreadable"]["users"]["9"].startswith(
        "find_user (GET /payment/find_user/9) answered 200, but credit is 2.5; it must be a whole number")
    ledger = check_ledger(ops, state)
    assert any("credit is 2.5" in reason for reason in ledger["unknown_reasons"])
    from shopbench.checker.verdict import assemble

    assert result_of(assemble(ledger, state)) == "unknown"


def _urls(tmp_path, target):
    import json as _json

    path = tmp_path / "urls.json"
    path.write_text(_json.dumps(target.to_urls_json()))
    return path


def test_a_consistency_run_stops_at_the_door_before_any_load(odd, tmp_path, capsys):
    from shopbench.cli.app import main

    srv, target = odd
    srv.user_id = 2.5  # only the door's create_user sees it (populate uses batch_init, reads see no new user)
    code = main(["consistency", "--urls", str(_urls(tmp_path, target)), "--items", "2", "--users", "2", "--orders",
                 "2", "--out", str(tmp_path / "run")])
    err = capsys.readouterr().err
    assert code == 3 and "create_user (POST /payment/create_user) answered 200, but user_id is 2.5" in err
    assert "Traceback" not in err
    ops = (tmp_path / "run" / "ops.jsonl").read_text()
    assert '"checkout"' not in ops and '"create_order"' not in ops  # nothing of the load was sent


def test_a_stress_run_stops_at_the_door_before_locust_starts(odd, tmp_path):
    import subprocess
    import sys
    from pathlib import Path

    srv, target = odd
    srv.credit = 1.5
    exe = str(Path(sys.executable).parent / "shopbench")
    done = subprocess.run([exe, "stress", "--urls", str(_urls(tmp_path, target)), "--headless", "-u", "1", "-t", "2s",
                           "--out", str(tmp_path / "run")], capture_output=True, text=True, timeout=120)
    assert done.returncode == 3 and "credit is 1.5" in done.stderr, done.stderr[-2000:]
    assert not (tmp_path / "run" / "locust_stats.csv").exists()
