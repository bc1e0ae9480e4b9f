"""`shopbench shop up|status|down` as a user types them: the shop outlives the command that started it."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from shopbench.processes import health_ok
from shopbench.target import Target

pytestmark = pytest.mark.slow
EXE = str(Path(sys.executable).parent / "shopbench")


def shopbench(*args):
    proc = subprocess.run([EXE, *args], capture_output=True, text=True, timeout=120)
    return proc.returncode, proc.stdout + proc.stderr


def test_up_status_down(tmp_path):
    data = tmp_path / "shop"
    code, out = shopbench("shop", "up", "--data", str(data), "--flaw", "no-compensation")
    try:
        assert code == 0, out
        assert "with flaw no-compensation" in out
        target = Target.load(data / "urls.json")
        for url in (target.order_url, target.stock_url, target.payment_url):
            assert url in out and health_ok(url + "/health")
        code, out = shopbench("shop", "up", "--data", str(data))
        assert code == 2 and "already up" in " ".join(out.split())  # Rich wraps long paths
        code, out = shopbench("shop", "status", "--data", str(data))
        assert code == 0 and out.count("running") == 3
        pids = [json.loads((data / "services" / f"{n}.json").read_text())["pid"] for n in ("order", "stock", "payment")]
    finally:
        code, out = shopbench("shop", "down", "--data", str(data))
    assert code == 0 and "down" in out
    assert not health_ok(target.order_url + "/health")
    for pid in pids:
        assert not Path(f"/proc/{pid}").exists() or "Z" in Path(f"/proc/{pid}/stat").read_text().split()[2]
    code, out = shopbench("shop", "status", "--data", str(data))
    assert out.count("stopped") == 3


def test_status_of_nothing_is_a_clear_usage_error(tmp_path):
    code, out = shopbench("shop", "status", "--data", str(tmp_path / "none"))
    assert code == 2 and "no reference shop was started" in out and "Traceback" not in out


def test_unknown_flaw_is_a_usage_error(tmp_path):
    code, out = shopbench("shop", "up", "--data", str(tmp_path / "s"), "--flaw", "typo")
    assert code == 2 and "lost-update" in out
