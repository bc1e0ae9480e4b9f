"""The fault plan: seed 001's `kill_config.json`, accepted unchanged, plus two optional fields.

    {"kill_triggers": [{"type": "users", "threshold": 200, "services": ["order-service"],
                        "count": 1, "recovery_time": 30}]}

Seed fields keep their meaning: `type` is one of `time` (seconds since the load started,
fractions allowed), `users` (current users >=), `rps` (current requests/s >=) and `checkouts`
(completed checkouts >=); `services` are hit when the trigger fires; `count` is how many of a
service's containers/processes are hit; `recovery_time` is how long the fault lasts before the
service is restored (0: it stays down until the run ends, then it is restored).

Our additions: `action` (kill, the seed's and the default; terminate; pause; resume; restart) and
`duration`, an upper bound on how long the fault lasts (meant for pauses: a pause with no
recovery_time and a duration of 2 is resumed after 2 s).

Network actions (`shopbench.nemesis.network`) name `links` instead of `services`:
`{"type": "time", "threshold": 2, "action": "partition", "links": ["order->payment"], "duration": 3}`;
`delay` takes `ms` and `jitter` (milliseconds), `bandwidth` takes `rate` (KB/s).
"""

from __future__ import annotations

import math
from collections.abc import Collection, Iterable
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from shopbench.configfile import read_config, validate
from shopbench.errors import UsageError
from shopbench.nemesis.network import NETWORK_ACTIONS, canonical_link

TRIGGER_TYPES = ("time", "users", "rps", "checkouts")
PROCESS_ACTIONS = ("kill", "terminate", "pause", "resume", "restart")
ACTIONS = PROCESS_ACTIONS + NETWORK_ACTIONS

# Seed 001 names the reference layout's services the Docker Compose way.
ALIASES = {"order-service": "order", "stock-service": "stock", "payment-service": "payment"}
REVERSE_ALIASES = {v: k for k, v in ALIASES.items()}


