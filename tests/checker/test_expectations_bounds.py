"""expectations.py at its edges (the mutation run's survivors): how many calls are evidence, which
statuses mean "no answer", what counts as known and as succeeded, the statuses a reason lists.
The sentences' advice is doctor's to word (issue 25.1) and is asserted in tests/resources."""

from __future__ import annotations

from shopbench.checker.expectations import MIN_CALLS, expectations_section


def op(f="pay", kind="fail", status=404, expect="ok", scenario=None, process="l-u1"):
    return {"f": f, "type": kind, "status": status, "expect": expect, "scenario": scenario, "process": process}


def never(ops, **kw):
    return expectations_section(ops, **kw)["expectations"]["never_succeeded"]


def test_exactly_min_calls_failures_are_evidence_one_fewer_is_not():
    assert never([op()] * MIN_CALLS) == {"pay": {"calls": MIN_CALLS, "statuses": {"404": MIN_CALLS}}}
    assert never([op()] * (MIN_CALLS - 1)) == {}
    assert never([op()] * 3, min_calls=3) and not never([op()] * 3, min_calls=4)


def test_500_and_above_is_no_answer_but_499_is_a_refusal():
    unexpected = dict(expect=None, scenario="consistency")  # refusals may be right: only no answer is evidence
    assert never([op(status=500, **unexpected)] * 5) and never([op(status=None, **unexpected)] * 5)
    assert never([op(status=501, **unexpected)] * 5) and never([op(status=405, **unexpected)] * 5)
    assert not never([op(status=499, **unexpected)] * 5) and not never([op(status=400, **unexpected)] * 5)


def test_an_explicit_expectation_makes_any_refusal_evidence_and_only_ok_expectations_count():
    assert never([op(status=400)] * 5)  # expect "ok": a refusal on every call is evidence
    assert not never([op(status=400, expect="fail")] * 5)  # the workload wanted it refused
    assert not never([op(status=400, expect=None, scenario="race:hot")] * 5)  # either answer is right
    # One call with expect "ok" among refusals without one makes the refusals evidence.
    mixed = [op(status=400, expect=None)] * 4 + [op(status=400)]
    assert never(mixed) == {"pay": {"calls": 5, "statuses": {"400": 5}}}


def test_skipped_processes_are_left_out_but_later_calls_still_count():
    ops = [op(process="settle")] + [op()] * 5
    assert never(ops)["pay"]["calls"] == 5
    assert not never([op()] * 5, skip_processes=["l-u1"])


def test_one_success_clears_an_operation_however_many_failed():
    assert not never([op()] * 10 + [op(kind="ok", status=200)])
    assert never([op()] * 10 + [op("find", kind="ok", status=200)])["pay"]["calls"] == 10


def test_a_reason_lists_up_to_four_statuses_and_names_no_answer():
    ops = ([op(status=None)] * 5 + [op(status=502)] * 4 + [op(status=503)] * 3 + [op(status=504)] * 2
           + [op(status=500)])
    section = expectations_section(ops)["expectations"]
    [reason] = section["unknown_reasons"]
    assert reason.startswith("pay failed on all 15 calls (no answer ×5, 502 ×4, 503 ×3, 504 ×2): ")
    assert "500 ×1" not in reason
    [single] = expectations_section([op(status=None)] * 5)["expectations"]["unknown_reasons"]
    assert single.startswith("pay got no answer to all 5 calls: the workload expects it to succeed, so its results "
                             "cannot be judged; check that the service behind it is up and reachable")
    [refused] = expectations_section([op(status=400)] * 5)["expectations"]["unknown_reasons"]
    assert refused.startswith("pay answered 400 to all 5 calls: the workload expects it to succeed, so your shop may "
                              "answer POST /payment/pay/{user_id}/{amount} differently from docs/shop-api.md; run "
                              "stress with --without pay")


def test_expected_failures_and_races_are_skipped_even_when_the_route_is_missing():
    assert not never([op(status=404, expect="fail")] * 5)
    assert not never([op(status=404, expect=None, scenario="race:hot-item")] * 5)
    assert never([op(status=404, expect=None, scenario="hot-item")] * 5)
