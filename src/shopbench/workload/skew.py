"""How a workload picks which item, user or order to touch: uniformly, or Zipf-skewed so a few
ids see most of the traffic (real contention on hot items)."""

from __future__ import annotations

import bisect
import itertools
import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from shopbench.errors import UsageError

SKEW_HELP = "uniform or zipf:S with S a number > 0 (e.g. zipf:1.1)"


@dataclass(frozen=True)
class Skew:
    kind: str = "uniform"  # "uniform" or "zipf"
    s: float = 0.0

    def __str__(self) -> str:
        return "uniform" if self.kind == "uniform" else f"zipf:{self.s:g}"


def parse_skew(text: str, source: str = "--skew") -> Skew:
    raw = (text or "").strip().lower()
    if raw in ("", "uniform"):
        return Skew()
    if raw.startswith("zipf"):
        _, _, exponent = raw.partition(":")
        try:
            s = float(exponent) if exponent else 1.0
        except ValueError:
            s = -1.0
        if s > 0 and s < 100:
            return Skew("zipf", s)
    raise UsageError(f"{source} {text!r} is not a skew; use {SKEW_HELP}.")


class Chooser:
    """Draws an index in [0, n) under a skew. Zipf ranks are shuffled once (with the seed) so the
    hottest id is not always the first one created."""

    def __init__(self, n: int, skew: Skew = Skew(), rng: random.Random | None = None):
        if n <= 0:
            raise ValueError("Chooser needs at least one element")
        self.n = n
        self.skew = skew
        self._rng = rng or random.Random()
        self._cum: list[float] | None = None
        self._perm: list[int] | None = None
        if skew.kind == "zipf":
            weights = [1.0 / (k ** skew.s) for k in range(1, n + 1)]
            self._cum = list(itertools.accumulate(weights))
            self._perm = list(range(n))
            random.Random(n).shuffle(self._perm)

    def index(self, rng: random.Random | None = None) -> int:
        r = rng or self._rng
        if self._cum is None:
            return r.randrange(self.n)
        rank = bisect.bisect_left(self._cum, r.random() * self._cum[-1])
        return self._perm[min(rank, self.n - 1)]  # type: ignore[index]

    def pick(self, seq: Sequence[Any], rng: random.Random | None = None) -> Any:
        return seq[self.index(rng) % len(seq)]


class IdRange(Sequence[str]):
    """The ids "0" … "n-1" that batch_init creates, without holding 100 000 strings."""

    def __init__(self, n: int):
        self.n = n

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, i: int) -> str:  # type: ignore[override]
        if not -self.n <= i < self.n:
            raise IndexError(i)
        return str(i % self.n)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, IdRange) and other.n == self.n


def _ids_to_json(ids: Sequence[str]) -> Any:
    return {"range": ids.n} if isinstance(ids, IdRange) else list(ids)


def _ids_from_json(data: Any) -> Sequence[str]:
    if isinstance(data, dict) and "range" in data:
        return IdRange(int(data["range"]))
    return [str(x) for x in data or []]


@dataclass
class Pool:
    """Entities populated before the load, shared by every simulated client (plain data, so it
    can be shipped to workers as JSON)."""

    items: Sequence[str] = field(default_factory=list)
    users: Sequence[str] = field(default_factory=list)
    hot_items: Sequence[str] = field(default_factory=list)
    orders: Sequence[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {k: _ids_to_json(getattr(self, k)) for k in ("items", "users", "hot_items", "orders")}

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> Pool:
        data = data or {}
        return cls(*(_ids_from_json(data.get(k)) for k in ("items", "users", "hot_items", "orders")))

    @property
    def empty(self) -> bool:
        return not (self.items or self.users or self.hot_items or self.orders)
