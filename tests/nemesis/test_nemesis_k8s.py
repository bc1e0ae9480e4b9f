"""The Kubernetes backend through the official client, against a fake API server (no cluster runs
here: tests/fakes/k8s_api.py). Every verification is shown saying no as well as yes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

from shopbench.errors import UsageError
from shopbench.nemesis.backends import make_backend
from shopbench.nemesis.backends.k8s import KubernetesBackend, load_k8s_file

FAKES = Path(__file__).resolve().parents[1] / "fakes"
sys.path.insert(0, str(FAKES))
from k8s_api import FakeKubernetes  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


@pytest.fixture
def cluster(tmp_path):
    with FakeKubernetes() as k8s:
        k8s.add_service("order", {"app": "order"}, replicas=2)
        k8s.add_service("stock", {"app": "stock", "tier": "db"}, replicas=1, deployment="stock-deploy")
        yield k8s


def services_file(tmp_path: Path, k8s: FakeKubernetes, **extra) -> Path:
    path = tmp_path / "k8s.toml"
    kubeconfig = k8s.kubeconfig(tmp_path)
    path.write_text(f'namespace = "shop"\nkubeconfig = "{kubeconfig.name}"\n'
                    '[services.order]\nselector = "app=order"\n'
                    '[services.stock]\nselector = "app=stock,tier=db"\ndeployment = "stock-deploy"\n'
                    + "".join(f"{k} = {json.dumps(v)}\n" for k, v in extra.items()))
    return path


def backend(tmp_path, k8s) -> KubernetesBackend:
    return make_backend("k8s", services_file=services_file(tmp_path, k8s), ready_timeout=5, chaos_timeout=1.5)


def test_kill_deletes_a_pod_with_grace_0_and_recovery_waits_for_its_ready_replacement(tmp_path, cluster):
    be = backend(tmp_path, cluster)
    before = {p.name for p in cluster.ready_pods("order")}
    hits = be.apply("kill", "order-service")  # seed 001's name works too
    assert [h.landed for h in hits] == [True] and "404" in hits[0].evidence
    killed = hits[0].target.removeprefix("pod ")
    assert killed in before and killed not in cluster.pods
    back = be.recover("kill", "order", hits)
    assert back[0].landed and back[0].result == "ok" and "2 new Ready pods" in back[0].evidence
    assert len(cluster.ready_pods("order")) == 2 and killed not in {p.name for p in cluster.ready_pods("order")}


def test_a_pod_that_does_not_go_away_is_a_kill_that_did_not_land(tmp_path, cluster):
    be = backend(tmp_path, cluster)
    be.delete_timeout = 0.3
    cluster.stuck_pods.update(cluster.pods)  # a finalizer nobody removes
    hits = be.apply("kill", "order")
    assert hits[0].landed is False and "still exists 0.3 s after its deletion" in hits[0].evidence


def test_a_replacement_that_never_gets_ready_is_not_recovered(tmp_path, cluster):
    be = backend(tmp_path, cluster)
    be.ready_timeout = 0.5
    cluster.ready_after = 3600
    hits = be.apply("kill", "stock")
    assert hits[0].landed
    back = be.recover("kill", "stock", hits)
    assert back[0].result == "error" and back[0].landed is False and "0 of 1 replacement pods" in back[0].error


def test_restart_is_a_rollout_that_lands_when_every_pod_was_replaced(tmp_path, cluster):
    be = backend(tmp_path, cluster)
    old = {p.uid for p in cluster.ready_pods("stock")}
    hits = be.apply("restart", "stock")
    assert hits[0].landed and hits[0].target == "deployment stock-deploy"
    assert ("PATCH", "/apis/apps/v1/namespaces/shop/deployments/stock-deploy") in cluster.calls
    assert not old & {p.uid for p in cluster.ready_pods("stock")}


def test_pause_is_a_podchaos_injected_then_deleted_and_gone(tmp_path, cluster):
    be = backend(tmp_path, cluster)
    hits = be.apply("pause", "order")
    assert hits[0].landed and "injected into 2 pods" in hits[0].evidence
    (plural, name), = be.owned
    obj = cluster.chaos[(plural, name)]
    assert obj["spec"]["action"] == "pod-failure" and obj["spec"]["selector"]["labelSelectors"] == {"app": "order"}
    assert obj["metadata"]["labels"]["app.kubernetes.io/managed-by"] == "shopbench"
    back = be.recover("pause", "order", hits)
    assert back[0].landed and "deleted and gone" in back[0].evidence and not be.owned and not cluster.chaos


def test_chaos_that_is_never_injected_or_never_removed_says_so(tmp_path, cluster):
    be = backend(tmp_path, cluster)
    be.chaos_timeout = 0.5
    cluster.chaos_controller = False  # Chaos Mesh's CRDs are there, its controller is not running
    hits = be.apply("pause", "order")
    assert hits[0].landed is False and "has not injected" in hits[0].evidence
    back = be.recover("pause", "order", hits)
    assert back[0].result == "error" and "still exists" in back[0].error and be.owned


def test_without_chaos_mesh_pause_and_links_cannot_land_and_the_plan_says_so(tmp_path):
    with FakeKubernetes(chaos_mesh=False) as k8s:
        k8s.add_service("order", {"app": "order"})
        k8s.add_service("stock", {"app": "stock", "tier": "db"}, deployment="stock-deploy")
        be = backend(tmp_path, k8s)
        assert "Chaos Mesh is not installed" in be.cannot_land("order", "pause")
        assert "Chaos Mesh is not installed" in be.cannot_land("order->stock", "delay")
        assert be.cannot_land("order", "kill") is None
        hits = be.apply("pause", "order")
        assert hits[0].result == "error" and hits[0].landed is False


def test_cannot_land_names_what_is_missing(tmp_path, cluster):
    be = backend(tmp_path, cluster)
    assert be.cannot_land("order", "kill") is None and be.cannot_land("stock", "restart") is None
    assert "no NetworkChaos for reset" in be.cannot_land("order->stock", "reset")
    for pod in list(cluster.pods.values()):
        if pod.service == "order":
            del cluster.pods[pod.name]
    assert "no Ready pod matches app=order" in be.cannot_land("order", "kill")
    del cluster.deployments["stock-deploy"]
    assert "no Deployment stock-deploy" in be.cannot_land("stock", "restart")


def test_a_link_fault_is_a_networkchaos_from_source_to_target(tmp_path, cluster):
    be = backend(tmp_path, cluster)
    assert be.canonical_link("order-service -> stock") == "order->stock"
    trig = SimpleNamespace(ms=150, jitter=10, rate=None)
    hits = be.apply_link("delay", "order->stock", trig)
    assert hits[0].landed and hits[0].extra["link"] == "order->stock"
    (plural, name), = be.owned
    spec = cluster.chaos[(plural, name)]["spec"]
    assert plural == "networkchaos" and spec["action"] == "delay" and spec["direction"] == "to"
    assert spec["delay"] == {"latency": "150ms", "jitter": "10ms"}
    assert spec["target"]["selector"]["labelSelectors"] == {"app": "stock", "tier": "db"}
    healed = be.recover("delay", "order->stock", hits)
    assert healed[0].landed and healed[0].extra["link"] == "order->stock" and not cluster.chaos
    assert be.apply_link("reset", "order->stock", trig)[0].result == "error"


def test_restore_all_deletes_what_this_run_still_owns(tmp_path, cluster):
    be = backend(tmp_path, cluster)
    be.apply("pause", "order")
    be.apply_link("partition", "order->stock", SimpleNamespace(ms=None, jitter=0, rate=None))
    assert len(cluster.chaos) == 2
    assert be.restore_all() == [] and not cluster.chaos and not be.owned


def test_chaos_left_by_a_killed_shopbench_is_deleted_by_the_next_one(tmp_path, cluster):
    files = services_file(tmp_path, cluster)
    # A real process creates chaos and is SIGKILLed: no exit hook runs.
    src = str(Path(__file__).resolve().parents[2] / "src")
    code = (f"import sys, time; sys.path.insert(0, {src!r}); from shopbench.nemesis.backends import make_backend; "
            f"be = make_backend('k8s', services_file={str(files)!r}, chaos_timeout=2); be.apply('pause', 'order'); "
            "print('paused', flush=True); time.sleep(60)")
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "paused"
    finally:
        os.kill(proc.pid, 9)
        proc.wait()
    assert len(cluster.chaos) == 1
    be = make_backend("k8s", services_file=files, chaos_timeout=2)
    assert len(be.cleaned) == 1 and not cluster.chaos


def test_a_services_file_with_a_set_based_selector_is_one_sentence(tmp_path, cluster):
    path = tmp_path / "bad.toml"
    path.write_text('[services.order]\nselector = "app in (order, web)"\n')
    with pytest.raises(UsageError, match=r"bad.toml: services.order.selector is 'app in .*not a label equality"):
        load_k8s_file(path)
    with pytest.raises(UsageError, match="needs --services-file"):
        make_backend("k8s")


def test_services_plan_warns_what_cannot_land_on_this_cluster(tmp_path):
    with FakeKubernetes(chaos_mesh=False) as k8s:
        k8s.add_service("order", {"app": "order"})
        k8s.add_service("stock", {"app": "stock", "tier": "db"}, deployment="stock-deploy")
        plan = tmp_path / "kill_config.json"
        plan.write_text(json.dumps({"kill_triggers": [
            {"type": "time", "threshold": 1, "services": ["order"], "action": "kill"},
            {"type": "time", "threshold": 2, "services": ["stock"], "action": "pause", "duration": 1}]}))
        out = subprocess.run([sys.executable, "-m", "shopbench", "services", "plan", str(plan), "--backend", "k8s",
                              "--services-file", str(services_file(tmp_path, k8s))],
                             capture_output=True, text=True, timeout=60)
    text = " ".join((out.stdout + out.stderr).split())
    assert out.returncode == 0, text
    assert "kill_triggers[1] (pause stock) cannot land: Chaos Mesh is not installed" in text
    assert "kill_triggers[0]" not in text.split("cannot land")[0].split("warning")[-1]


def test_resources_of_pods_come_from_the_metrics_api_when_it_is_served(tmp_path):
    from shopbench.resources import Snapshot, sources_for_backend

    for served in (True, False):
        with FakeKubernetes(metrics=served) as k8s:
            k8s.add_service("order", {"app": "order"}, replicas=2)
            k8s.add_service("stock", {"app": "stock", "tier": "db"}, replicas=1, deployment="stock-deploy")
            (source,) = sources_for_backend(backend(tmp_path, k8s))
            lines, _ = source.read(Snapshot(0.0, {}, {}, None))
        by = {line["name"]: line for line in lines}
        if served:
            assert (by["order"]["cpu"], by["order"]["rss"], by["order"]["procs"]) == (50.0, 2 * 64 * 2**20, 2)
            assert by["stock"]["up"] and by["stock"]["cpu"] == 25.0
        else:
            assert not by["order"]["up"] and "metrics-server" in by["order"]["error"]
