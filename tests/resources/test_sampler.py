"""The resource sampler on real processes: a gunicorn master with two workers (its tree summed), the
reference shop (three supervised services, which are this process's children and not the
generator's workers), a service killed and restarted mid-sampling, a saturated generator, Docker
stats through the SDK against the fake engine, and the sampler's OS thread under gevent."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
import urllib.request
from pathlib import Path
from types import SimpleNamespace

import psutil
import pytest

from shopbench.processes import free_port
from shopbench.resources import (
    RESOURCES,
    DockerServices,
    Generator,
    ProcessTree,
    ResourceSampler,
    read_samples,
    sources_for_backend,
    summarize,
)

pytestmark = pytest.mark.slow
FAKES = Path(__file__).resolve().parents[1] / "fakes"

WSGI = textwrap.dedent("""
    BLOB = bytearray(8 << 20)  # each worker holds its own 8 MiB once it touches it
    def app(environ, start_response):
        for i in range(0, len(BLOB), 4096):
            BLOB[i] = 1
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"ok"]
""")


def _wait(cond, timeout=20.0, what="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def _end(proc: subprocess.Popen) -> None:
    """End a process this test started, and its group (start_new_session), by its id."""
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(10)


@pytest.fixture
def gunicorn(tmp_path):
    (tmp_path / "tinyapp.py").write_text(WSGI)
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "gunicorn", "-w", "2", "-b", f"127.0.0.1:{port}",
                             "--chdir", str(tmp_path), "tinyapp:app"], start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        _wait(lambda: len(psutil.Process(proc.pid).children()) == 2, what="two gunicorn workers")
        def answered():
            try:
                return urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2).read() == b"ok"
            except OSError:
                return False
        _wait(answered, what="gunicorn answering")
        yield proc, port
    finally:
        _end(proc)


@pytest.mark.parametrize("linux", [True, False], ids=["proc-and-netlink", "psutil-portable"])
def test_a_multi_process_service_is_its_whole_tree(gunicorn, tmp_path, monkeypatch, linux):
    import shopbench.resources.procfs

    monkeypatch.setattr(shopbench.resources.procfs, "LINUX", linux)  # False: the path macOS takes
    proc, port = gunicorn
    for _ in range(6):  # reach both workers, so each holds its 8 MiB
        urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5).read()
    sampler = ResourceSampler(interval=0.2, path=tmp_path / RESOURCES, sources=[ProcessTree("web", lambda: proc.pid)])
    with sampler.during():
        conn = urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5)  # noqa: S310
        time.sleep(1.0)
        conn.close()
    lines = [s for s in read_samples(tmp_path / RESOURCES) if s["name"] == "web"]
    assert len(lines) >= 3  # a baseline, at least one in between, the last
    master_rss = psutil.Process(proc.pid).memory_info().rss
    last = lines[-1]
    assert last["up"] and last["pid"] == proc.pid
    assert last["procs"] == 3  # master + 2 workers
    assert last["rss"] > master_rss + (8 << 20)  # the workers' memory is in the sum
    assert last["threads"] >= 3 and last["fds"] > 3
    assert max(s["conns"] for s in lines) >= 1  # the listening socket at least
    assert lines[0]["cpu"] is None and all(isinstance(s["cpu"], float) for s in lines[1:])
    summary = sampler.sections()["resources"]["services"]["web"]
    assert summary["procs_peak"] == 3 and summary["rss_peak"] >= last["rss"]
    assert summary["pids"] == [proc.pid]


def test_a_service_killed_and_restarted_is_followed_not_a_crash(tmp_path):
    procs = [subprocess.Popen(["sleep", "60"], start_new_session=True)]
    current = {"pid": procs[0].pid}
    sampler = ResourceSampler(interval=0.2, path=tmp_path / RESOURCES,
                              sources=[ProcessTree("svc", lambda: current["pid"])])
    try:
        with sampler.during():
            time.sleep(0.6)
            _end(procs[0])  # killed: the pid is stale until the "supervisor" notices
            time.sleep(0.5)
            current["pid"] = None  # down
            time.sleep(0.5)
            procs.append(subprocess.Popen(["sleep", "60"], start_new_session=True))
            current["pid"] = procs[1].pid  # restarted with a new pid
            time.sleep(0.8)
    finally:
        for p in procs:
            _end(p)
    lines = [s for s in read_samples(tmp_path / RESOURCES) if s["name"] == "svc"]
    seen = [s["pid"] for s in lines if s["up"]]
    assert procs[0].pid in seen and procs[1].pid in seen
    assert any(not s["up"] for s in lines)
    assert sampler.errors == []
    assert sampler.sections()["resources"]["services"]["svc"]["pids"] == sorted({procs[0].pid, procs[1].pid})


def test_reference_shop_services_are_sampled_and_are_not_generator_workers(tmp_path):
    from shopbench.rundir import RunDir
    from shopbench.shop import RefShop

    run = RunDir.create("stress", tmp_path / "run", {})
    with RefShop(run.file("shop")) as shop:
        from shopbench.nemesis.backends import make_backend

        local = sources_for_backend(make_backend("local", supervisor=shop.supervisor))
        assert sorted(s.name for s in local) == ["order", "payment", "stock"]
        hook = SimpleNamespace(backend=make_backend("local", supervisor=shop.supervisor))  # a bound fault hook
        sampler = ResourceSampler(interval=0.25, follow=hook)
        sampler.bind(run, shop.supervisor)
        assert len(sampler.sources) == 3  # the shop's services once, though both name them
        with sampler.during():
            for _ in range(20):
                urllib.request.urlopen(shop.url("stock") + "/stock/item/create/5", data=b"", timeout=5).read()
            time.sleep(1.0)
        section = sampler.sections()["resources"]
    services = section["services"]
    assert set(services) == {"order", "stock", "payment"}
    for name, s in services.items():
        assert s["up_samples"] == s["samples"] >= 4, name
        assert s["rss_peak"] > 1 << 20 and s["threads_peak"] >= 1 and s["fds_peak"] >= 3
    # The shop's processes are children of this process, yet not the load generator's workers.
    assert set(section["generator"]) == {"main"}
    assert section["generator"]["main"]["pids"] == [os.getpid()]
    assert section["warnings"] == []
    lines = list(read_samples(run.file(RESOURCES)))
    assert {tuple(sorted(line)) for line in lines} == {tuple(sorted(
        ["wall", "kind", "name", "backend", "pid", "container", "up", "procs", "cpu", "rss", "fds", "threads",
         "conns"]))}


def test_a_saturated_generator_is_a_warning_and_an_idle_one_is_not(tmp_path):
    # The machine is shared (a busy loop got as little as 22 % of a core with the whole suite running):
    # a busy and a sleeping process are judged against a 5 % line; the 90 % default is the same
    # comparison (test_summary_... below).
    busy = subprocess.Popen([sys.executable, "-c", "while True: pass"], start_new_session=True)
    asleep = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"], start_new_session=True)
    try:
        sampler = ResourceSampler(interval=0.25, path=tmp_path / RESOURCES, generator=False, saturated=5.0)
        sampler.generator = Generator(pid=busy.pid)  # stands for a Locust process at 100 %
        with sampler.during():
            time.sleep(2.0)
        idle = ResourceSampler(interval=0.25, path=tmp_path / "idle.jsonl", generator=False, saturated=5.0)
        idle.generator = Generator(pid=asleep.pid)
        with idle.during():
            time.sleep(1.0)
    finally:
        _end(busy)
        _end(asleep)
    section = sampler.sections()["resources"]
    assert section["generator"]["main"]["cpu_mean"] > 5
    (warning,) = section["warnings"]
    assert warning.startswith("the load generator was saturated: process main averaged")
    assert "latencies" in warning and "--processes" in warning
    assert idle.sections()["resources"]["warnings"] == []


def test_docker_services_are_read_from_container_stats(tmp_path):
    import docker

    sys.path.insert(0, str(FAKES))
    try:
        from docker_engine import FakeDockerEngine
    finally:
        sys.path.remove(str(FAKES))
    with FakeDockerEngine() as engine:
        a = engine.add("shop-order-1", service="order")
        b = engine.add("shop-order-2", service="order")
        b.cpu_rate = 1.0
        engine.add("shop-stock-1", service="stock", status="exited")
        engine.add("other-db-1", service="db", project="other")
        client = docker.DockerClient(base_url=engine.url)
        from shopbench.nemesis.backends.docker import DockerBackend

        (source,) = sources_for_backend(DockerBackend(client=client, project="shop"))  # what a faulted run samples
        assert isinstance(source, DockerServices) and source.services == ["order", "stock"]
        sampler = ResourceSampler(interval=0.3, path=tmp_path / RESOURCES, sources=[source], generator=False)
        with sampler.during():
            time.sleep(1.5)
    lines = list(read_samples(tmp_path / RESOURCES))
    order = [s for s in lines if s["name"] == "order"]
    stock = [s for s in lines if s["name"] == "stock"]
    assert {s["name"] for s in lines} == {"order", "stock"}  # another project's containers are not ours
    assert all(s["backend"] == "docker" and s["up"] for s in order)
    assert order[-1]["container"] == f"{a.id[:12]},{b.id[:12]}"
    assert order[-1]["rss"] == 2 * ((64 - 16) << 20)  # usage minus page cache, summed
    assert order[-1]["procs"] == 6
    cpus = [s["cpu"] for s in order[1:]]
    assert all(100 < c < 200 for c in cpus), cpus  # 0.5 + 1.0 cores
    assert stock and not any(s["up"] for s in stock) and stock[0]["error"] == "container not running"


def test_the_sampler_is_a_real_thread_under_gevent(tmp_path):
    """Inside a Locust process threading is gevent's: a greenlet sampler would stop whenever the load's
    loop is busy. Here the main greenlet hogs the CPU for 3 s and the samples keep coming."""
    script = textwrap.dedent(f"""
        from gevent import monkey; monkey.patch_all()
        import time
        from shopbench.resources import ResourceSampler, read_samples
        s = ResourceSampler(interval=0.1, path={str(tmp_path / RESOURCES)!r})
        with s.during():
            end = time.monotonic() + 3.0
            while time.monotonic() < end:
                pass
        lines = list(read_samples({str(tmp_path / RESOURCES)!r}))
        print(len(lines), max(x["cpu"] or 0 for x in lines))
    """)
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    count, peak = out.stdout.split()
    # A greenlet would sample twice: before and after the hog. A thread samples during it too, if
    # slowly: each of its /proc reads waits for the hog to hand back the GIL (Python's convoy effect).
    assert int(count) >= 3 and float(peak) > 20


def test_summary_keeps_services_and_generator_apart():
    rows = [
        {"wall": 1.0, "kind": "service", "name": "order", "backend": "local", "pid": 7, "up": True, "procs": 2,
         "cpu": None, "rss": 100, "fds": 5, "threads": 2, "conns": 1},
        {"wall": 2.0, "kind": "service", "name": "order", "backend": "local", "pid": 7, "up": True, "procs": 2,
         "cpu": 50.0, "rss": 300, "fds": 9, "threads": 2, "conns": 4},
        {"wall": 3.0, "kind": "service", "name": "order", "backend": "local", "pid": None, "up": False,
         "procs": None, "cpu": None, "rss": None, "fds": None, "threads": None, "conns": None, "error": "x"},
        {"wall": 2.0, "kind": "generator", "name": "main", "backend": "self", "pid": 1, "up": True, "procs": 1,
         "cpu": 95.0, "rss": 10, "fds": 1, "threads": 1, "conns": 0},
        {"wall": 3.0, "kind": "generator", "name": "main", "backend": "self", "pid": 1, "up": True, "procs": 1,
         "cpu": 80.0, "rss": 10, "fds": 1, "threads": 1, "conns": 0},
    ]
    s = summarize(rows)
    order = s["services"]["order"]
    assert (order["samples"], order["up_samples"], order["cpu_mean"], order["cpu_peak"]) == (3, 2, 50.0, 50.0)
    assert (order["rss_mean"], order["rss_peak"], order["conns_peak"], order["pids"]) == (200, 300, 4, [7])
    assert s["generator"]["main"]["cpu_mean"] == 87.5 and s["warnings"] == []  # mean, not peak
    rows.append({**rows[-1], "wall": 4.0, "cpu": 100.0})
    (warning,) = summarize(rows)["warnings"]  # mean 91.7 %
    assert warning.startswith("the load generator was saturated: process main averaged 92 % of a core (peak 100 %)")


def test_generator_workers_are_forks_of_the_main_process_not_any_child(tmp_path):
    """Locust's --processes forks workers from the main process; the shop or a shell it started
    are children too, but not the load generator."""
    script = textwrap.dedent(f"""
        import os, signal, subprocess, time
        from shopbench.resources import ResourceSampler, read_samples
        fork = os.fork()
        if fork == 0:
            end = time.monotonic() + 3.0
            while time.monotonic() < end:
                pass
            os._exit(0)
        other = subprocess.Popen(["sleep", "30"])
        s = ResourceSampler(interval=0.2, path={str(tmp_path / RESOURCES)!r})
        with s.during():
            time.sleep(1.2)
        other.kill(); other.wait(); os.waitpid(fork, 0)
        names = sorted({{(x["name"], x["pid"]) for x in read_samples({str(tmp_path / RESOURCES)!r})}})
        print(fork, other.pid, " ".join(f"{{n}}:{{p}}" for n, p in names))
    """)
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    fork, other, *names = out.stdout.split()
    assert names[1:] == [f"worker-1:{fork}"] and names[0].startswith("main:")
