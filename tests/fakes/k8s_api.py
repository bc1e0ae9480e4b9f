"""A fake Kubernetes API server on 127.0.0.1: the subset shopbench's k8s backend calls.

No Kubernetes cluster runs on the machines shopbench is developed on, so the backend is tested
against this, through the official Python client: `GET /apis` (discovery), pods (list by label
selector, read, delete with a grace period), Deployments (read, patch: a rollout restart replaces
every pod), Chaos Mesh's PodChaos / NetworkChaos (create, read with a status, list by label,
delete behind a finalizer), and the metrics API's pod metrics when `metrics` is on. A tiny
controller replaces deleted pods (Ready after `ready_after` seconds), marks chaos injected (after
`inject_after`, only when its selector matches a pod and `chaos_controller` is on) and lets
deleted chaos go (after `finalize_after`). Knobs make each verification say no: `stuck_pods` never
go away, `chaos_controller=False` never injects or finalizes.

    with FakeKubernetes(chaos_mesh=True) as k8s:
        k8s.add_service("order", {"app": "order"}, replicas=2)
        kubeconfig = k8s.kubeconfig(tmp_path)
"""

from __future__ import annotations

import itertools
import json
import threading
import time
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

CHAOS = "/apis/chaos-mesh.org/v1alpha1/namespaces/"


@dataclass
class FakePod:
    name: str
    labels: dict[str, str]
    service: str
    uid: str = field(default_factory=lambda: str(uuid.uuid4()))
    ready_at: float = 0.0
    deleting: bool = False

    def body(self, ns: str) -> dict[str, Any]:
        ready = time.monotonic() >= self.ready_at
        return {"apiVersion": "v1", "kind": "Pod",
                "metadata": {"name": self.name, "namespace": ns, "uid": self.uid, "labels": dict(self.labels),
                             **({"deletionTimestamp": "2026-01-01T00:00:00Z"} if self.deleting else {})},
                "spec": {"containers": [{"name": "app", "image": "shop:latest"}]},
                "status": {"phase": "Running" if ready else "Pending",
                           "conditions": [{"type": "Ready", "status": "True" if ready else "False"}]}}


