"""What a fault backend is: the few verbs the nemesis and `shopbench services` need.

A backend hits *targets* (a local process tree, a container) of named *services*. `apply` performs
a fault action and says what it hit and whether it *landed* (verified: the tree is gone, every
process is stopped, the container is exited or paused), with the evidence; `result` only says
whether the backend could perform it. `recover` undoes exactly those hits, and returns only when
each is running, resumed and (where a health check is known) answering again.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from shopbench.errors import UsageError
from shopbench.nemesis.config import canonical_service

OK, ERROR, SKIPPED = "ok", "error", "skipped"


@dataclass
class Hit:
    """One target an action reached, and how it went."""

    target: str | None  # "pid 1234" or "container shop-order-1": what the timeline shows
    result: str = OK  # ok | error | skipped
    error: str | None = None
    handle: Any = None  # backend-private: the service name, a container id
    landed: bool | None = None  # did it take effect, checked (None: not checked, e.g. skipped)
    evidence: str | None = None  # what the check saw, one short sentence
    landed_at: float | None = None  # epoch seconds the check established it (or gave up)


@dataclass
class TargetStatus:
    service: str
    target: str | None
    state: str  # running | paused | stopped | exited | ...
    detail: str = ""


class Backend(Protocol):
    kind: str

    def services(self) -> list[str]: ...
    def canonical(self, name: str) -> str: ...
    def apply(self, action: str, service: str, count: int = 1) -> list[Hit]: ...
    def recover(self, action: str, service: str, hits: list[Hit]) -> list[Hit]: ...
    def status(self, services: list[str] | None = None) -> list[TargetStatus]: ...


def resolve_name(name: str, known: list[str], where: str) -> str:
    canon = canonical_service(name, known)
    if canon is None:
        raise UsageError(f"unknown service {name!r}; services known to {where}: {', '.join(known) or 'none'}.")
    return canon
