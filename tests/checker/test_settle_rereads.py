"""Settling in one read (settle.py): a small sample read until quiet, everything read once, and only
what the check blames re-read until stable before an anomaly stands. The shops are TinyShop (a real
HTTP server) with one behaviour changed each, switched at a known point of the run (the verify
phase's start, which comes after the first read and before the first check): no timing races."""

from __future__ import annotations

import threading
from collections import Counter

import pytest
from tinyshop import TinyShop

from shopbench import settle
from shopbench.checker.ledger import check
from shopbench.checker.unsettled import Links, withhold_unsettled
from shopbench.checker.verdict import assemble
from shopbench.cli.app import main
from shopbench.driver import connect
from shopbench.errors import EXIT_UNKNOWN
from shopbench.history import HistoryWriter
from shopbench.rundir import OPS, RunDir
from shopbench.runner.finish import finish_run
from shopbench.settle import (
    QUIET_READS,
    SAMPLE_SIZE,
    blamed,
    confirm,
    keys_of,
    sample,
)
from shopbench.shop import RefShop
from shopbench.state import Touched, touched_entities
from shopbench.target import Target


def op(f: str, args: dict, kind: str = "ok", value=None) -> dict:
    return {"id": 0, "process": "t", "f": f, "args": args, "type": kind, "value": value}


# -- the sample, the blame, the withholding: pure functions ---------------------------------------
def test_touched_remembers_the_last_operations_and_every_indeterminate_one():
    ops = [op("add_stock", {"item_id": "a", "amount": 1}, "info"),
           *[op("checkout", {"order_id": f"o{i}"}) for i in range(100)],
           op("add_funds", {"user_id": "u", "amount": 1}, "info"),
           op("add_stock", {"item_id": "a", "amount": 1}, "info"),  # in doubt again: the most recent
           op("find_item", {"item_id": "z"}, "info")]  # a read is in doubt about nothing
    t = touched_entities(ops)
    assert list(t.in_doubt) == [("users", "u"), ("items", "a")]
    assert len(t.recent) == 50 and t.recent[-1] == ("items", "a") and ("orders", "o99") in t.recent
    assert ("orders", "o0") not in t.recent


def test_the_sample_is_small_and_starts_with_what_is_in_doubt():
    t = touched_entities([*[op("add_funds", {"user_id": str(i), "amount": 1}) for i in range(500)],
                          *[op("checkout", {"order_id": f"o{i}"}) for i in range(500)],
                          op("add_stock", {"item_id": "late", "amount": 1}, "info")])
    part = sample(t)
    assert "late" in part.items  # indeterminate first, however old
    assert len(part.items) + len(part.users) + 3 * len(part.orders) <= SAMPLE_SIZE
    assert part.orders and part.orders <= {f"o{i}" for i in range(480, 500)}  # the last operations
    assert keys_of(part) <= keys_of(t)


def state_of(**kinds) -> dict:
    return {"items": kinds.get("items", {}), "users": kinds.get("users", {}), "orders": kinds.get("orders", {}),
            "unreadable": {"items": {}, "users": {}, "orders": kinds.get("unreadable_orders", {})},
            "not_found": {"items": [], "users": [], "orders": []}, "settled": True, "settle": {}}


def test_an_anomaly_rests_on_what_it_names_and_on_what_an_order_links_to_it():
    state = state_of(users={"u": {"credit": 0}, "v": {"credit": 0}},
                     items={"i": {"stock": 1, "price": 1}, "j": {"stock": 1, "price": 1}},
                     orders={"o": {"paid": False, "items": [["i", 1]], "user_id": "u", "total_cost": 1},
                             "p": {"paid": True, "items": [["j", 1]], "user_id": "v", "total_cost": 1}})
    links = Links(state)
    # a charge whose order is not marked paid yet: the order explains it
    assert links.of({"type": "user_credit_drift", "user_id": "u"}) == {("users", "u"), ("orders", "o")}
    assert links.of({"type": "stock_drift", "item_id": "j"}) == {("items", "j"), ("orders", "p")}
    assert links.of({"type": "acknowledged_lost", "order_id": "o", "user_id": "u"}) >= {
        ("orders", "o"), ("users", "u"), ("items", "i")}
    assert links.of({"type": "expected_fail_but_ok", "order_id": "o"}) == set()  # the history alone says so
    state["unreadable"]["orders"]["q"] = "HTTP 503"
    t = Touched(in_doubt={("items", "i"): None, ("items", "j"): None})
    keys = blamed({"anomalies": [{"type": "user_credit_drift", "user_id": "v"}], "anomaly_count": 1}, state, t,
                  covered={("items", "i")})
    assert keys == {("users", "v"), ("orders", "p"), ("orders", "q"), ("items", "j")}


