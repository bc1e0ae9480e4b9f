"""Assemble `verdict.json`: the ledger's findings, the seed's numbers, and sections other checkers add.

The contract other tools read: `valid`, `anomaly_count`, `anomalies` (each with `type`, `message`
and ids/amounts), `checkouts`, `seed_metrics`, `totals`, `counts`, `unresolved`, plus any section
merged in by a runner (`slo` from a stress run, `faults` from a fault run). A section that carries
`"valid": false` makes the whole verdict invalid.
"""

from __future__ import annotations

from typing import Any

from shopbench.checker.seed_metrics import seed_metrics

VERDICT_VERSION = 1


SEED_SHAPE_NOTE = ("seed 000's four numbers assume its consistency test (a fixed stock that all sells in one "
                   "burst); they are computed for consistency runs only")


def assemble(ledger: dict[str, Any], state: dict[str, Any] | None = None,
             extra: dict[str, Any] | None = None, seed_shape: bool = True) -> dict[str, Any]:
    """`seed_shape` False (a stress run) leaves `seed_metrics` null: the seed's formulas would give
    large, meaningless numbers on a workload that creates and restocks items as it goes."""
    verdict: dict[str, Any] = {"version": VERDICT_VERSION, "checker": "ledger"}
    verdict.update(ledger)
    seed_inputs = verdict.pop("seed_inputs", None)
    verdict["seed_metrics"] = seed_metrics(seed_inputs) if seed_inputs and seed_shape else None
    if not seed_shape:
        verdict["seed_metrics_note"] = SEED_SHAPE_NOTE
    verdict["seed_inputs"] = seed_inputs
    warnings: list[str] = []
    if state is not None:
        verdict["settled"] = bool(state.get("settled"))
        verdict["state_reads"] = state.get("reads")
        if not state.get("settled"):
            warnings.append("the shop did not settle within --settle-timeout: two consecutive reads of its state "
                            "still differed, so the final state may be mid-change")
    verdict["failed_sections"] = []
    verdict["valid"] = bool(ledger["valid"])
    verdict["warnings"] = warnings
    return add_sections(verdict, extra or {})


def add_sections(verdict: dict[str, Any], sections: dict[str, Any]) -> dict[str, Any]:
    """Merge sections other checkers computed (`slo`, `faults`, …) into a verdict; one carrying
    `"valid": false` makes the verdict invalid. The one place that rule lives."""
    for name, section in sections.items():
        verdict[name] = section
        if isinstance(section, dict) and section.get("valid") is False and name not in verdict["failed_sections"]:
            verdict["failed_sections"].append(name)
    verdict["valid"] = bool(verdict["valid"]) and not verdict["failed_sections"]
    return verdict
