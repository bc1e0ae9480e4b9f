"""Recovery metrics on hand-made histories and timelines, including ones that never recover."""

from __future__ import annotations

import pytest

from shopbench.checker.recovery import recovery, shop_service
from shopbench.nemesis.timeline import fault_windows

T0 = 1_700_000_000.0


def ops_between(start: float, end: float, rate: float, f: str = "checkout", kind: str = "ok",
                latency: float = 0.01, expect: str | None = None) -> list[dict]:
    """`rate` ops per second invoked from `start` to `end` (relative to T0)."""
    out, n = [], int(round((end - start) * rate))
    for i in range(n):
        wall = T0 + start + i / rate
        out.append({"id": 0, "process": "p", "f": f, "args": {}, "expect": expect, "type": kind, "status": None,
                    "value": None, "error": None, "wall": wall, "t0": 5.0, "t1": 5.0 + latency})
    return out


def kill_timeline(service: str = "order", start: float = 10.0, restore: float = 12.0, back: float = 12.5) -> list:
    trig = {"index": 0, "type": "time", "threshold": start, "value": start}
    return [
        {"fault": 0, "trigger": trig, "service": service, "target": "pid 1", "action": "kill", "role": "fault",
         "reason": None, "start": T0 + start, "end": T0 + start + 0.01, "result": "ok", "error": None},
        {"fault": 0, "trigger": trig, "service": service, "target": "pid 2", "action": "start", "role": "recover",
         "reason": "recovery_time", "start": T0 + restore, "end": T0 + back, "result": "ok", "error": None},
    ]


def test_a_clean_recovery() -> None:
    history = (ops_between(0, 10, 100, latency=0.005)             # steady 100 ok/s, all done before 10
               + ops_between(10, 12.5, 50, kind="info")           # the outage: refused connections
               + ops_between(12.6, 20, 100)                       # back, first ok completes at 12.61
               + ops_between(10.05, 20.05, 10, f="find_item"))    # stock keeps answering throughout
    (m,) = recovery(history, kill_timeline(), bucket=1.0)
    assert m["service"] == "order" and m["restored"] and m["duration_s"] == pytest.approx(2.5)
    assert m["restore_s"] == pytest.approx(0.5)  # the restart began at 12 and was healthy at 12.5
    assert m["answered_again"] and m["time_to_answer_s"] == pytest.approx(0.61, abs=1e-3)
    assert m["outage_s"] == pytest.approx(2.61, abs=1e-3)
    assert m["baseline_rps"] == pytest.approx(100, rel=0.02)
    assert m["throughput_recovered"] is True
    # The first full 1 s window at >= 90 % starts a little after the first answer.
    assert 0.5 <= m["throughput_recovery_s"] <= 1.0
    assert m["during"]["indeterminate"] == 125 and m["during_service"]["indeterminate"] == 125
    assert m["during_service"]["ok"] == 0  # no ok checkout while order was down (find_item is stock)
    assert m["during"]["ok"] == 25  # stock answered: 10/s over 2.5 s
    assert m["note"] is None


def test_throughput_that_never_comes_back_says_so() -> None:
    history = ops_between(0, 10, 100) + ops_between(12.6, 20, 30)  # limps along at 30 %
    (m,) = recovery(history, kill_timeline(), bucket=1.0)
    assert m["answered_again"] is True
    assert m["throughput_recovered"] is False and m["throughput_recovery_s"] is None
    assert "never returned to 90%" in m["note"] and "best 30%" in m["note"]


def test_a_service_that_never_answers_again() -> None:
    history = ops_between(0, 10, 100) + ops_between(10, 20, 20, kind="info") + ops_between(10, 20, 50, f="find_user")
    (m,) = recovery(history, kill_timeline())
    assert m["answered_again"] is False and m["time_to_answer_s"] is None and m["outage_s"] is None
    assert "no operation touching order succeeded" in m["note"]
    # Payment's own ops are not answers from order; and they keep total throughput at 50 %.
    assert m["throughput_recovered"] is False


def test_an_unrestored_fault_counts_the_outage_to_the_end_of_the_history() -> None:
    timeline = kill_timeline()[:1]  # the run crashed before restoring
    (window,) = fault_windows(timeline)
    assert window["end"] is None and window["restored"] is False
    history = ops_between(0, 10, 10) + ops_between(10, 15, 10, kind="info")
    (m,) = recovery(history, timeline)
    assert m["restored"] is False and "never undone" in m["note"]
    assert m["during"]["indeterminate"] == 50


