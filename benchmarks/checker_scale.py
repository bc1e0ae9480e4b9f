"""The ledger checker on generated histories of 100 k and 1 M operations: time and peak memory.

    .venv/bin/python benchmarks/checker_scale.py [--sizes 100000,1000000] [--quick] [--ten-million]
                                                 [--keep DIR]

For each size it writes a history of a correct shop (batch population, then orders of one or two
items checked out, some checkouts indeterminate, some repeated, some add_funds) to `ops.jsonl`
and its final state to `state.json` in a temporary directory (with `--keep DIR`, in DIR/<ops>,
reused by the next run: the 10 M history takes about 4 minutes to generate and 2.3 GB of disk),
then checks it in a fresh child process (so peak RSS is the checker's own): load the state
(`state_file.load_state`: msgspec decodes it straight into compact records), stream the history
with `iter_history`, `check`. Prints wall time, CPU time (on a shared machine, the figure that
does not depend on the load), the load average while it ran, peak RSS and the rate; target at
1 M: <= 10 s and <= 1 GiB; with `--ten-million` also 10 M: <= 60 s and <= 2 GiB (opt-in:
generating it takes minutes), time growing no faster than linearly. Each figure is printed beside
its target. Exit code 0 when every target holds and every generated history was judged valid,
1 otherwise.

Measured 2026-12-02 on the shared 2-core machine (docs/verdicts.md#checker-scale has the table):
1 M operations 3.5-4.3 s CPU; 10 M ~50 s CPU, 1.45 GiB, 55.6-56.5 s wall at load 2.4-3.2 (a
heavier load from other tenants pushes the wall time past 60 s: 64-67 s was seen at load 3).
"""

from __future__ import annotations

import argparse
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))  # run from a checkout without installing

import orjson  # noqa: E402

TARGETS = {1_000_000: (10.0, 1 << 30), 10_000_000: (60.0, 2 << 30)}  # ops -> (seconds, peak bytes)


