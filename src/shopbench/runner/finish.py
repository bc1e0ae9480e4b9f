"""The shared tail of every run: settle -> read the final state -> check -> state.json + verdict.json.

The consistency runner, the stress runner and the fault runner all end here, so every run
directory carries the same `state.json` and `verdict.json` contract.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

from shopbench.checker.expectations import expectations_section
from shopbench.checker.explain import attach_timelines
from shopbench.checker.ledger import check
from shopbench.checker.unsettled import withhold_unsettled
from shopbench.checker.verdict import add_sections, assemble, assemble_verdict
from shopbench.history import HistoryWriter, OpListener, iter_history
from shopbench.rundir import OPS, STATE, VERDICT, RunDir
from shopbench.settle import confirm
from shopbench.state import settle_and_read, touched_entities
from shopbench.state_file import load_state
from shopbench.target import Target

OpsSource = Iterable[dict[str, Any]] | str | Path | None


def _reader(run: RunDir, ops: OpsSource) -> Callable[[], Iterator[dict[str, Any]]]:
    """A way to stream the history twice (once for the entities, once for the checker)."""
    if ops is None or isinstance(ops, str | Path):
        path = Path(ops) if ops is not None else run.file(OPS)
        if not path.exists():
            path.touch()  # a run that recorded nothing still gets a verdict on nothing
        return lambda: iter_history(path)
    if isinstance(ops, list | tuple):
        return lambda: iter(ops)
    materialised = list(ops)
    return lambda: iter(materialised)


def finish_run(
    run: RunDir,
    target: Target,
    ops: OpsSource = None,
    *,
    settle_timeout: float,
    extra: dict[str, Any] | None = None,
    timeout: float = 10.0,
    concurrency: int = 64,
    listener: OpListener | None = None,
    progress: Any = None,
    late_sections: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """Settle, read, check; write `state.json` and `verdict.json`; return the verdict.

    ops       the history: a path to an ops.jsonl, a list of op dicts, or None for the run's own
              ops.jsonl. Flush the writer first when passing a path.
    extra     sections merged into the verdict before `valid` is computed (`slo`, `faults`); one
              with `"valid": false` makes the run invalid.
    listener  where the settle reads are recorded (an open HistoryWriter, so ids stay unique);
              when None they are appended to the run's ops.jsonl with ids after the last one.
    progress  a `report.terminal.PhaseProgress` (or anything with `start(name, total)`), optional.
    late_sections  sections that need the ledger's findings (SLOs on overselling): called with the
              verdict before it is written, its sections merged like `extra`.
    """
    flush = getattr(listener, "flush", None)
    if flush is not None:
        flush()
    read_ops = _reader(run, ops)
    touched = touched_entities(read_ops())
    own_writer: HistoryWriter | None = None
    next_id = getattr(listener, "next_id", None)
    if listener is None:
        own_writer = listener = HistoryWriter(run.file(OPS))
        next_id = itertools.count(touched.max_id + 1).__next__

    def on_pass(n: int, total: int) -> Callable[[int], None] | None:
        return progress.start(f"settle {n}", total) if progress is not None else None

    try:
        with run.phase("settle"):
            state = settle_and_read(target, touched, settle_timeout=settle_timeout, listener=listener,
                                    next_id=next_id, timeout=timeout, concurrency=concurrency, on_pass=on_pass)
        run.write_json(STATE, state)
        with run.phase("verify"):
            if progress is not None:
                progress.start("verify", None)
            # An anomaly stands only on entities re-read until stable: confirm re-reads what it blames.
            verdict = confirm(target, state, touched, lambda s: _verdict(read_ops, s, extra, run), listener=listener,
                              next_id=next_id, timeout=timeout, concurrency=concurrency)
            if late_sections is not None:
                add_sections(verdict, late_sections(verdict))
    finally:
        if own_writer is not None:
            own_writer.close()
        elif flush is not None:
            flush()
    if "reread" in state["settle"]:
        run.write_json(STATE, state)  # with what was re-read
    run.write_json(VERDICT, verdict)
    return verdict


def _verdict(read_ops: Callable[[], Iterator[dict[str, Any]]], state: dict[str, Any],
             extra: dict[str, Any] | None, run: RunDir) -> dict[str, Any]:
    """The ledger check, each anomalous order explained by its timeline, and the other sections."""
    ledger = withhold_unsettled(check(read_ops(), state), state)
    if ledger["anomalies"]:
        ledger["anomalies"] = attach_timelines(read_ops(), ledger["anomalies"])
    extra = {**expectations_section(read_ops()), **(extra or {})}  # a workload that never ran is UNKNOWN
    return assemble(ledger, state, extra, seed_shape=run.manifest.get("kind", "consistency") == "consistency")


def write_report(run: RunDir, *, partial: bool = False) -> Path | None:
    """`report.html` for a finished (or, with `partial`, an interrupted) run. A report that cannot be
    built is a warning in run.json, never a changed verdict or exit code."""
    from shopbench.report.html import build_report

    try:
        return build_report(run.path, partial=partial)
    except Exception as exc:  # the verdict is already on disk; the report is a view of it
        run.manifest.setdefault("warnings", []).append(f"report.html not written: {exc}")
        run.save_manifest()
        return None


# Sections of a verdict that other checkers computed during the run (SLOs from the load, recovery
# from the fault timeline): a re-check carries them over as they were.
CARRIED_SECTIONS = ("load", "slo", "faults", "faults_not_fired", "fault_landing")


def carried_sections(previous: dict[str, Any], names: Iterable[str] = CARRIED_SECTIONS) -> dict[str, Any]:
    """The sections a re-check takes over from the run's verdict.json. A verdict written before a
    trigger that never fired was UNKNOWN has those triggers only in `faults_not_fired`: their
    sentences join `fault_landing`'s reasons, so the re-check judges them as a run today would."""
    extra = {name: previous[name] for name in names if name in previous}
    not_fired = extra.get("faults_not_fired")
    if isinstance(not_fired, list) and not_fired:
        landing = dict(extra.get("fault_landing") or {})
        reasons = list(landing.get("unknown_reasons") or [])
        reasons += [str(t.get("message") or t) for t in not_fired
                    if isinstance(t, dict) and str(t.get("message") or t) not in reasons]
        landing["unknown_reasons"] = reasons
        extra["fault_landing"] = landing
    return extra


def recheck(run: RunDir) -> dict[str, Any]:
    """The ledger verdict again, from the run directory's own ops.jsonl and state.json: no shop
    needed. A run that never ended cleanly is UNKNOWN (`RunDir.end_section`); killed before its
    final state was read, it has nothing to check the history against."""
    previous = run.read_json(VERDICT) if run.file(VERDICT).exists() else {}
    sections = {**carried_sections(previous), "run_end": run.end_section()}
    if not run.file(STATE).exists() and not sections["run_end"]["ended"]:
        sections["run_end"]["unknown_reasons"].append(
            "the run ended before its final state was read (no state.json): the ledger could not check anything")
        return assemble_verdict("ledger", {"anomalies": []}, sections)
    # Entity by entity, so a 10 M-operation state fits; read_json says what a missing one means.
    state = load_state(run.file(STATE)) if run.file(STATE).exists() else run.read_json(STATE)
    return _verdict(lambda: iter_history(run.file(OPS)), state, sections, run)
