"""The flaw catalogue, judged by shopbench's own checker: each flaw is caught in every run of a
consistency test built to expose it (with the fault it needs), and the correct shop shows zero
anomalies in the same run. Plus the two reference-shop bugs of issue 9, each with its test."""

from __future__ import annotations

import asyncio
import sqlite3
from argparse import Namespace
from contextlib import contextmanager

import pytest

from refshop.common import ApiError, open_db, tx
from shopbench.runner.consistency import run_consistency
from shopbench.shop import RefShop
from shopbench.workload.consistency import ConsistencyConfig

slow = pytest.mark.slow


def run(tmp_path, flaw, cfg, extra_args=None, during_burst=None):
    with RefShop(tmp_path / f"shop-{flaw}", flaw=flaw, extra_args=extra_args) as shop:
        hook = during_burst(shop) if during_burst else None
        return run_consistency(cfg, target=shop.target, out=str(tmp_path / f"run-{flaw}"), during_burst=hook)


def types(result) -> set[str]:
    return set(result.verdict["anomaly_types"])


@slow
@pytest.mark.parametrize("flaw", [None, "double-charge"])
def test_double_charge_when_the_payment_answer_is_lost(tmp_path, flaw):
    # Every charge's first answer leaves 2 s late; the order service gives up on it after 1 s and
    # retries under the same txid. The correct payment service answers the retry from its record.
    # (1 s for the retry's answer: with 0.4 s a loaded machine could time a retry out too.)
    extra = {"order": ["--attempt-timeout", "1.0"], "payment": ["--reply-delay", "2.0"]}
    cfg = ConsistencyConfig(items=4, stock=10, price=2, users=8, credit=10, orders=8, concurrency=8, seed=1,
                            settle_timeout=10)
    result = run(tmp_path, flaw, cfg, extra)
    if flaw is None:
        assert result.exit_code == 0 and result.verdict["checkouts"]["ok"] == 8, result.verdict["anomalies"]
    else:
        assert result.exit_code == 1 and types(result) == {"user_credit_drift"}, result.verdict["anomaly_types"]
        drifts = result.verdict["anomalies"]
        assert all(a["direction"] == "unbacked_charge" for a in drifts)
        assert sum(a["diff"] for a in drifts) == -2 * 8  # every one of the 8 orders charged a second time
        assert all(a["culprit_orders"] for a in drifts)  # the user's paid order is named


def kill_order_after_acks(shop):
    @contextmanager
    def hook(monitor):
        yield  # every checkout has been answered
        shop.kill("order")
        shop.restart("order")
    return hook


@slow
@pytest.mark.parametrize("flaw", [None, "early-ack"])
def test_early_ack_loses_acknowledged_sales_when_the_order_service_is_killed(tmp_path, flaw):
    # --step-delay holds each saga 3 s between its stock and payment steps; the order service is
    # SIGKILLed right after the last answer (3 s of margin for a loaded machine's kill). A correct
    # shop only answered what it had committed.
    cfg = ConsistencyConfig(items=2, stock=10, price=1, users=10, credit=5, orders=10, concurrency=10, seed=2,
                            settle_timeout=10)
    result = run(tmp_path, flaw, cfg, {"order": ["--step-delay", "3.0"]}, kill_order_after_acks)
    if flaw is None:
        assert result.exit_code == 0 and result.verdict["checkouts"]["ok"] == 10, result.verdict["anomalies"]
    else:
        assert result.exit_code == 1
        assert result.verdict["anomaly_types"].get("acknowledged_lost") == 10, result.verdict["anomaly_types"]


@slow
def test_early_ack_without_a_fault_is_settled_before_it_is_read(tmp_path):
    # Its sagas live in memory, 1 s each after their answer: settling waits for them (the pending
    # count includes them), so a run with no fault finds every acknowledged order paid.
    cfg = ConsistencyConfig(items=2, stock=10, price=1, users=10, credit=5, orders=10, concurrency=10, seed=2,
                            settle_timeout=10)
    result = run(tmp_path, "early-ack", cfg, {"order": ["--step-delay", "1.0"]})
    assert result.exit_code == 0 and result.verdict["checkouts"]["ok"] == 10, result.verdict["anomalies"]


