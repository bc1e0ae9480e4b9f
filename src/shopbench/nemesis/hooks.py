"""Faults for a runner: the nemesis as a `Companion` (shopbench.runner.companion) of the load.

    hook = FaultHook("kill_config.json")                  # structure checked now: bad input fails fast
    hook.bind(run, supervisor=shop.supervisor)            # once the run dir and (embedded) shop exist
    with hook.during(monitor):                            # around the load
        ...
    sections = hook.sections(VerdictInputs(run, ops_path))  # {"faults", "faults_not_fired", "fault_landing"}

`bind` chooses the backend: the embedded reference shop's supervisor when the runner started one,
otherwise what the user said (`backend="local"` with a state dir or services file, or
`backend="docker"` with an Engine URL); it then checks every service name against it, adopts the
services of a services file that already run (so faults reach a shop shopbench did not start),
and warns about every fault that could not land if it fired now.

The hook judges nothing itself: `sections` hands the fault timeline to
`shopbench.checker.recovery.fault_sections`, which computes the recovery figures and says which
faults did not land (UNKNOWN, with the reason). A trigger that never fired is UNKNOWN too (asked for
but not exercised): its sentence, in `fault_landing`'s `unknown_reasons`, says what to change, or
that its input (the user count, the operations) was never fed to the monitor at all.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any

from shopbench.errors import UsageError
from shopbench.nemesis.backends import Backend, make_backend
from shopbench.nemesis.config import FaultPlan, load_fault_plan, parse_fault_plan
from shopbench.nemesis.nemesis import Nemesis
from shopbench.nemesis.timeline import read_timeline
from shopbench.rundir import FAULTS, OPS


class FaultHook:
    name = "faults"

    def __init__(
        self,
        plan: FaultPlan | str | Path,
        *,
        backend: str | Backend = "local",
        data_dir: str | Path | None = None,
        services_file: str | Path | None = None,
        docker_url: str | None = None,
        project: str | None = None,
        listener: Callable[[dict[str, Any]], None] | None = None,
        warn: Callable[[str], None] | None = None,
        adopt: bool = True,
    ):
        self.plan = plan if isinstance(plan, FaultPlan) else load_fault_plan(plan)
        self.backend_spec = backend
        self.options = {"data_dir": data_dir, "services_file": services_file, "docker_url": docker_url,
                        "project": project}
        self.listener = listener
        self.warn = warn
        self.adopt = adopt
        self.backend: Backend | None = None
        self.timeline_path: Path | None = None
        self.nemesis: Nemesis | None = None
        self.monitor: Any = None  # the live monitor the triggers read (during)
        self.load_s: float | None = None
        self.run: Any = None
        self.warnings: list[str] = []
        self.proxy: Any = None  # a fault proxy this hook started for a services file's links

    @property
    def wants_links(self) -> bool:
        """The plan has network faults: an embedded reference shop must be started with links."""
        from shopbench.nemesis.network import NETWORK_ACTIONS

        return any(t.action in NETWORK_ACTIONS for t in self.plan.triggers)

    # -- Companion ------------------------------------------------------------------------------
    def bind(self, run: Any, supervisor: Any = None) -> None:
        """Choose the backend, check the plan's services against it, adopt running services, warn
        about faults that cannot land, and point the timeline at the run."""
        backend = self._choose_backend(supervisor)
        if self.wants_links and not hasattr(backend, "apply_link"):  # the same backend, plus the shop's links
            from shopbench.nemesis.network import with_links

            backend, self.proxy = with_links(backend, supervisor, self.options["services_file"],
                                             self.options["data_dir"], echo=self.warn)
        self.backend = backend
        self.plan = parse_fault_plan(self.plan.model_dump(include={"kill_triggers"}), self.plan.source,
                                     backend=backend)
        if self.wants_links:
            from shopbench.nemesis.network import check_plan

            check_plan(self.plan, backend)
        adopted = self._adopt(backend)
        self.warnings = plan_warnings(self.plan, backend)
        for line in self.warnings:
            if self.warn is not None:
                self.warn(f"warning: {line}")
        self.timeline_path = Path(run.file(FAULTS))
        manifest = getattr(run, "manifest", None)
        if isinstance(manifest, dict):
            manifest.setdefault("config", {})["faults"] = {
                "source": self.plan.source, "backend": backend.kind,
                "kill_triggers": self.plan.model_dump()["kill_triggers"],
                "adopted": adopted, "cannot_land": self.warnings}
            run.save_manifest()
        self.run = run

    def during(self, monitor: Any) -> AbstractContextManager[Nemesis]:
        """The nemesis, a context manager around the load: it fires, holds and undoes the faults."""
        if self.backend is None:
            raise RuntimeError("FaultHook.bind(run, supervisor) must be called before the load starts")
        self.monitor = monitor
        self.nemesis = Nemesis(self.plan, self.backend, self.timeline_path, monitor, listener=self.listener)
        return self._held(self.nemesis)

    @contextmanager
    def _held(self, nemesis: Nemesis) -> Iterator[Nemesis]:
        with nemesis:
            try:
                yield nemesis
            finally:
                self.load_s = nemesis.elapsed()  # how long the load ran: what a time trigger waited for

    def sections(self, inputs: Any = None, *, ops: Any = None) -> dict[str, Any]:
        """The verdict sections (`faults`, `faults_not_fired`, `fault_landing`), computed by the
        recovery checker from the history (`inputs.ops_path` streamed once, or `ops` as given) and
        the timeline."""
        from shopbench.checker.recovery import fault_sections
        from shopbench.history import iter_history

        lines = read_timeline(self.timeline_path) if self.timeline_path is not None else []
        if ops is None:
            path = Path(inputs.ops_path) if inputs is not None else (
                Path(self.run.file(OPS)) if self.run is not None else None)
            ops = iter_history(path) if path is not None and path.exists() else []
        not_fired = self.not_fired()
        out = fault_sections(ops, lines, not_fired)
        landing = out["fault_landing"]
        landing["unknown_reasons"] = [*landing.get("unknown_reasons", []), *(t["message"] for t in not_fired)]
        return out

    def not_fired(self) -> list[dict[str, Any]]:
        """Triggers whose condition never came true: the fault plan was asked for and not exercised,
        so each is a sentence saying what to change (the run is UNKNOWN, never VALID)."""
        fired = self.nemesis.fired if self.nemesis is not None else {}
        return [{"index": i, "type": t.type, "threshold": t.threshold, "services": list(t.services),
                 "links": list(t.links), "message": never_fired(i, t, self.monitor, self.load_s, self.plan.source)}
                for i, t in enumerate(self.plan.triggers) if i not in fired]

    # -- helpers ----------------------------------------------------------------------------------
    def _choose_backend(self, supervisor: Any) -> Backend:
        if not isinstance(self.backend_spec, str):
            return self.backend_spec
        if self.backend_spec == "local" and supervisor is not None and not any(self.options.values()):
            return make_backend("local", supervisor=supervisor)
        if self.backend_spec == "local":
            if self.options["data_dir"] is None and self.options["services_file"] is None:
                raise UsageError("--faults on a shop given by --urls needs to know where its services run: "
                                 "--services-file (your own processes), --services-data (a shopbench state "
                                 "directory) or --fault-backend docker.")
            return make_backend("local", data_dir=self.options["data_dir"],
                                services_file=self.options["services_file"])
        if self.backend_spec == "k8s":
            return make_backend("k8s", services_file=self.options["services_file"])
        return make_backend(self.backend_spec, docker_url=self.options["docker_url"],
                            project=self.options["project"])

    def _adopt(self, backend: Backend) -> list[dict[str, Any]]:
        adopt = getattr(backend, "adopt", None)
        if not self.adopt or adopt is None or not getattr(backend, "specs", None):
            return []
        rows = []
        for service, pid, how in adopt(self.plan.services()):
            rows.append({"service": service, "pid": pid, "how": how})
            if pid is not None and how.startswith("found by") and self.warn is not None:
                self.warn(f"adopted {service} (pid {pid}, {how}): faults will reach it")
        return rows


# What feeds each trigger type's reading in the monitor (shopbench.monitor.LoadMonitor.fed).
INPUTS = {"users": ("users", "the user count"), "rps": ("ops", "completed operations"),
          "checkouts": ("ops", "completed operations")}


def never_fired(index: int, trig: Any, monitor: Any, elapsed: float | None, source: Any = None) -> str:
    """Why kill_triggers[index] never fired, and what to change, in one sentence."""
    what = f"kill_triggers[{index}] ({trig.type} >= {trig.threshold:g}, {trig.action} " \
           f"{', '.join(trig.services or trig.links)})"
    where = f" in {source}" if source else ""
    untested = "so the fault plan was not exercised and the run cannot be VALID"
    fed, name = INPUTS.get(trig.type, (None, ""))
    if fed is not None and (monitor is None or fed not in getattr(monitor, "fed", ())):
        return (f"{what} never fired: its input, {name}, was never fed to the load monitor, {untested}; run the "
                "load through shopbench (shopbench stress -f FILE with users that subclass ShopUser or GrpcUser) "
                "or use a time trigger")
    ran = f" after {elapsed:.1f} s" if elapsed is not None else ""
    if trig.type == "time":
        change = (f"make the load last longer than {trig.threshold:g} s (stress: -t / --run-time; consistency: more "
                  "--orders) or lower the threshold")
        seen = f"the load ended{ran}"
    elif trig.type == "users":
        change = f"raise the user count to at least {trig.threshold:g} (-u / --users) or lower the threshold"
        seen = f"the load peaked at {monitor.peak_users} users"
    elif trig.type == "rps":
        change = "add users (-u), shorten their wait, or lower the threshold"
        seen = f"the load never reached {trig.threshold:g} operations per second{ran}"
    else:
        change = "make the load longer (-t / --run-time) or lower the threshold"
        seen = f"{monitor.completed_checkouts} checkouts completed{ran}"
    return f"{what} never fired: {seen}, {untested}; {change}{where}"


def plan_warnings(plan: FaultPlan, backend: Any) -> list[str]:
    """One sentence per trigger and service whose fault could not land if it fired now."""
    cannot = getattr(backend, "cannot_land", None)
    if cannot is None:
        return []
    out = []
    for i, trig in enumerate(plan.triggers):
        for service in trig.services:
            why = cannot(service, trig.action)
            if why:
                out.append(f"kill_triggers[{i}] ({trig.action} {service}) cannot land: {why}; the run will be "
                           f"UNKNOWN if it fires")
    return out


def hook_from_flags(
    faults: str | Path | None,
    *,
    backend: str = "local",
    services_file: str | Path | None = None,
    services_data: str | Path | None = None,
    docker_url: str | None = None,
    project: str | None = None,
    echo: Callable[[str], None] | None = None,
) -> FaultHook | None:
    """The CLI's `--faults FILE [--fault-backend …]` as a hook (None without --faults). The plan's
    structure is checked here, before any run starts; `echo` gets one line per fault action."""
    if faults is None:
        if services_file or services_data or docker_url or project or backend != "local":
            raise UsageError("--fault-backend, --services-file, --services-data, --docker-url and --project "
                             "only apply with --faults FILE.")
        return None
    if backend not in ("local", "docker", "k8s"):
        raise UsageError(f"--fault-backend {backend!r}: choose local, docker or k8s.")
    if backend == "k8s" and services_file is None:
        raise UsageError("--fault-backend k8s needs --services-file: a Kubernetes services file naming the "
                         "namespace and each service's label selector (see docs/faults.md).")

    def show(entry: dict[str, Any]) -> None:
        if echo is None:
            return
        what = entry["action"] if entry["role"] == "fault" else f"{entry['action']} ({entry.get('reason')})"
        where = f" {entry['target']}" if entry.get("target") else ""
        if entry["result"] != "ok":
            tail = f": {entry['result']}, {entry.get('error')}"
        elif entry.get("landed") is False:
            tail = f": did not land, {entry.get('evidence')}"
        else:
            tail = f" (landed in {entry['landed_s']:.3f} s)" if entry.get("landed_s") is not None else ""
        echo(f"fault {entry['fault']}: {what} {entry['service']}{where}{tail}")

    return FaultHook(faults, backend=backend, data_dir=services_data, services_file=services_file,
                     docker_url=docker_url, project=project, listener=show, warn=echo)
