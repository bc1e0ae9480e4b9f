"""What Locust itself shows: its error table groups causes (ids stay in the history, out of the
message), and `stress --json` prints the verdict on stdout."""

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
LOCUSTFILE = """
import random
from locust import constant, task
from shopbench import ShopUser

class Wrong(ShopUser):
    wait_time = constant(0.01)

    @task
    def read_missing(self):
        # Every call names another entity, and the workload (wrongly) expects it to exist.
        self.driver.find_item(f"missing-{random.randint(1, 10**9)}", expect="ok")
        self.driver.add_funds(f"u{random.randint(1, 10**9)}x", 5, expect="ok")
"""


def test_errors_group_into_few_rows_and_json_prints_the_verdict(tmp_path):
    locustfile = tmp_path / "wrong.py"
    locustfile.write_text(LOCUSTFILE)
    out = tmp_path / "run"
    proc = subprocess.run([str(Path(sys.executable).parent / "shopbench"), "stress", "--headless", "--json",
                           "-f", str(locustfile), "-u", "3", "-r", "3", "-t", "3s", "--out", str(out)],
                          cwd=ROOT, capture_output=True, text=True, timeout=180,
                          env={**os.environ, "PYTHONUNBUFFERED": "1"})
    verdict = json.loads(proc.stdout)  # stdout is the verdict and nothing else
    assert verdict == json.loads((out / "verdict.json").read_text())
    assert proc.returncode in (0, 1, 4), proc.stderr[-3000:]
    with open(out / "locust_failures.csv") as f:
        rows = list(csv.DictReader(f))
    occurrences = sum(int(r["Occurrences"]) for r in rows)
    assert occurrences >= 20, rows
    assert len(rows) <= 2, [(r["Name"], r["Error"]) for r in rows]  # one row per operation and cause
    assert {r["Name"] for r in rows} == {"find_item", "add_funds"}
    ops = [json.loads(line) for line in (out / "ops.jsonl").read_text().splitlines()]
    missing = {o["args"]["item_id"] for o in ops if o["f"] == "find_item"}
    assert len(missing) > 10  # the ids are in the history
    assert not any(i in r["Error"] for r in rows for i in missing)
