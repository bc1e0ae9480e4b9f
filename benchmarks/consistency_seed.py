"""Seed 000's consistency test with its defaults, end to end on the reference shop: wall time per phase.

    .venv/bin/python benchmarks/consistency_seed.py [--edition 2024] [--repeat N]

100 items (stock 1, price 1), 1000 users (credit 1), 1000 one-item orders, all 1000 checkouts at
once (`--edition 2024`: one item with stock 100). The reference shop is started on free ports for
each run and stopped after. Prints each phase's seconds (setup, populate, orders, burst, settle,
verify), the checkout outcomes and the verdict. Exit code 0 when every run was valid.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))  # run from a checkout without installing

from shopbench.runner.consistency import run_consistency  # noqa: E402
from shopbench.workload.consistency import ConsistencyConfig  # noqa: E402

PHASES = ("setup", "populate", "orders", "burst", "settle", "verify")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--edition", choices=("2023", "2024"), default="2023")
    parser.add_argument("--repeat", type=int, default=1)
    args = parser.parse_args()
    ok = True
    print(" ".join(f"{p:>9}" for p in (*PHASES, "total")) + f" {'ok':>5} {'fail':>5} {'info':>5}  valid")
    for i in range(args.repeat):
        cfg = ConsistencyConfig(seed=i + 1)
        if args.edition == "2024":
            cfg.items, cfg.stock = 1, 100
        with tempfile.TemporaryDirectory() as tmp:
            t0 = time.perf_counter()
            result = run_consistency(cfg, out=str(Path(tmp) / "run"))
            total = time.perf_counter() - t0
        secs = {p["name"]: p["end"] - p["start"] for p in result.run.manifest["phases"]}
        co = result.verdict["checkouts"]
        ok &= result.verdict["valid"]
        print(" ".join(f"{secs.get(p, float('nan')):>9.2f}" for p in PHASES) + f" {total:>9.2f}"
              f" {co['ok']:>5} {co['fail']:>5} {co['info']:>5}  {result.verdict['valid']}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
