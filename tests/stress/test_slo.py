"""SLO expressions: parsing (bad ones are a usage error naming the expression) and judging them
against hand-made histories (a violated SLO must fail)."""

import pytest

from shopbench.checker.slo import (
    evaluate,
    failure_message,
    measure,
    parse_slo,
    parse_slos,
    unexpected,
)
from shopbench.checker.verdict import UNKNOWN, add_sections, result_of
from shopbench.cli.app import main
from shopbench.errors import UsageError


def op(f, ms, kind="ok", expect=None, scenario=None, wall=0.0, process="c1", status=None, intended=None):
    status = status or {"ok": 200, "fail": 400, "info": 503}[kind]
    return {"id": 0, "process": process, "f": f, "args": {}, "expect": expect, "type": kind, "status": status,
            "value": None, "error": None, "wall": wall, "t0": 10.0, "t1": 10.0 + ms / 1000.0,
            "intended": intended, "scenario": scenario}


@pytest.mark.parametrize("text, scope, metric, stat, threshold", [
    ("checkout:p95<500ms", "checkout", "latency", "p95", 500.0),
    ("get:avg<200ms", "get", "latency", "avg", 200.0),
    ("post:mean<=0.5s", "post", "latency", "avg", 500.0),
    ("p99.9 < 2s", "all", "latency", "p99.9", 2000.0),
    ("checkout:median<10ms", "checkout", "latency", "p50", 10.0),
    ("error_rate<1%", "all", "error_rate", None, 0.01),
    ("checkout:error_rate<0.005", "checkout", "error_rate", None, 0.005),
    ("rps>=100", "all", "rps", None, 100.0),
    ("overselling==0", "all", "overselling", None, 0.0),
    ("negative_stock==0", "all", "negative_stock", None, 0.0),
    ("iteration:p99<1s", "iteration", "latency", "p99", 1000.0),
])
def test_good_expressions_parse(text, scope, metric, stat, threshold):
    slo = parse_slo(text)
    assert (slo.scope, slo.metric, slo.stat, slo.threshold) == (scope, metric, stat, threshold)


@pytest.mark.parametrize("text, fragment", [
    ("checkout:p95<500", "needs a unit"),
    ("checkout:p95<fast", "is not an SLO"),
    ("latency is low", "is not an SLO"),
    ("error_rate<150%", "cannot exceed 100%"),
    ("error_rate<1ms", "percentage"),
    ("rps>=100ms", "plain number"),
    ("checkout:p0<1ms", "is not an SLO"),
    ("overselling<0.5", "plain integer"),
    ("", "is not an SLO"),
])
def test_bad_expressions_are_usage_errors_naming_them(text, fragment):
    with pytest.raises(UsageError) as err:
        parse_slo(text)
    assert fragment in str(err.value)
    assert repr(text) in str(err.value)


def test_unknown_preset_is_a_usage_error():
    with pytest.raises(UsageError, match="seed999"):
        parse_slos(presets=["seed999"])
    assert [s.text for s in parse_slos(["rps>=1"], ["seed002"])][-1] == "rps>=1"


def test_cli_bad_slo_exits_2_before_starting_anything(tmp_path, capsys):
    code = main(["stress", "--headless", "--slo", "checkout:p95<fast", "--out", str(tmp_path / "run")])
    assert code == 2
    assert "checkout:p95<fast" in capsys.readouterr().err
    assert not (tmp_path / "run").exists()


def test_latency_slo_violated_and_met():
    ops = [op("checkout", ms) for ms in range(1, 101)] + [op("find_item", 5.0)]
    m = measure(ops)
    section = evaluate(parse_slos(["checkout:p95<90ms", "checkout:p95<=95.001ms", "get:avg<10ms"]), m)
    passed = {r["slo"]: (r["passed"], r["measured"]) for r in section["results"]}
    assert passed["checkout:p95<90ms"] == (False, pytest.approx(95.0))
    assert passed["checkout:p95<=95.001ms"] == (True, pytest.approx(95.0))
    assert passed["get:avg<10ms"] == (True, pytest.approx(5.0))
    assert section["valid"] is False