def test_an_anomaly_on_an_entity_still_changing_is_withheld_as_unknown():
    ops = [op("batch_init_stock", {"n": 2, "starting_stock": 5, "item_price": 1}),
           op("add_stock", {"item_id": "0", "amount": 1}), op("add_stock", {"item_id": "1", "amount": 1})]
    state = state_of(items={"0": {"stock": 9, "price": 1}, "1": {"stock": 9, "price": 1}})
    assert check(ops, state)["anomaly_count"] == 2
    state["settle"]["unstable"] = {"items": ["0"], "users": [], "orders": []}
    ledger = withhold_unsettled(check(ops, state), state)
    assert [a["item_id"] for a in ledger["anomalies"]] == ["1"]  # on a stable entity: it stands
    assert [a["item_id"] for a in ledger["unsettled_anomalies"]] == ["0"]
    assert ledger["anomaly_count"] == 1 and ledger["anomaly_types"] == {"stock_drift": 1}
    assert assemble(ledger, state)["result"] == "invalid"
    state["items"]["1"]["stock"] = 6  # now only the changing one is wrong
    verdict = assemble(withhold_unsettled(check(ops, state), state), state)
    assert verdict["result"] == "unknown" and verdict["anomaly_count"] == 0
    assert any("still changing" in r and "item 0" in r and "--settle-timeout" in r for r in verdict["unknown_reasons"])


def test_an_oversell_on_a_stock_still_changing_is_not_counted_either():
    ops = [op("batch_init_stock", {"n": 1, "starting_stock": 1, "item_price": 1}),
           op("batch_init_users", {"n": 1, "starting_money": 5}), op("checkout", {"order_id": "o"})]
    state = state_of(items={"0": {"stock": -1, "price": 1}}, users={"0": {"credit": 3}},
                     orders={"o": {"paid": True, "items": [["0", 2]], "user_id": "0", "total_cost": 2}})
    assert check(ops, state)["oversold_items"] == ["0"]
    state["settle"]["unstable"] = {"items": ["0"]}
    ledger = withhold_unsettled(check(ops, state), state)
    assert ledger["oversold_items"] == [] and ledger["anomaly_count"] == 0 and ledger["unsettled_anomalies"]


# -- end to end on a real HTTP shop ---------------------------------------------------------------
class HeldShop(TinyShop):
    """A checkout answers 2xx with the user charged and the order paid; its stock subtraction is a
    background step held until `release()` (a saga finishing late). `lose_stock`: it never lands
    (the shop lost it). `flap`: once released, item 0's stock changes at every read."""

    def __init__(self, lose_stock: bool = False, flap: bool = False):
        super().__init__()
        self.released = threading.Event()
        self.lose_stock, self.flap = lose_stock, flap
        self.held: list[dict[str, int]] = []

    def _checkout(self, oid: str):
        o = self.orders[oid]
        if o["paid"]:
            return 400, {"error": "already paid"}
        cost = self._cost(o)
        self.users[o["user_id"]] -= cost
        o["paid"] = True
        if self.lose_stock:
            pass
        elif self.released.is_set():
            for i, q in o["lines"].items():
                self.items[i][0] -= q
        else:
            self.held.append(dict(o["lines"]))
        return 200, {"order_id": oid, "paid": True}

    def release(self) -> None:
        with self.lock:
            for lines in self.held:
                for i, q in lines.items():
                    self.items[i][0] -= q
            self.held.clear()
            self.released.set()

    def _route(self, method, p):
        if self.flap and self.released.is_set() and p[:3] == ["stock", "find", "0"]:
            self.items["0"][0] += 1
        return super()._route(method, p)


class ReleaseAtVerify:
    """A progress display that releases the shop's held step when the verify phase starts: after
    the first read of everything, before the first check."""

    def __init__(self, shop: HeldShop):
        self.shop = shop

    def start(self, name: str, total):
        if name == "verify":
            self.shop.release()
        return None


def run_on(shop: HeldShop, tmp_path, settle_timeout: float = 2.0, users: int = 1) -> tuple[RunDir, dict]:
    target = Target(order_url=shop.url, payment_url=shop.url, stock_url=shop.url)
    run = RunDir.create("test", tmp_path / "run")
    with HistoryWriter(run.file(OPS)) as writer:
        d = connect(target, writer, process="client")
        assert d.batch_init_stock(1, 5, 1).ok and d.batch_init_users(users, 5).ok
        oid = d.create_order("0").data["order_id"]
        assert d.add_item(oid, "0", 2).ok and d.checkout(oid).ok
    verdict = finish_run(run, target, settle_timeout=settle_timeout, progress=ReleaseAtVerify(shop))
    return run, verdict


def finds(shop: TinyShop, path: str) -> int:
    return Counter(shop.paths)[path]


