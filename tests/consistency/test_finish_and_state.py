"""The shared tail of a run (settle, read, check) and the burst hook, on a real reference shop."""

from __future__ import annotations

import json
from contextlib import contextmanager

import pytest

from shopbench.driver import connect
from shopbench.history import HistoryWriter, read_history
from shopbench.rundir import OPS, RunDir
from shopbench.runner.consistency import run_consistency
from shopbench.runner.finish import finish_run
from shopbench.shop import RefShop
from shopbench.state import touched_entities
from shopbench.workload.consistency import ConsistencyConfig


def op(f: str, args: dict, kind: str = "ok", value=None, op_id: int = 0) -> dict:
    return {"id": op_id, "process": "t", "f": f, "args": args, "expect": None, "type": kind, "status": None,
            "value": value, "error": None, "wall": 0.0, "t0": 0.0, "t1": 0.0}


def test_touched_entities_leaves_out_probes_and_expands_batches():
    t = touched_entities([
        op("batch_init_stock", {"n": 3, "starting_stock": 1, "item_price": 1}, op_id=4),
        op("batch_init_users", {"n": 2, "starting_money": 1}),
        op("create_order", {"user_id": "u9"}, value={"order_id": "o1"}),
        op("add_item", {"order_id": "o1", "item_id": "x"}),
        op("checkout", {"order_id": "o2"}, "info"),
        op("checkout", {"order_id": "made-up"}, "fail"),
        op("add_funds", {"user_id": "-1", "amount": 5}, "fail"),
        op("find_item", {"item_id": "z"}),
    ])
    assert t.items == {"0", "1", "2", "x"}
    assert t.users == {"0", "1", "u9"}
    assert t.orders == {"o1", "o2"}
    assert t.max_id == 4


@pytest.mark.slow
def test_finish_run_resolves_reads_and_reports_unreadable_without_false_alarm(tmp_path):
    run = RunDir.create("test", tmp_path / "run")
    with RefShop(tmp_path / "shop") as shop:
        with HistoryWriter(run.file(OPS)) as writer:
            d = connect(shop.target, writer, process="client")
            d.batch_init_stock(2, 1, 3)
            d.batch_init_users(2, 5)
            oid = d.create_order("0").data["order_id"]
            d.add_item(oid, "1")
            assert d.checkout(oid).ok
        # An indeterminate checkout of an order the shop never had: unresolved, not an anomaly.
        with open(run.file(OPS), "ab") as f:
            f.write(json.dumps(op("checkout", {"order_id": "ghost"}, "info", op_id=99)).encode() + b"\n")
        verdict = finish_run(run, shop.target, settle_timeout=5, extra={"slo": {"valid": True, "p99": 1}})
    assert verdict["valid"], verdict["anomalies"]
    # The shop's 404 for an order it never created is a definite answer, not a gap: nothing unresolved.
    assert verdict["unresolved"]["orders"] == [] and verdict["result"] == "valid"
    assert verdict["slo"] == {"valid": True, "p99": 1}
    state = json.loads(run.file("state.json").read_text())
    assert state["settled"] and state["orders"][oid]["paid"] and "ghost" in state["unreadable"]["orders"]
    assert state["items"]["1"] == {"stock": 0, "price": 3} and state["users"]["0"] == {"credit": 2}
    ops = read_history(run.file(OPS))
    settle_ids = [o["id"] for o in ops if o["process"] == "settle"]
    assert settle_ids and min(settle_ids) == 100  # reads continue the ids after the last one
    assert [p["name"] for p in run.manifest["phases"]] == ["settle", "verify"]


@pytest.mark.slow
def test_during_burst_hook_wraps_exactly_the_burst(tmp_path):
    seen: list[tuple[str, int]] = []

    @contextmanager
    def during_burst(monitor):
        seen.append(("enter", monitor.checkouts["ok"] + monitor.checkouts["fail"] + monitor.checkouts["info"]))
        yield
        seen.append(("exit", monitor.completed_checkouts + monitor.checkouts["info"]))

    cfg = ConsistencyConfig(items=2, stock=1, users=4, credit=1, orders=6, concurrency=3, seed=1, settle_timeout=5)
    result = run_consistency(cfg, out=str(tmp_path / "run"), during_burst=during_burst)
    assert result.exit_code == 0
    assert seen == [("enter", 0), ("exit", 6)]


def test_huge_batches_are_read_where_the_load_touched_them_only():
    from shopbench.state import FULL_BATCH_READ

    def op(f, args, kind="ok", value=None):
        return {"id": 0, "f": f, "args": args, "type": kind, "value": value}

    big = FULL_BATCH_READ + 1
    t = touched_entities([
        op("batch_init_stock", {"n": big, "starting_stock": 5, "item_price": 1}),
        op("batch_init_users", {"n": 10, "starting_money": 5}),
        op("checkout", {"order_id": "77"}),
        op("add_stock", {"item_id": "12", "amount": 1}),
    ])
    assert t.items == {"12"} and t.partial_batches == {"items": big}
    assert t.users == {str(i) for i in range(10)}  # a small batch is read whole
    assert t.orders == {"77"}


def test_checkout_only_runs_read_back_orders_whose_checkout_answered_4xx():
    # Seed 000's 2024 mode: orders come from batch_init_orders, so only checkouts name them. An
    # order paid despite its 4xx must be read, or failed_but_paid could never fire.
    from shopbench.checker.ledger import check
    from shopbench.state import FULL_BATCH_READ

    big = FULL_BATCH_READ + 5
    ops = [op("batch_init_stock", {"n": 1, "starting_stock": 100, "item_price": 1}),
           op("batch_init_users", {"n": 2, "starting_money": 10}),
           op("batch_init_orders", {"n": big, "n_items": 1, "n_users": 2, "item_price": 1}),
           op("checkout", {"order_id": "7"}, "fail"),
           op("checkout", {"order_id": "8"}, "ok"),
           op("checkout", {"order_id": str(big + 3)}, "fail"),   # beyond the batch: an error probe
           op("checkout", {"order_id": "-1"}, "fail")]
    t = touched_entities(ops)
    assert t.orders == {"7", "8"}
    state = {"items": {"0": {"stock": 96, "price": 1}},
             "users": {"0": {"credit": 8}, "1": {"credit": 8}},
             "orders": {"7": {"paid": True, "items": [["0", 2]], "user_id": "0", "total_cost": 2},
                        "8": {"paid": True, "items": [["0", 2]], "user_id": "1", "total_cost": 2}},
             "settled": True}
    v = check(ops, state)
    assert [a["type"] for a in v["anomalies"]] == ["failed_but_paid"] and v["anomalies"][0]["order_id"] == "7"


def test_settle_counts_indeterminate_operations_that_may_still_be_in_flight():
    t = touched_entities([op("add_stock", {"item_id": "a", "amount": 1}, "info"),
                          op("checkout", {"order_id": "o"}, "info"),
                          op("find_item", {"item_id": "a"}, "info"),  # a read changes nothing
                          op("checkout", {"order_id": "p"}, "ok")])
    assert t.indeterminate == 2
