"""Every line of a summary says what to do (issue 25.2): counted nouns agree with their numbers, seed
000's numbers carry the sentence that explains them, our 4xx and Locust's failures are put side by
side, and checkouts whose connection a gateway closed are counted and named with the fix."""

from __future__ import annotations

import json
from pathlib import Path

from rich.console import Console

from shopbench.report.notes import closed_by_peer, plural
from shopbench.report.terminal import print_summary, stress_figures


def op(f, kind="ok", status=200, expect=None, scenario=None, error=None, process="l-u1"):
    return {"f": f, "type": kind, "status": status, "expect": expect, "scenario": scenario, "error": error,
            "process": process, "wall": 100.0, "t0": 0.0, "t1": 0.002}


def summary(tmp_path: Path, verdict: dict, ops: list[dict] | None = None, kind: str = "stress") -> str:
    (tmp_path / "run.json").write_text(json.dumps({"kind": kind}))
    (tmp_path / "ops.jsonl").write_text("".join(json.dumps(o) + "\n" for o in ops or ()))
    console = Console(record=True, width=400)
    print_summary(console, verdict, {"kind": kind}, str(tmp_path))
    return " ".join(console.export_text().split())


def test_counted_nouns_agree_with_their_numbers(tmp_path: Path) -> None:
    assert [plural(1, "reason"), plural(2, "reason"), plural(1, "anomaly", "anomalies"),
            plural(1200, "anomaly", "anomalies")] == ["1 reason", "2 reasons", "1 anomaly", "1,200 anomalies"]
    text = summary(tmp_path, {"valid": False, "result": "unknown", "unknown_reasons": ["x: run with --flag"]})
    assert "(1 reason):" in text and "(1 reasons)" not in text
    text = summary(tmp_path, {"valid": False, "result": "invalid", "anomaly_count": 1,
                              "anomalies": [{"type": "lost_money", "message": "m"}]})
    assert "INVALID: 1 anomaly." in text


def test_seed_numbers_say_why_they_differ_from_the_verdict(tmp_path: Path) -> None:
    verdict = {"valid": True, "result": "valid", "checkouts": {"ok": 95, "fail": 240, "info": 665},
               "seed_metrics": {"stock_log": 660, "stock_db": -5, "payment_log": 660, "payment_db": 5},
               "seed_inputs": {"initial_stock": 100, "final_stock": 5}}
    text = summary(tmp_path, verdict, kind="consistency")
    assert ("it assumes every checkout not answered 4xx was a sale (665 indeterminate ones here), and that all 100 "
            "units sell (5 did not)") in text and "the verdict below resolves every checkout" in text


def test_expected_4xx_are_explained_beside_locusts_failures(tmp_path: Path) -> None:
    ops = [op("checkout", "fail", 400, expect="fail", scenario="checkout-no-credit") for _ in range(123)]
    ops += [op("checkout") for _ in range(10)] + [op("remove_item", "fail", 404, expect="ok") for _ in range(5)]
    text = summary(tmp_path, {"valid": True, "result": "valid"}, ops)
    assert ("checkout: 123 answers 4xx, 123 of them expected (a checkout that must fail, or a race for the last "
            "stock, is refused by a correct shop); the failures column and Locust's table count only outcomes the "
            "workload did not expect (0)") in text
    assert "remove_item: 5 answers 4xx" not in text  # none expected: the columns already agree


def test_connections_closed_by_a_gateway_are_counted_and_named_with_the_fix(tmp_path: Path) -> None:
    assert closed_by_peer(None, "HTTPConnectionClosed: connection closed.")
    assert closed_by_peer(None, "ConnectionResetError: [Errno 104] Connection reset by peer")
    assert not closed_by_peer(None, "timeout: timed out") and not closed_by_peer(502, "upstream connection closed")
    ops = [op("checkout", "info", None, error="HTTPConnectionClosed: connection closed.", process=f"burst-{i}")
           for i in range(18)]
    ops += [op("checkout", "info", None, error="timeout: timed out", process="burst-x")]
    assert stress_figures(ops).closed == {"checkout": 18}
    text = summary(tmp_path, {"valid": True, "result": "valid", "checkouts": {"info": 19}}, ops, kind="consistency")
    assert "connections closed: 18 operations (checkout 18) got no answer because the server side closed" in text
    assert "shopbench doctor --urls urls.json" in text and "worker_connections" in text
    assert "this run's faults" not in text
    text = summary(tmp_path, {"valid": True, "result": "valid", "faults": [{"action": "kill"}]}, ops,
                   kind="consistency")
    assert "or from this run's faults" in text
    assert "connections closed" not in summary(tmp_path, {"valid": True, "result": "valid"}, ops[-1:], "consistency")
