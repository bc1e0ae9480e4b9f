"""Faults under load: triggers fire actions through a backend, and every fault is undone.

    from shopbench.nemesis import Nemesis, load_fault_plan, make_backend
    backend = make_backend("local", supervisor=shop.supervisor)
    plan = load_fault_plan("kill_config.json", known_services=backend.services())
    with Nemesis(plan, backend, timeline_path=run.file("faults.jsonl"), monitor=monitor):
        ...  # the load

See `config` (the kill_config.json format), `triggers`, `nemesis` (firing, holding, restoring),
`timeline` (faults.jsonl) and `backends` (local processes, Docker).
"""

from __future__ import annotations

from shopbench.nemesis.backends import BACKENDS, Backend, Hit, LocalBackend, TargetStatus, make_backend
from shopbench.nemesis.config import (
    ACTIONS,
    ALIASES,
    TRIGGER_TYPES,
    FaultPlan,
    Trigger,
    load_fault_plan,
    parse_fault_plan,
    plan_for_services,
)
from shopbench.nemesis.nemesis import Nemesis
from shopbench.nemesis.timeline import Timeline, fault_windows, read_timeline

__all__ = [
    "ACTIONS", "ALIASES", "BACKENDS", "TRIGGER_TYPES", "Backend", "FaultPlan", "Hit", "LocalBackend", "Nemesis",
    "TargetStatus", "Timeline", "Trigger", "fault_windows", "load_fault_plan", "make_backend", "parse_fault_plan",
    "plan_for_services", "read_timeline",
]
