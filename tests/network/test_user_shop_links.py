"""A user's shop on this machine with `links` in its services file (the order service's payment URL
points at the proxy port the file fixes), partitioned through the CLI; and a Locust stress run
(gevent-patched) with link faults on the reference shop."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from shopbench.nemesis import read_timeline
from shopbench.processes import free_port

pytestmark = pytest.mark.slow
EXE = str(Path(sys.executable).parent / "shopbench")


def shopbench(cwd: Path, *args: str, timeout: float = 240) -> subprocess.CompletedProcess:
    return subprocess.run([EXE, *args], capture_output=True, text=True, timeout=timeout, cwd=cwd)


def test_services_file_links_partition_a_users_shop(tmp_path: Path) -> None:
    ports = {name: free_port() for name in ("stock", "payment", "order", "link")}
    py, db = sys.executable, tmp_path / "db"
    services = {
        "services": [
            {"name": "stock", "command": [py, "-m", "refshop", "stock", "--port", str(ports["stock"]),
                                          "--db", str(db / "stock.db")],
             "health_url": f"http://127.0.0.1:{ports['stock']}/health"},
            {"name": "payment", "command": [py, "-m", "refshop", "payment", "--port", str(ports["payment"]),
                                            "--db", str(db / "payment.db")],
             "health_url": f"http://127.0.0.1:{ports['payment']}/health"},
            # The user points the order service's payment URL at the link's port, not at payment.
            {"name": "order", "command": [py, "-m", "refshop", "order", "--port", str(ports["order"]),
                                          "--db", str(db / "order.db"),
                                          "--stock-url", f"http://127.0.0.1:{ports['stock']}",
                                          "--payment-url", f"http://127.0.0.1:{ports['link']}"],
             "health_url": f"http://127.0.0.1:{ports['order']}/health"},
        ],
        "links": {"order->payment": {"upstream": f"127.0.0.1:{ports['payment']}", "listen": ports["link"]}},
    }
    (tmp_path / "services.json").write_text(json.dumps(services))
    (tmp_path / "urls.json").write_text(json.dumps({
        "ORDER_URL": f"http://127.0.0.1:{ports['order']}", "PAYMENT_URL": f"http://127.0.0.1:{ports['payment']}",
        "STOCK_URL": f"http://127.0.0.1:{ports['stock']}"}))
    (tmp_path / "partition.json").write_text(json.dumps({"kill_triggers": [
        {"type": "checkouts", "threshold": 20, "action": "partition", "links": ["order-service->payment-service"],
         "duration": 1.5}]}))
    db.mkdir()
    state = ["--services-file", "services.json", "--data", str(tmp_path / "state")]
    started = shopbench(tmp_path, "services", "start", *state)
    assert started.returncode == 0, started.stdout + started.stderr
    try:
        run = shopbench(tmp_path, "consistency", "--urls", "urls.json", "--faults", "partition.json",
                        "--services-file", "services.json", "--services-data", str(tmp_path / "state"),
                        "--items", "10", "--stock", "100", "--users", "200", "--orders", "300", "--concurrency", "20",
                        "--seed", "3", "--settle-timeout", "20", "--out", "run", "--json")
    finally:
        stopped = shopbench(tmp_path, "services", "stop", *state)
    assert run.returncode == 0, run.stderr[-3000:]
    assert f"link order->payment: 127.0.0.1:{ports['link']} -> 127.0.0.1:{ports['payment']}" in run.stderr
    assert json.loads(run.stdout)["result"] == "valid"
    fault, heal = read_timeline(tmp_path / "run" / "faults.jsonl")
    assert (fault["link"], fault["landed"], heal["healed"]) == ("order->payment", True, True), (fault, heal)
    assert stopped.returncode == 0


def test_stress_run_with_link_faults_under_locust(tmp_path: Path) -> None:
    plan = tmp_path / "faults.json"
    plan.write_text(json.dumps({"kill_triggers": [
        {"type": "time", "threshold": 1, "action": "partition", "links": ["order->payment"], "duration": 1.5},
        {"type": "time", "threshold": 1, "action": "delay", "links": ["client->order"], "ms": 300, "duration": 2}]}))
    out = tmp_path / "run"
    run = shopbench(tmp_path, "stress", "--headless", "-u", "6", "-r", "6", "-t", "5s", "--wait", "0-0.05",
                    "--seed", "1", "--out", str(out), "--faults", str(plan))
    assert run.returncode == 0, (run.stdout + run.stderr)[-3000:]
    lines = read_timeline(out / "faults.jsonl")
    assert sorted((x["action"], x["link"]) for x in lines if x["role"] == "fault") == [
        ("delay", "client->order"), ("partition", "order->payment")]
    assert all(x["landed"] for x in lines if x["role"] == "fault"), lines
    assert all(x["healed"] for x in lines if x["role"] == "recover"), lines