def test_error_rate_counts_unexpected_outcomes_only():
    ops = ([op("checkout", 1, "fail", expect="fail")] * 50  # doomed checkouts refused: right
           + [op("checkout", 1, "fail", scenario="race:hot-item")] * 30  # a lost race: right
           + [op("checkout", 1, "ok")] * 18
           + [op("checkout", 1, "info", scenario="race:hot-item"), op("add_stock", 1, "ok", expect="fail")])
    m = measure(ops)
    assert m.errors["all"] == 2
    section = evaluate(parse_slos(["error_rate<1%", "error_rate<=2%", "checkout:error_rate<2%"]), m)
    assert [r["passed"] for r in section["results"]] == [False, True, True]


def test_rps_fails_and_slos_on_what_never_ran_are_unknown():
    ops = [op("find_item", 1, wall=i * 0.1) for i in range(11)]  # 11 ops over ~1 s
    m = measure(ops)
    section = evaluate(parse_slos(["rps>=100", "rps>=5", "checkout:p95<1s", "overselling==0"]), m)
    results = section["results"]
    assert [r["passed"] for r in results] == [False, True, None, None]
    assert "no checkout operations" in results[2]["detail"]
    assert "not measured" in results[3]["detail"]
    assert section["valid"] is False  # rps>=100 was measured and missed
    m.overselling = 3
    assert evaluate(parse_slos(["overselling==0"]), m)["valid"] is False


@pytest.mark.parametrize("text", ["checkout:p95<1s", "checkout:error_rate<1%", "checkout:errors==0",
                                  "checkout:rps>=0", "checkout:avg<1s"])
def test_an_slo_on_an_operation_that_never_ran_makes_the_run_unknown(text):
    """Asked for but not exercised is UNKNOWN: errors==0 or rps>=0 on no checkouts would pass otherwise."""
    m = measure([op("find_item", 1, wall=i * 0.1) for i in range(11)])
    section = evaluate(parse_slos([text]), m)
    assert section["valid"] is True and section["results"][0]["passed"] is None
    (reason,) = section["unknown_reasons"]
    assert reason.startswith(f"the SLO {text!r} could not be judged: no checkout operations in the history")
    assert "--slo" in reason
    verdict = add_sections({"anomaly_count": 0}, {"slo": section})
    assert result_of(verdict) == UNKNOWN and verdict["valid"] is False
    assert evaluate(parse_slos([text]), measure([op("checkout", 1)]))["unknown_reasons"] == []


def test_populate_and_settle_ops_are_not_load():
    ops = [op("create_item", 5000, process="populate"), op("find_item", 5000, process="settle"), op("checkout", 1)]
    assert measure(ops).requests["all"] == 1


def test_iteration_latency_is_measured_from_the_intended_start():
    # The iteration was due at t=100.0 but its first request only went out at 100.9 (a stalled
    # generator or target): 0.9 s of waiting must show, although the requests took 10 ms each.
    ops = [op("create_order", 10, wall=100.9, intended=100.0), op("checkout", 10, wall=100.91, intended=100.0)]
    m = measure(ops)
    assert m.latencies["all"] == [pytest.approx(10.0), pytest.approx(10.0)]
    assert m.iteration_ms == [pytest.approx(920.0)]
    assert evaluate(parse_slos(["iteration:p99<500ms"]), m)["valid"] is False


def test_failure_messages_say_why():
    assert failure_message("ok", "fail", None, 200, None) == "expected 4xx, got 200"
    assert failure_message("info", None, None, 503, "HTTP 503: down").startswith("expected 2xx, got 503: HTTP 503")
    assert failure_message("info", None, "race:hot-item", None, "ConnectionRefused") == \
        "expected 2xx or 4xx, got no answer: ConnectionRefused"
    assert failure_message("fail", "fail", None, 400, "x") is None
    assert unexpected("fail", None) and not unexpected("fail", None, "race:x")
