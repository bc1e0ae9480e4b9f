"""Faults during a real consistency burst on the reference shop, through the runner's fault hook."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from shopbench.nemesis import make_backend, parse_fault_plan, read_timeline
from shopbench.nemesis.hooks import FaultHook
from shopbench.runner.consistency import run_consistency
from shopbench.shop import RefShop
from shopbench.workload.consistency import ConsistencyConfig

pytestmark = pytest.mark.slow


def kill_plan(service: str, after: int, recovery_time: float) -> object:
    return parse_fault_plan({"kill_triggers": [{"type": "checkouts", "threshold": after, "services": [service],
                                                "recovery_time": recovery_time}]})


def burst_phase(run_dir: Path) -> dict:
    manifest = json.loads((run_dir / "run.json").read_text())
    return next(p for p in manifest["phases"] if p["name"] == "burst")


@pytest.mark.parametrize("service", ["stock-service", "payment-service", "order-service"])
def test_sigkill_each_service_mid_burst_and_restore_it_valid(tmp_path: Path, service: str) -> None:
    cfg = ConsistencyConfig(items=10, stock=5, users=300, credit=2, orders=300, concurrency=20, seed=7,
                            settle_timeout=15)
    hook = FaultHook(kill_plan(service, after=30, recovery_time=0.3))
    result = run_consistency(cfg, out=str(tmp_path / "run"), during_burst=hook)
    verdict = result.verdict
    assert verdict["valid"], (verdict["anomalies"][:5], verdict.get("warnings"), verdict.get("faults"))
    lines = read_timeline(result.run.file("faults.jsonl"))
    name = service.split("-")[0]
    assert [(x["role"], x["action"], x["service"], x["result"]) for x in lines] == [
        ("fault", "kill", name, "ok"), ("recover", "start", name, "ok")], lines
    burst = burst_phase(result.run.path)
    assert lines[0]["start"] < burst["end"], (lines, burst)  # the kill landed during the burst
    assert lines[0]["target"] != lines[1]["target"]  # a new process
    (fault,) = verdict["faults"]
    assert fault["service"] == name and fault["restored"] and fault["trigger"]["type"] == "checkouts"
    assert fault["trigger"]["value"] >= 30
    manifest = json.loads(result.run.file("run.json").read_text())
    assert manifest["config"]["faults"]["kill_triggers"][0]["services"] == [name]


@pytest.mark.parametrize("flaw, valid", [(None, True), ("no-recovery", False)])
def test_order_killed_mid_burst_with_and_without_recovery(tmp_path: Path, flaw: str | None, valid: bool) -> None:
    # --step-delay holds each checkout between its stock and payment steps, so the kill is sure to
    # interrupt some (2 s: a kill late by a loaded machine still finds the second wave mid-saga); a shop
    # that recovers finishes them after the restart, the flawed one forgets them.
    with RefShop(tmp_path / "shop", flaw=flaw, extra_args={"order": ["--step-delay", "2.0"]}) as shop:
        hook = FaultHook(kill_plan("order", after=10, recovery_time=0.3),
                         backend=make_backend("local", supervisor=shop.supervisor))
        cfg = ConsistencyConfig(items=5, stock=100, users=100, credit=5, orders=100, concurrency=50, seed=3,
                                settle_timeout=15)
        result = run_consistency(cfg, target=shop.target, out=str(tmp_path / "run"), during_burst=hook)
        for name in ("order", "stock", "payment"):
            assert shop.supervisor.state(name) == "running"
    assert result.verdict["valid"] is valid, result.verdict["anomalies"][:3]
    assert result.exit_code == (0 if valid else 1)
    (fault,) = result.verdict["faults"]
    assert fault["during_service"]["indeterminate"] > 0  # the clients of interrupted checkouts saw it


def test_cli_consistency_with_faults(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    from shopbench.cli.app import main

    config = tmp_path / "kill_config.json"
    config.write_text(json.dumps({"kill_triggers": [
        # At 0 s: a fast machine finishes this burst in tens of milliseconds.
        {"type": "time", "threshold": 0, "services": ["stock-service"], "action": "pause", "duration": 0.3},
        {"type": "checkouts", "threshold": 20, "services": ["payment-service"], "recovery_time": 0}]}))
    out = tmp_path / "run"
    code = main(["consistency", "--items", "5", "--stock", "4", "--users", "150", "--orders", "150",
                 "--concurrency", "15", "--seed", "2", "--settle-timeout", "15", "--out", str(out), "--json",
                 "--faults", str(config)])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    verdict = json.loads(captured.out)
    assert {f["service"] for f in verdict["faults"]} == {"stock", "payment"}
    assert all(f["restored"] for f in verdict["faults"])
    assert verdict["faults_not_fired"] == []
    assert "fault 0: pause stock" in captured.err or "fault 1: pause stock" in captured.err
    actions = [(x["service"], x["action"]) for x in read_timeline(out / "faults.jsonl")]
    assert ("stock", "resume") in actions and ("payment", "start") in actions


def test_cli_consistency_rejects_a_bad_fault_config_before_running(tmp_path: Path,
                                                                  capsys: pytest.CaptureFixture) -> None:
    from shopbench.cli.app import main

    config = tmp_path / "kill_config.json"
    config.write_text(json.dumps({"kill_triggers": [{"type": "cpu", "threshold": 1, "services": ["order"]}]}))
    out = tmp_path / "run"
    assert main(["consistency", "--out", str(out), "--faults", str(config)]) == 2
    assert "kill_triggers[0].type is 'cpu'" in capsys.readouterr().err
    assert not out.exists()  # nothing started
    config.write_text(json.dumps({"kill_triggers": [{"type": "time", "threshold": 1, "services": ["cart"]}]}))
    assert main(["consistency", "--items", "2", "--users", "2", "--orders", "2", "--concurrency", "2",
                 "--out", str(out), "--faults", str(config)]) == 2
    assert "kill_triggers[0].services" in capsys.readouterr().err


def test_a_trigger_that_never_fires_makes_the_run_unknown(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    """Asked for but not exercised: a fault plan that never ran is no clean bill (issue 19.1)."""
    from shopbench.cli.app import main

    config = tmp_path / "kill_config.json"
    config.write_text(json.dumps({"kill_triggers": [
        {"type": "time", "threshold": 600, "services": ["order-service"], "recovery_time": 0}]}))
    out = tmp_path / "run"
    code = main(["consistency", "--items", "3", "--users", "20", "--orders", "20", "--concurrency", "5",
                 "--out", str(out), "--json", "--faults", str(config)])
    captured = capsys.readouterr()
    assert code == 4, captured.err
    verdict = json.loads(captured.out)
    assert verdict["faults"] == [] and verdict["result"] == "unknown"
    [skipped] = verdict["faults_not_fired"]
    assert skipped["index"] == 0 and "never fired" in skipped["message"]
    (reason,) = verdict["unknown_reasons"]
    assert reason == skipped["message"]
    assert reason.startswith("kill_triggers[0] (time >= 600, kill order) never fired: the load ended after ")
    assert "make the load last longer than 600 s" in reason and str(config) in reason


def test_a_fault_that_cannot_land_makes_the_run_unknown_with_the_reason(tmp_path: Path, shop: RefShop,
                                                                        capsys: pytest.CaptureFixture) -> None:
    """A shop shopbench did not start and cannot find: the kill is skipped, and the verdict must not
    pass it off as a fault the shop survived (no outage figures, UNKNOWN, exit 4)."""
    from shopbench.cli.app import main

    urls = tmp_path / "urls.json"
    urls.write_text(json.dumps(shop.target.to_urls_json()))
    services = tmp_path / "services.toml"
    services.write_text('[services.order-service]\ncommand = "python -m not_this_shop"\n')
    config = tmp_path / "kill_config.json"
    config.write_text(json.dumps({"kill_triggers": [
        {"type": "time", "threshold": 0, "services": ["order-service"], "recovery_time": 0.2}]}))
    out = tmp_path / "run"
    code = main(["consistency", "--urls", str(urls), "--items", "3", "--users", "30", "--orders", "30",
                 "--concurrency", "5", "--out", str(out), "--json", "--faults", str(config),
                 "--services-file", str(services)])
    captured = capsys.readouterr()
    assert code == 4, captured.err
    assert "cannot land" in captured.err  # warned before the run
    verdict = json.loads(captured.out)
    assert verdict["result"] == "unknown" and verdict["valid"] is False
    (reason,) = [r for r in verdict["unknown_reasons"] if "did not land" in r]
    assert "order-service" in reason and "not started by shopbench" in reason
    (fault,) = verdict["faults"]
    assert fault["landed"] is False and fault["outage_s"] is None and fault["answered_again"] is None
    assert fault["throughput_recovered"] is None and fault["restored"] is None
    (line,) = read_timeline(out / "faults.jsonl")
    assert line["result"] == "skipped" and line["landed"] is False and line["landed_s"] is None
    assert verdict["fault_landing"]["landed"] == 0


def test_landed_faults_record_evidence_and_time(tmp_path: Path, shop: RefShop) -> None:
    for name in ("stock", "payment", "order"):
        shop.supervisor.ensure_running(name)
    plan = parse_fault_plan({"kill_triggers": [
        {"type": "time", "threshold": 0, "services": ["stock"], "recovery_time": 0.2},
        {"type": "time", "threshold": 0, "services": ["payment"], "action": "pause", "duration": 0.2}]})
    hook = FaultHook(plan, backend=make_backend("local", supervisor=shop.supervisor))
    cfg = ConsistencyConfig(items=3, stock=5, users=40, credit=5, orders=40, concurrency=5, seed=4,
                            settle_timeout=15)
    result = run_consistency(cfg, target=shop.target, out=str(tmp_path / "run"), during_burst=hook)
    lines = read_timeline(result.run.file("faults.jsonl"))
    assert len(lines) == 4 and all(x["landed"] for x in lines), lines
    kill = next(x for x in lines if x["action"] == "kill")
    assert "refuses connections" in kill["evidence"] and 0 <= kill["landed_s"] < 2
    pause = next(x for x in lines if x["action"] == "pause")
    assert "stopped" in pause["evidence"] and 0 <= pause["landed_s"] < 2
    assert result.verdict["fault_landing"] == {"faults": 2, "landed": 2, "not_landed": [], "unknown_reasons": []}
    assert result.verdict["result"] == "valid"
    # The hook is a Companion: the same sections again, computed by the checker from the run's files.
    from shopbench.runner.companion import Companion, VerdictInputs

    assert isinstance(hook, Companion) and hook.name == "faults"
    sections = hook.sections(VerdictInputs(result.run, result.run.file("ops.jsonl")))
    assert set(sections) == {"faults", "faults_not_fired", "fault_landing"}
    assert sections["faults"] == result.verdict["faults"]
