"""One trial of `shopbench explore`: a consistency run with one fault plan, judged by the ledger.

A trial is an ordinary run (`runner.consistency.run_consistency` with the nemesis as its companion),
in its own run directory under the explore directory's `trials/`, so everything a run writes
(ops.jsonl, faults.jsonl, verdict.json, report.html) is there to read, and `shopbench check` works
on it. Nothing here judges: the verdict is the ledger's, the outcome is `result_of(verdict)`.
"""

from __future__ import annotations

import json
import shlex
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from shopbench.errors import ShopbenchError
from shopbench.workload.consistency import ConsistencyConfig

TRIALS = "trials"
TRIALS_LOG = "trials.jsonl"


@dataclass(frozen=True)
class Load:
    """The small consistency workload of every trial (seed 000's burst, scaled down)."""

    items: int = 5
    stock: int = 100
    price: int = 1
    users: int = 20
    credit: int = 100
    orders: int = 200
    concurrency: int = 8
    seed: int = 1
    timeout: float = 10.0
    settle_timeout: float = 20.0

    def config(self) -> ConsistencyConfig:
        return ConsistencyConfig(items=self.items, stock=self.stock, price=self.price, users=self.users,
                                 credit=self.credit, orders=self.orders, concurrency=self.concurrency,
                                 seed=self.seed, timeout=self.timeout, settle_timeout=self.settle_timeout)

    def flags(self) -> list[str]:
        """The `shopbench consistency` flags that run this workload."""
        out = []
        for name, value in asdict(self).items():
            out += [f"--{name.replace('_', '-')}", f"{value:g}" if isinstance(value, float) else str(value)]
        return out

    def lighter(self) -> list[Load]:
        """Smaller workloads to try while shrinking: half the orders, half the concurrency."""
        out = []
        if self.orders >= 20:
            out.append(replace(self, orders=self.orders // 2))
        if self.concurrency >= 2:
            out.append(replace(self, concurrency=self.concurrency // 2))
        return out


@dataclass(frozen=True)
class Shop:
    """Where the trials run: the embedded reference shop (with `flaw`), or the user's shop."""

    flaw: str | None = None
    urls: Path | None = None
    services_file: Path | None = None
    services_data: Path | None = None

    def target(self) -> Any:
        from shopbench.target import Target

        return Target.load(self.urls) if self.urls is not None else None

    def flags(self) -> list[str]:
        out = ["--flaw", self.flaw] if self.flaw else []
        for flag, value in (("--urls", self.urls), ("--services-file", self.services_file),
                            ("--services-data", self.services_data)):
            if value is not None:
                out += [flag, str(value)]
        return out


@dataclass
class Trial:
    """What one trial did and what the ledger said."""

    index: int
    label: str
    plan: dict[str, Any]
    load: Load
    result: str  # valid | invalid | unknown | error
    seconds: float
    run_dir: str | None = None
    anomaly_types: dict[str, int] = field(default_factory=dict)
    explanation: list[str] = field(default_factory=list)  # the ledger's first messages
    unknown_reasons: list[str] = field(default_factory=list)
    error: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)  # the explorer's own notes (position, mode)

    def as_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["load"] = asdict(self.load)
        return out


EXPLAIN_LINES = 5
# A trial that could not run (a port another process took between its choice and its bind, on a
# busy machine) is tried again once before it counts as not run.
ERROR_RETRIES = 1


def explanation(verdict: dict[str, Any]) -> list[str]:
    """The ledger's own sentences for the first anomalies (what was lost, which order)."""
    return [str(a.get("message")) for a in (verdict.get("anomalies") or [])[:EXPLAIN_LINES] if a.get("message")]


class TrialRunner:
    """Runs trials one after another into `root/trials/NNN-label/`, logging each to trials.jsonl."""

    def __init__(self, root: Path, shop: Shop, *, echo: Any = None):
        self.root, self.shop, self.echo = root, shop, echo
        self.count = 0
        (root / TRIALS).mkdir(parents=True, exist_ok=True)

    def run(self, plan: dict[str, Any], load: Load, label: str, *, companions: list[Any] | None = None,
            extra: dict[str, Any] | None = None, finish: Callable[[Trial], None] | None = None) -> Trial:
        """One trial; `finish(trial)` may add to it (what the companions saw) before it is logged."""
        from shopbench.checker.verdict import result_of
        from shopbench.runner.consistency import run_consistency

        self.count += 1
        index = self.count
        out = self.root / TRIALS / f"{index:04d}-{label}"
        t0 = time.monotonic()
        trial = Trial(index, label, plan, load, "error", 0.0, str(out), extra=dict(extra or {}))
        for attempt in range(1 + ERROR_RETRIES):
            where = out if attempt == 0 else out.with_name(f"{out.name}-again{attempt}")
            trial.run_dir, trial.error = str(where), None
            try:
                hook = self._hook(plan)
                result = run_consistency(load.config(), target=self.shop.target(), flaw=self.shop.flaw,
                                         out=str(where),
                                         companions=[c for c in [hook, *(companions or [])] if c is not None],
                                         command_config={"explore": {"label": label, "plan": plan, **trial.extra}})
                verdict = result.verdict
                trial.result = result_of(verdict)
                trial.anomaly_types = dict(verdict.get("anomaly_types") or {})
                trial.explanation = explanation(verdict)
                trial.unknown_reasons = [str(r) for r in verdict.get("unknown_reasons") or []]
                break
            except ShopbenchError as exc:
                trial.error = str(exc)
            except Exception as exc:  # noqa: BLE001 - one broken trial is recorded, the exploration goes on
                trial.error = f"{type(exc).__name__}: {exc}"
            if self.echo is not None and attempt < ERROR_RETRIES:
                self.echo(f"trial {index} {label} could not run ({trial.error}); once more")
        trial.seconds = round(time.monotonic() - t0, 3)
        if finish is not None:
            finish(trial)
        with (self.root / TRIALS_LOG).open("a") as f:
            f.write(json.dumps(trial.as_dict(), default=str) + "\n")
        if self.echo is not None:
            what = trial.error or ", ".join(f"{k} {v}" for k, v in trial.anomaly_types.items()) or ""
            point = f" {trial.extra['point']}" if trial.extra.get("point") else ""
            self.echo(f"trial {index} {label}{point}: {trial.result.upper()} in {trial.seconds:.1f} s"
                      + (f" ({what})" if what else ""))
        return trial

    def _hook(self, plan: dict[str, Any]) -> Any:
        if not plan.get("kill_triggers"):
            return None
        from shopbench.nemesis.config import parse_fault_plan
        from shopbench.nemesis.hooks import FaultHook

        shop = self.shop
        return FaultHook(parse_fault_plan(plan, "explore plan"), data_dir=shop.services_data,
                         services_file=shop.services_file)


def command(plan_path: Path | str, load: Load, shop: Shop) -> str:
    """The one `shopbench consistency` command that runs `load` with the plan in `plan_path`."""
    args = ["shopbench", "consistency", *load.flags(), *shop.flags(), "--faults", str(plan_path)]
    return shlex.join(args)
