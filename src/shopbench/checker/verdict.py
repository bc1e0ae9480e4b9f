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


def assemble(ledger: dict[str, Any], state: dict[str, Any] | None = None,
             extra: dict[str, Any] | None = None) -> dict[str, Any]:
    verdict: dict[str, Any] = {"version": VERDICT_VERSION, "checker": "ledger"}
    verdict.update(ledger)
    seed_inputs = verdict.pop("seed_inputs", None)
    verdict["seed_metrics"] = seed_metrics(seed_inputs) if seed_inputs else None
    verdict["seed_inputs"] = seed_inputs
    warnings: list[str] = []
    if state is not None:
        verdict["settled"] = bool(state.get("settled"))
        verdict["state_reads"] = state.get("reads")
        if not state.get("settled"):
            warnings.append("the shop did not settle within --settle-timeout: two consecutive reads of its state "
                            "still differed, so the final state may be mid-change")
    failed_sections = []
    for name, section in (extra or {}).items():
        verdict[name] = section
        if isinstance(section, dict) and section.get("valid") is False:
            failed_sections.append(name)
    verdict["failed_sections"] = failed_sections
    verdict["valid"] = bool(ledger["valid"]) and not failed_sections
    verdict["warnings"] = warnings
    return verdict
