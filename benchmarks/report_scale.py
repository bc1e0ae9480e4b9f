"""Report building on large generated histories: wall time and peak memory at 100 k and 1 M operations.

Prints figures; asserts nothing about speed (targets: 1 M operations in well under a minute).
Each size runs in a fresh child process so its peak memory is its own.
"""

from __future__ import annotations

import json
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import orjson

OPS = ("checkout", "add_item", "create_order", "find_item", "find_user", "add_funds")


def generate(run_dir: Path, n: int, seconds: float = 600.0) -> None:
    rng = random.Random(n)
    start = 1_700_000_000.0
    run_dir.mkdir(parents=True)
    (run_dir / "run.json").write_text(json.dumps({"run_id": run_dir.name, "kind": "stress", "started": start,
                                                  "ended": start + seconds + 5, "config": {}, "phases": []}))
    with open(run_dir / "ops.jsonl", "wb") as f:
        batch = []
        for i in range(n):
            wall = start + seconds * i / n
            latency = rng.lognormvariate(-4.5, 0.8)
            kind = "ok" if rng.random() < 0.9 else ("fail" if rng.random() < 0.8 else "info")
            batch.append(orjson.dumps({
                "id": i, "process": f"u{i % 500}", "f": OPS[i % len(OPS)], "args": {"order_id": str(i)},
                "expect": None, "type": kind, "status": 200 if kind == "ok" else 400, "value": None, "error": None,
                "wall": wall, "t0": wall - start, "t1": wall - start + latency, "intended": None, "scenario": None}))
            if len(batch) == 10_000:
                f.write(b"\n".join(batch) + b"\n")
                batch.clear()
        if batch:
            f.write(b"\n".join(batch) + b"\n")
    faults = [{"fault": 0, "service": "stock", "action": "kill", "role": "fault", "start": start + 200,
               "end": start + 200, "result": "ok", "trigger": {"type": "time", "threshold": 200}},
              {"fault": 0, "service": "stock", "action": "start", "role": "recover", "start": start + 230,
               "end": start + 231, "result": "ok", "reason": "recovery_time"}]
    (run_dir / "faults.jsonl").write_text("".join(json.dumps(x) + "\n" for x in faults))
    (run_dir / "verdict.json").write_text(json.dumps({"valid": True, "anomaly_count": 0, "anomalies": []}))


def measure(run_dir: str) -> None:
    from shopbench.report.html import build_report

    t = time.perf_counter()
    out = build_report(run_dir)
    took = time.perf_counter() - t
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    size = round(out.stat().st_size / 2**20, 1)
    print(json.dumps({"seconds": round(took, 2), "peak_mib": round(peak), "report_mib": size}))


def main() -> None:
    if len(sys.argv) == 3 and sys.argv[1] == "--measure":
        measure(sys.argv[2])
        return
    sizes = [int(a) for a in sys.argv[1:]] or [100_000, 1_000_000]
    with tempfile.TemporaryDirectory() as tmp:
        for n in sizes:
            run_dir = Path(tmp) / f"run-{n}"
            t = time.perf_counter()
            generate(run_dir, n)
            gen = time.perf_counter() - t
            done = subprocess.run([sys.executable, __file__, "--measure", str(run_dir)], capture_output=True,
                                  text=True, check=True)
            figures = json.loads(done.stdout.strip().splitlines()[-1])
            size = (run_dir / "ops.jsonl").stat().st_size / 2**20
            print(f"{n:>9,} ops ({size:,.0f} MiB history, generated in {gen:.1f} s): report in {figures['seconds']} s, "
                  f"peak {figures['peak_mib']} MiB, report.html {figures['report_mib']} MiB")


if __name__ == "__main__":
    main()
