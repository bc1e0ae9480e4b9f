"""The fault sections (recovery figures) of a long history: time and peak memory of the one pass.

    .venv/bin/python benchmarks/recovery_scale.py [--sizes 1000000] [--ten-million] [--src DIR]

Writes a history of N operations at 5,000 ops/s (a quarter of them failing or indeterminate
while one of three faults holds its service down) and its fault timeline, then computes
`fault_sections` over `iter_history` of it in a fresh child process (peak RSS is the pass's own).
Target: <= 100 MiB peak at 10 M operations (the former version held every record: 442 MiB for
300 k). `--src DIR` measures another checkout's `src` (pass its fault_sections the path, as its
hook did, when it still takes one). Exit code 0 when the target holds.
"""

from __future__ import annotations

import argparse
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import orjson

ROOT = Path(__file__).resolve().parent.parent
TARGET = (10_000_000, 100 << 20)
RATE = 5000.0
T0 = 1_700_000_000.0
FS = ("checkout", "add_item", "find_item", "add_funds", "create_order", "pay")


def timeline(n_ops: int) -> list[dict]:
    span = n_ops / RATE
    lines = []
    for n, (service, at) in enumerate((("order", 0.25), ("stock", 0.5), ("payment", 0.75))):
        trig = {"index": n, "type": "time", "threshold": span * at, "value": span * at}
        start, back = T0 + span * at, T0 + span * at + 10
        lines += [{"fault": n, "trigger": trig, "service": service, "target": "pid 1", "action": "kill",
                   "role": "fault", "start": start, "end": start + 0.01, "result": "ok", "error": None},
                  {"fault": n, "trigger": trig, "service": service, "target": "pid 2", "action": "start",
                   "role": "recover", "reason": "recovery_time", "start": back, "end": back + 0.5, "result": "ok",
                   "error": None}]
    return lines


def generate(n_ops: int, path: Path) -> None:
    rng = random.Random(1)
    downs = [(f["start"], f["start"] + 10.5) for f in timeline(n_ops) if f["role"] == "fault"]
    with open(path, "wb") as out:
        chunk = []
        for i in range(n_ops):
            wall = T0 + i / RATE
            down = any(a <= wall <= b for a, b in downs)
            kind = rng.choice(("info", "fail")) if down and rng.random() < 0.9 else (
                "ok" if rng.random() < 0.95 else "fail")
            chunk.append(orjson.dumps({"id": i, "process": "w0", "f": FS[i % len(FS)], "args": {"order_id": str(i)},
                                       "expect": None, "type": kind, "status": 200, "value": None, "error": None,
                                       "wall": wall, "t0": 1.0, "t1": 1.0 + rng.random() * 0.02,
                                       "intended": None, "scenario": None}))
            if len(chunk) == 65536:
                out.write(b"\n".join(chunk) + b"\n")
                chunk.clear()
        out.write(b"\n".join(chunk) + b"\n")


def measure(directory: Path, src: Path, old: bool) -> None:
    sys.path.insert(0, str(src))
    from shopbench.checker.recovery import fault_sections
    from shopbench.history import iter_history

    t0, c0 = time.perf_counter(), time.process_time()
    lines = orjson.loads((directory / "faults.json").read_bytes())
    path = directory / "ops.jsonl"
    sections = fault_sections(path if old else iter_history(path), lines, [])
    peak = next(int(line.split()[1]) * 1024 for line in Path("/proc/self/status").read_text().splitlines()
                if line.startswith("VmHWM:"))
    print(orjson.dumps({"seconds": time.perf_counter() - t0, "cpu": time.process_time() - c0, "peak": peak,
                        "faults": [[f["service"], f["outage_s"], f["throughput_recovery_s"], f["during"]["ops"]]
                                   for f in sections["faults"]]}).decode())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000000")
    parser.add_argument("--ten-million", action="store_true")
    parser.add_argument("--src", type=Path, default=ROOT / "src")
    parser.add_argument("--old", action="store_true", help="hand fault_sections the path (its former API)")
    parser.add_argument("--dir", type=Path, help="keep the generated history here (reused when present)")
    parser.add_argument("--measure", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        measure(args.measure, args.src, args.old)
        return 0
    sizes = [int(s) for s in args.sizes.split(",")] + ([10_000_000] if args.ten_million else [])
    ok = True
    for n in sizes:
        with tempfile.TemporaryDirectory() as tmp:
            d = (args.dir / str(n)) if args.dir else Path(tmp)
            d.mkdir(parents=True, exist_ok=True)
            if not (d / "ops.jsonl").exists():
                generate(n, d / "ops.jsonl")
                (d / "faults.json").write_bytes(orjson.dumps(timeline(n)))
            cmd = [sys.executable, __file__, "--measure", str(d), "--src", str(args.src)] + (["--old"] * args.old)
            fig = orjson.loads(subprocess.run(cmd, capture_output=True, text=True, check=True).stdout.splitlines()[-1])
        line = (f"{n:>10,} ops: {fig['seconds']:.1f} s ({fig['cpu']:.1f} s CPU), peak {fig['peak'] / 2**20:.0f} MiB; "
                f"per fault [service, outage_s, throughput_recovery_s, ops during]: {fig['faults']}")
        if n >= TARGET[0]:
            passed = fig["peak"] <= TARGET[1]
            ok &= passed
            line += f"; target <= {TARGET[1] >> 20} MiB: {'PASS' if passed else 'FAIL'}"
        print(line, flush=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