class FakeKubernetes:
    def __init__(self, namespace: str = "shop", *, chaos_mesh: bool = True, metrics: bool = False,
                 ready_after: float = 0.2, inject_after: float = 0.1, finalize_after: float = 0.1):
        self.ns = namespace
        self.chaos_mesh, self.metrics = chaos_mesh, metrics
        self.chaos_controller = True
        self.ready_after, self.inject_after, self.finalize_after = ready_after, inject_after, finalize_after
        self.pods: dict[str, FakePod] = {}
        self.deployments: dict[str, tuple[str, dict[str, str], int]] = {}  # name -> (service, labels, replicas)
        self.chaos: dict[tuple[str, str], dict[str, Any]] = {}  # (plural, name) -> object (+ private timing keys)
        self.stuck_pods: set[str] = set()
        self.calls: list[tuple[str, str]] = []
        self.lock = threading.Lock()
        self._names = itertools.count(1)
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    # -- the cluster --------------------------------------------------------------------------------
    def add_service(self, service: str, labels: dict[str, str], replicas: int = 2, deployment: str | None = None):
        self.deployments[deployment or service] = (service, labels, replicas)
        for _ in range(replicas):
            self._new_pod(service, labels, ready_at=0.0)

    def _new_pod(self, service: str, labels: dict[str, str], ready_at: float | None = None) -> FakePod:
        pod = FakePod(f"{service}-{next(self._names):05d}", labels, service,
                      ready_at=time.monotonic() + self.ready_after if ready_at is None else ready_at)
        self.pods[pod.name] = pod
        return pod

    def ready_pods(self, service: str) -> list[FakePod]:
        now = time.monotonic()
        return [p for p in self.pods.values() if p.service == service and p.ready_at <= now and not p.deleting]

    def _matches(self, pod: FakePod, selector: dict[str, str]) -> bool:
        return all(pod.labels.get(k) == v for k, v in selector.items())

    def kubeconfig(self, folder: Path) -> Path:
        path = Path(folder) / "kubeconfig"
        path.write_text(json.dumps({
            "apiVersion": "v1", "kind": "Config", "current-context": "fake",
            "clusters": [{"name": "fake", "cluster": {"server": self.url}}],
            "users": [{"name": "fake", "user": {"token": "fake-token"}}],
            "contexts": [{"name": "fake", "context": {"cluster": "fake", "user": "fake", "namespace": self.ns}}]}))
        return path

    def _chaos_view(self, key: tuple[str, str]) -> dict[str, Any] | None:
        obj = self.chaos.get(key)
        if obj is None:
            return None
        now = time.monotonic()
        if obj["_deleted_at"] is not None and self.chaos_controller and now >= obj["_deleted_at"] + self.finalize_after:
            del self.chaos[key]
            return None
        selector = obj["spec"]["selector"].get("labelSelectors") or {}
        chosen = [p for p in self.pods.values() if self._matches(p, selector)]
        injected = self.chaos_controller and bool(chosen) and now >= obj["_created"] + self.inject_after
        out = {k: v for k, v in obj.items() if not k.startswith("_")}
        out["status"] = {"conditions": [{"type": "Selected", "status": "True" if chosen else "False"},
                                        {"type": "AllInjected", "status": "True" if injected else "False"}],
                         "experiment": {"containerRecords": [{"id": f"{self.ns}/{p.name}", "phase": "Injected"}
                                                             for p in chosen] if injected else []}}
        return out

    # -- HTTP ---------------------------------------------------------------------------------------
    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def _send(self, code: int, body: Any) -> None:
                data = json.dumps(body).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _missing(self, what: str) -> None:
                self._send(404, {"kind": "Status", "status": "Failure", "reason": "NotFound", "code": 404,
                                 "message": f"{what} not found"})

            def _body(self) -> Any:
                n = int(self.headers.get("Content-Length") or 0)
                return json.loads(self.rfile.read(n)) if n else {}

            def do_GET(self) -> None:  # noqa: N802
                self._route("GET")

            def do_DELETE(self) -> None:  # noqa: N802
                self._route("DELETE")

            def do_PATCH(self) -> None:  # noqa: N802
                self._route("PATCH")

            def do_POST(self) -> None:  # noqa: N802
                self._route("POST")

            def _route(self, method: str) -> None:
                url = urlsplit(self.path)
                query = {k: v[0] for k, v in parse_qs(url.query).items()}
                body = self._body() if method in ("POST", "PATCH", "DELETE") else None
                with fake.lock:
                    fake.calls.append((method, url.path))
                    self._dispatch(method, url.path.rstrip("/"), query, body)

            def _dispatch(self, method: str, path: str, query: dict[str, str], body: Any) -> None:
                pods = f"/api/v1/namespaces/{fake.ns}/pods"
                deps = f"/apis/apps/v1/namespaces/{fake.ns}/deployments/"
                if method == "GET" and path == "/apis":
                    groups = ["apps"] + (["chaos-mesh.org"] if fake.chaos_mesh else []) + (
                        ["metrics.k8s.io"] if fake.metrics else [])
                    self._send(200, {"kind": "APIGroupList", "apiVersion": "v1", "groups": [
                        {"name": g, "versions": [{"groupVersion": f"{g}/v1", "version": "v1"}]} for g in groups]})
                elif method == "GET" and path == pods:
                    selector = dict(p.split("=", 1) for p in query.get("labelSelector", "").split(",") if p)
                    items = [p.body(fake.ns) for p in fake.pods.values() if fake._matches(p, selector)]
                    self._send(200, {"kind": "PodList", "apiVersion": "v1", "metadata": {}, "items": items})
                elif path.startswith(pods + "/") and method in ("GET", "DELETE"):
                    pod = fake.pods.get(path.rsplit("/", 1)[1])
                    if pod is None:
                        return self._missing("pod")
                    if method == "DELETE":
                        pod.deleting = True
                        if pod.name not in fake.stuck_pods:
                            del fake.pods[pod.name]
                            fake._new_pod(pod.service, pod.labels)  # the ReplicaSet's replacement
                    self._send(200, pod.body(fake.ns))
                elif path.startswith(deps) and method in ("GET", "PATCH"):
                    name = path.rsplit("/", 1)[1]
                    if name not in fake.deployments:
                        return self._missing("deployment")
                    service, labels, replicas = fake.deployments[name]
                    if method == "PATCH":
                        for pod in [p for p in fake.pods.values() if p.service == service]:
                            del fake.pods[pod.name]
                        for _ in range(replicas):
                            fake._new_pod(service, labels)
                    self._send(200, {"apiVersion": "apps/v1", "kind": "Deployment",
                                     "metadata": {"name": name, "namespace": fake.ns},
                                     "spec": {"replicas": replicas, "selector": {"matchLabels": labels}}})
                elif method == "GET" and path == f"/apis/metrics.k8s.io/v1beta1/namespaces/{fake.ns}/pods" \
                        and fake.metrics:  # each Ready pod uses 250 millicores and 64 MiB
                    self._send(200, {"kind": "PodMetricsList", "items": [
                        {"metadata": {"name": p.name}, "containers": [{"name": "app", "usage": {
                            "cpu": "250000000n", "memory": "65536Ki"}}]} for p in fake.pods.values()]})
                elif path.startswith(CHAOS) and fake.chaos_mesh:
                    self._chaos(method, path[len(CHAOS):].split("/"), query, body)
                else:
                    self._missing(path)

            def _chaos(self, method: str, parts: list[str], query: dict[str, str], body: Any) -> None:
                plural = parts[1]
                if len(parts) == 2 and method == "POST":
                    key = (plural, body["metadata"]["name"])
                    fake.chaos[key] = {**body, "_created": time.monotonic(), "_deleted_at": None}
                    return self._send(201, fake._chaos_view(key))
                if len(parts) == 2 and method == "GET":
                    selector = dict(p.split("=", 1) for p in query.get("labelSelector", "").split(",") if p)
                    items = [v for k in list(fake.chaos) if k[0] == plural and (v := fake._chaos_view(k)) is not None
                             and all((v["metadata"].get("labels") or {}).get(a) == b for a, b in selector.items())]
                    return self._send(200, {"kind": "List", "items": items})
                key = (plural, parts[2])
                view = fake._chaos_view(key)
                if view is None:
                    return self._missing(f"{plural} {parts[2]}")
                if method == "DELETE" and fake.chaos[key]["_deleted_at"] is None:
                    fake.chaos[key]["_deleted_at"] = time.monotonic()
                self._send(200, view)

        return Handler

    def __enter__(self) -> FakeKubernetes:
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
