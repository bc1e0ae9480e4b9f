"""`shopbench explore` end to end on the embedded reference shop: the exit codes, summary.json, the
failure's plan and command, the page."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

EXE = str(Path(sys.executable).parent / "shopbench")
SMALL = ["--orders", "40", "--concurrency", "4", "--items", "4", "--users", "8"]


def explore(tmp_path: Path, *args: str, timeout: float = 300) -> tuple[subprocess.CompletedProcess, dict]:
    out = tmp_path / "explore"
    proc = subprocess.run([EXE, "explore", "--mode", "random", "--out", str(out), "--json", *args],
                          capture_output=True, text=True, timeout=timeout, cwd=tmp_path)
    summary = json.loads((out / "summary.json").read_text()) if (out / "summary.json").exists() else {}
    return proc, summary


def test_bad_flags_are_one_sentence_and_exit_2(tmp_path):
    for args, needle in ((["--budget", "soon"], "--budget"), (["--mode", "chaos"], "--mode"),
                         (["--mode", "random", "--only", "order->payment#1:lose-answer"], "--only applies"),
                         (["--need", "4", "--tries", "3"], "--need")):
        proc = subprocess.run([EXE, "explore", *args], capture_output=True, text=True, timeout=60, cwd=tmp_path)
        assert proc.returncode == 2 and needle in proc.stderr and "Traceback" not in proc.stderr, proc.stderr


@pytest.mark.slow
def test_a_shop_that_fails_without_faults_is_a_failure_with_an_empty_plan(tmp_path):
    # no-compensation with no credit: every rejected payment leaves its stock reserved.
    proc, summary = explore(tmp_path, "--flaw", "no-compensation", "--credit", "0", "--budget", "3", *SMALL)
    assert proc.returncode == 1, proc.stderr[-2000:]
    (failure,) = summary["failures"]
    assert failure["faults"] == [] and failure["anomaly_types"].get("stock_drift")
    assert failure["explanation"] and failure["command"].startswith("shopbench consistency ")
    assert "--flaw no-compensation" in failure["command"] and "--credit 0" in failure["command"]
    plan = json.loads(Path(failure["plan_file"]).read_text())
    assert plan == {"kill_triggers": []}
    assert (tmp_path / "explore" / "summary.html").read_text().count("FAILURE FOUND") == 1


@pytest.mark.slow
def test_the_correct_shop_survives_a_budget_of_random_plans(tmp_path):
    proc, summary = explore(tmp_path, "--budget", "2", "--seed", "4", *SMALL)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert summary["covered"] and summary["space"]["plans_drawn"] == 1 and summary["space"]["plans_judged"] == 1
    lines = (tmp_path / "explore" / "trials.jsonl").read_text().splitlines()
    assert [json.loads(line)["result"] for line in lines] == ["valid"] * 2
    assert all(json.loads(line)["plan"]["kill_triggers"] for line in lines[1:])
