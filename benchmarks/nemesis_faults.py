"""How fast the nemesis acts on the reference shop: trigger-to-signal delay, kill and restore times.

    .venv/bin/python benchmarks/nemesis_faults.py [ROUNDS]

Prints figures; asserts nothing (speed targets live here, not in tests).
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time

from shopbench.nemesis import Nemesis, make_backend, parse_fault_plan
from shopbench.shop import RefShop


def main(rounds: int = 5) -> None:
    with RefShop(tempfile.mkdtemp(prefix="nemesis-bench-")) as shop:
        backend = make_backend("local", supervisor=shop.supervisor)
        figures: dict[str, list[float]] = {"fire delay ms": [], "kill ms": [], "restart-to-healthy ms": [],
                                           "pause ms": [], "resume ms": []}
        for _ in range(rounds):
            plan = parse_fault_plan({"kill_triggers": [
                {"type": "time", "threshold": 0.2, "services": ["stock"], "recovery_time": 0.1},
                {"type": "time", "threshold": 0.2, "services": ["payment"], "action": "pause", "duration": 0.1},
            ]}, backend=backend)
            with Nemesis(plan, backend) as nem:
                deadline = time.monotonic() + 10
                while len(nem.entries) < 4 and time.monotonic() < deadline:
                    time.sleep(0.01)
                started_wall = time.time() - nem.elapsed()
            for e in nem.entries:
                ms = (e["end"] - e["start"]) * 1000
                if e["role"] == "fault":
                    figures["fire delay ms"].append((e["start"] - started_wall - 0.2) * 1000)
                    figures["kill ms" if e["action"] == "kill" else "pause ms"].append(ms)
                else:
                    figures["restart-to-healthy ms" if e["action"] == "start" else "resume ms"].append(ms)
        for name, values in figures.items():
            print(f"{name:>24}: median {statistics.median(values):7.1f}  max {max(values):7.1f}  (n={len(values)})")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 5)
