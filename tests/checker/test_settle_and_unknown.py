"""Settling that fits real shops, and UNKNOWN (exit 4) when the final state cannot be read, end to
end: a consistency run against a tiny third-party shop and against the reference shop."""

from __future__ import annotations

import json
from contextlib import contextmanager

import pytest
from tinyshop import TinyShop

from shopbench.checker.ledger import check
from shopbench.checker.verdict import assemble
from shopbench.cli.app import main
from shopbench.errors import EXIT_UNKNOWN
from shopbench.runner.consistency import run_consistency
from shopbench.shop import RefShop
from shopbench.state import SETTLE_PER_INDETERMINATE, Touched, settle_and_read
from shopbench.target import Target
from shopbench.workload.consistency import ConsistencyConfig

pytestmark = pytest.mark.slow


def small(settle_timeout: float = 5.0) -> ConsistencyConfig:
    return ConsistencyConfig(items=3, stock=2, users=12, credit=1, orders=12, concurrency=12, seed=3,
                             settle_timeout=settle_timeout, timeout=5.0)


def target_of(url: str) -> Target:
    return Target(order_url=url, payment_url=url, stock_url=url)


def test_a_third_party_shop_gets_no_internal_request_and_settles_quietly(tmp_path):
    with TinyShop() as shop:
        result = run_consistency(small(), target=target_of(shop.url), out=str(tmp_path / "run"))
    assert result.exit_code == 0, result.verdict.get("unknown_reasons") or result.verdict["anomalies"]
    assert not [p for p in shop.paths if p.startswith("/internal")]
    settle = result.verdict["settle"]
    assert settle["stopped"] == "quiet" and settle["reference_shop"] is False and settle["reads"] >= 3
    assert settle["seconds"] >= 0.5  # a quiet period, not two back-to-back reads
    state = json.loads((tmp_path / "run" / "state.json").read_text())
    assert state["settle"] == settle


def test_a_shop_whose_stock_lands_late_is_waited_for_not_read_mid_change():
    # Two back-to-back equal reads right after the load would both see the stock before the late
    # subtraction (stock 5, a correct shop's ledger would then call it INVALID).
    with TinyShop() as shop:
        shop.stock_lag = 0.3
        shop.items["0"], shop.users["0"] = [5, 1], 5
        shop.orders["o"] = {"user_id": "0", "lines": {"0": 2}, "paid": False}
        assert shop.handle("POST", ["orders", "checkout", "o"])[0] == 200
        touched = Touched(items={"0"}, users={"0"}, orders={"o"})
        state = settle_and_read(target_of(shop.url), touched, settle_timeout=2)
    assert state["items"]["0"]["stock"] == 3 and state["users"]["0"]["credit"] == 3
    assert state["settle"]["stopped"] == "quiet" and state["settle"]["reads"] >= 4


def test_the_deadline_grows_with_indeterminate_operations_and_says_why_it_stopped():
    with TinyShop() as shop:
        shop.items["0"] = [5, 1]

        def churn():  # a shop that never stops changing
            import time
            while not stop:
                with shop.lock:
                    shop.items["0"][0] += 1
                time.sleep(0.05)

        import threading

        stop = False
        t = threading.Thread(target=churn, daemon=True)
        t.start()
        try:
            touched = Touched(items={"0"}, indeterminate=10)
            state = settle_and_read(target_of(shop.url), touched, settle_timeout=0.2)
        finally:
            stop = True
            t.join()
    settle = state["settle"]
    assert settle["stopped"] == "deadline" and not state["settled"]
    assert settle["deadline_s"] == 0.2 + 10 * SETTLE_PER_INDETERMINATE
    assert settle["seconds"] >= settle["deadline_s"]
    verdict = assemble(check([], state), state)
    assert verdict["result"] == "unknown" and verdict["settle"] == settle
    assert any(r.startswith("the shop did not settle after") and "10 indeterminate operations" in r
               for r in verdict["unknown_reasons"])


def test_finds_answering_500_make_the_run_unknown_with_exit_4_and_check_agrees(tmp_path, capsys):
    with TinyShop() as shop:
        @contextmanager
        def during_burst(monitor):
            yield
            shop.fail_finds = True  # the load went through; the final state cannot be read

        result = run_consistency(small(settle_timeout=0.5), target=target_of(shop.url), out=str(tmp_path / "run"),
                                 during_burst=during_burst)
    v = result.verdict
    assert result.exit_code == EXIT_UNKNOWN and v["result"] == "unknown" and v["valid"] is False
    assert any("could not be read back" in r and "HTTP 500" in r for r in v["unknown_reasons"]), v["unknown_reasons"]
    assert v["anomaly_count"] == 0
    capsys.readouterr()
    assert main(["check", str(tmp_path / "run")]) == EXIT_UNKNOWN
    assert "UNKNOWN" in capsys.readouterr().out


def test_reference_shop_with_stock_stopped_after_the_load_is_unknown(tmp_path):
    with RefShop(tmp_path / "shop") as shop:
        @contextmanager
        def during_burst(monitor):
            yield
            shop.supervisor.stop("stock")

        result = run_consistency(small(settle_timeout=0.5), target=shop.target, out=str(tmp_path / "run"),
                                 during_burst=during_burst)
    v = result.verdict
    assert result.exit_code == EXIT_UNKNOWN, (v["result"], v["anomalies"])
    [reason] = [r for r in v["unknown_reasons"] if "could not be read back" in r]
    assert reason.startswith("3 items touched by the load")
    assert v["settle"]["reference_shop"] is True
