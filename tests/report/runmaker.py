"""Real run directories for report tests: the reference shop exercised through the driver.

The history is real (driver + HistoryWriter against live services, a real pause of the stock
service mid-burst); faults.jsonl and verdict.json are written by hand in the formats the
runners and the nemesis promise, so the report is tested before (and independently of) them.
"""

from __future__ import annotations

import random
import time
from pathlib import Path
from typing import Any

import gevent
import gevent.pool
import orjson
import psutil

from shopbench.checker.recovery import recovery
from shopbench.driver import connect
from shopbench.history import HistoryWriter, read_history
from shopbench.rundir import FAULTS, OPS, VERDICT, RunDir
from shopbench.shop import RefShop


def make_run(out: Path, shop: RefShop, *, invalid: bool = False, pause: float = 0.6, items: int = 10,
             users: int = 40, orders: int = 150, seed: int = 1) -> Path:
    rng = random.Random(seed)
    config = {"items": items, "stock": 2, "price": 1, "users": users, "credit": 3, "orders": orders,
              "target": shop.target.to_urls_json()}
    run = RunDir.create("consistency", out, config=config)
    writer = HistoryWriter(run.file(OPS))
    faults: list[dict[str, Any]] = []
    resources: list[dict[str, Any]] = []
    with run.phase("populate"):
        admin = connect(shop.target, writer, process="populate")
        admin.batch_init_stock(items, 2, 1)
        admin.batch_init_users(users, 3)
        order_ids = []
        for _ in range(orders):
            created = admin.create_order(str(rng.randrange(users)))
            order_ids.append(created.data["order_id"])
            admin.add_item(order_ids[-1], str(rng.randrange(items)))
        admin.add_funds("0", 5)
        admin.subtract_stock("0", 10_000, expect="fail")  # an error probe: a 4xx is the right answer
    with run.phase("burst"):
        # A short client timeout so the pause turns some checkouts indeterminate.
        workers = [connect(shop.target, writer, timeout=0.3, process=f"w{i}") for i in range(8)]
        pool = gevent.pool.Pool(32)

        def nemesis() -> None:
            gevent.sleep(0.15)
            # The nemesis's own format: one line per action, the fault and the recover that undid it.
            trigger = {"index": 0, "type": "time", "threshold": 0.15, "value": 0.15}
            start = time.time()
            pid = shop.pause("stock")
            faults.append({"fault": 0, "trigger": trigger, "service": "stock", "target": f"pid {pid}",
                           "action": "pause", "role": "fault", "start": start, "end": time.time(), "result": "ok"})
            gevent.sleep(pause)
            start = time.time()
            shop.resume("stock")
            faults.append({"fault": 0, "trigger": trigger, "service": "stock", "target": f"pid {pid}",
                           "action": "resume", "role": "recover", "reason": "duration", "start": start,
                           "end": time.time(), "result": "ok"})

        fault = gevent.spawn(nemesis)
        sampling = gevent.spawn(sample_resources, shop, resources)
        for i, order_id in enumerate(order_ids):
            pool.spawn(workers[i % len(workers)].checkout, order_id)
            if i % 10 == 9:
                gevent.sleep(0.02)
        pool.join(timeout=30)
        fault.join(timeout=10)
        sampling.kill()
    with run.phase("settle"):
        reader = connect(shop.target, writer, process="settle")
        for i in range(items):
            reader.find_item(str(i))
        for i in range(users):
            reader.find_user(str(i))
    writer.close()

    with open(run.file(FAULTS), "wb") as f:
        for entry in faults:
            f.write(orjson.dumps(entry) + b"\n")
    with open(run.file("resources.jsonl"), "wb") as f:
        for entry in resources:
            f.write(orjson.dumps(entry) + b"\n")
    run.write_json(VERDICT, verdict(run.file(OPS), invalid, faults))
    run.finish("invalid" if invalid else "valid", 1 if invalid else 0)
    return run.path


def sample_resources(shop: RefShop, out: list[dict[str, Any]], every: float = 0.1) -> None:
    """Real samples of the services and of this process, in the resources.jsonl format (docs/formats.md)."""
    procs: dict[int, psutil.Process] = {}
    while True:
        now = time.time()
        for kind, name, pid in [("service", s, shop.supervisor.pid(s)) for s in ("order", "stock", "payment")] + [
                ("generator", "main", psutil.Process().pid)]:
            line = {"wall": now, "kind": kind, "name": name, "backend": "local" if kind == "service" else "self",
                    "pid": pid, "container": None, "up": pid is not None}
            try:
                proc = procs.setdefault(pid, psutil.Process(pid))
                first = proc.cpu_percent() if pid is not None else None
                line.update(procs=1, cpu=first, rss=proc.memory_info().rss, fds=proc.num_fds(),
                            threads=proc.num_threads(), conns=None)
            except (psutil.Error, ValueError) as exc:
                line.update(up=False, procs=None, cpu=None, rss=None, fds=None, threads=None, conns=None,
                            error=str(exc) or "not running")
            out.append(line)
        gevent.sleep(every)


def verdict(ops_path: Path, invalid: bool, faults: list[dict[str, Any]]) -> dict[str, Any]:
    counts = {"ok": 0, "fail": 0, "info": 0}
    for line in ops_path.read_bytes().splitlines():
        op = orjson.loads(line)
        if op["f"] == "checkout":
            counts[op["type"]] += 1
    anomalies = []
    if invalid:
        anomalies = [
            {"type": "acknowledged-lost", "message": "checkout of order 17 was answered 200 but the order is not paid",
             "order_id": "17", "status": 200},
            {"type": "money-created", "message": "total credit is 3 more than money in minus paid orders",
             "expected": 118, "actual": 121},
            {"type": "stock-drift", "message": "item 4 has stock 1, expected 0 (<script>alert(1)</script>)",
             "item_id": "4", "expected": 0, "actual": 1},
        ]
    return {
        "valid": not invalid,
        "anomaly_count": len(anomalies),
        "anomalies": anomalies,
        "checkouts": {**counts, "info_resolved_paid": counts["info"] // 2,
                      "info_resolved_unpaid": counts["info"] - counts["info"] // 2, "info_unresolved": 0},
        "seed_metrics": {"stock_log": 2 if invalid else 0, "stock_db": 1 if invalid else 0,
                         "payment_log": 0, "payment_db": 3 if invalid else 0},
        "slo": [{"expr": "checkout:p95<500ms", "measured": 42.5, "ok": True},
                {"expr": "error_rate<1%", "measured": 4.2, "ok": not invalid}],
        "faults": recovery(read_history(ops_path), faults, baseline=0.2, bucket=0.1),
    }
