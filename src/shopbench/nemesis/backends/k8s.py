"""The Kubernetes backend: faults as Kubernetes API calls, through the official Python client.

A service is the set of pods a label selector names in one namespace (a Kubernetes services file,
below). Process actions:

  kill       delete `count` Ready pods with grace 0; landed when each pod is gone (or its name now
             belongs to a pod with another uid, as a StatefulSet recreates it); recovered when as
             many Ready pods as before match the selector again, none of them a killed one
  terminate  the same with the pod's own grace period (SIGTERM first)
  restart    a rollout restart of the service's Deployment (the `kubectl rollout restart`
             annotation); landed when every pod that was Ready before is replaced by a Ready one
  pause      a Chaos Mesh PodChaos `pod-failure` on the service's pods; landed when Chaos Mesh
             reports it injected (condition AllInjected); resumed by deleting it
Network actions on links `a->b` are Chaos Mesh NetworkChaos resources from a's pods to b's
(`partition`, `delay` with jitter, `bandwidth`, `blackhole` as 100 % loss); `reset` has no Chaos
Mesh equivalent. Every chaos resource is labelled `app.kubernetes.io/managed-by: shopbench`, and
healing deletes it and waits until it is gone (Chaos Mesh's finalizer removes it once recovered):
that is the "removed" evidence. What cannot land on this cluster (no Chaos Mesh, no pod matches, no
Deployment) is said by `cannot_land`, which `services plan` and every run print before the load.

The Kubernetes services file (`--fault-backend k8s --services-file k8s.toml`):

    namespace = "shop"
    context = "minikube"            # optional: a kubeconfig context; kubeconfig = "path" too
    [services.order]
    selector = "app=order"          # equality selectors, comma-separated
    deployment = "order"            # optional: for restart; default the service name

No Kubernetes cluster runs where shopbench is developed: this backend is tested against a fake
API server speaking the subset used here (tests/fakes/k8s_api.py).
"""

from __future__ import annotations

import atexit
import itertools
import os
import re
import socket
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from shopbench.errors import TargetError, UsageError
from shopbench.nemesis.backends.base import ERROR, OK, SKIPPED, Hit, TargetStatus, resolve_name
from shopbench.nemesis.backends.k8s_file import api_client as make_client
from shopbench.nemesis.backends.k8s_file import labels, load_k8s_file

CHAOS_GROUP, CHAOS_VERSION = "chaos-mesh.org", "v1alpha1"
MANAGED = {"app.kubernetes.io/managed-by": "shopbench"}
PROCESS_ACTIONS = ("kill", "terminate", "restart", "pause", "resume")
CHAOS_ACTIONS = {"partition": "partition", "delay": "delay", "bandwidth": "bandwidth", "blackhole": "loss"}
_serial = itertools.count(1)


