"""The files in examples/ are what the README tells users to copy: they must stay valid, and the
"your own services" walk-through must work as written (on free ports, so tests never clash)."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from shopbench.nemesis.backends.local import load_services_file
from shopbench.nemesis.config import load_fault_plan
from shopbench.target import Target

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
EXE = str(Path(sys.executable).parent / "shopbench")


def test_example_files_parse_and_agree():
    specs = {s.name: s for s in load_services_file(EXAMPLES / "services.toml")}
    assert set(specs) == {"order-service", "stock-service", "payment-service"}
    target = Target.load(EXAMPLES / "urls.json")
    assert specs["order-service"].health_url == target.order_url + "/health"
    assert specs["stock-service"].health_url == target.stock_url + "/health"
    plan = load_fault_plan(EXAMPLES / "kill_config.json", known_services=list(specs))
    assert {s for t in plan.triggers for s in t.services} <= set(specs)


@pytest.mark.slow
def test_your_own_services_walk_through(tmp_path):
    from shopbench.processes import free_port

    ports = {name: free_port() for name in ("stock", "payment", "order")}
    text = (EXAMPLES / "services.toml").read_text().replace('cwd = ".."', f'cwd = "{ROOT}"')
    for name, old in (("stock", 18001), ("payment", 18002), ("order", 18003)):
        text = text.replace(str(old), str(ports[name]))
    text = text.replace(".venv/bin/python", sys.executable).replace(".shopbench/example-shop", str(tmp_path / "db"))
    services = tmp_path / "services.toml"
    services.write_text(text)
    urls = tmp_path / "urls.json"
    urls.write_text(json.dumps({"ORDER_URL": f"http://127.0.0.1:{ports['order']}",
                                "PAYMENT_URL": f"http://127.0.0.1:{ports['payment']}",
                                "STOCK_URL": f"http://127.0.0.1:{ports['stock']}"}))
    state = ["--data", str(tmp_path / "state")]

    def shopbench(*args):
        proc = subprocess.run([EXE, *args], capture_output=True, text=True, timeout=180, cwd=tmp_path)
        return proc.returncode, proc.stdout, proc.stderr

    (tmp_path / "db").mkdir()
    code, out, err = shopbench("services", "start", "--services-file", str(services), *state)
    assert code == 0, out + err
    try:
        code, out, err = shopbench("consistency", "--urls", str(urls), "--faults", str(EXAMPLES / "kill_config.json"),
                              "--services-file", str(services), "--services-data", str(tmp_path / "state"),
                              "--out", str(tmp_path / "run"), "--json")
        assert code == 0, err[-3000:]
        verdict = json.loads(out)
        assert verdict["valid"] is True
        assert {f["service"] for f in verdict["faults"]} == {"order-service", "stock-service"}
    finally:
        code, out, err = shopbench("services", "stop", "--services-file", str(services), *state)
    assert code == 0, out + err
