"""One line of `resources.jsonl` (fields documented in docs/formats.md)."""

from __future__ import annotations

from typing import Any

RESOURCES = "resources.jsonl"
SATURATED = 90.0  # percent of one core, mean over the load: above it the generator's latencies lie
SERVICE, GENERATOR = "service", "generator"
FIELDS = ("procs", "cpu", "rss", "fds", "threads", "conns")


def line(kind: str, name: str, backend: str, wall: float, *, pid: int | None = None,
          container: str | None = None, figures: dict[str, Any] | None = None,
          error: str | None = None) -> dict[str, Any]:
    line: dict[str, Any] = {"wall": round(wall, 3), "kind": kind, "name": name, "backend": backend,
                            "pid": pid, "container": container, "up": figures is not None}
    line.update({k: (figures or {}).get(k) for k in FIELDS})
    if figures is None:
        line["error"] = error or "not running"
    return line