class Trigger(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    type: Literal["time", "users", "rps", "checkouts"] = Field(description=f"one of {', '.join(TRIGGER_TYPES)}")
    threshold: float = Field(ge=0, description="a number >= 0")
    services: list[str] = Field(default_factory=list, description="a non-empty list of service names")
    count: int = Field(default=1, ge=1, description="an integer >= 1")
    recovery_time: float = Field(default=0, ge=0,
                                 description="a number of seconds >= 0 (0: down until the run ends)")
    action: Literal["kill", "terminate", "pause", "resume", "restart",
                    "delay", "partition", "blackhole", "reset", "bandwidth"] = Field(
        default="kill", description=f"one of {', '.join(ACTIONS)}")
    duration: float | None = Field(default=None, gt=0, description="a number of seconds > 0")
    links: list[str] = Field(default_factory=list,
                             description='a list of links SOURCE->TARGET, e.g. ["order->payment"]')
    ms: float | None = Field(default=None, ge=0, description="a number of milliseconds >= 0")
    jitter: float = Field(default=0, ge=0, description="a number of milliseconds >= 0")
    rate: float | None = Field(default=None, gt=0, description="a number of KB/s > 0")

    @field_validator("threshold", "recovery_time", "duration", "ms", "jitter", "rate")
    @classmethod
    def _finite(cls, v: float | None) -> float | None:
        if v is not None and not math.isfinite(v):
            raise ValueError("must be a finite number")
        return v

    @field_validator("services")
    @classmethod
    def _names(cls, v: list[str]) -> list[str]:
        for name in v:
            if not name.strip():
                raise ValueError("service names must not be empty")
        return [name.strip() for name in v]

    @field_validator("links")
    @classmethod
    def _links(cls, v: list[str]) -> list[str]:
        try:
            return [canonical_link(name) for name in v]
        except UsageError as exc:
            raise ValueError(str(exc)) from None

    @model_validator(mode="after")
    def _targets(self) -> Trigger:
        if self.action in NETWORK_ACTIONS:
            if not self.links:
                raise ValueError(f"links is missing or empty; action {self.action} needs links, "
                                 f"e.g. \"links\": [\"order->payment\"]")
            if self.action == "delay" and not self.ms:
                raise ValueError("ms is missing; action delay needs ms, the added latency in milliseconds")
            if self.action == "bandwidth" and not self.rate:
                raise ValueError("rate is missing; action bandwidth needs rate, in KB/s")
        elif not self.services:
            raise ValueError(f"services is missing or empty; action {self.action} needs a non-empty list of "
                             f"service names")
        return self

    def hold_time(self) -> float | None:
        """How long the fault lasts before it is undone, or None: until the run ends.

        The earliest of recovery_time (when > 0) and duration (when given)."""
        bounds = [b for b in (self.recovery_time or None, self.duration) if b]
        return min(bounds) if bounds else None


class FaultPlan(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    kill_triggers: list[Trigger] = Field(description="a list of trigger objects")
    source: str = "kill_config.json"

    @property
    def triggers(self) -> list[Trigger]:
        return self.kill_triggers

    def services(self) -> list[str]:
        return sorted({s for t in self.kill_triggers for s in t.services})

    def links(self) -> list[str]:
        return sorted({lk for t in self.kill_triggers for lk in t.links})


def canonical_service(name: str, known: Collection[str]) -> str | None:
    """`name` as the backend knows it: itself, or its seed-001 alias either way; None if unknown."""
    if name in known:
        return name
    for alt in (ALIASES.get(name), REVERSE_ALIASES.get(name)):
        if alt is not None and alt in known:
            return alt
    return None


def parse_fault_plan(data: Any, source: str = "kill_config.json",
                     known_services: Collection[str] | None = None, backend: Any = None) -> FaultPlan:
    """Validate a decoded kill_config. With `known_services`, every service must be one of them
    (seed-001 aliases allowed); with `backend`, every service must resolve through its
    `canonical(name)` (Docker name prefixes included). Either way names are rewritten to the
    backend's own."""
    shape = '{"kill_triggers": [ ... ]}'
    plan = validate(FaultPlan, data, source, shape=shape).model_copy(update={"source": source})
    if known_services is None and backend is None:
        return plan
    triggers = []
    for i, trig in enumerate(plan.kill_triggers):
        names = []
        for name in trig.services:
            if backend is not None:
                try:
                    canon = backend.canonical(name)
                except UsageError as exc:
                    raise UsageError(f"{source}: kill_triggers[{i}].services: {exc}") from None
            else:
                canon = canonical_service(name, known_services or ())
                if canon is None:
                    known = ", ".join(sorted(known_services or ())) or "none"
                    raise UsageError(f"{source}: kill_triggers[{i}].services names {name!r}, an unknown service; "
                                     f"known services: {known}.")
            names.append(canon)
        links = [] if backend is not None else list(trig.links)
        for name in trig.links if backend is not None else ():
            check = getattr(backend, "canonical_link", None)
            if check is None:
                raise UsageError(f"{source}: kill_triggers[{i}] ({trig.action} {name}) is a network fault, and "
                                 f"this backend has no links; see docs/network-faults.md.")
            try:
                links.append(check(name))
            except UsageError as exc:
                raise UsageError(f"{source}: kill_triggers[{i}].links: {exc}") from None
        triggers.append(trig.model_copy(update={"services": names, "links": links}))
    return FaultPlan(kill_triggers=triggers, source=source)


def load_fault_plan(path: str | Path, known_services: Collection[str] | None = None,
                    backend: Any = None) -> FaultPlan:
    """Read and validate a kill_config.json; any problem is a UsageError naming file, trigger and field."""
    return parse_fault_plan(read_config(path, "fault config"), str(path), known_services, backend)


def plan_for_services(services: Iterable[str], action: str = "kill", at: float = 0.0, recovery_time: float = 0,
                      known_services: Collection[str] | None = None, count: int = 1,
                      backend: Any = None, trigger: str = "time") -> FaultPlan:
    """Seed 001's static `--kill-services a b`: one trigger (`trigger` at `at`: seconds, checkouts, …)
    hitting them all."""
    data = {"kill_triggers": [{"type": trigger, "threshold": at, "services": list(services), "count": count,
                               "recovery_time": recovery_time, "action": action}]}
    return parse_fault_plan(data, "--kill-services", known_services, backend)
