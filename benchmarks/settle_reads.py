"""Settling before and after settle.py, on a shop we did not write: settle time and reads per entity.

    .venv/bin/python benchmarks/settle_reads.py [--repeat N] [--concurrency C]

The shop is tests/apps' WDM course shop (plain WSGI, SQLite per service, gunicorn with two sync
workers per service, behind an nginx gateway; needs Debian's nginx). Each run starts it afresh, runs
seed 000's consistency test against it (100 items, 1000 users, 1000 one-item orders, the checkouts
fired by C clients at once), and settles with one rule:

  before  the rule settle.py replaced: every touched entity read again and again until three reads
          over 0.5 s agree (this file's `old_settle_and_read`, as state.py had it), no re-reads
  after   settle.py: a quiet sample, one read of everything, re-reads of what the check blames

Prints, per run, the settle time (the settle phase plus any re-reads; "of which recognise": the time
state.is_reference_shop took, the same under both rules), the settle reads from
ops.jsonl, the entities read, reads per entity beside its target (<= 1.2 after), and the verdict
(the same under both rules). Exit code 0 when every target was met.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))  # run from a checkout without installing
sys.path.insert(0, str(ROOT / "tests" / "apps"))

from gateway_shop import GatewayShop, nginx_binary  # noqa: E402

import shopbench.runner.finish as finish  # noqa: E402
import shopbench.state as state  # noqa: E402
from shopbench.driver import GeventTransport, new_driver  # noqa: E402
from shopbench.history import iter_history  # noqa: E402
from shopbench.runner.consistency import run_consistency  # noqa: E402
from shopbench.settle import QUIET_READS, QUIET_SECONDS, entities  # noqa: E402
from shopbench.state import (  # noqa: E402
    SETTLE_EXTRA_CAP,
    SETTLE_PER_INDETERMINATE,
    SETTLE_PROCESS,
    _snapshot,
    is_reference_shop,
)
from shopbench.target import Target  # noqa: E402
from shopbench.workload.consistency import ConsistencyConfig  # noqa: E402

TARGET_READS_PER_ENTITY = 1.2


def old_settle_and_read(target: Target, touched: Any, *, settle_timeout: float, listener: Any = None,
                        next_id: Any = None, timeout: float = 10.0, concurrency: int = 64,
                        on_pass: Any = None) -> dict[str, Any]:
    """The rule before settle.py, for a shop that is not the reference shop: read everything until
    QUIET_READS reads agree and span QUIET_SECONDS, or the deadline."""
    started = time.monotonic()
    allowed = max(settle_timeout, 0.0) + min(SETTLE_EXTRA_CAP, SETTLE_PER_INDETERMINATE * touched.indeterminate)
    deadline = started + allowed
    transport = GeventTransport(target, timeout=timeout, concurrency=concurrency)
    driver = new_driver(transport, listener, SETTLE_PROCESS, next_id)
    spacing = QUIET_SECONDS / (QUIET_READS - 1)
    state.is_reference_shop(target)  # as it did (only the reference shop is idle-checked: not this one)
    previous: dict[str, Any] | None = None
    reads = equal = 0
    quiet_since = 0.0
    stopped = "deadline"
    try:
        while True:
            reads += 1
            read_start = time.monotonic()
            current = _snapshot(driver, touched, concurrency, None)
            if previous is not None and current == previous:
                equal += 1
            else:
                equal, quiet_since = 1, read_start
            now = time.monotonic()
            if equal >= QUIET_READS and now - quiet_since >= QUIET_SECONDS:
                stopped = "quiet"
                break
            if now >= deadline and reads >= QUIET_READS:
                break
            previous = current
            time.sleep(max(spacing - (now - read_start), 0.0))
    finally:
        transport.close()
    n = len(entities(current))
    current.update(settled=stopped == "quiet", reads=reads, pending=None)
    current["settle"] = {"seconds": round(time.monotonic() - started, 3), "stopped": stopped, "reads": reads,
                         "deadline_s": round(allowed, 3), "indeterminate_ops": touched.indeterminate,
                         "reference_shop": False, "pending": None, "entities": n, "entity_reads": reads * n}
    return current


def no_rereads(target: Target, state: dict[str, Any], touched: Any, judge: Any, **_: Any) -> dict[str, Any]:
    return judge(state)


RECOGNISING: list[float] = []


def timed_recognition(target: Target) -> bool:
    """state.is_reference_shop, timed: both rules ask it, and its cost is not the rule's."""
    started = time.monotonic()
    try:
        return is_reference_shop(target)
    finally:
        RECOGNISING.append(time.monotonic() - started)


