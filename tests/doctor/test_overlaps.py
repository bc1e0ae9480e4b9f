"""Smaller points of issue 25: `services plan` warns when faults overlap (a pause during a kill's
restart), and a fault's "throughput back" is never shown before its "answers again"."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from rich.console import Console

from shopbench.cli.app import main
from shopbench.doctor.overlaps import RESTART_ALLOWANCE, overlapping
from shopbench.nemesis.config import parse_fault_plan
from shopbench.report.terminal import _print_faults


def plan(*triggers: dict) -> object:
    return parse_fault_plan({"kill_triggers": list(triggers)}, known_services=["order", "stock", "payment"])


def kill(at: float, hold: float = 2, service: str = "order") -> dict:
    return {"type": "time", "threshold": at, "services": [service], "action": "kill", "recovery_time": hold}


def pause(at: float, hold: float = 2, service: str = "order") -> dict:
    return {"type": "time", "threshold": at, "services": [service], "action": "pause", "duration": hold}


def test_a_pause_inside_a_kills_restart_window_is_named_with_the_time_to_move_to() -> None:
    (line,) = overlapping(plan(kill(5, 2), pause(10)))
    assert line.startswith("kill_triggers[1] (pause order at 10 s) overlaps kill_triggers[0] (kill order at 5 s): "
                           f"the first's service is restarted 2 s after it and may take up to {RESTART_ALLOWANCE:g} "
                           "s more to answer again")
    assert line.endswith(f"move the second to {5 + 2 + RESTART_ALLOWANCE:g} s or later")
    assert overlapping(plan(kill(5, 2), pause(5 + 2 + RESTART_ALLOWANCE))) == []  # just after: fine
    assert overlapping(plan(kill(5, 2), pause(5 + 2 + RESTART_ALLOWANCE - 0.5)))  # just before: not
    assert overlapping(plan(pause(10), kill(5, 2)))  # order in the file does not matter
    assert "held until the run ends" in overlapping(plan(pause(1, 0) | {"duration": None}, kill(30)))[0]
    assert overlapping(plan(kill(1) | {"type": "users"}, pause(2))) == []  # only time triggers can be compared


def test_services_plan_prints_the_overlap(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    services = tmp_path / "services.json"
    services.write_text(json.dumps({"services": [{"name": n, "command": "true", "port": 9} for n in
                                                 ("order", "stock", "payment")]}))
    faults = tmp_path / "kill_config.json"
    faults.write_text(json.dumps({"kill_triggers": [kill(5, 2), pause(10, service="stock")]}))
    assert main(["services", "plan", str(faults), "--services-file", str(services), "--no-adopt"]) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "warning: kill_triggers[1] (pause stock at 10 s) overlaps kill_triggers[0] (kill order at 5 s)" in out


def test_throughput_back_is_never_shown_before_answers_again() -> None:
    console = Console(record=True, width=200)
    _print_faults(console, [{"action": "kill", "service": "order", "duration_s": 2.0, "restore_s": 0.4,
                             "time_to_answer_s": 1.61, "throughput_recovery_s": 0.83}])
    row = next(line for line in console.export_text().splitlines() if "order" in line)
    assert row.count("1.61") == 2 and "0.83" not in row