@pytest.mark.slow
def test_a_saga_finishing_after_the_first_read_is_re_read_and_the_run_is_valid(tmp_path):
    with HeldShop() as shop:
        run, verdict = run_on(shop, tmp_path)
    assert verdict["result"] == "valid", verdict["anomalies"]
    reread = verdict["settle"]["reread"]
    assert reread["anomalies_first_read"] == 1  # the first read showed the stock not yet taken
    assert run.read_json("state.json")["items"]["0"]["stock"] == 3
    # the quiet sample's reads, the read of everything, then re-reads until stable
    assert finds(shop, "/stock/find/0") >= QUIET_READS + 1 + 2


@pytest.mark.slow
def test_a_shop_that_really_lost_stock_is_invalid_after_its_entities_were_re_read(tmp_path):
    with HeldShop(lose_stock=True) as shop:
        run, verdict = run_on(shop, tmp_path)
    assert verdict["result"] == "invalid"
    assert [(a["type"], a["item_id"]) for a in verdict["anomalies"]] == [("stock_drift", "0")]
    assert verdict["settle"]["reread"]["rounds"] >= 1 and "unstable" not in verdict["settle"]
    assert finds(shop, "/stock/find/0") >= QUIET_READS + 1 + 2


@pytest.mark.slow
def test_an_anomaly_whose_entities_never_stabilise_is_unknown_not_invalid(tmp_path, capsys):
    with HeldShop(lose_stock=True, flap=True) as shop:
        run, verdict = run_on(shop, tmp_path, settle_timeout=0.3)
    assert verdict["result"] == "unknown", verdict["anomalies"]
    assert [(a["type"], a["item_id"]) for a in verdict["unsettled_anomalies"]] == [("stock_drift", "0")]
    assert verdict["settle"]["unstable"]["items"] == ["0"] and verdict["settled"] is False
    assert any("still changing" in r for r in verdict["unknown_reasons"])
    capsys.readouterr()
    assert main(["check", str(run.path)]) == EXIT_UNKNOWN  # state.json carries what was unstable


@pytest.mark.slow
def test_a_correct_shop_is_read_once_beyond_its_small_sample(tmp_path):
    with HeldShop() as shop:
        shop.release()  # nothing held back: a correct shop that is quiet at once
        # 30 s: reading 300 users must not run out of time on a loaded machine
        run, verdict = run_on(shop, tmp_path, users=300, settle_timeout=30)
    assert verdict["result"] == "valid", verdict["unknown_reasons"]
    settle = verdict["settle"]
    assert settle["stopped"] == "quiet" and "reread" not in settle, settle
    once = [u for u in range(1, 300) if finds(shop, f"/payment/find_user/{u}") == 1]
    assert len(once) == 299  # every user the load did not name: read exactly once
    assert settle["entities"] == 302 and settle["entity_reads"] == 302 + (QUIET_READS * settle["sample"])


@pytest.mark.slow
def test_the_reference_shop_with_nothing_in_flight_is_read_once(tmp_path):
    run = RunDir.create("test", tmp_path / "run")
    with RefShop(tmp_path / "shop") as shop:
        with HistoryWriter(run.file(OPS)) as writer:
            d = connect(shop.target, writer, process="client")
            assert d.batch_init_stock(3, 5, 1).ok and d.batch_init_users(3, 5).ok
            oid = d.create_order("0").data["order_id"]
            assert d.add_item(oid, "1", 2).ok and d.checkout(oid).ok
        verdict = finish_run(run, shop.target, settle_timeout=5)
    settle = verdict["settle"]
    assert verdict["result"] == "valid" and settle["stopped"] == "idle" and settle["reads"] == 1
    assert settle["entity_reads"] == settle["entities"] == 7 and settle["sample"] == 0


@pytest.mark.slow
def test_re_reads_that_keep_revealing_more_to_blame_stop_after_max_rounds_unconfirmed(monkeypatch):
    # Each re-read changes what it re-read (the first read was stale), and each check then blames
    # one more user: after MAX_ROUNDS rounds the last one blamed is not confirmed, not judged on.
    monkeypatch.setattr(settle, "MAX_ROUNDS", 2)  # the rule, in fewer quiet periods
    with TinyShop() as shop:
        shop.users.update({f"r{i}": 5 for i in range(10)})
        state = state_of(users={f"r{i}": {"credit": 4} for i in range(10)})
        state["settle"] = {"deadline_s": 30.0, "seconds": 0.0, "stopped": "quiet"}
        checks: list[int] = []

        def judge(s: dict) -> dict:
            checks.append(len(checks))
            k = len(checks) - 1
            anomalies = [{"type": "user_credit_drift", "user_id": f"r{k}"}] if k < 10 else []
            return {"anomalies": anomalies, "anomaly_count": len(anomalies)}

        target = Target(order_url=shop.url, payment_url=shop.url, stock_url=shop.url)
        confirm(target, state, Touched(users={f"r{i}" for i in range(10)}), judge)
    assert state["settle"]["reread"]["rounds"] == 2
    assert state["settle"]["unstable"] == {"orders": [], "items": [], "users": ["r2"]}
    assert state["settled"] is False and state["users"]["r0"] == {"credit": 5}
