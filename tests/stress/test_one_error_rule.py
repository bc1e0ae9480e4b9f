"""One rule for "is this operation an error?" (`history.unexpected`, issue 21.2): the report's error
count, the per-fault recovery figures, the SLO error rate, the terminal summary, the live monitor
and the message that makes an operation a Locust failure all count the same operations on one
history."""

import orjson
import pytest

from shopbench.checker.recovery import recovery
from shopbench.checker.slo import failure_message, measure
from shopbench.history import Op
from shopbench.monitor import LoadMonitor
from shopbench.report.series import compute_series
from shopbench.report.terminal import stress_figures

ORIGIN = 1_700_000_000.0
# (outcome, expect, scenario, an error?)
CASES = [
    ("ok", None, None, False),
    ("fail", None, None, True),  # a 4xx where a 2xx was expected
    ("info", None, None, True),  # no answer where a 2xx was expected
    ("fail", "fail", None, False),  # a doomed checkout refused: right
    ("ok", "fail", None, True),  # a doomed checkout accepted: wrong
    ("info", "fail", None, True),  # no answer where a 4xx was expected
    ("ok", "ok", None, False),
    ("fail", None, "race:hot-item", False),  # a lost race: either definite answer is right
    ("ok", None, "race:hot-item", False),
    ("info", None, "race:hot-item", True),  # a race with no answer
]


def history() -> list[dict]:
    ops = []
    for i, (kind, expect, scenario, _) in enumerate(CASES * 3):
        start = 1.0 + i * 0.1
        ops.append({"id": i, "process": "l-u0", "f": "checkout" if i % 2 else "add_funds", "args": {},
                    "expect": expect, "type": kind, "status": {"ok": 200, "fail": 400, "info": None}[kind],
                    "value": None, "error": None if kind == "ok" else "x", "wall": ORIGIN + start, "t0": 50.0 + start,
                    "t1": 50.0 + start + 0.05, "scenario": scenario})
    ops.append({**ops[0], "id": 999, "process": "populate", "type": "info"})  # set-up traffic: not load
    return ops


def test_every_error_count_agrees_on_one_history(tmp_path):
    ops = history()
    expected = 3 * sum(1 for *_, error in CASES if error)
    assert expected == 15

    path = tmp_path / "ops.jsonl"
    path.write_bytes(b"".join(orjson.dumps(o) + b"\n" for o in ops))
    series = compute_series(path, origin=ORIGIN, width=1.0)
    report = sum(t.errors for t in series.totals.values())
    assert sum(series.errors["unexpected"]) == report

    window = {"fault": 0, "service": "order", "action": "kill", "start": ORIGIN, "restore_start": ORIGIN + 9,
              "end": ORIGIN + 10, "landed": True}
    (fault,) = recovery([o for o in ops if o["process"] != "populate"], [window])

    slo = measure(ops).errors["all"]
    terminal = sum(f.failures for f in stress_figures(ops).ops.values())
    locust = sum(1 for o in ops if o["process"] != "populate"
                 and failure_message(o["type"], o["expect"], o["scenario"], o["status"], o["error"]) is not None)
    monitor = LoadMonitor()
    for o in ops:
        if o["process"] != "populate":
            monitor(Op(**{k: o.get(k) for k in Op.__slots__}))

    assert {"report": report, "recovery": fault["during"]["errors"], "slo": slo, "terminal": terminal,
            "locust": locust, "monitor": monitor.failures} == dict.fromkeys(
        ("report", "recovery", "slo", "terminal", "locust", "monitor"), expected)


@pytest.mark.parametrize("kind, expect, scenario, error", CASES)
def test_the_report_and_the_fault_figures_count_each_case_as_the_rule_does(tmp_path, kind, expect, scenario, error):
    op = {"id": 0, "process": "l-u0", "f": "checkout", "args": {}, "expect": expect, "type": kind, "status": None,
          "value": None, "error": None, "wall": ORIGIN + 1, "t0": 1.0, "t1": 1.1, "scenario": scenario}
    path = tmp_path / "ops.jsonl"
    path.write_bytes(orjson.dumps(op) + b"\n")
    assert compute_series(path, origin=ORIGIN, width=1.0).totals["checkout"].errors == int(error)
    window = {"fault": 0, "service": "order", "action": "kill", "start": ORIGIN, "restore_start": ORIGIN + 2,
              "end": ORIGIN + 3, "landed": True}
    assert recovery([op], [window])[0]["during"]["errors"] == int(error)
