"""The streaming recovery figures equal those of the former whole-history version (kept below as
the oracle, as it was before the stream) on generated histories with faults, long and short."""

from __future__ import annotations

import random
from bisect import bisect_left
from typing import Any

import pytest

from shopbench.checker.recovery import (
    RecoveryTally,
    _as_windows,
    _get,
    _not_landed,
    _touches,
    fault_sections,
    recovery,
    shop_service,
)
from shopbench.history import SETUP_PROCESSES, unexpected

T0 = 1_700_000_000.0
FS = ["checkout", "add_item", "find_item", "add_funds", "create_order", "subtract_stock", "pay"]


def history(rng: random.Random, span: float, n: int) -> list[dict[str, Any]]:
    """`n` operations over `span` s, unsorted as a history is (completion order, roughly)."""
    ops = []
    for i in range(n):
        wall = T0 + rng.uniform(0, span)
        latency = rng.expovariate(1 / (span / 500))
        down = any(s <= wall - T0 <= s + span / 10 for s in (span * 0.3, span * 0.6))
        kind = rng.choice(["info", "fail", "info"] if down else ["ok"] * 8 + ["fail", "info"])
        ops.append({"id": i, "process": rng.choice(["w0", "w1", "populate"]), "f": rng.choice(FS), "args": {},
                    "expect": rng.choice([None, None, "fail"]), "type": kind, "status": None, "value": None,
                    "error": None, "wall": wall, "t0": 1.0, "t1": 1.0 + latency,
                    "scenario": rng.choice([None, "race:hot"])})
    for edge in (0.3, 0.4, 0.6, 0.7):  # operations exactly at a fault's start and at its restore's end
        for kind in ("ok", "info"):
            at = T0 + span * edge + (span / 100 if edge in (0.4, 0.7) else 0.0)
            ops.append({"id": -1, "process": "w0", "f": "checkout", "args": {}, "expect": None, "type": kind,
                        "status": None, "value": None, "error": None, "wall": at, "t0": 1.0, "t1": 1.0})
    ops.sort(key=lambda op: op["wall"] + op["t1"] - op["t0"] + rng.uniform(0, span / 200))
    return ops


def timeline(span: float) -> list[dict[str, Any]]:
    def fault(n: int, service: str, at: float, back: float | None, landed: bool = True) -> list[dict[str, Any]]:
        trig = {"index": n, "type": "time", "threshold": at, "value": at}
        lines = [{"fault": n, "trigger": trig, "service": service, "target": "pid 1", "action": "kill",
                  "role": "fault", "start": T0 + at, "end": T0 + at + 0.001, "result": "ok", "error": None,
                  **({} if landed else {"landed": False, "evidence": "still alive"})}]
        if back is not None:
            lines.append({"fault": n, "trigger": trig, "service": service, "target": "pid 2", "action": "start",
                          "role": "recover", "reason": "recovery_time", "start": T0 + back,
                          "end": T0 + back + span / 100, "result": "ok", "error": None})
        return lines
    return (fault(0, "order-service", span * 0.3, span * 0.4) + fault(1, "stock", span * 0.6, span * 0.7)
            + fault(2, "cache", span * 0.5, span * 0.55) + fault(3, "payment", span * 0.2, None, landed=False)
            + fault(4, "payment", span * 0.8, None))


@pytest.mark.parametrize(("span", "n", "bucket"), [(120.0, 20_000, None), (3.0, 5_000, None), (60.0, 8_000, 2.0),
                                                   (25.0, 3_000, None)])
def test_streaming_figures_equal_the_whole_history_ones(span, n, bucket) -> None:
    rng = random.Random(int(span))
    ops, lines = history(rng, span, n), timeline(span)
    load = [op for op in ops if op["process"] not in SETUP_PROCESSES]
    old = old_recovery(load, lines, bucket=bucket)
    assert [f["landed"] for f in old] == [True, True, True, False, True]
    assert all(f["during"] and f["during"]["ops"] for f in old if f["landed"])  # the outages were exercised
    assert any(f["throughput_recovered"] for f in old)
    assert recovery(iter(load), lines, bucket=bucket) == old
    if bucket is None:
        assert fault_sections(iter(ops), lines)["faults"] == old  # setup traffic left out while streaming


def test_only_the_first_twenty_seconds_of_completions_are_kept() -> None:
    """Bounded memory: the ok completion times are kept only while the bucket is unknown."""
    ops, lines = history(random.Random(1), 120.0, 4_000), timeline(120.0)
    tally = RecoveryTally(lines)
    for op in ops:
        tally.add(op)
        if tally.last - tally.first >= 20:
            assert tally.early is None and tally.bucket == 1.0
            break
    else:
        pytest.fail("the history never spanned 20 s")
    short = RecoveryTally(lines)
    for op in history(random.Random(2), 3.0, 500):
        short.add(op)
    assert short.early is not None and len(short.early) > 0




