"""kill_config.json: seed 001's files work unchanged; every malformed one is one clear sentence."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from shopbench.cli.app import main
from shopbench.errors import UsageError
from shopbench.nemesis import load_fault_plan, parse_fault_plan, plan_for_services

SEED_EXAMPLE = {
    "kill_triggers": [
        {"type": "users", "threshold": 200, "services": ["order-service"], "count": 1, "recovery_time": 30},
        {"type": "rps", "threshold": 100, "services": ["payment-service"], "count": 1, "recovery_time": 0},
    ]
}
KNOWN = ["order", "payment", "stock"]


def write(tmp_path: Path, data: object, name: str = "kill_config.json") -> Path:
    path = tmp_path / name
    path.write_text(data if isinstance(data, str) else json.dumps(data))
    return path


def test_seed_example_parses_unchanged_and_aliases_resolve(tmp_path: Path) -> None:
    plan = load_fault_plan(write(tmp_path, SEED_EXAMPLE), known_services=KNOWN)
    first, second = plan.triggers
    assert (first.type, first.threshold, first.services, first.count, first.recovery_time) == (
        "users", 200, ["order"], 1, 30)
    assert first.action == "kill" and first.duration is None
    assert second.services == ["payment"] and second.hold_time() is None  # 0: down until the run ends
    # Without known services the names stay as written (the backend resolves them later).
    assert load_fault_plan(write(tmp_path, SEED_EXAMPLE)).triggers[0].services == ["order-service"]


def test_our_fields_and_fractional_time(tmp_path: Path) -> None:
    plan = parse_fault_plan({"kill_triggers": [
        {"type": "time", "threshold": 0.25, "services": ["stock"], "action": "pause", "duration": 2},
        {"type": "checkouts", "threshold": 200, "services": ["order"], "recovery_time": 1.5, "duration": 0.5},
        {"type": "time", "threshold": 1, "services": ["order"], "action": "restart"},
    ]}, known_services=KNOWN)
    pause, kill, restart = plan.triggers
    assert pause.threshold == 0.25 and pause.hold_time() == 2
    assert kill.hold_time() == 0.5  # the earliest of recovery_time and duration
    assert restart.action == "restart"


@pytest.mark.parametrize("trigger, field, allowed", [
    ({"type": "cpu", "threshold": 1, "services": ["order"]}, "kill_triggers[0].type", "checkouts"),
    ({"type": "users", "threshold": -5, "services": ["order"]}, "kill_triggers[0].threshold", ">= 0"),
    ({"type": "users", "threshold": 5, "services": ["order"], "count": 0}, "kill_triggers[0].count", ">= 1"),
    ({"type": "users", "threshold": 5, "services": ["order"], "recovery_time": -1},
     "kill_triggers[0].recovery_time", ">= 0"),
    ({"type": "users", "threshold": 5, "services": ["order"], "action": "explode"},
     "kill_triggers[0].action", "pause"),
    ({"type": "users", "threshold": 5, "services": []}, "kill_triggers[0].services", "non-empty"),
    ({"type": "users", "services": ["order"]}, "kill_triggers[0].threshold is missing", ">= 0"),
    ({"type": "users", "threshold": "lots", "services": ["order"]}, "kill_triggers[0].threshold is 'lots'", ">= 0"),
])
def test_malformed_trigger_names_file_index_and_field(tmp_path: Path, trigger: dict, field: str,
                                                      allowed: str) -> None:
    path = write(tmp_path, {"kill_triggers": [trigger]})
    with pytest.raises(UsageError) as err:
        load_fault_plan(path, known_services=KNOWN)
    message = str(err.value)
    assert str(path) in message and field in message and allowed in message
    assert "\n" not in message  # one sentence, no pydantic dump


def test_second_trigger_is_named_by_its_index(tmp_path: Path) -> None:
    data = {"kill_triggers": [SEED_EXAMPLE["kill_triggers"][0], {"type": "rps", "threshold": -1, "services": ["x"]}]}
    with pytest.raises(UsageError, match=r"kill_triggers\[1\]\.threshold is -1"):
        load_fault_plan(write(tmp_path, data))


def test_unknown_service_names_the_service_and_the_known_ones(tmp_path: Path) -> None:
    data = {"kill_triggers": [{"type": "time", "threshold": 1, "services": ["stock", "basket-service"]}]}
    with pytest.raises(UsageError) as err:
        load_fault_plan(write(tmp_path, data), known_services=KNOWN)
    assert "kill_triggers[0].services" in str(err.value) and "'basket-service'" in str(err.value)
    assert "order, payment, stock" in str(err.value)


@pytest.mark.parametrize("text, expect", [
    ("{not json", "not valid JSON"),
    ("[1, 2]", "expected a JSON object"),
    ('{"triggers": []}', "field kill_triggers is missing"),
    ('{"kill_triggers": {"type": "users"}}', "kill_triggers must be a list"),
    ('{"kill_triggers": [7]}', "kill_triggers[0] must be an object"),
])
def test_malformed_files(tmp_path: Path, text: str, expect: str) -> None:
    with pytest.raises(UsageError) as err:
        load_fault_plan(write(tmp_path, text))
    assert expect in str(err.value)


def test_missing_file_is_a_usage_error(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="cannot read"):
        load_fault_plan(tmp_path / "nope.json")


def test_static_kill_services_plan() -> None:
    plan = plan_for_services(["order-service", "stock"], known_services=KNOWN)
    (trig,) = plan.triggers
    assert trig.type == "time" and trig.threshold == 0 and trig.services == ["order", "stock"]


def test_cli_plan_rejects_a_malformed_config_with_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    # The services are a user's (a services file), so no shop needs to run to check a plan.
    services = tmp_path / "services.json"
    services.write_text(json.dumps({"services": [
        {"name": n, "command": ["python", "-c", "pass"]} for n in ("order", "stock", "payment")]}))
    good = write(tmp_path, SEED_EXAMPLE)
    assert main(["services", "plan", str(good), "--services-file", str(services)]) == 0
    out = capsys.readouterr().out
    assert "users >= 200" in out and "order" in out

    bad = write(tmp_path, {"kill_triggers": [{"type": "users", "threshold": -3, "services": ["order"]}]}, "bad.json")
    assert main(["services", "plan", str(bad), "--services-file", str(services)]) == 2
    err = capsys.readouterr().err
    assert "kill_triggers[0].threshold" in err and "Traceback" not in err

    unknown = write(tmp_path, {"kill_triggers": [{"type": "time", "threshold": 1, "services": ["cart"]}]}, "u.json")
    assert main(["services", "plan", str(unknown), "--services-file", str(services)]) == 2
    assert "'cart'" in capsys.readouterr().err

    notjson = write(tmp_path, "kill everything", "x.json")
    assert main(["services", "plan", str(notjson), "--services-file", str(services)]) == 2
    assert "not valid JSON" in capsys.readouterr().err
