"""`--driver`: a user's RestDriver subclass is used everywhere shopbench talks to the shop, in this
process and in the processes it starts (Locust), and bad specs are one clear usage error."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from shopbench.cli.app import main
from shopbench.driver import DRIVER_ENV

ROOT = Path(__file__).resolve().parents[2]
SPEC = f"{ROOT / 'examples' / 'wdm2023_driver.py'}:Wdm2023Driver"


@pytest.fixture(autouse=True)
def _no_driver_leaks(monkeypatch):
    monkeypatch.setenv(DRIVER_ENV, "")  # use_driver sets it: set first, so that teardown removes it
    monkeypatch.delenv(DRIVER_ENV)


def add_items(run: Path) -> list[dict]:
    ops = [json.loads(line) for line in (run / "ops.jsonl").read_text().splitlines() if line.strip()]
    return [o for o in ops if o["f"] == "add_item"]


@pytest.mark.slow
def test_consistency_runs_on_the_users_driver(tmp_path, capsys):
    out = tmp_path / "run"
    code = main(["consistency", "--items", "5", "--users", "40", "--orders", "40", "--items-per-order", "2",
                 "--concurrency", "10", "--driver", SPEC, "--out", str(out)])
    assert code == 0, capsys.readouterr().err[-2000:]
    items = add_items(out)
    assert len(items) == 80 and all(o["args"]["api"] == "wdm2023" for o in items)


@pytest.mark.slow
def test_stress_workers_inherit_the_driver(tmp_path):
    out = tmp_path / "run"
    exe = str(Path(sys.executable).parent / "shopbench")
    from shopbench.processes import free_port

    port = str(free_port())  # Locust's master on a port of its own: another run's workers must not join it
    proc = subprocess.run([exe, "stress", "--headless", "-u", "3", "-r", "3", "-t", "5s", "--wait", "0-0.05",
                           "--processes", "2", "--driver", SPEC, "--out", str(out),
                           "--master-bind-port", port, "--master-port", port],
                          capture_output=True, text=True, timeout=180, env={**os.environ})
    assert proc.returncode == 0, proc.stderr[-3000:]
    items = add_items(out)
    assert items and all(o["args"].get("api") == "wdm2023" for o in items)
    # 5 s, not 3: on a loaded machine a worker can take seconds to start its first user
    assert {o["process"].split("-")[0] for o in items} == {"w0", "w1"}


@pytest.mark.parametrize(("spec", "fragment"), [
    ("nocolon", "give module:Class"),
    ("no.such.module:Driver", "importing no.such.module failed"),
    ("shopbench.target:Target", "must be a subclass of shopbench.driver.RestDriver"),
    ("missing.py:Driver", "no such file"),
])
def test_a_bad_driver_spec_is_a_usage_error(tmp_path, capsys, spec, fragment):
    assert main(["consistency", "--driver", spec, "--out", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err
    assert fragment in err and "Traceback" not in err
    assert not (tmp_path / "r").exists()
