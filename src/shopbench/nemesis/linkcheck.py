"""Did a link fault land? Measured, never assumed: a probe through the link before the fault (the
baseline) and after it, and the fault's effect read from the difference.

    base = baseline(action, port)        # before the toxic is added, through the same link
    ... add the toxic ...
    landing = verify(action, trigger, port, base)   # Landing("landed" | "not_landed" | "unverified", evidence)

  partition  the link answered before; now a connect is refused (or reset)
  blackhole  the link answered before; now a probe gets no byte back in 0.5 s
  reset      the link answered before; now a probe is reset (or closed unanswered)
  delay      two probes' first bytes come at least half the delay later than the baseline's
             (the median of 7 probes); up to 8 probes with jitter (each is late by ms +- jitter).
             Unverified when half the delay is within how late the second slowest baseline probe
             came over their median (two probes that late without a fault would fake it)
  bandwidth  32 pipelined `HEAD /` requests, answers read to the close: without the fault they
             move at least three times faster than the rate (else a cap cannot be told:
             unverified), with it no faster than 1.5 times the rate

What cannot be measured (the link did not answer before the fault; a delay within the noise; a
rate as fast as the link itself) is `unverified`: the fault counts as not landed and the run is
UNKNOWN with the evidence sentence, which says what would make it measurable.

The probes send `HEAD / HTTP/1.1`, which any HTTP server answers somehow (a 404 is an answer).
On a link that frames HTTP (request positions) they are counted as requests like any other.
"""

from __future__ import annotations

import contextlib
import socket
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

PROBE = b"HEAD / HTTP/1.0\r\n\r\n"
PIPELINED = 32
TRANSFER = b"HEAD / HTTP/1.1\r\nHost: shopbench-probe\r\n\r\n" * (PIPELINED - 1) + \
    b"HEAD / HTTP/1.1\r\nHost: shopbench-probe\r\nConnection: close\r\n\r\n"
DELAY_BASELINE = 7
DELAY_TRIES = 8  # with jitter; without it, 2
DELAY_SHOWN = 2  # probes late by half the delay that make it landed (one could be a hiccup)
TRANSFER_WAIT = 1.0  # seconds a throttled transfer probe reads before it judges the rate


@dataclass
class Probe:
    outcome: str  # "answered" | "refused" | "reset" | "silent" (no byte before the timeout) | "closed"
    seconds: float
    first_byte_s: float | None = None
    nbytes: int = 0
    last_byte_s: float | None = None
    complete: bool = False  # read to the peer's close


