"""Operations sent and not yet answered, so that whatever ends the load writes them to the history.

A request that may have reached the target must be in the history however it ends: a user that
Locust stopped at --stop-timeout (its greenlet killed mid-request), an open-model request cancelled
at the end, Ctrl-C, a worker shutting down. The driver registers each operation here before it
sends it; if the greenlet is killed, the driver's `finally` writes it as `info` with the reason;
`sweep(reason)` writes whatever is still registered when a process must end without waiting
(an operation swept is written once: its late answer, if any, goes to the workload only).

The reason says who ended the load (`ending`), set by the Locust plugin when Locust starts stopping
its users; without it, the exception that killed the request is named.
"""

from __future__ import annotations

from collections.abc import Callable


class Pending:
    __slots__ = ("write", "written")

    def __init__(self, write: Callable[[str], None]):
        self.write = write  # records the operation as info with the given error
        self.written = False

    def claim(self) -> bool:
        """True once: whoever claims the operation writes it."""
        if self.written:
            return False
        self.written = True
        return True


class InFlight:
    def __init__(self) -> None:
        self.pending: set[Pending] = set()
        self.ending: str | None = None  # why the load is ending, e.g. "user stopped by --stop-timeout"

    def add(self, write: Callable[[str], None]) -> Pending:
        p = Pending(write)
        self.pending.add(p)
        return p

    def done(self, p: Pending) -> None:
        self.pending.discard(p)

    def reason(self, exc: BaseException | None = None) -> str:
        if self.ending:
            return f"cut off: {self.ending}"
        what = type(exc).__name__ if exc is not None else "the end of the process"
        return f"cut off: {what} ended the request before its answer"

    def sweep(self, reason: str | None = None) -> int:
        """Write every operation still in flight as info; how many there were."""
        n = 0
        for p in list(self.pending):
            self.pending.discard(p)
            if p.claim():
                p.write(reason or self.reason())
                n += 1
        return n


IN_FLIGHT = InFlight()  # one per process: Locust users, populate and settle share it

