"""`shopbench stress --faults`: the stock service frozen for 2 s under load. Indeterminate operations
appear, the pause ends on time, and the verdict is still valid (the reference shop loses nothing)."""

import json

import pytest

pytestmark = pytest.mark.slow


def test_pausing_stock_for_two_seconds_under_load_keeps_the_verdict_valid(stress, tmp_path):
    faults = tmp_path / "kill_config.json"
    faults.write_text(json.dumps({"kill_triggers": [
        {"type": "time", "threshold": 1.5, "services": ["stock-service"], "count": 1, "recovery_time": 0,
         "action": "pause", "duration": 2},
    ]}))
    run = stress("--mix", "seed000", "--wait", "0-0.05", "-u", "8", "-r", "8", "-t", "6s", "--faults", str(faults),
                 "--timeout", "1", "--stop-timeout", "5", timeout=180)
    assert run.code == 0, run.output[-3000:]

    lines = [json.loads(x) for x in (run.path / "faults.jsonl").read_text().splitlines() if x.strip()]
    pause = next(x for x in lines if x["action"] == "pause")
    resume = next(x for x in lines if x["action"] == "resume")
    assert pause["service"] in ("stock", "stock-service") and pause["result"] == "ok"
    held = resume["start"] - pause["start"]
    assert 1.9 <= held <= 3.0, f"pause held {held:.2f}s, expected 2s"

    # Requests to the frozen service time out (--timeout 1): indeterminate, never counted as failures.
    in_pause = [o for o in run.ops() if pause["start"] - 0.05 <= o["wall"] <= resume["start"]]
    assert any(o["type"] == "info" for o in in_pause), "no indeterminate operation during the pause"
    assert not any(o["type"] == "info" for o in run.ops() if o["wall"] > resume["end"] + 1.0)

    verdict = run.verdict
    assert verdict["valid"] is True, verdict.get("anomalies")
    assert verdict["faults"] and verdict["faults"][0]["service"] in ("stock", "stock-service")
