"""Seed 003's largest shape on one machine: does the verdict hold when the generator is pushed?

    .venv/bin/python benchmarks/scale_users.py [--users 10000] [--spawn-rate 1000] [--seconds 30]
                                               [--processes 2] [--settle-timeout 120]

Runs `shopbench stress --headless -u USERS -r RATE -t SECONDS --processes N` (seed 000's mix, the
users "initiate orders") against the embedded reference shop, which shares the machine's cores
with the generator, and prints:

  users reached        the peak user count Locust reported (locust_stats_history.csv)
  ops/s                load operations in the history over the load phase
  requests vs history  Locust's own request count against the history's load lines (they must agree)
  cut off              operations recorded `info` because the stop cut them off mid-request
  generator CPU        CPU seconds and mean % of a core of shopbench's processes (master + workers,
                       not the shop), sampled with psutil every second; peak % per process
  settle               how long settling took (run.json phases)
  verdict              VALID / INVALID / UNKNOWN with the reasons

Targets (issue 23, seed 003's 10,000 users every time): every user reached, the master below 90 %
of a core (mean over the run), and never INVALID on the correct shop. Each figure is printed beside
its target; exit code 1 when any target is missed, else 0.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parent.parent
SETUP = {"populate", "settle", "state", "probe", "orders"}
MASTER_LIMIT = 90.0  # percent of one core


class CpuSampler:
    """CPU of the shopbench process tree, the reference shop's processes left out."""

    def __init__(self, root_pid: int, interval: float = 1.0):
        self.root, self.interval = root_pid, interval
        self.cpu: dict[int, float] = {}  # pid -> last cumulative cpu seconds seen
        self.peak: dict[int, float] = {}  # pid -> highest % of a core over one interval
        self.names: dict[int, str] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> None:
        self.started = time.monotonic()
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)
        self.elapsed = time.monotonic() - self.started

    def _generators(self) -> list[psutil.Process]:
        try:
            root = psutil.Process(self.root)
            procs = [root, *root.children(recursive=True)]
        except psutil.NoSuchProcess:
            return []
        out = []
        for p in procs:
            try:
                cmd = " ".join(p.cmdline())
            except psutil.Error:
                continue
            if "refshop" not in cmd:
                out.append(p)
                self.names.setdefault(p.pid, "master" if p.pid == self.root else "worker")
        return out

    def _run(self) -> None:
        while not self._stop.is_set():
            for p in self._generators():
                try:
                    t = p.cpu_times()
                except psutil.Error:
                    continue
                total = t.user + t.system
                before = self.cpu.get(p.pid)
                if before is not None:
                    self.peak[p.pid] = max(self.peak.get(p.pid, 0.0), 100.0 * (total - before) / self.interval)
                self.cpu[p.pid] = total
            self._stop.wait(self.interval)

    def total_seconds(self) -> float:
        return sum(self.cpu.values())


def peak_users(run: Path) -> int | None:
    path = run / "locust_stats_history.csv"
    if not path.exists():
        return None
    with open(path) as f:
        counts = [int(float(r["User Count"])) for r in csv.DictReader(f) if r.get("User Count")]
    return max(counts) if counts else None


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--users", type=int, default=10_000)
    ap.add_argument("--spawn-rate", type=float, default=1000)
    ap.add_argument("--seconds", type=int, default=30)
    ap.add_argument("--processes", type=int, default=2)
    ap.add_argument("--settle-timeout", type=float, default=120)
    ap.add_argument("--out", type=Path, default=None, help="run directory (default: a temporary one)")
    args = ap.parse_args()

    tmp = tempfile.TemporaryDirectory(prefix="scale-users-")
    out = args.out or Path(tmp.name) / "run"
    cmd = [str(Path(sys.executable).parent / "shopbench"), "stress", "--headless", "-u", str(args.users),
           "-r", str(args.spawn_rate), "-t", f"{args.seconds}s", "--processes", str(args.processes),
           "--settle-timeout", str(args.settle_timeout), "--out", str(out)]
    print("$", " ".join(cmd[1:]), flush=True)
    started = time.monotonic()
    log_path = Path(tmp.name) / "stress.log"
    with open(log_path, "w") as log:
        proc = subprocess.Popen(cmd, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
                                env={**os.environ, "PYTHONUNBUFFERED": "1"})
        sampler = CpuSampler(proc.pid)
        sampler.start()
        try:
            code = proc.wait(timeout=args.seconds + args.settle_timeout + 600)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            print(log_path.read_text()[-3000:])
            print("the run did not end in time")
            return 1
        finally:
            sampler.stop()
    wall = time.monotonic() - started
    if not (out / "verdict.json").exists():
        print(log_path.read_text()[-3000:])
        print(f"no verdict (exit code {code})")
        return 1

    manifest = json.loads((out / "run.json").read_text())
    verdict = json.loads((out / "verdict.json").read_text())
    phases = {p["name"]: p for p in manifest.get("phases", [])}

    def took(name: str) -> float | None:
        p = phases.get(name)
        return round(p["end"] - p["start"], 1) if p and p.get("end") else None

    load_ops = cut = 0
    with open(out / "ops.jsonl", "rb") as f:
        for line in f:
            op = json.loads(line)
            if op["process"] in SETUP:
                continue
            load_ops += 1
            if (op.get("error") or "").startswith("cut off:"):
                cut += 1
    locust = manifest.get("locust", {})
    load_s = took("load") or args.seconds
    cpu_s = sampler.total_seconds()
    result = verdict.get("result", "valid" if verdict.get("valid") else "invalid")

    reached = peak_users(out) or 0
    master = 100 * sampler.cpu.get(sampler.root, 0.0) / sampler.elapsed
    missed = [what for what, bad in (("users", reached < args.users), ("master CPU", master >= MASTER_LIMIT),
                                     ("verdict", result == "invalid")) if bad]
    print(f"users reached        {reached} of {args.users} (target: all) {'MISSED' if reached < args.users else 'met'}")
    print(f"master CPU           {master:.0f}% of a core, mean (target: < {MASTER_LIMIT:.0f}%) "
          f"{'MISSED' if master >= MASTER_LIMIT else 'met'}")
    print(f"ops/s                {load_ops / load_s:,.0f} ({load_ops:,} load operations in {load_s:.1f} s)")
    print(f"requests vs history  Locust {locust.get('requests')} / history {load_ops} "
          f"({'equal' if locust.get('requests') == load_ops else 'DIFFERENT'}); Locust failures "
          f"{locust.get('failures')}")
    print(f"cut off              {cut} operation(s) recorded info by the stop")
    print(f"generator CPU        {cpu_s:.1f} s over {sampler.elapsed:.0f} s = {100 * cpu_s / sampler.elapsed:.0f}% "
          f"of a core (mean); peak per process: "
          + ", ".join(f"{sampler.names.get(pid, pid)} {pk:.0f}%" for pid, pk in sorted(sampler.peak.items())))
    print(f"settle               {took('settle')} s (settled: {verdict.get('settled')})")
    print(f"verdict              {result.upper()}: {verdict.get('anomaly_count')} anomalies "
          f"{dict(verdict.get('anomaly_types') or {})}")
    for reason in verdict.get("unknown_reasons") or ():
        print(f"  unknown: {reason}")
    for warning in (verdict.get("warnings") or [])[:5]:
        print(f"  warning: {warning}")
    print(f"wall                 {wall:.0f} s; exit code {code}; run directory {out}")
    if args.out is None:
        tmp.cleanup()
    if missed:
        print(f"targets missed: {', '.join(missed)}")
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
