"""Triggers fire once, at the right moment; faults are held for their time and always undone."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from nemesis_helpers import RecordingBackend, wait_for

from shopbench.errors import UsageError
from shopbench.history import Op
from shopbench.monitor import LoadMonitor
from shopbench.nemesis import Nemesis, parse_fault_plan, read_timeline


def plan(*triggers: dict):
    return parse_fault_plan({"kill_triggers": list(triggers)}, known_services=["order", "stock", "payment"])


def op(f: str = "find_item", kind: str = "ok", when: float | None = None) -> Op:
    t = time.monotonic() if when is None else when
    return Op(0, "p", f, {}, None, kind, 200, None, None, time.time(), t, t)


def test_time_trigger_fires_at_its_fraction_of_a_second(backend: RecordingBackend, tmp_path: Path) -> None:
    nem = Nemesis(plan({"type": "time", "threshold": 0.3, "services": ["stock"], "recovery_time": 0}), backend,
                  tmp_path / "faults.jsonl")
    with nem:
        start = nem.started
        assert wait_for(lambda: backend.of("apply"))
    (_, action, service, at), = backend.of("apply")
    assert (action, service) == ("kill", "stock")
    assert at - start >= 0.3  # never early
    assert nem.fired[0] >= 0.3


def test_users_trigger_waits_for_the_threshold(backend: RecordingBackend) -> None:
    mon = LoadMonitor()
    with Nemesis(plan({"type": "users", "threshold": 10, "services": ["order"]}), backend, monitor=mon):
        mon.users = 9
        time.sleep(0.1)
        assert backend.of("apply") == []
        mon.users = 10
        assert wait_for(lambda: backend.of("apply"))
        mon.users = 50  # fires once only
        time.sleep(0.05)
    assert len(backend.of("apply")) == 1
    assert mon.faults_fired == 1


def test_rps_trigger_reads_the_monitor_window(backend: RecordingBackend) -> None:
    mon = LoadMonitor(window=1.0)
    with Nemesis(plan({"type": "rps", "threshold": 100, "services": ["payment"]}), backend, monitor=mon):
        for _ in range(50):
            mon(op())
        time.sleep(0.1)
        assert backend.of("apply") == []  # 50 ops in a 1 s window: 50 rps
        for _ in range(60):
            mon(op())
        assert wait_for(lambda: backend.of("apply"))
    assert backend.of("apply")[0][2] == "payment"


def test_checkouts_trigger_counts_completed_checkouts_only(backend: RecordingBackend) -> None:
    mon = LoadMonitor()
    with Nemesis(plan({"type": "checkouts", "threshold": 3, "services": ["order"]}), backend, monitor=mon):
        mon(op("checkout", "ok"))
        mon(op("checkout", "fail"))
        mon(op("checkout", "info"))  # indeterminate: not completed
        mon(op("find_order", "ok"))
        time.sleep(0.1)
        assert backend.of("apply") == []
        mon(op("checkout", "fail"))
        assert wait_for(lambda: backend.of("apply"))


def test_recovery_time_is_honoured_and_timeline_has_start_and_end(backend: RecordingBackend, tmp_path: Path) -> None:
    path = tmp_path / "faults.jsonl"
    with Nemesis(plan({"type": "time", "threshold": 0, "services": ["order"], "recovery_time": 0.4}),
                 backend, path) as nem:
        assert wait_for(lambda: len(nem.entries) == 2, timeout=5)
        assert nem.unrestored() == []
    applied, recovered = backend.of("apply")[0][3], backend.of("recover")[0][3]
    assert recovered - applied >= 0.4
    lines = read_timeline(path)
    assert [(x["role"], x["action"], x["service"], x["result"]) for x in lines] == [
        ("fault", "kill", "order", "ok"), ("recover", "start", "order", "ok")]
    assert lines[1]["reason"] == "recovery_time"
    for line in lines:
        assert line["start"] <= line["end"] and line["trigger"]["type"] == "time"
        assert line["target"] == "fake order"
    assert lines[1]["start"] - lines[0]["start"] >= 0.4


def test_duration_bounds_a_pause(backend: RecordingBackend, tmp_path: Path) -> None:
    trig = {"type": "time", "threshold": 0, "services": ["stock"], "action": "pause", "duration": 0.2}
    with Nemesis(plan(trig), backend, tmp_path / "f.jsonl") as nem:
        assert wait_for(lambda: backend.of("recover"), timeout=5)  # resumed before the run ends
        assert backend.state["stock"] == "running"
    (window,) = nem.windows()
    assert window["action"] == "pause" and window["restore_reason"] == "duration"
    assert window["restore_start"] - window["start"] >= 0.2
    assert nem.entries[-1]["action"] == "resume"


def test_recovery_time_zero_stays_down_until_the_run_ends(backend: RecordingBackend) -> None:
    with Nemesis(plan({"type": "time", "threshold": 0, "services": ["payment"], "recovery_time": 0}), backend) as nem:
        assert wait_for(lambda: backend.of("apply"))
        time.sleep(0.3)
        assert backend.of("recover") == [] and backend.state["payment"] == "stopped"
    assert backend.state["payment"] == "running"
    assert nem.entries[-1]["reason"] == "run end"


def test_restart_and_resume_need_no_recovery(backend: RecordingBackend) -> None:
    with Nemesis(plan({"type": "time", "threshold": 0, "services": ["order", "stock"], "action": "restart"}),
                 backend) as nem:
        assert wait_for(lambda: len(backend.of("apply")) == 2)
    assert backend.of("recover") == []
    assert {w["service"] for w in nem.windows()} == {"order", "stock"}
    assert all(w["restored"] for w in nem.windows())


def test_a_failing_backend_is_recorded_and_the_run_goes_on(tmp_path: Path) -> None:
    backend = RecordingBackend(fail_apply=True)
    with Nemesis(plan({"type": "time", "threshold": 0, "services": ["order"]}), backend,
                 tmp_path / "f.jsonl") as nem:
        assert wait_for(lambda: nem.entries)
    (line,) = read_timeline(tmp_path / "f.jsonl")
    assert line["result"] == "error" and "backend exploded" in line["error"]
    assert backend.of("recover") == []  # nothing was hit, nothing to undo


def test_load_triggers_without_a_monitor_are_refused(backend: RecordingBackend) -> None:
    with pytest.raises(UsageError, match="users triggers need live load figures"):
        Nemesis(plan({"type": "users", "threshold": 1, "services": ["order"]}), backend)


def test_keyboard_interrupt_inside_the_block_restores_everything(backend: RecordingBackend, tmp_path: Path) -> None:
    triggers = [{"type": "time", "threshold": 0, "services": ["stock"], "action": "pause"},
                {"type": "time", "threshold": 0, "services": ["order"], "recovery_time": 0},
                {"type": "time", "threshold": 60, "services": ["payment"]}]  # never reached
    with pytest.raises(KeyboardInterrupt), Nemesis(plan(*triggers), backend, tmp_path / "f.jsonl"):
        assert wait_for(lambda: len(backend.of("apply")) == 2)
        raise KeyboardInterrupt
    assert backend.state == {"order": "running", "stock": "running", "payment": "running"}
    lines = [json.loads(x) for x in (tmp_path / "f.jsonl").read_text().splitlines()]
    assert sorted((x["service"], x["action"], x["reason"]) for x in lines if x["role"] == "recover") == [
        ("order", "start", "run end"), ("stock", "resume", "run end")]
    assert "payment" not in {x["service"] for x in lines}


def test_started_aligns_time_triggers_with_the_load_start(backend: RecordingBackend) -> None:
    # The runner may start the nemesis a little after the load began: time counts from the load.
    began = time.monotonic() - 10
    with Nemesis(plan({"type": "time", "threshold": 5, "services": ["order"]}), backend, started=began):
        assert wait_for(lambda: backend.of("apply"), timeout=2)


def _hook_after(backend: RecordingBackend, tmp_path: Path, trigger: dict, feed) -> dict:
    """A FaultHook's verdict sections after a load in which `feed(monitor)` was all that happened."""
    from shopbench.nemesis.hooks import FaultHook
    from shopbench.rundir import RunDir

    run = RunDir.create("stress", tmp_path / "run")
    hook = FaultHook(plan(trigger), backend=backend)
    hook.bind(run)
    mon = LoadMonitor()
    with hook.during(mon):
        feed(mon)
        time.sleep(0.05)
    return hook.sections(ops=[])