@dataclass
class Baseline:
    probes: list[Probe]
    transfer: Probe | None = None

    @property
    def answered(self) -> bool:
        return any(p.outcome == "answered" for p in self.probes)

    def _times(self) -> list[float]:
        return sorted(p.first_byte_s for p in self.probes if p.first_byte_s is not None)

    @property
    def first_byte_s(self) -> float | None:
        """The median first byte: what a probe through the link typically takes."""
        times = self._times()
        return times[len(times) // 2] if times else None

    @property
    def spread_s(self) -> float:
        """How far above the median a probe comes late without any fault: the second slowest (one
        slow answer is no pattern; two are, and two late probes are what a delay must show)."""
        times = self._times()
        return times[-2] - times[len(times) // 2] if len(times) > 2 else 0.0

    def outcomes(self) -> str:
        return ", ".join(p.outcome for p in self.probes)


@dataclass
class Landing:
    state: str  # "landed" | "not_landed" | "unverified"
    evidence: str

    @property
    def landed(self) -> bool:
        return self.state == "landed"


def probe(port: int, host: str = "127.0.0.1", timeout: float = 1.0, send: bytes = PROBE,
          read_all: bool = False, read_for: float | None = None) -> Probe:
    """Connect, send `send`, wait for the first byte back; with `read_all`, read to the close (or
    until `read_for` seconds have passed since the connect)."""
    t0 = time.perf_counter()
    try:
        sock = socket.create_connection((host, port), timeout=timeout)
    except ConnectionRefusedError:
        return Probe("refused", time.perf_counter() - t0)
    except TimeoutError:
        return Probe("silent", time.perf_counter() - t0)
    except OSError:
        return Probe("reset", time.perf_counter() - t0)
    with contextlib.closing(sock):
        first = last = None
        n = 0
        complete = False
        try:
            sock.sendall(send)
            while True:
                if read_for is not None:
                    left = read_for - (time.perf_counter() - t0)
                    if left <= 0:
                        break
                    sock.settimeout(min(timeout, left))
                data = sock.recv(65536)
                if not data:
                    complete = True
                    break
                n += len(data)
                last = time.perf_counter() - t0
                if first is None:
                    first = last
                if not read_all:
                    break
        except TimeoutError:
            if first is None:
                return Probe("silent", time.perf_counter() - t0)
        except OSError:
            if first is None:
                return Probe("reset", time.perf_counter() - t0)
        took = time.perf_counter() - t0
        if first is None:
            return Probe("closed", took)
        return Probe("answered", took, first, n, last, complete)


def baseline(action: str, port: int) -> Baseline:
    """Probes through the link before the fault is applied."""
    if action == "delay":
        probe(port, timeout=2.0)  # a warm-up: the first connection through a fresh link can be slow
    base = Baseline([probe(port, timeout=2.0) for _ in range(DELAY_BASELINE if action == "delay" else 1)])
    if action == "bandwidth" and base.answered:
        base.transfer = probe(port, timeout=2.0, send=TRANSFER, read_all=True, read_for=2.0)
    return base


def verify(action: str, trigger: Any, port: int, base: Baseline) -> Landing:
    """Whether the fault just applied to the link listening on `port` took effect, against `base`."""
    if not base.answered:
        return Landing("unverified", f"unverified: the link did not answer a probe before the fault "
                                     f"({base.outcomes()}), so no probe can show what the {action} changed; "
                                     f"is the service behind it up, and no other fault holding the link?")
    if action == "partition":
        p = probe(port, timeout=1.0)
        return Landing("landed" if p.outcome in ("refused", "reset") else "not_landed",
                       f"probe connect to 127.0.0.1:{port}: {p.outcome} (answered before the fault)")
    if action == "blackhole":
        p = probe(port, timeout=0.5)
        return Landing("landed" if p.outcome == "silent" else "not_landed",
                       f"probe through the link: {p.outcome} after {p.seconds * 1000:.0f} ms "
                       f"(answered before the fault)")
    if action == "reset":
        p = probe(port, timeout=1.0)
        return Landing("landed" if p.outcome in ("reset", "closed", "refused") else "not_landed",
                       f"probe through the link: {p.outcome} (answered before the fault)")
    if action == "delay":
        return _verify_delay(trigger, port, base)
    if action == "bandwidth":
        return _verify_rate(trigger, port, base)
    return Landing("unverified", f"unverified: no probe measures {action}")


def _verify_delay(trigger: Any, port: int, base: Baseline) -> Landing:
    ms, jitter = float(trigger.ms or 0), float(trigger.jitter or 0)
    before = (base.first_byte_s or 0.0) * 1000
    noise = max(0.5, base.spread_s * 1000)
    asked = f"asked {ms:g} ms +- {jitter:g}"
    if ms < 2 * noise:
        return Landing("unverified", f"unverified: a delay of {ms:g} ms is within the link's own variation "
                                     f"(probes before the fault came up to {noise:.1f} ms late); an `ms` of at "
                                     f"least {2 * noise:.0f} can be measured here")
    timeout = 2.0 + 3 * (ms + jitter) / 1000
    seen: list[float] = []
    late: list[float] = []
    for _ in range(DELAY_TRIES if jitter else DELAY_SHOWN):
        via = probe(port, timeout=timeout)
        if via.first_byte_s is None:
            return Landing("not_landed", f"probe through the link: {via.outcome} ({asked}; answered before)")
        added = via.first_byte_s * 1000 - before
        seen.append(added)
        if added >= 0.5 * ms:
            late.append(via.first_byte_s * 1000)
        if len(late) >= DELAY_SHOWN:
            return Landing("landed", f"probe round trips {late[0]:.1f} and {late[1]:.1f} ms through the link, "
                                     f"{before:.1f} ms before the fault: +{min(late) - before:.1f} ms ({asked})")
    return Landing("not_landed", f"{len(late)} of {len(seen)} probes through the link late by half the delay "
                                 f"(at most +{max(seen):.1f} ms over the {before:.1f} ms before the fault): the delay "
                                 f"did not show ({asked})")


def _verify_rate(trigger: Any, port: int, base: Baseline) -> Landing:
    rate = float(trigger.rate) * 1024  # bytes/s
    t = base.transfer
    if t is None or t.last_byte_s is None or t.nbytes < 1024:
        got = f"{t.nbytes} bytes" if t is not None else "nothing"
        return Landing("unverified", f"unverified: {PIPELINED} pipelined probe requests brought {got} back through "
                                     f"the link before the fault, too little to time a rate (the service does not "
                                     f"answer pipelined HTTP/1.1 requests); a bandwidth fault cannot be measured here")
    before = t.nbytes / max(t.last_byte_s, 1e-6)  # bytes/s the link moved without the fault
    if before < 3 * rate:
        return Landing("unverified", f"unverified: without the fault the link moved {t.nbytes} bytes at "
                                     f"{before / 1024:.0f} KB/s, too close to the asked {trigger.rate:g} KB/s to tell "
                                     f"a cap from it; a `rate` of at most {before / 3 / 1024:.0f} KB/s can be "
                                     f"measured here")
    via = probe(port, timeout=2.0, send=TRANSFER, read_all=True, read_for=TRANSFER_WAIT)
    if via.last_byte_s is None:
        return Landing("not_landed", f"transfer probe through the link: {via.outcome}, no byte in "
                                     f"{TRANSFER_WAIT:g} s (a cap of {trigger.rate:g} KB/s still moves bytes)")
    # Bytes by the time the probe stopped reading (the close, or TRANSFER_WAIT): a capped link
    # cannot have moved more than rate x that time.
    span = via.last_byte_s if via.complete else via.seconds
    after = via.nbytes / max(span, 1e-6)
    landed = after <= 1.5 * rate
    return Landing("landed" if landed else "not_landed",
                   f"{via.nbytes} bytes in {span * 1000:.0f} ms through the link: {after / 1024:.1f} KB/s, "
                   f"{before / 1024:.0f} KB/s before the fault (asked at most {trigger.rate:g} KB/s)")


def verify_healed(port: int, removed: list[str], state: Mapping[str, Any]) -> tuple[bool, str]:
    """(healed, evidence) of a heal that removed the toxics `removed` from a link now in `state`.
    While other faults hold toxics on the link a probe cannot show this heal: the proxy's own
    state does (ours gone, theirs named); with none left, a probe must be answered again."""
    named = state.get("named") or {}
    if not removed:
        return False, "no toxic of this fault was recorded, so none was removed"
    stuck = [n for n in removed if n in named]
    if stuck:
        return False, f"toxic {', '.join(stuck)} still on the link"
    others = sorted(named)
    if others:
        return True, (f"toxic {', '.join(removed)} removed; the link still carries {', '.join(others)} "
                      f"(other faults, healed on their own)")
    p = probe(port, timeout=2.0)
    return p.outcome == "answered", f"toxic {', '.join(removed)} removed; probe through the link: {p.outcome}"


__all__ = ["Baseline", "Landing", "Probe", "baseline", "probe", "verify", "verify_healed"]
