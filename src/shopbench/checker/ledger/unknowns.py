"""Why the ledger could not judge on complete data: sentences a user can act on."""

from __future__ import annotations

from shopbench.checker.ledger.books import Books


def unknown_reasons(books: Books) -> list[str]:
    reasons: list[str] = []
    if not books.load_ran:
        reasons.append("no load ran: the history holds no operation of the load (only setup and reads), so "
                       "nothing was checked; run the load for longer, or check that users started")
    counts: list[str] = []
    why: dict[str, int] = {}
    for kind, singular in (("orders", "order"), ("users", "user"), ("items", "item")):
        gone = set(books.not_found.get(kind) or ())
        bad = {i: r for i, r in (books.unreadable.get(kind) or {}).items() if i not in gone}
        if kind == "orders":  # orders whose checkout may have taken effect, absent from the state
            for oid in books.unresolved_orders:
                if oid not in gone:
                    bad.setdefault(oid, "not in state.json")
        if bad:
            counts.append(f"{len(bad)} {singular if len(bad) == 1 else kind}")
            for reason in bad.values():
                key = str(reason)[:80]
                why[key] = why.get(key, 0) + 1
    if counts:
        common = sorted(why.items(), key=lambda kv: -kv[1])[:2]
        reasons.append(
            f"{', '.join(counts)} touched by the load could not be read back ("
            + "; ".join(f"{n}x {r}" for r, n in common)
            + "): their money and stock were not checked; make sure every service answers its find route "
              "after the load (raise --settle-timeout, or restore the service)")
    if books.unbounded_orders:
        n = len(books.unbounded_orders)
        possible = books.possible_drifts
        reasons.append(
            f"{n} unreadable {'order' if n == 1 else 'orders'} could not be bounded (made by batch_init_orders, or "
            "holding unpriced items): credit or stock below its expected interval cannot be judged"
            + (f" ({possible} possible {'drift' if possible == 1 else 'drifts'}, see warnings)" if possible else "")
            + "; make sure the order service answers its find route after the load (raise --settle-timeout)")
    return reasons