class KubernetesBackend:
    kind = "k8s"

    def __init__(self, services_file: str | Path, *, api_client: Any = None, ready_timeout: float = 120.0,
                 chaos_timeout: float = 30.0, delete_timeout: float = 30.0, poll: float = 0.1):
        if services_file is None:
            raise UsageError("--fault-backend k8s needs --services-file: a file naming the namespace and each "
                             "service's label selector (see docs/faults.md).")
        self.source = str(services_file)
        self.spec = load_k8s_file(services_file)
        self.ns = self.spec.namespace
        self.ready_timeout, self.chaos_timeout, self.poll = ready_timeout, chaos_timeout, poll
        self.delete_timeout = delete_timeout
        try:
            from kubernetes import client
        except ImportError:
            raise UsageError("--fault-backend k8s needs the official Kubernetes client: "
                             "pip install 'shopbench[k8s]'.") from None

        self.api = api_client or make_client(self.spec, Path(services_file).parent)
        self.core, self.apps = client.CoreV1Api(self.api), client.AppsV1Api(self.api)
        self.custom, self.apis = client.CustomObjectsApi(self.api), client.ApisApi(self.api)
        host = re.sub(r"[^a-z0-9-]+", "-", socket.gethostname().lower())[:40].strip("-") or "host"
        self.token = f"{host}.{os.getpid()}"  # a label value: who owns a chaos resource, to clean after a kill -9
        self.owned: dict[tuple[str, str], str] = {}  # (plural, name) -> what it faults: deleted on every way out
        self._groups: set[str] | None = None
        atexit.register(self.restore_all)
        self.cleaned = self._clean_leftovers()

    # -- API calls: plain dicts; every failure one TargetError naming the call ----------------------
    def _call(self, what: str, fn: Any, *args: Any, missing_ok: bool = False, **kw: Any) -> Any:
        from kubernetes.client.exceptions import ApiException
        from urllib3.exceptions import HTTPError

        try:
            resp = fn(*args, _preload_content=False, _request_timeout=10, **kw)
        except ApiException as exc:
            if missing_ok and exc.status == 404:
                return None
            reason = _api_reason(exc)
            raise TargetError(f"Kubernetes API: {what} failed ({exc.status} {reason}).") from None
        except (HTTPError, OSError) as exc:
            raise TargetError(f"Kubernetes API at {self.api.configuration.host}: {what} failed ({exc}).") from None
        return orjson.loads(resp.data) if resp.data else {}

    def groups(self) -> set[str]:
        if self._groups is None:
            found = self._call("list API groups", self.apis.get_api_versions)
            self._groups = {g.get("name") for g in found.get("groups") or ()}
        return self._groups

    def pods(self, service: str) -> list[dict[str, Any]]:
        selector = self.spec.services[service].selector
        found = self._call(f"list pods {selector}", self.core.list_namespaced_pod, self.ns, label_selector=selector)
        return sorted((p for p in found.get("items") or () if not p["metadata"].get("deletionTimestamp")),
                      key=lambda p: p["metadata"]["name"])

    # -- the Backend protocol -------------------------------------------------------------------------
    def services(self) -> list[str]:
        return sorted(self.spec.services)

    def canonical(self, name: str) -> str:
        return resolve_name(name, self.services(), f"{self.source}")

    def cannot_land(self, service: str, action: str) -> str | None:
        """Why `action` on `service` (a service or a link) could not land if it fired now, or None."""
        try:
            if action in CHAOS_ACTIONS or "->" in service:
                if action not in CHAOS_ACTIONS:
                    return f"Chaos Mesh has no NetworkChaos for {action}"
                service = self.canonical(service.split("->")[-1])
            else:
                service = self.canonical(service)
            if (action == "pause" or action in CHAOS_ACTIONS) and CHAOS_GROUP not in self.groups():
                return f"Chaos Mesh is not installed on this cluster (no API group {CHAOS_GROUP}): {action} needs it"
            if action == "restart":
                name = self.spec.services[service].deployment or service
                if self._call(f"read deployment {name}", self.apps.read_namespaced_deployment, name, self.ns,
                              missing_ok=True) is None:
                    return f"no Deployment {name} in namespace {self.ns} (set deployment in {self.source})"
            if not [p for p in self.pods(service) if _ready(p)]:
                return f"no Ready pod matches {self.spec.services[service].selector} in namespace {self.ns}"
        except (TargetError, UsageError) as exc:
            return str(exc)
        return None

    def apply(self, action: str, service: str, count: int = 1) -> list[Hit]:
        service = self.canonical(service)
        try:
            if action in ("kill", "terminate"):
                return self._delete_pods(service, count, grace=0 if action == "kill" else None)
            if action == "restart":
                return [self._rollout(service)]
            if action == "pause":
                if CHAOS_GROUP not in self.groups():
                    return [Hit(f"service {service}", ERROR, f"Chaos Mesh is not installed (no API group "
                                f"{CHAOS_GROUP}): pause needs its PodChaos", landed=False)]
                body = {"action": "pod-failure", "mode": "all", "selector": self._selector(service)}
                return [self._chaos("podchaos", body, f"pause {service}", f"service {service}")]
            if action == "resume":
                names = [n for (plural, n), what in self.owned.items() if plural == "podchaos" and what == service]
                if not names:
                    return [Hit(None, SKIPPED, f"{service} is not paused by this run", landed=False)]
                return [self._unchaos("podchaos", n, f"service {service}") for n in names]
        except TargetError as exc:
            return [Hit(f"service {service}", ERROR, str(exc), landed=False)]
        raise UsageError(f"the k8s backend cannot {action} a service; it can {', '.join(PROCESS_ACTIONS)}.")

    def recover(self, action: str, service: str, hits: list[Hit]) -> list[Hit]:
        out = []
        for hit in hits:
            if hit.result != OK or hit.handle is None:
                continue
            try:
                if action in ("kill", "terminate", "restart"):
                    out.append(self._wait_replaced(service, hit))
                else:  # pause and network faults: the chaos resource goes, and with it the fault
                    out.append(self._unchaos(hit.handle[0], hit.handle[1], hit.target, link=action in CHAOS_ACTIONS))
            except TargetError as exc:
                out.append(Hit(hit.target, ERROR, str(exc), handle=hit.handle, landed=False))
        return out

    def status(self, services: list[str] | None = None) -> list[TargetStatus]:
        rows = []
        for service in [self.canonical(s) for s in services] if services else self.services():
            for p in self.pods(service):
                phase = (p.get("status") or {}).get("phase", "?").lower()
                rows.append(TargetStatus(service, f"pod {p['metadata']['name']}", phase,
                                         "ready" if _ready(p) else "not ready"))
        return rows

    def usage(self) -> dict[str, tuple[float, int]]:
        """CPU (cores) and memory (bytes) of each pod of the namespace, from the metrics API
        (metrics-server); TargetError when it is not there."""
        if "metrics.k8s.io" not in self.groups():
            raise TargetError("the metrics API is not served (is metrics-server installed?)")
        found = self._call("read pod metrics", self.custom.list_namespaced_custom_object, "metrics.k8s.io", "v1beta1",
                           self.ns, "pods")
        out = {}
        for item in found.get("items") or ():
            cpu = sum(_quantity(c["usage"].get("cpu", "0")) for c in item.get("containers") or ())
            mem = sum(_quantity(c["usage"].get("memory", "0")) for c in item.get("containers") or ())
            out[item["metadata"]["name"]] = (cpu, int(mem))
        return out

    # -- links ----------------------------------------------------------------------------------------
    def link_names(self) -> list[str]:
        return [f"{a}->{b}" for a in self.services() for b in self.services() if a != b]

    def canonical_link(self, name: str) -> str:
        from shopbench.nemesis.network import canonical_link

        src, dst = canonical_link(name).split("->")
        return f"{self.canonical(src)}->{self.canonical(dst)}"

    def apply_link(self, action: str, link: str, trigger: Any) -> list[Hit]:
        src, dst = link.split("->")
        target = f"link {link}"
        if action not in CHAOS_ACTIONS:
            return [_link_hit(Hit(target, ERROR, f"Chaos Mesh has no NetworkChaos for {action}; use delay, "
                                  "partition, bandwidth or blackhole"), link)]
        if CHAOS_GROUP not in self.groups():
            return [_link_hit(Hit(target, ERROR, f"Chaos Mesh is not installed (no API group {CHAOS_GROUP})"), link)]
        body: dict[str, Any] = {"action": CHAOS_ACTIONS[action], "mode": "all", "selector": self._selector(src),
                                "direction": "to", "target": {"mode": "all", "selector": self._selector(dst)}}
        if action == "delay":
            body["delay"] = {"latency": f"{float(trigger.ms or 0):g}ms", "jitter": f"{float(trigger.jitter or 0):g}ms"}
        elif action == "bandwidth":
            body["bandwidth"] = {"rate": f"{float(trigger.rate) * 8:g}kbps", "limit": 20971520, "buffer": 10000}
        elif action == "blackhole":
            body["loss"] = {"loss": "100"}
        try:
            return [_link_hit(self._chaos("networkchaos", body, f"{action} {link}", target), link)]
        except TargetError as exc:
            return [_link_hit(Hit(target, ERROR, str(exc)), link)]

    # -- guaranteed restore: every chaos resource this backend made is deleted -------------------------
    def restore_all(self) -> list[str]:
        """Delete whatever chaos this process still owns (the nemesis calls it on every way out);
        returns one line per resource that could not be deleted."""
        problems = []
        for plural, name in list(self.owned):
            try:
                hit = self._unchaos(plural, name, f"{plural} {name}")
            except TargetError as exc:
                hit = Hit(None, ERROR, str(exc))
            if hit.result != OK:
                problems.append(f"{plural} {name}: {hit.error}")
        return problems

    def _clean_leftovers(self) -> list[str]:
        """Chaos an earlier shopbench on this host left behind when it was killed (SIGKILL, the OOM
        killer: no exit hook ran): deleted now, since its process is gone."""
        if CHAOS_GROUP not in self.groups():
            return []
        host = self.token.rsplit(".", 1)[0]
        cleaned = []
        for plural in ("podchaos", "networkchaos"):
            found = self._call(f"list {plural}", self.custom.list_namespaced_custom_object, CHAOS_GROUP, CHAOS_VERSION,
                               self.ns, plural, label_selector="app.kubernetes.io/managed-by=shopbench")
            for item in found.get("items") or ():
                run = (item["metadata"].get("labels") or {}).get("shopbench/run", "")
                owner_host, _, pid = run.rpartition(".")
                if owner_host == host and pid.isdigit() and not _alive(int(pid)):
                    self._unchaos(plural, item["metadata"]["name"], None)
                    cleaned.append(f"{plural} {item['metadata']['name']}")
        return cleaned

    # -- the actions ----------------------------------------------------------------------------------
    def _selector(self, service: str) -> dict[str, Any]:
        return {"namespaces": [self.ns], "labelSelectors": labels(self.spec.services[service].selector)}

    def _delete_pods(self, service: str, count: int, grace: int | None) -> list[Hit]:
        ready = [p for p in self.pods(service) if _ready(p)]
        if not ready:
            return [Hit(None, SKIPPED, f"no Ready pod of {service} ({self.spec.services[service].selector})",
                        landed=False)]
        hits = []
        for pod in ready[:count]:
            name, uid = pod["metadata"]["name"], pod["metadata"]["uid"]
            body = {"gracePeriodSeconds": grace} if grace is not None else {}
            self._call(f"delete pod {name}", self.core.delete_namespaced_pod, name, self.ns, body=body,
                       missing_ok=True)
            landed, evidence = self._wait_gone(name, uid)
            hits.append(Hit(f"pod {name}", OK, None if landed else evidence, handle=(name, uid, len(ready)),
                            landed=landed, evidence=evidence, landed_at=time.time()))
        return hits

    def _wait_gone(self, name: str, uid: str) -> tuple[bool, str]:
        timeout = self.delete_timeout
        deadline = time.monotonic() + timeout
        while True:
            pod = self._call(f"read pod {name}", self.core.read_namespaced_pod, name, self.ns, missing_ok=True)
            if pod is None:
                return True, f"the API answers 404 for pod {name}"
            if pod["metadata"].get("uid") != uid:
                return True, f"pod {name} is a new pod (uid {pod['metadata'].get('uid')})"
            if time.monotonic() > deadline:
                phase = (pod.get("status") or {}).get("phase")
                return False, f"pod {name} (uid {uid}) still exists {timeout:g} s after its deletion ({phase})"
            time.sleep(self.poll)

    def _rollout(self, service: str) -> Hit:
        name = self.spec.services[service].deployment or service
        before = {p["metadata"]["uid"] for p in self.pods(service) if _ready(p)}
        stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        patch = {"spec": {"template": {"metadata": {"annotations": {"kubectl.kubernetes.io/restartedAt": stamp}}}}}
        self._call(f"restart deployment {name}", self.apps.patch_namespaced_deployment, name, self.ns, patch)
        hit = Hit(f"deployment {name}", OK, handle=("rollout", name, before))
        return self._wait_replaced(service, hit)

    def _wait_replaced(self, service: str, hit: Hit) -> Hit:
        """Ready pods again, as many as before, none of them one this fault hit."""
        if hit.handle[0] == "rollout":
            gone, want = set(hit.handle[2]), len(hit.handle[2])
        else:
            gone, want = {hit.handle[1]}, hit.handle[2]
        deadline = time.monotonic() + self.ready_timeout
        while True:
            ready = [p for p in self.pods(service) if _ready(p)]
            fresh = [p for p in ready if p["metadata"]["uid"] not in gone]
            if len(fresh) >= want and len(ready) == len(fresh):
                names = ", ".join(p["metadata"]["name"] for p in fresh)
                return Hit(hit.target, OK, handle=hit.handle, landed=True, landed_at=time.time(),
                           evidence=f"{len(fresh)} new Ready pod{'s' if len(fresh) != 1 else ''} of {service}: {names}")
            if time.monotonic() > deadline:
                return Hit(hit.target, ERROR, f"{len(fresh)} of {want} replacement pods of {service} Ready "
                           f"{self.ready_timeout:g} s later", handle=hit.handle, landed=False)
            time.sleep(self.poll)

    def _chaos(self, plural: str, spec: dict[str, Any], what: str, target: str) -> Hit:
        kind = {"podchaos": "PodChaos", "networkchaos": "NetworkChaos"}[plural]
        name = re.sub(r"[^a-z0-9-]+", "-", f"shopbench-{self.token}-{next(_serial)}-{what}".lower()).strip("-")[:63]
        body = {"apiVersion": f"{CHAOS_GROUP}/{CHAOS_VERSION}", "kind": kind,
                "metadata": {"name": name, "namespace": self.ns, "labels": {**MANAGED, "shopbench/run": self.token}},
                "spec": spec}
        self._call(f"create {kind} {name}", self.custom.create_namespaced_custom_object, CHAOS_GROUP, CHAOS_VERSION,
                   self.ns, plural, body)
        self.owned[(plural, name)] = what.split(" ", 1)[1]
        deadline = time.monotonic() + self.chaos_timeout
        while True:
            got = self._call(f"read {kind} {name}", self.custom.get_namespaced_custom_object, CHAOS_GROUP,
                             CHAOS_VERSION, self.ns, plural, name, missing_ok=True) or {}
            conditions = {c.get("type"): c.get("status") for c in (got.get("status") or {}).get("conditions") or ()}
            if conditions.get("AllInjected") == "True":
                records = ((got.get("status") or {}).get("experiment") or {}).get("containerRecords") or ()
                return Hit(target, OK, handle=(plural, name), landed=True, landed_at=time.time(),
                           evidence=f"Chaos Mesh reports {kind} {name} injected into {len(records)} pod"
                                    f"{'s' if len(records) != 1 else ''}")
            if time.monotonic() > deadline:
                seen = ", ".join(f"{k} {v}" for k, v in conditions.items()) or "no status"
                return Hit(target, OK, f"not injected after {self.chaos_timeout:g} s", handle=(plural, name),
                           landed=False, evidence=f"Chaos Mesh has not injected {kind} {name} ({seen})")
            time.sleep(self.poll)

    def _unchaos(self, plural: str, name: str, target: str | None, link: bool = False) -> Hit:
        self._call(f"delete {plural} {name}", self.custom.delete_namespaced_custom_object, CHAOS_GROUP, CHAOS_VERSION,
                   self.ns, plural, name, missing_ok=True)
        deadline = time.monotonic() + self.chaos_timeout
        while self._call(f"read {plural} {name}", self.custom.get_namespaced_custom_object, CHAOS_GROUP, CHAOS_VERSION,
                         self.ns, plural, name, missing_ok=True) is not None:
            if time.monotonic() > deadline:
                hit = Hit(target, ERROR, f"{plural} {name} still exists {self.chaos_timeout:g} s after its deletion "
                          "(is Chaos Mesh's controller running?)", handle=(plural, name), landed=False)
                break
            time.sleep(self.poll)
        else:
            self.owned.pop((plural, name), None)
            hit = Hit(target, OK, handle=(plural, name), landed=True, landed_at=time.time(),
                      evidence=f"{plural} {name} deleted and gone")
        return _link_hit(hit, str(target).removeprefix("link ")) if link else hit


