"""What runs beside the load: the one declared protocol between a runner and its companions.

A companion is anything a run puts around its load that is not the load itself: the nemesis
(faults), the resource sampler, later a network fault proxy. The runner calls, in this order:

    companion.bind(run, supervisor)      once the run directory and (embedded) shop exist; the
                                         supervisor is the reference shop's, or None for --urls
    with companion.during(monitor):      entered just before the load starts, left when it stopped
        ...                              (monitor: the live LoadMonitor of the run)
    companion.sections(verdict_inputs)   after the load: verdict sections, each a dict that may
                                         carry "valid": false (INVALID) or "unknown_reasons": [...]
                                         (UNKNOWN) as checker/verdict.py defines

A companion writes its own file in the run directory (faults.jsonl, resources.jsonl) and never
writes verdict.json; the runner merges what `sections` returns.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

if TYPE_CHECKING:
    from shopbench.monitor import LoadMonitor
    from shopbench.rundir import RunDir


@dataclass(frozen=True)
class VerdictInputs:
    """What a companion may judge its sections on, after the load: paths, never open files."""

    run: RunDir
    ops_path: Any  # pathlib.Path of ops.jsonl


@runtime_checkable
class Companion(Protocol):
    name: str

    def bind(self, run: RunDir, supervisor: Any | None) -> None: ...

    def during(self, monitor: LoadMonitor) -> AbstractContextManager[Any]: ...

    def sections(self, inputs: VerdictInputs) -> dict[str, Any]: ...


def standard(faults: Any | None = None) -> list[Any]:
    """The companions of every run: the fault hook when there is one, then the resource sampler,
    which follows the hook's backend (a services file's processes, Docker containers) once bound."""
    from shopbench.resources import ResourceSampler

    return [faults, ResourceSampler(follow=faults)] if faults is not None else [ResourceSampler()]