# The former implementation, verbatim but for its name: the oracle.
def old_recovery(
    ops: list[Any],
    faults: list[dict[str, Any]],
    *,
    baseline: float = 5.0,
    bucket: float | None = None,
    ratio: float = 0.9,
) -> list[dict[str, Any]]:
    windows = _as_windows(faults)
    rows = []
    for op in ops:
        wall = _get(op, "wall")
        if wall is None:
            continue
        t0, t1 = _get(op, "t0"), _get(op, "t1")
        done = wall + ((t1 - t0) if t0 is not None and t1 is not None else 0.0)
        rows.append((done, wall, _get(op, "type"), _get(op, "f"),
                     unexpected(_get(op, "type"), _get(op, "expect"), _get(op, "scenario"))))
    rows.sort(key=lambda r: (r[0], r[1]))
    done_all = [r[0] for r in rows]
    ok_done = [r[0] for r in rows if r[2] == "ok"]
    first = done_all[0] if done_all else None
    last = done_all[-1] if done_all else None
    last_invoked = max((row[1] for row in rows), default=None)
    if bucket is None:
        span = (last - first) if first is not None and last is not None else 0.0
        bucket = 1.0 if span >= 20 else max(0.01, span / 20)

    out = []
    for w in windows:
        if w.get("landed") is False:
            out.append(_not_landed(w))
            continue
        start, restore_start, end = w["start"], w.get("restore_start", w["start"]), w.get("end")
        svc = shop_service(w.get("service"))
        entry: dict[str, Any] = {
            "fault": w.get("fault"), "service": w.get("service"), "action": w.get("action"),
            "trigger": w.get("trigger"), "targets": w.get("targets", []), "result": w.get("result"),
            "start": start, "restore_start": restore_start, "end": end, "restored": w.get("restored", end is not None),
            "landed": True, "landed_s": w.get("landed_s"), "evidence": w.get("evidence"),
            "duration_s": round(end - start, 3) if end is not None else None,
            "restore_s": round(end - restore_start, 3) if end is not None else None,
        }
        notes = []
        if not entry["restored"]:
            notes.append("the fault was never undone: the service may still be down")

        # Time until the service answers again.
        answer_at = None
        for done, _wall, kind, f, _error in rows[bisect_left(done_all, restore_start):]:
            if kind == "ok" and _touches(f, svc):
                answer_at = done
                break
        entry["answered_again"] = answer_at is not None
        entry["answers_again_at"] = answer_at
        entry["time_to_answer_s"] = round(answer_at - restore_start, 3) if answer_at is not None else None
        entry["outage_s"] = round(answer_at - start, 3) if answer_at is not None else None
        # Did clients send anything after the restore began? Stragglers invoked earlier do not count.
        load_went_on = last_invoked is not None and last_invoked >= restore_start
        if answer_at is None and not load_went_on:
            # Not a failure to recover: the load (a short burst, say) was over before the service was back.
            healthy = (f"; the service was healthy again {entry['restore_s']:.2f} s after the restore began"
                       if entry["restore_s"] is not None else "")
            notes.append(f"the load ended before the fault was undone, so clients could not see the "
                         f"recovery{healthy}")
        elif answer_at is None:
            notes.append(f"no operation touching {w.get('service')} succeeded after the fault was undone")

        # Throughput before, and when it is back.
        base_from = max(start - baseline, first) if first is not None else start
        span = start - base_from
        baseline_rps = None
        if span >= bucket:
            baseline_rps = (bisect_left(ok_done, start) - bisect_left(ok_done, base_from)) / span
        entry["baseline_rps"] = round(baseline_rps, 2) if baseline_rps is not None else None
        back_at, best = None, 0.0
        if baseline_rps and last is not None:
            step = bucket / 4
            t = restore_start
            steps = int(max(0.0, last - bucket - restore_start) / step) + 1
            for _ in range(min(steps, 1_000_000)):
                if t + bucket > last:
                    break
                rate = (bisect_left(ok_done, t + bucket) - bisect_left(ok_done, t)) / bucket
                best = max(best, rate)
                if rate >= ratio * baseline_rps:
                    back_at = t
                    break
                t += step
        entry["throughput_recovered"] = back_at is not None
        entry["throughput_recovery_s"] = round(back_at - restore_start, 3) if back_at is not None else None
        if baseline_rps is None:
            notes.append("no throughput baseline: under one bucket of history before the fault")
        elif baseline_rps == 0:
            notes.append("no ok operations before the fault: throughput recovery is not defined")
            entry["throughput_recovered"] = None
        elif back_at is None and load_went_on:
            notes.append(f"throughput never returned to {ratio:.0%} of the {baseline_rps:.1f} ok ops/s before the "
                         f"fault (best {best / baseline_rps:.0%} after it)")

        # What the outage cost.
        out_end = end if end is not None else (last if last is not None else start)
        counts = {"ops": 0, "ok": 0, "fail": 0, "indeterminate": 0, "errors": 0}
        svc_counts = dict(counts)
        for _done, wall, kind, f, error in rows[bisect_left(done_all, start):]:
            if wall > out_end:
                continue
            for c, applies in ((counts, True), (svc_counts, _touches(f, svc))):
                if not applies:
                    continue
                c["ops"] += 1
                if kind == "ok":
                    c["ok"] += 1
                elif kind == "info":
                    c["indeterminate"] += 1
                else:
                    c["fail"] += 1
                if error:
                    c["errors"] += 1
        entry["bucket_s"] = round(bucket, 3)
        entry["during"] = counts
        entry["during_service"] = svc_counts
        entry["note"] = "; ".join(notes) or None
        out.append(entry)
    return out
