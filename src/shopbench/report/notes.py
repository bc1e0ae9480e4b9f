"""The sentences a summary adds under its tables, so every figure says why it is what it is and
what to do: counted nouns that agree with their numbers, expected 4xx beside Locust's failures,
connections a gateway closed (with the fix), and why seed 000's numbers differ from the verdict."""

from __future__ import annotations

import re
from typing import Any

# The transport's words (driver/transport.py) for a connection the other side closed or reset before
# answering: no timeout, no status. A gateway short of connections closes idle ones this way.
_CLOSED = re.compile(r"ConnectionClosed|connection closed|Connection reset|ConnectionReset|BrokenPipe|"
                     r"RemoteDisconnected|EOF", re.IGNORECASE)


def closed_by_peer(status: int | None, error: str | None) -> bool:
    return status is None and bool(error) and bool(_CLOSED.search(error or "")) and "timed out" not in error


def plural(n: int, noun: str, many: str | None = None) -> str:
    """'1 reason', '2 reasons', '1,024 anomalies'."""
    return f"{n:,} {noun if n == 1 else many or noun + 's'}"


def refusal_notes(figures: Any) -> list[str]:
    """Where an operation's 4xx answers and its failures differ (the checkouts that must fail, or lose a
    race for stock), one sentence puts our figures, the checkout outcomes and Locust's table side by side."""
    notes = []
    for op in sorted(figures.ops.values(), key=lambda o: -o.requests):
        if op.refused_expected:
            notes.append(f"{op.name}: {plural(op.refused, 'answer')} 4xx, {op.refused_expected:,} of them expected (a "
                         "checkout that must fail, or a race for the last stock, is refused by a correct shop); the "
                         "failures column "
                         f"and Locust's table count only outcomes the workload did not expect ({op.failures:,}), the "
                         "outcomes table below counts every 4xx.")
    return notes


def gateway_notes(figures: Any, faults: bool) -> list[str]:
    """Indeterminate operations whose connection the other side closed before answering: named, with the fix."""
    n = sum(figures.closed.values())
    if not n:
        return []
    where = ", ".join(f"{f} {k:,}" for f, k in figures.closed.most_common(4))
    also = " (or from this run's faults: a killed service resets its connections)" if faults else ""
    return [f"[yellow]connections closed:[/] {plural(n, 'operation')} ({where}) got no answer because the server side "
            f"closed or reset the connection, not because the shop was slow{also}. A gateway short of connections "
            "does this under load (nginx logs \"worker_connections are not enough, reusing connections\"): run "
            "`shopbench doctor --urls urls.json` to measure how many it holds and use the --concurrency it prints, "
            "or raise the gateway's limit (nginx: worker_connections). They are indeterminate, resolved from the "
            "final state, never counted as failures."]


def seed_note(verdict: dict[str, Any]) -> str:
    """Why seed 000's numbers need not be zero when the verdict is VALID (or nonzero when it is not)."""
    inputs = verdict.get("seed_inputs") or {}
    info = (verdict.get("checkouts") or {}).get("info", 0)
    unsold = inputs.get("final_stock")
    sold = f", and that all {inputs['initial_stock']:,} units sell ({unsold:,} did not)" if unsold and "initial_stock" \
        in inputs else ""
    return (f"These are the seed script's numbers: it assumes every checkout not answered 4xx was a sale "
            f"({plural(info, 'indeterminate one')} here){sold}, so they measure its assumptions, not losses; the "
            "verdict below resolves every checkout from the final state and is the one to act on.")


