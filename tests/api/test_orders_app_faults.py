"""The second API under a kill through a services file (issue 24.6): the Orders & Inventory app on
uvicorn with two workers, started by `shopbench services start`, SIGKILLed mid-burst as a whole tree
and restarted by the run, driven through the mapping file. VALID on the correct app, INVALID on the
one whose payment is not a transaction."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from shopbench.processes import free_port

pytest.importorskip("fastapi")
pytest.importorskip("uvicorn")

ROOT = Path(__file__).resolve().parents[2]
MAPPING = str(ROOT / "examples" / "orders_inventory.toml")
EXE = str(Path(sys.executable).parent / "shopbench")
pytestmark = pytest.mark.slow


def shopbench(cwd: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([EXE, *args], cwd=cwd, capture_output=True, text=True, timeout=300)


@pytest.mark.parametrize("buggy, result", [(False, "valid"), (True, "invalid")])
def test_a_kill_of_the_whole_uvicorn_tree_through_a_services_file(tmp_path: Path, buggy: bool, result: str) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    (tmp_path / "services.json").write_text(json.dumps({"services": [{
        "name": "shop", "cwd": str(Path(__file__).parent),
        "command": [sys.executable, "-m", "uvicorn", "orders_app:app", "--workers", "2", "--host", "127.0.0.1",
                    "--port", str(port), "--log-level", "warning"],
        "env": {"ORDERS_DB": str(tmp_path / "orders.sqlite"), "ORDERS_BUGGY": "1" if buggy else "0"},
        "health_url": f"{url}/openapi.json"}]}))
    (tmp_path / "urls.json").write_text(json.dumps({"ORDER_URL": url, "PAYMENT_URL": url, "STOCK_URL": url}))
    (tmp_path / "kill.json").write_text(json.dumps({"kill_triggers": [
        {"type": "checkouts", "threshold": 5, "services": ["shop"], "action": "kill", "recovery_time": 0.5}]}))
    state = ["--services-file", "services.json", "--data", str(tmp_path / "state")]
    started = shopbench(tmp_path, "services", "start", *state)
    assert started.returncode == 0, started.stdout + started.stderr
    try:
        run = shopbench(tmp_path, "consistency", "--urls", "urls.json", "--mapping", MAPPING, "--faults", "kill.json",
                        "--services-file", "services.json", "--services-data", str(tmp_path / "state"),
                        "--items", "1", "--stock", "20", "--users", "60", "--credit", "10", "--orders", "60",
                        "--concurrency", "30", "--seed", "5", "--settle-timeout", "20", "--out", "run", "--json")
    finally:
        stopped = shopbench(tmp_path, "services", "stop", *state)
    assert stopped.returncode == 0, stopped.stdout + stopped.stderr
    verdict = json.loads(run.stdout)
    assert verdict["result"] == result, (verdict.get("anomalies", [])[:3], verdict.get("unknown_reasons"),
                                         run.stderr[-2000:])
    (fault,) = verdict["faults"]
    assert fault["service"] == "shop" and fault["landed"] and fault["restored"], fault
