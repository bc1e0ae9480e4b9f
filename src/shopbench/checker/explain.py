"""What happened to the order, user or item an anomaly names: its operations, from the history.

`acknowledged_lost` says order 17 answered 2xx and is not paid; its timeline says who created it,
what was added, which clients checked it out when, and what each got back. A user's or an item's
timeline holds the operations on it and the checkouts of its orders; a drifting item's, the
checkouts of every order holding it that its anomaly names (`checkouts`: failed, indeterminate or
paid). An anomaly that names culprit orders (`culprit_orders`: the orders sold beyond an item's
supply, charged beyond a user's credit, or the unpaid checkouts holding an item whose stock is gone)
gets `culprits`, each such order with its own timeline, on the same clock as the anomaly's.

Pure: one more stream over the history, keeping only the operations of the few entities named.
When a timeline is capped, the operations that move money and stock (checkout, add_stock, pay, …)
are kept before creates and reads: a hot item's timeline must show its checkouts.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

MAX_EXPLAINED = 100  # anomalies given a timeline; the rest keep their message and ids
MAX_STEPS = 30  # operations kept per timeline: the first ones, then a window of the latest
KEEP_LAST = 10
MAX_CULPRITS = 20  # culprit orders given their own timeline, per anomaly
# Operations that move money or stock, or decide an order: what a reader looks for first.
IMPORTANT = frozenset({"checkout", "add_stock", "subtract_stock", "pay", "add_funds",
                       "batch_init_stock", "batch_init_users", "batch_init_orders"})

Subject = tuple[str, str]


def _subject(anomaly: dict[str, Any]) -> Subject | None:
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


class _Capped:
    """The first MAX_STEPS - KEEP_LAST steps and the latest KEEP_LAST, in two priority classes."""

    __slots__ = ("important", "other")

    def __init__(self) -> None:
        self.important: list[dict[str, Any]] = []
        self.other: list[dict[str, Any]] = []

    def add(self, step: dict[str, Any]) -> None:
        bucket = self.important if step["f"] in IMPORTANT else self.other
        if len(bucket) >= MAX_STEPS:
            bucket.pop(MAX_STEPS - KEEP_LAST)
        bucket.append(step)

    def steps(self) -> list[dict[str, Any]]:
        kept = self.important + self.other[:max(0, MAX_STEPS - len(self.important))]
        return sorted(kept, key=lambda s: s["wall"])


def _relative(steps: list[dict[str, Any]], origin: float) -> list[dict[str, Any]]:
    return [{"at": round(s["wall"] - origin, 3), **{k: v for k, v in s.items() if k != "wall"}} for s in steps]


def attach_timelines(ops: Iterable[dict[str, Any]], anomalies: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The anomalies, each that names an order, user or item given a `timeline`:
    `[{at, process, f, args, type, status, latency_ms, error}]`, `at` in seconds from its first step;
    and each that names `culprit_orders` given `culprits`: `[{order_id, timeline}]`."""
    steps: dict[Subject, _Capped] = {}
    follow: dict[str, set[Subject]] = {}  # order id -> the subjects whose timeline it belongs to
    for anomaly in anomalies:
        subject = _subject(anomaly)
        if subject is None or (subject not in steps and len(steps) >= MAX_EXPLAINED):
            continue
        steps.setdefault(subject, _Capped())
        kind, key = subject
        culprits = [str(o) for o in (anomaly.get("culprit_orders") or ())[:MAX_CULPRITS]]
        # An item's drift names the checked-out orders holding it (`checkouts`): their checkouts,
        # failed, indeterminate or paid, belong on its timeline.
        checked_out = [str(c["order_id"]) for c in anomaly.get("checkouts") or () if isinstance(c, dict)]
        orders = ([key] if kind == "order" else
                  [str(o) for o in anomaly.get("paid_orders") or ()] + culprits + checked_out)
        for oid in orders:
            follow.setdefault(oid, set()).add(subject)
        for oid in culprits:
            steps.setdefault(("order", oid), _Capped())
            follow.setdefault(oid, set()).add(("order", oid))
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
            steps[subject].add(step)
    out = []
    for anomaly in anomalies:
        capped = steps.get(_subject(anomaly) or ("", ""))
        if capped is None:
            out.append(anomaly)
            continue
        ordered = capped.steps()
        origin = ordered[0]["wall"] if ordered else None
        anomaly = dict(anomaly)
        if ordered:
            anomaly["timeline"] = _relative(ordered, origin)
        culprits = []
        for oid in (anomaly.get("culprit_orders") or ())[:MAX_CULPRITS]:
            own = steps[("order", str(oid))].steps()
            start = origin if origin is not None else (own[0]["wall"] if own else 0.0)
            culprits.append({"order_id": str(oid), "timeline": _relative(own, start)})
        if culprits:
            anomaly["culprits"] = culprits
        out.append(anomaly)
    return out
