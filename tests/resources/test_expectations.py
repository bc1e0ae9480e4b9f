"""The expectations checker: an operation the workload expects to succeed that never once did makes the
run UNKNOWN with a sentence to act on; one that sometimes succeeds, or is expected to fail, does not."""

from __future__ import annotations

from shopbench.checker.expectations import expectations_section
from shopbench.checker.verdict import UNKNOWN, VALID, add_sections, exit_code, result_of
from shopbench.latency import nearest_rank


def op(f="remove_item", kind="fail", status=404, expect="ok", scenario="add-remove-add-checkout", process="l-u1",
       error="Not Found"):
    return {"f": f, "type": kind, "status": status, "expect": expect, "scenario": scenario, "process": process,
            "error": error if kind != "ok" else None}


def verdict_with(ops):
    verdict = {"valid": True, "warnings": []}
    return add_sections(verdict, expectations_section(ops))


def test_an_endpoint_the_shop_lacks_makes_the_run_unknown_with_the_reason():
    ops = [op() for _ in range(2732)] + [op("add_item", "ok", 200) for _ in range(3000)]
    verdict = verdict_with(ops)
    assert result_of(verdict) == UNKNOWN and exit_code(verdict) == 4 and verdict["valid"] is False
    assert verdict["unknown_reasons"] == [
        "remove_item answered 404 to all 2,732 calls: your shop has no DELETE /orders/removeItem/{order_id}/{item_id}; "
        "run stress with --without remove_item (leaves out seed000's add-remove-add-checkout scenario), or plug in a "
        "--driver that maps remove_item to your route"]
    assert verdict["expectations"]["never_succeeded"] == {"remove_item": {"calls": 2732, "statuses": {"404": 2732}}}


def test_an_operation_that_succeeds_sometimes_is_no_warning():
    ops = [op() for _ in range(500)] + [op(kind="ok", status=200)]
    verdict = verdict_with(ops)
    assert result_of(verdict) == VALID and verdict["unknown_reasons"] == []
    assert verdict["expectations"]["never_succeeded"] == {}


def test_expected_failures_races_setup_clients_and_a_few_calls_are_no_warning():
    ops = ([op("checkout", status=400, expect="fail", scenario="checkout-no-credit") for _ in range(50)]
           + [op("checkout", status=400, expect=None, scenario="race:hot-item") for _ in range(50)]
           + [op("find_order", status=404, process="settle") for _ in range(50)]
           + [op("pay", status=404) for _ in range(4)])  # fewer than 5 calls is not evidence
    assert result_of(verdict_with(ops)) == VALID


def test_no_expectation_outside_a_race_means_expected_to_succeed():
    ops = [op("create_user", status=405, expect=None, scenario="monitor") for _ in range(10)]
    (reason,) = verdict_with(ops)["unknown_reasons"]
    assert reason.startswith("create_user answered 405 to all 10 calls: your shop has no POST /payment/create_user; "
                             "plug in a --driver that maps create_user to your route")


def test_refusals_without_an_explicit_expectation_may_be_right():
    # The consistency burst: one unit of credit per user, two items an order: every checkout must be
    # refused, and is. That is the shop being right, not a missing endpoint.
    burst = [op("checkout", status=400, expect=None, scenario="consistency", process=f"burst-{i}",
                error="not enough stock") for i in range(40)]
    assert result_of(verdict_with(burst)) == VALID
    # The same burst against a shop without the route is no test at all.
    missing = [{**o, "status": 404} for o in burst]
    (reason,) = verdict_with(missing)["unknown_reasons"]
    assert reason.startswith("checkout answered 404 to all 40 calls: your shop has no POST /orders/checkout/{order_id}")
    # And with an explicit expectation, refusals on every call are evidence.
    known = [op("checkout", status=400, expect="ok", scenario="checkout-one-item") for _ in range(40)]
    assert verdict_with(burst + known)["expectations"]["never_succeeded"]["checkout"]["calls"] == 80


def test_mixed_statuses_and_unanswered_calls_are_named():
    mixed = [op("pay", status=400) for _ in range(7)] + [op("pay", status=422) for _ in range(3)]
    (reason,) = verdict_with(mixed)["unknown_reasons"]
    assert reason.startswith("pay failed on all 10 calls (400 ×7, 422 ×3): the workload expects it to succeed, so "
                             "your shop may answer POST /payment/pay/{user_id}/{amount} differently from SHOP-API.md; "
                             "run stress with --without pay")
    down = [op("checkout", kind="info", status=None, error="connection refused") for _ in range(6)]
    (reason,) = verdict_with(down)["unknown_reasons"]
    assert reason.startswith("checkout got no answer to all 6 calls: the workload expects it to succeed, so its "
                             "results cannot be judged; check that the service behind it is up and reachable "
                             "(`shopbench doctor --urls urls.json` tries every endpoint)")


def test_percentiles_are_percent_and_nearest_rank_without_float_slips():
    values = list(range(1, 101))
    assert [nearest_rank(values, q) for q in (7, 50, 95, 99, 100)] == [7, 50, 95, 99, 100]
    assert nearest_rank(list(range(1, 1001)), 99.9) == 999
    assert nearest_rank([3.0], 50) == 3.0
    import math

    import pytest
    assert math.isnan(nearest_rank([], 50))
    with pytest.raises(ValueError, match="percent"):
        nearest_rank(values, 1.5e3)
