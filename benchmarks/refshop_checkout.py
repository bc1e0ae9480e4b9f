"""Checkout throughput and latency of the reference shop, at rising concurrency.

    .venv/bin/python benchmarks/refshop_checkout.py [--quick] [--levels 8,32,64,128] [--seconds 5]

Starts the three refshop services on free ports (shopbench.shop.RefShop), populates them with
batch_init (plenty of stock and credit, so checkouts mostly succeed), then, for each concurrency
level, keeps that many checkouts in flight for a few seconds (an aiohttp client in this process,
on the same machine) over pre-created orders of two items each, and prints checkouts/s with p50/p99
latency and the ok / fail (4xx) / other (5xx, errors) counts. Then it checks from the final state
that money and stock were conserved and that every 2xx checkout is paid and every 4xx one is not,
and prints PASS if some level sustained >= 300 checkouts/s with p99 <= 250 ms and nothing was
inconsistent. Exit code 0 on PASS, 1 on FAIL.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))  # run from a checkout without installing (the services too:)
os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT / "src"), os.environ.get("PYTHONPATH")) if p)

import aiohttp  # noqa: E402
import orjson  # noqa: E402

from shopbench.shop import RefShop  # noqa: E402

TARGET_RATE, TARGET_P99 = 300.0, 0.250
N_ITEMS, ITEM_STOCK, PRICE = 1000, 1_000_000, 1
N_USERS, CREDIT = 1000, 1_000_000_000


def pct(sorted_values: list[float], p: float) -> float:
    if not sorted_values:
        return float("nan")
    return sorted_values[min(len(sorted_values) - 1, int(p / 100 * len(sorted_values)))]


async def run(levels: list[int], seconds: float, n_orders: int, shop: RefShop) -> bool:
    t = shop.target
    conn = aiohttp.TCPConnector(limit=0, limit_per_host=0, keepalive_timeout=60)
    timeout = aiohttp.ClientTimeout(total=30)
    async with aiohttp.ClientSession(connector=conn, timeout=timeout) as s:
        for url in (f"{t.stock_url}/stock/batch_init/{N_ITEMS}/{ITEM_STOCK}/{PRICE}",
                    f"{t.payment_url}/payment/batch_init/{N_USERS}/{CREDIT}",
                    f"{t.order_url}/orders/batch_init/{n_orders}/{N_ITEMS}/{N_USERS}/{PRICE}"):
            async with s.post(url) as r:
                assert r.status == 200, (url, r.status, await r.text())

        next_order = 0
        outcome: dict[str, int] = {}  # order id -> HTTP status of its checkout (0: error)

        async def checkout(order_id: str) -> tuple[int, float]:
            t0 = time.perf_counter()
            try:
                async with s.post(f"{t.order_url}/orders/checkout/{order_id}") as r:
                    await r.read()
                    status = r.status
            except (TimeoutError, aiohttp.ClientError):
                status = 0
            return status, time.perf_counter() - t0

        async def level(concurrency: int, duration: float) -> dict[str, float]:
            nonlocal next_order
            lat: list[float] = []
            counts = {"ok": 0, "fail": 0, "other": 0}
            stop = time.perf_counter() + duration

            async def worker() -> None:
                nonlocal next_order
                while time.perf_counter() < stop and next_order < n_orders:
                    oid = str(next_order)
                    next_order += 1
                    status, dt = await checkout(oid)
                    outcome[oid] = status
                    lat.append(dt)
                    counts["ok" if 200 <= status < 300 else "fail" if 400 <= status < 500 else "other"] += 1

            t0 = time.perf_counter()
            await asyncio.gather(*(worker() for _ in range(concurrency)))
            elapsed = time.perf_counter() - t0
            lat.sort()
            return {"rate": len(lat) / elapsed, "p50": pct(lat, 50), "p99": pct(lat, 99), **counts}

        await level(8, 1.0)  # warm-up: connections, caches
        print(f"{'concurrency':>11} {'checkouts/s':>11} {'p50 ms':>8} {'p99 ms':>8} {'ok':>7} {'fail':>6} {'other':>6}")
        met = False
        for c in levels:
            r = await level(c, seconds)
            good = r["rate"] >= TARGET_RATE and r["p99"] <= TARGET_P99 and r["other"] == 0
            met = met or good
            print(f"{c:>11} {r['rate']:>11.0f} {r['p50'] * 1000:>8.1f} {r['p99'] * 1000:>8.1f} "
                  f"{r['ok']:>7} {r['fail']:>6} {r['other']:>6}{'  <- meets target' if good else ''}", flush=True)
            if next_order >= n_orders:
                print("(ran out of pre-created orders)")
                break

        # Settle, then verify from the final state.
        for _ in range(100):
            async with s.get(f"{t.order_url}/internal/order/pending") as r:
                if (await r.json())["pending"] == 0:
                    break
            await asyncio.sleep(0.1)
        sem = asyncio.Semaphore(64)

        async def get(url: str) -> dict:
            async with sem, s.get(url) as r:
                assert r.status == 200, (url, r.status)
                return orjson.loads(await r.read())

        orders = await asyncio.gather(*(get(f"{t.order_url}/orders/find/{oid}") for oid in outcome))
        items = await asyncio.gather(*(get(f"{t.stock_url}/stock/find/{i}") for i in range(N_ITEMS)))
        users = await asyncio.gather(*(get(f"{t.payment_url}/payment/find_user/{u}") for u in range(N_USERS)))

    anomalies = []
    sold: dict[str, int] = {}
    spent = 0
    for o in orders:
        status = outcome[o["order_id"]]
        if 200 <= status < 300 and not o["paid"]:
            anomalies.append(f"order {o['order_id']} answered {status} but is not paid")
        if 400 <= status < 500 and o["paid"]:
            anomalies.append(f"order {o['order_id']} answered {status} but is paid")
        if o["paid"]:
            spent += o["total_cost"]
            for item_id, qty in o["items"]:
                sold[item_id] = sold.get(item_id, 0) + qty
    for i, it in enumerate(items):
        if it["stock"] != ITEM_STOCK - sold.get(str(i), 0):
            anomalies.append(f"item {i}: stock {it['stock']}, expected {ITEM_STOCK - sold.get(str(i), 0)}")
    credit = sum(u["credit"] for u in users)
    if credit != N_USERS * CREDIT - spent:
        anomalies.append(f"total credit {credit}, expected {N_USERS * CREDIT - spent}")
    paid = sum(1 for o in orders if o["paid"])
    print(f"final state: {paid} paid orders of {len(orders)} checked out, {spent} money spent, "
          f"{len(anomalies)} anomalies")
    for a in anomalies[:20]:
        print("  ANOMALY", a)
    ok = met and not anomalies
    print(f"{'PASS' if ok else 'FAIL'}: target >= {TARGET_RATE:.0f} checkouts/s with p99 <= {TARGET_P99 * 1000:.0f} ms "
          f"at some level, zero anomalies")
    return ok


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="levels 8,32,64 for 2 s each")
    ap.add_argument("--levels", help="comma-separated concurrency levels (default 8,32,64,128)")
    ap.add_argument("--seconds", type=float, help="seconds per level (default 5)")
    ap.add_argument("--flaw", help="run the shop with a flaw (the verification should then FAIL)")
    args = ap.parse_args()
    levels = [int(x) for x in (args.levels or ("8,32,64" if args.quick else "8,32,64,128")).split(",")]
    seconds = args.seconds or (2.0 if args.quick else 5.0)
    n_orders = int(len(levels) * seconds * 5000) + 5000
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    with tempfile.TemporaryDirectory(prefix="refshop-bench-") as tmp, RefShop(tmp, flaw=args.flaw) as shop:
        print(f"refshop on {shop.target.order_url} (order), {shop.target.stock_url} (stock), "
              f"{shop.target.payment_url} (payment); {seconds:g} s per level", flush=True)
        ok = asyncio.run(run(levels, seconds, n_orders, shop))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
