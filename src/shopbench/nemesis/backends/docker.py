"""The Docker backend: faults as Docker Engine calls on a service's containers (the Docker SDK).

A service is the set of containers whose Compose label `com.docker.compose.service` equals its
name (optionally within one Compose project); when no container carries that label, the
containers whose name starts with the service name. `count` is how many of them one action hits
(running ones, in name order; a `count` at least the number of replicas hits them all). Every
action is verified against the engine's own view of the container afterwards (exited, paused,
running), which is the `landed` evidence. Actions map to the Engine API: kill (SIGKILL), terminate (stop:
SIGTERM, then SIGKILL after the stop timeout), pause, resume (unpause), restart; recovering
starts what was stopped and unpauses what was paused, then waits until each container runs (and
reports healthy, when it has a health check).

This backend is tested against a fake Engine API server (tests/fakes/docker_engine.py), since no
Docker engine runs where shopbench is developed.
"""

from __future__ import annotations

import time
from typing import Any

from shopbench.errors import TargetError, UsageError
from shopbench.nemesis.backends.base import ERROR, OK, SKIPPED, Hit, TargetStatus
from shopbench.nemesis.config import ALIASES, REVERSE_ALIASES, canonical_service

SERVICE_LABEL = "com.docker.compose.service"
PROJECT_LABEL = "com.docker.compose.project"


def _docker_errors() -> tuple[type[BaseException], ...]:
    import docker.errors
    import requests

    return (docker.errors.DockerException, requests.RequestException)


