"""The table of what each workload needs (doctor/needs.py) matches the workload's real calls, and
`--without OP` drops exactly the scenarios that call OP."""

from __future__ import annotations

import random
from typing import Any

import pytest

from shopbench.doctor.needs import COMPONENT_OPS, ENDPOINTS, SCENARIO_OPS, avoid, operations_of, possible, without
from shopbench.driver.outcome import Outcome
from shopbench.errors import UsageError
from shopbench.locust_plugin.config import build_config
from shopbench.workload.probes import PROBES
from shopbench.workload.scenarios import SCENARIOS, Context
from shopbench.workload.skew import Pool
from shopbench.workload.users import USER_TYPES


class Recorder:
    """A driver that says yes to everything and remembers what was asked."""

    scenario: str | None = None

    def __init__(self) -> None:
        self.calls: set[str] = set()
        self._n = 0

    def __getattr__(self, op: str) -> Any:
        if op not in ENDPOINTS:
            raise AttributeError(op)

        def call(*args: Any, **kw: Any) -> Outcome:
            self.calls.add(op)
            self._n += 1
            data = {"item_id": f"i{self._n}", "user_id": f"u{self._n}", "order_id": f"o{self._n}", "stock": 5,
                    "price": 1, "credit": 5, "paid": False, "items": [], "total_cost": 0}
            return Outcome("ok", 200, data, None, 0.001)

        return call


def calls_of(fn: Any, pool: Pool | None = None, n: int = 200) -> set[str]:
    d = Recorder()
    ctx = Context(rng=random.Random(1), pool=pool or Pool())
    for _ in range(n):
        fn(d, ctx)
    return d.calls


def test_seed000_scenarios_call_exactly_what_the_table_says() -> None:
    assert [name for name, _, _ in SCENARIOS] == list(SCENARIO_OPS)
    assert set().union(*SCENARIO_OPS.values()) == COMPONENT_OPS["seed000"]  # the contract's table agrees
    for name, fn, _ in SCENARIOS:
        assert calls_of(fn) == SCENARIO_OPS[name], name


def test_user_types_and_probes_call_nothing_the_table_leaves_out() -> None:
    pool = Pool(items=["1", "2"], users=["1", "2"], hot_items=["3"])
    for name, fn in USER_TYPES.items():  # the contract's table (driver/contract.py MIX_NEEDS)
        alone = calls_of(fn) if name != "hot" else set()  # the hot-item buyer needs its pool
        assert calls_of(fn, pool) | alone <= COMPONENT_OPS[name], name
    probed = set().union(*(calls_of(fn) for fn in PROBES.values()))
    assert probed <= COMPONENT_OPS["probes"]


def test_without_remove_item_drops_only_the_add_remove_add_scenario() -> None:
    cfg = build_config()
    dropped = without(cfg, ["remove_item"])
    assert dropped == ["seed000 scenario add-remove-add-checkout"]
    assert cfg.scenario_weights == [5, 30, 25, 0, 10, 10]
    assert cfg.components == {"seed000": 1}
    assert "remove_item" not in operations_of(cfg)  # the door check does not probe what the run leaves out
    assert "remove_item" in operations_of(build_config())


def test_without_what_every_scenario_needs_is_bad_usage() -> None:
    with pytest.raises(UsageError, match="built on it"):
        without(build_config(), ["checkout"])
    with pytest.raises(UsageError, match="not an operation"):
        without(build_config(), ["removeItem"])
    with pytest.raises(UsageError, match="every scenario"):
        without(build_config(mix="checkout-only"), ["batch_init_orders"])
    cfg = build_config(mix="seed000,probes")
    assert without(cfg, ["pay"]) == ["user type probes"]
    assert set(cfg.components) == {"seed000"}


def test_a_missing_remove_item_names_the_flag_and_the_mixes_left() -> None:
    assert "--without remove_item" in avoid("remove_item")
    assert "--driver" in avoid("checkout") and "--without" not in avoid("checkout")
    runs = possible({"remove_item"})
    assert runs["stress --mix seed000"] == ["remove_item"]
    assert runs["stress --mix seed002"] == [] and runs["consistency burst"] == []


def test_stress_without_reaches_the_run_and_says_what_it_left_out(monkeypatch: pytest.MonkeyPatch,
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    import shopbench.runner.stress as runner
    from shopbench.cli.app import main

    seen: list[Any] = []
    monkeypatch.setattr(runner, "run_stress", lambda cfg, **kw: seen.append(cfg) or 0)
    assert main(["stress", "--headless", "--without", "remove_item"]) == 0
    assert seen[0].scenario_weights == [5, 30, 25, 0, 10, 10]
    assert "left out seed000 scenario add-remove-add-checkout" in capsys.readouterr().err
    assert main(["stress", "--headless", "--without", "checkout"]) == 2  # bad usage, one sentence
    assert "--without checkout: the scenarios and checks are built on it" in capsys.readouterr().err
