"""A second API end to end: the "Orders & Inventory" shop (FastAPI, uvicorn with two workers, SQLite),
driven through a mapping file and through a Python driver. VALID on the correct shop, INVALID on the
one whose payment is not a transaction (its race is made certain by a sleep between read and write)."""

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from shopbench.cli.app import main
from shopbench.driver import DRIVER_ENV, MAPPING_ENV
from shopbench.processes import free_port

pytest.importorskip("fastapi")
pytest.importorskip("uvicorn")

ROOT = Path(__file__).resolve().parents[2]
MAPPING = str(ROOT / "examples" / "orders_inventory.toml")
DRIVER = f"{ROOT / 'examples' / 'orders_inventory_driver.py'}:OrdersInventoryDriver"
EXE = str(Path(sys.executable).parent / "shopbench")
pytestmark = pytest.mark.slow


@pytest.fixture(autouse=True)
def _no_driver_leaks(monkeypatch):
    for name in (DRIVER_ENV, MAPPING_ENV):  # use_driver sets them: set first, so teardown removes them
        monkeypatch.setenv(name, "")
        monkeypatch.delenv(name)


def start_app(where: Path, buggy: bool):
    port = free_port()
    env = {**os.environ, "ORDERS_DB": str(where / "orders.sqlite"), "ORDERS_BUGGY": "1" if buggy else "0"}
    proc = subprocess.Popen([sys.executable, "-m", "uvicorn", "orders_app:app", "--app-dir", str(Path(__file__).parent),
                             "--workers", "2", "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"],
                            env=env, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            with urllib.request.urlopen(url + "/openapi.json", timeout=2):
                break
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                os.killpg(proc.pid, signal.SIGKILL)
                raise RuntimeError("the Orders & Inventory app did not start") from None
            time.sleep(0.2)
    urls = where / "urls.json"
    urls.write_text(json.dumps({"ORDER_URL": url, "PAYMENT_URL": url, "STOCK_URL": url}))
    return proc, urls


def stop_app(proc):
    os.killpg(proc.pid, signal.SIGTERM)  # uvicorn's parent and both workers: one process group
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


@pytest.fixture(scope="module")
def correct(tmp_path_factory):
    proc, urls = start_app(tmp_path_factory.mktemp("orders-correct"), buggy=False)
    yield urls
    stop_app(proc)


@pytest.fixture(scope="module")
def buggy(tmp_path_factory):
    proc, urls = start_app(tmp_path_factory.mktemp("orders-buggy"), buggy=True)
    yield urls
    stop_app(proc)


def consistency(urls: Path, out: Path, how: list[str]) -> int:
    # One item with less stock than orders: every checkout races for it.
    return main(["consistency", "--urls", str(urls), *how, "--items", "1", "--stock", "6", "--users", "16",
                 "--credit", "10", "--orders", "16", "--concurrency", "16", "--out", str(out)])


def stress(urls: Path, out: Path, how: list[str], *extra: str) -> subprocess.CompletedProcess:
    return subprocess.run([EXE, "stress", "--urls", str(urls), *how, "--headless", "-u", "6", "-r", "6", "-t", "3s",
                           "--wait", "0-0.05", "--out", str(out), *extra],
                          capture_output=True, text=True, timeout=120)


def verdict(out: Path) -> dict:
    return json.loads((out / "verdict.json").read_text())


@pytest.mark.parametrize("how", [["--mapping", MAPPING], ["--driver", DRIVER]], ids=["mapping", "driver"])
def test_consistency_is_valid_on_the_correct_shop_and_invalid_on_the_buggy_one(correct, buggy, tmp_path, how):
    assert consistency(correct, tmp_path / "ok", how) == 0, verdict(tmp_path / "ok")
    assert consistency(buggy, tmp_path / "bad", how) == 1
    found = verdict(tmp_path / "bad")
    assert found["anomaly_types"].get("stock_drift") or found["anomaly_types"].get("negative_stock"), found
    ops = [json.loads(line) for line in (tmp_path / "ok" / "ops.jsonl").read_text().splitlines()]
    checkouts = [o for o in ops if o["f"] == "checkout"]
    assert len(checkouts) == 16 and {o["type"] for o in checkouts} == {"ok", "fail"}  # 6 sold, 10 refused
    assert sum(o["type"] == "ok" for o in checkouts) == 6
    # what the shop answered in its own shapes is recorded in ours: balance "10" -> credit 10, lines -> items
    manifest = json.loads((tmp_path / "ok" / "run.json").read_text())
    chosen = how[1] if how[0] == "--driver" else str(Path(how[1]).resolve())
    assert manifest["driver"] == {"driver": None, "mapping": None, how[0][2:]: chosen}  # run.json says how
    from shopbench.report.compare import rows, summarize_all

    cells = dict(rows(summarize_all([tmp_path / "ok", tmp_path / "bad"])))["driver"]
    assert cells == [f"{how[0][2:]} {chosen}"] * 2
    reads = [o for o in ops if o["f"] == "find_order" and o["type"] == "ok"]
    assert reads and all(isinstance(o["value"]["items"][0][1], int) and type(o["value"]["paid"]) is bool
                         for o in reads)


def test_stress_through_the_mapping_with_two_processes_is_valid(correct, tmp_path):
    # A port of its own for Locust's master and workers: another run's workers must not join this one
    port = str(free_port())
    done = stress(correct, tmp_path / "run", ["--mapping", MAPPING], "--processes", "2", "--mix", "seed000,hot",
                  "--master-bind-port", port, "--master-port", port)
    assert done.returncode == 0, done.stderr[-3000:]
    ops = [json.loads(line) for line in (tmp_path / "run" / "ops.jsonl").read_text().splitlines()]
    load = [o for o in ops if o["process"].startswith("w")]
    assert {o["process"].split("-")[0] for o in load} == {"w0", "w1"}
    assert sum(o["f"] == "checkout" and o["type"] == "ok" for o in load) > 0
    # Locust's labels are the requests sent: two POSTs for a checkout, none for a client-side cart's
    import csv

    with open(tmp_path / "run" / "locust_stats.csv") as f:
        types = {row["Name"]: row["Type"] for row in csv.DictReader(f)}
    assert types["checkout"] == "POST+POST" and types["add_item"] == "-" and types["create_item"] == "POST", types


def test_stress_through_the_driver_on_the_buggy_shop_is_invalid(buggy, tmp_path):
    done = stress(buggy, tmp_path / "run", ["--driver", DRIVER], "--mix", "hot")
    assert done.returncode == 1, done.stderr[-3000:]
    assert verdict(tmp_path / "run")["oversold_items"], verdict(tmp_path / "run")


def test_a_draft_mapping_from_the_live_openapi_url(correct, capsys):
    url = json.loads(correct.read_text())["ORDER_URL"]
    assert main(["mapping", "draft", "--openapi", url + "/openapi.json"]) == 0
    drafted = capsys.readouterr().out
    assert '[find_user]\nmethod = "GET"\npath = "/customers/{user_id}"' in drafted
    assert 'cart = { line = { product_id = "{item_id}", quantity = "{quantity}" } }' in drafted
