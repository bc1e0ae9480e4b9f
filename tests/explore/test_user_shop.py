"""Explore on a shop we did not write (issue 22.4): a gunicorn shop (two sync workers per service,
tests/explore/apps/wsgi_shop.py) started from a services file whose `links` put the fault proxy on
client->order, order->stock and order->payment. A lost payment answer is survived (the charge is
retried under its txid); the order service killed right after its charge was delivered leaves
stock and money taken for an unpaid order, since this shop has no saga recovery: explore says so."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from shopbench.processes import free_port

pytestmark = pytest.mark.slow
pytest.importorskip("shopbench.nemesis.proxy.positions", reason="the proxy's request positions (network branch)")
EXE = str(Path(sys.executable).parent / "shopbench")
APPS = Path(__file__).resolve().parent / "apps"


def shopbench(cwd: Path, *args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([EXE, *args], capture_output=True, text=True, timeout=timeout, cwd=cwd)


@pytest.fixture
def user_shop(tmp_path: Path) -> Iterator[Path]:
    ports = {name: free_port() for name in ("stock", "payment", "order", "to-stock", "to-payment", "to-order")}
    (tmp_path / "db").mkdir()

    def service(name: str, env: dict[str, str]) -> dict:
        return {"name": name, "command": [sys.executable, "-m", "gunicorn", "-w", "2", "-b",
                                          f"127.0.0.1:{ports[name]}", "--chdir", str(APPS), "wsgi_shop:app"],
                "env": {"SHOP_SERVICE": name, "SHOP_DB": str(tmp_path / "db" / f"{name}.db"), **env},
                "health_url": f"http://127.0.0.1:{ports[name]}/health", "start_timeout": 30}

    services = {
        "services": [service("stock", {}), service("payment", {}),
                     service("order", {"STOCK_URL": f"http://127.0.0.1:{ports['to-stock']}",
                                       "PAYMENT_URL": f"http://127.0.0.1:{ports['to-payment']}"})],
        "links": {"client->order": {"upstream": f"127.0.0.1:{ports['order']}", "listen": ports["to-order"]},
                  "order->stock": {"upstream": f"127.0.0.1:{ports['stock']}", "listen": ports["to-stock"]},
                  "order->payment": {"upstream": f"127.0.0.1:{ports['payment']}", "listen": ports["to-payment"]}},
    }
    (tmp_path / "services.json").write_text(json.dumps(services))
    (tmp_path / "urls.json").write_text(json.dumps({
        "ORDER_URL": f"http://127.0.0.1:{ports['to-order']}", "PAYMENT_URL": f"http://127.0.0.1:{ports['payment']}",
        "STOCK_URL": f"http://127.0.0.1:{ports['stock']}"}))
    state = ["--services-file", "services.json", "--data", str(tmp_path / "state")]
    started = shopbench(tmp_path, "services", "start", *state)
    assert started.returncode == 0, started.stdout + started.stderr
    try:
        yield tmp_path
    finally:
        shopbench(tmp_path, "services", "stop", *state)


def explore(folder: Path, out: str, *args: str) -> tuple[subprocess.CompletedProcess, dict]:
    proc = shopbench(folder, "explore", "--mode", "requests", "--urls", "urls.json", "--services-file",
                     "services.json", "--services-data", str(folder / "state"), "--confirm", "1", "--out", out,
                     "--items", "4", "--users", "8", *args)
    summary_path = folder / out / "summary.json"
    return proc, json.loads(summary_path.read_text()) if summary_path.exists() else {}


def test_explore_hits_requests_on_a_gunicorn_shop_through_its_links(user_shop: Path) -> None:
    proc, summary = explore(user_shop, "lost", "--only", "order->payment#1:lose-answer")
    assert proc.returncode == 0, proc.stderr[-3000:]
    trial = json.loads((user_shop / "lost" / "trials.jsonl").read_text().splitlines()[0])
    assert trial["result"] == "valid" and trial["extra"]["reached"] is True
    assert trial["extra"]["requests"]["order->payment"] == 2  # the charge, and its retry under the same txid

    proc, summary = explore(user_shop, "killed", "--only", "order->payment#1:kill-source")
    assert proc.returncode == 1, proc.stderr[-3000:]
    (failure,) = summary["failures"]
    assert failure["faults"] == ["order->payment#1:kill-source"]
    assert {"stock_drift", "user_credit_drift"} & set(failure["anomaly_types"]), failure["anomaly_types"]
    assert "--services-file services.json" in failure["command"]
