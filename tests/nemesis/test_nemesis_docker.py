"""The Docker backend against a fake Engine API (no Docker engine runs here; see tests/fakes)."""

from __future__ import annotations

from pathlib import Path

import pytest
from nemesis_helpers import wait_for

from fakes.docker_engine import FakeDockerEngine
from shopbench.cli.app import main
from shopbench.errors import TargetError, UsageError
from shopbench.nemesis import Nemesis, make_backend, parse_fault_plan, read_timeline
from shopbench.processes import free_port


@pytest.fixture
def compose(engine: FakeDockerEngine) -> FakeDockerEngine:
    for i in (1, 2, 3):
        engine.add(f"shop-order-service-{i}", service="order-service")
    engine.add("shop-stock-service-1", service="stock-service")
    engine.add("shop-payment-service-1", service="payment-service")
    engine.add("other-order-service-1", service="order-service", project="other")
    engine.add("legacy-db-1", service=None)
    engine.add("legacy-db-2", service=None)
    engine.add("unrelated", service=None)
    return engine


def test_lists_by_compose_label_and_by_name_prefix(compose: FakeDockerEngine) -> None:
    backend = make_backend("docker", docker_url=compose.url, project="shop")
    assert backend.services() == ["order-service", "payment-service", "stock-service"]
    assert [c.name for c in backend.containers("order-service")] == [f"shop-order-service-{i}" for i in (1, 2, 3)]
    assert backend.canonical("order") == "order-service"  # the reference shop's name, as an alias
    assert backend.canonical("legacy-db") == "legacy-db"  # no label: a container-name prefix
    assert [c.name for c in backend.containers("legacy-db")] == ["legacy-db-1", "legacy-db-2"]
    with pytest.raises(UsageError, match="unknown service 'cart'"):
        backend.canonical("cart")
    everything = make_backend("docker", docker_url=compose.url)
    assert len(everything.containers("order-service")) == 4  # both projects without --project


def test_count_limits_how_many_containers_are_hit(compose: FakeDockerEngine) -> None:
    backend = make_backend("docker", docker_url=compose.url, project="shop")
    hits = backend.apply("kill", "order-service", count=2)
    assert [h.target for h in hits] == ["container shop-order-service-1", "container shop-order-service-2"]
    assert [compose.by_name(f"shop-order-service-{i}").status for i in (1, 2, 3)] == ["exited", "exited", "running"]
    assert compose.by_name("other-order-service-1").status == "running"
    # Already-dead containers are not hit again: the next kill takes the one still running.
    (hit,) = backend.apply("kill", "order-service", count=2)
    assert hit.target == "container shop-order-service-3"
    (skipped,) = backend.apply("kill", "order-service")
    assert skipped.result == "skipped" and "no running container" in skipped.error
    back = backend.recover("kill", "order-service", hits + [hit])
    assert all(h.result == "ok" for h in back)
    assert all(compose.by_name(f"shop-order-service-{i}").status == "running" for i in (1, 2, 3))
    assert [v for v, *_ in compose.calls].count("start") == 3


def test_pause_unpause_restart_terminate(compose: FakeDockerEngine) -> None:
    backend = make_backend("docker", docker_url=compose.url, project="shop")
    stock = compose.by_name("shop-stock-service-1")
    (paused,) = backend.apply("pause", "stock")
    assert paused.result == "ok" and stock.status == "paused"
    (resumed,) = backend.apply("resume", "stock")
    assert resumed.result == "ok" and stock.status == "running"
    pid = stock.pid
    (restarted,) = backend.apply("restart", "stock")
    assert restarted.result == "ok" and stock.restarts == 1 and stock.pid != pid
    (stopped,) = backend.apply("terminate", "payment-service")
    assert stopped.result == "ok" and compose.by_name("shop-payment-service-1").status == "exited"
    assert ("stop", "shop-payment-service-1", {"t": ["10"]}) in compose.calls
    backend.recover("terminate", "payment-service", [stopped])
    assert compose.by_name("shop-payment-service-1").status == "running"


def test_recovery_waits_for_a_health_check(compose: FakeDockerEngine) -> None:
    c = compose.add("shop-cache-1", service="cache", health="starting")
    backend = make_backend("docker", docker_url=compose.url, project="shop", health_timeout=0.5)
    (hit,) = backend.apply("kill", "cache")
    (back,) = backend.recover("kill", "cache", [hit])
    assert back.result == "error" and "starting" in back.error  # never became healthy
    c.health = "healthy"
    (back,) = backend.recover("kill", "cache", [hit])
    assert back.result == "ok"


