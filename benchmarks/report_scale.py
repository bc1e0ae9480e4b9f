"""Report building on generated histories: wall time and peak memory at 5 k, 100 k and 1 M operations.

Prints figures and ratios measured side by side in the same child process; asserts nothing about
speed. Target (issue 15): the report of 1 M operations in at most 2 s wall. The history is written as
a run writes it, through a `HistoryWriter` whose `SeriesRecorder` tallies the series on the way
(`series.tally`, report/series_cache.py), and the report is timed on that run directory; then, in
the same child, without the tally (a run directory from an older shopbench: the history is read in
one pass), reading the history's bytes (the floor any reader pays) and computing the
series again, so a loaded machine shows in every figure of a row alike. Each
size runs in a fresh child process, so its imports and peak memory are its own.

    python benchmarks/report_scale.py [N ...]     (default: 5000 100000 1000000)
"""

from __future__ import annotations

import json
import random
import resource
import statistics
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
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))
    from shopbench.history import HistoryWriter
    from shopbench.report.series_cache import SeriesRecorder

    recorder = SeriesRecorder(start)
    with HistoryWriter(run_dir / "ops.jsonl", on_lines=recorder) as f:
        batch = []
        for i in range(n):
            wall = start + seconds * i / n
            latency = rng.lognormvariate(-4.5, 0.8)
            kind = "ok" if rng.random() < 0.9 else ("fail" if rng.random() < 0.8 else "info")
            batch.append(orjson.dumps({
                "id": i, "process": f"u{i % 500}", "f": OPS[i % len(OPS)], "args": {"order_id": str(i)},
                "expect": None, "type": kind, "status": 200 if kind == "ok" else 400, "value": None, "error": None,
                "wall": wall, "t0": wall - start, "t1": wall - start + latency, "intended": None, "scenario": None}))
            if len(batch) == 64:  # a distributed worker's batch
                f.write_raw(batch)
                batch = []
        f.write_raw(batch)
    recorder.save(run_dir / "ops.jsonl")
    faults = [{"fault": 0, "service": "stock", "action": "kill", "role": "fault", "start": start + 200,
               "end": start + 200, "result": "ok", "trigger": {"type": "time", "threshold": 200}},
              {"fault": 0, "service": "stock", "action": "start", "role": "recover", "start": start + 230,
               "end": start + 231, "result": "ok", "reason": "recovery_time"}]
    (run_dir / "faults.jsonl").write_text("".join(json.dumps(x) + "\n" for x in faults))
    (run_dir / "verdict.json").write_text(json.dumps({"valid": True, "anomaly_count": 0, "anomalies": []}))


TARGET_S = 2.0  # the 1 M operations report, issue 15


def measure(run_dir: str) -> None:
    t = time.perf_counter()
    from shopbench.report.html import build_report
    from shopbench.report.series import compute_series
    from shopbench.report.series_cache import FILE

    imported = time.perf_counter() - t
    ops = Path(run_dir) / "ops.jsonl"
    t = time.perf_counter()
    with open(ops, "rb") as f:  # in blocks, as the report reads it; also leaves the file in the page cache
        while f.read(2**21):
            pass
    read = time.perf_counter() - t
    t, cpu, workers_cpu = time.perf_counter(), time.process_time(), children_cpu()
    out = build_report(run_dir)
    took = time.perf_counter() - t
    # CPU beside wall: on a shared machine wall time waits for other processes, CPU time does not.
    cpu, workers_cpu = time.process_time() - cpu, children_cpu() - workers_cpu
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    again = []
    for _ in range(3):  # what a run pays: everything imported, Jinja's templates compiled
        t = time.perf_counter()
        build_report(run_dir)
        again.append(time.perf_counter() - t)
    tally = Path(run_dir) / FILE
    tally.rename(tally.with_suffix(".away"))  # a run directory from before the tally: the history is read
    t, history_cpu = time.perf_counter(), children_cpu()
    build_report(run_dir)
    history_only = time.perf_counter() - t
    history_workers_cpu = children_cpu() - history_cpu
    workers_peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    started = json.loads((Path(run_dir) / "run.json").read_text())["started"]
    t = time.perf_counter()
    compute_series(ops, origin=started)
    one = time.perf_counter() - t
    tally.with_suffix(".away").rename(tally)
    print(json.dumps({"seconds": took, "cpu": cpu, "workers_cpu": workers_cpu, "warm": statistics.median(again),
                      "history_only": history_only, "history_workers_cpu": history_workers_cpu,
                      "import": imported, "read": read, "one_process_series": one, "peak_mib": round(peak),
                      "workers_peak_mib": round(workers_peak), "report_mib": round(out.stat().st_size / 2**20, 2),
                      "tally_mib": round(tally.stat().st_size / 2**20, 1)}))


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def main() -> None:
    if len(sys.argv) == 3 and sys.argv[1] == "--measure":
        measure(sys.argv[2])
        return
    sizes = [int(a) for a in sys.argv[1:]] or [5_000, 100_000, 1_000_000]
    with tempfile.TemporaryDirectory() as tmp:
        for n in sizes:
            run_dir = Path(tmp) / f"run-{n}"
            t = time.perf_counter()
            generate(run_dir, n, seconds=600.0 if n >= 100_000 else 10.0)  # 5 k: an everyday run
            gen = time.perf_counter() - t
            done = subprocess.run([sys.executable, __file__, "--measure", str(run_dir)], capture_output=True,
                                  text=True, check=True)
            print(row(n, (run_dir / "ops.jsonl").stat().st_size, gen, json.loads(done.stdout.strip().splitlines()[-1])))


def row(n: int, size: int, gen: float, m: dict[str, float]) -> str:
    return (f"{n:>9,} ops ({size / 2**20:,.1f} MiB history + {m['tally_mib']} MiB series.tally, written in "
            f"{gen:.1f} s): report {m['seconds']:.3f} s = {m['seconds'] / TARGET_S:.2f}x the {TARGET_S:g} s target "
            f"(CPU {m['cpu']:.2f} s); without the tally {m['history_only']:.3f} s "
            f"(+{m['history_workers_cpu']:.2f} s CPU in workers; {m['history_only'] / m['seconds']:.1f}x), "
            f"{m['history_only'] / m['read']:.1f}x reading the bytes ({m['read']:.3f} s); "
            f"series in one process {m['one_process_series']:.3f} s; "
            f"warm rebuild {m['warm']:.3f} s; import {m['import']:.3f} s; "
            f"peak {m['peak_mib']} MiB (largest worker {m['workers_peak_mib']} MiB), report.html {m['report_mib']} MiB")


if __name__ == "__main__":
    main()
