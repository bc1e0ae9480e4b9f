"""`--processes 2`: every request Locust counted is in the history, and the fault hook on the
master sees the whole load through its monitor."""

import json

import pytest

pytestmark = pytest.mark.slow

SCRIPT = """
import json, sys
from contextlib import contextmanager
from shopbench.runner.stress import run_stress
from shopbench.locust_plugin.config import build_config

seen = []

def nemesis(monitor):
    @contextmanager
    def hook():
        import threading, time
        stop = threading.Event()
        def watch():
            while not stop.is_set():
                seen.append(monitor.snapshot())
                time.sleep(0.2)
        seen.append("entered")
        t = threading.Thread(target=watch, daemon=True)
        t.start()
        yield
        stop.set()
        t.join(2)
        seen.append("exited")
    return hook()

code = run_stress(build_config(mix="seed000", wait="0-0.05"), out={out!r},
                  locust_args=["--headless", "-u", "6", "-r", "6", "-t", "4s", "--processes", "2"], nemesis=nemesis)
with open({out!r} + ".hook.json", "w") as f:
    json.dump(seen, f)
sys.exit(code)
"""


def test_processes_2_history_is_complete_and_the_master_monitor_sees_it(python_script, tmp_path):
    out = tmp_path / "run"
    run = python_script(SCRIPT.format(out=str(out)), out, timeout=180)
    assert run.code == 0, run.output[-3000:]
    totals = run.manifest["locust"]
    load_ops = run.ops()
    assert totals["requests"] > 0
    assert totals["requests"] == len(load_ops)  # every request Locust counted is in the history
    ids = [o["id"] for o in run.ops(load_only=False)]
    assert len(ids) == len(set(ids))  # ids stay unique across workers
    workers = {o["process"].split("-")[0] for o in load_ops}
    assert workers == {"w0", "w1"}
    hook = json.loads((tmp_path / "run.hook.json").read_text())
    assert hook[0] == "entered" and hook[-1] == "exited"
    snaps = [s for s in hook if isinstance(s, dict)]
    assert max(s["users"] for s in snaps) == 6
    assert max(s["total"] for s in snaps) > 0 and max(s["rps"] for s in snaps) > 0
    assert run.verdict["valid"] is True


def test_remote_worker_ships_history_to_the_master_without_shared_disk(tmp_path):
    import os
    import subprocess
    import sys
    from pathlib import Path

    from shopbench.processes import free_port
    from shopbench.shop import RefShop

    exe = str(Path(sys.executable).parent / "shopbench")
    port = str(free_port())
    out = tmp_path / "master-run"
    with RefShop(tmp_path / "shop"):
        urls = tmp_path / "shop" / "urls.json"
        master = subprocess.Popen([exe, "stress", "--master", "--expect-workers", "1", "--master-bind-port", port,
                                   "--headless", "-u", "4", "-r", "4", "-t", "3s", "--out", str(out),
                                   "--mix", "hot-items", "--wait", "0", "--urls", str(urls)],
                                  stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        # The worker names only its master and the shop: the mix and the wait come from the master.
        worker = subprocess.Popen([exe, "stress", "--worker", "--master-host", "127.0.0.1", "--master-port", port,
                                   "--urls", str(urls)], cwd=tmp_path, stdout=subprocess.PIPE,
                                  stderr=subprocess.STDOUT, text=True)
        try:
            master_out, _ = master.communicate(timeout=120)
            worker_out, _ = worker.communicate(timeout=60)
        finally:
            for proc in (master, worker):
                if proc.poll() is None:
                    os.kill(proc.pid, 9)
                    proc.wait()
    assert master.returncode == 0, master_out[-3000:] + worker_out[-3000:]
    manifest = json.loads((out / "run.json").read_text())
    ops = [json.loads(line) for line in (out / "ops.jsonl").read_text().splitlines()]
    load = [o for o in ops if o["process"] not in ("populate", "settle")]
    assert manifest["locust"]["requests"] == len(load) > 0
    assert "--master-bind-host" not in manifest["locust"]["argv"]  # --master keeps Locust's own options
    # The worker used the hot items the master populated (it received the pool by message).
    hot = {o["args"]["item_id"] for o in load if o["f"] == "add_item"}
    populated = {o["value"]["item_id"] for o in ops if o["process"] == "populate" and o["f"] == "create_item"}
    assert hot and hot <= populated
    assert {o["scenario"] for o in load} == {"race:hot-item"}  # the master's mix, not the worker's default
    assert not list(tmp_path.glob("*.jsonl"))  # nothing written on the worker's side


def test_two_local_processes_runs_at_once_each_bind_their_own_loopback_port(tmp_path):
    """Two `--processes 2` runs on one machine at once (issue 20.3): each master listens on 127.0.0.1
    on a port of its own, never on every interface or Locust's fixed 5557, and both end with a verdict."""
    import os
    import subprocess
    import sys
    import time
    from pathlib import Path

    import psutil

    exe = str(Path(sys.executable).parent / "shopbench")
    outs = [tmp_path / "a", tmp_path / "b"]
    procs = [subprocess.Popen([exe, "stress", "--headless", "-u", "2", "-r", "2", "-t", "3s", "--processes", "2",
                               "--mix", "hot-items", "--wait", "0-0.1", "--out", str(out)], start_new_session=True,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) for out in outs]
    listening: dict[int, set[tuple[str, int]]] = {p.pid: set() for p in procs}
    try:
        deadline = time.monotonic() + 150
        while any(p.poll() is None for p in procs) and time.monotonic() < deadline:
            for p in procs:
                try:
                    conns = psutil.Process(p.pid).net_connections(kind="tcp")
                except psutil.Error:
                    continue
                listening[p.pid] |= {(c.laddr.ip, c.laddr.port) for c in conns if c.status == psutil.CONN_LISTEN}
            time.sleep(0.05)
        outputs = [p.communicate(timeout=30)[0] for p in procs]
    finally:
        for p in procs:
            if p.poll() is None:
                os.killpg(p.pid, 9)
                p.wait()
    for p, out, output in zip(procs, outs, outputs, strict=True):
        assert p.returncode == 0, output[-3000:]
        assert json.loads((out / "verdict.json").read_text())["result"] == "valid"
    argvs = [json.loads((out / "run.json").read_text())["locust"]["argv"] for out in outs]
    ports = [int(argv[argv.index("--master-bind-port") + 1]) for argv in argvs]
    assert ports[0] != ports[1] and 5557 not in ports
    for argv in argvs:
        assert argv[argv.index("--master-bind-host") + 1] == "127.0.0.1"
    for p, port in zip(procs, ports, strict=True):
        assert ("127.0.0.1", port) in listening[p.pid]  # seen listening, on loopback only
        assert all(ip == "127.0.0.1" for ip, _ in listening[p.pid]), listening[p.pid]
