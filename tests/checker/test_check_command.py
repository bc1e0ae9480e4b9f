"""`shopbench check RUN_DIR`: the pure ledger check again on a finished run, offline."""

import json

import pytest

from shopbench.cli.app import main

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("check") / "run"
    assert main(["consistency", "--items", "4", "--stock", "3", "--users", "30", "--credit", "2", "--orders", "30",
                 "--concurrency", "10", "--seed", "5", "--out", str(out)]) == 0
    return out


def test_an_untouched_run_checks_valid_again(finished_run, capsys):
    capsys.readouterr()
    assert main(["check", str(finished_run), "--json"]) == 0
    verdict = json.loads(capsys.readouterr().out)
    original = json.loads((finished_run / "verdict.json").read_text())
    assert verdict["valid"] is True and verdict["checkouts"] == original["checkouts"]


def test_a_state_with_money_gone_is_caught_and_written_back(finished_run, tmp_path, capsys):
    import shutil

    run = tmp_path / "tampered"
    shutil.copytree(finished_run, run)
    state = json.loads((run / "state.json").read_text())
    uid = sorted(state["users"])[0]
    state["users"][uid]["credit"] -= 1  # one unit of money destroyed
    (run / "state.json").write_text(json.dumps(state))
    capsys.readouterr()
    assert main(["check", str(run), "--write"]) == 1
    verdict = json.loads((run / "verdict.json").read_text())
    assert verdict["valid"] is False
    types = {a["type"] for a in verdict["anomalies"]}
    assert types == {"user_credit_drift"}  # the total says nothing the user's anomaly does not
    assert any(a.get("user_id") == uid for a in verdict["anomalies"])


def test_a_run_without_its_final_state_is_a_usage_error(finished_run, tmp_path, capsys):
    import shutil

    run = tmp_path / "cut"
    shutil.copytree(finished_run, run)
    (run / "state.json").unlink()
    assert main(["check", str(run)]) == 2
    assert "state.json is missing" in capsys.readouterr().err
