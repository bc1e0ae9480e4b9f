"""Request positions on a link: the proxy numbers the HTTP/1.x requests of a link as they arrive
(1, 2, ... across all its connections), records method, path and the moments each one passed, and
can be armed to hit exactly request number N. What `shopbench explore` builds on.

Events of request N (each recorded once, as a wall-clock time, in its record's `events`):
  sent       the whole request reached the proxy: it has left the caller
  delivered  its last byte was handed to the service's socket
  answered   the whole answer reached the proxy: it has left the service
  returned   the answer's last byte was handed to the caller's socket
  refused, reset, released   what an armed mode did

Modes (one per position; `arm` replaces, `disarm` clears and releases):
  refuse               the request is never delivered: when its head is complete, before a byte
                       of it goes on, both sockets are reset
  reset_after_request  delivered; when its answer starts, the answer is dropped and both sockets
                       are reset
  delay_answer         the answer (and everything after it on that connection) is held `seconds`
  hold_request         the request is held in the proxy (it has left the caller, the service has
                       not seen it) until `release`
  hold_after_delivery  delivered; then whatever comes back on that connection (the answer, a
                       close) is held until `release`
  hold_answer          the whole answer is received from the service, then held until `release`
A hold also ends by itself after `hold_max` seconds, so a controller that died cannot stall a run.
Held bytes keep their order with a close that comes after them: a service killed while its answer
is held closes the caller's connection only after the answer was released to it.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from shopbench.nemesis.proxy.framing import Framer, Head

if TYPE_CHECKING:
    from shopbench.nemesis.proxy.dataplane import _Conn, _Side

MODES = ("refuse", "reset_after_request", "delay_answer", "hold_request", "hold_after_delivery", "hold_answer")
EVENTS = ("sent", "delivered", "answered", "returned", "refused", "reset", "released")
MAX_RECORDS = 100_000  # counting goes on beyond it; only the records stop


@dataclass
class Rule:
    n: int
    mode: str
    seconds: float = 0.0      # delay_answer: how long the answer is held
    hold_max: float = 60.0    # a hold ends by itself after this long
    released: bool = False
    holding: Any = None       # the _Side whose bytes are held for this request
    timer: asyncio.TimerHandle | None = None

    def state(self) -> dict[str, Any]:
        return {"n": self.n, "mode": self.mode, "seconds": self.seconds, "hold_max": self.hold_max,
                "released": self.released, "holding": self.holding is not None}


@dataclass
class Positions:
    """The numbered requests of one link, its armed rules and who waits for which event."""

    count: int = 0
    records: dict[int, dict[str, Any]] = field(default_factory=dict)
    rules: dict[int, Rule] = field(default_factory=dict)
    waiters: dict[tuple[int, str], list[asyncio.Future[float]]] = field(default_factory=dict)
    opaque: int = 0      # connections that turned out not to be HTTP/1.x: forwarded as bytes, not counted
    untracked: int = 0   # connections accepted while the link did not frame HTTP
    generation: int = 0  # which numbering a request belongs to: a reset starts a new one

    def reset(self) -> None:
        """Number from 1 again. Requests still in flight belong to the old numbering: their events
        and the rules armed for the new numbers never meet."""
        self.count = 0
        self.records = {}
        self.opaque = self.untracked = 0
        self.generation += 1

    def current(self, gen: int) -> bool:
        return gen == self.generation

    def begin(self, head: Head, conn: int) -> int:
        self.count += 1
        n = self.count
        if len(self.records) < MAX_RECORDS:
            self.records[n] = {"n": n, "method": head.method, "path": head.path, "conn": conn,
                               "t": round(time.time(), 6), "status": None, "events": {}}
        return n

    def event(self, n: int, kind: str) -> None:
        now = round(time.time(), 6)
        record = self.records.get(n)
        if record is not None:
            record["events"].setdefault(kind, now)
        for fut in self.waiters.pop((n, kind), []):
            if not fut.done():
                fut.set_result(now)

    async def wait(self, n: int, kind: str, timeout: float) -> float | None:
        """When request `n` had event `kind` (at once if it had it already); None after `timeout`."""
        record = self.records.get(n)
        if record is not None and kind in record["events"]:
            return record["events"][kind]
        fut: asyncio.Future[float] = asyncio.get_running_loop().create_future()
        self.waiters.setdefault((n, kind), []).append(fut)
        try:
            return await asyncio.wait_for(fut, timeout)
        except TimeoutError:
            return None
        finally:
            waiting = self.waiters.get((n, kind), [])
            if fut in waiting:
                waiting.remove(fut)

    def arm(self, n: Any, mode: str, seconds: float = 0.0, hold_max: float = 60.0) -> Rule:
        if mode not in MODES:
            raise ValueError(f"unknown mode {mode!r}; modes: {', '.join(MODES)}")
        if not isinstance(n, int) or isinstance(n, bool) or n < 1:
            raise ValueError(f"n is {n!r}; it must be a request number >= 1")
        if mode == "delay_answer" and not seconds > 0:
            raise ValueError("delay_answer needs seconds > 0")
        old = self.rules.pop(n, None)
        if old is not None:
            self._release(old)
        rule = self.rules[n] = Rule(n, mode, float(seconds), float(hold_max))
        return rule

    def disarm(self) -> None:
        for rule in list(self.rules.values()):
            self._release(rule)
        self.rules = {}

    def hold(self, rule: Rule, side: _Side, seconds: float | None = None) -> None:
        """Hold what `side` receives from now on, until `release(rule.n)` or `seconds`/`hold_max`."""
        if rule.released or rule.holding is not None:
            return
        rule.holding = side
        side.hold()
        rule.timer = asyncio.get_running_loop().call_later(seconds if seconds is not None else rule.hold_max,
                                                           self.release, rule.n)

    def release(self, n: int) -> bool:
        rule = self.rules.get(n)
        if rule is None:
            return False
        self._release(rule)
        return True

    def _release(self, rule: Rule) -> None:
        if rule.released:
            return
        rule.released = True
        if rule.timer is not None:
            rule.timer.cancel()
        side, rule.holding = rule.holding, None
        if side is not None:
            self.event(rule.n, "released")
            side.release()


class Tracker:
    """The HTTP/1.x view of one proxied connection: both directions framed, each request numbered
    on its link, answers matched to requests in order (HTTP/1.1 answers in the order asked)."""

    def __init__(self, conn: _Conn, ident: int):
        self.conn = conn
        self.ident = ident
        self.pending: deque[tuple[int, int, str]] = deque()  # (generation, n, method): answer not begun
        self.request_n: tuple[int, int] | None = None  # (generation, n) of the request coming in
        self.answer_n: tuple[int, int] | None = None   # ... and of the answer coming back
        self.interim = False
        conn.client.framer = Framer(request=True)
        conn.server.framer = Framer(request=False, request_method=self._next_method)

    def _next_method(self) -> str | None:
        return self.pending[0][2] if self.pending else None

    @property
    def positions(self) -> Positions:
        return self.conn.link.positions

    def feed(self, side: _Side, data: bytes) -> None:
        assert side.framer is not None
        self.items(side, side.framer.feed(data))

    def eof(self, side: _Side) -> None:
        if side.framer is not None:
            self.items(side, side.framer.eof())

    def items(self, side: _Side, items: list[tuple[Any, ...]]) -> None:
        for item in items:
            if self.conn.closed:
                return
            if item[0] == "data":
                side.pass_on(item[1])
            elif side.upstream:
                self._request(side, item)
            else:
                self._answer(side, item)
        if side.framer is not None and side.framer.opaque:
            self.give_up()

    def give_up(self) -> None:
        """Not HTTP/1.x (or no longer): both directions go on as plain bytes, uncounted."""
        for side in (self.conn.client, self.conn.server):
            framer, side.framer = side.framer, None
            if framer is not None:
                for item in framer.give_up():
                    side.pass_on(item[1])
        self.positions.opaque += 1

    def _request(self, side: _Side, item: tuple[Any, ...]) -> None:
        pos = self.positions
        if item[0] == "head":
            n = pos.begin(item[1], self.ident)
            self.pending.append((pos.generation, n, item[1].method))
            self.request_n = (pos.generation, n)
            rule = pos.rules.get(n)
            if rule is not None and rule.mode == "refuse":
                pos.event(n, "refused")
                self.conn.abort()
                return
            if rule is not None and rule.mode == "hold_request":
                pos.hold(rule, side)
            side.pass_on(item[2])
            return
        if self.request_n is None or not pos.current(self.request_n[0]):  # "end"
            return
        gen, n = self.request_n
        pos.event(n, "sent")
        side.mark(lambda: self._delivered(gen, n))

    def _delivered(self, gen: int, n: int) -> None:
        pos = self.positions
        if not pos.current(gen):
            return
        pos.event(n, "delivered")
        rule = pos.rules.get(n)
        if rule is not None and rule.mode == "hold_after_delivery" and not self.conn.closed:
            pos.hold(rule, self.conn.server)

    def _answer(self, side: _Side, item: tuple[Any, ...]) -> None:
        pos = self.positions
        if item[0] == "head":
            head: Head = item[1]
            if head.interim or not self.pending:
                self.interim = True  # 100 Continue and the like: the answer itself follows
                side.pass_on(item[2])
                return
            gen, n, _ = self.pending.popleft()
            self.answer_n = (gen, n)
            if not pos.current(gen):  # asked before a reset: not one of the numbered requests
                side.pass_on(item[2])
                return
            record = pos.records.get(n)
            if record is not None:
                record["status"] = head.status
            rule = pos.rules.get(n)
            if rule is not None:
                if rule.mode == "reset_after_request":
                    pos.event(n, "reset")
                    self.conn.abort()
                    return
                if rule.mode == "delay_answer":
                    pos.hold(rule, side, rule.seconds)
                elif rule.mode in ("hold_after_delivery", "hold_answer"):
                    pos.hold(rule, side)
            side.pass_on(item[2])
            return
        if self.interim:  # the end of an interim answer
            self.interim = False
            return
        if self.answer_n is None or not pos.current(self.answer_n[0]):
            return
        gen, n = self.answer_n
        pos.event(n, "answered")

        def returned() -> None:
            if pos.current(gen):
                pos.event(n, "returned")

        side.mark(returned)


__all__ = ["EVENTS", "MODES", "Positions", "Rule", "Tracker"]
