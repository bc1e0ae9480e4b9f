"""Time series from hand-made histories whose right answers are known."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from shopbench.errors import UsageError
from shopbench.report.series import compute_series

ORIGIN = 1_000_000.0


def op(i: int, start: float, latency: float, f: str = "checkout", kind: str = "ok", expect: str | None = None,
       intended: float | None = None, process: str = "p") -> dict:
    return {"id": i, "process": process, "f": f, "args": {}, "expect": expect, "type": kind,
            "status": {"ok": 200, "fail": 400, "info": None}[kind], "value": None, "error": None,
            "wall": ORIGIN + start, "t0": 50.0 + start, "t1": 50.0 + start + latency, "intended": intended,
            "scenario": None}


def write(path: Path, ops: list[dict]) -> Path:
    path.write_bytes(b"".join(orjson.dumps(o) + b"\n" for o in ops))
    return path


def test_percentiles_are_exact_per_bucket_and_overall_never_averaged(tmp_path):
    ops = []
    # Second 0: 100 checkouts taking 1..100 ms. Second 5: 10 at 10 ms and 90 at 500 ms.
    for k in range(100):
        ops.append(op(len(ops), 0.1 + k * 0.005, (k + 1) / 1000))
    for k in range(100):
        ops.append(op(len(ops), 5.1 + k * 0.005, 0.010 if k < 10 else 0.500))
    series = compute_series(write(tmp_path / "ops.jsonl", ops), origin=ORIGIN, width=1.0)
    lat = series.latency["checkout"]
    first = series.times.index(0.0)
    assert (lat["p50"][first], lat["p95"][first], lat["p99"][first]) == (50.0, 95.0, 99.0)
    fifth = series.times.index(5.0)
    assert lat["p50"][fifth] == 500.0 and lat["p95"][fifth] == 500.0
    assert lat["p50"][first + 1] is None  # an empty bucket has no percentile, not zero
    totals = series.totals["checkout"]
    # The 100th of all 200 sorted latencies is 90 ms; averaging the buckets' medians would say 275 ms.
    assert totals.p50 == 90.0 and totals.p99 == 500.0 and totals.max == 500.0 and totals.count == 200
    assert series.throughput["checkout"][first] == 100.0


def test_outcomes_errors_inflight_and_intended_latency(tmp_path):
    ops = [
        op(0, 0.0, 0.9, kind="ok"),
        op(1, 0.0, 0.9, kind="info"),  # indeterminate
        op(2, 0.2, 0.1, f="subtract_stock", kind="fail", expect="fail"),  # a correct 4xx
        op(3, 0.3, 0.1, f="pay", kind="ok", expect="fail"),  # a wrong answer
        op(4, 0.4, 0.1, f="find_item", kind="ok", intended=ORIGIN + 0.0),  # scheduled 0.4 s before it started
    ]
    series = compute_series(write(tmp_path / "ops.jsonl", ops), origin=ORIGIN, width=1.0)
    assert series.checkouts == {"ok": [1], "fail": [0], "info": [1]}
    # errors: history.unexpected (the indeterminate checkout and the accepted doomed payment)
    assert series.errors == {"indeterminate": [1], "fail": [1], "unexpected": [2]}
    assert series.totals["pay"].errors == 1 and series.totals["subtract_stock"].errors == 0
    assert series.totals["checkout"].errors == 1
    assert series.totals["find_item"].p50 == pytest.approx(500.0, abs=0.01) and series.from_intended == 1
    # 2 ops of 0.9 s + 3 of 0.1 s within one 1-second bucket: 2.1 operations in flight on average.
    assert series.inflight == [pytest.approx(2.1, abs=0.01)]
    assert series.ops[0] == "checkout"


def test_chart_resolution_follows_the_run_length(tmp_path):
    short = compute_series(write(tmp_path / "a.jsonl", [op(0, 0.0, 0.01), op(1, 2.0, 0.01)]), origin=ORIGIN)
    assert short.width == 0.1 and len(short.times) <= 400
    long = compute_series(write(tmp_path / "b.jsonl", [op(0, 0.0, 0.01), op(1, 3600.0, 0.01)]), origin=ORIGIN)
    assert long.width == 10.0 and len(long.times) <= 400
    assert sum(long.throughput["checkout"]) * long.width == 2


def test_locust_user_counts_are_read(tmp_path):
    rows = [{"Timestamp": str(int(ORIGIN) + 1), "User Count": "5", "Name": "Aggregated"},
            {"Timestamp": str(int(ORIGIN) + 1), "User Count": "5", "Name": "/checkout"},
            {"Timestamp": str(int(ORIGIN) + 2), "User Count": "10", "Name": "Aggregated"}]
    series = compute_series(write(tmp_path / "ops.jsonl", [op(0, 0.0, 0.01)]), origin=ORIGIN, locust_history=rows)
    assert series.users == ([1.0, 2.0], [5.0, 10.0])


def test_a_record_without_a_field_is_a_clear_error(tmp_path):
    bad = op(0, 0.0, 0.1)
    del bad["t1"]
    with pytest.raises(UsageError, match=r"ops.jsonl: operation 1 lacks the field 't1'"):
        compute_series(write(tmp_path / "ops.jsonl", [bad]), origin=ORIGIN)
    worse = op(0, 0.0, 0.1, kind="ok")
    worse["wall"] = "yesterday"
    with pytest.raises(UsageError, match="wrong type"):
        compute_series(write(tmp_path / "ops.jsonl", [worse]), origin=ORIGIN)


def test_an_empty_history_gives_empty_series(tmp_path):
    series = compute_series(write(tmp_path / "ops.jsonl", []), origin=ORIGIN)
    assert series.count == 0 and series.times == [] and series.ops == []


def test_resource_samples_are_averaged_per_bucket_and_a_dead_service_is_a_gap():
    from shopbench.report.series import resource_series

    def sample(t: float, name: str, cpu: float | None, rss: int | None, up: bool = True, kind: str = "service"):
        return {"wall": ORIGIN + t, "kind": kind, "name": name, "up": up, "cpu": cpu, "rss": rss}

    samples = [sample(0.1, "stock", 10.0, 100), sample(0.6, "stock", 30.0, 300),  # bucket 0: means 20 / 200
               sample(1.2, "stock", None, None, up=False),  # killed: bucket 1 is a gap, not a zero
               sample(2.5, "stock", 5.0, 50), sample(0.2, "main", 90.0, 1000, kind="generator"),
               {"wall": "garbage"}]
    res = resource_series(samples, ORIGIN, 1.0)
    assert res.times == [0.0, 1.0, 2.0]
    assert res.names == [("service", "stock"), ("generator", "main")]
    assert res.cpu[("service", "stock")] == [20.0, None, 5.0]
    assert res.rss[("service", "stock")] == [200.0, None, 50.0]
    assert res.cpu[("generator", "main")] == [90.0, None, None]


def test_users_chart_puts_both_lines_on_one_time_axis(tmp_path):
    from shopbench.report import charts

    ops = [op(i, i * 0.5, 0.01) for i in range(6)]
    series = compute_series(write(tmp_path / "ops.jsonl", ops), origin=ORIGIN, width=1.0,
                            locust_history=[{"Name": "Aggregated", "Timestamp": str(ORIGIN + 0.5), "User Count": "3"},
                                            {"Name": "Aggregated", "Timestamp": str(ORIGIN + 2.0), "User Count": "5"}])
    fig = charts.users(series, [], [])
    users, inflight = fig["series"]
    assert fig["x"] == [0.0, 0.5, 1.0, 2.0] and users["values"] == [None, 3.0, None, 5.0]
    assert inflight["values"][1] is None and inflight["values"][0] is not None and users["style"] == "step"
