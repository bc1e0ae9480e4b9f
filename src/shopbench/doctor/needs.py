"""Which shop endpoints each workload and check needs, in one table, so `doctor` can say which runs
are possible, an UNKNOWN can name the flag that avoids a missing endpoint, and `stress --without OP`
can drop exactly the scenarios that call OP.

The tables are checked against the workload's real calls (tests/doctor/test_needs.py runs every
scenario and user type on a recording driver).
"""

from __future__ import annotations

from typing import Any

from shopbench.driver.contract import CHECK_READS, MIX_NEEDS, operations_needed
from shopbench.errors import UsageError

# operation -> (service, method, path) as SHOP-API.md spells it (driver/rest.py sends it)
ENDPOINTS: dict[str, tuple[str, str, str]] = {
    "create_item": ("stock", "POST", "/stock/item/create/{price}"),
    "batch_init_stock": ("stock", "POST", "/stock/batch_init/{n}/{starting_stock}/{item_price}"),
    "find_item": ("stock", "GET", "/stock/find/{item_id}"),
    "add_stock": ("stock", "POST", "/stock/add/{item_id}/{amount}"),
    "subtract_stock": ("stock", "POST", "/stock/subtract/{item_id}/{amount}"),
    "create_user": ("payment", "POST", "/payment/create_user"),
    "batch_init_users": ("payment", "POST", "/payment/batch_init/{n}/{starting_money}"),
    "find_user": ("payment", "GET", "/payment/find_user/{user_id}"),
    "add_funds": ("payment", "POST", "/payment/add_funds/{user_id}/{amount}"),
    "pay": ("payment", "POST", "/payment/pay/{user_id}/{amount}"),
    "create_order": ("order", "POST", "/orders/create/{user_id}"),
    "batch_init_orders": ("order", "POST", "/orders/batch_init/{n}/{n_items}/{n_users}/{item_price}"),
    "find_order": ("order", "GET", "/orders/find/{order_id}"),
    "add_item": ("order", "POST", "/orders/addItem/{order_id}/{item_id}/{quantity}"),
    "remove_item": ("order", "DELETE", "/orders/removeItem/{order_id}/{item_id}"),
    "checkout": ("order", "POST", "/orders/checkout/{order_id}"),
}

_BUY = frozenset({"create_item", "add_stock", "create_user", "add_funds", "create_order", "add_item", "checkout"})
# seed000's six scenarios (workload/scenarios.py SCENARIOS), by name
SCENARIO_OPS: dict[str, frozenset[str]] = {
    "create-item-and-stock": frozenset({"create_item", "add_stock"}),
    "checkout-one-item": _BUY,
    "checkout-two-items": _BUY,
    "add-remove-add-checkout": _BUY | {"remove_item"},
    "checkout-out-of-stock": _BUY,
    "checkout-no-credit": _BUY - {"add_funds"},
}
# the user types of --mix: the driver contract's table (driver/contract.py) is their one home;
# seed000's is the union of its scenarios above (tested)
COMPONENT_OPS: dict[str, frozenset[str]] = dict(MIX_NEEDS)
# what every run reads back to judge the ledger, and what the consistency burst calls
CHECK_OPS: dict[str, frozenset[str]] = {
    "final-state reads (every verdict)": CHECK_READS,
    "consistency burst": frozenset(operations_needed(consistency=True) - CHECK_READS),
}
OPTIONAL = frozenset({"remove_item", "subtract_stock", "pay", "batch_init_stock", "batch_init_users",
                      "batch_init_orders"})  # a run can do without these (a flag or a mix avoids them)


def endpoint(op: str) -> str:
    service, method, path = ENDPOINTS.get(op, ("?", "?", op))
    return f"{method} {path}"


def scenarios_using(op: str) -> list[str]:
    return [name for name, ops in SCENARIO_OPS.items() if op in ops]


def avoid(op: str) -> str:
    """The flags that make a run without `op`, as a sentence's second half."""
    using = [f"seed000's {name} scenario" for name in scenarios_using(op)]
    using += [f"the {name} user type" for name, needed in COMPONENT_OPS.items()
              if op in needed and name not in ("seed000", "checkout-only")]
    if op in OPTIONAL and using:
        return (f"run stress with --without {op} (leaves out {', '.join(using)}), or plug in a --driver that maps "
                f"{op} to your route")
    if op.startswith("batch_init_"):
        return "populate one entity at a time with --populate api, or leave out --mode checkout-only"
    return (f"plug in a --driver that maps {op} to your route (README \"Your shop's own API\"); "
            "`shopbench doctor --urls urls.json` lists what your shop can run")


def without(cfg: Any, ops: list[str]) -> list[str]:
    """Drop from a StressConfig every scenario and user type that calls one of `ops`; returns what
    was dropped, in words. A mix left with nothing to run is bad usage."""
    unknown = [op for op in ops if op not in ENDPOINTS]
    if unknown:
        raise UsageError(f"--without {unknown[0]}: not an operation; choose from {', '.join(sorted(OPTIONAL))}.")
    core = [op for op in ops if op not in OPTIONAL]
    if core:
        raise UsageError(f"--without {core[0]}: the scenarios and checks are built on it; a run can do without "
                         f"{', '.join(sorted(OPTIONAL))} only. Plug in a --driver that maps it to your route.")
    drop = set(ops)
    dropped: list[str] = []
    if "seed000" in cfg.components:
        weights = list(cfg.scenario_weights)
        for i, (name, needed) in enumerate(SCENARIO_OPS.items()):
            if weights[i] and needed & drop:
                weights[i] = 0
                dropped.append(f"seed000 scenario {name}")
        cfg.scenario_weights = weights
        if not any(weights):
            del cfg.components["seed000"]
    for name in [c for c in cfg.components if c != "seed000"]:
        if COMPONENT_OPS.get(name, frozenset()) & drop:
            del cfg.components[name]
            dropped.append(f"user type {name}")
    if not cfg.components:
        raise UsageError(f"--without {','.join(ops)}: every scenario of --mix {cfg.mix} needs it; "
                         "choose another --mix or plug in a --driver.")
    return dropped


def operations_of(cfg: Any) -> set[str]:
    """What a stress run of `cfg` sends: its user types', seed000's scenarios with a weight only (so
    `--without` keeps the door check of driver/contract.py from probing what the run leaves out)."""
    need = set(CHECK_READS)
    for component in cfg.components:
        if component == "seed000":
            for weight, ops in zip(cfg.scenario_weights, SCENARIO_OPS.values(), strict=True):
                need |= ops if weight else set()
        else:
            need |= COMPONENT_OPS.get(component, frozenset())
    return need


def possible(missing: set[str]) -> dict[str, list[str]]:
    """For each built-in mix and check: the missing operations it needs (empty: it can run)."""
    from shopbench.locust_plugin.config import MIXES

    out: dict[str, list[str]] = {}
    for mix, components in MIXES.items():
        needed: set[str] = set()
        for component in components:
            needed |= COMPONENT_OPS[component]
        out[f"stress --mix {mix}"] = sorted(needed & missing)
    for check, needed_ops in CHECK_OPS.items():
        out[check] = sorted(needed_ops & missing)
    return out