def generate(n_ops: int, directory: Path, seed: int = 1) -> None:
    rng = random.Random(seed)
    n_items, n_users = max(10, n_ops // 100), max(10, n_ops // 10)
    stock = [50] * n_items
    credit = [20] * n_users
    orders: dict[str, list] = {}  # id -> [user, [[item, qty]], cost, paid]
    lines: list[bytes] = []
    op_id = 0

    def emit(f: str, args: dict, kind: str, value=None, process: str = "burst-0") -> None:
        nonlocal op_id
        lines.append(orjson.dumps({"id": op_id, "process": process, "f": f, "args": args, "expect": None,
                                   "type": kind, "status": {"ok": 200, "fail": 400}.get(kind), "value": value,
                                   "error": None, "wall": 0.0, "t0": 0.0, "t1": 0.0, "intended": None,
                                   "scenario": None}))
        op_id += 1

    emit("batch_init_stock", {"n": n_items, "starting_stock": 50, "item_price": 1}, "ok", {"msg": "ok"}, "populate")
    emit("batch_init_users", {"n": n_users, "starting_money": 20}, "ok", {"msg": "ok"}, "populate")
    order_ids: list[str] = []
    with open(directory / "ops.jsonl", "wb") as out:
        while op_id < n_ops:
            r = rng.random()
            if r < 0.3 or not order_ids:
                oid = f"o{len(orders)}"
                user = rng.randrange(n_users)
                emit("create_order", {"user_id": str(user)}, "ok", {"order_id": oid})
                items = [[str(rng.randrange(n_items)), 1] for _ in range(rng.randint(1, 2))]
                for item, qty in items:
                    emit("add_item", {"order_id": oid, "item_id": item, "quantity": qty}, "ok", {"msg": "ok"})
                orders[oid] = [user, items, len(items), False]
                order_ids.append(oid)
            elif r < 0.9:
                oid = rng.choice(order_ids)
                user, items, cost, paid = orders[oid]
                can = not paid and credit[user] >= cost and all(stock[int(i)] >= q for i, q in items)
                applied = can and rng.random() < 0.95
                if applied:
                    credit[user] -= cost
                    for i, q in items:
                        stock[int(i)] -= q
                    orders[oid][3] = True
                kind = "info" if rng.random() < 0.05 else ("ok" if applied else "fail")
                emit("checkout", {"order_id": oid}, kind, {"paid": True} if kind == "ok" else None)
            else:
                user = rng.randrange(n_users)
                credit[user] += 3
                emit("add_funds", {"user_id": str(user), "amount": 3}, "ok")
            if len(lines) >= 65536:
                out.write(b"\n".join(lines) + b"\n")
                lines.clear()
        out.write(b"\n".join(lines) + b"\n")
    state = {
        "items": {str(i): {"stock": s, "price": 1} for i, s in enumerate(stock)},
        "users": {str(u): {"credit": c} for u, c in enumerate(credit)},
        "orders": {oid: {"paid": o[3], "items": o[1], "user_id": str(o[0]), "total_cost": o[2]}
                   for oid, o in orders.items()},
        "unreadable": {"items": {}, "users": {}, "orders": {}}, "settled": True, "reads": 2,
    }
    (directory / "state.json").write_bytes(orjson.dumps(state))


def _peak_rss() -> int:
    """This process's own peak (VmHWM; ru_maxrss would carry the parent's peak across exec)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def measure(directory: Path) -> None:
    """Child process: check the history, print one JSON line of figures."""
    from shopbench.checker.ledger import check
    from shopbench.history import iter_history
    from shopbench.state_file import load_state

    t0, c0 = time.perf_counter(), time.process_time()
    state = load_state(directory / "state.json")
    loaded = time.perf_counter()
    verdict = check(iter_history(directory / "ops.jsonl"), state)
    seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
    peak = _peak_rss()
    print(orjson.dumps({"seconds": seconds, "cpu": cpu, "state_load": loaded - t0, "peak": peak,
                        "ops": verdict["counts"]["ops"],
                        "orders": verdict["counts"]["orders_read"], "valid": verdict["valid"],
                        "anomalies": verdict["anomaly_count"]}).decode())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100000,1000000")
    parser.add_argument("--quick", action="store_true", help="10 k and 100 k only")
    parser.add_argument("--ten-million", action="store_true",
                        help="add the 10 M point (goal <= 60 s, <= 2 GiB; generating it takes minutes)")
    parser.add_argument("--keep", type=Path, metavar="DIR",
                        help="keep each generated history in DIR/<ops> and reuse it on the next run (the 10 M "
                             "one takes minutes to generate and 2.3 GB of disk)")
    parser.add_argument("--measure", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        measure(args.measure)
        return 0
    sizes = [10_000, 100_000] if args.quick else [int(s) for s in args.sizes.split(",")]
    if args.ten_million and 10_000_000 not in sizes:
        sizes.append(10_000_000)
    ok = True
    rows = []
    print(f"{'ops':>10} {'orders':>8} {'gen s':>7} {'total s':>8} {'cpu s':>7} {'state s':>8} {'peak MiB':>9} "
          f"{'ops/s':>10} {'valid':>6} {'load avg':>10}")
    for n in sizes:
        with tempfile.TemporaryDirectory() as tmp:
            d = Path(tmp) if args.keep is None else args.keep / str(n)
            t0 = time.perf_counter()
            if not (d / "state.json").exists():  # written last: a history cut short by ^C is generated again
                d.mkdir(parents=True, exist_ok=True)
                generate(n, d)
            gen = time.perf_counter() - t0
            load_before = os.getloadavg()[0]
            res = subprocess.run([sys.executable, __file__, "--measure", str(d)], capture_output=True, text=True,
                                 check=True)
            fig = orjson.loads(res.stdout.strip().splitlines()[-1])
            fig["load"] = (load_before, os.getloadavg()[0])
        rows.append((n, fig))
        ok &= fig["valid"]
        print(f"{fig['ops']:>10} {fig['orders']:>8} {gen:>7.1f} {fig['seconds']:>8.2f} {fig['cpu']:>7.2f} "
              f"{fig['state_load']:>8.2f} "
              f"{fig['peak'] / 2**20:>9.0f} "
              f"{fig['ops'] / fig['seconds']:>10.0f} {str(fig['valid']):>6} "
              f"{fig['load'][0]:>4.1f}-{fig['load'][1]:<4.1f}")
    for (n0, a), (n1, b) in zip(rows, rows[1:], strict=False):
        print(f"growth x{n1 / n0:.0f} ops ({n0:,} -> {n1:,}) -> time x{b['seconds'] / a['seconds']:.1f}, "
              f"peak memory x{b['peak'] / a['peak']:.1f}")
    for n, fig in rows:
        limit = next((TARGETS[size] for size in sorted(TARGETS, reverse=True) if n >= size), None)
        if limit is None:
            continue
        seconds, peak = limit
        passed = fig["seconds"] <= seconds and fig["peak"] <= peak
        ok &= passed
        print(f"target at {n:,} ops: {fig['seconds']:.1f} s (target <= {seconds:.0f} s; {fig['cpu']:.1f} s CPU, "
              f"load average {fig['load'][0]:.1f}-{fig['load'][1]:.1f}), {fig['peak'] / 2**30:.2f} GiB "
              f"(target <= {peak / 2**30:.0f} GiB): {'PASS' if passed else 'FAIL'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
