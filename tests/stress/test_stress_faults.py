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


def test_a_users_trigger_fires_with_the_users_own_locustfile(stress, tmp_path):
    """The user count reaches the triggers from the plugin, whatever the locustfile (issue 19.1)."""
    faults = tmp_path / "kill_config.json"
    faults.write_text(json.dumps({"kill_triggers": [
        {"type": "users", "threshold": 2, "services": ["stock-service"], "action": "pause", "duration": 0.5}]}))
    run = stress("-f", "examples/my_locustfile.py", "-u", "3", "-r", "10", "-t", "4s", "--faults", str(faults),
                 "--timeout", "1", "--stop-timeout", "3", timeout=180)
    assert run.code == 0, run.output[-3000:]
    verdict = run.verdict
    assert verdict["faults_not_fired"] == [] and verdict["result"] == "valid", verdict["unknown_reasons"]
    (fault,) = verdict["faults"]
    assert fault["action"] == "pause" and fault["landed"] is True
    assert fault["trigger"]["type"] == "users" and fault["trigger"]["value"] >= 2


def test_a_time_trigger_beyond_the_load_makes_the_run_unknown_naming_it(stress, tmp_path):
    faults = tmp_path / "kill_config.json"
    faults.write_text(json.dumps({"kill_triggers": [
        {"type": "time", "threshold": 999, "services": ["stock-service"], "action": "pause", "duration": 1}]}))
    run = stress("-f", "examples/my_locustfile.py", "-u", "2", "-r", "10", "-t", "2s", "--faults", str(faults),
                 timeout=180)
    assert run.code == 4, run.output[-3000:]
    (reason,) = run.verdict["unknown_reasons"]
    assert reason.startswith("kill_triggers[0] (time >= 999, pause stock) never fired: the load ended after ")
    assert "make the load last longer than 999 s (stress: -t / --run-time" in reason
    assert "UNKNOWN" in run.output and "never fired" in run.output
