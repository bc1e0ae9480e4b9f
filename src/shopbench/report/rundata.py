"""A finished run directory read into plain data for reports and comparisons.

Required: `run.json`, `ops.jsonl` and (unless the caller accepts a partial run) `verdict.json`.
Optional: `faults.jsonl`, `resources.jsonl`, `state.json`, Locust's CSVs; a missing optional file
leaves a note, so the report can say what it left out instead of failing. Fault windows are folded
from the timeline by `shopbench.nemesis.timeline.fault_windows`, the one place that knows how.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from shopbench.errors import UsageError
from shopbench.rundir import FAULTS, MANIFEST, OPS, STATE, VERDICT, RunDir

LOCUST_STATS = "locust_stats.csv"
LOCUST_HISTORY = "locust_stats_history.csv"
RESOURCES = "resources.jsonl"  # written by the resources sampler (format: docs/formats.md)


@dataclass
class RunData:
    path: Path
    manifest: dict[str, Any]
    ops_path: Path
    verdict: dict[str, Any] | None
    faults: list[dict[str, Any]] | None  # None: no faults.jsonl at all (not the same as no faults)
    has_state: bool
    locust_stats: list[dict[str, str]] | None
    locust_history: list[dict[str, str]] | None
    notes: list[str] = field(default_factory=list)
    windows: list[dict[str, Any]] = field(default_factory=list)  # one record per fault, from `faults`
    resources: list[dict[str, Any]] | None = None  # the samples of resources.jsonl; None: no such file

    @property
    def run_id(self) -> str:
        return str(self.manifest.get("run_id") or self.path.name)

    @property
    def kind(self) -> str:
        return str(self.manifest.get("kind") or "run")


def load_run(path: str | Path, partial: bool = False) -> RunData:
    """Read a run directory; every problem a user can fix is one `UsageError` naming the file."""
    run = RunDir.open(path)
    if not isinstance(run.manifest, dict):
        raise UsageError(f"{run.file(MANIFEST)}: expected a JSON object (the run manifest).")
    notes: list[str] = []

    ops_path = run.file(OPS)
    if not ops_path.is_file():
        raise UsageError(f"{run.path}: {OPS} is missing; the run recorded no history, so there is nothing to report.")

    verdict: dict[str, Any] | None = None
    if run.file(VERDICT).is_file() or not partial:
        verdict = _check_verdict(run.read_json(VERDICT), run.file(VERDICT))
    else:
        notes.append(f"No {VERDICT}: the run did not finish, so there is no verdict.")

    faults = _read_faults(run.file(FAULTS), notes)
    has_state = run.file(STATE).is_file()
    if not has_state:
        notes.append(f"No {STATE}: the final state was not read.")
    locust_stats = _read_csv(run.file(LOCUST_STATS), notes)
    locust_history = _read_csv(run.file(LOCUST_HISTORY), notes)
    resources = _read_resources(run.file(RESOURCES), notes)
    data = RunData(run.path, run.manifest, ops_path, verdict, faults, has_state, locust_stats, locust_history, notes,
                   [], resources)
    try:  # one record per fault
        data.windows = _fold(faults) if faults else []
    except (KeyError, TypeError, ValueError) as exc:
        raise UsageError(f"{run.path / FAULTS}: a fault record lacks a field or has a wrong type ({exc}).") from None
    return data


def _check_verdict(data: Any, path: Path) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise UsageError(f"{path}: expected a JSON object with at least the field 'valid'.")
    if not isinstance(data.get("valid"), bool):
        raise UsageError(f"{path}: field 'valid' is {data.get('valid')!r}; it must be true or false.")
    for key, kinds, what in (("anomalies", list, "list"), ("checkouts", dict, "object"),
                             ("seed_metrics", dict, "object"), ("slo", list | dict, "list or object"),
                             ("faults", list | dict, "list or object")):
        if data.get(key) is not None and not isinstance(data[key], kinds):
            raise UsageError(f"{path}: field '{key}' must be a JSON {what}.")
    return data


def _read_faults(path: Path, notes: list[str]) -> list[dict[str, Any]] | None:
    if not path.is_file():
        notes.append(f"No {FAULTS}: no fault was injected in this run (or its timeline was not recorded).")
        return None
    faults: list[dict[str, Any]] = []
    lines = path.read_bytes().splitlines()
    for lineno, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            entry = orjson.loads(line)
        except orjson.JSONDecodeError:
            if lineno == len(lines):  # a crash mid-write cuts only the last line
                notes.append(f"{FAULTS}: the last line was cut short and is left out.")
                break
            raise UsageError(f"{path}: line {lineno} is not a JSON fault record.") from None
        if not isinstance(entry, dict):
            raise UsageError(f"{path}: line {lineno} must be a JSON object with service, action, start and end.")
        start = entry.get("start")
        if not isinstance(start, int | float):
            raise UsageError(f"{path}: line {lineno}: field 'start' is {start!r}; it must be a wall time in seconds.")
        end = entry.get("end")
        if end is not None and not isinstance(end, int | float):
            raise UsageError(f"{path}: line {lineno}: field 'end' is {end!r}; it must be a wall time or null.")
        # A hand-written timeline may number no fault: each such line is a fault of its own.
        entry.setdefault("fault", lineno - len(lines) - 1)
        faults.append(entry)
    return faults


def _fold(faults: list[dict[str, Any]]) -> list[dict[str, Any]]:
    # Imported only when there are faults: the nemesis package loads its backends and pydantic models.
    from shopbench.nemesis.timeline import fault_windows

    return fault_windows(faults)


def _read_resources(path: Path, notes: list[str]) -> list[dict[str, Any]] | None:
    """The samples of the optional resources.jsonl (read by its one reader); damaged lines are left
    out with a note, since the file only adds a chart."""
    if not path.is_file():
        return None
    from shopbench.resources import read_samples

    skipped = [0]
    out = list(read_samples(path, skipped))
    if skipped[0]:
        notes.append(f"{path.name}: {skipped[0]} line(s) that are not JSON objects left out "
                     "(a cut-short last line is one).")
    return out


def _read_csv(path: Path, notes: list[str]) -> list[dict[str, str]] | None:
    if not path.is_file():
        return None
    import csv  # only Locust runs write CSVs

    try:
        with open(path, newline="") as f:
            rows = list(csv.DictReader(f))
    except (OSError, csv.Error, UnicodeDecodeError) as exc:
        notes.append(f"{path.name} could not be read ({exc}); Locust's figures are left out.")
        return None
    # Locust appends to its history CSV while it runs; a cut-short last row has missing fields.
    width = len(rows[0]) if rows else 0
    whole = [r for r in rows if None not in r.values() and len(r) == width]
    if len(whole) < len(rows):
        notes.append(f"{path.name}: {len(rows) - len(whole)} incomplete row(s) left out.")
    return whole



# -- views of verdict sections whose exact shape belongs to other modules -------------------------

def slo_results(verdict: dict[str, Any] | None) -> list[dict[str, Any]]:
    """Every SLO as {expr, measured, unit, ok (None: could not be judged), detail}: accepts a list of
    {expr, measured, ok} or the stress runner's section
    {"valid", "results": [{slo, measured, unit, passed, detail}]}."""
    section = (verdict or {}).get("slo")
    items = section.get("results") if isinstance(section, dict) else section
    out = []
    for item in items or []:
        if not isinstance(item, dict):
            continue
        ok = item.get("ok", item.get("passed"))
        out.append({"expr": str(item.get("expr") or item.get("slo") or item.get("name") or "?"),
                    "measured": item.get("measured"), "unit": item.get("unit") or "",
                    "ok": None if ok is None else bool(ok),  # None: not judged (the run is UNKNOWN)
                    "detail": item.get("detail") or ""})
    return out


def fault_recoveries(verdict: dict[str, Any] | None) -> list[dict[str, Any]]:
    """The per-fault recovery figures: the verdict's `faults` list, or the list inside a section."""
    section = (verdict or {}).get("faults")
    if isinstance(section, dict):
        section = next((section[k] for k in ("faults", "results", "recovery", "windows")
                        if isinstance(section.get(k), list)), None)
    return [f for f in section or [] if isinstance(f, dict)]
