"""One shop operation as the history sees it: one or more HTTP requests, one recorded outcome.

    with driver.operation("checkout", {"order_id": oid}, expect) as op:
        placed = op.send("order", "POST", "/orders", json={"lines": lines})       # a step
        if placed.ok:
            op.send("order", "POST", f"/orders/{placed.data['id']}/pay", answer=True)
    return op.outcome

The operation's type follows from its steps, in order:
  ok    every step answered 2xx (its data: the `answer=True` step's, read as the operation's shape)
  fail  the first step that did not answer 2xx was a definite no (a 4xx, or never sent) and no step
        before it had an effect (`effect=False` marks a step that changes nothing the checker counts,
        e.g. placing an unpaid order before paying it)
  info  anything else: a step without a definite answer, or a definite no after a step that changed
        something (the operation is half done)
A step left out (the driver returns early) simply is not part of it. Every operation is registered
in flight before its first request and written once, as `info` with the reason, if its greenlet is
killed (inflight.py); `RestDriver.call` is an operation of one step.
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

import orjson

from shopbench.driver.answers import AnswerProblem, canonical, read_answer
from shopbench.driver.inflight import IN_FLIGHT
from shopbench.driver.outcome import Outcome
from shopbench.driver.transport import NotSent, Response, TransportError
from shopbench.history import FAIL, INFO, OK, Op

if TYPE_CHECKING:
    from shopbench.driver.rest import RestDriver

log = logging.getLogger("shopbench.driver")
NO_BODY: Any = object()
JSON_HEADERS = {"Content-Type": "application/json"}


def classify(f: str | None, resp: Response, sent: str = "", fields: dict[str, str] | None = None
             ) -> tuple[str, Any, str | None]:
    """(type, value, error) of an HTTP answer: 2xx ok with its body read (as operation `f`'s canonical
    shape when `f` is given, answers.py; info with one sentence if that shape is not clear: the shop
    may have done it), 4xx a definite fail, anything else (5xx) info. `sent` names the request."""
    status = resp.status
    if 200 <= status < 300:
        try:
            return OK, read_answer(f or "", resp.body, fields), None
        except AnswerProblem as exc:
            return INFO, None, f"{f} ({sent or 'its request'}) answered {status}, but {exc}."
    if 400 <= status < 500:
        return FAIL, None, resp.body[:200].decode("utf-8", "replace")
    return INFO, None, f"HTTP {status}: " + resp.body[:200].decode("utf-8", "replace")


class Operation:
    """See the module docstring. Made by `RestDriver.operation(f, args, expect)`."""

    def __init__(self, driver: RestDriver, f: str, args: dict[str, Any], expect: str | None):
        self.driver, self.f, self.args, self.expect = driver, f, args, expect
        self.steps: list[tuple[Outcome, bool, str]] = []  # (outcome, effect, request sent)
        self.answer: Outcome | None = None
        self.outcome: Outcome | None = None

    # -- the context ---------------------------------------------------------------------------
    def __enter__(self) -> Operation:
        d = self.driver
        if d.halted:
            from gevent import GreenletExit

            raise GreenletExit("halted before sending: the user was stopped")
        self.wall, self.t0 = time.time(), time.monotonic()
        self.intended, self.scenario = d.intended, d.scenario
        self.pending = IN_FLIGHT.add(self._cut_off)
        return self

    def __exit__(self, exc_type: Any, exc: BaseException | None, tb: Any) -> None:
        IN_FLIGHT.done(self.pending)
        if exc is not None:  # killed mid-request (GreenletExit, Timeout, Ctrl-C) or the driver's own bug
            if self.pending.claim():
                self._cut_off(self.driver.cut_off or IN_FLIGHT.reason(exc))
            return
        kind, status, value, error = self._decide()
        self.outcome = Outcome(kind, status, value, error, time.monotonic() - self.t0)
        if self.pending.claim():
            self._record(kind, status, value, error)
        # else: swept while in flight and already written as info; its answer is the workload's only

    # -- steps ---------------------------------------------------------------------------------
    def send(self, service: str, method: str, path: str, *, query: dict[str, Any] | None = None,
             json: Any = NO_BODY, headers: dict[str, str] | None = None, fields: dict[str, str] | None = None,
             answer: bool = False, effect: bool = True) -> Outcome:
        """One HTTP request to `service` ("order", "stock" or "payment": a base URL of urls.json).

        query    added to the path, URL-encoded          json     the body, sent as JSON
        headers  extra request headers                   fields   our field -> its dotted path in the answer
        answer   this step's answer is the operation's: read as its shape (answers.py)
        effect   False: this step changes nothing the checker counts (a definite no after it is still `fail`)
        """
        if query:
            path += ("&" if "?" in path else "?") + urlencode(query, doseq=True)
        body = None if json is NO_BODY else orjson.dumps(json)
        if body is not None:
            headers = {**JSON_HEADERS, **(headers or {})}
        sent = f"{method} {path}"
        t0 = time.monotonic()
        status: int | None = None
        value: Any = None
        try:
            resp = self.driver.transport.request(service, method, path, body=body, headers=headers)
            status = resp.status
            kind, value, error = classify(self.f if answer else None, resp, sent, fields)
        except NotSent as exc:
            kind, error = FAIL, str(exc)  # never reached the shop: definitely no effect
        except TransportError as exc:  # MaybeSent, or a custom transport's own: it may have been processed
            kind, error = INFO, str(exc)
        out = Outcome(kind, status, value, error, time.monotonic() - t0)
        self.steps.append((out, effect, sent))
        if answer:
            self.answer = out
        return out

    def result(self, data: Any) -> None:
        """The operation's answer when the driver knows it without asking the shop (an order that is
        a client-side cart until its checkout): read as the operation's shape, like any answer."""
        self.answer = Outcome(OK, None, canonical(self.f, data), None, 0.0)

    def refuse(self, error: str) -> None:
        """A definite no the driver gives without asking the shop (nothing sent: no effect)."""
        self.answer = Outcome(FAIL, None, None, error, 0.0)

    @property
    def sent(self) -> str:
        """The methods of the requests sent, e.g. "POST" or "POST+POST" ("" for none)."""
        return "+".join(s.split(" ", 1)[0] for _, _, s in self.steps)

    def _decide(self) -> tuple[str, int | None, Any, str | None]:
        effect_before = False
        for n, (out, effect, sent) in enumerate(self.steps):
            if out.kind == OK:
                effect_before = effect_before or effect
                continue
            if len(self.steps) == 1:
                return out.kind, out.status, None, out.error
            where = f"step {n + 1} ({sent})"
            if out.kind == FAIL and not effect_before:
                return FAIL, out.status, None, f"{where}: {out.error}"
            why = "after earlier steps had taken effect" if out.kind == FAIL else "no definite answer"
            return INFO, out.status, None, f"{where}, {why}: {out.error}"
        last = self.answer or (self.steps[-1][0] if self.steps else None)
        if last is None:
            return INFO, None, None, f"{self.f}: the driver sent no request and gave no result"
        return last.kind, last.status, last.data, last.error

    def _record(self, kind: str, status: int | None, value: Any, error: str | None) -> None:
        d = self.driver
        d.sent = self.sent
        op = Op(d._next_id(), d.process, self.f, self.args, self.expect, kind, status, value, error, self.wall,
                self.t0, time.monotonic(), self.intended, self.scenario)
        if d.listener is not None:
            d.listener(op)

    def _cut_off(self, reason: str) -> None:
        try:
            self._record(INFO, None, None, reason)
        except Exception:  # the history is closing under us: nothing more we can do here
            log.exception("could not record an operation cut off (%s %s)", self.f, self.args)