def test_a_users_trigger_whose_input_was_never_fed_says_so(backend: RecordingBackend, tmp_path: Path) -> None:
    from shopbench.checker.verdict import UNKNOWN, add_sections, result_of

    sections = _hook_after(backend, tmp_path, {"type": "users", "threshold": 2, "services": ["stock"],
                                               "action": "pause", "duration": 1}, lambda mon: mon(op()))
    (reason,) = sections["fault_landing"]["unknown_reasons"]
    assert reason.startswith("kill_triggers[0] (users >= 2, pause stock) never fired: its input, the user count, "
                             "was never fed to the load monitor")
    assert "ShopUser" in reason
    assert result_of(add_sections({"anomaly_count": 0}, sections)) == UNKNOWN


def test_a_users_trigger_below_its_threshold_names_the_peak_and_the_flag(backend: RecordingBackend,
                                                                         tmp_path: Path) -> None:
    def feed(mon: LoadMonitor) -> None:
        mon.users = 1
        mon.users = 0  # the load ended

    sections = _hook_after(backend, tmp_path, {"type": "users", "threshold": 2, "services": ["stock"]}, feed)
    (reason,) = sections["fault_landing"]["unknown_reasons"]
    assert "never fired: the load peaked at 1 users" in reason and "(-u / --users)" in reason
    assert sections["faults_not_fired"][0]["message"] == reason


def test_rps_and_checkout_triggers_without_operations_say_their_input_was_missing(
        backend: RecordingBackend, tmp_path: Path) -> None:
    for kind in ("rps", "checkouts"):
        sections = _hook_after(backend, tmp_path / kind, {"type": kind, "threshold": 1, "services": ["order"]},
                               lambda mon: setattr(mon, "users", 3))
        (reason,) = sections["fault_landing"]["unknown_reasons"]
        assert "its input, completed operations, was never fed" in reason, reason
    sections = _hook_after(backend, tmp_path / "fed", {"type": "checkouts", "threshold": 5, "services": ["order"]},
                           lambda mon: mon(op("checkout")))
    (reason,) = sections["fault_landing"]["unknown_reasons"]
    assert "never fired: 1 checkouts completed after " in reason


def test_a_trigger_that_fired_adds_no_reason(backend: RecordingBackend, tmp_path: Path) -> None:
    def feed(mon: LoadMonitor) -> None:
        mon.users = 2
        assert wait_for(lambda: backend.of("apply"))

    sections = _hook_after(backend, tmp_path, {"type": "users", "threshold": 2, "services": ["stock"],
                                               "recovery_time": 0.01}, feed)
    assert sections["faults_not_fired"] == [] and sections["fault_landing"]["unknown_reasons"] == []
