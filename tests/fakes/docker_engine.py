"""A fake Docker Engine API on 127.0.0.1: just what the Docker SDK calls for shopbench's backend.

No Docker engine runs on the machines shopbench is developed on, so the docker backend is tested
against this: `/_ping`, `/version`, `GET /containers/json` (all, label and name filters),
`GET /containers/{id}/json`, `POST /containers/{id}/{kill,stop,start,restart,pause,unpause}`, and
for network partitions `GET /networks/{id}` and `POST /networks/{id}/{connect,disconnect}`.
Containers live in memory; every state-changing call is appended to `engine.calls`.

    with FakeDockerEngine() as engine:
        engine.add("shop-order-1", service="order", project="shop")
        client = docker.DockerClient(base_url=engine.url)
"""

from __future__ import annotations

import itertools
import json
import re
import secrets
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

API_VERSION = "1.45"


@dataclass
class FakeContainer:
    id: str
    name: str
    labels: dict[str, str]
    status: str = "running"  # running | paused | exited | created
    pid: int = 0
    health: str | None = None  # None: no health check; else "healthy"/"starting"/"unhealthy"
    # For `GET /containers/{id}/stats` (container_stats): the cores it keeps busy while running, its
    # memory and the page cache within it, its pids; CPU time used up to `cpu_at`.
    cpu_rate: float = 0.5
    memory_usage: int = 64 << 20
    inactive_file: int = 16 << 20
    pids: int = 3
    cpu_ns: float = 0.0
    cpu_at: float = field(default_factory=time.monotonic)
    restarts: int = 0
    image: str = "shop:latest"
    history: list[str] = field(default_factory=list)
    networks: dict[str, dict[str, Any]] = field(default_factory=dict)  # network name -> endpoint (Aliases)

    def summary(self) -> dict[str, Any]:
        return {"Id": self.id, "Names": [f"/{self.name}"], "Image": self.image, "ImageID": "sha256:fake",
                "State": self.status, "Status": self.status, "Labels": dict(self.labels)}

    def inspect(self) -> dict[str, Any]:
        state: dict[str, Any] = {
            "Status": self.status, "Running": self.status in ("running", "paused"),
            "Paused": self.status == "paused", "Restarting": False, "OOMKilled": False, "Dead": False,
            "Pid": self.pid if self.status in ("running", "paused") else 0,
            "ExitCode": 137 if self.status == "exited" else 0,
        }
        if self.health is not None:
            state["Health"] = {"Status": self.health, "FailingStreak": 0, "Log": []}
        return {"Id": self.id, "Name": f"/{self.name}", "Image": "sha256:fake", "State": state,
                "NetworkSettings": {"Networks": {n: dict(e) for n, e in self.networks.items()}},
                "RestartCount": self.restarts, "Config": {"Image": self.image, "Labels": dict(self.labels)}}


