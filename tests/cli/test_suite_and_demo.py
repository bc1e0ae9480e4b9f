"""The tour commands end to end, as a user runs them: real subprocesses, a real shop, real faults."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow
EXE = str(Path(sys.executable).parent / "shopbench")


def run(args, timeout=240):
    proc = subprocess.run([EXE, *args], capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, "COLUMNS": "200"})
    return proc.returncode, proc.stdout + proc.stderr


def test_demo_tours_kill_and_pause_and_both_verdicts_are_valid(tmp_path):
    code, output = run(["demo", "--out", str(tmp_path / "demo"), "-u", "6", "-t", "8s"])
    assert code == 0, output[-4000:]
    root = tmp_path / "demo"
    for name, action in (("consistency", "kill"), ("stress", "pause")):
        verdict = json.loads((root / name / "verdict.json").read_text())
        assert verdict["valid"] is True
        assert [f["action"] for f in verdict["faults"]] == [action]
        page = (root / name / "report.html").read_text()
        assert 20_000 < len(page) < 1_000_000 and "uPlot" in page  # charts embedded, no 4.8 MB Plotly
    assert (root / "compare.html").exists()
    assert "VALID  report:" in output
    # The shop the demo started is down again.
    state = json.loads((root / "shop" / "services" / "order.json").read_text())
    assert state["pid"] is None


def test_suite_with_a_flawed_shop_is_invalid(tmp_path):
    # early-ack answers every checkout 2xx and only the stock's worth can be paid: certain without
    # faults. (no-compensation needed one user to check out twice among the paid ones: 1 in ~150.)
    code, output = run(["suite", "--test-type", "consistency", "--flaw", "early-ack",
                        "--out", str(tmp_path / "suite")])
    assert code == 1, output[-4000:]
    verdict = json.loads((tmp_path / "suite" / "consistency" / "verdict.json").read_text())
    assert verdict["valid"] is False
    assert not (tmp_path / "suite" / "stress").exists()


def test_suite_kill_services_is_seed_001s_static_mode(tmp_path):
    code, output = run(["suite", "--test-type", "consistency", "--kill-services", "payment-service",
                        "--out", str(tmp_path / "suite")])
    assert code == 0, output[-4000:]
    plan = json.loads((tmp_path / "suite" / "kill_services.json").read_text())
    assert plan["kill_triggers"][0]["services"] == ["payment-service"]
    # At the first answered checkout: a burst over within a second still has its kill land.
    assert (plan["kill_triggers"][0]["type"], plan["kill_triggers"][0]["threshold"]) == ("checkouts", 1)
    lines = (tmp_path / "suite" / "consistency" / "faults.jsonl").read_text().splitlines()
    kills = [json.loads(x) for x in lines if json.loads(x)["action"] == "kill"]
    assert kills and all(k["landed"] for k in kills)


@pytest.mark.parametrize(("args", "fragment"), [
    (["suite", "--test-type", "all"], "--test-type 'all'"),
    (["suite", "--faults", "nope.json"], "no such file"),
    (["suite", "--urls", "x.json", "--flaw", "lost-update"], "--flaw applies"),
])
def test_suite_usage_errors_are_one_line_and_exit_2(tmp_path, args, fragment):
    code, output = run([*args, "--out", str(tmp_path / "s")])
    assert code == 2
    assert fragment in output and "Traceback" not in output
