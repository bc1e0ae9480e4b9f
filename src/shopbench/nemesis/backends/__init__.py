"""Fault backends: how an action reaches a service (local processes, Docker, Kubernetes)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from shopbench.errors import UsageError
from shopbench.nemesis.backends.base import Backend, Hit, TargetStatus
from shopbench.nemesis.backends.local import LocalBackend, load_services_file, services_data_dir
from shopbench.processes import Supervisor

BACKENDS = ("local", "docker", "k8s")
REFSHOP_SERVICES_DIR = Path(".shopbench/shop/services")

__all__ = ["BACKENDS", "Backend", "Hit", "LocalBackend", "TargetStatus", "load_services_file", "make_backend",
           "services_data_dir"]


def make_backend(
    kind: str = "local",
    *,
    supervisor: Supervisor | None = None,
    data_dir: str | Path | None = None,
    services_file: str | Path | None = None,
    docker_url: str | None = None,
    docker_client: Any = None,
    project: str | None = None,
    **options: Any,
) -> Backend:
    """A backend by name.

    local:  `supervisor` (e.g. `RefShop.supervisor`), or the supervisor state directory `data_dir`
            (default: the reference shop's, .shopbench/shop/services; with a services file, beside
            that file: .shopbench/<file stem>/), plus an optional `services_file` describing a
            user's services.
    docker: `docker_url` (default the local socket) or a ready `docker_client`; `project` limits
            it to one Compose project.
    k8s:    `services_file`, a Kubernetes services file (namespace, a label selector per service).
    """
    if kind == "local":
        specs = load_services_file(services_file) if services_file is not None else None
        if supervisor is None:
            if data_dir is None:
                data_dir = services_data_dir(services_file) if services_file is not None else REFSHOP_SERVICES_DIR
            supervisor = Supervisor(data_dir)
        return LocalBackend(supervisor, specs)
    if kind == "docker":
        from shopbench.nemesis.backends.docker import DockerBackend

        return DockerBackend(docker_url, client=docker_client, project=project, **options)
    if kind == "k8s":
        from shopbench.nemesis.backends.k8s import KubernetesBackend

        return KubernetesBackend(services_file, **options)  # type: ignore[arg-type]
    raise UsageError(f"--backend {kind!r} is not a fault backend; choose one of {', '.join(BACKENDS)}.")
