"""Toxics, Toxiproxy's model: a link carries named toxics, each on one stream (`upstream`: the
caller's bytes to the service, `downstream`: the answers, `both`). A fault adds its own toxic and
its heal removes only that one, so overlapping faults on one link never clobber each other.

What a link does is the sum of its toxics, per stream:
  latency_ms, jitter_ms  added up (a `both` toxic's latency counts once, on the way up: a round
                         trip gains it once)
  rate                   the lowest (bytes per second; 0: unlimited)
  slice_bytes, slice_ms  the smallest slices, the longest pause
  blackhole, reset, down link-wide, whatever their stream: any toxic with one sets it
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, fields
from typing import Any

TOXIC_FIELDS = ("latency_ms", "jitter_ms", "rate", "slice_bytes", "slice_ms", "blackhole", "reset", "down")
STREAMS = ("upstream", "downstream", "both")


@dataclass
class Toxics:
    """The effect of a link's toxics on one stream (or the whole link)."""

    latency_ms: float = 0.0
    jitter_ms: float = 0.0
    rate: float = 0.0  # bytes/s; 0: unlimited
    slice_bytes: int = 0
    slice_ms: float = 0.0
    blackhole: bool = False
    reset: bool = False
    down: bool = False

    def shaped(self) -> bool:
        """Bytes must go through the delaying writer (not straight through)."""
        return bool(self.latency_ms or self.jitter_ms or self.rate or self.slice_bytes)

    def active(self) -> list[str]:
        return [f.name for f in fields(self) if getattr(self, f.name)]


@dataclass
class Toxic:
    """One named toxic on one stream."""

    name: str
    stream: str = "both"
    values: dict[str, Any] = field(default_factory=dict)

    def state(self) -> dict[str, Any]:
        return {"stream": self.stream, **self.values}


def check(name: Any, stream: Any, values: Mapping[str, Any]) -> str | None:
    """Why a toxic cannot be added (one sentence), or None."""
    if not isinstance(name, str) or not name:
        return f"a toxic needs a name (a non-empty string), not {name!r}"
    if stream not in STREAMS:
        return f"stream is {stream!r}; it must be one of {', '.join(STREAMS)}"
    bad = sorted(set(values) - set(TOXIC_FIELDS))
    if bad:
        return f"unknown toxic {bad[0]!r}; toxics: {', '.join(TOXIC_FIELDS)}"
    return None


def combine(toxics: Iterable[Toxic], stream: str | None) -> Toxics:
    """What `toxics` do to `stream` ("upstream", "downstream"), or to the link (None: every field,
    latency as on the way up)."""
    out = Toxics()
    rates: list[float] = []
    slices: list[int] = []
    for tx in toxics:
        v = tx.values
        out.blackhole |= bool(v.get("blackhole"))
        out.reset |= bool(v.get("reset"))
        out.down |= bool(v.get("down"))
        if stream is not None and tx.stream not in (stream, "both"):
            continue
        if tx.stream != "both" or stream != "downstream":
            out.latency_ms += float(v.get("latency_ms") or 0)
            out.jitter_ms += float(v.get("jitter_ms") or 0)
        if v.get("rate"):
            rates.append(float(v["rate"]))
        if v.get("slice_bytes"):
            slices.append(int(v["slice_bytes"]))
            out.slice_ms = max(out.slice_ms, float(v.get("slice_ms") or 0))
    out.rate = min(rates) if rates else 0.0
    out.slice_bytes = min(slices) if slices else 0
    return out


__all__ = ["STREAMS", "TOXIC_FIELDS", "Toxic", "Toxics", "check", "combine"]
