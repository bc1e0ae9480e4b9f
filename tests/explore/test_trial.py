"""A trial that cannot run is tried once more, then recorded as an error with what went wrong."""

from __future__ import annotations

import json

from shopbench.explore.trial import TRIALS_LOG, Load, Shop, TrialRunner
from shopbench.processes import free_port


def test_a_trial_that_cannot_run_is_tried_again_then_recorded(tmp_path):
    dead = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    urls = tmp_path / "urls.json"
    urls.write_text(json.dumps({"ORDER_URL": dead, "PAYMENT_URL": dead, "STOCK_URL": dead}))
    said: list[str] = []
    runner = TrialRunner(tmp_path / "explore", Shop(urls=urls), echo=said.append)
    trial = runner.run({"kill_triggers": []}, Load(orders=2), "baseline")
    assert trial.result == "error" and "cannot reach" in (trial.error or "")
    assert trial.run_dir.endswith("0001-baseline-again1")
    assert any("once more" in line for line in said)
    (logged,) = (tmp_path / "explore" / TRIALS_LOG).read_text().splitlines()
    assert json.loads(logged)["error"] == trial.error
