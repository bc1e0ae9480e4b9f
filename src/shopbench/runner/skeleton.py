"""The order of every run, written once: set up -> populate -> load (companions beside it) ->
settle -> check -> report, with one way of recording how it ended.

A runner (consistency, stress) supplies the steps that differ (`Steps`); this module owns the order,
the companions' protocol calls (runner/companion.py) and the error handling:

  ends with a verdict     run.json status valid / invalid / unknown, exit code from the verdict
  a shopbench error       status "error", the message in run.json's `error`, its own exit code
  Ctrl-C                  status "interrupted" (exit 130)
  anything else           status "crashed", `error` says what was raised
  in every case           the embedded shop is stopped and report.html written (partial if no verdict)

Without a target the skeleton starts the reference shop for the run, or what the steps' optional
`own_target(run, links)` gives instead (the gRPC runner's reference service): a context manager
whose value has `.target` (with `as_dict()`) and `.supervisor` (bound to the companions).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager, ExitStack
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from shopbench.checker.verdict import exit_code, result_of
from shopbench.errors import ShopbenchError
from shopbench.history import HistoryWriter
from shopbench.monitor import LoadMonitor
from shopbench.report.series_cache import SeriesRecorder
from shopbench.rundir import OPS, RunDir
from shopbench.runner.companion import Companion, VerdictInputs
from shopbench.runner.finish import write_report
from shopbench.target import Target

if TYPE_CHECKING:
    from shopbench.shop import RefShop

FINISHED = ("valid", "invalid", "unknown")


@dataclass
class RunResult:
    run: RunDir
    verdict: dict[str, Any]
    exit_code: int


@dataclass
class RunContext:
    """What the steps share: the run directory, the target, the history writer, the companions."""

    run: RunDir
    target: Target | Any  # a REST Target, or the steps' own (gRPC: GrpcTarget); both have as_dict()
    shop: RefShop | Any | None  # the reference shop (or the steps' own service) started for the run
    writer: HistoryWriter
    companions: list[Companion]
    stack: ExitStack
    state: dict[str, Any] = field(default_factory=dict)  # the runner's own values between steps

    def beside_load(self, monitor: LoadMonitor) -> BesideLoad:
        """The companions' `during(monitor)`, entered together around the load."""
        return BesideLoad(self.companions, monitor)

    def sections(self) -> dict[str, Any]:
        """Every companion's verdict sections, judged on the flushed history."""
        self.writer.flush()
        inputs = VerdictInputs(self.run, self.run.file(OPS))
        out: dict[str, Any] = {}
        for companion in self.companions:
            out.update(companion.sections(inputs) or {})
        return out


class Steps(Protocol):
    """What a runner does at each point of the order; each step opens its own run phases.

    Optional: `own_target(run, links) -> context manager` whose value has `.target` and
    `.supervisor`, started in the `setup` phase instead of the reference shop when no target is
    given (`links`: a companion needs the services' links through the fault proxy)."""

    def populate(self, ctx: RunContext) -> None: ...

    def load(self, ctx: RunContext) -> None: ...

    def check(self, ctx: RunContext) -> dict[str, Any]:
        """Settle, read and check (finish_run) with `ctx.sections()` merged; the verdict."""
        ...


class BesideLoad:
    """The companions' context managers entered in order and left in reverse, as one."""

    def __init__(self, companions: Sequence[Companion], monitor: LoadMonitor):
        self.companions, self.monitor = list(companions), monitor
        self.entered: list[Any] = []
        self._stack = ExitStack()

    def __enter__(self) -> BesideLoad:
        with ExitStack() as stack:
            for companion in self.companions:
                self.entered.append(stack.enter_context(companion.during(self.monitor)))
            self._stack = stack.pop_all()
        return self

    def __exit__(self, *exc: Any) -> bool:
        return bool(self._stack.__exit__(*exc))

    def active(self) -> list[str]:
        """What the companions say is active now (faults in force), for the live line."""
        out: list[str] = []
        for entered in self.entered:
            active = getattr(entered, "active", None)
            if callable(active):
                out += list(active())
        return out