def test_nemesis_over_docker_restores_at_the_end(compose: FakeDockerEngine, tmp_path: Path) -> None:
    backend = make_backend("docker", docker_url=compose.url, project="shop")
    plan = parse_fault_plan({"kill_triggers": [
        {"type": "time", "threshold": 0, "services": ["order-service"], "count": 2, "recovery_time": 0},
        {"type": "time", "threshold": 0, "services": ["stock"], "action": "pause"},
    ]}, backend=backend)
    with Nemesis(plan, backend, tmp_path / "faults.jsonl") as nem:
        assert wait_for(lambda: len(nem.entries) == 3)
        assert compose.by_name("shop-stock-service-1").status == "paused"
    assert all(c.status == "running" for c in compose.containers.values())
    lines = read_timeline(tmp_path / "faults.jsonl")
    assert sorted(x["target"] for x in lines if x["role"] == "fault") == [
        "container shop-order-service-1", "container shop-order-service-2", "container shop-stock-service-1"]
    assert sorted(x["action"] for x in lines if x["role"] == "recover") == ["resume", "start", "start"]


def test_cli_against_the_fake_engine(compose: FakeDockerEngine, capsys: pytest.CaptureFixture) -> None:
    common = ["--backend", "docker", "--docker-url", compose.url, "--project", "shop"]
    assert main(["services", "list", *common]) == 0
    out = capsys.readouterr().out
    assert "order-service" in out and "│ 3 " in out
    assert main(["services", "kill", "order-service", "--count", "2", *common]) == 0
    assert "shop-order-service-2" in capsys.readouterr().out
    assert main(["services", "status", "order-service", *common]) == 0
    assert capsys.readouterr().out.count("exited") == 2
    assert main(["services", "restart", "shop-order-service-1", *common]) == 0  # a name prefix works too
    assert compose.by_name("shop-order-service-1").status == "running"
    assert main(["services", "start", *common]) == 2  # local only: one clear sentence
    assert "with --backend docker" in capsys.readouterr().err


def test_unreachable_engine_is_exit_3(capsys: pytest.CaptureFixture) -> None:
    url = f"tcp://127.0.0.1:{free_port()}"
    with pytest.raises(TargetError, match="cannot reach the Docker engine"):
        make_backend("docker", docker_url=url)
    assert main(["services", "list", "--backend", "docker", "--docker-url", url]) == 3
    assert "cannot reach the Docker engine" in capsys.readouterr().err


@pytest.mark.parametrize("action, state", [("kill", "exited"), ("pause", "paused")])
def test_kill_and_pause_reach_every_replica_and_are_verified(compose: FakeDockerEngine, action: str,
                                                             state: str) -> None:
    backend = make_backend("docker", docker_url=compose.url, project="shop")
    hits = backend.apply(action, "order-service", count=3)
    assert len(hits) == 3 and all(h.result == "ok" and h.landed for h in hits), hits
    assert [compose.by_name(f"shop-order-service-{i}").status for i in (1, 2, 3)] == [state] * 3
    for i, h in zip((1, 2, 3), hits, strict=True):
        assert f"reports container shop-order-service-{i} {state}" in h.evidence
    assert compose.by_name("other-order-service-1").status == "running"  # another project is not touched
    back = backend.recover(action, "order-service", hits)
    assert all(h.landed for h in back)
    assert all(compose.by_name(f"shop-order-service-{i}").status == "running" for i in (1, 2, 3))


def test_a_skipped_docker_fault_did_not_land(compose: FakeDockerEngine, tmp_path: Path) -> None:
    backend = make_backend("docker", docker_url=compose.url, project="shop")
    compose.by_name("shop-stock-service-1").status = "exited"
    plan = parse_fault_plan({"kill_triggers": [{"type": "time", "threshold": 0, "services": ["stock"],
                                                "action": "pause"}]}, backend=backend)
    with Nemesis(plan, backend, tmp_path / "faults.jsonl") as nem:
        assert wait_for(lambda: len(nem.entries) == 1)
    (line,) = read_timeline(tmp_path / "faults.jsonl")
    assert line["result"] == "skipped" and line["landed"] is False and "no running container" in line["evidence"]
