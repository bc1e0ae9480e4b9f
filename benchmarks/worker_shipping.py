"""How many history lines per second the master absorbs from Locust workers, per core of the master.

    .venv/bin/python benchmarks/worker_shipping.py [--processes 4] [--seconds 10] [--users 8]

Runs `shopbench stress --processes N` on loopback with a locustfile whose users send no request:
each records its share of `--lines` synthetic operations straight into the history as fast as its
worker can make them, far faster than any shop on this machine could answer. The master writes
every batch (`HistoryWriter.write_raw`, the series tally) and feeds its monitor from it
(locust_plugin/shipping.py). Printed, each beside its target:

  lines absorbed       history lines the workers made, and how many the master wrote (they must agree)
  per master core      lines / CPU seconds the master process used during the load
                       (target: >= 50,000 operations/s on one core of the master)
  wall rate            lines / seconds of load (bounded by the 2 cores the workers share here)

Exit code 1 when the per-core target is missed or lines were lost, else 0.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parent.parent
TARGET = 50_000

LOCUSTFILE = textwrap.dedent("""
    import time
    import gevent
    from locust import constant, task
    from shopbench import Op, ShopUser
    from shopbench.locust_plugin.recorder import recorder

    PER_WORKER = {per_worker}
    MADE = [0]  # lines this worker process made

    class Synthetic(ShopUser):
        wait_time = constant(0)

        @task
        def record(self):
            if MADE[0] >= PER_WORKER:
                gevent.sleep(1)
                return
            for _ in range(200):
                t = time.perf_counter()
                recorder.record(Op(recorder.next_id(), "synthetic", "find_item", {{"item_id": "0"}}, None, "ok", 200,
                                   {{"stock": 100, "price": 1}}, None, time.time(), t, t + 0.001))
            MADE[0] += 200
            gevent.sleep(0)
""")


def master_cpu(pid: int, stop: threading.Event, out: dict) -> None:
    """(epoch, CPU seconds) of the master process four times a second."""
    proc = psutil.Process(pid)
    while not stop.is_set():
        try:
            t = proc.cpu_times()
            out.setdefault("samples", []).append((time.time(), t.user + t.system))
        except psutil.Error:
            return
        stop.wait(0.25)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--processes", type=int, default=4)
    ap.add_argument("--seconds", type=int, default=10)
    ap.add_argument("--users", type=int, default=8)
    ap.add_argument("--lines", type=int, default=400_000, help="synthetic lines in all (spread over the workers)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="worker-shipping-") as tmp:
        locustfile = Path(tmp) / "synthetic.py"
        locustfile.write_text(LOCUSTFILE.format(per_worker=args.lines // args.processes))
        out = Path(tmp) / "run"
        cmd = [str(Path(sys.executable).parent / "shopbench"), "stress", "-f", str(locustfile), "--headless",
               "-u", str(args.users), "-r", str(args.users), "-t", f"{args.seconds}s", "--processes",
               str(args.processes), "--out", str(out)]
        proc = subprocess.Popen(cmd, cwd=tmp, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                                start_new_session=True)
        stop, cpu = threading.Event(), {}
        sampler = threading.Thread(target=master_cpu, args=(proc.pid, stop, cpu), daemon=True)
        sampler.start()
        try:
            _, err = proc.communicate(timeout=args.seconds + 300)
        finally:
            stop.set()
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        run = next((p for p in out.rglob("run.json")), None)
        if run is None:
            print(f"no run directory (exit code {proc.returncode}):\n{err[-2000:]}")
            return 1
        manifest = json.loads(run.read_text())
        phases = {p["name"]: p for p in manifest.get("phases", [])}
        load = phases.get("load") or {}
        lines = sum(1 for line in (run.parent / "ops.jsonl").open("rb") if b'"synthetic"' in line)
        made = sum(1 for line in (run.parent / "ops.jsonl").open("rb"))
    # The master's CPU over the load phase (and the second after it, when the last batches arrive).
    samples = cpu.get("samples") or []
    start, end = load.get("start", 0), load.get("end", 0)
    span = end - start
    before = [c for t, c in samples if t <= start]
    after = [c for t, c in samples if t >= end + 1.0]
    busy = (after[0] - before[-1]) if before and after else None
    per_core = lines / busy if busy else 0.0
    locust = manifest.get("locust") or {}
    print(f"lines absorbed       {lines:,} synthetic lines in the history ({made:,} lines in all); "
          f"Locust counted {locust.get('requests')} requests")
    print(f"per master core      {per_core:,.0f} lines per CPU second of the master during the load "
          f"({busy or 0:.1f} s CPU) (target: >= {TARGET:,}) {'met' if per_core >= TARGET else 'MISSED'}")
    print(f"wall rate            {lines / span if span else 0:,.0f} lines/s over the {span:.1f} s load "
          f"with {args.processes} workers on {psutil.cpu_count()} cores")
    return 0 if per_core >= TARGET else 1


if __name__ == "__main__":
    sys.exit(main())
