"""Faults for a runner: one object that a consistency or stress run puts around its load.

    hook = FaultHook("kill_config.json")                  # structure checked now: bad input fails fast
    hook.bind(run, supervisor=shop.supervisor)            # once the run dir and (embedded) shop exist
    with hook(monitor):                                   # the `during_burst` / `nemesis` callable
        ...                                               # the load
    extra = hook.verdict_extra(ops)                       # {"faults": [per-fault recovery figures]}

`bind` chooses the backend: the embedded reference shop's supervisor when the runner started one,
otherwise what the user said (`backend="local"` with a state dir or services file, or
`backend="docker"` with an Engine URL); it then checks every service name against it.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from shopbench.errors import UsageError
from shopbench.history import SETUP_PROCESSES
from shopbench.nemesis.backends import Backend, make_backend
from shopbench.nemesis.config import FaultPlan, load_fault_plan, parse_fault_plan
from shopbench.nemesis.nemesis import Nemesis
from shopbench.nemesis.timeline import read_timeline
from shopbench.rundir import FAULTS, OPS


class FaultHook:
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
    ):
        self.plan = plan if isinstance(plan, FaultPlan) else load_fault_plan(plan)
        self.backend_spec = backend
        self.options = {"data_dir": data_dir, "services_file": services_file, "docker_url": docker_url,
                        "project": project}
        self.listener = listener
        self.backend: Backend | None = None
        self.timeline_path: Path | None = None
        self.nemesis: Nemesis | None = None
        self.proxy: Any = None  # a fault proxy this hook started for a services file's links
        self.echo: Callable[[str], None] | None = None

    @property
    def wants_links(self) -> bool:
        """The plan has network faults: an embedded reference shop must be started with links."""
        from shopbench.nemesis.network import NETWORK_ACTIONS

        return any(t.action in NETWORK_ACTIONS for t in self.plan.triggers)

    def bind(self, run: Any, supervisor: Any = None) -> None:
        """Choose the backend, check the plan's services against it, and point the timeline at the run."""
        if not isinstance(self.backend_spec, str):
            backend = self.backend_spec
        elif self.backend_spec == "local" and supervisor is not None and not any(self.options.values()):
            backend = make_backend("local", supervisor=supervisor)
        elif self.backend_spec == "local":
            if self.options["data_dir"] is None and self.options["services_file"] is None:
                raise UsageError("--faults on a shop given by --urls needs to know where its services run: "
                                 "--services-file (your own processes), --services-data (a shopbench state "
                                 "directory) or --fault-backend docker.")
            backend = make_backend("local", data_dir=self.options["data_dir"],
                                   services_file=self.options["services_file"])
        else:
            backend = make_backend(self.backend_spec, docker_url=self.options["docker_url"],
                                   project=self.options["project"])
        if self.wants_links and not hasattr(backend, "apply_link"):  # the same backend, plus the shop's links
            from shopbench.nemesis.network import with_links

            backend, self.proxy = with_links(backend, supervisor, self.options["services_file"],
                                             self.options["data_dir"], echo=self.echo)
        self.backend = backend
        self.plan = parse_fault_plan(self.plan.model_dump(include={"kill_triggers"}), self.plan.source,
                                     backend=backend)
        if self.wants_links:
            from shopbench.nemesis.network import check_plan

            check_plan(self.plan, backend)
        self.timeline_path = Path(run.file(FAULTS))
        manifest = getattr(run, "manifest", None)
        if isinstance(manifest, dict):
            manifest.setdefault("config", {})["faults"] = {
                "source": self.plan.source, "backend": backend.kind,
                "kill_triggers": self.plan.model_dump()["kill_triggers"]}
            run.save_manifest()
        self.run = run

    def __call__(self, monitor: Any) -> Nemesis:
        if self.backend is None:
            raise RuntimeError("FaultHook.bind(run, supervisor) must be called before the load starts")
        self.nemesis = Nemesis(self.plan, self.backend, self.timeline_path, monitor, listener=self.listener)
        return self.nemesis

    def verdict_extra(self, ops: Any = None) -> dict[str, Any]:
        """`{"faults": [...]}` for `finish_run(extra=...)`: one recovery record per fault.

        `ops` is the history (a list of op dicts or Ops); by default the run's ops.jsonl, which the
        runner must have flushed."""
        from shopbench.checker.recovery import recovery
        from shopbench.history import iter_history

        lines = read_timeline(self.timeline_path) if self.timeline_path is not None else []
        if ops is None:
            path = Path(self.run.file(OPS))
            ops = list(iter_history(path)) if path.exists() else []
        # Setup traffic is not load: it would make a meaningless throughput baseline.
        load = [op for op in ops if (op.get("process") if isinstance(op, dict) else op.process) not in SETUP_PROCESSES]
        extra: dict[str, Any] = {"faults": recovery(load, lines)}
        fired = self.nemesis.fired if self.nemesis is not None else {}
        # A trigger whose condition never came true is no fault the shop survived: say so.
        extra["faults_not_fired"] = [
            {"index": i, "type": t.type, "threshold": t.threshold, "services": list(t.services),
             "message": f"kill_triggers[{i}] ({t.type} >= {t.threshold:g}) never fired: the load ended first"}
            for i, t in enumerate(self.plan.triggers) if i not in fired]
        return extra


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
    if backend not in ("local", "docker"):
        raise UsageError(f"--fault-backend {backend!r}: choose local or docker.")

    def show(entry: dict[str, Any]) -> None:
        if echo is None:
            return
        what = entry["action"] if entry["role"] == "fault" else f"{entry['action']} ({entry.get('reason')})"
        where = f" {entry['target']}" if entry.get("target") else ""
        tail = "" if entry["result"] == "ok" else f": {entry['result']}, {entry.get('error')}"
        echo(f"fault {entry['fault']}: {what} {entry['service']}{where}{tail}")

    hook = FaultHook(faults, backend=backend, data_dir=services_data, services_file=services_file,
                     docker_url=docker_url, project=project, listener=show)
    hook.echo = echo
    return hook
