"""Settling, as Jepsen does it: wait until the shop is quiet, read everything once, check, and re-read
only what the check would blame until it is stable before an anomaly stands.

1. Quiescence (`settle`). The reference shop we started, with nothing in flight, needs no wait: its
   count of checkouts in progress is 0 before and after one read (`stopped: "idle"`). Any other
   shop: a SAMPLE of at most SAMPLE_SIZE entities, where background work would still be going on
   (what the indeterminate operations and the last operations of the load named), is read until its
   last QUIET_READS reads agree and span QUIET_SECONDS (`"quiet"`: a saga finishing in the
   background changes something between reads spaced apart; two back-to-back reads can both miss
   it), or the deadline passes (`"deadline"`: the run is UNKNOWN).
2. One read of every touched entity: the state the ledger checks.
3. Confirmation (`confirm`, after the check). What the check would blame is re-read under the same
   quiet rule: the entities each anomaly names with those an order links them to (an order's user
   and items; a user's or an item's orders: a charge whose order is not marked paid yet is
   explained by re-reading the order), the entities that could not be read, and those of
   indeterminate operations the sample did not cover. The re-read values replace the first ones,
   the state is checked again, and so on until nothing new is blamed (at most MAX_ROUNDS times).
   An anomaly stands only when its entities were stable: one naming an entity still changing at the
   deadline is withheld (checker/unsettled.py: `unsettled_anomalies`, an UNKNOWN reason), never
   INVALID.

The deadline is --settle-timeout plus time for the indeterminate operations (state.py). The
confirmation gets what quiescence left of it (the time spent checking is not the shop's), and every
set of entities is given one quiet period, even past the deadline. On a correct shop that is about
one read per entity, where reading everything until it was quiet took at least three.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from shopbench.checker.unsettled import KINDS, Key, Links, items_of
from shopbench.driver import GeventTransport, new_driver
from shopbench.history import OpListener
from shopbench.state import SETTLE_PROCESS, Touched, _snapshot
from shopbench.target import Target

QUIET_READS = 3  # reads that must agree ...
QUIET_SECONDS = 0.5  # ... from the start of the first to the end of the last
SPACING = QUIET_SECONDS / (QUIET_READS - 1)  # reads spaced apart, not back to back
SAMPLE_SIZE = 50  # entities read per pass of the quiet period; an order counts with its user and item
ORDER_WEIGHT = 3
MAX_ROUNDS = 4  # re-read rounds, each for what the previous one revealed
Read = Callable[[Touched, int], dict[str, Any]]  # a read of some touched entities (pass number n)


def entities(snapshot: dict[str, Any]) -> dict[Key, Any]:
    """Every entity a read saw: its fields, or that it could not be read (whatever the error said:
    an entity unreadable twice for different reasons has not changed)."""
    out: dict[Key, Any] = {}
    unreadable = snapshot.get("unreadable") or {}
    not_found = snapshot.get("not_found") or {}
    for kind in KINDS:
        for entity_id, value in (snapshot.get(kind) or {}).items():
            out[(kind, entity_id)] = value
        gone = set(not_found.get(kind) or ())
        for entity_id in unreadable.get(kind) or {}:
            out[(kind, entity_id)] = "not found" if entity_id in gone else "unreadable"
    return out


def count(snapshot: dict[str, Any]) -> int:
    """How many entities a read saw (each is one request)."""
    unreadable = snapshot.get("unreadable") or {}
    return sum(len(snapshot.get(kind) or {}) + len(unreadable.get(kind) or {}) for kind in KINDS)


def part_of(keys: Iterable[Key]) -> Touched:
    part = Touched()
    for kind, entity_id in keys:
        getattr(part, kind).add(entity_id)
    return part


def keys_of(part: Touched) -> set[Key]:
    return {(kind, entity_id) for kind in KINDS for entity_id in getattr(part, kind)}


def sample(touched: Touched) -> Touched:
    """Where work may still be going on: what the indeterminate operations named (most recent first),
    then what the last operations named; at most SAMPLE_SIZE entities, an order counting as
    ORDER_WEIGHT (it is read with its user and items). A Touched without either (made by hand)
    gives its first entities."""
    candidates: list[Key] = [*reversed(touched.in_doubt), *reversed(touched.recent)]
    if not candidates:
        candidates = [(kind, entity_id) for kind in KINDS for entity_id in sorted(getattr(touched, kind))]
    picked = Touched()
    budget = SAMPLE_SIZE
    for kind, entity_id in candidates:
        cost = ORDER_WEIGHT if kind == "orders" else 1
        ids = getattr(picked, kind)
        if entity_id in ids or entity_id not in getattr(touched, kind):
            continue
        if cost > budget:
            break
        ids.add(entity_id)
        budget -= cost
    return picked


@dataclass
class Reads:
    """Reads of one set of entities: the last one, whether the set was quiet, what it cost."""

    last: dict[str, Any]
    quiet: bool
    passes: int = 0
    entity_reads: int = 0
    changing: set[Key] = field(default_factory=set)  # entities that differed within the last reads


def until_quiet(read: Callable[[int], dict[str, Any]], deadline: float, first: dict[str, Any] | None = None) -> Reads:
    """Read until the last QUIET_READS reads agree and span QUIET_SECONDS, or the deadline has passed
    and the set had its quiet period's worth of reads. `first`, a read already made, counts as one,
    made now (so a span is never overstated)."""
    window: list[tuple[float, dict[Key, Any]]] = []  # (start, entities) of the last reads
    if first is not None:
        window.append((time.monotonic(), entities(first)))
    passes = entity_reads = 0
    while True:
        if window:
            time.sleep(max(window[-1][0] + SPACING - time.monotonic(), 0.0))
        start = time.monotonic()
        passes += 1
        last = read(passes)
        seen = entities(last)
        entity_reads += count(last)
        window = [*window, (start, seen)][-QUIET_READS:]
        now = time.monotonic()
        agree = len(window) == QUIET_READS and all(w[1] == seen for w in window)
        if agree and now - window[0][0] >= QUIET_SECONDS:
            return Reads(last, True, passes, entity_reads)
        if now >= deadline and len(window) == QUIET_READS:
            changing = {key for w in window for key in w[1] if any(key not in o or o[key] != w[1][key]
                                                                  for _, o in window)}
            return Reads(last, False, passes, entity_reads, changing)


@dataclass
class Settled:
    state: dict[str, Any]
    stopped: str  # "idle", "quiet" or "deadline"
    passes: int
    entity_reads: int
    sample: int  # entities in the quiet period's sample (0 when the shop said it was idle)


def settle(read: Read, touched: Touched, deadline: float, *, still_idle: Callable[[], bool] | None = None) -> Settled:
    """Quiescence, then one read of everything (steps 1 and 2 of the module docstring).
    `still_idle`: the reference shop's own signal, given when it said it was idle before the read."""
    passes = entity_reads = 0
    if still_idle is not None:
        state = read(touched, 1)
        passes, entity_reads = 1, count(state)
        if still_idle():
            return Settled(state, "idle", passes, entity_reads, 0)
    part = sample(touched)
    quiet = until_quiet(lambda n: read(part, passes + n), deadline)
    passes += quiet.passes + 1
    state = read(touched, passes)
    return Settled(state, "quiet" if quiet.quiet else "deadline", passes,
                   entity_reads + quiet.entity_reads + count(state), count(quiet.last))


