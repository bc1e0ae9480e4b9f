"""The stress workload's configuration: plain data, checked once, shared by the runner, the
locustfile and (as JSON) remote workers."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from shopbench.errors import UsageError
from shopbench.workload.scenarios import SCENARIOS
from shopbench.workload.skew import parse_skew
from shopbench.workload.users import SEED002_WEIGHTS, USER_TYPES

# A mix is a set of components, each a Locust user class with a weight.
COMPONENTS = ("seed000", *USER_TYPES, "probes", "checkout-only")
MIXES: dict[str, dict[str, int]] = {
    "seed000": {"seed000": 1},
    "seed002": dict(SEED002_WEIGHTS),
    "hot-items": {"hot": 1},
    "checkout-only": {"checkout-only": 1},
    "probes": {"probes": 1},
}
SEED000_WEIGHTS = [w for _, _, w in SCENARIOS]
MIX_HELP = (f"{'|'.join(MIXES)}, or weights per user type like 'order:5,hot:1' "
            f"(types: {', '.join(COMPONENTS)})")


@dataclass
class StressConfig:
    mix: str = "seed000"
    components: dict[str, int] = field(default_factory=lambda: {"seed000": 1})
    scenario_weights: list[int] = field(default_factory=lambda: list(SEED000_WEIGHTS))
    wait: tuple[float, float] = (1.0, 3.0)
    arrival_rate: float | None = None
    max_users: int = 1000
    generators: int = 1  # open model: Locust users that generate arrivals (the rate is split among them)
    skew: str = "uniform"
    seed: int | None = None
    timeout: float = 10.0
    # pool populated before the load (shared items and users; hot items for the race)
    pool_items: int = 100
    pool_users: int = 100
    pool_stock: int = 1000
    pool_credit: int = 1_000_000
    pool_price: int = 1
    hot_items: int = 3
    hot_stock: int = 5
    # checkout-only mode (seed 000, 2024): batch_init sizes
    init_items: int = 100_000
    init_users: int = 100_000
    init_orders: int = 100_000
    init_stock: int = 1_000_000
    init_credit: int = 1_000_000
    init_price: int = 1

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> StressConfig:
        """A configuration that arrived as JSON (a master's setup message), checked field by field
        with pydantic like every other file shopbench reads; unknown keys (a newer master) are ignored."""
        from pydantic import TypeAdapter, ValidationError

        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        try:
            return TypeAdapter(cls).validate_python(known)
        except ValidationError as exc:
            problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
            raise UsageError(f"the stress configuration received is not valid ({problems}).") from None

    # -- what the mix needs populated -------------------------------------------------------------
    @property
    def needs_pool(self) -> bool:
        pooled = {"inventory", "order", "monitor", "hot"}
        return bool(pooled & set(self.components)) or ("seed000" in self.components and self.skew != "uniform")

    @property
    def needs_hot(self) -> bool:
        return "hot" in self.components

    @property
    def needs_batch(self) -> bool:
        return "checkout-only" in self.components


def parse_mix(text: str) -> dict[str, int]:
    raw = (text or "").strip()
    if raw in MIXES:
        return dict(MIXES[raw])
    out: dict[str, int] = {}
    for part in filter(None, (p.strip() for p in raw.split(","))):
        name, sep, weight = part.partition(":")
        name = name.strip()
        if name not in COMPONENTS or (sep and not weight.strip().isdigit()):
            raise UsageError(f"--mix {text!r}: {part!r} is not understood; use {MIX_HELP}.")
        out[name] = int(weight) if sep else 1
    if not out or not any(out.values()):
        raise UsageError(f"--mix {text!r}: no user type with a positive weight; use {MIX_HELP}.")
    return {k: v for k, v in out.items() if v > 0}


def parse_weights(text: str, components: dict[str, int]) -> tuple[dict[str, int], list[int] | None]:
    """`--weights`: with the seed000 mix, one weight per scenario (6); otherwise one per user type
    of the mix, in the mix's order. Returns (component weights, scenario weights or None)."""
    try:
        weights = [int(w) for w in text.split(",")]
    except ValueError:
        weights = []
    if not weights or any(w < 0 for w in weights) or not any(weights):
        raise UsageError(f"--weights {text!r}: give non-negative integers separated by commas, e.g. 5,30,25,20,10,10.")
    if list(components) == ["seed000"]:
        if len(weights) != len(SCENARIOS):
            raise UsageError(f"--weights {text!r}: the seed000 mix has {len(SCENARIOS)} scenarios "
                             f"({', '.join(n for n, _, _ in SCENARIOS)}); give {len(SCENARIOS)} weights.")
        return components, weights
    if len(weights) != len(components):
        raise UsageError(f"--weights {text!r}: the mix has {len(components)} user types ({', '.join(components)}); "
                         f"give {len(components)} weights.")
    return dict(zip(components, weights, strict=True)), None


def parse_wait(text: str) -> tuple[float, float]:
    lo, sep, hi = (text or "").partition("-")
    try:
        a = float(lo)
        b = float(hi) if sep else a
    except ValueError:
        a, b = -1.0, -1.0
    if a < 0 or b < a:
        raise UsageError(f"--wait {text!r}: give seconds as MIN-MAX (1-3) or one number (0.5), MIN <= MAX.")
    return a, b


def build_config(*, mix: str = "seed000", weights: str | None = None, wait: str = "1-3",
                 arrival_rate: float | None = None, max_users: int = 1000, skew: str = "uniform",
                 mode: str | None = None, seed: int | None = None, **sizes: Any) -> StressConfig:
    if mode not in (None, "closed", "checkout-only"):
        raise UsageError(f"--mode {mode!r}: choose checkout-only (seed 000's 2024 mode) or leave it out.")
    if mode == "checkout-only":
        mix = "checkout-only"
    components = parse_mix(mix)
    scenario_weights = list(SEED000_WEIGHTS)
    if weights:
        components, sw = parse_weights(weights, components)
        scenario_weights = sw or scenario_weights
    if arrival_rate is not None and not arrival_rate > 0:
        raise UsageError(f"--arrival-rate {arrival_rate}: give a positive number of iterations per second.")
    if max_users < 1:
        raise UsageError(f"--max-users {max_users}: give at least 1.")
    parse_skew(skew)
    cfg = StressConfig(mix=mix, components={k: v for k, v in components.items() if v > 0},
                       scenario_weights=scenario_weights, wait=parse_wait(wait), arrival_rate=arrival_rate,
                       max_users=max_users, skew=str(parse_skew(skew)), seed=seed)
    for key, value in sizes.items():
        if value is None:
            continue
        if key not in StressConfig.__dataclass_fields__:
            raise TypeError(key)
        if not isinstance(value, int) or value < 0 or (key.startswith(("init_items", "init_users", "hot_items"))
                                                         and value < 1):
            raise UsageError(f"--{key.replace('_', '-')} {value}: give a positive integer.")
        setattr(cfg, key, value)
    return cfg
