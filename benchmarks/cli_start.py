"""How long `shopbench --help` and `shopbench consistency --help` take, as a user types them.

Each command runs N times in a fresh interpreter (`python -m shopbench ...`); prints the median and
the best wall time and the median CPU time (user + system: what the machine's other load does not
inflate). Target (issue 15): <= 0.2 s wall on an idle machine.
"""

from __future__ import annotations

import os
import resource
import statistics
import subprocess
import sys
import time

COMMANDS = (["--help"], ["consistency", "--help"], ["--version"])


def measure(args: list[str], n: int) -> tuple[list[float], list[float]]:
    walls, cpus = [], []
    for _ in range(n):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        t = time.perf_counter()
        subprocess.run([sys.executable, "-m", "shopbench", *args], check=True, stdout=subprocess.DEVNULL,
                       env={**os.environ, "COLUMNS": "100"})
        walls.append(time.perf_counter() - t)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpus.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
    return walls, cpus


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 10
    measure(["--version"], 2)  # warm the file cache and the byte-code
    for args in COMMANDS:
        walls, cpus = measure(args, n)
        print(f"shopbench {' '.join(args):<20} wall median {statistics.median(walls):.3f} s, best {min(walls):.3f} s; "
              f"cpu median {statistics.median(cpus):.3f} s  (n={n}, load average {os.getloadavg()[0]:.1f})")


if __name__ == "__main__":
    main()