def figures(settled: Settled) -> dict[str, Any]:
    """What settling cost, for `state.json`'s `settle`."""
    n = count(settled.state)
    return {"sample": settled.sample, "entities": n, "entity_reads": settled.entity_reads,
            "reads_per_entity": round(settled.entity_reads / n, 3) if n else None,
            "quiet": {"reads": QUIET_READS, "seconds": QUIET_SECONDS}}


# -- what the check would blame -------------------------------------------------------------------
def blamed(verdict: dict[str, Any], state: dict[str, Any], touched: Touched, covered: set[Key]) -> set[Key]:
    """What the check would blame: the entities of every anomaly, those that could not be read, and
    those of indeterminate operations the quiet sample did not cover."""
    listed = verdict.get("anomalies") or []
    if (verdict.get("anomaly_count") or 0) > len(listed):  # some are counted, not listed: all of it
        return set(entities(state))
    links = Links(state)
    keys: set[Key] = set()
    for anomaly in listed:
        keys |= links.of(anomaly)
    for kind in KINDS:
        keys |= {(kind, entity_id) for entity_id in (state.get("unreadable") or {}).get(kind) or {}}
    keys |= {key for key in touched.in_doubt if key not in covered}
    return keys


# -- re-read until stable, check again ------------------------------------------------------------
def confirm(target: Target, state: dict[str, Any], touched: Touched,
            judge: Callable[[dict[str, Any]], dict[str, Any]], *, listener: OpListener | None = None,
            next_id: Callable[[], int] | None = None, timeout: float = 10.0, concurrency: int = 64) -> dict[str, Any]:
    """The verdict of `state` (`judge`), its blamed entities re-read until stable and the state
    checked again (step 3 of the module docstring). `state` is updated in place: the values re-read,
    `settle.reread`, and `settle.unstable` (what never stabilised: the shop did not settle)."""
    flush = getattr(listener, "flush", None)

    def judged() -> dict[str, Any]:
        if flush is not None:
            flush()  # the check streams the history file the reads are appended to
        return judge(state)

    verdict = judged()
    info = state.setdefault("settle", {})
    settled, stopped = state.get("settled"), info.get("stopped")
    first_anomalies = verdict.get("anomaly_count") or 0
    started = time.monotonic()
    deadline = started + max(float(info.get("deadline_s") or 0.0) - float(info.get("seconds") or 0.0), 0.0)
    covered = keys_of(sample(touched)) if stopped == "quiet" else set()
    confirmed: set[Key] = set()
    changing: set[Key] = set()
    rounds = passes = entity_reads = 0

    def record() -> None:
        info["reread"] = {"rounds": rounds, "entities": len(confirmed), "reads": passes,
                          "entity_reads": entity_reads, "seconds": round(time.monotonic() - started, 3),
                          "anomalies_first_read": first_anomalies}
        n = count(state)
        info["reads_per_entity"] = round((int(info.get("entity_reads") or 0) + entity_reads) / n, 3) if n else None
        if changing:  # the shop did not settle: these never agreed over a quiet period
            info["unstable"] = {kind: sorted(i for k, i in changing if k == kind) for kind in KINDS}
            info["stopped"], state["settled"] = "deadline", False
        else:
            info.pop("unstable", None)
            info["stopped"], state["settled"] = stopped, settled

    transport: GeventTransport | None = None
    stale = False  # the state changed after the last verdict
    try:
        while True:
            keys = blamed(verdict, state, touched, covered) - confirmed
            if not keys:
                break
            if rounds == MAX_ROUNDS:  # each re-read revealed more to blame: not confirmed
                changing |= keys
                stale = True
                break
            rounds += 1
            if transport is None:
                transport = GeventTransport(target, timeout=timeout, concurrency=concurrency)
                driver = new_driver(transport, listener, SETTLE_PROCESS, next_id)
            part = part_of(keys)
            reads = until_quiet(lambda n, d=driver, part=part: _snapshot(d, part, concurrency, None), deadline,
                                first=_restrict(state, part))
            passes += reads.passes
            entity_reads += reads.entity_reads
            seen = set(entities(reads.last))
            confirmed |= keys | seen
            changing = (changing - seen) | reads.changing
            if _merge(state, reads.last) or reads.changing:
                record()
                verdict = judged()
    finally:
        if transport is not None:
            transport.close()
    if rounds:
        record()
        if stale:
            verdict = judged()
        verdict["settle"] = info
    return verdict


