"""What happened to the order, user or item an anomaly names: its operations, from the history.

`acknowledged_lost` says order 17 answered 2xx and is not paid; its timeline says who created it,
what was added, which clients checked it out when, and what each got back. A user's or an item's
timeline holds the operations on it and the checkouts of its orders. Pure: one more stream over
the history, keeping only the operations of the few entities named.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

MAX_EXPLAINED = 100  # anomalies given a timeline; the rest keep their message and ids
MAX_STEPS = 30  # operations kept per timeline: the first ones, then a window of the latest
KEEP_LAST = 10


def _subject(anomaly: dict[str, Any]) -> tuple[str, str] | None:
    for kind in ("order", "user", "item"):
        value = anomaly.get(f"{kind}_id")
        if value is not None:
            return kind, str(value)
    return None


def _order_of(op: dict[str, Any]) -> str | None:
    args = op.get("args") or {}
    if "order_id" in args:
        return str(args["order_id"])
    value = op.get("value")
    if op.get("f") == "create_order" and isinstance(value, dict) and "order_id" in value:
        return str(value["order_id"])
    return None


def attach_timelines(ops: Iterable[dict[str, Any]], anomalies: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The anomalies, each that names an order, user or item given a `timeline`:
    `[{at, process, f, args, type, status, latency_ms, error}]`, `at` in seconds from the first."""
    steps: dict[tuple[str, str], list[dict[str, Any]]] = {}
    follow: dict[str, set[tuple[str, str]]] = {}  # order id -> the subjects whose timeline it belongs to
    for anomaly in anomalies:
        subject = _subject(anomaly)
        if subject is None or (subject not in steps and len(steps) >= MAX_EXPLAINED):
            continue
        steps.setdefault(subject, [])
        kind, key = subject
        orders = [key] if kind == "order" else [str(o) for o in anomaly.get("paid_orders") or ()]
        for oid in orders:
            follow.setdefault(oid, set()).add(subject)
    if not steps:
        return anomalies
    for op in ops:
        args = op.get("args") or {}
        oid = _order_of(op)
        subjects = set(follow.get(oid, ())) if oid is not None else set()
        for kind in ("user", "item"):
            value = args.get(f"{kind}_id")
            if value is not None and (kind, str(value)) in steps:
                subjects.add((kind, str(value)))
        if op.get("f") == "create_order" and oid is not None and ("user", str(args.get("user_id"))) in steps:
            follow.setdefault(oid, set()).add(("user", str(args.get("user_id"))))  # the user's later checkouts
        if not subjects:
            continue
        step = {"wall": op.get("wall", 0.0), "process": op.get("process"), "f": op.get("f"), "args": args,
                "type": op.get("type"), "status": op.get("status"),
                "latency_ms": round((op.get("t1", 0.0) - op.get("t0", 0.0)) * 1000, 2),
                "error": str(op["error"])[:160] if op.get("error") else None}
        for subject in subjects:
            timeline = steps[subject]
            if len(timeline) >= MAX_STEPS:
                timeline.pop(MAX_STEPS - KEEP_LAST)  # keep the first operations and the latest ones
            timeline.append(step)
    out = []
    for anomaly in anomalies:
        timeline = steps.get(_subject(anomaly) or ("", ""))
        if timeline:
            ordered = sorted(timeline, key=lambda s: s["wall"])
            first = ordered[0]["wall"]
            anomaly = {**anomaly, "timeline": [{"at": round(s["wall"] - first, 3),
                                                **{k: v for k, v in s.items() if k != "wall"}} for s in ordered]}
        out.append(anomaly)
    return out