def test_unexpected_answers_are_errors_expected_ones_are_not() -> None:
    history = (ops_between(0, 10, 10, latency=0.005) + ops_between(10, 12, 5, kind="fail", expect="ok")
               + ops_between(10, 12, 5, kind="fail", expect="fail") + ops_between(10, 12, 5, kind="fail")
               + ops_between(10, 12, 5, kind="ok", expect="fail") + ops_between(10, 12, 5, kind="info", expect="ok"))
    (m,) = recovery(history, kill_timeline(restore=12, back=12))
    # history.unexpected: a 4xx with no expectation (a 2xx was expected) and no answer are errors too
    assert m["during"] == {"ops": 50, "ok": 10, "fail": 30, "indeterminate": 10, "errors": 40}


def test_a_pause_counts_in_flight_answers_after_the_resume() -> None:
    trig = {"index": 0, "type": "time", "threshold": 5, "value": 5}
    timeline = [
        {"fault": 0, "trigger": trig, "service": "stock-service", "target": "pid 1", "action": "pause",
         "role": "fault", "start": T0 + 5, "end": T0 + 5, "result": "ok", "error": None},
        {"fault": 0, "trigger": trig, "service": "stock-service", "target": "pid 1", "action": "resume",
         "role": "recover", "reason": "duration", "start": T0 + 7, "end": T0 + 7.001, "result": "ok", "error": None},
    ]
    stalled = ops_between(5.5, 5.6, 10, f="add_stock", latency=1.5)  # invoked mid-pause, answered at 7.0
    (m,) = recovery(ops_between(0, 5, 10, f="find_item") + stalled, timeline)
    assert m["service"] == "stock-service" and m["time_to_answer_s"] == pytest.approx(0.0, abs=1e-6)
    assert m["outage_s"] == pytest.approx(2.0, abs=1e-6)


def test_short_bursts_get_a_small_bucket() -> None:
    # A 2 s burst at 500 ops/s, order down from 0.8 to 1.1 s: figures in 0.1 s buckets.
    history = ops_between(0, 0.8, 500, latency=0.001) + ops_between(1.15, 2, 500, latency=0.001)
    (m,) = recovery(history, kill_timeline(start=0.8, restore=1.0, back=1.1))
    assert m["bucket_s"] == pytest.approx(0.1, rel=0.01)
    assert m["baseline_rps"] == pytest.approx(500, rel=0.02)
    assert m["throughput_recovered"] and m["throughput_recovery_s"] == pytest.approx(0.15, abs=0.03)


def test_no_baseline_when_the_fault_comes_first() -> None:
    (m,) = recovery(ops_between(0.2, 30, 10), kill_timeline(start=0.5, restore=1, back=1.2))
    assert m["baseline_rps"] is None and "no throughput baseline" in m["note"]


def test_service_names_map_to_the_shop_layout() -> None:
    assert shop_service("order-service") == "order"
    assert shop_service("shop_stock_1") == "stock"
    assert shop_service("cache") is None
    assert recovery([], []) == []


def test_a_load_that_ended_before_the_restore_is_not_called_a_failed_recovery() -> None:
    history = ops_between(0, 10, 100) + ops_between(10, 11, 20, kind="info")  # the load stops at 11
    (m,) = recovery(history, kill_timeline(start=10.0, restore=12.0, back=12.3), bucket=1.0)
    assert m["answered_again"] is False and m["restore_s"] == pytest.approx(0.3)
    assert "load ended before the fault was undone" in m["note"]
    assert "never returned" not in m["note"]


def test_a_fault_that_did_not_land_gets_no_figures_and_makes_the_sections_unknown() -> None:
    """The wrong system: a 'kill' that left the workers serving. The history looks like no fault at
    all; measuring an outage there would be inventing one."""
    from shopbench.checker.recovery import fault_sections
    from shopbench.checker.verdict import UNKNOWN, add_sections

    history = ops_between(0, 20, 100)
    lines = kill_timeline()
    lines[0].update(landed=False, landed_s=None,
                    evidence="SIGKILL: 2 of 3 processes still alive after 5 s (pids [11, 12])")
    (m,) = recovery(history, lines, bucket=1.0)
    assert m["landed"] is False and "2 of 3 processes still alive" in m["note"]
    for figure in ("outage_s", "time_to_answer_s", "answered_again", "throughput_recovered", "restore_s",
                   "baseline_rps", "during"):
        assert m[figure] is None, figure
    sections = fault_sections(history, lines, [])
    (reason,) = sections["fault_landing"]["unknown_reasons"]
    assert "fault 0 (kill_triggers[0] kill order) did not land" in reason and "still alive" in reason
    verdict = add_sections({"valid": True, "ledger_valid": True}, sections)
    assert verdict["result"] == UNKNOWN and verdict["valid"] is False


def test_timelines_written_before_verification_still_get_figures() -> None:
    history = ops_between(0, 10, 100) + ops_between(12.6, 20, 100)
    (window,) = fault_windows(kill_timeline())  # no landed field: an ok line counts as landed
    assert window["landed"] is True
    (m,) = recovery(history, kill_timeline(), bucket=1.0)
    assert m["landed"] is True and m["outage_s"] is not None
