"""`shopbench consistency` against the script a course team writes for seed 000, on the same shop.

    .venv/bin/python benchmarks/consistency_vs_script.py [--pairs 5]

The script (`--script URLS_JSON`, below) is what seed 000's consistency test does, written plainly
with aiohttp: populate 100 items (stock 1) and 1,000 users (credit 1) with batch_init, create 1,000
one-item orders, fire the 1,000 checkouts at once through one `aiohttp.ClientSession` with its
default connector (at most 100 connections), read every item and user back and count the
inconsistencies. shopbench runs the same shape (`shopbench consistency --urls ... --seed N`) and
does more: it records every operation, settles, reads every order back, checks the ledger, writes a
run directory and its report.

The third side, `--read-orders`, is the same script that also reads the 1,000 orders back, which
invariant 4 of docs/shop-api.md needs ("a checkout answered 2xx is paid, one answered 4xx is not") and
shopbench always checks: on the reference shop the order service is the busiest process, so these
reads are the part of shopbench's extra time that no client can remove without dropping the check.

One reference shop is started on free ports and serves every run. Each round runs the three back to
back, rotating which goes first; each starts a fresh interpreter, as a user would. Printed: the
median wall time of each and the ratios, at equal concurrency (`--concurrency 100`, the script's
connection limit) and at shopbench's default (1,000 clients). Targets (issue 15): <= 1.0x and
<= 1.3x against the plain script.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

ITEMS, STOCK, PRICE, USERS, CREDIT, ORDERS = 100, 1, 1, 1000, 1, 1000


# -- the script, as a course team writes it --------------------------------------------------------

async def script(urls: dict[str, str], read_orders: bool = False) -> dict[str, int]:
    """Seed 000's test; `read_orders` adds the read-back that invariant 4 needs (docs/shop-api.md: a
    checkout answered 2xx is paid, one answered 4xx is not), which shopbench always does."""
    import aiohttp

    order, stock, payment = urls["ORDER_URL"], urls["STOCK_URL"], urls["PAYMENT_URL"]
    async with aiohttp.ClientSession() as session:  # default connector: at most 100 connections
        async with session.post(f"{stock}/stock/batch_init/{ITEMS}/{STOCK}/{PRICE}") as r:
            assert r.status == 200
        async with session.post(f"{payment}/payment/batch_init/{USERS}/{CREDIT}") as r:
            assert r.status == 200

        async def create_order(user_id: int, item_id: int) -> str:
            async with session.post(f"{order}/orders/create/{user_id}") as r:
                order_id = (await r.json())["order_id"]
            async with session.post(f"{order}/orders/addItem/{order_id}/{item_id}/1") as r:
                assert r.status == 200
            return order_id

        rng = random.Random(1)
        order_ids = await asyncio.gather(*[create_order(rng.randrange(USERS), rng.randrange(ITEMS))
                                           for _ in range(ORDERS)])

        async def checkout(order_id: str) -> int:
            async with session.post(f"{order}/orders/checkout/{order_id}") as r:
                await r.read()
                return r.status

        statuses = await asyncio.gather(*[checkout(o) for o in order_ids])

        async def get(url: str) -> dict:
            async with session.get(url) as r:
                return await r.json()

        items = await asyncio.gather(*[get(f"{stock}/stock/find/{i}") for i in range(ITEMS)])
        users = await asyncio.gather(*[get(f"{payment}/payment/find_user/{u}") for u in range(USERS)])
        orders = await asyncio.gather(*[get(f"{order}/orders/find/{o}") for o in order_ids]) if read_orders else []
    paid = sum(1 for s in statuses if 200 <= s < 300)
    sold = ITEMS * STOCK - sum(i["stock"] for i in items)
    spent = USERS * CREDIT - sum(u["credit"] for u in users)
    out = {"paid": paid, "stock_inconsistencies": abs(sold - paid), "payment_inconsistencies": abs(spent - paid)}
    if read_orders:
        out["acknowledged_not_durable"] = sum(1 for s, o in zip(statuses, orders, strict=True)
                                              if (200 <= s < 300) != bool(o["paid"]) and s < 500)
    return out


# -- the comparison ----------------------------------------------------------------------------------

def timed(cmd: list[str], env: dict[str, str]) -> float:
    t = time.perf_counter()
    done = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=ROOT)
    took = time.perf_counter() - t
    if done.returncode != 0:
        sys.exit(f"{' '.join(cmd)} exited {done.returncode}:\n{done.stderr[-3000:]}")
    return took


def compare(urls_file: Path, tmp: Path, pairs: int, concurrency: int | None, env: dict[str, str]) -> dict:
    """Rounds of (script, script with the order read-back, shopbench), the order rotating each round."""
    flags = [] if concurrency is None else ["--concurrency", str(concurrency)]
    times: dict[str, list[float]] = {"script": [], "script+orders": [], "shopbench": []}
    for i in range(pairs):
        cmds = {"script": [sys.executable, __file__, "--script", str(urls_file)],
                "script+orders": [sys.executable, __file__, "--script", str(urls_file), "--read-orders"],
                "shopbench": [sys.executable, "-m", "shopbench", "consistency", "--urls", str(urls_file),
                              "--seed", str(i + 1), "--out", str(tmp / f"run-{concurrency}-{i}"), *flags]}
        names = list(cmds)
        for name in names[i % 3:] + names[:i % 3]:
            times[name].append(timed(cmds[name], env))
    phases = json.loads((tmp / f"run-{concurrency}-{pairs - 1}" / "run.json").read_text())["phases"]
    medians = {name: statistics.median(t) for name, t in times.items()}
    return {**medians, "ratio": medians["shopbench"] / medians["script"],
            "ratio_same_checks": medians["shopbench"] / medians["script+orders"],
            "phases": {p["name"]: round(p["end"] - p["start"], 3) for p in phases}}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=5)
    parser.add_argument("--script", metavar="URLS_JSON", help=argparse.SUPPRESS)
    parser.add_argument("--read-orders", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.script:
        print(json.dumps(asyncio.run(script(json.loads(Path(args.script).read_text()), args.read_orders))))
        return 0
    # Both sides run from bytecode, as after `pip install` (PYTHONDONTWRITEBYTECODE would otherwise
    # leave shopbench compiling its own modules on every start while aiohttp's are compiled).
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(ROOT / "src")], check=True, capture_output=True)

    sys.path.insert(0, str(ROOT / "src"))
    from shopbench.shop import RefShop

    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), os.environ.get("PYTHONPATH", "")])}
    with tempfile.TemporaryDirectory() as tmp_, RefShop(Path(tmp_) / "shop") as shop:
        tmp = Path(tmp_)
        urls_file = tmp / "urls.json"
        urls_file.write_text(json.dumps(shop.target.to_urls_json()))
        print(f"reference shop at {shop.target.order_url}; {args.pairs} alternating pairs per setting; "
              f"load average {os.getloadavg()[0]:.1f}")
        for label, concurrency, goal in (("equal concurrency (--concurrency 100)", 100, 1.0),
                                         ("shopbench's default (1,000 clients)", None, 1.3)):
            r = compare(urls_file, tmp, args.pairs, concurrency, env)
            print(f"{label}: script {r['script']:.2f} s, shopbench {r['shopbench']:.2f} s, "
                  f"ratio {r['ratio']:.2f}x (target <= {goal}x); against the script that also reads the orders "
                  f"back ({r['script+orders']:.2f} s, invariant 4): {r['ratio_same_checks']:.2f}x")
            print(f"  shopbench's phases (last run): {r['phases']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