class FakeDockerEngine:
    def __init__(self) -> None:
        self.containers: dict[str, FakeContainer] = {}
        self.calls: list[tuple[str, str, dict[str, list[str]]]] = []  # (verb, container name, query)
        self.lock = threading.Lock()
        self.networks: set[str] = set()  # every network a container was ever on (it outlives a disconnect)
        self._pids = itertools.count(1000)
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- containers --------------------------------------------------------------------------
    def add(self, name: str, service: str | None = None, project: str | None = "shop", status: str = "running",
            health: str | None = None, labels: dict[str, str] | None = None) -> FakeContainer:
        all_labels = dict(labels or {})
        if service is not None:
            all_labels["com.docker.compose.service"] = service
            if project is not None:
                all_labels["com.docker.compose.project"] = project
        c = FakeContainer(secrets.token_hex(32), name, all_labels, status, next(self._pids), health)
        # Compose puts a project's containers on `<project>_default`, each aliased by its service name.
        c.networks[f"{project or 'bridge'}_default"] = {"Aliases": [service] if service else []}
        self.networks.update(c.networks)
        self.containers[c.id] = c
        return c

    def by_name(self, name: str) -> FakeContainer:
        return next(c for c in self.containers.values() if c.name == name)

    def find(self, ref: str) -> FakeContainer | None:
        ref = ref.lstrip("/")
        for c in self.containers.values():
            if c.id == ref or c.name == ref or (len(ref) >= 12 and c.id.startswith(ref)):
                return c
        return None

    # -- server -------------------------------------------------------------------------------
    @property
    def url(self) -> str:
        assert self._server is not None
        host, port = self._server.server_address[:2]
        return f"tcp://{host}:{port}"

    def start(self) -> FakeDockerEngine:
        engine = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # One buffered write per response and no Nagle: otherwise every call waits out a delayed ACK.
            wbufsize = -1
            disable_nagle_algorithm = True

            def log_message(self, *args: Any) -> None:  # quiet
                pass

            def _send(self, status: int, body: Any = None) -> None:
                data = b"" if body is None else (body if isinstance(body, bytes) else json.dumps(body).encode())
                self.send_response(status)
                self.send_header("Content-Type", "application/json" if body is not None else "text/plain")
                self.send_header("Api-Version", API_VERSION)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _route(self, method: str) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                parts = urlsplit(self.path)
                path = re.sub(r"^/v\d+\.\d+", "", parts.path)
                query = parse_qs(parts.query)
                status, body = engine.handle(method, path, query, json.loads(raw) if raw else None)
                self._send(status, body)

            def do_GET(self) -> None:  # noqa: N802
                self._route("GET")

            def do_HEAD(self) -> None:  # noqa: N802
                self._route("GET")

            def do_POST(self) -> None:  # noqa: N802
                self._route("POST")

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="fake-docker", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> FakeDockerEngine:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- the API --------------------------------------------------------------------------------
    def handle(self, method: str, path: str, query: dict[str, list[str]], body: Any = None) -> tuple[int, Any]:
        with self.lock:
            net = re.fullmatch(r"/networks/([^/]+)(?:/(connect|disconnect))?", path)
            if net:
                return self._network(net.group(1), net.group(2), body or {})
            if path == "/_ping":
                return 200, b"OK"
            if path == "/version":
                return 200, {"ApiVersion": API_VERSION, "MinAPIVersion": "1.24", "Version": "fake-26.0",
                             "Os": "linux", "Arch": "amd64"}
            if method == "GET" and path == "/containers/json":
                return 200, self._list(query)
            stats = re.fullmatch(r"/containers/([^/]+)/stats", path)
            if stats:
                c = self.find(stats.group(1))
                return (200, container_stats(c)) if c else (404, {"message": f"No such container: {stats.group(1)}"})
            m = re.fullmatch(r"/containers/([^/]+)/(json|kill|stop|start|restart|pause|unpause)", path)
            if not m:
                return 404, {"message": f"page not found: {method} {path}"}
            c = self.find(m.group(1))
            if c is None:
                return 404, {"message": f"No such container: {m.group(1)}"}
            verb = m.group(2)
            if verb == "json":
                return 200, c.inspect()
            self.calls.append((verb, c.name, query))
            return self._act(c, verb)

    def _network(self, name: str, verb: str | None, body: dict[str, Any]) -> tuple[int, Any]:
        members = {c.id: c for c in self.containers.values() if name in c.networks}
        if name not in self.networks:
            return 404, {"message": f"network {name} not found"}
        if verb is None:
            return 200, {"Id": name, "Name": name, "Driver": "bridge", "Scope": "local",
                         "Containers": {cid: {"Name": c.name} for cid, c in members.items()}}
        c = self.find(str(body.get("Container", "")))
        if c is None:
            return 404, {"message": f"No such container: {body.get('Container')}"}
        self.calls.append((f"network-{verb}", c.name, {"network": [name]}))
        if verb == "disconnect":
            if name not in c.networks:
                return 500, {"message": f"container {c.id} is not connected to network {name}"}
            del c.networks[name]
        else:
            if name in c.networks:
                return 403, {"message": f"endpoint with name {c.name} already exists in network {name}"}
            c.networks[name] = {"Aliases": list((body.get("EndpointConfig") or {}).get("Aliases") or [])}
        return 200, None

    def _list(self, query: dict[str, list[str]]) -> list[dict[str, Any]]:
        show_all = query.get("all", ["0"])[0] in ("1", "true", "True")
        filters = json.loads(query.get("filters", ["{}"])[0] or "{}")
        out = []
        for c in sorted(self.containers.values(), key=lambda c: c.name):
            if not show_all and c.status not in ("running", "paused"):
                continue
            ok = True
            for label in filters.get("label", []):
                key, _, value = label.partition("=")
                if key not in c.labels or (value and c.labels[key] != value):
                    ok = False
            for name in filters.get("name", []):
                if not re.search(name, c.name):
                    ok = False
            if ok:
                out.append(c.summary())
        return out

    def _act(self, c: FakeContainer, verb: str) -> tuple[int, Any]:
        c.history.append(verb)
        if verb == "kill":
            if c.status not in ("running", "paused"):
                return 409, {"message": f"Cannot kill container: {c.name} is not running"}
            c.status = "exited"
        elif verb == "stop":
            if c.status not in ("running", "paused"):
                return 304, None
            c.status = "exited"
        elif verb == "start":
            if c.status in ("running", "paused"):
                return 304, None
            c.status, c.pid = "running", next(self._pids)
        elif verb == "restart":
            c.status, c.pid = "running", next(self._pids)
            c.restarts += 1
        elif verb == "pause":
            if c.status != "running":
                return 409, {"message": f"Container {c.id} is not running"}
            c.status = "paused"
        elif verb == "unpause":
            if c.status != "paused":
                return 409, {"message": f"Container {c.id} is not paused"}
            c.status = "running"
        return 204, None


def container_stats(c: FakeContainer) -> dict[str, Any]:
    """`GET /containers/{id}/stats?stream=0&one-shot=1`, the fields shopbench reads: CPU time grows
    at `cpu_rate` cores while the container runs; memory `memory_usage`, `inactive_file` of it page
    cache; `pids`. A stopped container answers zeros and an unset read time, as the engine does."""
    now = time.monotonic()
    if c.status == "running":
        c.cpu_ns += (now - c.cpu_at) * c.cpu_rate * 1e9
    c.cpu_at = now
    if c.status not in ("running", "paused"):
        return {"read": "0001-01-01T00:00:00Z", "pids_stats": {}, "memory_stats": {},
                "cpu_stats": {"cpu_usage": {"total_usage": 0}}}
    # The engine's own clock for the interval: every core's time since boot (`docker stats` divides by it).
    system_ns = int(now * 2 * 1e9)
    return {"read": "2026-01-01T00:00:00Z", "id": c.id, "name": f"/{c.name}", "pids_stats": {"current": c.pids},
            "cpu_stats": {"cpu_usage": {"total_usage": int(c.cpu_ns)}, "system_cpu_usage": system_ns,
                          "online_cpus": 2},
            "memory_stats": {"usage": c.memory_usage, "limit": 8 << 30, "stats": {"inactive_file": c.inactive_file}}}
