"""Why the ledger could not judge on complete data: sentences a user can act on, each with the
count of what it left out. Every entity `findings` lists as unresolved has its sentence here."""

from __future__ import annotations

from collections.abc import Iterable

from shopbench.checker.ledger.anomalies import counted
from shopbench.checker.ledger.books import Books

SINGULAR = {"orders": "order", "users": "user", "items": "item"}


def _counts(groups: dict[str, Iterable[str]]) -> str:
    """"1 order, 2 users": the non-empty groups, counted."""
    return ", ".join(counted(len(list(ids)), SINGULAR[kind], kind) for kind, ids in groups.items() if ids)


def _examples(whys: dict[str, dict[str, str]], n: int = 2) -> str:
    shown = [f"{SINGULAR[kind]} {i}: {why}" for kind, bad in whys.items() for i, why in bad.items()][:n]
    return "; ".join(shown)


def unreadable(books: Books) -> dict[str, dict[str, str]]:
    """kind -> {id: why}: entities that did not answer (not 404, not malformed), and orders checked
    out that are absent from the state."""
    bad = {kind: {i: str(r) for i, r in books.unreadable[kind].items() if i not in books.not_found[kind]}
           for kind in SINGULAR}
    for oid in books.unresolved_orders:
        if oid not in books.malformed["orders"]:
            bad["orders"].setdefault(oid, "not in state.json")
    return bad


def unknown_reasons(books: Books) -> list[str]:
    reasons: list[str] = []
    if not books.load_ran:
        reasons.append("no load ran: the history holds no operation of the load (only setup and reads), so "
                       "nothing was checked; run the load for longer, or check that users started")
    bad = unreadable(books)
    if any(bad.values()):
        why: dict[str, int] = {}
        for reason in (r for group in bad.values() for r in group.values()):
            why[reason[:80]] = why.get(reason[:80], 0) + 1
        common = sorted(why.items(), key=lambda kv: -kv[1])[:2]
        reasons.append(
            f"{_counts(bad)} touched by the load could not be read back ("
            + "; ".join(f"{n}x {r}" for r, n in common)
            + "): their money and stock were not checked; make sure every service answers its find route "
              "after the load (raise --settle-timeout, or restore the service)")
    if any(books.malformed.values()):
        reasons.append(f"{_counts(books.malformed)} left out of the money and stock checks: their final state is "
                       f"not in a shape the checker can use ({_examples(books.malformed)}); check that your "
                       "shop's find routes answer as docs/shop-api.md says, or plug in a --driver that reads them")
    if any(books.vanished.values()):
        reasons.append(f"{_counts(books.vanished)} the shop acknowledged creating now answer 404: did it lose its "
                       "state on restart? Their money and stock were not checked; keep each service's data in a "
                       "store that survives the faults you inject")
    never = {"users": books.unresolved_users, "items": books.unresolved_items}
    if any(never.values()):
        reasons.append(f"{_counts(never)} in the final state were never created in this history (no create or "
                       "batch_init of theirs was recorded): their money and stock were not checked; run against "
                       "a shop this run populated")
    if books.unbounded_orders:
        n = len(books.unbounded_orders)
        possible = books.possible_drifts
        reasons.append(
            f"{n} unreadable {'order' if n == 1 else 'orders'} could not be bounded (made by batch_init_orders, or "
            "holding unpriced items): credit or stock below its expected interval cannot be judged"
            + (f" ({counted(possible, 'possible drift')}, see warnings)" if possible else "")
            + "; make sure the order service answers its find route after the load (raise --settle-timeout)")
    return reasons
