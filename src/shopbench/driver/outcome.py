"""What one shop operation came to, as a workload sees it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(slots=True)
class Outcome:
    kind: str  # "ok" (2xx), "fail" (4xx: a definite no, no effect) or "info" (indeterminate)
    status: int | None
    data: Any
    error: str | None
    latency: float

    @property
    def ok(self) -> bool:
        return self.kind == "ok"

    @property
    def failed(self) -> bool:
        return self.kind == "fail"

    @property
    def indeterminate(self) -> bool:
        return self.kind == "info"