@slow
@pytest.mark.parametrize("flaw", [None, "oversell"])
def test_oversell_sells_more_than_the_stock(tmp_path, flaw):
    # 2 s between each checkout's stock check and its subtraction: all 20 checks land before the first
    # subtraction even on a loaded machine, so exactly 15 are oversold.
    cfg = ConsistencyConfig(items=1, stock=5, price=1, users=20, credit=5, orders=20, concurrency=20, seed=3,
                            settle_timeout=10)
    result = run(tmp_path, flaw, cfg, {"order": ["--step-delay", "2.0"]})
    v = result.verdict
    if flaw is None:
        assert result.exit_code == 0 and v["checkouts"]["ok"] == 5, v["anomalies"]
    else:
        assert result.exit_code == 1 and v["oversold_items"] == ["0"], v["anomaly_types"]
        [neg] = [a for a in v["anomalies"] if a["type"] == "negative_stock"]
        assert neg["oversold_units"] == 15 and len(neg["oversold_orders"]) == 15
        assert all("checkout" in [s["f"] for s in c["timeline"]] for c in neg["culprits"])


@slow
def test_lost_update_hot_item_names_exactly_as_many_orders_as_units_oversold(tmp_path):
    cfg = ConsistencyConfig(items=1, stock=30, price=1, users=150, credit=1, orders=150, concurrency=150, seed=4,
                            settle_timeout=10)
    result = run(tmp_path, "lost-update", cfg)
    v = result.verdict
    assert result.exit_code == 1 and v["oversold_items"] == ["0"], v["anomaly_types"]
    over = next(a for a in v["anomalies"] if a.get("oversold_units"))
    assert over["oversold_units"] == v["checkouts"]["ok"] - 30 > 0
    assert len(over["oversold_orders"]) == over["oversold_units"]  # one unit per order
    assert [c["order_id"] for c in over["culprits"]] == over["oversold_orders"][:20]


# -- issue 9's two reference-shop bugs ------------------------------------------------------------

def test_a_failed_commit_does_not_leave_the_connection_in_a_transaction(tmp_path):
    conn = open_db(tmp_path / "x.db")
    conn.executescript("""
        PRAGMA foreign_keys = ON;
        CREATE TABLE p (id INTEGER PRIMARY KEY);
        CREATE TABLE c (id INTEGER PRIMARY KEY, p INTEGER REFERENCES p(id) DEFERRABLE INITIALLY DEFERRED);
    """)
    with pytest.raises(sqlite3.IntegrityError):
        with tx(conn) as c:
            c.execute("INSERT INTO c (id, p) VALUES (1, 99)")  # fails only at COMMIT
    assert not conn.in_transaction
    with tx(conn) as c:  # before the fix: "cannot start a transaction within a transaction"
        c.execute("INSERT INTO p (id) VALUES (1)")
    assert conn.execute("SELECT count(*) FROM p").fetchone()[0] == 1
    assert conn.execute("SELECT count(*) FROM c").fetchone()[0] == 0


def test_an_order_cannot_change_under_a_saga_whose_driver_raised(tmp_path):
    from refshop.order import Orders, Saga

    args = Namespace(db=str(tmp_path / "order.db"), stock_url="http://127.0.0.1:9", payment_url="http://127.0.0.1:9",
                     checkout_timeout=5.0, step_delay=0.0, flaws=set())

    async def scenario():
        svc = Orders(args)  # no session: the first saga step raises, as a bug or a failing database would
        with tx(svc.conn) as c:
            c.execute("INSERT INTO orders (id, user_id, paid, items, total_cost) VALUES ('o1', 'u', 0, "
                      "'[[\"i\", 1, 3]]', 3)")
            c.execute("INSERT INTO sagas (txid, order_id, user_id, lines, amount, state, created, updated) "
                      "VALUES ('t1', 'o1', 'u', '[[\"i\", 1]]', 3, 'started', 0, 0)")
        task = svc.spawn(Saga("t1", "o1", "u", [["i", 1]], 3))
        await asyncio.gather(task, return_exceptions=True)
        await asyncio.sleep(0)
        assert "o1" not in svc.active  # dropped from memory, still 'started' in the database
        with pytest.raises(ApiError) as exc:
            svc._modifiable("o1")
        assert exc.value.status == 409
        svc.conn.close()

    asyncio.run(scenario())
