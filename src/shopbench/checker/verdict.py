"""Assemble `verdict.json`: the run's own checker's findings, the seed's numbers, and sections other
checkers add. One assembler (`assemble_verdict`) for every kind of run: REST runs pass the ledger's
findings (`assemble` adds seed 000's numbers and the settle), gRPC runs the vacancy and auth checks'.

A verdict has three values, as Jepsen's checkers do (`result`, the one validity field):

  valid    every check ran on complete data and found nothing
  invalid  a check found an anomaly (or a section failed), whatever else is missing
  unknown  nothing was found, but some check could not run on complete data: `unknown_reasons`
           says each reason in a sentence a user can act on

The contract other tools read: `result`; `valid`, kept as a boolean for tools written before the
third value (true exactly when `result` is "valid": such a tool reads UNKNOWN as not valid, the safe
reading); `unknown_reasons`, `anomaly_count`, `anomalies` (each with `type`, `message` and
ids/amounts), `checkouts`, `seed_metrics`, `totals`, `counts`, `unresolved`, plus any section
merged in by a runner (`slo`, `faults`, `load`, …). The run's own checker's findings count through
`anomaly_count` (any anomaly makes the run INVALID); there is no second validity field.

A section is a dict; it takes part in the result through three keys:
  "valid": false              the section found something wrong: the run is INVALID
  "unknown_reasons": [str]    the section could not judge on complete data: the run is UNKNOWN
                              (unless something made it INVALID)
  "warnings": [str]           what a reader should know; no effect on the result
The only sections that are not dicts are the figure lists named in `FIGURES` (their judgement is in
another section). A section that is not understood (another shape, `valid` not a boolean, reasons
that are not sentences) raises `SectionError`: it is never skipped, since a skipped section could
turn a run that was not judged into VALID.
`add_sections` is the one place these rules live; `exit_code` the one mapping to exit codes.
"""

from __future__ import annotations

from typing import Any

from shopbench.checker.seed_metrics import seed_metrics
from shopbench.errors import EXIT_INVALID, EXIT_UNKNOWN, EXIT_VALID

VERDICT_VERSION = 3  # 3: `ledger_valid` gone (the checker's findings count through `anomaly_count`)
VALID, INVALID, UNKNOWN = "valid", "invalid", "unknown"
# Sections that are lists of figures, judged elsewhere: `faults` (recovery per fault; whether each
# landed is `fault_landing`), `faults_not_fired` (triggers that never fired; why that makes the run
# UNKNOWN is in `fault_landing` too).
FIGURES = frozenset({"faults", "faults_not_fired"})


class SectionError(ValueError):
    """A verdict section the rules do not understand: a bug in whoever computed it."""


SEED_SHAPE_NOTE = ("seed 000's four numbers assume its consistency test (a fixed stock that all sells in one "
                   "burst); they are computed for consistency runs only")


def assemble_verdict(checker: str, findings: dict[str, Any], sections: dict[str, Any] | None = None, *,
                     state: dict[str, Any] | None = None) -> dict[str, Any]:
    """The one verdict assembler. `findings`: what the run's own checker found (`anomalies`, with
    `anomaly_count` when the list is capped, its `unknown_reasons` and `warnings`, any figures of
    its own); `sections`: what other checkers add (see the module docstring); `state`: the final
    state read after settling, when the run has one (a shop that never settled is UNKNOWN)."""
    verdict: dict[str, Any] = {"version": VERDICT_VERSION, "checker": checker}
    verdict.update(findings)
    verdict.pop("valid", None)  # the checker's own boolean: `anomaly_count` carries it
    anomalies = list(verdict.get("anomalies") or [])
    verdict["anomalies"] = anomalies
    verdict.setdefault("anomaly_count", len(anomalies))
    if "anomaly_types" not in verdict:
        types: dict[str, int] = {}
        for a in anomalies:
            types[a["type"]] = types.get(a["type"], 0) + 1
        verdict["anomaly_types"] = types
    verdict["warnings"] = list(verdict.get("warnings") or [])
    verdict["unknown_reasons"] = list(verdict.get("unknown_reasons") or [])
    verdict["failed_sections"] = []
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
    return add_sections(verdict, sections or {})


def assemble(ledger: dict[str, Any], state: dict[str, Any] | None = None,
             extra: dict[str, Any] | None = None, seed_shape: bool = True) -> dict[str, Any]:
    """A REST run's verdict: the ledger's findings with seed 000's four numbers. `seed_shape` False
    (a stress run) leaves `seed_metrics` null: the seed's formulas would give large, meaningless
    numbers on a workload that creates and restocks items as it goes."""
    findings = dict(ledger)
    seed_inputs = findings.pop("seed_inputs", None)
    findings["seed_metrics"] = seed_metrics(seed_inputs) if seed_inputs and seed_shape else None
    if not seed_shape:
        findings["seed_metrics_note"] = SEED_SHAPE_NOTE
    findings["seed_inputs"] = seed_inputs
    return assemble_verdict("ledger", findings, extra, state=state)


def _strings(name: str, key: str, value: Any) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list | tuple) or not all(isinstance(v, str) and v for v in value):
        raise SectionError(f"verdict section {name!r}: {key!r} must be a list of sentences, got {value!r}")
    return list(value)


def add_sections(verdict: dict[str, Any], sections: dict[str, Any]) -> dict[str, Any]:
    """Merge sections other checkers computed (`slo`, `faults`, …) into a verdict and recompute its
    result. The one place the three-valued rule lives; a section it does not understand raises
    `SectionError` (never skipped)."""
    verdict.setdefault("failed_sections", [])
    verdict.setdefault("unknown_reasons", [])
    verdict.setdefault("warnings", [])
    for name, section in sections.items():
        if not isinstance(section, dict):
            if name in FIGURES and isinstance(section, list):
                verdict[name] = section
                continue
            raise SectionError(f"verdict section {name!r} is a {type(section).__name__}, not a dict: a section "
                               "says \"valid\": false or \"unknown_reasons\": [...], and one not understood is "
                               "never skipped")
        valid = section.get("valid", True)
        if not isinstance(valid, bool):
            raise SectionError(f"verdict section {name!r}: 'valid' must be true or false, got {valid!r}")
        reasons = _strings(name, "unknown_reasons", section.get("unknown_reasons"))
        warnings = _strings(name, "warnings", section.get("warnings"))  # e.g. a saturated load generator
        verdict[name] = section
        if valid is False and name not in verdict["failed_sections"]:
            verdict["failed_sections"].append(name)
        for reason in reasons:
            if reason not in verdict["unknown_reasons"]:
                verdict["unknown_reasons"].append(reason)
        for warning in warnings:
            if warning not in verdict["warnings"]:
                verdict["warnings"].append(warning)
    return judge(verdict)


def judge(verdict: dict[str, Any]) -> dict[str, Any]:
    """Set `result` and the backward-compatible `valid` from what the verdict holds."""
    if verdict.get("anomaly_count") or verdict.get("failed_sections"):
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
