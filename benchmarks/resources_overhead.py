"""What resource sampling costs the load generator: CPU time of the sampler's thread at 1 sample/s.

    .venv/bin/python benchmarks/resources_overhead.py [--services 10] [--seconds 20] [--children 2]
                                                       [--connections 200]

Starts `--services` real services, each a process tree (`sh -c` with `--children` sleeping
children, like a gunicorn master and its workers), and `--connections` open loopback TCP
connections held by this process (so the TCP table and the generator's fd scan are not trivially
small), then runs the `resources` companion beside them for `--seconds` at 1 sample/s and reads
the sampling thread's own CPU time (`time.thread_time` inside it). Prints the cost in % of one
core and per sample; target: under 2 % of a core. Exit code 0 when it holds, 1 otherwise. Every
process started is ended by its process group.
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))  # run from a checkout without installing

import psutil  # noqa: E402

from shopbench.resources import RESOURCES, ProcessTree, ResourceSampler, read_samples  # noqa: E402

TARGET_PERCENT = 2.0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--services", type=int, default=10)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--children", type=int, default=2)
    parser.add_argument("--connections", type=int, default=200)
    args = parser.parse_args()

    script = " ".join(["sleep 600 &"] * args.children) + " wait"
    services = [subprocess.Popen(["sh", "-c", script], start_new_session=True) for _ in range(args.services)]
    listener = socket.create_server(("127.0.0.1", 0))
    listener.listen(args.connections + 8)
    conns: list[socket.socket] = []
    try:
        for _ in range(args.connections):
            conns.append(socket.create_connection(listener.getsockname()))
            conns.append(listener.accept()[0])
        time.sleep(0.5)  # the children exist
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / RESOURCES
            sources = [ProcessTree(f"svc{i}", lambda p=p: p.pid) for i, p in enumerate(services)]
            sampler = ResourceSampler(interval=1.0, sources=sources, path=path)
            wall0, cpu0 = time.monotonic(), time.process_time()
            with sampler.during():
                time.sleep(args.seconds)
            wall = time.monotonic() - wall0
            process_cpu = time.process_time() - cpu0
            lines = list(read_samples(path))
    finally:
        for s in conns:
            s.close()
        listener.close()
        for p in services:
            os.killpg(p.pid, signal.SIGKILL)
            p.wait(10)

    procs = sum(1 for line in lines if line["kind"] == "service" and line["up"]) and max(
        sum(line["procs"] or 0 for line in lines if line["kind"] == "service" and line["wall"] == w)
        for w in {line["wall"] for line in lines})
    percent = sampler.thread_cpu / wall * 100.0
    print(f"{args.services} services ({procs} processes), {args.connections * 2} TCP sockets held by the "
          f"generator, {len(psutil.pids())} processes on the machine")
    print(f"{sampler.samples} samples in {wall:.1f} s, {len(lines)} lines in {RESOURCES}")
    print(f"sampler thread CPU: {sampler.thread_cpu * 1000:.0f} ms = {percent:.2f} % of one core "
          f"({sampler.thread_cpu / max(sampler.samples, 1) * 1000:.1f} ms a sample); whole process "
          f"{process_cpu / wall * 100:.2f} %; target < {TARGET_PERCENT} %")
    ok = percent < TARGET_PERCENT and sampler.samples >= int(args.seconds) and not sampler.errors
    print("OK" if ok else "FAILED", sampler.errors or "")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