_SUFFIX = {"n": 1e-9, "u": 1e-6, "m": 1e-3, "": 1.0, "k": 1e3, "M": 1e6, "G": 1e9, "T": 1e12,
           "Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40}


def _quantity(text: str) -> float:
    """A Kubernetes quantity ("250m", "123456n", "64Mi") as a number of its base unit."""
    m = re.fullmatch(r"([0-9.]+)([a-zA-Z]*)", str(text).strip())
    if m is None or m.group(2) not in _SUFFIX:
        raise TargetError(f"the metrics API answered the quantity {text!r}, which is not one")
    return float(m.group(1)) * _SUFFIX[m.group(2)]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _ready(pod: dict[str, Any]) -> bool:
    status = pod.get("status") or {}
    return status.get("phase") == "Running" and any(
        c.get("type") == "Ready" and c.get("status") == "True" for c in status.get("conditions") or ())


def _link_hit(hit: Hit, link: str) -> Hit:
    # Network hits carry their link fields into faults.jsonl, as the proxy's do (Nemesis._record).
    hit.extra = {"link": link, "landed": bool(hit.landed), "evidence": hit.evidence}  # type: ignore[attr-defined]
    return hit


def _api_reason(exc: Any) -> str:
    try:
        return str(orjson.loads(exc.body).get("message") or exc.reason)
    except (TypeError, ValueError, AttributeError):
        return str(exc.reason)
