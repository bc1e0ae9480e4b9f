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

from typing import Any

# name -> submodule that defines it, imported on first access: a report that only folds fault
# windows (timeline) must not pay for the backends, pydantic models and Docker SDK it never uses.
_LAZY = {
    **dict.fromkeys(("BACKENDS", "Backend", "Hit", "LocalBackend", "TargetStatus", "make_backend"), "backends"),
    **dict.fromkeys(("ACTIONS", "ALIASES", "TRIGGER_TYPES", "FaultPlan", "Trigger", "load_fault_plan",
                     "parse_fault_plan", "plan_for_services"), "config"),
    "Nemesis": "nemesis",
    **dict.fromkeys(("Timeline", "fault_windows", "read_timeline"), "timeline"),
}

__all__ = sorted(_LAZY)


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'shopbench.nemesis' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(f"shopbench.nemesis.{module}"), name)
    globals()[name] = value
    return value
