"""Assemble `verdict.json`: the ledger's findings, the seed's numbers, and sections other checkers add.

A verdict has three values, as Jepsen's checkers do (`result`):

  valid    every check ran on complete data and found nothing
  invalid  a check found an anomaly (or a section failed), whatever else is missing
  unknown  nothing was found, but some check could not run on complete data: `unknown_reasons`
           says each reason in a sentence a user can act on

The contract other tools read: `result`, `valid` (kept as a boolean for tools written before the
third value: true exactly when `result` is "valid"), `unknown_reasons`, `anomaly_count`,
`anomalies` (each with `type`, `message` and ids/amounts), `checkouts`, `seed_metrics`, `totals`,
`counts`, `unresolved`, plus any section merged in by a runner (`slo`, `faults`, `load`, …).

A section is a dict; it takes part in the result through two keys:
  "valid": false              the section found something wrong: the run is INVALID
  "unknown_reasons": [str]    the section could not judge on complete data: the run is UNKNOWN
                              (unless something made it INVALID)
`add_sections` is the one place these rules live; `exit_code` the one mapping to exit codes.
"""

from __future__ import annotations

from typing import Any

from shopbench.checker.seed_metrics import seed_metrics
from shopbench.errors import EXIT_INVALID, EXIT_UNKNOWN, EXIT_VALID

VERDICT_VERSION = 2
VALID, INVALID, UNKNOWN = "valid", "invalid", "unknown"


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
    verdict.setdefault("warnings", [])
    verdict["unknown_reasons"] = list(ledger.get("unknown_reasons") or [])
    if state is not None:
        verdict["settled"] = bool(state.get("settled"))
        verdict["state_reads"] = state.get("reads")
        settle = state.get("settle")
        # how long settling took and why it stopped: "quiet", "idle" (the reference shop had nothing
        # in flight) or "deadline"
        verdict["settle"] = settle
        if not state.get("settled"):
            took = (f" after {settle['seconds']} s and {settle['reads']} reads (deadline {settle['deadline_s']} s: "
                    f"--settle-timeout plus time for {settle['indeterminate_ops']} indeterminate operations)"
                    if isinstance(settle, dict) else "")
            verdict["unknown_reasons"].append(
                f"the shop did not settle{took}: its state was still changing when it was read, so the final "
                "state may be mid-change (raise --settle-timeout)")
    verdict["failed_sections"] = []
    verdict["ledger_valid"] = bool(ledger["valid"])
    return add_sections(verdict, extra or {})


def add_sections(verdict: dict[str, Any], sections: dict[str, Any]) -> dict[str, Any]:
    """Merge sections other checkers computed (`slo`, `faults`, …) into a verdict and recompute its
    result. The one place the three-valued rule lives."""
    verdict.setdefault("failed_sections", [])
    verdict.setdefault("unknown_reasons", [])
    verdict.setdefault("ledger_valid", bool(verdict.get("valid", True)))
    for name, section in sections.items():
        verdict[name] = section
        if not isinstance(section, dict):
            continue
        if section.get("valid") is False and name not in verdict["failed_sections"]:
            verdict["failed_sections"].append(name)
        for reason in section.get("unknown_reasons") or ():
            if reason not in verdict["unknown_reasons"]:
                verdict["unknown_reasons"].append(reason)
        for warning in section.get("warnings") or ():  # e.g. a saturated load generator
            if warning not in verdict.setdefault("warnings", []):
                verdict["warnings"].append(warning)
    return judge(verdict)


def add_unknown(verdict: dict[str, Any], reason: str) -> dict[str, Any]:
    """One more reason the run cannot be VALID (the ledger ran on incomplete data, a fault did not land)."""
    verdict.setdefault("unknown_reasons", [])
    if reason not in verdict["unknown_reasons"]:
        verdict["unknown_reasons"].append(reason)
    return judge(verdict)


def judge(verdict: dict[str, Any]) -> dict[str, Any]:
    """Set `result` and the backward-compatible `valid` from what the verdict holds."""
    if not verdict.get("ledger_valid", True) or verdict.get("failed_sections"):
        result = INVALID
    elif verdict.get("unknown_reasons"):
        result = UNKNOWN
    else:
        result = VALID
    verdict["result"] = result
    verdict["valid"] = result == VALID
    return verdict


def result_of(verdict: dict[str, Any]) -> str:
    """The three-valued result of any verdict.json, including those written before `result` existed."""
    result = verdict.get("result")
    if result in (VALID, INVALID, UNKNOWN):
        return result
    return VALID if verdict.get("valid") else INVALID


def exit_code(verdict: dict[str, Any]) -> int:
    return {VALID: EXIT_VALID, INVALID: EXIT_INVALID, UNKNOWN: EXIT_UNKNOWN}[result_of(verdict)]
