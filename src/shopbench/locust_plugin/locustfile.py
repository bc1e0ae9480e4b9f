"""The built-in shopbench locustfile: the user classes of the configured mix.

Locust imports this file by path (`-f`); the classes are built from the installed session's
configuration (see `session`): the seed000 scenarios as one user class with weighted tasks, each
seed 002 user type, the hot-item buyer, the error prober, the checkout-only client, or, with
`--arrival-rate`, one `ArrivalUser` that draws every iteration from the same weights.
"""

from __future__ import annotations

from typing import Any

from locust import between, constant

from shopbench.locust_plugin import internals
from shopbench.locust_plugin import session as sessions
from shopbench.locust_plugin.openmodel import ArrivalUser
from shopbench.locust_plugin.user import ShopUser
from shopbench.workload.probes import any_probe
from shopbench.workload.scenarios import SCENARIOS, checkout_only
from shopbench.workload.users import USER_TYPES

CLASS_NAMES = {"seed000": "Seed000User", "inventory": "InventoryManager", "order": "OrderProcessor",
               "monitor": "MonitorUser", "hot": "HotItemBuyer", "probes": "ErrorProber",
               "checkout-only": "CheckoutOnlyUser"}


def iterations(component: str, scenario_weights: list[int]) -> list[tuple[Any, int]]:
    """The (function, weight) pairs one component contributes."""
    if component == "seed000":
        return [(fn, w) for (_, fn, _), w in zip(SCENARIOS, scenario_weights, strict=True) if w > 0]
    if component == "probes":
        return [(any_probe, 1)]
    if component == "checkout-only":
        return [(checkout_only, 1)]
    return [(USER_TYPES[component], 1)]


def _as_task(fn: Any) -> Any:
    def run(user: ShopUser) -> None:
        fn(user.driver, user.ctx)

    run.__name__ = fn.__name__
    return run


def _wait(cfg: Any) -> Any:
    return constant(cfg.wait[0]) if cfg.wait[0] == cfg.wait[1] else between(*cfg.wait)


def _arrival_pairs(cfg: Any) -> list[tuple[Any, int]]:
    pairs: list[tuple[Any, int]] = []
    total = sum(cfg.components.values())
    for component, weight in cfg.components.items():
        its = iterations(component, cfg.scenario_weights)
        share = sum(w for _, w in its)
        # Keep each component's share of all iterations equal to its weight in the mix.
        pairs += [(fn, w * weight * 1000 // (share * total) or 1) for fn, w in its]
    return pairs


def build_user_classes(session: sessions.Session) -> dict[str, type]:
    cfg = session.config
    if session.remote_worker:
        # A worker on another machine learns the mix from the master (the setup message), after
        # Locust has loaded this file: define every class the master may ask for, configure later.
        classes = {name: type(name, (ShopUser,), {"tasks": [], "wait_time": _wait(cfg), "__module__": __name__})
                   for name in CLASS_NAMES.values()}
        classes["ArrivalGenerator"] = type("ArrivalGenerator", (ArrivalUser,),
                                           {"iterations": (), "__module__": __name__})
        session.on_config = lambda master: configure(classes, master)
        configure(classes, cfg)
        return classes
    if cfg.arrival_rate:
        cls = type("ArrivalGenerator", (ArrivalUser,), {"iterations": _arrival_pairs(cfg), "__module__": __name__})
        return {"ArrivalGenerator": cls}
    classes: dict[str, type] = {}
    for component, weight in cfg.components.items():
        tasks = {_as_task(fn): w for fn, w in iterations(component, cfg.scenario_weights)}
        name = CLASS_NAMES[component]
        classes[name] = type(name, (ShopUser,), {"tasks": tasks, "weight": weight, "wait_time": _wait(cfg),
                                                 "__module__": __name__})
    return classes


def configure(classes: dict[str, type], cfg: Any) -> None:
    """Give already-defined classes the mix of `cfg` (tasks as Locust keeps them: a list with each
    task repeated by its weight, read afresh at every pick)."""
    for component, name in CLASS_NAMES.items():
        cls = classes[name]
        internals.set_tasks(cls, [_as_task(fn) for fn, w in iterations(component, cfg.scenario_weights)
                                  for _ in range(w)])
        cls.wait_time = _wait(cfg)
    classes["ArrivalGenerator"].iterations = _arrival_pairs(cfg)


globals().update(build_user_classes(sessions.current()))
