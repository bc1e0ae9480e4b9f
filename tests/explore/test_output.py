"""What an exploration leaves behind: summary.json, the failure's plan file (a kill_config.json that
`--faults` reads back), the reproducing command, the page, and the exit code rule."""

from __future__ import annotations

import json
import shlex

from shopbench.explore.output import exit_code, summarise, summary_lines
from shopbench.explore.search import Exploration, Failure
from shopbench.explore.trial import Load, Shop, Trial
from shopbench.nemesis.config import load_fault_plan

PLAN = {"kill_triggers": [{"type": "checkouts", "threshold": 3, "action": "kill", "services": ["order"],
                           "recovery_time": 0.1}]}


def trial(index: int, result: str, plan=PLAN) -> Trial:
    return Trial(index, "random", plan, Load(), result, 1.0, anomaly_types={"acknowledged_lost": 2} if result ==
                 "invalid" else {}, explanation=["order 7: checkout answered 2xx, but the order is not paid."]
                 if result == "invalid" else [])


def test_a_failure_is_written_as_a_plan_a_command_and_a_page(tmp_path):
    found = Exploration("random", trials=[trial(1, "valid"), trial(2, "invalid")], space={"plans_drawn": 1})
    found.failures.append(Failure(PLAN, Load(orders=50), 2, PLAN, ["lower the load to 50 orders"], 9, 10,
                                  found.trials[1]))
    summary = summarise(found, tmp_path, Shop(flaw="no-recovery"), 12.0)
    assert summary["exit_code"] == exit_code(found) == 1
    on_disk = json.loads((tmp_path / "summary.json").read_text())
    (failure,) = on_disk["failures"]
    assert failure["reproduces"] == {"invalid": 9, "runs": 10}
    assert failure["faults"] == ["kill order at checkout 3 for 0.1 s"]
    assert load_fault_plan(failure["plan_file"]).model_dump()["kill_triggers"][0]["services"] == ["order"]
    argv = shlex.split(failure["command"])
    assert argv[:2] == ["shopbench", "consistency"] and argv[argv.index("--faults") + 1] == failure["plan_file"]
    assert argv[argv.index("--orders") + 1] == "50" and argv[argv.index("--flaw") + 1] == "no-recovery"
    assert "ledger: order 7" in "\n".join(summary_lines(summary, tmp_path))
    page = (tmp_path / "summary.html").read_text()
    assert "FAILURE FOUND" in page and "9 of 10" in page


def test_request_failures_replay_with_explore_only(tmp_path):
    plan = {"workload": "together", "request_faults": ["order->payment#2:lose-answer"]}
    found = Exploration("requests", trials=[trial(1, "invalid", plan)], space={"total": 3, "reached": 3})
    found.failures.append(Failure(plan, Load(), 1, plan, [], 10, 10, found.trials[0]))
    summary = summarise(found, tmp_path, Shop(flaw="double-charge"), 5.0)
    argv = shlex.split(summary["failures"][0]["command"])
    assert argv[:4] == ["shopbench", "explore", "--mode", "requests"]
    assert argv[argv.index("--only") + 1] == "order->payment#2:lose-answer"
    assert argv[argv.index("--workload") + 1] == "together"


def test_exit_codes():
    assert exit_code(Exploration("random", covered=True)) == 0
    assert exit_code(Exploration("random", covered=False)) == 4
    covered_but_failed = Exploration("random", covered=True)
    covered_but_failed.failures.append(Failure(PLAN, Load(), 1, PLAN, [], 1, 1, trial(1, "invalid")))
    assert exit_code(covered_but_failed) == 1
