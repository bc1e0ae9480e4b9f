"""Hitting exactly one request: a companion of a trial's run that arms the fault proxy at request N
of a link (the proxy's request positions, docs/network-faults.md) and, for the kill modes, kills a
service at the instant the proxy holds that request, then lets it go on.

Positions count from the start of the load: `during` renumbers every link, so request 1 of
`order->payment` is the first charge of the burst, whatever the set-up sent before it.

Modes (what happens to request N of the link SOURCE->TARGET):

  refuse           never delivered: reset before a byte of it reaches TARGET
  lose-answer      delivered, and its answer lost: both sockets reset when the answer starts
  late-answer      delivered, and its answer held past the caller's timeout
  kill-target      TARGET killed (then restarted) right after it got the request
  kill-after-answer TARGET killed (then restarted) right after its answer left it
  kill-source      SOURCE killed (then restarted) right after its request was delivered

The proxy does the holding (hold_after_delivery, hold_answer), this module the killing, through the
same nemesis backend a kill_config.json uses (the embedded shop's supervisor, or a services file).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from shopbench.errors import UsageError

MODES = ("refuse", "lose-answer", "late-answer", "kill-target", "kill-after-answer", "kill-source")
# mode -> (proxy mode, the event the kill waits for, whom it kills)
PROXY_MODE = {
    "refuse": ("refuse", None, None),
    "lose-answer": ("reset_after_request", None, None),
    "late-answer": ("delay_answer", None, None),
    "kill-target": ("hold_after_delivery", "delivered", "target"),
    "kill-after-answer": ("hold_answer", "answered", "target"),
    "kill-source": ("hold_after_delivery", "delivered", "source"),
}
REACH_WAIT = 8.0  # after the load, how long an armed request that has not come yet may still come
QUIET = 0.5  # the links are quiet when no request came for this long


@dataclass(frozen=True)
class RequestFault:
    """Request `n` (from 1, counted from the load's start) of `link`, hit in `mode`."""

    link: str
    n: int
    mode: str

    def key(self) -> str:
        return f"{self.link}#{self.n}:{self.mode}"

    def victim(self) -> str | None:
        role = PROXY_MODE[self.mode][2]
        if role is None:
            return None
        source, target = self.link.split("->")
        return source if role == "source" else target

    @classmethod
    def parse(cls, text: str) -> RequestFault:
        """`order->payment#1:lose-answer`, as `key()` writes it."""
        link, _, rest = text.partition("#")
        n, _, mode = rest.partition(":")
        if not link or not n.isdigit() or int(n) < 1 or mode not in MODES:
            raise UsageError(f"{text!r} is not a request fault; write LINK#N:MODE, e.g. order->payment#1:lose-answer "
                             f"(modes: {', '.join(MODES)}).")
        return cls(link.replace(" ", ""), int(n), mode)


def killable(link: str, mode: str, services: set[str]) -> bool:
    """A kill mode needs its victim to be one of the services the backend can kill; the load's
    own client (`client->…`) never is."""
    role = PROXY_MODE[mode][2]
    if role is None:
        return True
    source, target = link.split("->")
    return (source if role == "source" else target) in services


class RequestHits:
    """The companion: `bind` finds the proxy and the backend, `during` renumbers the links and arms
    the faults (none: a recording run), `sections` says what was reached and what landed."""

    name = "request-faults"
    wants_links = True  # the embedded reference shop is started with its links through the proxy

    def __init__(self, faults: list[RequestFault], links: list[str], *, late: float = 3.5,
                 services_file: str | Path | None = None, services_data: str | Path | None = None):
        self.faults, self.links, self.late = faults, links, late
        self.services_file, self.services_data = services_file, services_data
        self.proxy: Any = None
        self.backend: Any = None
        self.counts: dict[str, int] = {}
        self.reached: dict[str, dict[str, Any]] = {}
        self.kills: list[dict[str, Any]] = []
        self.closing = False

    # -- Companion --------------------------------------------------------------------------------
    def bind(self, run: Any, supervisor: Any = None) -> None:
        from shopbench.nemesis.backends import make_backend
        from shopbench.nemesis.network import with_links

        if supervisor is not None:
            inner = make_backend("local", supervisor=supervisor)
        else:
            inner = make_backend("local", data_dir=self.services_data, services_file=self.services_file)
        linked, _ = with_links(inner, supervisor, self.services_file, self.services_data)
        self.backend = inner
        self.proxy = linked.links.client
        if not hasattr(self.proxy, "arm"):
            raise UsageError("--mode requests needs the fault proxy's request positions, which this shopbench does "
                             "not have; use --mode random.")
        unknown = sorted(set(self.links) - set(linked.link_names()))
        if unknown:
            raise UsageError(f"no link {unknown[0]!r} through the fault proxy; links: "
                             f"{', '.join(linked.link_names()) or 'none'}.")
        self.proxy.http(None, on=True)  # before the set-up opens its first connection through a link

    @contextmanager
    def during(self, monitor: Any) -> Iterator[RequestHits]:
        for link in self.links:
            self.proxy.requests(link, reset=True)
        for fault in self.faults:
            proxy_mode = PROXY_MODE[fault.mode][0]
            self.proxy.arm(fault.link, fault.n, proxy_mode, seconds=self.late if proxy_mode == "delay_answer" else 0,
                           hold_max=30.0)
        killers = [threading.Thread(target=self._kill_at, args=(f,), name=f"hit-{f.key()}", daemon=True)
                   for f in self.faults if f.victim() is not None]
        for t in killers:
            t.start()
        try:
            yield self
        finally:
            self._wait_reached()
            self.closing = True  # nothing is hit after the load: the settle reads go through the links too
            for fault, t in zip([f for f in self.faults if f.victim() is not None], killers, strict=True):
                if self.reached.get(fault.key(), {}).get("reached"):
                    t.join(timeout=REACH_WAIT + 30)  # its kill and restart are under way
            self.proxy.disarm(None)
            self.counts = self._quiet_counts()

    def _quiet_counts(self) -> dict[str, int]:
        """The requests on every link once none came for QUIET seconds: a saga goes on after the
        checkout is answered (early answers, retries, compensations), and its requests are positions too."""
        deadline = time.monotonic() + REACH_WAIT
        counts = self._counts()
        while time.monotonic() < deadline:
            time.sleep(QUIET)
            now = self._counts()
            if now == counts:
                break
            counts = now
        return counts

    def _counts(self) -> dict[str, int]:
        return {link: int(self.proxy.requests(link).get("count") or 0) for link in self.links}

    def sections(self, inputs: Any = None) -> dict[str, Any]:
        reasons = [f"{k['fault']}: the kill of {k['service']} did not land ({k.get('evidence') or k.get('error')})"
                   for k in self.kills if not k.get("landed")]
        section: dict[str, Any] = {"faults": [asdict(f) for f in self.faults], "reached": self.reached,
                                   "requests": self.counts, "kills": self.kills}
        if reasons:
            section["unknown_reasons"] = [f"{r}; run the trial again (shopbench explore --only ...)." for r in reasons]
        return {"request_faults": section}

    # -- helpers ----------------------------------------------------------------------------------
    def _wait_reached(self) -> None:
        """The load has ended; a request armed later in a saga (a retry, a compensation) may still
        come: wait a little for each armed one, then record what each saw."""
        deadline = time.monotonic() + REACH_WAIT
        for fault in self.faults:
            record = None
            while True:
                got = self.proxy.requests(fault.link)
                record = next((r for r in got.get("requests") or [] if r.get("n") == fault.n), None)
                if record is not None or time.monotonic() >= deadline:
                    break
                time.sleep(0.1)
            self.reached[fault.key()] = {"reached": record is not None,
                                         "request": {k: record.get(k) for k in ("method", "path", "status", "events")}
                                         if record else None}

    def _kill_at(self, fault: RequestFault) -> None:
        """Wait for the held request, kill its victim, let the bytes go on, restart the victim."""
        from shopbench.nemesis.proxy import ProxyError

        event = PROXY_MODE[fault.mode][1]
        victim = fault.victim()
        assert event is not None and victim is not None
        try:
            self.proxy.wait(fault.link, fault.n, event, timeout=REACH_WAIT + 20)
        except ProxyError:
            return  # never reached: `reached` says so
        if self.closing:
            return
        entry: dict[str, Any] = {"fault": fault.key(), "service": victim, "at": time.time()}
        try:
            hits = self.backend.apply("kill", victim, 1)
            entry["landed"] = bool(hits) and all(h.landed is not False and h.result == "ok" for h in hits)
            entry["evidence"] = "; ".join(str(h.evidence or h.error or h.result) for h in hits)
        except Exception as exc:  # noqa: BLE001 - recorded; the trial is then UNKNOWN
            hits, entry["landed"], entry["error"] = [], False, f"{type(exc).__name__}: {exc}"
        finally:
            self.proxy.release(fault.link, fault.n)
        try:
            if hits:
                back = self.backend.recover("kill", victim, hits)
                entry["restarted"] = all(h.result == "ok" for h in back)
        except Exception as exc:  # noqa: BLE001
            entry["restarted"], entry["error"] = False, f"{type(exc).__name__}: {exc}"
        self.kills.append(entry)
