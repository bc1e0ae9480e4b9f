"""Side by side (issue 22.5): `shopbench explore --mode requests` against random time-based kills, on
each fault-dependent reference-shop flaw.

    PYTHONPATH=src .venv/bin/python benchmarks/explore_vs_random.py [RUNS] [FLAW ...] [--no-random]

For each flaw: RUNS explore runs (seeds 1..RUNS, budget 5 minutes each): whether each found the
flaw, how long it took, how many faults its plan has and how often that plan reproduced (--confirm
10), each beside issue 22's target (found within 300 s, at most 2 faults, reproducing in at least
9 of 10). Then (unless --no-random) random kill runs of the same total duration as the explore
runs took: each a consistency run of the same small workload with one SIGKILL of a random service
at a random moment of the burst (restarted 0.5 s later), as a user with a kill_config.json would
try; how many of them found the flaw. Exit code 1 when an explore run missed a target.
"""

from __future__ import annotations

import json
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

FLAWS = ("no-recovery", "early-ack", "double-charge", "abort-on-timeout", "retry-new-txid")
EXE = str(Path(sys.executable).parent / "shopbench")
# The explore workload's orders (items 5 x stock 100, users 20 x credit 100: no rejection without a fault).
WORKLOAD = ["--items", "5", "--stock", "100", "--users", "20", "--credit", "100"]
BURST = ["--orders", "200", "--concurrency", "8"]


def explore(flaw: str, seed: int, out: Path) -> dict:
    t0 = time.monotonic()
    proc = subprocess.run([EXE, "explore", "--mode", "requests", "--flaw", flaw, "--seed", str(seed), "--budget",
                           "5m", "--confirm", "10", "--out", str(out), "--json", *WORKLOAD],
                          capture_output=True, text=True, timeout=900)
    took = time.monotonic() - t0
    try:
        summary = json.loads(proc.stdout)
    except json.JSONDecodeError:
        return {"found": False, "seconds": took, "found_after_s": None, "faults": None, "plan": None,
                "reproduces": None, "error": proc.stderr[-400:]}
    failures = summary.get("failures") or []
    first = failures[0] if failures else None
    found_at = None
    if first is not None:  # the time to the first failing trial, from trials.jsonl
        elapsed = 0.0
        for line in (out / "trials.jsonl").read_text().splitlines():
            trial = json.loads(line)
            elapsed += trial["seconds"]
            if trial["index"] == first["found_by_trial"]:
                found_at = elapsed
                break
    return {"found": bool(first), "seconds": took, "found_after_s": found_at,
            "faults": len(first["faults"]) if first else None, "plan": first["faults"] if first else None,
            "reproduces": first["reproduces"] if first else None}


def random_kill(flaw: str, rng: random.Random, out: Path) -> tuple[bool, float]:
    plan = out.with_suffix(".json")
    service = rng.choice(["order", "stock", "payment"])
    plan.write_text(json.dumps({"kill_triggers": [{"type": "time", "threshold": round(rng.uniform(0.0, 1.5), 3),
                                                   "services": [service], "recovery_time": 0.5}]}))
    t0 = time.monotonic()
    proc = subprocess.run([EXE, "consistency", "--flaw", flaw, "--seed", str(rng.randrange(10**6)), *WORKLOAD,
                           *BURST, "--faults", str(plan), "--out", str(out), "--json"],
                          capture_output=True, text=True, timeout=300)
    return proc.returncode == 1, time.monotonic() - t0


TARGET_SECONDS, TARGET_FAULTS, TARGET_REPRODUCES = 300.0, 2, 9  # of 10 confirming runs


def missed(r: dict) -> list[str]:
    """What one explore run missed of issue 22's targets."""
    if not r["found"]:
        return ["not found"]
    out = [f"{r['seconds']:.0f} s > {TARGET_SECONDS:.0f} s"] if r["seconds"] > TARGET_SECONDS else []
    if r["faults"] > TARGET_FAULTS:
        out.append(f"{r['faults']} faults > {TARGET_FAULTS}")
    rep = r["reproduces"]
    if rep["invalid"] * 10 < TARGET_REPRODUCES * rep["runs"]:
        out.append(f"reproduces {rep['invalid']}/{rep['runs']} < {TARGET_REPRODUCES}/10")
    return out


def main(argv: list[str]) -> int:
    with_random = "--no-random" not in argv
    argv = [a for a in argv if a != "--no-random"]
    runs = int(argv[0]) if argv else 5
    flaws = argv[1:] or list(FLAWS)
    failed = False
    with tempfile.TemporaryDirectory(prefix="explore-vs-random-") as tmp:
        root = Path(tmp)
        for flaw in flaws:
            results = []
            for seed in range(1, runs + 1):
                r = explore(flaw, seed, root / f"{flaw}-explore-{seed}")
                results.append(r)
                miss = missed(r)
                failed = failed or bool(miss)
                rep = r["reproduces"] or {"invalid": 0, "runs": 0}
                print(f"  {flaw} seed {seed}: {'found' if r['found'] else 'NOT found'} in {r['seconds']:.0f} s "
                      f"(target <= {TARGET_SECONDS:.0f} s), {r['faults']} fault(s) (target <= {TARGET_FAULTS}), "
                      f"reproduces {rep['invalid']}/{rep['runs']} (target >= {TARGET_REPRODUCES}/10): "
                      + ("; ".join(miss) if miss else "ok") + f"  plan {r['plan']}", flush=True)
            spent = sum(r["seconds"] for r in results)
            found = sum(r["found"] for r in results)
            print(f"{flaw}: explore found it in {found} of {runs} runs; first failing trial after "
                  + ", ".join(f"{r['found_after_s']:.0f} s" if r["found_after_s"] is not None else "-"
                              for r in results)
                  + f"; plans: {sorted({' + '.join(r['plan']) for r in results if r['plan']})}; reproduced "
                  + ", ".join(f"{r['reproduces']['invalid']}/{r['reproduces']['runs']}" for r in results
                              if r["reproduces"])
                  + f"; {spent:.0f} s in all", flush=True)
            if not with_random:
                continue
            rng = random.Random(flaw)
            hits = n = 0
            used = 0.0
            while used < spent:
                hit, took = random_kill(flaw, rng, root / f"{flaw}-random-{n}")
                hits, n, used = hits + hit, n + 1, used + took
            print(f"{flaw}: random time-based kills found it in {hits} of {n} runs ({used:.0f} s)", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