def execute(kind: str, out: str | Any, config: dict[str, Any], steps: Steps, *, target: Target | Any | None,
            flaw: str | None, companions: Sequence[Companion] = (),
            on_end: Callable[[RunDir, str], None] | None = None) -> RunResult:
    """One run in the order above. `target` None starts the reference shop (with `flaw`) in
    `<run>/shop` for the run, or the steps' `own_target`; `on_end(run, status)` runs last (a
    summary printed)."""
    run = RunDir.create(kind, out, config)
    status, code = "crashed", None
    try:
        with ExitStack() as stack:
            shop: Any = None
            if target is None:
                with run.phase("setup"):
                    # Network faults need the shop's links through the fault proxy from its start.
                    links = any(getattr(c, "wants_links", False) for c in companions)
                    own_target = getattr(steps, "own_target", None)
                    if own_target is not None:
                        shop = stack.enter_context(own_target(run, links))
                    else:
                        from shopbench.shop import RefShop  # psutil and the supervisor: only for our own shop

                        shop = stack.enter_context(RefShop(run.file("shop"), flaw=flaw, links=links))
                    target = shop.target
                    if isinstance(run.manifest.get("config"), dict) and "target" in run.manifest["config"]:
                        run.manifest["config"]["target"] = target.as_dict()
            run.manifest["target"] = target.as_dict()
            run.save_manifest()
            for companion in companions:
                companion.bind(run, shop.supervisor if shop is not None else None)
            # The report's series are tallied as the history is written (report/series_cache.py);
            # saved once the writer has closed (the stack unwinds last-in first-out).
            recorder = SeriesRecorder(run.manifest["started"])
            stack.callback(recorder.save, run.file(OPS))
            writer = stack.enter_context(HistoryWriter(run.file(OPS), on_lines=recorder))
            ctx = RunContext(run, target, shop, writer, list(companions), stack)
            steps.populate(ctx)
            writer.flush()
            steps.load(ctx)
            writer.flush()
            verdict = steps.check(ctx)
        code = exit_code(verdict)
        status = result_of(verdict)
        return RunResult(run, verdict, code)
    except ShopbenchError as exc:
        run.manifest["error"] = str(exc)
        status, code = "error", exc.exit_code
        raise
    except KeyboardInterrupt:
        status, code = "interrupted", 130
        raise
    except BaseException as exc:
        run.manifest["error"] = f"{type(exc).__name__}: {exc}"
        raise
    finally:
        run.finish(status, code)
        write_report(run, partial=status not in FINISHED)
        if on_end is not None:
            on_end(run, status)


# -- companions from what callers have today -----------------------------------------------------
class _CallableCompanion:
    """A plain `f(monitor) -> context manager` (`during_burst=` / `nemesis=`): a hook that only
    wraps the load, with nothing to bind and no verdict section."""

    name = "beside-load"

    def __init__(self, during: Callable[[LoadMonitor], AbstractContextManager[Any]]):
        self._during = during

    def bind(self, run: RunDir, supervisor: Any | None) -> None:
        pass

    def during(self, monitor: LoadMonitor) -> AbstractContextManager[Any]:
        return self._during(monitor)

    def sections(self, inputs: VerdictInputs) -> dict[str, Any]:
        return {}


def as_companion(obj: Any) -> Companion:
    """A companion as given, or one adapted from a `f(monitor)` context-manager factory."""
    if isinstance(obj, Companion):
        return obj
    if callable(obj):
        return _CallableCompanion(obj)
    raise TypeError(f"{obj!r} is neither a Companion (bind/during/sections) nor a f(monitor) context manager")


def companions_of(companions: Sequence[Any] | None, *legacy: Any) -> list[Companion]:
    return [as_companion(c) for c in [*(companions or ()), *legacy] if c is not None]
