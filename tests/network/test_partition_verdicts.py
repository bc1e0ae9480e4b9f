"""Verdicts under partitions, on the real reference shop with its links through the fault proxy:
the correct shop stays VALID with order cut from payment in the middle of a burst; the flawed
shops are caught (INVALID) under a partition, not only under a kill."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from shopbench.nemesis import make_backend, parse_fault_plan, read_timeline
from shopbench.nemesis.hooks import FaultHook
from shopbench.runner.consistency import run_consistency
from shopbench.shop import RefShop
from shopbench.workload.consistency import ConsistencyConfig

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]


def partition(after: int, duration: float) -> object:
    return parse_fault_plan({"kill_triggers": [{"type": "checkouts", "threshold": after, "action": "partition",
                                                "links": ["order->payment"], "duration": duration}]})


def run_partitioned(tmp_path: Path, flaw: str | None, credit: int) -> tuple[dict, list[dict], RefShop]:
    # --checkout-timeout 1: a checkout held up by the 2.5 s partition is answered 503 (indeterminate)
    # while its saga waits for payment; that is the moment the no-recovery flaw forgets it.
    with RefShop(tmp_path / "shop", flaw=flaw, links=True, extra_args={"order": ["--checkout-timeout", "1"]}) as shop:
        hook = FaultHook(partition(after=20, duration=2.5), backend=make_backend("local", supervisor=shop.supervisor))
        # 100 users with credit 1 and 200 orders of 1-2 items at price 1: many payments are rejected
        # and their stock must be released (compensated), during the partition and outside it.
        cfg = ConsistencyConfig(items=10, stock=100, users=100, credit=credit, orders=200, concurrency=20, seed=5,
                                settle_timeout=20)
        result = run_consistency(cfg, target=shop.target, out=str(tmp_path / "run"), during_burst=hook)
        links = shop.proxy.state()
    assert all(not link["active"] for link in links.values()), links  # healed before the checks
    return result.verdict, read_timeline(result.run.file("faults.jsonl")), shop


def test_correct_shop_stays_valid_with_order_cut_from_payment_mid_burst(tmp_path: Path) -> None:
    verdict, lines, _ = run_partitioned(tmp_path, None, credit=1)
    assert verdict["result"] == "valid", (verdict["anomalies"][:5], verdict.get("unknown_reasons"))
    fault, heal = lines
    assert (fault["action"], fault["link"], fault["landed"]) == ("partition", "order->payment", True)
    assert heal["action"] == "heal" and heal["healed"] is True
    (window,) = verdict["faults"]
    # The partition was felt: checkouts held up by it were answered indeterminate, not lost.
    assert window["during"]["indeterminate"] > 0, window


@pytest.mark.parametrize("flaw", ["no-recovery", "no-compensation"])
def test_flawed_shops_are_caught_under_a_partition(tmp_path: Path, flaw: str) -> None:
    verdict, lines, _ = run_partitioned(tmp_path, flaw, credit=1 if flaw == "no-compensation" else 5)
    assert verdict["result"] == "invalid", verdict.get("unknown_reasons")
    assert verdict["anomalies"], verdict
    assert lines[0]["landed"] is True


def test_cli_partition_example_on_the_embedded_shop(tmp_path: Path) -> None:
    # No shop given: the runner starts the reference shop with links because the plan has network faults.
    out = tmp_path / "run"
    proc = subprocess.run([sys.executable, "-m", "shopbench", "consistency", "--items", "10", "--stock", "100",
                           "--users", "200", "--orders", "400", "--concurrency", "20", "--seed", "4",
                           "--settle-timeout", "20", "--out", str(out), "--json",
                           "--faults", str(ROOT / "examples" / "partition.json")],
                          capture_output=True, text=True, timeout=240)
    assert proc.returncode == 0, proc.stderr[-3000:]
    verdict = json.loads(proc.stdout)
    assert verdict["result"] == "valid"
    lines = read_timeline(out / "faults.jsonl")
    faults = {(x["action"], x["link"]) for x in lines if x["role"] == "fault"}
    assert faults == {("partition", "order->payment"), ("delay", "order->stock")}, lines
    assert all(x["landed"] for x in lines if x["role"] == "fault"), lines
    assert not (out / "shop" / "links.json").exists()  # the proxy stopped with the shop
