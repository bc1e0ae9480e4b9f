"""What the sampler reads: a local process tree, Docker services, the load generator itself."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from typing import Any

from shopbench.resources.lines import GENERATOR, SERVICE
from shopbench.resources.lines import line as _line
from shopbench.resources.procfs import CpuClock, Snapshot, cmdline, read_tree

PidOf = Callable[[], "int | None"]


class ProcessTree:
    """A local service: the tree under the pid `pid_of()` names now (the reference shop's
    Supervisor, a services file's, or any callable)."""

    backend = "local"

    def __init__(self, name: str, pid_of: PidOf):
        self.name = name
        self.pid_of = pid_of
        self.clock = CpuClock()

    def read(self, snap: Snapshot) -> tuple[list[dict[str, Any]], set[int]]:
        try:
            pid = self.pid_of()
        except Exception as exc:  # a supervisor mid-restart: a gap in the series, not a crash
            return [_line(SERVICE, self.name, self.backend, snap.wall, error=f"pid unknown: {exc}")], set()
        if not pid:
            self.clock = CpuClock()
            return [_line(SERVICE, self.name, self.backend, snap.wall)], set()
        tree = snap.tree(pid)
        figures = read_tree(tree, snap, self.clock)
        if figures is None:
            self.clock = CpuClock()
            return [_line(SERVICE, self.name, self.backend, snap.wall, pid=pid, error="no such process")], set()
        return [_line(SERVICE, self.name, self.backend, snap.wall, pid=pid, figures=figures)], set(tree)


def supervised(supervisor: Any, names: Iterable[str] | None = None) -> list[ProcessTree]:
    """One source per service of a `processes.Supervisor`, through its public `pid(name)`."""
    chosen = list(names) if names is not None else supervisor.names()
    return [ProcessTree(name, lambda name=name: supervisor.pid(name)) for name in chosen]


def sources_for_backend(backend: Any) -> list[Any]:
    """The services a fault backend (nemesis/backends) knows, as sampler sources: so a run with
    `--fault-backend docker` or `--services-file` samples what it faults. Duck-typed on `kind`."""
    kind = getattr(backend, "kind", None)
    if kind == "local":
        return supervised(backend.supervisor, backend.services())
    if kind == "docker":
        return [DockerServices(backend.client, backend.services() or None, getattr(backend, "project", None))]
    if kind == "k8s":
        return [KubernetesPods(backend)]
    return []


class KubernetesPods:
    """Pods of a Kubernetes backend's services: CPU and memory from the metrics API (metrics-server),
    summed per service; a gap with the reason where it is not served."""

    backend = "k8s"

    def __init__(self, k8s: Any):
        self.k8s = k8s

    def read(self, snap: Snapshot) -> tuple[list[dict[str, Any]], set[int]]:
        try:
            usage = self.k8s.usage()
            pods = {service: self.k8s.pods(service) for service in self.k8s.services()}
        except Exception as exc:  # noqa: BLE001 - an unreachable API is a gap in the series, not the end
            return [_line(SERVICE, s, self.backend, snap.wall, error=str(exc)) for s in self.k8s.services()], set()
        lines = []
        for service, found in pods.items():
            names = [p["metadata"]["name"] for p in found if p["metadata"]["name"] in usage]
            if not names:
                lines.append(_line(SERVICE, service, self.backend, snap.wall, error="no pod with metrics"))
                continue
            figures = {"procs": len(names), "cpu": round(sum(usage[n][0] for n in names) * 100.0, 1),
                       "rss": sum(usage[n][1] for n in names), "fds": None, "threads": None, "conns": None}
            lines.append(_line(SERVICE, service, self.backend, snap.wall, container=",".join(names), figures=figures))
        return lines, set()


class DockerServices:
    """Docker services: per sample one container listing, then each running container's one-shot
    stats, summed per service (`container`: the short ids, comma-separated)."""

    backend = "docker"
    SERVICE_LABEL = "com.docker.compose.service"
    PROJECT_LABEL = "com.docker.compose.project"

    def __init__(self, client: Any, services: Iterable[str] | None = None, project: str | None = None):
        self.client = client
        self.services = list(services) if services is not None else None
        self.project = project
        self._cpu: dict[str, tuple[float, float]] = {}  # container id -> (cpu ns, wall)

    def _by_service(self) -> dict[str, list[Any]]:
        filters = {"label": [f"{self.PROJECT_LABEL}={self.project}"]} if self.project else {}
        found = self.client.containers.list(all=True, filters=filters, ignore_removed=True)
        groups: dict[str, list[Any]] = {}
        for c in sorted(found, key=lambda c: c.name):
            service = c.labels.get(self.SERVICE_LABEL)
            if service is None and self.services is not None:
                # Containers Compose did not start: matched by name prefix, as the fault backend does.
                service = next((s for s in self.services if c.name.lstrip("/").startswith(s)), None)
            if service is not None and (self.services is None or service in self.services):
                groups.setdefault(service, []).append(c)
        for s in self.services or ():
            groups.setdefault(s, [])
        return groups

    def _stats(self, c: Any, wall: float) -> dict[str, Any]:
        s = c.stats(stream=False, one_shot=True)
        cpu_stats = s.get("cpu_stats") or {}
        cpu_ns = float((cpu_stats.get("cpu_usage") or {}).get("total_usage") or 0)
        mem = s.get("memory_stats") or {}
        detail = mem.get("stats") or {}
        rss = int(mem.get("usage") or 0) - int(detail.get("inactive_file", detail.get("cache", 0)) or 0)
        # The interval on the engine's clock, as `docker stats` measures it: the host's CPU time over
        # all its cores (our own clock would add the time the answer took to reach us).
        cores = int(cpu_stats.get("online_cpus") or 0)
        system = cpu_stats.get("system_cpu_usage")
        clock = float(system) / max(cores, 1) / 1e9 if system and cores else wall
        previous = self._cpu.get(c.id)
        self._cpu[c.id] = (cpu_ns, clock)
        cpu = None
        if previous is not None and clock > previous[1]:
            cpu = round(max(cpu_ns - previous[0], 0.0) / 1e9 / (clock - previous[1]) * 100.0, 1)
        return {"procs": (s.get("pids_stats") or {}).get("current"), "cpu": cpu, "rss": max(rss, 0)}

    def read(self, snap: Snapshot) -> tuple[list[dict[str, Any]], set[int]]:
        try:
            groups = self._by_service()
        except Exception as exc:  # the engine went away: every service is unreadable this second
            names = self.services or []
            return [_line(SERVICE, n, self.backend, snap.wall, error=f"docker: {exc}") for n in names], set()
        lines = []
        for service, containers in groups.items():
            running = [c for c in containers if c.status == "running"]
            ids = ",".join(c.id[:12] for c in running) or None
            if not running:
                lines.append(_line(SERVICE, service, self.backend, snap.wall, error="container not running"))
                continue
            total: dict[str, Any] = {"procs": 0, "cpu": 0.0, "rss": 0, "fds": None, "threads": None, "conns": None}
            try:
                for c in running:
                    one = self._stats(c, snap.wall)
                    total["procs"] = None if one["procs"] is None or total["procs"] is None \
                        else total["procs"] + one["procs"]
                    total["cpu"] = None if one["cpu"] is None or total["cpu"] is None else total["cpu"] + one["cpu"]
                    total["rss"] += one["rss"]
            except Exception as exc:  # removed between the listing and the stats call
                lines.append(_line(SERVICE, service, self.backend, snap.wall, container=ids, error=f"docker: {exc}"))
                continue
            if total["cpu"] is not None:
                total["cpu"] = round(total["cpu"], 1)
            lines.append(_line(SERVICE, service, self.backend, snap.wall, container=ids, figures=total))
        return lines, set()



class Generator:
    """shopbench itself: this process and its Locust worker processes (`--processes`): children
    forked from it, so with its command line; the shop's processes, a health-check shell or any
    other child are not the generator."""

    backend = "self"

    def __init__(self, pid: int | None = None):
        self.pid = pid or os.getpid()
        self.clocks: dict[int, CpuClock] = {}
        self._forked: dict[tuple[int, float], bool] = {}  # (pid, start) -> a fork of the main process
        self._numbers: dict[int, int] = {}  # worker pid -> its number, in the order first seen

    def _is_worker(self, pid: int, snap: Snapshot) -> bool:
        st = snap.stat(pid)
        key = (pid, st.started if st else 0.0)
        if key not in self._forked:
            own, theirs = cmdline(self.pid), cmdline(pid)
            self._forked[key] = own is not None and own == theirs
        return self._forked[key]

    def read(self, snap: Snapshot, services: set[int]) -> list[dict[str, Any]]:
        lines = []
        workers = [p for p in snap.children.get(self.pid, ()) if p not in services and self._is_worker(p, snap)]
        for pid in [self.pid, *workers]:
            clock = self.clocks.setdefault(pid, CpuClock())
            figures = read_tree([pid], snap, clock, sockets=False)
            if figures is None:
                continue
            # Numbered, not named by pid, so runs compare row by row (`shopbench compare`, charts).
            name = "main" if pid == self.pid else f"worker-{self._numbers.setdefault(pid, len(self._numbers) + 1)}"
            lines.append(_line(GENERATOR, name, self.backend, snap.wall, pid=pid, figures=figures))
        for gone in set(self.clocks) - {self.pid, *workers}:
            del self.clocks[gone]
        if len(self._forked) > 256:  # children come and go (health checks): forget the ones gone
            self._forked = {k: v for k, v in self._forked.items() if k[0] in snap.pids}
        return lines