class DockerBackend:
    kind = "docker"

    def __init__(self, base_url: str | None = None, *, client: Any = None, project: str | None = None,
                 stop_timeout: int = 10, health_timeout: float = 60.0, api_timeout: float = 30.0):
        import docker  # imported here: commands that never touch Docker should not pay for it

        self.base_url = base_url or "unix:///var/run/docker.sock"
        self.project = project
        self.stop_timeout = stop_timeout
        self.health_timeout = health_timeout
        if client is None:
            try:
                client = docker.DockerClient(base_url=self.base_url, timeout=int(api_timeout))
                client.ping()
            except _docker_errors() as exc:
                raise TargetError(f"cannot reach the Docker engine at {self.base_url} ({_short(exc)}); "
                                  f"is Docker running, or pass --docker-url.") from None
        self.client = client

    # -- finding containers -----------------------------------------------------------------
    def _list(self, filters: dict[str, Any] | None = None, in_project: bool = True) -> list[Any]:
        labels = []
        if self.project and in_project:
            labels.append(f"{PROJECT_LABEL}={self.project}")
        if filters and "label" in filters:
            labels.append(filters["label"])
        query: dict[str, Any] = {}
        if labels:
            query["label"] = labels
        try:
            found = self.client.containers.list(all=True, filters=query, ignore_removed=True)
        except _docker_errors() as exc:
            raise TargetError(f"Docker engine at {self.base_url}: cannot list containers ({_short(exc)}).") from None
        return sorted(found, key=lambda c: c.name)

    def containers(self, service: str) -> list[Any]:
        labelled = self._list({"label": f"{SERVICE_LABEL}={service}"})
        if labelled:
            return labelled
        # Name prefixes serve containers Compose did not start, which carry no project label either.
        return [c for c in self._list(in_project=False) if c.name.lstrip("/").startswith(service)]

    def services(self) -> list[str]:
        return sorted({c.labels.get(SERVICE_LABEL) for c in self._list() if c.labels.get(SERVICE_LABEL)})

    def canonical(self, name: str) -> str:
        known = self.services()
        canon = canonical_service(name, known)
        if canon is not None:
            return canon
        for alt in (name, *_alias_forms(name)):
            if any(c.name.lstrip("/").startswith(alt) for c in self._list(in_project=False)):
                return alt
        raise UsageError(f"unknown service {name!r}: no container at {self.base_url} has the Compose label "
                         f"{SERVICE_LABEL}={name} or a name starting with it; Compose services found: "
                         f"{', '.join(known) or 'none'}.")

    # -- faults -----------------------------------------------------------------------------
    def apply(self, action: str, service: str, count: int = 1) -> list[Hit]:
        service = self.canonical(service)
        all_containers = self.containers(service)
        if action == "resume":
            eligible = [c for c in all_containers if c.status == "paused"]
        elif action == "restart":
            # Restarting brings a dead container back too; running ones come first.
            eligible = sorted(all_containers, key=lambda c: c.status != "running")
        else:
            eligible = [c for c in all_containers if c.status == "running"]
        if not eligible:
            states = ", ".join(f"{c.name} {c.status}" for c in all_containers) or "no containers"
            want = "paused" if action == "resume" else "running"
            return [Hit(None, SKIPPED, f"no {want} container of {service} ({states})", landed=False)]
        hits = []
        for c in eligible[:count]:
            target = f"container {c.name}"
            try:
                if action == "kill":
                    c.kill()
                elif action == "terminate":
                    c.stop(timeout=self.stop_timeout)
                elif action == "pause":
                    c.pause()
                elif action == "resume":
                    c.unpause()
                elif action == "restart":
                    c.restart(timeout=self.stop_timeout)
                    self._wait_up(c.id)
                else:
                    raise ValueError(f"unknown action {action!r}")
                landed, evidence = self._verify(action, c.id)
                hits.append(Hit(target, OK, None if landed else evidence, handle=c.id, landed=landed,
                                evidence=evidence, landed_at=time.time()))
            except (TargetError, *_docker_errors()) as exc:
                hits.append(Hit(target, ERROR, _short(exc), handle=c.id, landed=False))
        return hits

    _WANT = {"kill": ("exited", "dead"), "terminate": ("exited", "dead"), "pause": ("paused",),
             "resume": ("running",), "restart": ("running",)}

    def _verify(self, action: str, container_id: str, timeout: float = 5.0) -> tuple[bool, str]:
        """Did the action take effect: the container's state as the engine reports it afterwards."""
        want = self._WANT[action]
        deadline = time.monotonic() + timeout
        while True:
            c = self.client.containers.get(container_id)
            state = c.attrs.get("State") or {}
            status = state.get("Status") or c.status
            if status in want:
                code = f" (exit code {state.get('ExitCode')})" if status == "exited" else ""
                return True, f"the engine reports container {c.name} {status}{code}"
            if time.monotonic() > deadline:
                return False, f"container {c.name} is {status} {timeout:g} s after {action}, not {' or '.join(want)}"
            time.sleep(0.05)

    def recover(self, action: str, service: str, hits: list[Hit]) -> list[Hit]:
        out = []
        for hit in hits:
            if hit.result != OK or hit.handle is None:
                continue
            try:
                c = self.client.containers.get(hit.handle)
                if c.status == "paused":
                    c.unpause()
                elif c.status != "running":
                    c.start()
                self._wait_up(c.id)
                out.append(Hit(f"container {c.name}", OK, handle=c.id, landed=True, landed_at=time.time(),
                               evidence=f"container {c.name} running and resumed"))
            except (TargetError, *_docker_errors()) as exc:
                out.append(Hit(hit.target, ERROR, _short(exc), handle=hit.handle))
        return out

    def _wait_up(self, container_id: str) -> None:
        deadline = time.monotonic() + self.health_timeout
        while True:
            c = self.client.containers.get(container_id)
            state = c.attrs.get("State", {})
            health = (state.get("Health") or {}).get("Status")
            if c.status == "running" and not state.get("Paused") and health in (None, "healthy"):
                return
            if time.monotonic() > deadline:
                raise TargetError(f"container {c.name} is {c.status}"
                                  f"{f' ({health})' if health else ''} {self.health_timeout:g} s after recovery.")
            time.sleep(0.1)

    def status(self, services: list[str] | None = None) -> list[TargetStatus]:
        if services:
            containers = [c for s in services for c in self.containers(self.canonical(s))]
        else:
            containers = [c for c in self._list()]
        rows = []
        for c in containers:
            health = ((c.attrs.get("State") or {}).get("Health") or {}).get("Status")
            rows.append(TargetStatus(c.labels.get(SERVICE_LABEL) or c.name, f"container {c.name}", c.status,
                                     health or ""))
        return rows


def _alias_forms(name: str) -> list[str]:
    return [a for a in (ALIASES.get(name), REVERSE_ALIASES.get(name)) if a]


def _short(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return text[:300]
