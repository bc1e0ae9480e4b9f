"""explore --mode requests on the embedded reference shop: the recording finds the requests on
every link, the correct shop survives lost answers, one lost answer exposes each of the two flaws
only a request-level fault finds (issue 22.5), and a budget that ends before the space is covered
exits 4."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow
EXE = str(Path(sys.executable).parent / "shopbench")


def explore(tmp_path: Path, *args: str) -> tuple[subprocess.CompletedProcess, dict]:
    out = tmp_path / "explore"
    tmp_path.mkdir(exist_ok=True)
    proc = subprocess.run([EXE, "explore", "--mode", "requests", "--out", str(out), "--items", "4", "--users", "8",
                           *args], capture_output=True, text=True, timeout=300, cwd=tmp_path)
    summary = json.loads((out / "summary.json").read_text()) if (out / "summary.json").exists() else {}
    return proc, summary


def test_a_lost_answer_is_survived_by_the_correct_shop(tmp_path):
    proc, summary = explore(tmp_path, "--only", "order->stock#1:lose-answer", "--only", "order->payment#1:lose-answer",
                            "--confirm", "1")
    assert proc.returncode == 0 and summary["covered"], proc.stderr[-2000:]
    (trial,) = [json.loads(line) for line in (tmp_path / "explore" / "trials.jsonl").read_text().splitlines()]
    assert trial["result"] == "valid" and trial["extra"]["reached"] is True
    # Each step retried once under its txid after its answer was lost.
    assert trial["extra"]["requests"]["order->stock"] == 2 and trial["extra"]["requests"]["order->payment"] == 2


@pytest.mark.parametrize(("flaw", "point", "lost"), [
    ("abort-on-timeout", "order->stock#1:lose-answer", "stock_drift"),
    ("retry-new-txid", "order->payment#1:lose-answer", "user_credit_drift"),
])
def test_one_lost_answer_exposes_the_flaw(tmp_path, flaw, point, lost):
    proc, summary = explore(tmp_path, "--only", point, "--confirm", "2", "--flaw", flaw)
    assert proc.returncode == 1, proc.stderr[-2000:]
    (failure,) = summary["failures"]
    assert failure["faults"] == [point] and lost in failure["anomaly_types"]
    assert failure["reproduces"] == {"invalid": 2, "runs": 2}
    assert f"--only {point}" in failure["command"].replace("'", "")


def test_the_recording_sets_the_space_and_an_unfinished_budget_exits_4(tmp_path):
    proc, summary = explore(tmp_path, "--budget", "4")
    assert proc.returncode == 4, proc.stderr[-2000:]
    space = summary["space"]
    assert space["requests"]["alone"] == {"client->order": 1, "client->stock": 0, "client->payment": 0,
                                          "order->stock": 1, "order->payment": 1}
    assert space["requests"]["together"]["order->payment"] == 3
    assert space["total"] == (5 + 6 + 6) + 3 * (5 + 6 + 6) and space["run"] == 2
    assert not summary["covered"] and any("budget ended" in n for n in summary["notes"])


def test_a_position_the_run_never_reaches_is_skipped_not_failed(tmp_path):
    # One checkout sends one charge: there is no fifth request on order->payment to refuse.
    proc, summary = explore(tmp_path, "--only", "order->payment#5:refuse")
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert summary["space"]["unreachable"] == 1 and summary["space"]["reached"] == 0 and summary["covered"]
    (trial,) = [json.loads(line) for line in (tmp_path / "explore" / "trials.jsonl").read_text().splitlines()]
    assert trial["extra"]["reached"] is False and trial["extra"]["requests"]["order->payment"] == 1