def _restrict(state: dict[str, Any], part: Touched) -> dict[str, Any]:
    """The first read of `part` (and of the items and users its orders name), as a re-read sees it."""
    keys = keys_of(part)
    orders = state.get("orders") or {}
    for order_id in part.orders:
        if order_id in orders:
            keys.add(("users", str(orders[order_id].get("user_id"))))
            keys |= {("items", i) for i in items_of(orders[order_id])}
    out: dict[str, Any] = {kind: {} for kind in KINDS}
    out["unreadable"] = {kind: {} for kind in KINDS}
    out["not_found"] = {kind: [] for kind in KINDS}
    for kind, entity_id in keys:
        if entity_id in (state.get(kind) or {}):
            out[kind][entity_id] = state[kind][entity_id]
        elif entity_id in (state.get("unreadable") or {}).get(kind, {}):
            out["unreadable"][kind][entity_id] = state["unreadable"][kind][entity_id]
            if entity_id in (state.get("not_found") or {}).get(kind, ()):
                out["not_found"][kind].append(entity_id)
    return out


def _merge(state: dict[str, Any], snapshot: dict[str, Any]) -> bool:
    """What a re-read saw, in place of what the first read saw; whether anything differed."""
    before = entities(state)
    seen = entities(snapshot)
    unreadable, not_found = state.setdefault("unreadable", {}), state.setdefault("not_found", {})
    for kind in KINDS:
        values, bad, gone = state.setdefault(kind, {}), unreadable.setdefault(kind, {}), not_found.setdefault(kind, [])
        for entity_id, value in snapshot[kind].items():
            values[entity_id] = value
            bad.pop(entity_id, None)
            if entity_id in gone:
                gone.remove(entity_id)
        for entity_id, reason in snapshot["unreadable"][kind].items():
            values.pop(entity_id, None)
            bad[entity_id] = reason
            if entity_id in snapshot["not_found"][kind] and entity_id not in gone:
                gone.append(entity_id)
            elif entity_id not in snapshot["not_found"][kind] and entity_id in gone:
                gone.remove(entity_id)
        state[kind] = dict(sorted(values.items()))
        unreadable[kind] = dict(sorted(bad.items()))
        gone.sort()
    return any(before.get(key) != value for key, value in seen.items())