def one_run(rule: str, seed: int, concurrency: int) -> dict[str, Any]:
    settle_and_read, confirm = finish.settle_and_read, finish.confirm
    state.is_reference_shop = timed_recognition
    RECOGNISING.clear()
    if rule == "before":
        finish.settle_and_read, finish.confirm = old_settle_and_read, no_rereads
    try:
        with tempfile.TemporaryDirectory() as tmp, GatewayShop(Path(tmp) / "shop") as shop:
            target = Target(order_url=shop.gateway_url, payment_url=shop.gateway_url, stock_url=shop.gateway_url)
            cfg = ConsistencyConfig(seed=seed, concurrency=concurrency)
            result = run_consistency(cfg, target=target, out=str(Path(tmp) / "run"))
            run = result.run
            phases = {p["name"]: p["end"] - p["start"] for p in run.manifest["phases"]}
            settle = result.verdict["settle"]
            reads = sum(1 for op in iter_history(run.file("ops.jsonl")) if op.get("process") == SETTLE_PROCESS)
            n = len(entities(run.read_json("state.json")))
    finally:
        finish.settle_and_read, finish.confirm = settle_and_read, confirm
        state.is_reference_shop = is_reference_shop
    return {"rule": rule, "burst": phases.get("burst", 0.0), "recognise": sum(RECOGNISING),
            "settle": phases.get("settle", 0.0) + (settle.get("reread") or {}).get("seconds", 0.0),
            "reads": reads, "entities": n, "per_entity": reads / n if n else float("nan"),
            "stopped": settle["stopped"], "result": result.verdict["result"],
            "anomalies": result.verdict["anomaly_count"], "info": result.verdict["checkouts"]["info"]}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--concurrency", type=int, default=100,
                        help="checkout clients (nginx's default 512 connections hold 2 per proxied request)")
    args = parser.parse_args()
    if nginx_binary() is None:
        print("nginx is not installed (apt-get install -y nginx): the gateway shop cannot start", file=sys.stderr)
        return 2
    ok = True
    print(f"{'rule':<7} {'burst s':>8} {'settle s':>9} {'of which recognise':>18} {'reads':>6} {'entities':>8} "
          f"{'reads/entity':>12} {'target':>8}  {'stopped':<8} {'verdict':<8} {'anomalies':>9} {'info':>5}")
    for i in range(args.repeat):
        rows = [one_run(rule, seed=i + 1, concurrency=args.concurrency) for rule in ("before", "after")]
        for row in rows:
            target = f"<= {TARGET_READS_PER_ENTITY}" if row["rule"] == "after" else "-"
            met = row["rule"] != "after" or row["per_entity"] <= TARGET_READS_PER_ENTITY
            ok &= met
            print(f"{row['rule']:<7} {row['burst']:>8.2f} {row['settle']:>9.2f} {row['recognise']:>18.2f} "
                  f"{row['reads']:>6} {row['entities']:>8} "
                  f"{row['per_entity']:>12.2f} {target:>8}{'' if met else ' MISSED'}  {row['stopped']:<8} "
                  f"{row['result']:<8} {row['anomalies']:>9} {row['info']:>5}")
        same = rows[0]["result"] == rows[1]["result"] and rows[0]["anomalies"] == rows[1]["anomalies"]
        ok &= same
        print(f"verdict unchanged: {'yes' if same else 'NO'} (target: yes); settle "
              f"{rows[0]['settle']:.2f} s -> {rows[1]['settle']:.2f} s")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
